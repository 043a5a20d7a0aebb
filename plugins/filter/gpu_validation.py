# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the gpu_validation role: judge what the GPU checks read, and write it for people."""

from __future__ import annotations

import hashlib
import json
import math
import re

# The driver branch x GPU facts live in module_utils, with the branches' end-of-life dates.
from ansible_collections.aiserver.gpu.plugins.module_utils._driver_branches import known_bad_entries
# The link physics lives in module_utils; its names are re-exported here for the filter's users.
from ansible_collections.aiserver.gpu.plugins.module_utils._links import (  # noqa: F401 pylint: disable=unused-import
    ARCH_BY_NAME,
    GA100_RE,
    NVLINK_GA102_LINK_GBPS,
    NVLINK_LINK_GBPS,
    PCIE_LANE_GBPS,
    architecture,
    nvlink_limit_gbps,
    pair_limit,
    pcie_limit_gbps,
)

DOCUMENTATION = r"""
name: gpu_validation_judge
short_description: Judge the health of a multi-GPU server from what the aiserver.gpu modules read
version_added: 0.1.0
author: aiserver.gpu maintainers (@aiserver-gpu)
description:
  - Pure function, no I/O. Takes the results of C(aiserver.gpu.nvidia_smi_info), C(aiserver.gpu.pci_acs),
    C(aiserver.gpu.p2p_bandwidth) and C(aiserver.gpu.nccl_test), the kernel command line and the number of
    IOMMU groups, and returns a report - a verdict, one sentence, and one finding per check, each with a
    sentence a person understands that says what to do.
  - "Checks: C(pcie_width) (a GPU link narrower than its maximum: fail), C(pcie_gen) (generation below the
    maximum: fail when sampled under load, information when idle - idle GPUs drop to Gen1 on purpose),
    C(iommu), C(acs), C(known_bad) (driver branch x GPU table), C(p2p_support), C(p2p_bandwidth) (each pair's
    bandwidth as a share of the link's physical limit: PCIe by generation and width, NVLink by generation and
    link count), and one C(nccl) finding per nccl-tests run (C(nccl:<name>) with O(_input.nccl_runs))."
  - A missing input skips its check with a reason; nothing raises, whatever the types of the inputs (numbers
    given as strings, C("16"), C("0.8"), are read as numbers; a value of another type counts as missing).
    The verdict is the worst status (fail > warn > pass); info and skipped never lower it. Without a GPU the
    verdict is C(skipped).
  - Every verdict needs its evidence. An nccl-tests run without a result row, with figures no run can produce
    (C(refused)) or with unchecked values, a P2P test output that is not the test's, cut short or with refused
    values, an lspci output without capability lines, are said as such, never passed.
  - Whether the links were sampled under load is decided here (C(smi_load), below); the PCIe and NVLink
    limits come from C(aiserver.gpu)'s module_utils C(_links).
  - C(gpu_validation_markdown) writes the report as Markdown, verdict first.
  - C(gpu_validation_fails_on) tells whether a report's verdict is as bad as a level (C(fail), C(warn),
    C(never)) or worse, that is whether the play should fail (an unknown level counts as C(fail)).
options:
  _input:
    description:
      - "The inputs, a dict; every key may be missing or null: C(host) (str), C(smi) (nvidia_smi_info result,
        idle), C(smi_load) (nvidia_smi_info result sampled while a test ran: it counts as under load only when
        every GPU of C(smi) is in it in P0, P1 or P2; the topology and P2P matrix are taken from C(smi)),
        C(under_load) (bool, C(smi) itself was sampled under load; only without C(smi_load)), C(cmdline) (str, /proc/cmdline),
        C(iommu_groups) (int), C(acs) (pci_acs result), C(p2p) (p2p_bandwidth result), C(nccl) (nccl_test
        result), C(nccl_p2p_disabled) (nccl_test result of the re-run with NCCL_P2P_DISABLE=1), or, instead of
        the last two, C(nccl_runs) (list of C({name, result, p2p_disabled})), C(driver) (nvidia_driver_state
        result: a C(mismatch) or C(off_branch) state is a C(driver) FAIL finding with its sentence, C(reboot_pending)
        a WARN), C(kernel_log) (kernel_log_info result: the C(kernel_log) check, FAIL or WARN with each Xid,
        SXid, fallen-off-the-bus and AER finding's sentence and fix, or skipped with the reason the log could not
        be read)."
    type: dict
    required: true
  known_bad:
    description:
      - Known-bad combinations, the fields of C(roles/gpu_validation/vars/known_bad.yml).
      - Added to the driver branch table's own entries (C(aiserver.gpu.driver_branch_known_bad));
        an entry with the C(id) of a table entry replaces it.
    type: list
    elements: dict
    default: []
  min_share:
    description: A GPU pair below this share of its link's physical bandwidth is flagged.
    type: float
    default: 0.8
"""

EXAMPLES = r"""
- name: Judge
  ansible.builtin.set_fact:
    gpu_validation_report: >-
      {{ {'host': inventory_hostname, 'smi': smi, 'cmdline': cmdline, 'acs': acs, 'p2p': p2p, 'nccl': nccl}
         | aiserver.gpu.gpu_validation_judge(__gpu_validation_known_bad, 0.8) }}

- name: Judge, with a sample taken while a test ran
  ansible.builtin.set_fact:
    gpu_validation_report: >-
      {{ {'smi': smi, 'smi_load': smi_during_nccl, 'nccl': nccl} | aiserver.gpu.gpu_validation_judge }}

- name: Write report.md
  ansible.builtin.copy:
    content: "{{ gpu_validation_report | aiserver.gpu.gpu_validation_markdown }}"
    dest: /tmp/report.md
    mode: "0644"

- name: Fail on a FAIL verdict
  ansible.builtin.fail:
    msg: "{{ gpu_validation_report.summary }}"
  when: gpu_validation_report | aiserver.gpu.gpu_validation_fails_on('fail')
"""

RETURN = r"""
_value:
  description:
    - The report (gpu_validation_judge), or its Markdown text (gpu_validation_markdown), or whether the play
      should fail (gpu_validation_fails_on, a bool).
  type: dict
  contains:
    host: {description: The host name given., type: str}
    verdict: {description: C(pass), C(warn), C(fail) or C(skipped) (no GPU)., type: str}
    rank: {description: "How bad the verdict is: 0 (pass, skipped), 1 (warn), 2 (fail).", type: int}
    under_load:
      description: Whether the PCIe links were judged from a sample taken under load (every GPU busy).
      type: bool
    summary: {description: One sentence., type: str}
    findings:
      description: One per check, C({id, status, title, detail}); status C(pass), C(warn), C(fail), C(info) or C(skipped).
      type: list
      elements: dict
    gpus:
      description: C({index, name, bus_id, pcie}) per GPU, pcie as C(Gen4 x16 (max Gen4 x16)).
      type: list
      elements: dict
    p2p_heatmap:
      description: C({labels, matrix, unit, title}); matrix N x N GB/s (row source, column destination) or null.
      type: dict
    nccl:
      description: >-
        C({avg_busbw_gbps, max_busbw_gbps, passed, timed_out, wrong_total, collective, limit_gbps, limit_link,
        share, runs}) of the first run; C(runs) one entry per run.
      type: dict
"""

ORDER = {"fail": 3, "warn": 2, "pass": 1, "info": 0, "skipped": 0}
# How bad a verdict is, for gpu_validation_fail_on (fail the play at this rank or worse):
# 'never' is above every verdict.
RANK = {"pass": 0, "skipped": 0, "info": 0, "warn": 1, "fail": 2, "never": 3}
# Performance states of a GPU at work; a sample counts as under load only when every GPU is in one.
BUSY_STATES = ("P0", "P1", "P2")

P2P_STATUS_WORDS = {"OK": "supported", "NS": "not supported", "GNS": "GPU not supported",
                    "CNS": "chipset not supported", "TNS": "topology not supported",
                    "DR": "disabled by regkey", "U": "unknown", "CANNOT": "the P2P test cannot access the peer"}

P2P_MATRIX_KEYS = ("unidirectional_p2p_enabled_gbps", "device_to_device_memcpy_write_ce",
                   "device_to_device_memcpy_read_ce")

TITLES = {"pcie_width": "PCIe link width", "pcie_gen": "PCIe link generation", "iommu": "IOMMU",
          "acs": "PCIe ACS", "known_bad": "Known-bad driver x GPU", "p2p_support": "P2P support",
          "p2p_bandwidth": "P2P bandwidth", "nccl": "NCCL", "driver": "Driver parts",
          "kernel_log": "Kernel log (Xid, AER)", "gpu_count": "GPU count", "ecc": "ECC errors",
          "memory_remap": "Row remapping / retired pages", "clocks": "Clock slowdowns under load",
          "persistence": "Persistence mode", "mig": "MIG mode", "fabric": "NVSwitch fabric",
          "drift": "Drift since the previous report"}

MAX_LISTED = 6


# --------------------------------------------------------------------------- small helpers

def _finding(check_id, status, detail, title=None):
    return {"id": check_id, "status": status, "title": title or TITLES.get(check_id, check_id),
            "detail": detail}


def _dict(value):
    return value if isinstance(value, dict) else {}


