#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pci_acs
short_description: Report and disable PCIe Access Control Services (ACS) for GPU peer-to-peer
version_added: 0.1.0
description:
  - Reads C(lspci -D -vvv) (run with C(LC_ALL=C)) or a saved output of it, and reports every PCI
    function that exposes an Access Control Services (ACS) capability, with its ACS control
    flags, its PCIe link state and its kernel driver.
  - With O(state=disabled) it clears the ACS control register (C(ACSCtl)) with
    C(setpci -s BDF ECAP_ACS+0x6.w=0000) on every target function that has any ACS control
    flag set, then reads C(lspci) again and fails unless the flags are now all off.
  - ACS redirects peer-to-peer PCIe traffic up to the root complex. On bare-metal multi-GPU
    servers that makes GPU-to-GPU transfers (NCCL, CUDA P2P) slow or makes them hang; NCCL's
    troubleshooting guide says to disable it. Do not disable it on hosts that pass devices to
    virtual machines, where ACS provides the isolation between IOMMU groups.
  - The change lasts until the next reboot (and the kernel may set ACS again when a port is
    reset or hot-plugged); run it from a boot-time service to keep ACS off.
  - C(lspci) shows the extended capabilities only to root, so the module needs root
    (C(become=true)) to see ACS on a live host.
  - An output that cannot show ACS (empty, plain C(lspci) without C(-vvv), capabilities denied to a
    non-root user) gives an empty RV(devices) and says why in RV(evidence); no device with ACS is
    not the same as no information about ACS.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - C(lspci) and C(setpci) from pciutils on the target (unless O(lspci_path) is used).
extends_documentation_fragment:
  - aiserver.gpu.attributes.no_diff
options:
  lspci_path:
    description:
      - Read this saved C(lspci -vvv) output instead of running C(lspci). C(-D) and C(-PP)
        headers, tab or space indentation and CRLF line ends are accepted.
      - Only with O(state=query); a saved file cannot be changed.
    type: path
  state:
    description:
      - V(query) only reports.
      - V(disabled) clears C(ACSCtl) on every target function (see O(scope)) that has ACS
        enabled, then checks that it is off. Needs root.
    type: str
    choices: [query, disabled]
    default: query
  scope:
    description:
      - Which functions O(state=disabled) acts on.
      - V(bridges) is every PCI bridge (root ports and switch ports) with ACS enabled.
      - V(all) is every function with ACS enabled, bridges and endpoints alike (multi-function
        devices can expose ACS too), as NCCL's troubleshooting guide does.
    type: str
    choices: [bridges, all]
    default: bridges
  lspci_executable:
    description:
      - Name or path of C(lspci). A bare name is looked up in E(PATH) and the sbin directories.
    type: str
    default: lspci
  setpci_executable:
    description:
      - Name or path of C(setpci), used with O(state=disabled). A bare name is looked up in
        E(PATH) and the sbin directories.
    type: str
    default: setpci
  timeout:
    description:
      - Seconds one C(lspci) or C(setpci) run may take before it is killed (with every process it
        started). A hanging C(lspci) usually means a device whose configuration space does not answer.
    type: int
    default: 60
attributes:
  check_mode:
    details:
    - In check mode C(setpci) is not run; C(changed) and RV(cleared) tell what would be done.
notes:
  - Output lines that cannot be tied to a device (for example the output of
    C(lspci -vvv | grep ACSCtl), which has no device headers) are counted in RV(orphan_acs_ctl)
    and reported as warnings; they never count as devices.
  - C(ECAP_ACS) is setpci's name for extended capability 0x000d (see C(setpci --dumpregs)); the
    control register is at offset 6.
  - Intel 100/200-series (Sunrise Point, Union Point) PCH root ports keep the ACS control register
    at offset 8; C(lspci) shows wrong ACS flags for them. O(state=disabled) leaves them alone (identified
    by their PCI IDs in C(/sys/bus/pci/devices)) and warns.
seealso:
  - name: NCCL troubleshooting, PCI Access Control Services
    description: Why ACS slows down or breaks GPU peer-to-peer traffic, and how to disable it.
    link: https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html#pci-access-control-services-acs
"""

EXAMPLES = r"""
- name: Report the ACS state of this host
  aiserver.gpu.pci_acs:
  become: true
  register: acs

- name: Show the functions that have ACS enabled
  ansible.builtin.debug:
    msg: "{{ acs.devices | selectattr('enabled') | map(attribute='bdf') | list }}"

- name: Disable ACS on every PCI bridge (root ports and switch ports)
  aiserver.gpu.pci_acs:
    state: disabled
  become: true

- name: Disable ACS on every function that has it, as NCCL's guide does
  aiserver.gpu.pci_acs:
    state: disabled
    scope: all
  become: true

