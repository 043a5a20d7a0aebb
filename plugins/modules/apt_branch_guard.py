#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: apt_branch_guard
short_description: Tell, before any change, whether apt would install another NVIDIA driver branch
version_added: 0.1.0
description:
  - Asks apt what it would B(really) install for O(packages), with every dependency
    (C(LANG=C apt-get install --simulate -o Debug::NoLocking=1 ...)), reads the
    C(Source:) and C(Depends:) of every planned package (C(apt-cache show NAME=VERSION ...)),
    and says which NVIDIA driver branch each planned package belongs to.
  - A package of the pinned branch can bring another one. Ubuntu 24.04 turned its
    535-server packages into transitional packages (C(libnvidia-extra-535-server)
    535.309.01-0ubuntu0.24.04.2 depends on C(libnvidia-extra-580-server)), and the 570-server
    metapackages install 580; a repository that offers a newer branch under the same name
    does the same. Checking the candidate of the first package misses both.
  - The branch of a planned package is its version when it is built from the driver's
    source package (C(nvidia-graphics-drivers*), C(nvidia-open-gpu-kernel-modules)) and the
    version is a driver version; else the branch in its name (Ubuntu's C(-535-server),
    C(linux-modules-nvidia-580-server-generic)); else it has none (many NVIDIA-named
    packages are versioned on their own, such as C(nvidia-kernel-common),
    C(glx-alternative-nvidia), C(nvidia-persistenced), C(nvidia-modprobe)).
  - "Changes nothing (apt only simulates): it runs the same in check mode and never reports
    a change. It fails only when apt cannot plan the install (an unknown package, a version
    it does not have, unmet dependencies), naming what is wrong; a plan that leaves the
    branch is reported in RV(ok), RV(off_branch) and RV(sentence), for the caller to refuse."
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - C(apt-get), C(apt-cache) and C(dpkg-query) on the target (Debian, Ubuntu).
options:
  packages:
    description:
      - The packages the caller would install, exactly as it would pass them to apt
        (C(NAME), C(NAME=VERSION)).
    type: list
    elements: str
    required: true
  branch:
    description:
      - The pinned driver branch, such as V(535).
    type: str
    required: true
  state:
    description:
      - How the caller will install them, as M(ansible.builtin.apt) does.
      - V(present) simulates only the O(packages) that are not installed yet (an installed
        package stays as it is); V(latest) simulates all of them, upgrades included, as if
        their holds were released (C(--allow-change-held-packages)).
    type: str
    choices: [present, latest]
    default: present
  install_recommends:
    description:
      - Simulate with C(APT::Install-Recommends) on (V(true)) or off (V(false)); null leaves
        apt's own setting, as M(ansible.builtin.apt) does.
    type: bool
  branch_variable:
    description:
      - The variable the sentence tells the user to set to choose the other branch on
        purpose; null when the sentence names no variable.
    type: str
    default: nvidia_driver_branch
  extra_args:
    description:
      - More arguments for C(apt-get install --simulate), such as
        V([-o, APT::Default-Release=bookworm-backports]) or V(-t).
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds each apt command may take before it is killed and the module fails.
    type: int
    default: 120
extends_documentation_fragment:
  - aiserver.gpu.attributes.read_only
