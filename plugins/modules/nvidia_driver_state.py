#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nvidia_driver_state
short_description: Read the version of every part of the NVIDIA driver and name any mismatch with its fix
version_added: 0.1.0
description:
  - Reads the version of the B(loaded) kernel module (C(/proc/driver/nvidia/version), else
    C(/sys/module/nvidia/version)), of the module B(on disk) for the running kernel (C(modinfo nvidia)),
    and of the driver's B(packages) (C(dpkg-query -W)), sorted into kernel-module packages (C(nvidia-kernel-dkms),
    C(nvidia-dkms-535), C(linux-modules-nvidia-550-server-6.8.0-51-generic)...) and user-space packages
    carrying the driver's version (C(libnvidia-ml1), C(libcuda1), C(nvidia-smi), C(libnvidia-compute-535),
    C(nvidia-utils-535)...).
  - Packages whose name says NVIDIA but whose version is not the driver's (C(nvidia-kernel-common 20220217+3),
    C(glx-alternative-nvidia 1.2.2), C(nvidia-settings), C(nvidia-modprobe), C(nvidia-persistenced),
    C(nvidia-support), firmware, the container toolkit) never count; nor do Ubuntu transitional packages
    whose name says another branch than their version (RV(transitional)).
  - "Compares them and returns RV(state) with one RV(sentence) that names which part has which version and the
    fix - a reboot, or the exact C(apt-get install package=version ...) command. This is the cause of
    C(Failed to initialize NVML: Driver/library version mismatch) after an upgrade replaced the user-space
    libraries under a running kernel module."
  - Reads only; odd or missing input gives a finding, never a failure. The module fails only on a wrong option.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - C(modinfo) (kmod) and C(dpkg-query) on the target; without them that part is reported as not read.