- name: Inspect an lspci output saved from another machine
  aiserver.gpu.pci_acs:
    lspci_path: /tmp/node07-lspci-vvv.txt
  delegate_to: localhost
"""

RETURN = r"""
devices:
  description:
    - Every function with a readable ACS capability, in C(lspci) order.
    - With O(state=disabled) outside check mode, as read again after C(setpci).
  returned: always
  type: list
  elements: dict
  contains:
    bdf:
      description: PCI address with domain, lower case. Null only for C(lspci -P) path headers without bus numbers.
      type: str
      sample: "0000:03:08.0"
    path:
      description: The bridge path as printed by C(lspci -PP) (the device is its last component); null without a path header.
      type: str
      sample: "00:02.0/0b:00.0/0c:04.0"
    class:
      description: Device class from the header line.
      type: str
      sample: PCI bridge
    name:
      description: The rest of the header line after the class.
      type: str
      sample: "PLX Technology, Inc. PEX 8747 48-Lane, 5-Port PCI Express Gen 3 (8.0 GT/s) Switch (rev ca)"
    is_bridge:
      description: Whether the function is a PCI bridge (class PCI bridge, or a type 1 header).
      type: bool
      sample: true
    acs_cap:
      description: ACS capability flags (C(ACSCap)), flag name to bool.
      type: dict
      contains:
        SrcValid:
          description: Source validation.
          type: bool
        TransBlk:
          description: Translation blocking.
          type: bool
        ReqRedir:
          description: P2P request redirect.
          type: bool
        CmpltRedir:
          description: P2P completion redirect.
          type: bool
        UpstreamFwd:
          description: Upstream forwarding.
          type: bool
        EgressCtrl:
          description: P2P egress control.
          type: bool
        DirectTrans:
          description: Direct translated P2P.
          type: bool
      sample: {"SrcValid": true, "TransBlk": true, "ReqRedir": true, "CmpltRedir": true,
               "UpstreamFwd": true, "EgressCtrl": false, "DirectTrans": false}
    acs_ctl:
      description: ACS control flags (C(ACSCtl)), flag name to bool; true means that ACS feature is on.
      type: dict
      contains:
        SrcValid:
          description: Source validation enabled.
          type: bool
        TransBlk:
          description: Translation blocking enabled.
          type: bool
        ReqRedir:
          description: P2P request redirect enabled (sends peer-to-peer requests up to the root complex).
          type: bool
        CmpltRedir:
          description: P2P completion redirect enabled.
          type: bool
        UpstreamFwd:
          description: Upstream forwarding enabled.
          type: bool
        EgressCtrl:
          description: P2P egress control enabled.
          type: bool
        DirectTrans:
          description: Direct translated P2P enabled.
          type: bool
      sample: {"SrcValid": true, "TransBlk": true, "ReqRedir": true, "CmpltRedir": true,
               "UpstreamFwd": true, "EgressCtrl": false, "DirectTrans": false}
    enabled:
      description: Whether any RV(devices[].acs_ctl) flag is set.
      type: bool
      sample: true
    link:
      description: PCIe link from C(LnkCap) and C(LnkSta); null when the function has no PCIe link lines.
      type: dict
      contains:
        cap_speed_gts:
          description: Maximum link speed in GT/s.
          type: float
          sample: 8.0
        cap_width:
          description: Maximum link width (lanes).
          type: int
          sample: 16
        sta_speed_gts:
          description: Current link speed in GT/s; null when lspci says C(unknown).
          type: float
          sample: 8.0
        sta_width:
          description: Current link width (lanes).
          type: int
          sample: 16
        downgraded:
          description:
            - Whether lspci marked the current speed or width C((downgraded)); for lspci
              versions without these notes, whether the current speed or width is below the maximum.
          type: bool
          sample: false
    driver:
      description: C(Kernel driver in use), null when none.
      type: str
      sample: pcieport
enabled_count:
  description: Number of RV(devices) with ACS enabled.
  returned: always
  type: int
  sample: 10
cleared:
  description:
    - BDFs whose C(ACSCtl) the module cleared or, in check mode, would clear. Empty with O(state=query).
  returned: always
  type: list
  elements: str
  sample: ["0000:00:1d.2", "0000:07:00.0"]
still_enabled:
  description: BDFs that still show ACS enabled (or vanished) when C(lspci) is read again after C(setpci).
  returned: failure, when the verification after C(setpci) fails
  type: list
  elements: str
  sample: ["0000:07:00.0"]
cmd:
  description: The command that failed.
  returned: failure, when C(lspci) or C(setpci) fails
  type: list
  elements: str
  sample: ["/usr/bin/setpci", "-s", "0000:07:00.0", "ECAP_ACS+0x6.w=0000"]