def _listing(items):
    """``a, b, c and 3 more``."""
    items = list(items)
    shown = ", ".join(items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        shown += " and %d more" % (len(items) - MAX_LISTED)
    return shown


def _num(value, digits=1):
    value = _number(value)
    return "?" if value is None else ("%.*f" % (digits, value))


def _pct(share):
    share = _number(share)
    return "?" if share is None else "%d %%" % round(share * 100)


def _gpus(smi):
    return [gpu for gpu in (_dict(smi).get("gpus") or []) if isinstance(gpu, dict)]


def _gpu_label(gpu):
    return "GPU%s (%s)" % (gpu.get("index"), gpu.get("pci_bus_id") or "no bus id")


def _is_geforce(gpu):
    return "geforce" in ("%s %s" % (gpu.get("product_brand") or "", gpu.get("name") or "")).lower()


def driver_branch(version):
    """``'545'`` from ``'545.29.06'``; None without a version."""
    match = re.match(r"^\s*(\d+)", str(version or ""))
    return match.group(1) if match else None


# --------------------------------------------------------------------------- inputs of any type
#
# The judge is documented never to raise. Its inputs come from module results through Jinja,
# where numbers may arrive as strings ("16", "0.8") and a mistyped variable as anything. Every
# input is read through these: numbers from numbers or numeric strings, texts from scalars,
# lists and dicts only when they are lists and dicts; anything else counts as missing.

def _number(value):
    """A finite int or float from a number or a numeric string; None otherwise (bools too)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if re.match(r"^[-+]?\d+$", text):
            return int(text)
        try:
            value = float(text)
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None


def _int(value):
    number = _number(value)
    if number is None or (isinstance(number, float) and not number.is_integer()):
        return None
    return int(number)


def _text(value):
    """A str from a str or a number; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _flag(value):
    """True for true, 1, 'true', 'yes', 'on', '1'; False for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return _number(value) == 1


def _list(value):
    return value if isinstance(value, list) else []


def _strings(value):
    """A list of str: a str alone, or the scalar items of a list."""
    if isinstance(value, str):
        return [value]
    return [text for text in (_text(item) for item in _list(value)) if text is not None]


_GPU_INTS = ("index", "minor_number", "pcie_gen_current", "pcie_gen_max", "pcie_width_current", "pcie_width_max")
_GPU_TEXTS = ("name", "product_brand", "architecture", "pci_bus_id", "uuid", "performance_state")


# Health figures of nvidia_smi_info (issue 16): counters, tri-state flags (None: not reported), texts.
_GPU_HEALTH_INTS = ("ecc_volatile_correctable", "ecc_volatile_uncorrectable", "ecc_aggregate_correctable",
                    "ecc_aggregate_uncorrectable", "retired_pages_single_bit", "retired_pages_double_bit",
                    "remapped_rows_correctable", "remapped_rows_uncorrectable")
_GPU_HEALTH_FLAGS = ("persistence_mode", "ecc_sram_threshold_exceeded", "retired_pages_pending",
                     "remapped_rows_pending", "remapped_rows_failure")
_GPU_HEALTH_TEXTS = ("ecc_mode", "ecc_mode_pending", "mig_mode", "mig_mode_pending", "fabric_state",
                     "fabric_status", "fabric_health_summary")


def _tri(value):
    """True, False, or None when the value is missing (nvidia-smi said N/A)."""
    return None if value is None else _flag(value)


def _clean_gpu(gpu, position):
    out = dict((key, _int(gpu.get(key))) for key in _GPU_INTS + _GPU_HEALTH_INTS)
    out.update((key, _text(gpu.get(key))) for key in _GPU_TEXTS + _GPU_HEALTH_TEXTS)
    out.update((key, _tri(gpu.get(key))) for key in _GPU_HEALTH_FLAGS)
    reasons = gpu.get("clocks_event_reasons")
    out["clocks_event_reasons"] = (dict((str(name), _flag(active)) for name, active in reasons.items())
                                   if isinstance(reasons, dict) else None)
    if out["index"] is None:
        out["index"] = position
    return out


def _clean_cells(matrix):
    """``{row: {column: str}}`` from what should be one."""
    out = {}
    for row, cells in _dict(matrix).items():
        row_cells = dict((str(col), value) for col, value in _dict(cells).items() if isinstance(value, str))
        out[str(row)] = row_cells
    return out


def _clean_smi(smi):
    """The parts of an nvidia_smi_info result the judge reads, of the right types."""
    smi = _dict(smi)
    gpus = [_clean_gpu(gpu, position) for position, gpu in enumerate(gpu for gpu in _list(smi.get("gpus"))
                                                                     if isinstance(gpu, dict))]
    topology = _dict(smi.get("topology"))
    return {"gpus": gpus, "gpu_count": _int(smi.get("gpu_count")), "driver_version": _text(smi.get("driver_version")),
            "topology": {"matrix": _clean_cells(topology.get("matrix"))} if topology else None,
            "p2p": _clean_cells(smi.get("p2p")) or None}


def _rows(value):
    """A matrix: a list of rows, each a list of numbers or None (None for a row that is not a list)."""
    return [[_number(cell) for cell in row] if isinstance(row, list) else None for row in _list(value)]


def _clean_p2p(p2p):
    if not isinstance(p2p, dict):
        return None
    access = [[cell if isinstance(cell, bool) else None for cell in row] if isinstance(row, list) else None
              for row in _list(p2p.get("p2p_access"))]
    devices = [{"index": _int(dev.get("index")), "pci_address": _text(dev.get("pci_address"))}
               for dev in _list(p2p.get("devices")) if isinstance(dev, dict)]
    units = _dict(p2p.get("units"))
    return {"tool": _text(p2p.get("tool")), "timed_out": _flag(p2p.get("timed_out")),
            "errors": _strings(p2p.get("errors")), "refused": _strings(p2p.get("refused")),
            "incomplete": _strings(p2p.get("incomplete")), "unrecognized": _text(p2p.get("unrecognized")),
            "matrices": dict((str(key), _rows(rows)) for key, rows in _dict(p2p.get("matrices")).items()),
            "units": dict((str(key), _text(unit)) for key, unit in units.items()) if "units" in p2p else None,
            "devices": devices, "p2p_access": access or None}


def _clean_nccl(result):
    if not isinstance(result, dict):
        return None
    out = {"avg_busbw_gbps": _number(result.get("avg_busbw_gbps")),
           "max_busbw_gbps": _number(result.get("max_busbw_gbps")),
           "wrong_total": _int(result.get("wrong_total")) or 0, "timed_out": _flag(result.get("timed_out")),
           "skipped": _flag(result.get("skipped")), "errors": _strings(result.get("errors")),
           "refused": _strings(result.get("refused")), "msg": _text(result.get("msg")),
           "collective": _text(result.get("collective")), "rows": len(_list(result.get("results"))),
           "completed": _flag(result.get("completed"))}
    if "passed" in result:
        out["passed"] = _flag(result.get("passed"))
    if "validated" in result:
        out["validated"] = _flag(result.get("validated"))
    return out


def _clean_runs(inputs):
    runs = []
    for run in _runs(inputs):
        runs.append({"name": _text(run.get("name")), "result": _clean_nccl(run.get("result")),
                     "p2p_disabled": _clean_nccl(run.get("p2p_disabled"))})
    return runs


def _clean_acs(acs):
    if not isinstance(acs, dict):
        return None
    devices = [{"bdf": _text(dev.get("bdf")), "path": _text(dev.get("path")), "enabled": _flag(dev.get("enabled")),
                "acs_ctl": dict((str(flag), _flag(on)) for flag, on in _dict(dev.get("acs_ctl")).items())}
               for dev in _list(acs.get("devices")) if isinstance(dev, dict)]
    out = {"failed": _flag(acs.get("failed")), "msg": _text(acs.get("msg")),
           "devices": devices if isinstance(acs.get("devices"), list) else None,
           "orphan_acs_ctl": _int(acs.get("orphan_acs_ctl")) or 0,
           "orphan_acs_enabled": _int(acs.get("orphan_acs_enabled")) or 0}
    for key in ("evidence", "capabilities_seen"):
        if key in acs:
            out[key] = _text(acs[key]) if key == "evidence" else _int(acs[key])
    return out


def _clean_known_bad(table):
    """The driver branch table's known-bad entries (module_utils _driver_branches, the one place
    the collection keeps them), then the given ones; a given entry with a table entry's id
    replaces it."""
    given = [entry for entry in _list(table) if isinstance(entry, dict)]
    ids = set(_text(entry.get("id")) for entry in given if entry.get("id"))
    return [entry for entry in known_bad_entries() if entry["id"] not in ids] + given


def _min_share(value):
    share = _number(value)
    return float(share) if share is not None and 0 < share <= 1 else 0.8


# --------------------------------------------------------------------------- idle and under load

def _load_sample(smi, smi_load, under_load):
    """``(smi, under_load, why)``: the nvidia-smi read the links are judged from, whether it was
    taken under load, and, when it was not, why (None when no sample under load was given).

    A sample taken while a test ran (``smi_load``) counts as under load only when every GPU of
    the idle read is in it in a busy performance state (P0-P2): an idle GPU drops its link to
    Gen1 on purpose. The topology and P2P matrix stay the idle read's (the sample has none)."""
    if not isinstance(smi_load, dict):
        return smi, _flag(under_load), None
    if smi_load.get("failed") or smi_load.get("error_kind"):
        return smi, False, "the sample taken while a test ran failed: %s" % (
            (_text(smi_load.get("msg")) or _text(smi_load.get("error_kind")) or "no reason given").rstrip("."))
    sample = _clean_smi(smi_load)
    gpus = sample["gpus"]
    count = len(smi["gpus"])
    busy = [gpu for gpu in gpus if gpu["performance_state"] in BUSY_STATES]
    if gpus and len(busy) == len(gpus) == count:
        loaded = dict(sample, topology=smi["topology"], p2p=smi["p2p"],
                      driver_version=sample["driver_version"] or smi["driver_version"])
        return loaded, True, None
    if not gpus:
        why = "the sample taken while a test ran holds no GPU"
    elif len(gpus) != count:
        why = "the sample taken while a test ran holds %d of the %d GPUs" % (len(gpus), count)
    else:
        why = "the sample taken while a test ran found %s, not busy" % _listing(
            "GPU%s in %s" % (gpu["index"], gpu["performance_state"] or "an unknown state")
            for gpu in gpus if gpu not in busy)
    return smi, False, why


