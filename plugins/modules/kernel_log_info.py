#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kernel_log_info
short_description: NVIDIA Xid and SXid errors and PCIe AER errors in the kernel log, with what to do
version_added: 0.1.0
description:
  - Reads the kernel log since boot (C(journalctl -k -b)), or since a time (O(since)), or the
    kernel ring buffer (C(dmesg)) where there is no journal, or a saved log (O(log_path)), and
    finds every NVIDIA Xid line, NVSwitch SXid line, "GPU has fallen off the bus" line and
    PCIe AER error event in it.
  - Each finding names the GPU by its PCI bus id (and its UUID when the log has it), the code,
    how often and the first line, with a status (V(PASS), V(WARN), V(FAIL)) and an action
    (reboot, reset the GPU, drain, check the application, watch) from the collection's Xid
    catalogue (C(plugins/module_utils/_xid_catalog.py)), which follows NVIDIA's Xid catalogue
    U(https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html).
  - Reads only; never reports a change and runs the same in check mode.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
extends_documentation_fragment:
  - aiserver.gpu.attributes.read_only
requirements:
  - C(journalctl) (systemd) or C(dmesg) on the target; reading the kernel log needs root (or
    membership of C(systemd-journal) / C(adm), or C(kernel.dmesg_restrict=0)).
options:
  source:
    description:
      - Where to read the log. V(auto) tries C(journalctl), then C(dmesg).
      - V(journal) and V(dmesg) use only that one.
      - Ignored with O(log_path).
    type: str
    choices: [auto, journal, dmesg]
    default: auto
  since:
    description:
      - The window, as C(journalctl --since) takes it (V(-1h), V(2026-12-01 08:00),
        V(yesterday)); V(boot) reads since the current boot (C(-b)).
      - C(dmesg) always reads its whole ring buffer (since boot, as far as the buffer holds).
    type: str
    default: boot
  log_path:
    description:
      - A saved kernel log on the target (C(journalctl -k) or C(dmesg) output, any format) to
        read instead of the live one.
    type: path
  gpus:
    description:
      - The PCI bus ids of the host's GPUs (C(0000:01:00.0) or nvidia-smi's
        C(00000000:01:00.0)); AER errors of these devices count against the GPU.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds C(journalctl) or C(dmesg) may take.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Read the kernel log since boot
  aiserver.gpu.kernel_log_info:
    gpus: "{{ nvidia_smi_info.gpus | map(attribute='pci_bus_id') | list }}"
  register: kernel_log

- name: Fail on a GPU that fell off the bus, had a double-bit ECC error, ...
  ansible.builtin.fail:
    msg: "{{ kernel_log.findings | selectattr('status', 'eq', 'FAIL') | map(attribute='sentence') | join(' ') }}"
  when: kernel_log.status == 'FAIL'

- name: The last hour only
  aiserver.gpu.kernel_log_info:
    since: "-1h"
"""

RETURN = r"""
status:
  description: The worst status of the findings; V(PASS) when there are none.
  returned: always
  type: str
  sample: FAIL
