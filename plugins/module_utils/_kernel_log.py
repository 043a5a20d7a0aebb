# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVIDIA Xid and SXid lines and PCIe AER errors in a kernel log, and what they call for.

Pure functions over text: the output of ``journalctl -k`` (any ``-o`` format), ``dmesg``
(plain, ``-T``/``--ctime``, ``-H``, ``--time-format iso --decode``), ``/var/log/syslog`` or
``/var/log/messages``. Only the message part of a line is read: whatever comes before the
kernel's own words (a time stamp, a host, ``kernel:``, a facility/level column, a localised
month) is skipped, so every format reads the same.

What is read (the lines of ``tests/unit/fixtures/kernel_log/``, each from a public report):

* ``NVRM: Xid (PCI:0000:9b:00): 119, pid=2024380, name=nvidia-smi, message`` and the older
  forms without ``pid=``/``name=`` (``Xid (PCI:0000:01:00): 32, Channel ID ...``) or without
  ``PCI:`` (``Xid (0000:01:00): 3, ...``). ``caused by previous Xid N`` (Xid 45) and Xid 154's
  ``... to 0x2 (Node Reboot Required)`` are read as well.
* ``nvidia-nvswitch1: SXid (PCI:0000:84:00.0): 12028, Non-fatal, ...`` (NVSwitch errors).
* ``NVRM: GPU at PCI:0000:2b:00: GPU-uuid`` (the GPU's UUID, to name it) and both wordings of
  a GPU that fell off the bus (``NVRM: GPU at 0000:01:00.0 has fallen off the bus.``, old
  drivers, without an Xid 79; ``NVRM: GPU 0000:2b:00.0: GPU has fallen off the bus.``).
* AER events of any device (``pcieport``, ``nvidia``...), with or without the ``AER:``
  prefix on the detail lines (kernels before and after 5.8): ``... error received: SOURCE``
  (or ``Correctable error message received from SOURCE``), ``PCIe Bus Error:
  severity=..., type=LAYER, (AGENT ID)``, ``device [vvvv:dddd] error status/mask=S/M`` and
  the error bits ``[14] CmpltTO (First)``; ``can't recover`` and ``device recovery failed``.

:func:`findings` then groups them per GPU (bus id) and code, with the action from
``_xid_catalog`` (NVIDIA's Xid catalogue, kept as data there) and a sentence that names the
GPU, the code, how often, the first line and the fix.
"""

from __future__ import annotations

import re

from ansible_collections.aiserver.gpu.plugins.module_utils import _xid_catalog as catalog
from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import normalize_bus_id

STATUS_RANK = {"PASS": 0, "WARN": 1, "FAIL": 2}

_BUS = r"[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?"
_XID_RE = re.compile(r"NVRM: Xid \((?:PCI:)?(?P<bus>" + _BUS + r")\): (?P<code>\d+)(?:, (?P<rest>.*))?$")
_PID_NAME_RE = re.compile(r"^pid=(?P<pid>'[^']*'|[^,]*), name=(?P<name>[^,]*)(?:, (?P<message>.*))?$")
_CAUSED_BY_RE = re.compile(r"caused by previous Xid (\d+)")
_RECOVERY_RE = re.compile(r"changed from 0x[0-9a-fA-F]+ \(([^)]*)\) to 0x[0-9a-fA-F]+ \(([^)]*)\)")
_SXID_RE = re.compile(r"(?P<device>nvidia-nvswitch\d+): SXid \((?:PCI:)?(?P<bus>" + _BUS + r")\): "
                      r"(?P<code>\d+), (?P<rest>.*)$")
_GPU_AT_RE = re.compile(r"NVRM: GPU at (?:PCI:)?(?P<bus>" + _BUS + r"):? (?P<rest>.*)$")
_FALLEN_RE = re.compile(r"NVRM: GPU (?:at )?(?:PCI:)?(?P<bus>" + _BUS + r"):? (?:GPU )?has fallen off the bus")
_UUID_RE = re.compile(r"^(GPU-[0-9a-fA-F-]{36})\s*$")
_DEVICE_RE = re.compile(r"(?P<driver>[\w-]+) (?P<bus>[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]): "
                        r"(?:AER: )?(?P<rest>.*?)\s*$")
_RECEIVED_RE = re.compile(r"^(?P<multiple>Multiple )?(?P<what>Corrected|Correctable|Uncorrected \((?:Non-)?Fatal\)|"
                          r"Uncorrectable \((?:Non-)?Fatal\)) error(?: message)? received(?::| from) (?P<source>.*)$")
_BUS_ERROR_RE = re.compile(r"^PCIe Bus Error: severity=(?P<severity>[^,]+), type=(?P<layer>[^,]+), "
                           r"(?:id=(?P<id>[0-9a-fA-F]+))?\(?(?P<agent>[A-Za-z]+) ID\)?")
_STATUS_RE = re.compile(r"^device \[(?P<vendor_device>[0-9a-fA-F]{4}:[0-9a-fA-F]{4})\] "
                        r"error status/mask=(?P<status>[0-9a-fA-F]+)/(?P<mask>[0-9a-fA-F]+)")
_BIT_RE = re.compile(r"^\[\s*(?P<bit>\d+)\] (?P<name>.*?)(?:\s+\((?P<first>First)\))?$")


def _noop(_msg):
    return None


def _bus_id(text):
    """``0000:9b:00`` (an Xid's bus id has no function) -> ``0000:9b:00.0``."""
    return normalize_bus_id(text if "." in text else text + ".0")


def _severity(words):
    """``Corrected`` / ``Correctable`` -> ``corrected``; ``Uncorrected (Non-Fatal)`` ->
    ``nonfatal``; ``Uncorrected (Fatal)`` -> ``fatal``; anything else lower-cased."""
    lowered = words.strip().lower()
    if lowered.startswith("correct"):
        return "corrected"
    if "non-fatal" in lowered:
        return "nonfatal"
    if "fatal" in lowered:
        return "fatal"
    return lowered


def _xid_record(number, line, match):
    rest = match.group("rest") or ""
    pid = name = None
    message = rest
    fields = _PID_NAME_RE.match(rest)
    if fields:
        pid = fields.group("pid").strip("'")
        name = fields.group("name")
        message = fields.group("message") or ""
    caused_by = _CAUSED_BY_RE.search(message)
    recovery = _RECOVERY_RE.search(message)
    return {
        "line": number,
        "text": line.strip(),
        "code": int(match.group("code")),
        "bus_id": _bus_id(match.group("bus")),
        "pid": None if pid in (None, "", "<unknown>") else pid,
        "process": None if name in (None, "", "<unknown>") else name,
        "message": message.strip(),
        "caused_by": int(caused_by.group(1)) if caused_by else None,
        "recovery": recovery.group(2).strip().lower() if recovery else None,
    }


class _Aer:
    """The AER events of one log: a ``received`` or ``PCIe Bus Error`` line starts an event
    of its device (the ``Bus Error`` line completes a ``received`` one); the detail lines
    (status/mask, bits) go to the open event of the same device."""

    def __init__(self):
        self.events = []
        self.open = {}

    def _new(self, number, line, driver, bus):
        event = {"line": number, "text": line.strip(), "bus_id": bus, "driver": driver, "severity": None,
                 "multiple": False, "layer": None, "agent": None, "source": None, "vendor_device": None,
                 "status": None, "mask": None, "errors": [], "recovered": None, "unrecovered": []}
        self.events.append(event)
        self.open[bus] = event
        return event

    def read(self, number, line, driver, bus, rest):
        rest = rest.strip()
        received = _RECEIVED_RE.match(rest)
        if received:
            event = self._new(number, line, driver, bus)
            event["severity"] = _severity(received.group("what"))
            event["multiple"] = bool(received.group("multiple"))
            source = received.group("source").strip()
            event["source"] = normalize_bus_id(source) or (source[3:] if source.startswith("id=") else source)
            return True
        bus_error = _BUS_ERROR_RE.match(rest)
        if bus_error:
            event = self.open.get(bus)
            if event is None or event["layer"] is not None:
                event = self._new(number, line, driver, bus)
            event["severity"] = _severity(bus_error.group("severity"))
            event["layer"] = bus_error.group("layer").strip()
            event["agent"] = bus_error.group("agent").lower()
            if bus_error.group("id") and event["source"] is None:
                event["source"] = bus_error.group("id")
            return True
        event = self.open.get(bus)
        status = _STATUS_RE.match(rest)
        if status and event is not None:
            event["vendor_device"] = status.group("vendor_device").lower()
            event["status"] = status.group("status").lower()
            event["mask"] = status.group("mask").lower()
            return True
        bit = _BIT_RE.match(rest)
        if bit and event is not None:
            event["errors"].append({"bit": int(bit.group("bit")), "name": bit.group("name").strip(),
                                    "first": bool(bit.group("first"))})
            return True
        if rest.startswith("can't recover") or rest.startswith("device recovery failed"):
            # The port's last event, or a device below it (nvidia 0000:03:00.0: can't recover).
            target = event or (self.events[-1] if self.events else None)
            if target is not None:
                target["recovered"] = False
                if {"bus_id": bus, "driver": driver} not in target["unrecovered"]:
                    target["unrecovered"].append({"bus_id": bus, "driver": driver})
            return True
        return False


def parse_kernel_log(text, warn=None):
    """Every Xid, SXid, fallen-off-the-bus line and AER event in ``text`` (str or bytes).

    Returns ``{"xid": [...], "sxid": [...], "aer": [...], "fallen_off_bus": [...],
    "uuids": {bus_id: uuid}, "lines": N}``. Each Xid: ``line`` (1-based), ``text``, ``code``,
    ``bus_id`` (``0000:9b:00.0``), ``pid`` and ``process`` (None in old formats and for
    ``<unknown>``), ``message``, ``caused_by`` (Xid 45's previous Xid), ``recovery`` (Xid 154's
    new recovery action, lower case). Each SXid: ``line``, ``text``, ``code``, ``device``,
    ``bus_id``, ``fatal`` (True, False, or None when the line does not say), ``message``. Each
    AER event: ``line``, ``text``, ``bus_id`` and ``driver`` of the reporting device,
    ``severity`` (``corrected``, ``nonfatal``, ``fatal``), ``multiple``, ``layer``, ``agent``
    (``requester``, ``receiver``, ``transmitter``...), ``source``, ``vendor_device``,
    ``status``, ``mask``, ``errors`` (``[{bit, name, first}]``), ``recovered`` (False after
    ``can't recover`` / ``device recovery failed``, else None), ``unrecovered`` (the devices
    that said so: ``[{bus_id, driver}]``). ``warn`` hears of an Xid-like
    line that could not be read (a truncated capture)."""
    warn = warn or _noop
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    result = {"xid": [], "sxid": [], "aer": [], "fallen_off_bus": [], "uuids": {}, "lines": 0}
    aer = _Aer()
    lines = (text or "").splitlines()
    result["lines"] = len(lines)
    for number, line in enumerate(lines, 1):
        match = _XID_RE.search(line)
        if match:
            result["xid"].append(_xid_record(number, line, match))
            continue
        if "NVRM: Xid" in line:
            warn("line %d looks like an Xid but could not be read: %s" % (number, line.strip()[:200]))
            continue
        match = _SXID_RE.search(line)
        if match:
            rest = match.group("rest").strip()
            lowered = rest.lower()
            fatal = False if lowered.startswith("non-fatal") else True if lowered.startswith("fatal") else None
            result["sxid"].append({"line": number, "text": line.strip(), "code": int(match.group("code")),
                                   "device": match.group("device"), "bus_id": normalize_bus_id(match.group("bus")),
                                   "fatal": fatal, "message": rest})
            continue
        match = _FALLEN_RE.search(line)
        if match:
            result["fallen_off_bus"].append({"line": number, "text": line.strip(),
                                             "bus_id": _bus_id(match.group("bus"))})
            continue
        match = _GPU_AT_RE.search(line)
        if match:
            uuid = _UUID_RE.match(match.group("rest"))
            if uuid:
                result["uuids"][_bus_id(match.group("bus"))] = uuid.group(1)
            continue
        match = _DEVICE_RE.search(line)
        if match:
            aer.read(number, line, match.group("driver"), normalize_bus_id(match.group("bus")),
                     match.group("rest"))
    result["aer"] = aer.events
    return result


def _worst(statuses):
    return max(statuses, key=lambda status: STATUS_RANK[status]) if statuses else "PASS"


def _quote(text, limit=160):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _gpu_name(bus_id, uuids):
    uuid = uuids.get(bus_id)
    return "GPU %s%s" % (bus_id, " (%s)" % uuid if uuid else "")


def _catalog_fix(action, entry):
    """The fix sentence of an Xid finding: the action in words, the catalogue's reason and address."""
    text = catalog.ACTION_TEXT[action]
    return "%s (%s; %s)." % (text[0].upper() + text[1:], entry["why"], entry["source"])


def _xid_findings(parsed):
    groups = {}
    for record in parsed["xid"]:
        groups.setdefault((record["bus_id"], record["code"]), []).append(record)
    found = []
    for (bus_id, code), records in sorted(groups.items(), key=lambda item: (item[0][0] or "", item[0][1])):
        entry = catalog.describe(code)
        action, status = entry["action"], entry["status"]
        causes = sorted(set(r["caused_by"] for r in records if r["caused_by"] is not None))
        recoveries = [r["recovery"] for r in records if r["recovery"]]
        if code == 154 and recoveries and recoveries[-1] in catalog.RECOVERY_ACTIONS:
            action, status = catalog.RECOVERY_ACTIONS[recoveries[-1]]
        label = "Xid %d" % code + (" (%s)" % entry["mnemonic"] if entry["mnemonic"] else "")
        sentence = "%s: %s, %s, %d time%s (first at line %d: \"%s\")." % (
            _gpu_name(bus_id, parsed["uuids"]), label, entry["meaning"], len(records),
            "" if len(records) == 1 else "s", records[0]["line"], _quote(records[0]["text"]))
        if causes:
            sentence += " The driver says it follows Xid %s: that Xid is the fault to act on." % (
                ", ".join(str(c) for c in causes))
        processes = sorted(set(r["process"] for r in records if r["process"]))
        if processes:
            sentence += " Process%s: %s." % ("es" if len(processes) > 1 else "", ", ".join(processes))
        found.append({
            "kind": "xid", "code": code, "bus_id": bus_id, "count": len(records), "status": status,
            "action": action, "mnemonic": entry["mnemonic"], "meaning": entry["meaning"],
            "why": entry["why"], "confirmed": entry["confirmed"], "caused_by": causes,
            "lines": [r["line"] for r in records], "sentence": sentence,
            "fix": _catalog_fix(action, entry),
        })
    return found


def _fallen_findings(parsed):
    """A GPU that fell off the bus and has no Xid 79 line (old drivers print only the
    ``NVRM: GPU at ... has fallen off the bus`` line): judged as Xid 79."""
    with_79 = set(r["bus_id"] for r in parsed["xid"] if r["code"] == 79)
    groups = {}
    for record in parsed["fallen_off_bus"]:
        if record["bus_id"] not in with_79:
            groups.setdefault(record["bus_id"], []).append(record)
    entry = catalog.describe(79)
    found = []
    for bus_id, records in sorted(groups.items()):
        found.append({
            "kind": "fallen_off_bus", "code": 79, "bus_id": bus_id, "count": len(records),
            "status": entry["status"], "action": entry["action"], "mnemonic": entry["mnemonic"],
            "meaning": entry["meaning"], "why": entry["why"], "confirmed": entry["confirmed"], "caused_by": [],
            "lines": [r["line"] for r in records],
            "sentence": "%s has fallen off the bus (line %d: \"%s\"; the driver printed no Xid 79 for it)." % (
                _gpu_name(bus_id, parsed["uuids"]), records[0]["line"], _quote(records[0]["text"])),
            "fix": _catalog_fix(entry["action"], entry),
        })
    return found


def _sxid_findings(parsed):
    groups = {}
    for record in parsed["sxid"]:
        groups.setdefault((record["device"], record["bus_id"], record["code"]), []).append(record)
    found = []
    for (device, bus_id, code), records in sorted(groups.items()):
        fatal = any(r["fatal"] for r in records)
        status = "FAIL" if fatal else "WARN"
        action = "drain" if fatal else "watch"
        kind = "fatal" if fatal else "non-fatal" if all(r["fatal"] is False for r in records) else \
            "not marked fatal or non-fatal"
        found.append({
            "kind": "sxid", "code": code, "bus_id": bus_id, "device": device, "count": len(records),
            "status": status, "action": action, "mnemonic": None, "meaning": "NVSwitch error (%s)" % kind,
            "why": "SXids come from the NVSwitch driver; a fatal one breaks the fabric until the GPUs and "
                   "switches are reset", "confirmed": True, "caused_by": [],
            "lines": [r["line"] for r in records],
            "sentence": "NVSwitch %s at %s: SXid %d (%s), %d time%s (first at line %d: \"%s\")." % (
                device, bus_id, code, kind, len(records), "" if len(records) == 1 else "s", records[0]["line"],
                _quote(records[0]["text"])),
            "fix": ("Drain the node and reset the GPUs and NVSwitches (or reboot); look the code up in "
                    "NVIDIA's NVSwitch SXid table (Fabric Manager user guide)." if fatal else
                    "Watch it: a non-fatal SXid that repeats or rises points at a link or a switch; look "
                    "the code up in NVIDIA's NVSwitch SXid table (Fabric Manager user guide)."),
        })
    return found


_AER_STATUS = {"corrected": ("WARN", "watch"), "nonfatal": ("WARN", "watch"), "fatal": ("FAIL", "reboot")}


def _aer_findings(parsed, gpus):
    groups = {}
    for event in parsed["aer"]:
        groups.setdefault((event["bus_id"], event["severity"]), []).append(event)
    found = []
    for (bus_id, severity), events in sorted(groups.items(), key=lambda item: (item[0][0] or "", item[0][1] or "")):
        status, action = _AER_STATUS.get(severity, ("WARN", "watch"))
        unrecovered = any(e["recovered"] is False for e in events)
        if unrecovered:
            status, action = "FAIL", "reboot"
        names = []
        for event in events:
            for error in event["errors"]:
                if error["name"] not in names:
                    names.append(error["name"])
        layers = sorted(set(e["layer"] for e in events if e["layer"]))
        is_gpu = bus_id in gpus or any(e["driver"] == "nvidia" for e in events)
        who = "GPU %s" % bus_id if is_gpu else "PCIe device %s (%s)" % (bus_id, events[0]["driver"])
        words = {"corrected": "corrected", "nonfatal": "uncorrected non-fatal", "fatal": "uncorrected fatal"}
        sentence = "%s: %d %s PCIe AER error%s%s%s (first at line %d: \"%s\")." % (
            who, len(events), words.get(severity, severity or "unclassified"), "" if len(events) == 1 else "s",
            " (%s)" % ", ".join(layers) if layers else "", ": " + ", ".join(names) if names else "",
            events[0]["line"], _quote(events[0]["text"]))
        if unrecovered:
            below = sorted(set("%s (%s)" % (d["bus_id"], d["driver"]) for e in events for d in e["unrecovered"]))
            sentence += " The kernel could not recover %s." % (", ".join(below) if below else "the device")
        if severity == "corrected" and not unrecovered:
            fix = ("Watch it: corrected errors are fixed by the link itself, but a steady rate points at the "
                   "slot, riser or cable (reseat it, try another slot, or lower the link generation in the "
                   "BIOS).")
        else:
            fix = ("Drain the node and reboot it; reseat the card, riser and cables, check the slot's power; "
                   "if it repeats, lower the PCIe generation in the BIOS or contact the vendor.")
        found.append({
            "kind": "aer", "code": None, "bus_id": bus_id, "severity": severity, "gpu": is_gpu,
            "count": len(events), "status": status, "action": action, "mnemonic": None,
            "meaning": "PCIe Advanced Error Reporting", "why": "", "confirmed": True, "caused_by": [],
            "errors": names, "lines": [e["line"] for e in events], "sentence": sentence, "fix": fix,
            # GPUs below a port that could not recover them (nvidia 0000:03:00.0: AER: can't recover).
            "gpus_affected": sorted(set(d["bus_id"] for e in events for d in e["unrecovered"]
                                        if d["driver"] == "nvidia" or d["bus_id"] in gpus)),
        })
    return found


def findings(parsed, gpus=()):
    """The findings of :func:`parse_kernel_log`'s result, one per GPU (bus id) and code (Xid),
    per NVSwitch and code (SXid), per device and severity (AER), plus fallen-off-the-bus lines
    without an Xid 79. ``gpus``: the bus ids of the host's GPUs (AER findings of those devices
    say "GPU"). Each finding: ``kind``, ``code``, ``bus_id``, ``count``, ``status`` (PASS, WARN,
    FAIL), ``action`` (``_xid_catalog.ACTIONS``), ``meaning``, ``lines``, ``sentence`` and
    ``fix``. Returns ``{"findings": [...], "status": worst, "by_gpu": {bus_id: worst}}``."""
    gpus = set(normalize_bus_id(g) for g in gpus or () if normalize_bus_id(g))
    found = _xid_findings(parsed) + _fallen_findings(parsed) + _sxid_findings(parsed) + _aer_findings(parsed, gpus)
    by_gpu = {}
    for finding in found:
        affected = [finding["bus_id"]] if finding["kind"] in ("xid", "fallen_off_bus") or finding.get("gpu") else []
        for bus_id in affected + finding.get("gpus_affected", []):
            by_gpu[bus_id] = _worst([by_gpu.get(bus_id, "PASS"), finding["status"]])
    return {"findings": found, "status": _worst([f["status"] for f in found]), "by_gpu": by_gpu}