def gpu_validation_fails_on(report, level):
    """Whether ``report``'s verdict is as bad as ``level`` (``fail``, ``warn`` or ``never``) or
    worse: the play should fail. An unknown level counts as ``fail``; never raises."""
    verdict = _text(_dict(report).get("verdict")) or "skipped"
    wanted = RANK.get(_text(level) or "fail", RANK["fail"])
    return RANK.get(verdict, RANK["fail"]) >= wanted


# --------------------------------------------------------------------------- PCIe links

def check_driver(driver):
    """The nvidia_driver_state verdict as a finding: the parts of the driver disagree (fail),
    a reboot would load the right module (warn), or they agree (pass)."""
    driver = _dict(driver)
    state = _text(driver.get("state"))
    sentence = _text(driver.get("sentence")) or ""
    if not state or driver.get("failed"):
        return _finding("driver", "skipped", "The versions of the driver's parts were not read.")
    status = {"mismatch": "fail", "off_branch": "fail", "reboot_pending": "warn", "ok": "pass"}.get(state, "info")
    return _finding("driver", status, sentence or "nvidia_driver_state says %s." % state)


# --------------------------------------------------------------------------- GPU health (-q -x figures)

def _who(gpu):
    return gpu.get("pci_bus_id") or _gpu_label(gpu)


def check_gpu_count(gpus, expected=None, pci_bus_ids=None, missing_bus_ids=None):
    """As many GPUs as expected: ``expected`` (gpu_validation_expected_gpu_count), else the
    NVIDIA GPUs on the PCI bus (gpu_facts); a GPU on the bus that nvidia-smi does not list is
    named (gpu_facts' missing_bus_ids, the one place that compares them)."""
    count = len(gpus)
    pci = _strings(pci_bus_ids)
    missing = _strings(missing_bus_ids)
    wanted = _int(expected)
    if wanted is None and pci:
        wanted = len(pci)
    if missing:
        return _finding("gpu_count", "fail",
                        "nvidia-smi lists %d GPU(s) but %s %s on the PCI bus without it: fallen off the bus, "
                        "held by another driver (vfio-pci, nouveau) or failed. Fix: read the kernel log (Xid 79), "
                        "reseat the card and its power cables, reboot; check lspci -k for the driver in use."
                        % (count, _listing(missing), "is" if len(missing) == 1 else "are"))
    if wanted is None:
        return _finding("gpu_count", "skipped", "Neither an expected GPU count nor the PCI bus's GPUs were given.")
    if count < wanted:
        return _finding("gpu_count", "fail",
                        "nvidia-smi lists %d GPU(s), %d expected%s. Fix: look for the missing GPU in lspci and in "
                        "the kernel log, reseat it, check its power cables; set gpu_validation_expected_gpu_count "
                        "if the box has fewer on purpose." % (count, wanted, " (on the PCI bus: %d)" % len(pci)
                                                              if pci else ""))
    if count > wanted:
        return _finding("gpu_count", "warn", "nvidia-smi lists %d GPUs, more than the %d expected. Fix: set "
                        "gpu_validation_expected_gpu_count to the real count." % (count, wanted))
    return _finding("gpu_count", "pass", "%d GPU(s), as expected%s." % (count, " (the PCI bus shows %d)" % len(pci)
                                                                        if pci else ""))


def check_ecc(gpus):
    """ECC errors: uncorrectable ones since the driver loaded (volatile) fail, earlier ones
    (aggregate) warn; an SRAM threshold exceeded fails; a pending ECC mode change warns."""
    known = [gpu for gpu in gpus if gpu.get("ecc_mode") or gpu.get("ecc_volatile_uncorrectable") is not None]
    if not known:
        return _finding("ecc", "skipped", "These GPUs report no ECC mode (GeForce boards have no ECC).")
    failing = [gpu for gpu in known if (gpu.get("ecc_volatile_uncorrectable") or 0) > 0
               or gpu.get("ecc_sram_threshold_exceeded")]
    if failing:
        return _finding("ecc", "fail", "%s: uncorrectable ECC errors since the driver loaded%s. Fix: drain the "
                        "node, reset the GPU (nvidia-smi -r) or reboot so the memory is remapped; if the aggregate "
                        "count keeps rising, contact the vendor (RMA)." % (
                            _listing("%s (%s volatile uncorrectable)" % (_who(gpu), gpu.get("ecc_volatile_uncorrectable"))
                                     for gpu in failing),
                            ", SRAM error threshold exceeded" if any(g.get("ecc_sram_threshold_exceeded") for g in failing)
                            else ""))
    old = [gpu for gpu in known if (gpu.get("ecc_aggregate_uncorrectable") or 0) > 0]
    pending = [gpu for gpu in known if gpu.get("ecc_mode_pending") and gpu.get("ecc_mode")
               and gpu["ecc_mode_pending"] != gpu["ecc_mode"]]
    if old or pending:
        parts = []
        if old:
            parts.append("%s had uncorrectable ECC errors before this boot (aggregate; none since the driver "
                         "loaded): watch the count, it is the first sign of failing memory"
                         % _listing("%s (%s)" % (_who(gpu), gpu["ecc_aggregate_uncorrectable"]) for gpu in old))
        if pending:
            parts.append("%s: ECC mode changes to %s at the next GPU reset or reboot" % (
                _listing(_who(gpu) for gpu in pending), pending[0]["ecc_mode_pending"]))
        return _finding("ecc", "warn", "; ".join(parts) + ".")
    disabled = [gpu for gpu in known if (gpu.get("ecc_mode") or "").lower() == "disabled"]
    if disabled:
        return _finding("ecc", "info", "ECC is disabled on %s (no errors counted). Enable it with nvidia-smi -e 1 "
                        "and a reboot if the workload needs memory protection." % _listing(_who(g) for g in disabled))
    return _finding("ecc", "pass", "No uncorrectable ECC error on %d GPU(s) (ECC enabled)." % len(known))


def check_memory_remap(gpus):
    """Row remapping (Ampere and newer) and page retirement (older): a failed remap fails; a
    pending remap or retirement warns (it takes effect at the next GPU reset)."""
    rows = [gpu for gpu in gpus if gpu.get("remapped_rows_pending") is not None
            or gpu.get("remapped_rows_failure") is not None]
    pages = [gpu for gpu in gpus if gpu.get("retired_pages_pending") is not None
             or gpu.get("retired_pages_double_bit") is not None]
    if not rows and not pages:
        return _finding("memory_remap", "skipped", "These GPUs report neither row remapping nor page retirement.")
    failed = [gpu for gpu in rows if gpu.get("remapped_rows_failure")]
    if failed:
        return _finding("memory_remap", "fail", "%s: a row remapping failed (no spare row left for a failing "
                        "memory row). Fix: take the GPU out of service and contact the vendor (RMA)."
                        % _listing(_who(gpu) for gpu in failed))
    pending = [gpu for gpu in rows if gpu.get("remapped_rows_pending")] + \
        [gpu for gpu in pages if gpu.get("retired_pages_pending")]
    if pending:
        return _finding("memory_remap", "warn", "%s: a memory row remap or page retirement is pending; it takes "
                        "effect at the next GPU reset. Fix: reset the GPU (nvidia-smi -r) or reboot when no job runs."
                        % _listing(sorted(set(_who(gpu) for gpu in pending))))
    counts = []
    for gpu in rows:
        counts.append("%s: %s uncorrectable, %s correctable rows remapped" % (
            _who(gpu), _num(gpu.get("remapped_rows_uncorrectable"), 0), _num(gpu.get("remapped_rows_correctable"), 0)))
    for gpu in pages:
        if gpu not in rows:
            counts.append("%s: %s single-bit, %s double-bit pages retired" % (
                _who(gpu), _num(gpu.get("retired_pages_single_bit"), 0), _num(gpu.get("retired_pages_double_bit"), 0)))
    return _finding("memory_remap", "pass", "Nothing pending (%s)." % _listing(counts))


# Clock event (throttle) reasons: which are hardware protection (fail), software thermal
# protection (warn), or expected under load (the power limit the user set, sync boost...).
_CLOCK_FAIL = {"hw_slowdown": "HW slowdown", "hw_thermal_slowdown": "HW thermal slowdown",
               "hw_power_brake_slowdown": "HW power brake (the PSU or the board signalled a power problem)"}
_CLOCK_WARN = {"sw_thermal_slowdown": "SW thermal slowdown"}
_CLOCK_INFO = {"sw_power_cap": "SW power cap (the power limit)"}


