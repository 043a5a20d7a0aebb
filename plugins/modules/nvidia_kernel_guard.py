#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nvidia_kernel_guard
short_description: Keep GRUB from booting by default a kernel that has no NVIDIA module
version_added: 0.1.0
description:
  - A kernel upgrade makes the new kernel GRUB's default even when DKMS could not build the
    NVIDIA module for it (no headers, a failed build); the next reboot comes up without a GPU
    driver. This module finds, for every installed kernel (C(/boot/vmlinuz-*)), whether
    C(modinfo -k KERNEL nvidia) finds a module, and what C(dkms status) says.
  - When the kernel that the user's own C(GRUB_DEFAULT) boots (the GRUB files without the
    guard's drop-in; V(0) is the newest kernel) has the module, C(saved_entry) in C(grubenv)
    is the user's value (unset for V(0), so that GRUB boots entry 0, the newest kernel).
  - When it has none, C(saved_entry) becomes the Advanced-menu entry of the newest kernel
    that has the module (C(SUBMENU_ID>ENTRY_ID), read from C(grub.cfg)), and RV(held_back)
    names each kernel kept from booting, why and how to fix it. Once every kernel has the
    module, the next run makes the newest the default again.
  - It needs C(GRUB_DEFAULT=saved) in effect in C(grub.cfg) (the role C(aiserver.gpu.nvidia_driver)
    writes C(/etc/default/grub.d/zz-aiserver-nvidia-kernel-guard.cfg) and runs C(update-grub));
    it fails when a kernel must be held back and C(grub.cfg) does not boot C(${saved_entry}).
  - The same decision runs from the kernel hooks and the boot check that the role installs
    (the same Python files, copied to C(/usr/local/lib/aiserver-gpu)).
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - GRUB 2 (C(grub-editenv)), C(modinfo) (kmod); C(dkms) optional.
extends_documentation_fragment:
  - aiserver.gpu.attributes