rc:
  description: Exit status of the command that failed.
  returned: failure, when C(lspci) or C(setpci) fails
  type: int
  sample: 1
stdout:
  description: Standard output of the command that failed.
  returned: failure, when C(lspci) or C(setpci) fails
  type: str
  sample: ""
stderr:
  description: Standard error of the command that failed.
  returned: failure, when C(lspci) or C(setpci) fails
  type: str
  sample: "setpci: Unable to write to /sys/bus/pci/devices/0000:07:00.0/config: Operation not permitted"
devices_seen:
  description: Number of device blocks in the C(lspci) output (with or without ACS).
  returned: always
  type: int
  sample: 298
capabilities_seen:
  description:
    - Number of devices with at least one readable C(Capabilities:) line. V(0) means the output says nothing
      about ACS (plain C(lspci), or capabilities denied to a non-root user), so an empty RV(devices) does
      not mean that no device has ACS.
  returned: always
  type: int
  sample: 120
evidence:
  description:
    - Null when the ACS state could be read; otherwise what is missing, in one sentence (an empty output, no
      device block, no capability line, capabilities denied, an ACS capability without its C(ACSCtl) line).
      An empty RV(devices) is evidence that no device has ACS only when this is null.
  returned: always
  type: str
  sample: "the output lists 298 device(s) but no capability line: it is plain lspci output, not lspci -vvv"
orphan_acs_enabled:
  description: How many of the RV(orphan_acs_ctl) lines show ACS enabled.
  returned: always
  type: int
  sample: 0