def check_clocks(gpus, under_load, why=None):
    """Clock event reasons active while a test ran: hardware slowdowns fail, a software thermal
    slowdown warns, the power cap is said. Idle samples are not judged."""
    known = [gpu for gpu in gpus if isinstance(gpu.get("clocks_event_reasons"), dict)]
    if not known:
        return _finding("clocks", "skipped", "nvidia-smi gives no clock event (throttle) reasons for these GPUs.")
    if not under_load:
        return _finding("clocks", "info", "Clock event reasons are judged only while a test runs (%s)."
                        % (why or "no sample under load was taken"))

    def active(table):
        return ["%s: %s" % (_who(gpu), ", ".join(table[name] for name in table if gpu["clocks_event_reasons"].get(name)))
                for gpu in known if any(gpu["clocks_event_reasons"].get(name) for name in table)]

    hard, soft, capped = active(_CLOCK_FAIL), active(_CLOCK_WARN), active(_CLOCK_INFO)
    if hard:
        return _finding("clocks", "fail", "Under load, %s. Fix: check the cooling (fans, airflow, heatsink contact), "
                        "the PSU's capacity and the GPU power cables; HW power brake is an external signal (PSU, "
                        "board), thermal slowdown means the GPU passed its slowdown temperature." % _listing(hard))
    if soft:
        return _finding("clocks", "warn", "Under load, %s: the driver lowers the clocks to stay under its temperature "
                        "target. Fix: improve the cooling or the case airflow." % _listing(soft))
    if capped:
        return _finding("clocks", "info", "Under load, %s: expected when the power limit is set on purpose "
                        "(power_limit role); raise it for more speed." % _listing(capped))
    return _finding("clocks", "pass", "No clock slowdown while the test ran on %d GPU(s)." % len(known))


def check_persistence(gpus):
    known = [gpu for gpu in gpus if gpu.get("persistence_mode") is not None]
    if not known:
        return _finding("persistence", "skipped", "nvidia-smi gives no persistence mode for these GPUs.")
    off = [gpu for gpu in known if not gpu["persistence_mode"]]
    if off:
        return _finding("persistence", "warn", "Persistence mode is off on %s: every CUDA start re-initialises the GPU "
                        "(seconds each) and the power limit may be lost. Fix: enable nvidia-persistenced "
                        "(systemctl enable --now nvidia-persistenced; the nvidia_driver role does it)."
                        % _listing(_who(gpu) for gpu in off))
    return _finding("persistence", "pass", "Persistence mode is on for every GPU (%d)." % len(known))


def check_mig(gpus):
    known = [gpu for gpu in gpus if gpu.get("mig_mode")]
    if not known:
        return _finding("mig", "skipped", "These GPUs have no MIG mode (only A100, A30, H100 and newer).")
    pending = [gpu for gpu in known if gpu.get("mig_mode_pending") and gpu["mig_mode_pending"] != gpu["mig_mode"]]
    if pending:
        return _finding("mig", "warn", "%s: MIG mode changes from %s to %s at the next GPU reset. Fix: reset the GPU "
                        "(nvidia-smi -r) or reboot, or set it back with nvidia-smi -mig." % (
                            _listing(_who(gpu) for gpu in pending), pending[0]["mig_mode"],
                            pending[0]["mig_mode_pending"]))
    enabled = [gpu for gpu in known if gpu["mig_mode"].lower() == "enabled"]
    if enabled:
        return _finding("mig", "info", "MIG is enabled on %s: the GPU is split into instances, so P2P and NCCL across "
                        "whole GPUs do not apply there. Disable it with nvidia-smi -i N -mig 0 for training on the "
                        "whole GPU." % _listing(_who(gpu) for gpu in enabled))
    return _finding("mig", "pass", "MIG is disabled on %d GPU(s)." % len(known))


def check_fabric(gpus):
    """NVSwitch systems (HGX): the GPU's fabric registration must be Completed with Success."""
    known = [gpu for gpu in gpus if gpu.get("fabric_state") and gpu["fabric_state"].lower() not in ("n/a", "not supported")]
    if not known:
        return _finding("fabric", "skipped", "No NVSwitch fabric (the GPUs report no fabric state).")
    bad = [gpu for gpu in known if gpu["fabric_state"].lower() != "completed"
           or (gpu.get("fabric_status") or "success").lower() != "success"]
    if bad:
        return _finding("fabric", "fail", "%s: the NVSwitch fabric is not ready (%s). Fix: start Fabric Manager "
                        "(systemctl enable --now nvidia-fabricmanager, of the driver's exact version) and check "
                        "its log; reset the GPUs and switches if it stays so." % (
                            _listing(_who(gpu) for gpu in bad),
                            _listing(sorted(set("%s/%s" % (g["fabric_state"], g.get("fabric_status")) for g in bad)))))
    unhealthy = [gpu for gpu in known if gpu.get("fabric_health_summary")
                 and gpu["fabric_health_summary"].lower() != "healthy"]
    if unhealthy:
        return _finding("fabric", "warn", "%s: fabric health is %s. Fix: read nvidia-smi -q's Fabric section and "
                        "Fabric Manager's log." % (_listing(_who(g) for g in unhealthy),
                                                   unhealthy[0]["fabric_health_summary"]))
    return _finding("fabric", "pass", "The NVSwitch fabric is ready on %d GPU(s)." % len(known))


def check_kernel_log(kernel_log):
    """The kernel_log_info result as a finding: the worst of its findings, each said with its
    sentence and fix (FAIL ones first), or skipped with the reason the log was not read."""
    if kernel_log is None:
        return _finding("kernel_log", "skipped", "The kernel log was not read (gpu_validation_kernel_log: false).")
    kernel_log = _dict(kernel_log)
    if kernel_log.get("failed") or not isinstance(kernel_log.get("findings"), list):
        why = _text(kernel_log.get("msg")) or "no result"
        return _finding("kernel_log", "skipped", "The kernel log could not be read: %s" % why.rstrip(".") + ".")
    found = [f for f in kernel_log["findings"] if isinstance(f, dict)]
    read_from = _text(kernel_log.get("read_from")) or "the kernel log"
    counts = _dict(kernel_log.get("counts"))
    bad = [f for f in found if f.get("status") in ("FAIL", "WARN")]
    if not bad:
        return _finding("kernel_log", "pass", "No NVIDIA Xid or SXid line, no GPU fallen off the bus and no PCIe AER "
                        "error in %s (%s lines)." % (read_from, kernel_log.get("lines", "?")))
    bad.sort(key=lambda f: 0 if f.get("status") == "FAIL" else 1)
    status = "fail" if any(f.get("status") == "FAIL" for f in bad) else "warn"
    shown = ["%s %s Fix: %s" % (f.get("status"), _text(f.get("sentence")) or "", _text(f.get("fix")) or "")
             for f in bad[:MAX_LISTED]]
    more = " And %d more finding(s)." % (len(bad) - MAX_LISTED) if len(bad) > MAX_LISTED else ""
    return _finding("kernel_log", status, "In %s (%s Xid, %s SXid, %s AER event(s)): %s%s" % (
        read_from, counts.get("xid", "?"), counts.get("sxid", "?"), counts.get("aer", "?"), " ".join(shown), more))


def check_pcie_width(gpus):
    known = [gpu for gpu in gpus if gpu.get("pcie_width_current") and gpu.get("pcie_width_max")]
    if not known:
        return _finding("pcie_width", "skipped", "nvidia-smi gives no PCIe link width for these GPUs.")
    narrow = [gpu for gpu in known if gpu["pcie_width_current"] < gpu["pcie_width_max"]]
    if not narrow:
        return _finding("pcie_width", "pass", "Every GPU runs at its full PCIe width (%s)."
                        % _listing(sorted(set("x%d" % gpu["pcie_width_max"] for gpu in known))))
    links = ["%s at x%d of x%d" % (gpu.get("pci_bus_id") or _gpu_label(gpu), gpu["pcie_width_current"],
                                   gpu["pcie_width_max"]) for gpu in narrow]
    return _finding("pcie_width", "fail",
                    "%s: the link has fewer lanes than the GPU can use, which cuts host and P2P bandwidth. "
                    "Fix: reseat the card, replace a riser or extension cable, move it to a slot wired x%d, "
                    "or check the BIOS bifurcation setting (desktop boards split 16 CPU lanes x8/x8 between "
                    "two cards)." % (_listing(links), narrow[0]["pcie_width_max"]))


def check_pcie_gen(gpus, under_load, why=None):
    known = [gpu for gpu in gpus if gpu.get("pcie_gen_current") and gpu.get("pcie_gen_max")]
    if not known:
        return _finding("pcie_gen", "skipped", "nvidia-smi gives no PCIe link generation for these GPUs.")
    slow = [gpu for gpu in known if gpu["pcie_gen_current"] < gpu["pcie_gen_max"]]
    if not slow:
        return _finding("pcie_gen", "pass", "Every GPU runs at its maximum PCIe generation (%s)."
                        % _listing(sorted(set("Gen%d" % gpu["pcie_gen_max"] for gpu in known))))
    links = ["%s at Gen%d of Gen%d" % (gpu.get("pci_bus_id") or _gpu_label(gpu), gpu["pcie_gen_current"],
                                       gpu["pcie_gen_max"]) for gpu in slow]
    if not under_load:
        return _finding("pcie_gen", "info",
                        "%s, sampled idle: idle GPUs drop to Gen1 on purpose to save power, so the generation "
                        "is only judged while a test runs (%s)." % (_listing(links), why or "no sample under load was taken"))
    return _finding("pcie_gen", "fail",
                    "%s while a test was running: the link trained below its maximum. Fix: set the slot's PCIe "
                    "speed to Auto/Gen%d in the BIOS, replace a riser or cable rated for a lower generation, "
                    "reseat the card." % (_listing(links), slow[0]["pcie_gen_max"]))


# --------------------------------------------------------------------------- IOMMU and ACS

