# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers and planners for ``ipmitool`` output (no I/O, no Ansible imports).

Every parser takes the text ipmitool printed (run with ``LANG=C``) and returns plain
dicts and lists. Lines a parser does not understand go to the optional ``warn`` callback
instead of raising. A parser whose output has a header of its own (``user list``) checks
it first and raises :class:`NotThisOutput` when the text is another command's output:
that is a wrong answer, not an empty one. Tested over real captures in
tests/unit/fixtures/ipmi/.
"""

from __future__ import annotations

import re

SUPERMICRO_IANA = 10876

# Supermicro X9-X12 BMCs: raw 0x30 0x45 0x00 reads the fan mode, 0x30 0x45 0x01 <mode> sets it.
FAN_MODES = {"standard": 0, "full": 1, "optimal": 2, "heavy_io": 4}
FAN_MODE_NAMES = dict((v, k) for k, v in FAN_MODES.items())

# ipmitool's names for the channel privilege levels, and the numbers `user priv` takes.
PRIVILEGES = {"callback": 1, "user": 2, "operator": 3, "administrator": 4, "oem": 5, "no_access": 15}
_PRIV_FROM_LIST = {
    "CALLBACK": "callback", "USER": "user", "OPERATOR": "operator", "ADMINISTRATOR": "administrator",
    "OEM": "oem", "NO ACCESS": "no_access",
}

# `chassis bootdev` arguments and the selector text `chassis bootparam get 5` prints for each.
BOOT_DEVICES = {
    "none": "No override",
    "pxe": "Force PXE",
    "disk": "Force Boot from default Hard-Drive",
    "safe": "Force Boot from default Hard-Drive, request Safe-Mode",
    "diag": "Force Boot from Diagnostic Partition",
    "cdrom": "Force Boot from CD/DVD",
    "bios": "Force Boot into BIOS Setup",
    "floppy": "Force Boot from Floppy/primary removable media",
}
# ipmitool has no "usb" bootdev; a USB stick is the primary removable media.
BOOT_DEVICE_ALIASES = {"usb": "floppy"}

THRESHOLD_KEYS = ("lnr", "lcr", "lnc", "unc", "ucr", "unr")
THRESHOLD_NAMES = {
    "lnr": "lower non-recoverable", "lcr": "lower critical", "lnc": "lower non-critical",
    "unc": "upper non-critical", "ucr": "upper critical", "unr": "upper non-recoverable",
}


def _noop(_msg):
    return None


class NotThisOutput(ValueError):
    """The text is not the output of the command the parser reads (``command``); ``msg``
    says so and quotes how the text starts."""

    kind = "unexpected_output"

    def __init__(self, command, expected, text):
        first = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
        self.command = command
        self.msg = ("this is not `ipmitool %s` output: it has no %s line (%s)" % (
            command, expected, "it starts with %r" % first[:80] if first else "the output is empty"))
        ValueError.__init__(self, self.msg)


def parse_colon_blocks(text, warn=None):
    """``Key : value`` lines (``mc info``, ``lan print``) into an ordered list of
    ``(key, value, continuation_lines)``. A line that starts with spaces and a colon
    (``                        : User : MD5``) or with spaces alone (``    Sensor Device``)
    continues the previous key."""
    warn = warn or _noop
    entries = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        if line[0] in " \t":
            stripped = line.strip()
            if stripped.startswith(":"):
                stripped = stripped[1:].strip()
            if entries:
                entries[-1][2].append(stripped)
            else:
                warn("continuation line without a key: %r" % line)
            continue
        if ":" not in line:
            warn("line without a colon: %r" % line)
            continue
        key, value = line.split(":", 1)
        entries.append((key.strip(), value.strip(), []))
    return entries


def _first(entries, key):
    for k, v, cont in entries:
        if k == key:
            return v, cont
    return None, []


def _int_or_none(text):
    try:
        return int(text.split()[0], 0)
    except (ValueError, IndexError, AttributeError):
        return None


def parse_mc_info(text, warn=None):
    """``ipmitool mc info`` -> dict: device_id, firmware_revision, ipmi_version,
    manufacturer_id (int), manufacturer_name, product_id (int), product_name,
    additional_device_support (list), and ``supermicro`` (manufacturer id 10876)."""
    entries = parse_colon_blocks(text, warn)

    def get(key):
        return _first(entries, key)[0]

    manufacturer_id = _int_or_none(get("Manufacturer ID"))
    product = get("Product ID")
    info = {
        "device_id": _int_or_none(get("Device ID")),
        "device_revision": _int_or_none(get("Device Revision")),
        "firmware_revision": get("Firmware Revision"),
        "ipmi_version": get("IPMI Version"),
        "manufacturer_id": manufacturer_id,
        "manufacturer_name": get("Manufacturer Name"),
        "product_id": _int_or_none(product),
        "product_name": get("Product Name"),
        "device_available": get("Device Available") == "yes" if get("Device Available") else None,
        "additional_device_support": _first(entries, "Additional Device Support")[1],
        "supermicro": manufacturer_id == SUPERMICRO_IANA,
    }
    return info


def _vlan(value):
    if value is None:
        return None
    if value.strip().lower() == "disabled":
        return None
    return _int_or_none(value)


def parse_lan_print(text, warn=None):
    """``ipmitool lan print [channel]`` -> dict with ip_source (static, dhcp, bios, none,
    other), ip_address, netmask, mac_address, gateway, gateway_mac, backup_gateway, vlan_id
    (int, or None when 802.1q is disabled), vlan_priority, cipher_suites (list of int) and
    ``raw`` (every key as printed)."""
    entries = parse_colon_blocks(text, warn)
    raw = dict((k, v) for k, v, _c in entries)
    source = (raw.get("IP Address Source") or "").lower()
    if source.startswith("static"):
        ip_source = "static"
    elif source.startswith("dhcp"):
        ip_source = "dhcp"
    elif source.startswith("bios"):
        ip_source = "bios"
    elif source.startswith("unspecified"):
        ip_source = "none"
    elif source:
        ip_source = "other"
    else:
        ip_source = None
    suites = raw.get("RMCP+ Cipher Suites")
    return {
        "ip_source": ip_source,
        "ip_address": raw.get("IP Address"),
        "netmask": raw.get("Subnet Mask"),
        "mac_address": (raw.get("MAC Address") or "").lower() or None,
        "gateway": raw.get("Default Gateway IP"),
        "gateway_mac": (raw.get("Default Gateway MAC") or "").lower() or None,
        "backup_gateway": raw.get("Backup Gateway IP"),
        "vlan_id": _vlan(raw.get("802.1q VLAN ID")),
        "vlan_priority": _int_or_none(raw.get("802.1q VLAN Priority")),
        "cipher_suites": [int(s) for s in re.findall(r"\d+", suites)] if suites else [],
        "raw": raw,
    }


# ipmitool prints it as "ID  Name\t     Callin  Link Auth\tIPMI Msg   Channel Priv Limit".
USER_LIST_HEADER = "ID  Name  Callin  Link Auth  IPMI Msg  Channel Priv Limit"
_USER_HEADER = re.compile(r"^ID\s+Name\s+Callin\s+Link\s+Auth\s+IPMI\s+Msg\s+Channel\s+Priv\s+Limit\s*$")
_USER_ROW = re.compile(
    r"^(?P<id>\d+)\s+(?P<name>.*?)\s+(?P<callin>true|false)\s+(?P<link>true|false)\s+"
    r"(?P<msg>true|false)\s+(?P<priv>.+?)\s*$")


def parse_user_list(text, warn=None):
    """``ipmitool user list [channel]`` -> list of dicts: id, name ('' for an empty slot),
    callin, link_auth, ipmi_msg (bools), privilege (administrator, operator, user,
    callback, oem, no_access, or ``unknown`` for Supermicro's ``Unknown (0x00)``) and
    privilege_raw (as printed).

    Raises :class:`NotThisOutput` when the text has no ``user list`` header (another
    command's output, such as ``lan print`` or ``mc info``, or nothing at all): reading it
    as a list with no users would make every slot look taken, or every user missing."""
    warn = warn or _noop
    lines = (text or "").splitlines()
    if not any(_USER_HEADER.match(line.strip()) for line in lines):
        raise NotThisOutput("user list", "'%s' header" % USER_LIST_HEADER, text)
    users = []
    for raw in lines:
        line = raw.rstrip()
        if not line.strip() or _USER_HEADER.match(line.strip()):
            continue
        match = _USER_ROW.match(line)
        if not match:
            warn("user list line not understood: %r" % line)
            continue
        priv_raw = match.group("priv")
        users.append({
            "id": int(match.group("id")),
            "name": match.group("name").strip(),
            "callin": match.group("callin") == "true",
            "link_auth": match.group("link") == "true",
            "ipmi_msg": match.group("msg") == "true",
            "privilege": _PRIV_FROM_LIST.get(priv_raw.upper(), "unknown"),
            "privilege_raw": priv_raw,
        })
    return users


def _number(text):
    text = (text or "").strip()
    if not text or text.lower() in ("na", "n/a", "no reading", "disabled"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_sensor(text, warn=None):
    """``ipmitool sensor`` (10 columns) -> list of dicts: name, value (float or None),
    value_raw, unit, status (ok, nc, cr, nr, na, ns, or a discrete hex state), discrete
    (bool) and the six thresholds lnr, lcr, lnc, unc, ucr, unr (float or None)."""
    warn = warn or _noop
    sensors = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        cols = [c.strip() for c in raw.split("|")]
        if len(cols) < 4:
            warn("sensor line not understood: %r" % raw.rstrip())
            continue
        cols += [""] * (10 - len(cols))
        name, value_raw, unit, status = cols[0], cols[1], cols[2], cols[3]
        sensor = {
            "name": name,
            "value": _number(value_raw),
            "value_raw": value_raw,
            "unit": unit,
            "status": status,
            "discrete": unit == "discrete",
        }
        if sensor["discrete"]:
            sensor["value"] = None
        for key, col in zip(("lnr", "lcr", "lnc", "unc", "ucr", "unr"), cols[4:10]):
            sensor[key] = None if sensor["discrete"] else _number(col)
        sensors.append(sensor)
    return sensors


_SDR_VALUE = re.compile(r"^(?P<num>-?\d+(?:\.\d+)?)\s*(?P<unit>.*)$")


def parse_sdr(text, warn=None):
    """``ipmitool sdr`` / ``sdr list`` (3 columns) -> list of dicts: name, value (float or
    None), unit, value_raw, status (ok, ns, cr, nc, nr, ...). Discrete readings (``0x01``)
    keep value None and their text in value_raw."""
    warn = warn or _noop
    sensors = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        cols = [c.strip() for c in raw.split("|")]
        if len(cols) != 3:
            warn("sdr line not understood: %r" % raw.rstrip())
            continue
        name, reading, status = cols
        value, unit = None, ""
        match = _SDR_VALUE.match(reading)
        if match and not reading.startswith("0x"):
            value = float(match.group("num"))
            unit = match.group("unit").strip()
        sensors.append({"name": name, "value": value, "unit": unit, "value_raw": reading, "status": status})
    return sensors


def parse_power_status(text):
    """``chassis power status`` -> 'on', 'off' or None."""
    match = re.search(r"Chassis Power is (on|off)", text or "")
    return match.group(1) if match else None


def parse_bootparam_5(text, warn=None):
    """``chassis bootparam get 5`` -> dict: data (hex string), valid, persistent, efi
    (bools from the flag byte), device (our name: pxe, disk, bios, cdrom, floppy, ...,
    or None), selector (as printed)."""
    warn = warn or _noop
    data_match = re.search(r"Boot parameter data:\s*([0-9a-fA-F]+)", text or "")
    result = {"data": None, "valid": None, "persistent": None, "efi": None, "device": None, "selector": None}
    if not data_match:
        warn("no 'Boot parameter data' line in chassis bootparam get 5 output")
        return result
    data = data_match.group(1).lower()
    result["data"] = data
    if len(data) >= 4:
        flags = int(data[0:2], 16)
        selector_byte = int(data[2:4], 16)
        result["valid"] = bool(flags & 0x80)
        result["persistent"] = bool(flags & 0x40)
        result["efi"] = bool(flags & 0x20)
        code = (selector_byte >> 2) & 0x0F
        by_code = {0x0: "none", 0x1: "pxe", 0x2: "disk", 0x3: "safe", 0x4: "diag", 0x5: "cdrom",
                   0x6: "bios", 0xF: "floppy"}
        result["device"] = by_code.get(code)
    sel = re.search(r"Boot Device Selector\s*:\s*(.+)", text or "")
    if sel:
        result["selector"] = sel.group(1).strip()
    return result


def parse_raw_bytes(text):
    """``ipmitool raw`` output (`` 01 02``) -> list of ints."""
    return [int(tok, 16) for tok in (text or "").split() if re.match(r"^[0-9a-fA-F]{1,2}$", tok)]


def classify_failure(rc, stdout, stderr):
    """(error_kind, sentence) for a failed ipmitool run. Kinds: auth_failed (wrong password),
    unknown_user, unreachable, session_failed, invalid_command (the BMC does not implement
    the command), insufficient_privilege, no_device (no /dev/ipmi0 in-band), failed."""
    text = "%s\n%s" % (stdout or "", stderr or "")
    if "RAKP 2 HMAC is invalid" in text or "password invalid" in text.lower() or \
            "Activate Session error:\tInvalid user name" in text:
        return "auth_failed", "the BMC refused the password (RAKP 2 HMAC invalid)"
    if "unauthorized name" in text:
        return "unknown_user", "the BMC has no user of that name"
    if "Get Auth Capabilities error" in text or "Error issuing Get Channel Authentication" in text or \
            "No response from remote controller" in text:
        return "unreachable", "no answer from the BMC (address, port, firewall, or the BMC is down)"
    if "Could not open device" in text or "/dev/ipmi" in text:
        return "no_device", ("no IPMI device on this host (/dev/ipmi0 missing: load ipmi_si and ipmi_devintf, "
                             "or the host has no BMC)")
    if "Unable to establish IPMI v2 / RMCP+ session" in text or "Unable to establish LAN session" in text:
        return "session_failed", "could not open a session with the BMC"
    if "rsp=0xc1" in text or "Invalid command" in text:
        return "invalid_command", "the BMC does not implement this command (completion code 0xc1)"
    if "rsp=0xd4" in text or "Insufficient privilege" in text:
        return "insufficient_privilege", "the user's privilege is too low for this command"
    return "failed", "ipmitool exited with %s" % rc


def sensor_findings(sensors, limits=None, ignore=None):
    """Judge sensors read by ``parse_sensor``. Returns a list of findings, worst first:
    dicts with sensor, value, unit, level ('critical' or 'warning'), threshold (key),
    threshold_value and msg (one sentence naming the sensor, its value and the threshold).

    A reading at or above ucr/unr (or at or below lcr/lnr) is critical; at or above unc (at
    or below lnc) a warning. ipmitool's own status (cr, nr, nc) counts too, for sensors
    whose thresholds are not readable. ``limits`` adds our own: ``{name: {"max": 85}}`` or
    ``{name: {"min": 300}}`` (critical), ``{name: {"warn_max": ...}}``. Sensors named in
    ``ignore`` are skipped."""
    limits = limits or {}
    ignore = set(ignore or [])
    findings = []
    for sensor in sensors:
        name = sensor.get("name")
        if name in ignore:
            continue
        value = sensor.get("value")
        unit = sensor.get("unit") or ""
        found = None
        if value is not None:
            checks = [("unr", "critical", "above"), ("ucr", "critical", "above"),
                      ("lnr", "critical", "below"), ("lcr", "critical", "below"),
                      ("unc", "warning", "above"), ("lnc", "warning", "below")]
            for key, level, direction in checks:
                threshold = sensor.get(key)
                if threshold is None:
                    continue
                if (direction == "above" and value >= threshold) or (direction == "below" and value <= threshold):
                    found = _finding(name, value, unit, level, key, threshold, direction)
                    break
            own = limits.get(name) or {}
            for key, level, direction in (("max", "critical", "above"), ("min", "critical", "below"),
                                          ("warn_max", "warning", "above"), ("warn_min", "warning", "below")):
                if own.get(key) is None or (found and found["level"] == "critical"):
                    continue
                threshold = float(own[key])
                if (direction == "above" and value > threshold) or (direction == "below" and value < threshold):
                    found = _finding(name, value, unit, level, key, threshold, direction)
                    break
        if found is None:
            status = (sensor.get("status") or "").lower()
            if status in ("cr", "nr"):
                found = {"sensor": name, "value": value, "unit": unit, "level": "critical", "threshold": status,
                         "threshold_value": None,
                         "msg": "%s reads %s with status %s (%s) as the BMC judges it" % (
                             name, sensor.get("value_raw"), status,
                             "critical" if status == "cr" else "non-recoverable")}
            elif status == "nc":
                found = {"sensor": name, "value": value, "unit": unit, "level": "warning", "threshold": status,
                         "threshold_value": None,
                         "msg": "%s reads %s with status nc (non-critical) as the BMC judges it" % (
                             name, sensor.get("value_raw"))}
        if found:
            findings.append(found)
    findings.sort(key=lambda f: 0 if f["level"] == "critical" else 1)
    return findings


def _fmt(number):
    return ("%.3f" % number).rstrip("0").rstrip(".")


def _finding(name, value, unit, level, key, threshold, direction):
    label = THRESHOLD_NAMES.get(key) or {"max": "configured maximum", "min": "configured minimum",
                                         "warn_max": "configured warning maximum",
                                         "warn_min": "configured warning minimum"}[key]
    unit_txt = (" " + unit) if unit else ""
    return {
        "sensor": name, "value": value, "unit": unit, "level": level, "threshold": key,
        "threshold_value": threshold,
        "msg": "%s reads %s%s, %s its %s threshold of %s%s" % (
            name, _fmt(value), unit_txt, "at or above" if direction == "above" else "at or below",
            label, _fmt(threshold), unit_txt),
    }


def plan_user(current, wanted, login_ok):
    """Commands (ipmitool argv tails) to make one user slot match ``wanted``.

    ``current``: the slot from ``parse_user_list`` (or None when the name is new, then
    ``wanted['id']`` is the free slot); ``wanted``: name, id, privilege, channel, and
    ``password`` (or None); ``login_ok``: whether logging in as this user with the wanted
    password worked (None when not tried). Passwords are never put in the returned
    argv lists; the caller sends ``('password', id)`` markers through a command file."""
    uid = wanted["id"]
    chan = wanted["channel"]
    priv = wanted.get("privilege") or "administrator"
    steps = []
    if current is None or current.get("name") != wanted["name"]:
        steps.append(["user", "set", "name", str(uid), wanted["name"]])
    if wanted.get("password") is not None and not login_ok:
        steps.append(("password", uid))
        steps.append(["user", "enable", str(uid)])
    access_ok = current is not None and current.get("privilege") == priv and current.get("ipmi_msg") \
        and current.get("link_auth")
    if not access_ok:
        steps.append(["channel", "setaccess", str(chan), str(uid), "link=on", "ipmi=on", "callin=on",
                      "privilege=%d" % PRIVILEGES[priv]])
    return steps


def plan_lan(current, wanted, channel):
    """argv tails of ``ipmitool lan set`` to make the channel match ``wanted`` (keys
    ip_source static/dhcp, ip_address, netmask, gateway, vlan_id: int, or 0/'off' to
    disable). Keys that are None are left alone. Static fields are only compared when the
    wanted source is static."""
    chan = str(channel)
    steps = []
    source = wanted.get("ip_source")
    if source and current.get("ip_source") != source:
        steps.append(["lan", "set", chan, "ipsrc", source])
    effective_source = source or current.get("ip_source")
    if effective_source == "static":
        for key, word in (("ip_address", "ipaddr"), ("netmask", "netmask")):
            if wanted.get(key) and current.get(key) != wanted[key]:
                steps.append(["lan", "set", chan, word, wanted[key]])
        if wanted.get("gateway") and current.get("gateway") != wanted["gateway"]:
            steps.append(["lan", "set", chan, "defgw", "ipaddr", wanted["gateway"]])
    vlan = wanted.get("vlan_id")
    if vlan is not None:
        off = vlan in (0, "0", "off", "disabled", False)
        if off and current.get("vlan_id") is not None:
            steps.append(["lan", "set", chan, "vlan", "id", "off"])
        elif not off and current.get("vlan_id") != int(vlan):
            steps.append(["lan", "set", chan, "vlan", "id", str(int(vlan))])
    return steps


def boot_device_matches(current, device, persistent=False, efi=False):
    """Whether ``chassis bootparam get 5`` (parsed) already asks for ``device``. The flag
    byte (persistent, EFI) is compared only when the BMC marks the flags valid; some BMCs
    (and OpenIPMI's ipmi_sim) keep only the device selector."""
    device = BOOT_DEVICE_ALIASES.get(device, device)
    if current.get("device") != device:
        return False
    if current.get("valid"):
        return bool(current.get("persistent")) == bool(persistent) and bool(current.get("efi")) == bool(efi)
    return True