orphan_acs_ctl:
  description:
    - Number of C(ACSCtl) lines that are not under any device header (grep'd or truncated output)
      and so could not be tied to a device. A warning says how many of them show ACS enabled.
  returned: always
  type: int
  sample: 0
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.aiserver.gpu.plugins.module_utils import _module
from ansible_collections.aiserver.gpu.plugins.module_utils._runner import describe, find_executable as which, run
from ansible_collections.aiserver.gpu.plugins.module_utils._lspci import (
    acs_ctl_misplaced,
    acs_devices,
    acs_evidence,
    acs_targets,
    scan_lspci,
)

SETPCI_REGISTER = "ECAP_ACS+0x6.w=0000"
PUBLIC_KEYS = (
    "bdf",
    "path",
    "class",
    "name",
    "is_bridge",
    "acs_cap",
    "acs_ctl",
    "enabled",
    "link",
    "driver",
)
INSTALL_HINT = (
    "install pciutils (apt-get install pciutils / dnf install pciutils) or set %s to its path"
)


def find_executable(module, option):
    name = module.params[option]
    if os.sep in name:
        if which(name):
            return name
        module.fail_json(msg="%s %s is not an executable file; %s." % (option, name, INSTALL_HINT % option))
    path = which(name)
    if not path:
        module.fail_json(
            msg="%s was not found in PATH or the sbin directories; %s." % (name, INSTALL_HINT % option)
        )
    return path


def run_lspci(module, lspci):
    cmd = [lspci, "-D", "-vvv"]
    res = run(cmd, module.params["timeout"])
    if not res.ok:
        hint = ("a device's configuration space does not answer (a GPU fallen off the bus?): check dmesg"
                if res["timed_out"] else "check that pciutils works on this host (see stderr)")
        module.fail_json(
            msg="`%s`: %s; %s." % (" ".join(cmd), describe(res, "lspci", module.params["timeout"]), hint),
            cmd=cmd, rc=res["rc"], stdout=res["stdout"], stderr=res["stderr"], timed_out=res["timed_out"],
        )
    return res["stdout"]


def lockdown_mode():
    try:
        with open("/sys/kernel/security/lockdown") as handle:
            match = re.search(r"\[(\w+)\]", handle.read())
    except (IOError, OSError):
        return None
    return match.group(1) if match else None


def pci_ids(bdf):
    """(vendor, device) from sysfs, or None when unreadable (not Linux, no such device)."""
    base = os.path.join("/sys/bus/pci/devices", bdf)
    try:
        with open(os.path.join(base, "vendor")) as vendor, open(os.path.join(base, "device")) as device:
            return int(vendor.read().strip(), 16), int(device.read().strip(), 16)
    except (IOError, OSError, ValueError):
        return None


def public(device):
    return dict((key, device[key]) for key in PUBLIC_KEYS)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            lspci_path=dict(type="path"),
            state=dict(type="str", default="query", choices=["query", "disabled"]),
            scope=dict(type="str", default="bridges", choices=["bridges", "all"]),
            lspci_executable=dict(type="str", default="lspci"),
            setpci_executable=dict(type="str", default="setpci"),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 second, got %d." % params["timeout"])
    state, scope, lspci_path = params["state"], params["scope"], params["lspci_path"]
    is_root = os.geteuid() == 0

    if state == "disabled" and lspci_path:
        module.fail_json(
            msg="state=disabled cannot be used with lspci_path: a saved lspci output cannot be changed. "
            "Leave lspci_path out to act on this host's devices, or use state=query to inspect the file."
        )
    if state == "disabled" and not is_root:
        module.fail_json(
            msg="state=disabled needs root to read and write PCI extended configuration space; "
            "run the task with become: true."
        )

    lspci = setpci = None
    if lspci_path:
        text = _module.read_saved(module, "lspci_path", "save `lspci -D -vvv` (run as root) there, or leave lspci_path out to read this host")
    else:
        lspci = find_executable(module, "lspci_executable")
        if state == "disabled":
            setpci = find_executable(module, "setpci_executable")
        text = run_lspci(module, lspci)

    warn = _module.warn_once(module)

    scan = scan_lspci(text, warn)
    devices = scan["devices"]
    evidence = acs_evidence(scan, text)
    if not acs_devices(devices) and not scan["orphan_acs_ctl"]:
        if lspci_path is None and not is_root:
            module.warn(
                "No ACSCtl lines are visible: lspci shows extended capabilities only to root. "
                "Run the task with become: true to see the ACS state."
            )
        elif scan["capabilities_denied"]:
            module.warn(
                "%s has %d device(s) with 'Capabilities: <access denied>': it was captured without "
                "root, so ACS is not visible; capture `sudo lspci -D -vvv` instead."
                % (lspci_path or "lspci output", scan["capabilities_denied"])
            )
        elif evidence:
            module.warn("ACS could not be read: %s%s." % (
                evidence, "; save `sudo lspci -D -vvv` in lspci_path" if lspci_path else ""))
    summary = dict(
        devices_seen=len(devices),
        capabilities_seen=scan["capabilities_seen"],
        orphan_acs_enabled=sum(1 for flags in scan["orphan_acs_ctl"] if any(flags.values())),
        evidence=evidence,
    )

    targets = acs_targets(devices, scope) if state == "disabled" else []
    if targets and lspci_path is None:
        quirky = [d["bdf"] for d in targets if acs_ctl_misplaced(*(pci_ids(d["bdf"]) or (0, 0)))]
        if quirky:
            module.warn(
                "Left alone: %s. These Intel 100/200-series PCH root ports keep ACS control at offset 8, "
                "so lspci shows wrong ACS flags for them and setpci %s cannot change them; the kernel "
                "handles their ACS through quirks." % (", ".join(quirky), SETPCI_REGISTER)
            )
            targets = [d for d in targets if d["bdf"] not in quirky]
    cleared = [device["bdf"] for device in targets]
    changed = bool(cleared)

    if cleared and not module.check_mode:
        done = []
        for bdf in cleared:
            cmd = [setpci, "-s", bdf, SETPCI_REGISTER]
            res = run(cmd, params["timeout"])
            if not res.ok:
                module.fail_json(
                    msg="`%s`: %s; ACS was cleared on %d of %d target(s) before it. "
                    "Check that the task runs as root and that kernel lockdown (Secure Boot) "
                    "allows PCI config writes." % (" ".join(cmd), describe(res, "setpci", params["timeout"]),
                                                   len(done), len(cleared)),
                    cmd=cmd, rc=res["rc"], stdout=res["stdout"], stderr=res["stderr"], cleared=done,
                    changed=bool(done),
                )
            done.append(bdf)
        after = scan_lspci(run_lspci(module, lspci), warn)["devices"]
        by_bdf = dict((device["bdf"], device) for device in after)
        still = [bdf for bdf in cleared if bdf not in by_bdf or by_bdf[bdf]["acs_ctl"] is None or by_bdf[bdf]["enabled"]]
        if still:
            mode = lockdown_mode()
            if mode and mode != "none":
                hint = "kernel lockdown is '%s' (Secure Boot), which blocks config-space writes from user space" % mode
            else:
                hint = (
                    "likely causes: kernel lockdown (Secure Boot), not really root, or a virtual machine "
                    "whose hypervisor ignores writes to the bridges' config space"
                )
            module.fail_json(
                msg="ACS is still enabled (or no longer readable) on %s after setpci %s; %s. "
                "Disable ACS in the firmware setup or boot with lockdown off."
                % (", ".join(still), SETPCI_REGISTER, hint),
                still_enabled=still, cleared=done, changed=True,
                devices=[public(d) for d in acs_devices(after)],
            )
        devices = after

    acs = [public(device) for device in acs_devices(devices)]
    module.exit_json(
        changed=changed,
        devices=acs,
        enabled_count=sum(1 for device in acs if device["enabled"]),
        cleared=cleared,
        orphan_acs_ctl=len(scan["orphan_acs_ctl"]),
        **summary
    )


if __name__ == "__main__":
    main()