def check_iommu(cmdline, iommu_groups):
    if cmdline is None and iommu_groups is None:
        return _finding("iommu", "skipped", "Neither /proc/cmdline nor /sys/kernel/iommu_groups was read.")
    tokens = str(cmdline or "").split()
    on = [tok for tok in tokens if tok in ("intel_iommu=on", "amd_iommu=on", "iommu=force", "amd_iommu=force_isolation")]
    passthrough = [tok for tok in tokens if tok in ("iommu=pt", "iommu.passthrough=1")]
    off = [tok for tok in tokens if tok in ("intel_iommu=off", "amd_iommu=off", "iommu=off")]
    try:
        groups = int(iommu_groups) if iommu_groups is not None else None
    except (TypeError, ValueError):
        groups = None
    group_text = "%d IOMMU groups" % groups if groups else None
    if passthrough:
        return _finding("iommu", "info",
                        "The IOMMU is on in pass-through mode (%s): host devices are not translated, which "
                        "normally leaves GPU peer-to-peer alone; kernel_tuning_iommu: off turns it off entirely."
                        % " ".join(passthrough))
    if on or groups:
        why = _listing(on + ([group_text] if group_text else []))
        return _finding("iommu", "warn",
                        "The IOMMU is on (%s): GPU peer-to-peer traffic may be translated and routed through "
                        "the CPU, or blocked (slow P2P, NCCL hangs). Fix: the kernel_tuning role turns it off "
                        "(kernel_tuning_iommu: off, or pt to keep VFIO), then reboot." % why)
    if off:
        return _finding("iommu", "pass", "The IOMMU is off (%s)." % " ".join(off))
    return _finding("iommu", "pass", "The IOMMU is not enabled (no IOMMU parameter, no IOMMU group).")


def check_acs(acs):
    """The ACS finding from a pci_acs result (cleaned by :func:`_clean_acs`), or None."""
    if acs is None:
        return _finding("acs", "skipped", "PCIe ACS was not read (lspci as root is needed).")
    if acs["failed"]:
        return _finding("acs", "skipped", "ACS could not be read (%s)."
                        % (acs["msg"] or "the pci_acs task failed").rstrip("."))
    if acs["devices"] is None:
        return _finding("acs", "skipped", "ACS could not be read (the pci_acs result lists no devices).")
    enabled = [dev for dev in acs["devices"] if dev["enabled"]]
    evidence = acs.get("evidence")
    if enabled or acs["orphan_acs_enabled"]:
        names = ["%s (%s)" % (dev["bdf"] or dev["path"] or "?",
                              ", ".join(flag for flag, on in sorted(dev["acs_ctl"].items()) if on)) for dev in enabled]
        if acs["orphan_acs_enabled"]:
            names.append("%d ACSCtl line(s) not tied to a device (grep'd lspci output)" % acs["orphan_acs_enabled"])
        return _finding("acs", "warn",
                        "ACS is enabled on %d PCIe device(s): %s. With ReqRedir/CmpltRedir set, GPU peer-to-peer "
                        "traffic goes up to the CPU root complex instead of across the switch (slow P2P, NCCL hangs "
                        "under an IOMMU). Fix: the kernel_tuning role clears it at every boot "
                        "(kernel_tuning_acs_disable: true, module aiserver.gpu.pci_acs).%s"
                        % (len(enabled) + acs["orphan_acs_enabled"], _listing(names),
                           " Not every device could be read: %s." % evidence if evidence else ""))
    readable = len(acs["devices"]) + acs["orphan_acs_ctl"]
    if evidence:
        if readable:
            return _finding("acs", "warn", "ACS is off on the %d device(s) whose ACS could be read, but not every "
                            "device could be: %s." % (readable, evidence))
        return _finding("acs", "skipped", "ACS could not be read (%s)." % evidence)
    if not readable:
        if acs.get("capabilities_seen"):
            return _finding("acs", "pass", "No PCIe device has an ACS capability (lspci showed the capabilities of "
                            "%d device(s))." % acs["capabilities_seen"])
        return _finding("acs", "skipped", "ACS could not be read (the pci_acs result shows no ACS capability and "
                        "does not say that lspci printed any capability line).")
    if not acs["devices"]:
        return _finding("acs", "pass", "No ACSCtl line shows ACS enabled (%d line(s), not tied to devices: grep'd "
                        "lspci output)." % acs["orphan_acs_ctl"])
    return _finding("acs", "pass", "No PCIe device has ACS enabled (%d with an ACS capability)." % len(acs["devices"]))


# --------------------------------------------------------------------------- known-bad combinations

def _as_list(value):
    if value is None:
        return []
    return [str(item) for item in (value if isinstance(value, (list, tuple)) else [value])]


def _p2p_statuses(smi, p2p):
    """GPU index -> set of the non-OK P2P statuses of its pairs (topo -p2p words, CANNOT from the test)."""
    seen = {}
    matrix = _dict(_dict(smi).get("p2p"))
    for row, cells in matrix.items():
        for col, status in _dict(cells).items():
            if row != col and status and status not in ("X", "OK"):
                for name in (row, col):
                    seen.setdefault(_gpu_number(name), set()).add(status)
    access = _dict(p2p).get("p2p_access") or []
    order = p2p_order(_gpus(smi), p2p, len(access))
    for i, row in enumerate(access):
        for j, able in enumerate(row or []):
            if i != j and able is False:
                for index in (order[i], order[j]):
                    seen.setdefault(index, set()).add("CANNOT")
    return seen


def _gpu_number(name):
    match = re.match(r"^GPU(\d+)$", str(name))
    return int(match.group(1)) if match else None


def _entry_matches(entry, gpu, branch, statuses):
    branches = _as_list(entry.get("driver_branch"))
    if branches and branch not in branches:
        return False
    arches = _as_list(entry.get("architectures"))
    if arches and architecture(gpu) not in arches:
        return False
    product = _text(entry.get("product"))
    if product:
        try:
            found = re.search(product, gpu.get("name") or "", re.I)
        except re.error:  # not a regular expression: a plain part of the name
            found = product.lower() in (gpu.get("name") or "").lower()
        if not found:
            return False
    brand = _text(entry.get("brand"))
    if brand and str(brand).lower() not in ("%s %s" % (gpu.get("product_brand") or "", gpu.get("name") or "")).lower():
        return False
    wanted = _as_list(entry.get("p2p_status"))
    # CANNOT: the P2P test could not reach a peer, which any listed status implies.
    if wanted and not statuses.get(gpu.get("index"), set()) & set(wanted + ["CANNOT"]):
        return False
    return True


def check_known_bad(smi, p2p, table):
    gpus = _gpus(smi)
    branch = driver_branch(_dict(smi).get("driver_version"))
    if branch is None:
        return _finding("known_bad", "skipped", "nvidia-smi gives no driver version to look up.")
    statuses = _p2p_statuses(smi, p2p)
    hits = []
    for entry in table or []:
        if not isinstance(entry, dict):
            continue
        matched = [gpu for gpu in gpus if _entry_matches(entry, gpu, branch, statuses)]
        if matched:
            hits.append((entry, matched))
    names = _listing(sorted(set(gpu.get("name") or "?" for gpu in gpus)))
    if not hits:
        return _finding("known_bad", "pass", "Driver %s with %s: no known-bad combination (%d in the table)."
                        % (smi.get("driver_version"), names, len(table or [])))
    status = max((str(entry.get("severity") or "warn") for entry, _matched in hits), key=lambda s: ORDER.get(s, 2))
    sentences = []
    for entry, matched in sorted(hits, key=lambda hit: -ORDER.get(str(hit[0].get("severity") or "warn"), 2)):
        text = "%s on driver %s: %s" % (_listing(sorted(set(gpu.get("name") or "?" for gpu in matched))),
                                        smi.get("driver_version"),
                                        str(entry.get("reason") or "listed as known-bad").rstrip("."))
        if entry.get("ref"):
            text += " (%s)" % entry["ref"]
        if entry.get("fix"):
            text += ". Fix: %s" % str(entry["fix"]).rstrip(".")
        sentences.append(text + ".")
    return _finding("known_bad", status if status in ORDER else "warn", " ".join(sentences))


# --------------------------------------------------------------------------- P2P

def p2p_order(gpus, p2p, size):
    """For each row of the P2P test's matrices, the nvidia-smi index of that GPU.

    CUDA numbers GPUs fastest first, nvidia-smi in PCI bus order: the test's ``devices``
    (PCI addresses) map one onto the other; without them the order is taken as the same.
    """
    by_bus = dict((gpu.get("pci_bus_id"), gpu.get("index")) for gpu in gpus if gpu.get("pci_bus_id"))
    devices = [dev for dev in _dict(p2p).get("devices") or [] if isinstance(dev, dict)]
    mapped = dict((dev.get("index"), by_bus.get(dev.get("pci_address"))) for dev in devices)
    order = [mapped.get(i) for i in range(size)]
    if None in order or len(set(order)) != size:
        return list(range(size))
    return order


def _p2p_matrix(p2p):
    """``(key, rows)``: the P2P-enabled unidirectional bandwidth matrix of the test, or (None, None).

    Only a matrix in GB/s: when the result gives units (p2p_bandwidth's ``units``), a matrix
    in another unit (an nvbandwidth latency in ns) is never taken for a bandwidth."""
    matrices = _dict(_dict(p2p).get("matrices"))
    units = _dict(p2p).get("units")
    for key in P2P_MATRIX_KEYS:
        if isinstance(units, dict) and units.get(key) not in (None, "GB/s"):
            continue
        if matrices.get(key):
            return key, matrices[key]
    return None, None


def _square(rows, order, count):
    """The matrix in nvidia-smi order, ``count`` x ``count``, None where the test gave nothing."""
    out = [[None] * count for _row in range(count)]
    for i, row in enumerate(rows or []):
        for j, value in enumerate(row or []):
            if i < len(order) and j < len(order) and order[i] < count and order[j] < count:
                out[order[i]][order[j]] = value
    return out


