# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parser for ``lspci -vvv`` output (PCIe ACS state, link state, driver).

No Ansible imports: the module ``aiserver.gpu.pci_acs`` and the GPU validation role
use it, and the unit tests call it directly on captured outputs.

Accepted input
    * ``lspci -vvv`` with or without ``-D`` (``0000:03:08.0`` or ``03:08.0`` headers);
    * ``-PP`` path headers (``00:02.0/0b:00.0/0c:04.0 PCI bridge: ...``): the last
      component is the device, the domain comes from the first component; with a
      single ``-P`` the later components carry no bus number, so the BDF is unknown
      (``bdf`` is None, a warning says so);
    * tab or space indentation, CRLF line ends, shell prompts and other noise lines,
      blocks truncated anywhere.

What is never done
    * raise on odd input. Lines that mean nothing to the parser are skipped. Lines that
      belong to a device but cannot be understood (an ``ACSCtl:`` line without flags,
      an ``LnkSta:`` without a speed) are reported through the ``warn`` callable given
      by the caller, once per problem.

Lines outside any device block
    Indented lines before the first header, or after a blank line or a noise line,
    cannot be mapped to a device: ``lspci -vvv | grep ACSCtl`` output is the usual case.
    Their ``ACSCtl:`` flags are kept in ``orphan_acs_ctl`` (see :func:`scan_lspci`) and
    one summary warning is given; they never appear in ``devices``.
