# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one decision "is there a working NVIDIA GPU on this host", for every role."""

from __future__ import annotations

from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import normalize_bus_id

DOCUMENTATION = r"""
name: gpu_state
short_description: Decide from sysfs and nvidia-smi whether a host has no GPU, working GPUs or broken ones
version_added: 0.1.0
author: aiserver.gpu maintainers (@aiserver-gpu)
description:
  - Pure function, no I/O. The C(aiserver.gpu.gpu_facts) role calls it once per host and every other
    role reads its verdict (C(gpu_facts_state), C(gpu_facts_sentence)) instead of deciding on its own.
  - V(none) - no NVIDIA GPU on the PCI bus and none seen by C(nvidia-smi). V(working) - C(nvidia-smi)
    describes at least one GPU. V(broken) - NVIDIA GPUs are on the PCI bus but C(nvidia-smi) fails or
    lists none.
  - GPUs on the PCI bus that C(nvidia-smi) does not list are named in RV(_value.missing_bus_ids) (a GPU
    fallen off the bus, a riser or power problem); the state stays V(working) for the ones it lists.
options:
  _input:
    description: The registered result of C(aiserver.gpu.nvidia_smi_info) (succeeded or failed).
    type: dict
    required: true
  pci_bus_ids:
    description: The PCI bus ids of the NVIDIA display controllers found in sysfs (C(0000:01:00.0)).
    type: list
    elements: str
    default: []
  driver:
    description:
      - The registered result of C(aiserver.gpu.nvidia_driver_state). When C(nvidia-smi) fails and the driver's
        parts disagree (RV(_value.driver_state) C(mismatch), C(reboot_pending) or C(off_branch)), the sentence
        names the parts, their versions and the fix.
    type: dict
"""

EXAMPLES = r"""
- name: Decide once
  ansible.builtin.set_fact:
    gpu_facts_verdict: "{{ smi_result | aiserver.gpu.gpu_state(pci_ids) }}"

- name: Skip cleanly without a GPU
  ansible.builtin.debug:
    msg: "Skipped: {{ gpu_facts_verdict.sentence }}"
  when: gpu_facts_verdict.state == 'none'
"""

RETURN = r"""
_value:
  description: The verdict.
  type: dict
  contains:
    state: {description: "V(none), V(working) or V(broken).", type: str}
    sentence: {description: One sentence saying it, with the nvidia-smi error and its fix when broken., type: str}
    present: {description: Whether an NVIDIA GPU is there (on the PCI bus or seen by nvidia-smi)., type: bool}
    gpu_count: {description: GPUs nvidia-smi describes (0 unless working)., type: int}
    names: {description: Their product names, each once., type: list, elements: str}
    driver_version: {description: The driver nvidia-smi reports; null unless working., type: str}
    cuda_version: {description: The CUDA version the driver supports; null unless working., type: str}
    error_kind: {description: nvidia_smi_info's error_kind when it failed; null otherwise., type: str}
    driver_state: {description: "nvidia_driver_state's state (O(driver)); null without it.", type: str}
    pci_bus_ids: {description: The bus ids given., type: list, elements: str}
    missing_bus_ids: {description: On the PCI bus but not listed by nvidia-smi., type: list, elements: str}
"""


# The states of aiserver.gpu.nvidia_driver_state whose sentence explains a failing nvidia-smi.
DRIVER_TROUBLE = ("mismatch", "reboot_pending", "off_branch")


def _bus(value):
    """``0000:01:00.0`` from the sysfs or nvidia-smi (``00000000:01:00.0``) spellings."""
    return normalize_bus_id(value) or str(value or "").strip().lower()


def _listing(items, limit=6):
    items = list(items)
    text = ", ".join(items[:limit])
    return text + (" and %d more" % (len(items) - limit) if len(items) > limit else "")


def gpu_state(smi, pci_bus_ids=None, driver=None):
    """The verdict (see DOCUMENTATION); never raises."""
    driver = driver if isinstance(driver, dict) and not driver.get("failed") else {}
    driver_state = driver.get("state") if isinstance(driver.get("state"), str) else None
    driver_said = str(driver.get("sentence") or "").strip() if driver_state in DRIVER_TROUBLE else ""
    smi = smi if isinstance(smi, dict) else {}
    pci = [str(bus) for bus in (pci_bus_ids or []) if bus] if isinstance(pci_bus_ids, (list, tuple)) else []
    gpus = [gpu for gpu in (smi.get("gpus") or []) if isinstance(gpu, dict)] if not smi.get("failed") else []
    error_kind = smi.get("error_kind") if smi.get("failed") or smi.get("error_kind") else None
    names = []
    for gpu in gpus:
        if gpu.get("name") and gpu["name"] not in names:
            names.append(gpu["name"])
    seen = set(_bus(gpu.get("pci_bus_id")) for gpu in gpus)
    missing = [bus for bus in pci if _bus(bus) not in seen] if gpus else []
    out = dict(state="none", present=bool(pci or gpus), gpu_count=len(gpus), names=names,
               driver_version=smi.get("driver_version") if gpus else None,
               cuda_version=smi.get("cuda_version") if gpus else None,
               error_kind=error_kind, pci_bus_ids=pci, missing_bus_ids=missing, driver_state=driver_state)
    said = str(smi.get("msg") or "no message").strip()
    if gpus:
        out["state"] = "working"
        out["sentence"] = "%d NVIDIA GPU(s) working (%s), driver %s, CUDA %s." % (
            len(gpus), _listing(names) or "unnamed", out["driver_version"] or "unknown",
            out["cuda_version"] or "unknown")
        if missing:
            out["sentence"] += (" On the PCI bus but not listed by nvidia-smi: %s (a GPU fallen off the bus - "
                                "dmesg shows Xid 79 - or a riser or power problem)." % _listing(missing))
    elif pci:
        out["state"] = "broken"
        why = ("nvidia-smi fails (%s): %s" % (error_kind, said)) if error_kind else \
            "nvidia-smi lists no GPU (%s)" % said
        out["sentence"] = "%d NVIDIA GPU(s) on the PCI bus (%s) but %s" % (len(pci), _listing(pci), why)
        if driver_said:
            out["sentence"] = out["sentence"].rstrip() + ("" if out["sentence"].rstrip().endswith(".") else ".") + \
                " " + driver_said
    else:
        out["sentence"] = "No NVIDIA GPU on this host (none on the PCI bus; nvidia-smi: %s)." % (
            error_kind or "lists none")
    return out


class FilterModule:
    """aiserver.gpu GPU facts filters."""

    def filters(self):
        return {"gpu_state": gpu_state}