def heatmap(smi, p2p):
    gpus = _gpus(smi)
    key, rows = _p2p_matrix(p2p)
    tool = _dict(p2p).get("tool") or "P2P test"
    size = max([len(rows or [])] + [len(row or []) for row in rows or []])
    count = max(len(gpus), size)
    labels = ["GPU%d" % i for i in range(count)]
    if not rows:
        return {"labels": labels, "matrix": None, "unit": "GB/s", "title": "P2P bandwidth (not measured)"}
    matrix = _square(rows, p2p_order(gpus, p2p, size), count)
    what = "write" if "write" in key or "enabled_gbps" in key else "read"
    return {"labels": labels, "matrix": matrix, "unit": "GB/s",
            "title": "Unidirectional P2P %s bandwidth (%s)" % (what, tool)}


def _pair_status(smi, access, i, j):
    """The P2P status word of the pair (OK, NS, GNS, CANNOT...), or None when nothing tells."""
    status = _dict(_dict(_dict(smi).get("p2p")).get("GPU%d" % i)).get("GPU%d" % j)
    able = access[i][j] if access and i < len(access) and j < len(access[i] or []) else None
    if able is False:
        return status if status and status != "OK" else "CANNOT"
    return status or ("OK" if able else None)


def _access_square(smi, p2p, count):
    access = _dict(p2p).get("p2p_access")
    if not access:
        return None
    return _square(access, p2p_order(_gpus(smi), p2p, len(access)), count)


def check_p2p_support(smi, p2p):
    gpus = _gpus(smi)
    if len(gpus) < 2:
        return _finding("p2p_support", "skipped", "One GPU: no peer to talk to.")
    access = _access_square(smi, p2p, len(gpus))
    if not _dict(smi).get("p2p") and access is None:
        return _finding("p2p_support", "skipped",
                        "Neither nvidia-smi topo -p2p nor the P2P test's connectivity matrix was read.")
    geforce, other, unknown = [], [], 0
    for i in range(len(gpus)):
        for j in range(i + 1, len(gpus)):
            status = _pair_status(smi, access, i, j)
            if status is None:
                unknown += 1
            elif status != "OK":
                pair = "GPU%d-GPU%d %s" % (i, j, status)
                (geforce if _is_geforce(gpus[i]) or _is_geforce(gpus[j]) else other).append(pair)
    if other:
        return _finding("p2p_support", "warn",
                        "No P2P between datacenter GPUs: %s (%s). NCCL falls back to copies through host "
                        "memory. Fix: turn the IOMMU off and ACS off (kernel_tuning role), check the BIOS "
                        "(Above 4G decoding, PCIe ACS), and the GPUs' placement (topo -m)."
                        % (_listing(other), _status_legend(other)))
    if geforce:
        return _finding("p2p_support", "info",
                        "No P2P between these GeForce GPUs: %s (%s). GeForce boards have peer-to-peer "
                        "disabled by design, so host-staged copies are expected and are not a fault; NVLink "
                        "(where the board has it) or a datacenter GPU gives direct P2P."
                        % (_listing(geforce), _status_legend(geforce)))
    if unknown:
        return _finding("p2p_support", "skipped", "The P2P status of %d GPU pair(s) is unknown." % unknown)
    return _finding("p2p_support", "pass", "P2P is supported between every GPU pair.")


def _status_legend(pairs):
    words = sorted(set(pair.rsplit(" ", 1)[-1] for pair in pairs))
    return "; ".join("%s = %s" % (word, P2P_STATUS_WORDS.get(word, word)) for word in words)


def _pairs(smi, p2p, matrix):
    """One dict per measured ordered pair: i, j, gbps, limit, link, share, staged."""
    access = _access_square(smi, p2p, len(matrix))
    pairs = []
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if i == j or value is None:
                continue
            limit, link = pair_limit(smi, i, j)
            status = _pair_status(smi, access, i, j)
            pairs.append({"i": i, "j": j, "gbps": value, "limit": limit, "link": link,
                          "share": (value / limit) if limit else None,
                          "staged": status is not None and status != "OK"})
    return pairs


def _span(values, fmt):
    low, high = fmt(min(values)), fmt(max(values))
    return low if low == high else "%s to %s" % (low, high)


def _pair_text(pair):
    return "GPU%d->GPU%d %s of %s GB/s (%s, %s)" % (
        pair["i"], pair["j"], _num(pair["gbps"]), _num(pair["limit"], 2), _pct(pair["share"]), pair["link"])


def check_p2p_bandwidth(smi, p2p, min_share, heat):
    if not isinstance(p2p, dict):
        return _finding("p2p_bandwidth", "skipped", "The P2P bandwidth test did not run.")
    if p2p.get("unrecognized"):
        return _finding("p2p_bandwidth", "skipped", "The P2P test's output could not be read: it is not "
                        "p2pBandwidthLatencyTest or nvbandwidth output (%s)." % p2p["unrecognized"])
    finding = _p2p_bandwidth(smi, p2p, min_share, heat)
    cut = p2p.get("incomplete") or []
    if cut and finding["status"] not in ("fail",):
        status = "warn" if ORDER.get(finding["status"], 0) < ORDER["warn"] else finding["status"]
        finding = _finding("p2p_bandwidth", status, "%s's output is cut short (%s): only what it printed is "
                           "judged. %s" % (p2p.get("tool") or "The P2P bandwidth test", _listing(cut),
                                           finding["detail"]))
    return finding


def _p2p_bandwidth(smi, p2p, min_share, heat):
    tool = p2p.get("tool") or "The P2P bandwidth test"
    if p2p.get("timed_out"):
        return _finding("p2p_bandwidth", "fail",
                        "%s hung and was killed: a hang while copying between GPUs is the classic broken-P2P "
                        "failure (driver, IOMMU, ACS)." % tool)
    if p2p.get("errors"):
        return _finding("p2p_bandwidth", "fail", "%s reports an error: %s. Check dmesg for Xid errors; a data "
                        "verification error means copies between GPUs corrupt data." % (tool, p2p["errors"][0]))
    if p2p.get("refused"):
        return _finding("p2p_bandwidth", "fail", "%s printed values no run can produce, so its output is no evidence: "
                        "%s. A broken build of the test, or an edited log." % (tool, _listing(p2p["refused"])))
    if heat.get("matrix") is None:
        return _finding("p2p_bandwidth", "skipped", "%s gave no bandwidth matrix." % tool)
    pairs = _pairs(smi, p2p, heat["matrix"])
    judged = [pair for pair in pairs if pair["share"] is not None]
    if not judged:
        return _finding("p2p_bandwidth", "skipped",
                        "The links' physical limits are unknown (no PCIe generation/width or NVLink generation).")
    direct = [pair for pair in judged if not pair["staged"]]
    staged = [pair for pair in judged if pair["staged"]]
    low = sorted((pair for pair in direct if pair["share"] < min_share), key=lambda pair: pair["share"])
    staged_text = ""
    if staged:
        shares = [pair["share"] for pair in staged]
        staged_text = ("Without P2P, %d pair(s) copy through host memory at %s GB/s, %s of the PCIe limit: "
                       "host-staged copies are expected to reach well below the link." %
                       (len(staged), _span([p["gbps"] for p in staged], _num), _span(shares, _pct)))
    if low:
        return _finding("p2p_bandwidth", "warn",
                        "%d of %d GPU pair(s) below %s of the link's physical bandwidth: %s. Slow P2P with P2P "
                        "enabled points at the path (ACS/IOMMU sending it through the CPU, a narrow or slow "
                        "link, a known-bad driver). %s" % (len(low), len(direct), _pct(min_share),
                                                           _listing(_pair_text(p) for p in low), staged_text))
    if direct:
        worst = min(direct, key=lambda pair: pair["share"])
        return _finding("p2p_bandwidth", "pass",
                        ("All %d GPU pair(s) reach at least %s of the link's bandwidth; lowest %s. %s"
                         % (len(direct), _pct(min_share), _pair_text(worst), staged_text)).strip())
    return _finding("p2p_bandwidth", "info", staged_text + " Compare with NCCL's bus bandwidth below.")


# --------------------------------------------------------------------------- NCCL

def _runs(inputs):
    if isinstance(inputs.get("nccl_runs"), list):
        return [run for run in inputs["nccl_runs"] if isinstance(run, dict)]
    if inputs.get("nccl") is None:
        return []
    return [{"name": None, "result": inputs.get("nccl"), "p2p_disabled": inputs.get("nccl_p2p_disabled")}]


def nccl_limit(smi):
    """``(GB/s, link)``: the slowest GPU-to-GPU link's physical limit, or (None, None)."""
    count = len(_gpus(smi))
    limits = [pair_limit(smi, i, j) for i in range(count) for j in range(count) if i != j]
    limits = [limit for limit in limits if limit[0]]
    return min(limits) if limits else (None, None)


def _first_error(errors):
    for line in errors:
        if "NCCL WARN" in line:
            return line
    return errors[0]


def _busbw_text(result):
    return "%s GB/s average bus bandwidth, peak %s GB/s" % (_num(result.get("avg_busbw_gbps"), 2),
                                                            _num(result.get("max_busbw_gbps"), 2))