options:
  module_name:
    description:
      - The kernel module that must exist for a kernel, as C(modinfo -k KERNEL NAME) finds it.
      - V(nvidia) also looks for Debian's C(nvidia-current) (Debian installs the module as
        C(nvidia-current.ko), which C(modinfo -k KERNEL nvidia) does not find) and for the DKMS module
        name of that kernel (C(nvidia-tesla-535)...).
    type: str
    default: nvidia
  grub_cfg:
    description: GRUB's generated configuration, read for the menu entries and their ids.
    type: path
    default: /boot/grub/grub.cfg
  grubenv:
    description: GRUB's environment block, where C(saved_entry) lives.
    type: path
    default: /boot/grub/grubenv
  grub_defaults:
    description:
      - The GRUB defaults file; it and its C(grub.d/*.cfg) drop-ins, without O(dropin), give the
        user's C(GRUB_DEFAULT), sourced with C(/bin/sh) as C(grub-mkconfig) does.
    type: path
    default: /etc/default/grub
  dropin:
    description: File name of the guard's drop-in in C(grub.d), left out when reading the user's C(GRUB_DEFAULT).
    type: str
    default: zz-aiserver-nvidia-kernel-guard.cfg
  boot_dir:
    description: Where the kernels (C(vmlinuz-RELEASE)) are.
    type: path
    default: /boot
attributes:
  check_mode:
    details:
      - In check mode nothing is written; RV(commands) is the C(grub-editenv) command that would run.
      - A C(grub.cfg) that does not boot C(${saved_entry}) yet is a warning in check mode (the
        role would run C(update-grub) first), an error otherwise.
  diff_mode:
    details: The diff is the saved_entry line of grubenv before and after.
notes:
  - C(saved_entry) belongs to the guard while it is used; C(grub-reboot) (C(next_entry)) still works.
seealso:
  - module: aiserver.gpu.kernel_cmdline
"""

EXAMPLES = r"""
- name: Keep booting a kernel that has the NVIDIA module
  aiserver.gpu.nvidia_kernel_guard:
  register: guard

- name: Say which kernel was held back and how to fix it
  ansible.builtin.debug:
    msg: "{{ guard.msg }}"
  when: guard.held_back | length > 0
"""

RETURN = r"""
kernels:
  description: Every installed kernel, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    release: {description: "The kernel release, as uname -r prints it.", type: str}
    has_module: {description: Whether modinfo -k RELEASE MODULE finds the module., type: bool}
    module_version: {description: "The module's version (modinfo), null without one.", type: str}
    module_file: {description: "The module's file (modinfo), null without one.", type: str}
    headers: {description: Whether /lib/modules/RELEASE/build exists (the headers DKMS needs)., type: bool}
    dkms: {description: "DKMS's state for this kernel (installed, built), null when it has none.", type: str}
    dkms_version: {description: The version of that DKMS record., type: str}
    dkms_module: {description: The DKMS module name of that record (nvidia-current on Debian)., type: str}
  sample: [{release: 6.1.0-41-cloud-amd64, has_module: false, module_version: null, headers: false, dkms: null},
           {release: 6.1.0-50-cloud-amd64, has_module: true, module_version: 535.309.01, headers: true,
            dkms: installed}]
default_before:
  description: C(saved_entry) of grubenv before the task; null when unset (GRUB boots entry 0).
  returned: always
  type: str
default_after:
  description: C(saved_entry) after the task (in check mode, what it would be).
  returned: always
  type: str
  sample: gnulinux-advanced-29af87e9>gnulinux-6.1.0-50-cloud-amd64-advanced-29af87e9
boots:
  description: The kernel GRUB boots by default after the task; null when unknown.
  returned: always
  type: str
held_back:
  description: The kernels kept from being the default, why, and the fix.
  returned: always
  type: list
  elements: dict
  contains:
    kernel: {description: The kernel release., type: str}
    why: {description: Why it has no module., type: str}
    fix: {description: The commands that give it one., type: str}
user_default:
  description: C(GRUB_DEFAULT) of the user's GRUB files (without the guard's drop-in).
  returned: always
  type: str
running:
  description: The running kernel and whether it has the module.
  returned: always
  type: dict
commands:
  description: The grub-editenv commands run (in check mode, that would run).
  returned: always
  type: list
  elements: list
msg:
  description: One sentence; names the kernel held back and how to fix it.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aiserver.gpu.plugins.module_utils import _boot_kernel, _module, _runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            module_name=dict(type="str", default="nvidia"),
            grub_cfg=dict(type="path", default=_boot_kernel.GRUB_CFG),
            grubenv=dict(type="path", default=_boot_kernel.GRUBENV),
            grub_defaults=dict(type="path", default=_boot_kernel.GRUB_DEFAULTS),
            dropin=dict(type="str", default=_boot_kernel.DROPIN),
            boot_dir=dict(type="path", default=_boot_kernel.BOOT_DIR),
        ),
        supports_check_mode=True,
    )
    p = module.params
    warn = _module.warn_once(module)
    state = _boot_kernel.gather(_runner.run, _runner.find_executable, module_name=p["module_name"],
                                grub_cfg=p["grub_cfg"], grubenv=p["grubenv"], defaults=p["grub_defaults"],
                                dropin=p["dropin"], boot_dir=p["boot_dir"], warn=warn)
    base = dict(kernels=state["kernels"], user_default=state["user_default"],
                running=dict(release=state["running"], has_module=state["running_has_module"]))
    if state["errors"]:
        module.fail_json(msg="Nothing was changed: %s." % "; ".join(state["errors"]), changed=False,
                         error_kind="cannot_read", held_back=[], commands=[], **base)
    plan = _boot_kernel.decide(state["kernels"], state["menu"], state["grubenv"], state["user_default"],
                               p["module_name"])
    for warning in plan["warnings"]:
        warn(warning)
    out = dict(base, default_before=plan["saved_before"], default_after=plan["saved_after"], boots=plan["boots"],
               held_back=plan["held_back"])
    if plan["needs_saved"] and not state["menu"]["saved"] and module.check_mode:
        warn("%s does not boot ${saved_entry} yet: GRUB_DEFAULT=saved must be in effect (update-grub) for the "
             "held back kernel to stay out of the boot" % p["grub_cfg"])
    elif plan["needs_saved"] and not state["menu"]["saved"]:
        module.fail_json(
            msg="Nothing was changed: %s has no set default=\"${saved_entry}\" (GRUB_DEFAULT=saved is not in effect), "
                "so GRUB boots %s, which has no %s module, whatever grubenv says. Put GRUB_DEFAULT=saved in effect "
                "(the nvidia_driver role's drop-in %s) and run update-grub. %s"
                % (p["grub_cfg"], plan["target"], p["module_name"], p["dropin"], plan["msg"]),
            error_kind="not_saved_mode", changed=False, commands=[], **out)
    editenv = _runner.find_executable("grub-editenv") or _runner.find_executable("grub2-editenv")
    if plan["changed"] and not editenv:
        module.fail_json(msg="Nothing was changed: grub-editenv is not installed (package grub2-common). %s"
                         % plan["msg"], error_kind="no_editenv", changed=False, commands=[], **out)
    todo = _boot_kernel.commands(plan, editenv, p["grubenv"])
    out["commands"] = todo
    if module._diff:  # pylint: disable=protected-access
        def line(value):
            return "saved_entry=%s\n" % value if value else ""
        out["diff"] = dict(before_header=p["grubenv"], after_header=p["grubenv"],
                           before=line(plan["saved_before"]), after=line(plan["saved_after"]))
    if module.check_mode or not todo:
        module.exit_json(changed=bool(todo), msg=plan["msg"], **out)
    for cmd in todo:
        result = _runner.run(cmd, _boot_kernel.TIMEOUT)
        if not result.ok:
            module.fail_json(msg="%s; grubenv is as it was. %s" % (_runner.describe(result, cmd[0]), plan["msg"]),
                             error_kind="editenv_failed", cmd=cmd, rc=result["rc"], stdout=result["stdout"],
                             stderr=result["stderr"], changed=False, **out)
    after = _boot_kernel.parse_grubenv(_boot_kernel._read(p["grubenv"])).get("saved_entry") or None  # pylint: disable=protected-access
    if after != plan["saved_after"]:
        module.fail_json(msg="grub-editenv ran but %s says saved_entry=%s, not %s."
                         % (p["grubenv"], after, plan["saved_after"]),
                         error_kind="not_applied", changed=True, **out)
    module.exit_json(changed=True, msg=plan["msg"], **out)


if __name__ == "__main__":
    main()
