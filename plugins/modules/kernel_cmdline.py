#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kernel_cmdline
short_description: Set or remove Linux kernel command line parameters in the GRUB defaults
version_added: 0.1.0
description:
  - Makes the kernel command line that C(grub-mkconfig) (C(update-grub)) computes hold each
    parameter of O(params) exactly once with the given value (O(state=present)), or not at all
    (O(state=absent)).
  - The effective command line of normal boot entries is
    C("${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}") after C(grub-mkconfig) has
    sourced O(path) and then every C(grub.d/*.cfg) drop-in of the same directory, in glob
    (C locale) order, with C(/bin/sh). A drop-in therefore overrides the main file; Ubuntu cloud
    images, for example, set C(GRUB_CMDLINE_LINUX_DEFAULT) in
    C(/etc/default/grub.d/50-cloudimg-settings.cfg), and a second C(GRUB_CMDLINE_LINUX_DEFAULT=)
    line in O(path) silently replaces the first. The module edits the assignment that is
    actually effective.
  - A parameter that is already on the effective command line, with any value, is rewritten in
    place where it is set (first occurrence, C(GRUB_CMDLINE_LINUX) before
    C(GRUB_CMDLINE_LINUX_DEFAULT)), and every other effective occurrence of it is removed, in
    whichever file and variable it is. A conflicting value is thus replaced, never duplicated.
  - A parameter that is not on the effective command line is appended to the assignment of
    C(GRUB_CMDLINE_LINUX) that runs last, so it also reaches recovery entries. When no file
    assigns C(GRUB_CMDLINE_LINUX), a line C(GRUB_CMDLINE_LINUX="...") is appended to O(path).
  - Assignments that do not reach the command line (overridden by a later assignment, or in a
    shell branch that does not run) are never edited; a warning names those that hold a
    conflicting value. Comment lines are never edited. Every other line, parameter, comment,
    quoting style and byte of the files is kept.
  - The files are shell scripts, so the module computes the command line by running
    C(/bin/sh) on them the way C(grub-mkconfig) does (C(set -e), main file, then the drop-ins),
    traces which assignments run, and runs C(/bin/sh) again on a temporary copy of the
    proposed files to check the result before writing anything. When shell logic it cannot
    edit (command substitutions, backticks, C(if) one-liners...) produces a parameter it has to change,
    or overrides its edit, it fails with a message naming the file and line, and changes
    nothing.
  - Regenerating C(grub.cfg) (C(update-grub) or C(grub-mkconfig -o ...)) is left to the caller,
    typically a handler notified when this module reports a change; the new command line is
    used from the next boot on, see RV(reboot_required).
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - C(/bin/sh) on the target (dash on Debian and Ubuntu), as used by C(grub-mkconfig).
extends_documentation_fragment:
  - aiserver.gpu.attributes
options:
  params:
    description:
      - Kernel parameters, each C(NAME) or C(NAME=VALUE), for example C(intel_iommu=on) or
        C(nospec_store_bypass_disable).
      - C(NAME) is made of letters, digits, C(_), C(.) and C(-); as for the kernel, C(-) and
        C(_) in names are the same character. C(VALUE) is printable ASCII without whitespace,
        quotes, C($), backtick or backslash, and may be empty (C(NAME=) is a different
        parameter from a bare C(NAME)).
      - Listing the same parameter twice with different values is an error.
      - With O(state=present) a parameter that the kernel accepts several times (such as
        C(console=)) ends up exactly once, with the given value.
      - With O(state=absent), C(NAME) removes the parameter whatever its value, and
        C(NAME=VALUE) removes it only where it has exactly that value.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) makes each parameter of O(params) appear exactly once with its value.
      - V(absent) removes the parameters of O(params).
    type: str
    choices: [present, absent]
    default: present
  path:
    description:
      - The GRUB defaults file. The drop-ins are the C(grub.d/*.cfg) files in the same
        directory as O(path).
      - It must exist; the module never creates it.
    type: path
    default: /etc/default/grub
  backup:
    description:
      - Keep a timestamped copy of every file the module changes, next to it; their paths are
        returned in RV(backup_files).
    type: bool
    default: false
  proc_cmdline_path:
    description:
      - The file holding the command line of the running kernel, compared with O(params) to
        compute RV(reboot_required). Meant for tests; leave the default on real hosts.
    type: path
    default: /proc/cmdline
attributes:
  check_mode:
    details:
    - In check mode no file is written; the files are still sourced with C(/bin/sh), as C(update-grub) does, to
      compute the command line, and the proposed contents are checked in a temporary directory.
  diff_mode:
    details:
    - Returns one diff per changed file.
notes:
  - Files with Windows (CRLF) line endings are refused; convert them first.
  - The files are sourced (so the commands in them run, such as C(lsb_release) for
    C(GRUB_DISTRIBUTOR), as they do under C(update-grub)) with a minimal environment
    (C(LANG=C), a standard E(PATH)) and a 60 second timeout, also in check mode.
  - A file that C(/bin/sh) cannot source without error (bash-only syntax such as C(VAR+=...),
    a failing command under C(set -e)) makes the module fail, because C(update-grub) fails on it
    as well.
seealso:
  - name: GRUB manual, Simple configuration handling
    description: The GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT variables.
    link: https://www.gnu.org/software/grub/manual/grub/html_node/Simple-configuration.html
  - name: The kernel's command-line parameters
    description: Meaning of the parameters.
    link: https://docs.kernel.org/admin-guide/kernel-parameters.html
"""

EXAMPLES = r"""
- name: Turn off CPU vulnerability mitigations and the Intel IOMMU on a GPU training box
  aiserver.gpu.kernel_cmdline:
    params:
      - mitigations=off
      - intel_iommu=off
  become: true
  register: cmdline
  notify: Update GRUB

- name: Tell when a reboot is needed
  ansible.builtin.debug:
    msg: "Reboot to boot with: {{ cmdline.cmdline_after | join(' ') }}"
  when: cmdline.reboot_required

- name: Remove nomodeset whatever its value, and iommu=pt only with that value
  aiserver.gpu.kernel_cmdline:
    params:
      - nomodeset
      - iommu=pt
    state: absent
    backup: true
  become: true
  notify: Update GRUB

# The handler, in the play or role:
# handlers:
#   - name: Update GRUB
#     ansible.builtin.command: update-grub
#     changed_when: true
"""

RETURN = r"""
changed:
  description: Whether a file was (or, in check mode, would be) changed.
  returned: always
  type: bool
  sample: true
cmdline_before:
  description:
    - The effective kernel command line before the change, split into parameters, as
      C(grub-mkconfig) computes it for normal boot entries
      (C(GRUB_CMDLINE_LINUX) then C(GRUB_CMDLINE_LINUX_DEFAULT)).
  returned: always
  type: list
  elements: str
  sample: [console=tty1, console=ttyS0]
cmdline_after:
  description:
    - The effective kernel command line after the change (in check mode, the one the change
      would give), computed by C(/bin/sh) from the new files.
  returned: always
  type: list
  elements: str
  sample: [mitigations=off, intel_iommu=off, console=tty1, console=ttyS0]
reboot_required:
  description:
    - Whether the running kernel (O(proc_cmdline_path)) lacks what was asked.
    - With O(state=present), true when some parameter of O(params) is not on the running
      command line with exactly that value; with O(state=absent), true when some parameter of
      O(params) is still on it.
    - This does not depend on RV(changed); C(grub.cfg) still has to be regenerated before the
      reboot.
  returned: always
  type: bool
  sample: true
running_cmdline:
  description: The running kernel's command line (O(proc_cmdline_path)), split into parameters; null when unreadable.
  returned: always
  type: list
  elements: str
  sample: [BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64, root=UUID=1234, ro, quiet]
running_differs:
  description:
    - Why RV(reboot_required) is true - with O(state=present) the parameters of O(params) the running
      command line lacks, with O(state=absent) the parameters of the running command line that O(params)
      removes. Names are compared as the kernel does (C(nvidia-drm.modeset) is C(nvidia_drm.modeset)).
  returned: always
  type: list
  elements: str
  sample: [intel_iommu=off]
files_changed:
  description: The files that were (or, in check mode, would be) changed.
  returned: always
  type: list
  elements: str
  sample: [/etc/default/grub]
backup_files:
  description: The backup copies made because of O(backup) (empty in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/default/grub.12345.2025-01-31@10:22:03~]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.aiserver.gpu.plugins.module_utils import _safe_write
from ansible_collections.aiserver.gpu.plugins.module_utils._grub import (
    GrubError,
    compute,
    parse_params,
    running_differs,
    split_cmdline,
)


def _printable(text):
    """Text safe for JSON (undecodable bytes shown as U+FFFD)."""
    return text.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')


def main():
    module = AnsibleModule(
        argument_spec=dict(
            params=dict(type='list', elements='str', required=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            path=dict(type='path', default='/etc/default/grub'),
            backup=dict(type='bool', default=False),
            proc_cmdline_path=dict(type='path', default='/proc/cmdline'),
        ),
        supports_check_mode=True,
    )
    state = module.params['state']
    path = os.path.abspath(module.params['path'])

    try:
        asked = parse_params(module.params['params'], state)
        result = compute(path, module.params['params'], state)
    except GrubError as exc:
        module.fail_json(msg=to_native(exc))

    for warning in result.warnings:
        module.warn(warning)

    proc = module.params['proc_cmdline_path']
    try:
        with open(proc, 'rb') as f:
            running = f.read().decode('utf-8', 'replace')
        differs = running_differs(running, asked, state)
        reboot = bool(differs)
    except (IOError, OSError) as exc:
        module.warn('cannot read %s (%s); reporting reboot_required=true' % (proc, to_native(exc)))
        running, differs, reboot = None, [], True

    # Every changed file or none (a read-only drop-in must not leave /etc/default/grub edited alone).
    edits = [_safe_write.Edit(c.path, c.before, c.after, errors='surrogateescape') for c in result.changes]
    done = _safe_write.commit(module, edits, backup=module.params['backup'])
    backups = done['backup_files']

    out = dict(
        changed=bool(result.changes),
        cmdline_before=[_printable(t) for t in result.cmdline_before],
        cmdline_after=[_printable(t) for t in result.cmdline_after],
        reboot_required=reboot,
        running_cmdline=None if running is None else [_printable(t) for t in split_cmdline(running)],
        running_differs=[_printable(t) for t in differs],
        files_changed=[c.path for c in result.changes],
        backup_files=backups,
    )
    if module._diff:
        out['diff'] = [
            dict(before_header=c.path, after_header=c.path, before=_printable(c.before), after=_printable(c.after))
            for c in result.changes
        ]
    module.exit_json(**out)


if __name__ == '__main__':
    main()