def check_nccl_run(name, result, p2p_disabled, limit):
    """The finding of one nccl-tests run; ``result`` and ``p2p_disabled`` cleaned by :func:`_clean_nccl`."""
    check_id = "nccl:%s" % name if name else "nccl"
    title = "NCCL %s" % name if name else "NCCL"
    what = name or "The NCCL test"
    if not isinstance(result, dict) or result["skipped"] or "passed" not in result:
        return _finding(check_id, "skipped", "%s did not run." % what, title)
    if result["timed_out"]:
        detail = ("%s hung and was killed after the timeout (%d result rows before): a hang is the classic "
                  "broken-P2P failure" % (what, result["rows"]))
        if isinstance(p2p_disabled, dict) and p2p_disabled.get("passed") and p2p_disabled["rows"] \
                and not p2p_disabled["refused"]:
            detail += ("; confirmed: with NCCL_P2P_DISABLE=1 it passes at %s - P2P is broken on this box "
                       "(driver 545 on 3090/4090? IOMMU? ACS?). Fix: see the known-bad, IOMMU and ACS findings; "
                       "until then run with NCCL_P2P_DISABLE=1." % _busbw_text(p2p_disabled))
        elif isinstance(p2p_disabled, dict) and "passed" in p2p_disabled:
            detail += (". It also fails with NCCL_P2P_DISABLE=1: not a P2P problem - look at dmesg for Xid "
                       "errors, the driver and the GPUs themselves.")
        else:
            detail += ". Re-run it with NCCL_P2P_DISABLE=1: passing then confirms broken P2P."
        return _finding(check_id, "fail", detail, title)
    wrong = result["wrong_total"]
    if wrong:
        return _finding(check_id, "fail",
                        "%s returned %d wrong values: data corruption, not a performance issue. Fix: check the "
                        "known-bad finding (driver x GPU), re-run with NCCL_P2P_DISABLE=1 to see whether the P2P "
                        "path corrupts, and look for Xid/ECC errors in dmesg." % (what, wrong), title)
    errors = result["errors"]
    if errors:
        return _finding(check_id, "fail", "%s failed: '%s'%s." % (
            what, _first_error(errors), " and %d more error line(s)" % (len(errors) - 1) if len(errors) > 1 else ""),
            title)
    if result["refused"]:
        return _finding(check_id, "fail", "%s printed figures no run can produce, so its output is no evidence: %s. "
                        "A broken build of nccl-tests, or an edited log." % (what, _listing(result["refused"])), title)
    if not result["passed"]:
        why = result["msg"] or ("no result row could be read, only the summary line" if result["completed"]
                                and not result["rows"] else "its output stops before the summary line")
        return _finding(check_id, "fail", "%s did not pass: %s." % (what, why.rstrip(".")), title)
    if not result["rows"]:
        return _finding(check_id, "fail", "%s reports a pass, but no result row was read: no evidence that NCCL "
                        "works (%s)." % (what, (result["msg"] or "no result table").rstrip(".")), title)
    share = ""
    if limit[0] and result["max_busbw_gbps"] is not None:
        share = ", %s of the slowest link's %s GB/s (%s)" % (
            _pct(result["max_busbw_gbps"] / limit[0]), _num(limit[0], 2), limit[1])
    if result.get("validated") is False:
        return _finding(check_id, "warn", "%s passed without checking its values (#wrong N/A in every row: data "
                        "checking off, -c 0), so it says nothing about correctness: %s%s. Run it with -c 1."
                        % (what, _busbw_text(result), share), title)
    return _finding(check_id, "pass", "%s passed: %s%s." % (what, _busbw_text(result), share), title)


def _nccl_summary(runs, limit):
    def figures(result):
        result = result if isinstance(result, dict) else {}
        return {"avg_busbw_gbps": result.get("avg_busbw_gbps"), "max_busbw_gbps": result.get("max_busbw_gbps"),
                "passed": result.get("passed"), "timed_out": result.get("timed_out", False),
                "wrong_total": result.get("wrong_total"), "collective": result.get("collective")}
    per_run = []
    for run in runs:
        entry = dict(figures(run.get("result")), name=run.get("name"))
        entry["p2p_disabled"] = figures(run["p2p_disabled"]) if isinstance(run.get("p2p_disabled"), dict) else None
        per_run.append(entry)
    top = dict(figures(runs[0].get("result") if runs else None))
    top.pop("name", None)
    top.update(limit_gbps=limit[0], limit_link=limit[1], runs=per_run,
               share=(top["max_busbw_gbps"] / limit[0]) if limit[0] and top["max_busbw_gbps"] is not None else None)
    return top


# --------------------------------------------------------------------------- the report

def _gpu_rows(gpus):
    def link(gen, width):
        return "Gen%s x%s" % ("?" if gen is None else gen, "?" if width is None else width)
    return [{"index": gpu.get("index"), "name": gpu.get("name"), "bus_id": gpu.get("pci_bus_id"),
             "pcie": "%s (max %s)" % (link(gpu.get("pcie_gen_current"), gpu.get("pcie_width_current")),
                                      link(gpu.get("pcie_gen_max"), gpu.get("pcie_width_max")))} for gpu in gpus]


def _figures(smi, gpus, loaded):
    """What a later run compares with (drift): the driver, the GPU count, each GPU's link by
    bus id (the generation only when sampled under load: idle GPUs drop to Gen1 on purpose)."""
    links = {}
    for gpu in gpus:
        if gpu.get("pci_bus_id"):
            links[gpu["pci_bus_id"]] = {"width": gpu.get("pcie_width_current"), "width_max": gpu.get("pcie_width_max"),
                                        "gen": gpu.get("pcie_gen_current") if loaded else None,
                                        "gen_max": gpu.get("pcie_gen_max")}
    return {"driver_version": smi.get("driver_version"), "gpu_count": len(gpus), "links": links}


# --------------------------------------------------------------------------- drift

def _judged_key(report):
    """A digest of a report as the judge made it (before the drift finding): two runs with the
    same key measured the same."""
    body = dict((key, value) for key, value in _dict(report).items() if key not in ("judged", "drift"))
    body["findings"] = [f for f in _list(body.get("findings")) if _dict(f).get("id") != "drift"]
    for key in ("verdict", "rank", "summary"):
        body.pop(key, None)
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _drift_items(new, old, threshold):
    """``[(status, sentence)]``: what got worse from ``old`` to ``new``."""
    items = []
    nfig, ofig = _dict(new.get("figures")), _dict(old.get("figures"))
    ncount, ocount = _int(nfig.get("gpu_count")), _int(ofig.get("gpu_count"))
    if ncount is not None and ocount is not None and ncount < ocount:
        items.append(("fail", "the GPU count fell from %d to %d" % (ocount, ncount)))
    ndrv, odrv = _text(nfig.get("driver_version")), _text(ofig.get("driver_version"))
    if ndrv and odrv and ndrv != odrv:
        items.append(("warn", "the driver changed from %s to %s (figures before and after are not measured with "
                              "the same driver)" % (odrv, ndrv)))
    nlinks, olinks = _dict(nfig.get("links")), _dict(ofig.get("links"))
    for bus in sorted(set(nlinks) & set(olinks)):
        nl, ol = _dict(nlinks[bus]), _dict(olinks[bus])
        nw, ow = _int(nl.get("width")), _int(ol.get("width"))
        if nw is not None and ow is not None and nw < ow:
            items.append(("fail", "%s's link width fell from x%d to x%d" % (bus, ow, nw)))
        ng, og = _int(nl.get("gen")), _int(ol.get("gen"))
        if ng is not None and og is not None and ng < og:
            items.append(("warn", "%s's link generation under load fell from Gen%d to Gen%d" % (bus, og, ng)))
    nmat, omat = _list(_dict(new.get("p2p_heatmap")).get("matrix")), _list(_dict(old.get("p2p_heatmap")).get("matrix"))
    slower = []
    for i, (nrow, orow) in enumerate(zip(nmat, omat)):
        for j, (ncell, ocell) in enumerate(zip(_list(nrow), _list(orow))):
            ncell, ocell = _number(ncell), _number(ocell)
            if i != j and ncell is not None and ocell and ncell < ocell * (1 - threshold):
                text = "GPU%d->GPU%d %s of %s GB/s (%s)" % (i, j, _num(ncell), _num(ocell), _pct(ncell / ocell))
                slower.append((ncell / ocell, text))
    if slower:
        slower.sort()
        items.append(("warn", "P2P bandwidth fell by more than %s on %d pair(s): %s" % (
            _pct(threshold), len(slower), _listing(text for _share, text in slower))))
    oruns = dict((_text(_dict(run).get("name")), _dict(run)) for run in _list(_dict(old.get("nccl")).get("runs")))
    for run in _list(_dict(new.get("nccl")).get("runs")):
        run = _dict(run)
        before = oruns.get(_text(run.get("name")))
        nbw = _number(run.get("avg_busbw_gbps"))
        obw = _number(before.get("avg_busbw_gbps")) if before else None
        if nbw is not None and obw and nbw < obw * (1 - threshold):
            items.append(("warn", "%s's average bus bandwidth fell from %s to %s GB/s (%s)" % (
                run.get("name"), _num(obw, 2), _num(nbw, 2), _pct(nbw / obw))))
    return items