"""

from __future__ import annotations

import re

ACS_FLAGS = (
    "SrcValid",
    "TransBlk",
    "ReqRedir",
    "CmpltRedir",
    "UpstreamFwd",
    "EgressCtrl",
    "DirectTrans",
)

# One address component: [domain:]bus:dev.fn (``-PP``, plain) or dev.fn (later ``-P`` parts).
_COMPONENT = r"(?:(?:[0-9A-Fa-f]{4,8}:)?[0-9A-Fa-f]{2}:)?[0-9A-Fa-f]{2}\.[0-7]"
_HEADER_RE = re.compile(
    r"^(?P<addr>(?:[0-9A-Fa-f]{4,8}:)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]"
    r"(?:/" + _COMPONENT + r")*)(?:\s+(?P<rest>.*))?$"
)
_BDF_RE = re.compile(
    r"^(?:(?P<domain>[0-9A-Fa-f]{4,8}):)?(?:(?P<bus>[0-9A-Fa-f]{2}):)?"
    r"(?P<dev>[0-9A-Fa-f]{2})\.(?P<fn>[0-7])$"
)
_FLAG_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)([+-])")
_SPEED_RE = re.compile(
    r"Speed\s+(?P<value>[0-9]+(?:\.[0-9]+)?|unknown)\s*(?:GT/s|Gb/s)?"
    r"(?:\s*\((?P<note>[A-Za-z]+)\))?",
    re.IGNORECASE,
)
_WIDTH_RE = re.compile(r"Width\s+x(?P<value>[0-9]+)(?:\s*\((?P<note>[A-Za-z]+)\))?", re.IGNORECASE)
_BRIDGE_CLASS_RE = re.compile(r"^(?:PCI bridge\b|0604\b|0609\b)", re.IGNORECASE)


def _noop(_msg):
    return None


def normalize_bdf(text, default_domain="0000"):
    """Return ``dddd:bb:dd.f`` (lower case) for ``bb:dd.f`` or ``dddd:bb:dd.f``.

    Returns None when ``text`` is not such an address, or has no bus number
    (a ``-P`` path component such as ``00.0``).
    """
    match = _BDF_RE.match(text.strip())
    if not match or match.group("bus") is None:
        return None
    domain = match.group("domain") or default_domain
    return "%04x:%s:%s.%s" % (
        int(domain, 16),
        match.group("bus").lower(),
        match.group("dev").lower(),
        match.group("fn"),
    )


def parse_header(line):
    """Split a device header line; None when ``line`` is not one.

    Returns a dict with ``bdf`` (normalised, None if unknown), ``path`` (the address
    as printed when it is a bridge path, else None), ``class`` and ``name``.
    """
    match = _HEADER_RE.match(line.rstrip())
    if not match:
        return None
    addr = match.group("addr")
    rest = (match.group("rest") or "").strip()
    parts = addr.split("/")
    first = _BDF_RE.match(parts[0])
    domain = (first.group("domain") if first else None) or "0000"
    bdf = normalize_bdf(parts[-1], default_domain=domain)
    cls, sep, name = rest.partition(": ")
    if not sep:
        # "00:00.0 Host bridge:" (nothing after the colon) or a cut line.
        cls, name = rest.rstrip(":"), ""
    return {
        "bdf": bdf,
        "path": addr if len(parts) > 1 else None,
        "class": cls.strip(),
        "name": name.strip(),
    }


def parse_flags(text):
    """``'SrcValid+ TransBlk- Foo+'`` -> ``{'SrcValid': True, 'TransBlk': False, 'Foo': True}``."""
    return {name: sign == "+" for name, sign in _FLAG_RE.findall(text)}


def _acs_flags(text):
    """Return (dict over ACS_FLAGS, list of missing flag names); dict None if none found."""
    found = parse_flags(text)
    known = {flag: found[flag] for flag in ACS_FLAGS if flag in found}
    if not known:
        return None, list(ACS_FLAGS)
    missing = [flag for flag in ACS_FLAGS if flag not in known]
    for flag in missing:
        known[flag] = False
    return known, missing


def _speed(text):
    match = _SPEED_RE.search(text)
    if not match:
        return False, None, None
    value = match.group("value")
    speed = None if value.lower() == "unknown" else float(value)
    return True, speed, (match.group("note") or "").lower() or None


def _width(text):
    match = _WIDTH_RE.search(text)
    if not match:
        return False, None, None
    return True, int(match.group("value")), (match.group("note") or "").lower() or None


def parse_link(cap_text, sta_text):
    """Build the ``link`` dict from the text after ``LnkCap:`` and ``LnkSta:``.

    Either text may be None. ``downgraded`` is True when lspci marked the speed or the
    width ``(downgraded)``; when lspci printed no ``(ok)``/``(downgraded)`` notes at all
    (pciutils before 3.6), it is True when the status speed or width is below the
    capability. Returns (link, problems) where problems lists what could not be read.
    """
    problems = []
    link = {
        "cap_speed_gts": None,
        "cap_width": None,
        "sta_speed_gts": None,
        "sta_width": None,
        "downgraded": False,
    }
    if cap_text is not None:
        ok_s, link["cap_speed_gts"], _n = _speed(cap_text)
        ok_w, link["cap_width"], _n = _width(cap_text)
        if not (ok_s and ok_w):
            problems.append("LnkCap: %r" % cap_text.strip())
    notes = []
    if sta_text is not None:
        ok_s, link["sta_speed_gts"], speed_note = _speed(sta_text)
        ok_w, link["sta_width"], width_note = _width(sta_text)
        if not (ok_s or ok_w):
            problems.append("LnkSta: %r" % sta_text.strip())
        notes = [note for note in (speed_note, width_note) if note]
    if notes:
        link["downgraded"] = "downgraded" in notes
    else:
        pairs = (
            (link["sta_speed_gts"], link["cap_speed_gts"]),
            (link["sta_width"], link["cap_width"]),
        )
        link["downgraded"] = any(
            sta is not None and cap is not None and sta < cap for sta, cap in pairs
        )
    return link, problems


def _new_device(header, lineno):
    return {
        "bdf": header["bdf"],
        "path": header["path"],
        "class": header["class"],
        "name": header["name"],
        "is_bridge": bool(_BRIDGE_CLASS_RE.match(header["class"])),
        "acs_cap": None,
        "acs_ctl": None,
        "enabled": False,
        "link": None,
        "driver": None,
        "capabilities_denied": False,
        "line": lineno,
        # working state, removed before returning
        "_lnkcap": None,
        "_lnksta": None,
        "_acs_header": False,
        "_caps": False,
    }


def _label(device):
    if device["bdf"]:
        return device["bdf"]
    return "%s (line %d)" % (device["path"] or "?", device["line"])


def _finish(device, warn, counts):
    link_cap, link_sta = device.pop("_lnkcap"), device.pop("_lnksta")
    acs_header = device.pop("_acs_header")
    if device.pop("_caps"):
        counts["capabilities_seen"] += 1
    if acs_header and device["acs_ctl"] is None:
        counts["acs_unreadable"] += 1
    if link_cap is not None or link_sta is not None:
        device["link"], problems = parse_link(link_cap, link_sta)
        for problem in problems:
            warn("%s: could not read the link %s" % (_label(device), problem))
    if acs_header and device["acs_ctl"] is None:
        warn(
            "%s: has an Access Control Services capability but no readable ACSCtl "
            "line (truncated output?); its ACS state is unknown and it is left out"
            % _label(device)
        )
    if device["acs_ctl"] is not None and device["acs_cap"] is None:
        device["acs_cap"] = dict((flag, False) for flag in ACS_FLAGS)
        warn("%s: ACSCtl line without an ACSCap line; ACS capability flags unknown" % _label(device))
    device["enabled"] = bool(device["acs_ctl"]) and any(device["acs_ctl"].values())
    return device


def scan_lspci(text, warn=None):
    """Parse ``lspci -vvv`` text; never raises on odd input.

    ``warn`` is a callable taking one string; it gets every problem with lines that
    belong to a device, plus one summary for lines outside any device block.

    Returns a dict:
      ``devices``: list of device dicts, in output order (see :func:`parse_lspci`);
      ``orphan_acs_ctl``: list of ACSCtl flag dicts found outside any device block;
      ``orphan_lines``: number of indented lines outside any device block;
      ``capabilities_denied``: number of devices whose capabilities lspci could not
      read (``Capabilities: <access denied>``: lspci did not run as root);
      ``capabilities_seen``: number of devices with at least one readable ``Capabilities:``
      line (0 for plain ``lspci``: no ACS state can be told from it);
      ``acs_unreadable``: number of devices with an ACS capability but no ``ACSCtl`` line.
    """
    warn = warn or _noop
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    devices = []
    by_bdf = {}
    orphan_acs = []
    orphan_lines = 0
    orphan_first = None
    current = None
    counts = {"capabilities_seen": 0, "acs_unreadable": 0}

    def close():
        if current is None:
            return
        device = _finish(current, warn, counts)
        bdf = device["bdf"]
        if bdf is None:
            warn(
                "%s: header has no bus number for the device (lspci -P?); use lspci -PP "
                "or no path option to get BDFs" % _label(device)
            )
            devices.append(device)
            return
        if bdf in by_bdf:
            warn(
                "%s appears more than once (line %d and line %d); the later block is used"
                % (bdf, devices[by_bdf[bdf]]["line"], device["line"])
            )
            devices[by_bdf[bdf]] = device
        else:
            by_bdf[bdf] = len(devices)
            devices.append(device)

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line:
            close()
            current = None
            continue
        if not line[0].isspace():
            header = parse_header(line)
            close()
            current = _new_device(header, lineno) if header else None
            continue
        body = line.strip()
        key, sep, value = body.partition(":")
        key = key.strip()
        if current is None:
            orphan_lines += 1
            orphan_first = orphan_first or lineno
            if sep and key == "ACSCtl":
                flags, _missing = _acs_flags(value)
                if flags is not None:
                    orphan_acs.append(flags)
            continue
        if not sep:
            continue
        if key == "ACSCap" or key == "ACSCtl":
            flags, missing = _acs_flags(value)
            if flags is None:
                warn("%s: line %d: %s has no readable flags: %r" % (_label(current), lineno, key, body))
                continue
            if missing:
                warn(
                    "%s: line %d: %s lacks %s (truncated?); taken as off"
                    % (_label(current), lineno, key, ", ".join(missing))
                )
            current["acs_cap" if key == "ACSCap" else "acs_ctl"] = flags
        elif key == "Capabilities":
            if "access denied" in value:
                current["capabilities_denied"] = True
            else:
                current["_caps"] = True
                if "Access Control Services" in value:
                    current["_acs_header"] = True
        elif key == "LnkCap" and current["_lnkcap"] is None:
            current["_lnkcap"] = value
        elif key == "LnkSta" and current["_lnksta"] is None:
            current["_lnksta"] = value
        elif key == "Kernel driver in use":
            current["driver"] = value.strip() or None
        elif key == "Bus" and value.strip().startswith("primary="):
            # Only type 1 (PCI-to-PCI bridge) headers print "Bus: primary=...".
            current["is_bridge"] = True
    close()

    if orphan_lines:
        if orphan_acs:
            enabled = sum(1 for flags in orphan_acs if any(flags.values()))
            warn(
                "%d ACSCtl line(s) are not under a device header (grep'd or truncated "
                "lspci output, first at line %d), so they cannot be mapped to a device; "
                "%d of them show ACS enabled. Use the full `lspci -D -vvv` output."
                % (len(orphan_acs), orphan_first, enabled)
            )
        else:
            warn(
                "%d indented line(s) are not under a device header (truncated output?, "
                "first at line %d); they were ignored" % (orphan_lines, orphan_first)
            )
    return {
        "devices": devices,
        "orphan_acs_ctl": orphan_acs,
        "orphan_lines": orphan_lines,
        "capabilities_denied": sum(1 for d in devices if d["capabilities_denied"]),
        "capabilities_seen": counts["capabilities_seen"],
        "acs_unreadable": counts["acs_unreadable"],
    }


def acs_evidence(scan, text):
    """None when the ACS state of the devices could be read from ``text`` (the output
    :func:`scan_lspci` made ``scan`` from), else a sentence saying what is missing: an empty
    output, no device block, no capability line (plain ``lspci``, or ``-v`` without the
    ``ACSCtl`` lines ``-vvv`` adds), capabilities denied (not root), ACS capabilities whose
    ``ACSCtl`` line is missing."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    devices = scan["devices"]
    if not (text or "").strip():
        return "the lspci output is empty"
    if not devices:
        if scan["orphan_acs_ctl"]:
            return None  # grep'd ACSCtl lines: the state is there, the devices are not
        return "the text holds no lspci device block (it is not lspci output)"
    problems = []
    if scan["capabilities_denied"]:
        problems.append("lspci could not read the capabilities of %d of %d device(s) ('Capabilities: <access "
                        "denied>': it did not run as root)" % (scan["capabilities_denied"], len(devices)))
    if not scan["capabilities_seen"] and not scan["capabilities_denied"]:
        problems.append("the output lists %d device(s) but no capability line: it is plain lspci output, not "
                        "lspci -vvv" % len(devices))
    if scan["acs_unreadable"]:
        problems.append("%d device(s) have an ACS capability but no ACSCtl line (lspci -v instead of -vvv, or a "
                        "truncated output): their ACS state is unknown" % scan["acs_unreadable"])
    return "; ".join(problems) or None