notes:
  - Reads the package lists as they are; run C(apt-get update) (M(ansible.builtin.apt)
    O(ansible.builtin.apt#module:update_cache=true)) before, after changing the sources.
  - Runs without root (apt's lock is not taken, C(Debug::NoLocking=1)).
seealso:
  - module: ansible.builtin.apt
  - name: Ubuntu 570-server transitional packages install 580 (dstack PR 3967)
    description: The branch jump this module stops.
    link: https://github.com/dstackai/dstack/pull/3967
"""

EXAMPLES = r"""
- name: Ask what apt would really install for the 535 driver
  aiserver.gpu.apt_branch_guard:
    packages: [nvidia-driver, nvidia-smi, nvidia-persistenced, firmware-misc-nonfree, dkms]
    branch: "535"
    install_recommends: false
  register: guard

- name: Refuse, before any change, a plan that leaves the branch
  ansible.builtin.fail:
    msg: "{{ guard.sentence }}"
  when: not guard.ok

- name: Check an upgrade of the held driver within its branch
  aiserver.gpu.apt_branch_guard:
    packages: [nvidia-headless-535-server, nvidia-utils-535-server]
    branch: "535"
    state: latest
  register: guard
"""

RETURN = r"""
ok:
  description: Whether every planned package of a driver branch is of O(branch).
  returned: success
  type: bool
  sample: false
sentence:
  description:
    - Empty when RV(ok); else the refusal, naming each package, the branch it brings, the
      requested package that pulls it, and the variable to set to choose it on purpose.
  returned: success
  type: str
  sample: >-
    apt would install libnvidia-ml1 580.95.05-1 (branch 580, from localhost) for nvidia-driver
    535.999.01-1, which depends on it (libnvidia-ml1 (>= 580)): a package of the pinned 535
    moves you to 580. This is not a 535.x driver (...). Set nvidia_driver_branch: "580" to
    choose that branch on purpose, or remove or pin away what offers it (...) before running again.
plan:
  description: Every package apt would install or upgrade (its C(Inst) lines), in apt's order.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Package name (without C(:arch)).
      type: str
      sample: libnvidia-ml1
    version:
      description: The version apt would install.
      type: str
      sample: 580.95.05-1
    old_version:
      description: The installed version it replaces; null for a new package.
      type: str
      sample: 535.309.01-0+deb12u1
    arch:
      description: Architecture.
      type: str
      sample: amd64
    origin:
      description: Where it comes from, as apt prints it (C(localhost) for a C(file:) repository).
      type: str
      sample: Debian-Security:12/oldstable-security
    source:
      description: Its source package (C(apt-cache show)); null when unknown.
      type: str
      sample: nvidia-graphics-drivers
    branch:
      description: Its driver branch; null for a package that is not the driver's.
      type: str
      sample: "580"
    basis:
      description: >-
        What decided RV(plan[].branch): V(version), V(name), V(source),
        V(version (source unknown)), or why there is none: V(independent), V(not nvidia).
      type: str
      sample: version
off_branch:
  description:
    - The RV(plan) entries of another branch than O(branch), each with C(via) (the chain of
      packages from a requested one, the requested one first) and C(relation) (the Depends
      entry that pulls it, null when asked for by name).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "libnvidia-ml1", "version": "580.95.05-1", "branch": "580",
            "via": ["nvidia-driver", "libnvidia-ml1"], "relation": "libnvidia-ml1 (>= 580)"}]
remove:
  description: Packages apt would remove (C(Remv)/C(Purg) lines), with C(name), C(old_version), C(purge).
  returned: success
  type: list
  elements: dict
  sample: []
simulated:
  description: The packages that were simulated (with O(state=present), those not installed yet).
  returned: always
  type: list
  elements: str
  sample: [nvidia-driver, nvidia-smi]
error_kind:
  description:
    - Why the module failed. V(no_apt) no C(apt-get); V(unknown_package), V(version_not_found),
      V(no_candidate), V(unmet_dependencies), V(apt_failed) what apt said; V(timeout) an apt
      command did not finish within O(timeout); V(bad_request) a wrong option.
  returned: failure
  type: str
  sample: unmet_dependencies
errors:
  description: apt's errors, each with C(kind), C(package), C(message) (and C(relations) for unmet dependencies).
  returned: failure, when apt could not plan
  type: list
  elements: dict
  sample: [{"kind": "unknown_package", "package": "nvidia-drvier", "message": "Unable to locate package nvidia-drvier"}]
cmd:
  description: The apt command that failed.
  returned: failure, when apt ran
  type: list
  elements: str
rc:
  description: Its exit status (null after a timeout).
  returned: failure, when apt ran
  type: int
  sample: 100
stdout:
  description: Its standard output.
  returned: failure, when apt ran
  type: str
stderr:
  description: Its standard error.
  returned: failure, when apt ran
  type: str
"""

import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.aiserver.gpu.plugins.module_utils import _apt_plan
from ansible_collections.aiserver.gpu.plugins.module_utils import _module
from ansible_collections.aiserver.gpu.plugins.module_utils import _runner

_KINDS = ("unknown_package", "version_not_found", "release_not_found", "no_candidate", "unmet_dependencies")


def _fail_run(module, res, what, simulated, timeout):
    module.fail_json(msg="%s; nothing was changed." % _runner.describe(res, what, timeout),
                     error_kind="timeout" if res["timed_out"] else "apt_failed", cmd=res["cmd"], rc=res["rc"],
                     stdout=res["stdout"], stderr=res["stderr"], simulated=simulated)


def _installed(module, packages, timeout):
    """Names among ``packages`` that dpkg has installed (status ``?i``: ii, hi)."""
    dpkg_query = _runner.find_executable("dpkg-query")
    names = [re.split(r"[=:]", name, 1)[0] for name in packages]
    if not dpkg_query or not names:
        return set()
    res = _runner.run([dpkg_query, "-W", "-f", "${Package}\t${db:Status-Abbrev}\n"] + names, timeout)
    if res["timed_out"]:
        _fail_run(module, res, "dpkg-query", [], timeout)
    installed = set()
    for line in res["stdout"].splitlines():
        name, _sep, status = line.partition("\t")
        if len(status) >= 2 and status[1] == "i":
            installed.add(name.split(":", 1)[0])
    return installed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            packages=dict(type="list", elements="str", required=True),
            branch=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "latest"]),
            install_recommends=dict(type="bool"),
            branch_variable=dict(type="str", default="nvidia_driver_branch"),
            extra_args=dict(type="list", elements="str", default=[]),
            timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    params = module.params
    branch = (params["branch"] or "").strip()
    if not re.match(r"^[0-9]{3}$", branch):
        module.fail_json(msg="branch must be a driver branch such as \"535\", got %r." % params["branch"],
                         error_kind="bad_request", simulated=[])
    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 second, got %d." % params["timeout"],
                         error_kind="bad_request", simulated=[])
    packages = [name.strip() for name in params["packages"] if name and name.strip()]
    if not packages:
        module.fail_json(msg="packages is empty: give the packages the install would ask apt for.",
                         error_kind="bad_request", simulated=[])
    timeout = params["timeout"]
    apt_get = _runner.find_executable("apt-get")
    apt_cache = _runner.find_executable("apt-cache")
    if not apt_get or not apt_cache:
        module.fail_json(msg="apt-get or apt-cache is not installed: this module is for Debian and Ubuntu hosts.",
                         error_kind="no_apt", simulated=[])

    if params["state"] == "present":
        installed = _installed(module, packages, timeout)
        simulated = [name for name in packages if re.split(r"[=:]", name, 1)[0] not in installed or "=" in name]
    else:
        simulated = list(packages)
    if not simulated:
        module.exit_json(changed=False, ok=True, sentence="", plan=[], off_branch=[], remove=[], simulated=[])

    cmd = [apt_get, "install", "--simulate", "-o", "Debug::NoLocking=1"]
    if params["install_recommends"] is not None:
        cmd += ["-o", "APT::Install-Recommends=%s" % ("yes" if params["install_recommends"] else "no")]
    if params["state"] == "latest":
        cmd.append("--allow-change-held-packages")
    cmd += list(params["extra_args"]) + simulated
    res = _runner.run(cmd, timeout)
    if res["timed_out"] or res["error"]:
        _fail_run(module, res, "apt-get install --simulate", simulated, timeout)
    warn = _module.warn_once(module)
    plan = _apt_plan.parse(res["stdout"] + "\n" + res["stderr"], warn=warn)
    if plan["errors"] or res["rc"] != 0:
        errors = plan["errors"]
        kinds = [e["kind"] for e in errors if e["kind"] in _KINDS]
        text = _apt_plan.describe_errors(errors, branch, params["branch_variable"])
        if not text:
            text = _runner.describe(res, "apt-get install --simulate", timeout) + "."
        module.fail_json(
            msg="apt cannot install %s: %s Nothing was changed." % (" ".join(simulated), text),
            error_kind=kinds[0] if kinds else "apt_failed", errors=errors, cmd=res["cmd"], rc=res["rc"],
            stdout=res["stdout"], stderr=res["stderr"], simulated=simulated)

    show = {}
    if plan["install"]:
        show_cmd = [apt_cache, "show"] + ["%s=%s" % (r["name"], r["version"]) for r in plan["install"]]
        show_res = _runner.run(show_cmd, timeout)
        if show_res["timed_out"] or show_res["error"]:
            _fail_run(module, show_res, "apt-cache show", simulated, timeout)
        show = _apt_plan.parse_show(show_res["stdout"])
        if show_res["rc"] != 0:
            warn("apt-cache show failed for some planned packages (%s); their branch is judged by name and version"
                 % (show_res["stderr"].strip() or "rc %s" % show_res["rc"]))
    requested = [re.split(r"[=:]", name, 1)[0] for name in simulated]
    result = _apt_plan.check(plan, show, requested, branch, params["branch_variable"])
    module.exit_json(changed=False, ok=result["ok"], sentence=result["sentence"], plan=result["plan"],
                     off_branch=result["off_branch"], remove=plan["remove"], simulated=simulated)


if __name__ == "__main__":
    main()