def _loads(text, name, unreadable):
    """A report read back from its file's text; None for an empty or unreadable one (named in
    ``unreadable``)."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        unreadable.append(name)
        return None


def gpu_validation_drift(report, last=None, previous=None, threshold=0.1):
    """The report with a ``drift`` finding against the last report that measured something
    else. ``last`` is the host's report.json before this run, ``previous`` its previous.json
    (the one before the last change). When ``last`` measured the same as ``report`` (same
    ``judged`` digest), the comparison is with ``previous``, so a run that measures the same
    writes the same report (idempotent); otherwise with ``last``, which becomes previous.json
    (``rotate``). ``last`` and ``previous`` may be dicts or the files' text (empty: none; text
    that is not JSON is ignored and said). Returns ``{"report", "baseline" (last, previous or
    None), "rotate"}``; never raises."""
    report = dict(_dict(report))
    threshold = _number(threshold)
    threshold = threshold if threshold is not None and 0 < threshold < 1 else 0.1
    key = _judged_key(report)
    unreadable = []
    if isinstance(last, str):
        last = _loads(last, "report.json", unreadable)
    if isinstance(previous, str):
        previous = _loads(previous, "previous.json", unreadable)
    last, previous = _dict(last), _dict(previous)
    same = bool(last) and _text(last.get("judged")) == key
    baseline = ("previous" if previous else None) if same else ("last" if last else None)
    old = previous if baseline == "previous" else last if baseline == "last" else None
    findings = [f for f in _list(report.get("findings")) if _dict(f).get("id") != "drift"]
    if not report.get("figures"):
        finding = None
    elif old is None or not old.get("figures"):
        finding = _finding("drift", "skipped", "No earlier report of this host to compare with (the next run that "
                           "measures something else compares with this one).")
    else:
        items = _drift_items(report, old, threshold)
        if items:
            worst = "fail" if any(status == "fail" for status, _text_ in items) else "warn"
            finding = _finding("drift", worst, "Since the previous report: %s. Fix: find what changed (a riser or "
                               "cable, a BIOS or driver update, a GPU's cooling) before trusting this box's figures."
                               % "; ".join(text for _status, text in items))
        else:
            finding = _finding("drift", "pass", "No regression against the previous report (GPU count, links, P2P "
                               "and NCCL bandwidth within %s, driver %s)." % (
                                   _pct(threshold), _dict(report.get("figures")).get("driver_version") or "unknown"))
    if finding is not None and unreadable:
        finding["detail"] += " (%s could not be read as JSON: ignored.)" % " and ".join(unreadable)
    if finding is not None and report.get("verdict") != "skipped":
        findings.append(finding)
        verdict = verdict_of(findings)
        figures = _dict(report.get("figures"))
        report.update(findings=findings, verdict=verdict, rank=RANK[verdict],
                      summary=_summary(verdict, findings, _list(report.get("gpus")), figures.get("driver_version")))
    report["judged"] = key
    return {"report": report, "baseline": baseline, "rotate": bool(last) and not same}


def verdict_of(findings):
    worst = max([ORDER.get(finding["status"], 0) for finding in findings] + [1])
    return {3: "fail", 2: "warn"}.get(worst, "pass")


def _box(gpus, driver):
    names = sorted(set(gpu.get("name") or "unnamed GPU" for gpu in gpus))
    what = "%dx %s" % (len(gpus), names[0]) if len(names) == 1 else "%d GPUs (%s)" % (len(gpus), _listing(names))
    return "%s, driver %s" % (what, driver or "unknown")


def _summary(verdict, findings, gpus, driver):
    if verdict == "pass":
        return "Every check passes on %s." % _box(gpus, driver)
    parts = []
    for status in ("fail", "warn"):
        titles = [finding["title"] for finding in findings if finding["status"] == status]
        if titles:
            parts.append("%d %s %s (%s)" % (len(titles), "check" if len(titles) == 1 else "checks",
                                            status + ("s" if len(titles) == 1 else ""), _listing(titles)))
    return "%s on %s." % (" and ".join(parts), _box(gpus, driver))


def gpu_validation_judge(inputs, known_bad=None, min_share=0.8):
    """Judge the inputs (see DOCUMENTATION) and return the report dict; never raises, whatever
    the types of its inputs (numbers given as strings are read, anything else is missing)."""
    inputs = _dict(inputs)
    host = _text(inputs.get("host")) or "this host"
    idle = _clean_smi(inputs.get("smi"))
    smi, loaded, not_loaded = _load_sample(idle, inputs.get("smi_load"), inputs.get("under_load"))
    gpus = smi["gpus"]
    min_share = _min_share(min_share)
    p2p = _clean_p2p(inputs.get("p2p"))
    heat = heatmap(smi, p2p)
    runs = _clean_runs(inputs)
    limit = nccl_limit(smi)
    report = {"host": host, "gpus": _gpu_rows(gpus), "p2p_heatmap": heat, "nccl": _nccl_summary(runs, limit),
              "under_load": loaded, "figures": _figures(smi, gpus, loaded)}
    if not gpus:
        report.update(verdict="skipped", rank=RANK["skipped"], findings=[],
                      summary="No NVIDIA GPU was read on %s (nvidia-smi gave none), so nothing was checked." % host)
        return report
    findings = [
        check_driver(inputs.get("driver")),
        check_kernel_log(inputs.get("kernel_log")),
        check_gpu_count(gpus, inputs.get("expected_gpu_count"), inputs.get("pci_bus_ids"), inputs.get("missing_bus_ids")),
        check_ecc(gpus),
        check_memory_remap(gpus),
        check_clocks(gpus, loaded, not_loaded),
        check_persistence(gpus),
        check_mig(gpus),
        check_fabric(gpus),
        check_pcie_width(gpus),
        check_pcie_gen(gpus, loaded, not_loaded),
        check_iommu(_text(inputs.get("cmdline")), _int(inputs.get("iommu_groups"))),
        check_acs(_clean_acs(inputs.get("acs"))),
        check_known_bad(smi, p2p, _clean_known_bad(known_bad)),
        check_p2p_support(smi, p2p),
        check_p2p_bandwidth(smi, p2p, min_share, heat),
    ]
    findings += [check_nccl_run(run["name"], run["result"], run["p2p_disabled"], limit) for run in runs] \
        or [_finding("nccl", "skipped", "No NCCL test ran (no nccl-tests binary, or gpu_validation_nccl: false).")]
    verdict = verdict_of(findings)
    summary = _summary(verdict, findings, gpus, smi.get("driver_version"))
    report.update(verdict=verdict, rank=RANK[verdict], findings=findings, summary=summary)
    return report


# --------------------------------------------------------------------------- Markdown

def _cell(text):
    return str("" if text is None else text).replace("|", "\\|").replace("\n", " ")


def _first_sentence(text, limit=140):
    text = _text(text) or ""
    match = re.match(r"^(.*?\.)(\s+[A-Z(]|$)", text)
    sentence = match.group(1) if match else (text or "")
    return sentence if len(sentence) <= limit else sentence[:limit - 3].rstrip() + "..."


def _md_why(findings):
    ordered = sorted((f for f in findings if f["status"] in ("fail", "warn", "info")),
                     key=lambda f: -ORDER[f["status"]] if f["status"] != "info" else 0)
    if not any(f["status"] in ("fail", "warn") for f in ordered):
        ordered.insert(0, {"status": "pass", "title": "Nothing fails or warns", "detail": "every check passes."})
    return ["- **%s - %s**: %s" % (f["status"].upper(), f["title"], f["detail"]) for f in ordered]


def _md_nccl(nccl):
    nccl = _dict(nccl)
    runs = [run for run in _list(nccl.get("runs")) if isinstance(run, dict)]
    if not runs:
        return []
    lines = ["", "## NCCL", "", "| test | result | avg busbw GB/s | peak busbw GB/s | with NCCL_P2P_DISABLE=1 |",
             "|---|---|---|---|---|"]
    for run in runs:
        state = "hang" if run.get("timed_out") else ("passed" if run.get("passed") else "failed")
        off = _dict(run.get("p2p_disabled"))
        off_text = "-" if not off else "%s, %s GB/s avg" % ("passed" if off.get("passed") else "failed",
                                                            _num(off.get("avg_busbw_gbps"), 2))
        lines.append("| %s | %s | %s | %s | %s |" % (_cell(run.get("name") or "nccl"), state,
                                                     _num(run.get("avg_busbw_gbps"), 2),
                                                     _num(run.get("max_busbw_gbps"), 2), off_text))
    if nccl.get("limit_gbps"):
        lines += ["", "Slowest GPU link: %s GB/s per direction (%s)." % (_num(nccl["limit_gbps"], 2),
                                                                         nccl.get("limit_link"))]
    return lines


def gpu_validation_markdown(report):
    """The report as Markdown: verdict first, why, the checks, the GPUs, NCCL and the heatmap."""
    report = _dict(report)
    findings = [dict(f, title=_text(f.get("title")) or _text(f.get("id")) or "?", detail=_text(f.get("detail")) or "")
                for f in _list(report.get("findings")) if isinstance(f, dict) and _text(f.get("status")) in ORDER]
    host = _text(report.get("host")) or "this host"
    lines = ["# GPU validation: %s — %s" % (host, (_text(report.get("verdict")) or "skipped").upper()),
             "", _text(report.get("summary")) or ""]
    if findings:
        lines += ["", "## Why", ""] + _md_why(findings)
        lines += ["", "## Checks", "", "| check | status | finding |", "|---|---|---|"]
        lines += ["| %s | %s | %s |" % (_cell(f["title"]), f["status"].upper(), _cell(_first_sentence(f["detail"])))
                  for f in findings]
    gpus = [gpu for gpu in _list(report.get("gpus")) if isinstance(gpu, dict)]
    if gpus:
        lines += ["", "## GPUs", "", "| # | GPU | bus id | PCIe link |", "|---|---|---|---|"]
        lines += ["| %s | %s | %s | %s |" % (_cell(g.get("index")), _cell(g.get("name")), _cell(g.get("bus_id")),
                                             _cell(g.get("pcie"))) for g in gpus]
    lines += _md_nccl(report.get("nccl"))
    heat = _dict(report.get("p2p_heatmap"))
    if heat.get("matrix") is not None:
        lines += ["", "## P2P bandwidth", "", "%s, %s, row = source GPU, column = destination."
                  % (_text(heat.get("title")) or "P2P bandwidth", _text(heat.get("unit")) or "GB/s"),
                  "", "![P2P bandwidth](p2p_heatmap.png)"]
    return "\n".join(lines) + "\n"


class FilterModule:
    """aiserver.gpu GPU validation filters."""

    def filters(self):
        return {"gpu_validation_judge": gpu_validation_judge, "gpu_validation_markdown": gpu_validation_markdown,
                "gpu_validation_fails_on": gpu_validation_fails_on, "gpu_validation_drift": gpu_validation_drift}