findings:
  description:
    - One per GPU and Xid code, per NVSwitch and SXid code, per device and AER severity, and per
      GPU that fell off the bus without an Xid 79 line.
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: "C(xid), C(sxid), C(aer) or C(fallen_off_bus).", type: str}
    code: {description: The Xid or SXid code; null for AER., type: int}
    bus_id: {description: "The device's PCI bus id, C(0000:9b:00.0).", type: str}
    count: {description: How many lines or events., type: int}
    status: {description: "C(PASS), C(WARN) or C(FAIL).", type: str}
    action: {description: "C(none), C(watch), C(check_application), C(reset_gpu), C(drain) or C(reboot).", type: str}
    meaning: {description: What the code means (NVIDIA's description)., type: str}
    lines: {description: The line numbers in the log read., type: list, elements: int}
    sentence: {description: "The finding in words: the GPU, the code, how often, the first line.", type: str}
    fix: {description: "What to do and why, with the catalogue's address.", type: str}
by_gpu:
  description: The worst status per GPU bus id that has a finding.
  returned: always
  type: dict
  sample: {"0000:9b:00.0": FAIL}
counts:
  description: How many Xid, SXid, fallen-off-the-bus lines and AER events were read.
  returned: always
  type: dict
  sample: {"xid": 5, "sxid": 0, "fallen_off_bus": 0, "aer": 0}
lines:
  description: How many log lines were read.
  returned: always
  type: int
read_from:
  description: What was read, C(journalctl -k -b ...), C(dmesg ...) or the O(log_path).
  returned: always
  type: str
xid:
  description: Every Xid line read (code, bus_id, pid, process, message, caused_by, recovery, line, text).
  returned: always
  type: list
  elements: dict
aer:
  description: Every AER event read (bus_id, driver, severity, layer, agent, errors, status, mask, recovered).
  returned: always
  type: list
  elements: dict
sxid:
  description: Every SXid line read.
  returned: always
  type: list
  elements: dict
uuids:
  description: The GPU UUIDs the log names (C(NVRM - GPU at PCI...) lines), by bus id.
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aiserver.gpu.plugins.module_utils._kernel_log import findings, parse_kernel_log
from ansible_collections.aiserver.gpu.plugins.module_utils._module import read_saved, warn_once
from ansible_collections.aiserver.gpu.plugins.module_utils._runner import describe, find_executable, run

_DENIED = ("permission denied", "operation not permitted", "no journal files were opened due to insufficient permissions",
           "insufficient permissions")


def _commands(params):
    journal = find_executable("journalctl")
    dmesg = find_executable("dmesg")
    window = ["-b"] if params["since"] in (None, "", "boot") else ["--since", params["since"]]
    out = []
    if params["source"] in ("auto", "journal") and journal:
        out.append([journal, "-k", "--no-pager", "-q", "-o", "short-iso"] + window)
    if params["source"] in ("auto", "dmesg") and dmesg:
        out.append([dmesg, "--ctime", "--nopager"])
    return out


def _read_live(module):
    """The live log's text and what was read. With source=auto an empty journal (journald
    that does not get kernel messages, as in a container) falls back to dmesg."""
    params = module.params
    commands = _commands(params)
    if not commands:
        if params["source"] == "auto":
            module.fail_json(msg="Cannot read the kernel log: neither journalctl nor dmesg is installed on this "
                                 "host. Install systemd or util-linux, or give log_path a saved log.")
        tool = "journalctl" if params["source"] == "journal" else "dmesg"
        module.fail_json(msg="Cannot read the kernel log: %s is not installed on this host (source=%s). Install "
                             "it, or set source to auto." % (tool, params["source"]))
    failures = []
    empty = None
    for cmd in commands:
        read_from = " ".join([os.path.basename(cmd[0])] + cmd[1:])
        result = run(cmd, params["timeout"])
        if result.ok:
            if (result.stdout or "").strip() not in ("", "-- No entries --"):
                return result.stdout, read_from
            empty = empty or read_from
            continue
        err = (result.stderr or "").strip().splitlines()
        denied = any(word in (result.stderr or "").lower() for word in _DENIED)
        failures.append("%s%s%s" % (describe(result, timeout=params["timeout"]) or read_from,
                                    (": " + err[-1]) if err else "",
                                    " (not allowed: run it as root, with become: true)" if denied else ""))
    if empty:
        return "", empty
    module.fail_json(msg="Cannot read the kernel log: %s." % "; ".join(failures), errors=failures)
    return None, None  # not reached


def main():
    module = AnsibleModule(
        argument_spec=dict(
            source=dict(type="str", default="auto", choices=["auto", "journal", "dmesg"]),
            since=dict(type="str", default="boot"),
            log_path=dict(type="path"),
            gpus=dict(type="list", elements="str", default=[]),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be a whole number of seconds of at least 1, not %s" % params["timeout"])
    if params["log_path"]:
        text = read_saved(module, "log_path", "save one with journalctl -k -b > FILE, or dmesg > FILE")
        read_from = params["log_path"]
    else:
        text, read_from = _read_live(module)
    parsed = parse_kernel_log(text, warn=warn_once(module))
    judged = findings(parsed, gpus=params["gpus"])
    module.exit_json(
        changed=False,
        status=judged["status"],
        findings=judged["findings"],
        by_gpu=judged["by_gpu"],
        counts=dict((kind, len(parsed[kind])) for kind in ("xid", "sxid", "fallen_off_bus", "aer")),
        lines=parsed["lines"],
        read_from=read_from,
        xid=parsed["xid"],
        aer=parsed["aer"],
        sxid=parsed["sxid"],
        uuids=parsed["uuids"],
    )


if __name__ == "__main__":
    main()