options:
  branch:
    description:
      - The pinned driver branch (three digits, such as V(535)). Any part on another branch gives an
        RV(state=off_branch) finding. Not checked when not set.
    type: str
  smi_version:
    description:
      - The driver version C(nvidia-smi) reported (the C(gpu_facts) role's C(gpu_facts_driver_version)). Stands
        for the loaded module when C(/proc/driver/nvidia) cannot be read (a container).
    type: str
  smi_error_kind:
    description:
      - The C(error_kind) of a failing C(aiserver.gpu.nvidia_smi_info) (C(gpu_facts_smi.error_kind)). With
        V(driver_library_mismatch) and parts that agree, the module says to look for another C(libnvidia-ml).
    type: str
  smi_message:
    description:
      - The message of a failing C(nvidia-smi) (C(gpu_facts_smi.msg)); its C(NVML library version) line is
        reported.
    type: str
  packages:
    description:
      - The C(dpkg-query) patterns of the driver's packages.
    type: list
    elements: str
    default: ["*nvidia*", "libcuda1*", "libnvcuvid1*", "libnvoptix1*"]
  version_file:
    description:
      - Where the loaded module's version is read (a saved copy may be given).
    type: path
    default: /proc/driver/nvidia/version
  sysfs_version_file:
    description:
      - Read when O(version_file) does not exist; holds the bare version.
    type: path
    default: /sys/module/nvidia/version
  timeout:
    description:
      - Seconds C(modinfo) and C(dpkg-query) may each take before they are killed.
    type: int
    default: 30
extends_documentation_fragment:
  - aiserver.gpu.attributes.read_only
notes:
  - RV(state) V(reboot_pending) - the module on disk and the user space agree, the loaded module is older (or
    newer); a reboot loads the right one. V(mismatch) - the user space differs from the module that is loaded and
    the one on disk, or the user-space packages disagree among themselves, or a DKMS package differs from the
    user space, or a package is half installed. V(off_branch) - some part is not on O(branch). V(not_installed)
    - nothing of the driver is there. V(ok) - the parts agree.
  - Without a GPU the module never loads and DKMS may have built nothing; RV(state) then stays V(ok) with a note.
seealso:
  - module: aiserver.gpu.nvidia_smi_info
"""

EXAMPLES = r"""
- name: Read the driver's parts
  aiserver.gpu.nvidia_driver_state:
    branch: "535"
  register: driver

- name: Stop on a driver/library mismatch, naming the parts and the fix
  ansible.builtin.fail:
    msg: "{{ driver.sentence }}"
  when: driver.state in ['mismatch', 'off_branch']

- name: Explain a failing nvidia-smi
  aiserver.gpu.nvidia_driver_state:
    smi_version: "{{ gpu_facts_driver_version }}"
    smi_error_kind: "{{ gpu_facts_smi.error_kind | default(omit) }}"
    smi_message: "{{ gpu_facts_smi.msg | default(omit) }}"
  register: driver
"""

RETURN = r"""
loaded:
  description: The loaded kernel module; null when none is loaded.
  returned: always
  type: dict
  contains:
    version: {description: Its version., type: str, sample: "535.261.03"}
    flavour:
      description: C(open) or C(proprietary); null when only C(/sys/module/nvidia/version) was readable.
      type: str
      sample: proprietary
  sample: {"version": "535.261.03", "flavour": "proprietary"}
module:
  description: The nvidia module on disk for the running kernel (C(modinfo nvidia)); null when there is none.
  returned: always
  type: dict
  contains:
    version: {description: Its version., type: str, sample: "535.309.01"}
    filename: {description: Its file., type: str, sample: /lib/modules/6.1.0-28-amd64/updates/dkms/nvidia.ko}
    vermagic: {description: The kernel it was built for., type: str, sample: 6.1.0-28-amd64}
    signer: {description: Who signed it; null when unsigned., type: str, sample: DKMS module signing key}
packages:
  description: The installed packages the patterns matched, name to package version.
  returned: always
  type: dict
  sample: {"libnvidia-ml1": "535.309.01-0+deb12u1", "nvidia-kernel-common": "20220217+3~deb12u1"}
kernel_module_packages:
  description: The installed packages that are the kernel-module part.
  returned: always
  type: list
  elements: str
  sample: ["nvidia-kernel-dkms", "nvidia-kernel-support"]
userspace:
  description: The user-space packages carrying the driver's version, name to driver version.
  returned: always
  type: dict
  sample: {"libnvidia-ml1": "535.309.01", "nvidia-smi": "535.309.01"}
transitional:
  description: Ubuntu transitional packages left aside (their name says another branch than their version).
  returned: always
  type: list
  elements: str
  sample: ["libnvidia-common-455"]
findings:
  description: What disagrees, and what was only noted.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: C(mismatch), C(off_branch), C(reboot_pending), C(not_installed) (they set RV(state)) or C(note).
      type: str
    parts:
      description: The parts concerned, part to version.
      type: dict
    sentence:
      description: What is wrong.
      type: str
    fix:
      description: What fixes it (a reboot, or the exact command).
      type: str
state:
  description: C(ok), C(not_installed), C(reboot_pending), C(mismatch) or C(off_branch) (see the notes).
  returned: always
  type: str
  sample: mismatch
sentence:
  description: One sentence naming the parts and their versions, and the fix.
  returned: always
  type: str
  sample: >-
    The user-space packages of the driver disagree: libegl-nvidia0, libgl1-nvidia-glvnd-glx, libglx-nvidia0,
    libnvidia-eglcore and 13 more 535.309.01; libnvidia-ml1 and nvidia-smi 535.261.03.
    Fix: apt-get install libnvidia-ml1=535.309.01-0+deb12u1 nvidia-smi=535.309.01-0+deb12u1.
branch:
  description: The branch the parts were checked against (O(branch)); null when none was given.
  returned: always
  type: str
  sample: "535"
nvml_version:
  description: The NVML library version a failing nvidia-smi printed (O(smi_message)); null otherwise.
  returned: always
  type: str
  sample: "570.124"
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aiserver.gpu.plugins.module_utils import _driver_versions as dv
from ansible_collections.aiserver.gpu.plugins.module_utils._runner import describe, find_executable, run


def _read(path):
    """The text of ``path`` or None when it is not there; (None, why) when unreadable."""
    if not path or not os.path.exists(path):
        return None, None
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", errors="replace"), None
    except (IOError, OSError) as exc:
        return None, "cannot read %s (%s)" % (path, exc.strerror or exc)


def read_loaded(params, notes):
    text, why = _read(params["version_file"])
    if why:
        notes.append(why)
    if text is not None:
        parsed = dv.parse_proc_version(text)
        if parsed:
            return {"version": parsed["version"], "flavour": parsed["flavour"]}
        notes.append("%s holds no NVRM version line: %r" % (params["version_file"], text[:120]))
    text, why = _read(params["sysfs_version_file"])
    if why:
        notes.append(why)
    if text is not None:
        version = text.strip()
        if re.match(r"^[0-9]+\.[0-9]+(\.[0-9]+)?$", version):
            return {"version": version, "flavour": None}
        notes.append("%s holds no version: %r" % (params["sysfs_version_file"], text[:120]))
    return None


def read_module(timeout, notes):
    modinfo = find_executable("modinfo")
    if not modinfo:
        notes.append("modinfo is not installed (kmod): the module on disk was not read")
        return None
    res = run([modinfo, "nvidia"], timeout)
    parsed = dv.parse_modinfo(res["stdout"]) if res.ok else None
    if parsed:
        return dict((key, parsed[key]) for key in ("version", "filename", "vermagic", "signer"))
    said = (res["stderr"] or res["stdout"] or "").strip()
    if res["error"] or res["timed_out"] or "not found" not in said:
        notes.append("modinfo nvidia: %s%s" % (describe(res, "modinfo", timeout) or "no version line",
                                               (": " + said[:200]) if said else ""))
    return None


def read_packages(patterns, timeout, notes, warn):
    dpkg_query = find_executable("dpkg-query")
    if not dpkg_query:
        notes.append("dpkg-query is not installed (not a Debian or Ubuntu host): the packages were not read")
        return dv.packages_of([])
    res = run([dpkg_query, "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\n"] + list(patterns),
              timeout)
    # rc 1 with "no packages found matching" for a pattern that matches nothing is fine.
    if res["error"] or res["timed_out"] or res["rc"] not in (0, 1):
        notes.append("dpkg-query: %s%s" % (describe(res, "dpkg-query", timeout),
                                           (": " + res["stderr"].strip()[:200]) if res["stderr"].strip() else ""))
    return dv.packages_of(dv.parse_dpkg_query(res["stdout"], warn=warn))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            branch=dict(type="str"),
            smi_version=dict(type="str"),
            smi_error_kind=dict(type="str"),
            smi_message=dict(type="str"),
            packages=dict(type="list", elements="str", default=list(dv.DEFAULT_PATTERNS)),
            version_file=dict(type="path", default="/proc/driver/nvidia/version"),
            sysfs_version_file=dict(type="path", default="/sys/module/nvidia/version"),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    branch = (params["branch"] or "").strip() or None
    if branch is not None and not re.match(r"^[0-9]{3}$", branch):
        module.fail_json(msg="branch must be a driver branch of three digits (such as 535), not %r." % branch)
    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 second, got %d." % params["timeout"])
    patterns = [p for p in params["packages"] if p and p.strip()]
    if not patterns:
        module.fail_json(msg="packages must name at least one dpkg-query pattern (such as '*nvidia*').")

    notes = []
    seen = set()

    def warn(message):
        if message not in seen:
            seen.add(message)
            module.warn(message)

    loaded = read_loaded(params, notes)
    on_disk = read_module(params["timeout"], notes)
    pkgs = read_packages(patterns, params["timeout"], notes, warn)
    smi_version = (params["smi_version"] or "").strip() or None
    nvml = dv.nvml_version(params["smi_message"])
    parts = {"loaded": loaded["version"] if loaded else None, "module": on_disk["version"] if on_disk else None,
             "packages": pkgs, "smi_version": smi_version, "smi_error_kind": params["smi_error_kind"], "nvml": nvml}
    findings = dv.compare(parts, branch)
    findings += [{"kind": "note", "parts": {}, "sentence": note.rstrip(".") + ".", "fix": ""}
                 for note in notes]
    groups = sorted(set(pkgs["userspace"].values()), key=dv.version_key)
    state = dv.state_of(findings)
    sentence = dv.sentence_of(findings, {"loaded": parts["loaded"] or smi_version, "module": parts["module"],
                                         "user": groups[-1] if len(groups) == 1 else None})
    module.exit_json(
        changed=False,
        loaded=loaded,
        module=on_disk,
        packages=pkgs["packages"],
        kernel_module_packages=pkgs["kernel_module_packages"],
        userspace=pkgs["userspace"],
        transitional=pkgs["transitional"],
        findings=findings,
        state=state,
        sentence=sentence,
        nvml_version=nvml,
        branch=branch,
    )


if __name__ == "__main__":
    main()