def parse_lspci(text, warn=None):
    """Return the list of device dicts of an ``lspci -vvv`` output.

    Each dict has:
      ``bdf``: ``'0000:03:08.0'`` (None when a ``-P`` header has no bus number);
      ``path``: the bridge path as printed with ``-PP``/``-P``, else None;
      ``class``: ``'PCI bridge'``; ``name``: the rest of the header line;
      ``is_bridge``: class PCI bridge (0604/0609) or a type 1 header (``Bus: primary=``);
      ``acs_cap``/``acs_ctl``: dict over :data:`ACS_FLAGS` -> bool, None without ACS;
      ``enabled``: any ``acs_ctl`` flag set;
      ``link``: None or ``{cap_speed_gts, cap_width, sta_speed_gts, sta_width,
      downgraded}`` (speeds as float GT/s, None when ``unknown``);
      ``driver``: ``Kernel driver in use``, else None;
      ``capabilities_denied``: lspci printed ``Capabilities: <access denied>``;
      ``line``: 1-based line number of the header.
    """
    return scan_lspci(text, warn)["devices"]


# Intel Sunrise Point (100 series) and Union Point (200 series) PCH root ports keep the ACS
# control register at offset 8, not 6 (the kernel handles them with quirks); lspci shows
# nonsense ACS data for them and a write at offset 6 hits the read-only capability register.
# Same ranges as pci_quirk_intel_spt_pch_acs_match() in drivers/pci/quirks.c.
_INTEL_SPT_PCH_ROOT_PORTS = ((0xA110, 0xA11F), (0xA167, 0xA16A), (0xA290, 0xA29F), (0xA2E7, 0xA2EE))


def acs_ctl_misplaced(vendor_id, device_id):
    """True for Intel PCH root ports whose ACS control register is not where lspci reads it."""
    if vendor_id != 0x8086:
        return False
    return any(low <= device_id <= high for low, high in _INTEL_SPT_PCH_ROOT_PORTS)


def acs_devices(devices):
    """The devices that expose a readable ACS capability."""
    return [device for device in devices if device["acs_ctl"] is not None]


def acs_targets(devices, scope="bridges"):
    """Devices whose ACS should be cleared: ACS enabled and, for ``bridges``, a bridge."""
    if scope not in ("bridges", "all"):
        raise ValueError("scope must be 'bridges' or 'all', not %r" % (scope,))
    return [
        device
        for device in acs_devices(devices)
        if device["enabled"] and device["bdf"] and (scope == "all" or device["is_bridge"])
    ]
