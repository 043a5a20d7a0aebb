# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for ``nvidia-smi`` output, and the classifier of its failures.

No Ansible imports: the module ``aiserver.gpu.nvidia_smi_info`` (through
``_nvidia_smi_run``), the power-limit module and the unit tests use these directly.

What is here
    * :func:`parse_query_xml` reads ``nvidia-smi -q -x`` (schemas ``nvsmi_device_v10`` to
      ``v13``: ``power_readings`` or ``gpu_power_readings``, ``power_limit`` or
      ``current_power_limit``, reduced files without ``driver_version``...).
    * :func:`parse_topology` reads ``nvidia-smi topo -m`` (tab separated or tab-expanded,
      ANSI underline/bold codes, NIC rows and ``NIC Legend:``, prompt lines, cut short).
    * :func:`parse_p2p` reads ``nvidia-smi topo -p2p r|w|rw|n|a|p``.
    * :func:`classify_failure` turns a run of ``nvidia-smi`` (rc, stdout, stderr) into an
      ``(error_kind, msg)`` pair, or None when the run succeeded.

What is never done
    * raise on odd but readable input: the parsers skip what they cannot understand and say
      so through the ``warn`` callable given by the caller (one call per problem). Only
      :func:`parse_query_xml` raises, :class:`NvidiaSmiParseError`, when the text is not
      ``nvidia-smi -q -x`` XML at all.

Values nvidia-smi cannot give
    ``N/A``, ``[N/A]``, ``Not Supported``, ``[Not Supported]``, ``Requested functionality
    has been deprecated``, ``Insufficient Permissions``... become None. Values that say
    something went wrong (``Unknown Error``, ``GPU is lost``, or any number that does not
    parse) become None too, with a warning naming the GPU and the field.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

# --------------------------------------------------------------------------- common

ERROR_KINDS = (
    "not_installed",
    "driver_not_loaded",
    "driver_library_mismatch",
    "nvml_unknown_error",
    "gpu_lost",
    "no_devices",
    "access_blocked",
    "timeout",
    "unparsable",
    # nvidia-smi's other documented exit codes (man nvidia-smi, RETURN VALUE; NVML's nvmlReturn_t)
    "invalid_argument",
    "not_supported",
    "insufficient_permissions",
    "not_found",
    "insufficient_power",
    "irq_issue",
    "function_not_found",
    "inforom_corrupted",
    "reset_required",
    "internal_error",
    # ended by a signal (SIGSEGV, SIGABRT...), or an exit status nvidia-smi does not document
    "crashed",
    "failed",
)

# nvidia-smi's own words for "no value here": no warning when a field says one of these.
_NOT_AVAILABLE = frozenset(
    value.lower()
    for value in (
        "", "N/A", "[N/A]", "Not Supported", "[Not Supported]", "Not Available", "None",
        "Requested functionality has been deprecated", "Insufficient Permissions",
        "[Insufficient Permissions]", "Not Found", "Unknown",
    )
)

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NUMBER_RE = re.compile(r"^\s*([-+]?[0-9]+(?:\.[0-9]+)?)\s*([A-Za-z%/]*)\s*$")
_BUS_ID_RE = re.compile(
    r"^\s*(?:(?P<domain>[0-9A-Fa-f]{1,8}):)?(?P<bus>[0-9A-Fa-f]{1,2}):(?P<dev>[0-9A-Fa-f]{1,2})\.(?P<fn>[0-7])\s*$"
)


class NvidiaSmiParseError(ValueError):
    """The text is not ``nvidia-smi -q -x`` output (not XML, or not an ``nvidia_smi_log``)."""


def _noop(_msg):
    return None


def strip_ansi(text):
    """``text`` without ANSI escape sequences (``ESC[4m`` underline, ``ESC[1m`` bold, ``ESC[0m``)."""
    return _ANSI_RE.sub("", text or "")


def normalize_bus_id(value):
    """A PCI bus id as ``dddd:bb:dd.f``, lower case, 4-digit domain, or None.

    nvidia-smi writes ``00000000:01:00.0`` (8-digit domain, upper case hex), lspci and
    sysfs ``0000:01:00.0``; both (and ``01:00.0``, domain 0) become ``0000:01:00.0`` so the
    ids compare equal to what other modules read from sysfs and lspci. A value that is not a
    bus id gives None.
    """
    if value is None:
        return None
    match = _BUS_ID_RE.match(str(value))
    if not match:
        return None
    domain = int(match.group("domain") or "0", 16)
    return "%04x:%02x:%02x.%s" % (domain, int(match.group("bus"), 16), int(match.group("dev"), 16),
                                  match.group("fn"))


def _is_not_available(value):
    return value is None or value.strip().lower() in _NOT_AVAILABLE


# --------------------------------------------------------------------------- nvidia-smi -q -x


class _Gpu(object):
    """Reads the fields of one ``<gpu>`` element; remembers what it could not read."""

    def __init__(self, element, label, warn):
        self.element = element
        self.label = label
        self.warn = warn

    def _node(self, paths):
        for path in paths:
            node = self.element.find(path)
            if node is not None:
                return path, node
        return None, None

    def text(self, *paths):
        """The stripped text of the first of ``paths`` present; None when absent or N/A."""
        path, node = self._node(paths)
        if node is None:
            return None
        value = (node.text or "").strip()
        if _is_not_available(value):
            return None
        if value.lower().strip("[]") in ("unknown error", "gpu is lost"):
            self.warn("%s: <%s> says %r; reported as null" % (self.label, path, value))
            return None
        return value

    def number(self, kind, *paths):
        """The number in the first of ``paths`` present (``215.00 W``, ``16x``, ``8192 MiB``)."""
        path, node = self._node(paths)
        if node is None:
            return None
        value = (node.text or "").strip()
        if _is_not_available(value):
            return None
        match = _NUMBER_RE.match(value)
        if not match:
            self.warn("%s: <%s> is %r, not a number; reported as null" % (self.label, path, value))
            return None
        return kind(float(match.group(1))) if kind is int else float(match.group(1))

    def flag(self, *paths):
        """``Enabled``/``Disabled`` (or ``Yes``/``No``) as a bool; None when N/A or absent."""
        value = self.text(*paths)
        if value is None:
            return None
        lowered = value.lower()
        if lowered in ("enabled", "yes", "on", "true"):
            return True
        if lowered in ("disabled", "no", "off", "false"):
            return False
        path = self._node(paths)[0]
        self.warn("%s: <%s> is %r, neither Enabled nor Disabled; reported as null" % (self.label, path, value))
        return None


def _root_text(root, name):
    node = root.find(name)
    if node is None:
        return None
    value = (node.text or "").strip()
    return None if _is_not_available(value) else value


def _parse_gpu(element, position, warn):
    bus_raw = element.get("id")
    label = "GPU %d (%s)" % (position, bus_raw or "no id")
    gpu = _Gpu(element, label, warn)
    bus_id = normalize_bus_id(bus_raw) or normalize_bus_id(gpu.text("pci/pci_bus_id"))
    if bus_id is None:
        warn("%s: no readable PCI bus id (<gpu id> nor <pci/pci_bus_id>)" % label)
    minor = gpu.number(int, "minor_number")
    record = {
        "index": position,
        "minor_number": minor,
        "name": gpu.text("product_name"),
        "product_brand": gpu.text("product_brand"),
        "architecture": gpu.text("product_architecture"),
        "uuid": gpu.text("uuid"),
        "pci_bus_id": bus_id,
        "serial": gpu.text("serial"),
        "vbios_version": gpu.text("vbios_version"),
        "persistence_mode": gpu.flag("persistence_mode"),
        "compute_mode": gpu.text("compute_mode"),
        "mig_mode": gpu.text("mig_mode/current_mig"),
        "mig_mode_pending": gpu.text("mig_mode/pending_mig"),
        "ecc_mode": gpu.text("ecc_mode/current_ecc"),
        "performance_state": gpu.text("performance_state"),
        "memory_total_mib": gpu.number(int, "fb_memory_usage/total"),
        "memory_used_mib": gpu.number(int, "fb_memory_usage/used"),
        # v13 (drivers >= 530): gpu_power_readings/current_power_limit is the limit in force
        # ("Current Power Limit"); v10-v12: power_readings/enforced_power_limit, or power_limit.
        "power_limit_w": gpu.number(
            float, "gpu_power_readings/current_power_limit", "power_readings/current_power_limit",
            "power_readings/enforced_power_limit", "power_readings/power_limit"),
        "power_requested_limit_w": gpu.number(
            float, "gpu_power_readings/requested_power_limit", "power_readings/requested_power_limit",
            "power_readings/power_limit"),
        "power_default_limit_w": gpu.number(
            float, "gpu_power_readings/default_power_limit", "power_readings/default_power_limit"),
        "power_min_limit_w": gpu.number(
            float, "gpu_power_readings/min_power_limit", "power_readings/min_power_limit"),
        "power_max_limit_w": gpu.number(
            float, "gpu_power_readings/max_power_limit", "power_readings/max_power_limit"),
        "power_draw_w": gpu.number(
            float, "gpu_power_readings/instant_power_draw", "gpu_power_readings/power_draw",
            "power_readings/power_draw", "gpu_power_readings/average_power_draw",
            "power_readings/instant_power_draw", "power_readings/average_power_draw"),
        "pcie_gen_current": gpu.number(int, "pci/pci_gpu_link_info/pcie_gen/current_link_gen"),
        "pcie_gen_max": gpu.number(int, "pci/pci_gpu_link_info/pcie_gen/max_link_gen"),
        "pcie_width_current": gpu.number(int, "pci/pci_gpu_link_info/link_widths/current_link_width"),
        "pcie_width_max": gpu.number(int, "pci/pci_gpu_link_info/link_widths/max_link_width"),
        "temperature_c": gpu.number(int, "temperature/gpu_temp"),
        "fabric_state": gpu.text("fabric/state"),
        "fabric_status": gpu.text("fabric/status"),
        "fabric_health_summary": gpu.text("fabric/health/summary"),
    }
    record.update(_health_fields(gpu))
    return record


# ECC counters: the leaf names of each schema, per kind of error. v12/v13 (drivers >= 520)
# count by memory (sram_*, dram_*; v13 splits SRAM uncorrectable into parity and SEC-DED);
# v10/v11 count by bit (single_bit/*, double_bit/*, with a <total>).
_ECC_CORRECTABLE = ("sram_correctable", "dram_correctable")
_ECC_UNCORRECTABLE = ("sram_uncorrectable", "sram_uncorrectable_parity", "sram_uncorrectable_secded",
                      "dram_uncorrectable")
_REASON_PREFIXES = ("clocks_event_reason_", "clocks_throttle_reason_")


def _ecc_counts(gpu, scope):
    """``(detail, correctable, uncorrectable)`` for ``ecc_errors/<scope>``: the detail maps
    each leaf (``sram_correctable``, ``single_bit_device_memory``...) to an int or None; the
    totals add the known leaves (v11: the ``<total>`` nvidia-smi gives), None when none is a
    number (N/A on boards without ECC)."""
    node = gpu.element.find("ecc_errors/" + scope)
    if node is None:
        return None, None, None
    detail = {}
    for child in node:
        if len(child):  # v10/v11: <single_bit><device_memory>..</single_bit>
            for leaf in child:
                detail["%s_%s" % (child.tag, leaf.tag)] = gpu.number(
                    int, "ecc_errors/%s/%s/%s" % (scope, child.tag, leaf.tag))
        elif child.tag != "sram_threshold_exceeded":  # a Yes/No flag, read on its own
            detail[child.tag] = gpu.number(int, "ecc_errors/%s/%s" % (scope, child.tag))
    if "single_bit_total" in detail or "double_bit_total" in detail:
        return detail, detail.get("single_bit_total"), detail.get("double_bit_total")
    return detail, _sum(detail, _ECC_CORRECTABLE), _sum(detail, _ECC_UNCORRECTABLE)


def _sum(detail, names):
    values = [detail[name] for name in names if detail.get(name) is not None]
    return sum(values) if values else None


def _clock_reasons(gpu):
    """``{reason: bool}`` from ``clocks_event_reasons`` (v13) or ``clocks_throttle_reasons``
    (v10-v12), the prefix dropped (``hw_slowdown``, ``sw_power_cap``...): True for
    ``Active``, False for ``Not Active``; None when the GPU reports none."""
    for path in ("clocks_event_reasons", "clocks_throttle_reasons", "clocks_reasons"):
        node = gpu.element.find(path)
        if node is None:
            continue
        reasons = {}
        for child in node:
            name = child.tag
            for prefix in _REASON_PREFIXES:
                if name.startswith(prefix):
                    name = name[len(prefix):]
            value = gpu.text("%s/%s" % (path, child.tag))
            if value is None:
                continue
            lowered = value.lower()
            if lowered in ("active", "not active"):
                reasons[name] = lowered == "active"
            else:
                gpu.warn("%s: <%s/%s> is %r, neither Active nor Not Active; left out"
                         % (gpu.label, path, child.tag, value))
        return reasons or None
    return None


def _health_fields(gpu):
    """The health figures of one ``<gpu>``: ECC mode and counters, retired pages, row
    remapping, clock event (throttle) reasons. Absent or N/A fields are None."""
    volatile, volatile_corr, volatile_unc = _ecc_counts(gpu, "volatile")
    aggregate, aggregate_corr, aggregate_unc = _ecc_counts(gpu, "aggregate")
    ecc_errors = None if volatile is None and aggregate is None else {"volatile": volatile, "aggregate": aggregate}
    pending = [gpu.flag(path) for path in ("retired_pages/pending_retirement", "retired_pages/pending_blacklist")]
    known = [value for value in pending if value is not None]
    return {
        "ecc_mode_pending": gpu.text("ecc_mode/pending_ecc"),
        "ecc_errors": ecc_errors,
        "ecc_volatile_correctable": volatile_corr,
        "ecc_volatile_uncorrectable": volatile_unc,
        "ecc_aggregate_correctable": aggregate_corr,
        "ecc_aggregate_uncorrectable": aggregate_unc,
        "ecc_sram_threshold_exceeded": gpu.flag("ecc_errors/aggregate/sram_threshold_exceeded"),
        "retired_pages_single_bit": gpu.number(int, "retired_pages/multiple_single_bit_retirement/retired_count"),
        "retired_pages_double_bit": gpu.number(int, "retired_pages/double_bit_retirement/retired_count"),
        "retired_pages_pending": any(known) if known else None,
        "remapped_rows_correctable": gpu.number(int, "remapped_rows/remapped_row_corr"),
        "remapped_rows_uncorrectable": gpu.number(int, "remapped_rows/remapped_row_unc"),
        "remapped_rows_pending": gpu.flag("remapped_rows/remapped_row_pending"),
        "remapped_rows_failure": gpu.flag("remapped_rows/remapped_row_failure"),
        "clocks_event_reasons": _clock_reasons(gpu),
    }


def parse_query_xml(text, warn=None):
    """Parse ``nvidia-smi -q -x`` output.

    Returns ``{"driver_version", "cuda_version", "attached_gpus", "gpu_count", "gpus"}``:
    the versions are strings (None when absent, as in reduced v10 files), ``attached_gpus``
    is the int nvidia-smi reports (None when absent), ``gpu_count`` the number of ``<gpu>``
    elements described, ``gpus`` one dict per ``<gpu>`` in document order with the keys:

    * ``index``: position in the XML, 0-based. nvidia-smi lists GPUs in PCI bus order, the
      order of ``nvidia-smi -i N`` and of ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; ``minor_number``
      (the N of ``/dev/nvidiaN``, int or None) is given separately because it can differ;
    * ``name``, ``product_brand``, ``architecture``, ``uuid``, ``serial``, ``vbios_version``,
      ``compute_mode``, ``mig_mode`` (current MIG mode, ``Enabled``/``Disabled``, None when
      N/A), ``mig_mode_pending``, ``ecc_mode``, ``performance_state``, ``fabric_state``,
      ``fabric_status``: strings or None;
    * ``pci_bus_id``: from ``<gpu id=...>`` (else ``pci/pci_bus_id``), normalised by
      :func:`normalize_bus_id` to ``0000:01:00.0``;
    * ``persistence_mode``: bool, None when N/A;
    * ``memory_total_mib``, ``memory_used_mib``, ``pcie_gen_current``, ``pcie_gen_max``,
      ``pcie_width_current``, ``pcie_width_max``, ``temperature_c``: int or None;
    * ``power_limit_w`` (the limit in force: ``current_power_limit``, else
      ``enforced_power_limit``, else ``power_limit``), ``power_requested_limit_w``,
      ``power_default_limit_w``, ``power_min_limit_w``, ``power_max_limit_w``,
      ``power_draw_w`` (``instant_power_draw``, else ``power_draw``, else
      ``average_power_draw``): float or None;
    * health figures (None when absent or N/A): ``ecc_mode_pending``; ``ecc_errors``
      (``{"volatile": {leaf: int}, "aggregate": {...}}`` with the schema's own leaf names,
      ``sram_correctable``... or v11's ``single_bit_total``...); the totals
      ``ecc_volatile_correctable``, ``ecc_volatile_uncorrectable``,
      ``ecc_aggregate_correctable``, ``ecc_aggregate_uncorrectable`` (SRAM plus DRAM, or
      single/double bit ``<total>``); ``ecc_sram_threshold_exceeded`` (bool, v13);
      ``retired_pages_single_bit``, ``retired_pages_double_bit`` (int),
      ``retired_pages_pending`` (bool: pending retirement or pending blacklist);
      ``remapped_rows_correctable``, ``remapped_rows_uncorrectable`` (int),
      ``remapped_rows_pending``, ``remapped_rows_failure`` (bool);
      ``clocks_event_reasons`` (``{"hw_slowdown": False, "sw_power_cap": True, ...}`` from
      ``clocks_event_reasons`` or the older ``clocks_throttle_reasons``);
      ``fabric_health_summary`` (str, NVSwitch systems).

    Text before the XML (a warning nvidia-smi printed first) is skipped with a warning.
    ``warn`` (a callable taking one string) also hears of unreadable fields, of an
    ``attached_gpus`` that differs from the number of GPUs described, and of GPUs that share
    one PCI bus id (an inconsistent read: :func:`duplicates` finds them).

    Raises :class:`NvidiaSmiParseError` when the text is not ``nvidia_smi_log`` XML.
    """
    warn = warn or _noop
    if text is None or not text.strip():
        raise NvidiaSmiParseError("empty output, expected nvidia-smi -q -x XML")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    start = text.find("<")
    if start < 0:
        raise NvidiaSmiParseError("no XML in the output: %r" % _first_line(text))
    if text[:start].strip():
        warn("skipped text before the XML: %r" % _first_line(text[:start]))
    body = text[start:]
    # Strip the DOCTYPE: its DTD is never read, and refusing DTDs keeps entity tricks out.
    body = re.sub(r"<!DOCTYPE[^>\[]*(\[[^\]]*\])?\s*>", "", body, count=1)
    if "<!ENTITY" in body or "<!DOCTYPE" in body:
        raise NvidiaSmiParseError("the XML declares entities; nvidia-smi never does")
    try:
        root = ET.fromstring(body.encode("utf-8"))
    except ET.ParseError as exc:
        raise NvidiaSmiParseError("not well-formed XML: %s" % exc)
    if root.tag != "nvidia_smi_log":
        raise NvidiaSmiParseError("root element is <%s>, expected <nvidia_smi_log>" % root.tag)

    attached_raw = _root_text(root, "attached_gpus")
    attached = None
    if attached_raw is not None:
        try:
            attached = int(attached_raw)
        except ValueError:
            warn("<attached_gpus> is %r, not a number" % attached_raw)
    gpus = [_parse_gpu(element, position, warn) for position, element in enumerate(root.findall("gpu"))]
    for bus_id, same in sorted(duplicates(gpus, "pci_bus_id").items()):
        warn("GPUs %s all have the PCI bus id %s: the output is inconsistent, a bus id cannot name one of them"
             % (" and ".join(str(gpu["index"]) for gpu in same), bus_id))
    if attached is not None and attached != len(gpus):
        warn("nvidia-smi reports %d attached GPU(s) but describes %d" % (attached, len(gpus)))
    return {
        "driver_version": _root_text(root, "driver_version"),
        "cuda_version": _root_text(root, "cuda_version"),
        "attached_gpus": attached,
        "gpu_count": len(gpus),
        "gpus": gpus,
    }


def duplicates(gpus, key):
    """``{value: [gpu, ...]}`` for each value of ``key`` (``pci_bus_id``, ``uuid``) that more
    than one GPU dict of ``gpus`` has (case-insensitive; None is never a duplicate)."""
    seen = {}
    for gpu in gpus:
        value = gpu.get(key)
        if value:
            seen.setdefault(str(value).lower(), []).append(gpu)
    return dict((value, same) for value, same in seen.items() if len(same) > 1)


def _first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


# --------------------------------------------------------------------------- topo -m / topo -p2p

_DEVICE_RE = re.compile(r"^(?:GPU\d+|NIC\d+|mlx\d+_\d+|CPU\d+|[a-z][a-z0-9]*_\d+)$")
_HEADER_TOKEN_RE = re.compile(r"CPU Affinity|NUMA Affinity|GPU NUMA ID|\S+")
_EXTRA_COLUMNS = {"CPU Affinity": "cpu_affinity", "NUMA Affinity": "numa_affinity", "GPU NUMA ID": "gpu_numa_id"}
_LEGEND_RE = re.compile(r"^\s*(\S+)\s+=\s+(.*?)\s*$")
# What a cell of the matrix can say: X, PIX, PXB, PHB, NODE, SYS, SOC, NV12, C2C (topo -m);
# OK, NS, CNS, GNS, TNS, DR, U (topo -p2p). Never a number, a range or N/A: those belong to
# the affinity columns after the matrix.
_LINK_RE = re.compile(r"^[A-Z][A-Z0-9]*$")
_NIC_LEGEND_RE = re.compile(r"^\s*(NIC\d+)\s*:\s*(\S+)\s*$")


def _matrix_text(text, what, warn):
    """Shared reader of the ``topo -m`` / ``topo -p2p`` layout.

    Returns ``(devices, matrix, extras, legend, nics)``; ``extras`` maps a column title
    (``CPU Affinity``...) to ``{row: value}``.
    """
    lines = strip_ansi(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    header_at = None
    columns = []
    for number, line in enumerate(lines):
        tokens = _HEADER_TOKEN_RE.findall(line)
        if tokens and _DEVICE_RE.match(tokens[0]) \
                and all(_DEVICE_RE.match(tok) or tok in _EXTRA_COLUMNS for tok in tokens):
            header_at, columns = number, tokens
            break
    if header_at is None:
        warn("%s: no header row (GPU0 ...) found; nothing parsed" % what)
        return [], {}, {}, {}, {}
    devices = [col for col in columns if col not in _EXTRA_COLUMNS]
    extra_names = [col for col in columns if col in _EXTRA_COLUMNS]
    if columns[:len(devices)] != devices:
        warn("%s: header mixes device and affinity columns: %r" % (what, columns))
    matrix, extras, legend, nics = {}, dict((name, {}) for name in extra_names), {}, {}
    section = "matrix"
    last = max([number for number, line in enumerate(lines) if line.strip()] or [0])
    for number, line in enumerate(lines[header_at + 1:], header_at + 1):
        stripped = line.strip()
        if not stripped:
            if section == "matrix" and matrix:
                section = "after"
            continue
        if stripped.startswith("NIC Legend"):
            section = "nic_legend"
            continue
        if stripped.startswith("Legend"):
            section = "legend"
            continue
        if section == "legend":
            match = _LEGEND_RE.match(stripped)
            if match:
                legend[match.group(1)] = match.group(2)
            continue
        if section == "nic_legend":
            match = _NIC_LEGEND_RE.match(stripped)
            if match:
                nics[match.group(1)] = match.group(2)
            continue
        if section != "matrix":
            warn("%s: skipped a line after the matrix: %r" % (what, stripped[:120]))
            continue
        tokens = stripped.split()
        row = tokens[0]
        if not _DEVICE_RE.match(row):
            warn("%s: skipped a line that is not a matrix row: %r" % (what, stripped[:120]))
            continue
        values = tokens[1:]
        if row in matrix:
            warn("%s: row %s appears twice; kept the first" % (what, row))
            continue
        links = 0
        while links < min(len(values), len(devices)) and _LINK_RE.match(values[links]):
            links += 1
        cells = values[:links]
        rest = values[links:]
        expected_extra = len(extra_names) if row.startswith("GPU") else 0
        if links < len(devices) and (rest or number < last):
            # A cell is missing in the row (values that are not links follow, or more lines
            # do: not a text cut short): which one is unknown, so only the cells whose place
            # is certain are kept, found from the row's own 'X'.
            matrix[row] = _placed_cells(row, devices, cells)
            warn("%s: row %s has %d of %d cells before its affinity columns (a cell is missing); %s"
                 % (what, row, len(cells), len(devices),
                    ("kept only the cells whose place is certain (%s)"
                     % ", ".join(sorted(matrix[row], key=devices.index))) if matrix[row]
                    else "kept none of them: no cell's place is certain"))
            for name, value in zip(extra_names[::-1], rest[::-1]):
                # the affinity columns, counted from the end of the line
                extras[name][row] = None if _is_not_available(value) else value
            continue
        matrix[row] = dict(zip(devices, cells))
        if len(cells) < len(devices):
            warn("%s: row %s has %d of %d cells (output cut short?); kept those"
                 % (what, row, len(cells), len(devices)))
        elif len(rest) > len(extra_names):
            warn("%s: row %s has %d values more than the header names; ignored them"
                 % (what, row, len(rest) - len(extra_names)))
        elif len(rest) < expected_extra and len(cells) == len(devices):
            warn("%s: row %s lacks %s" % (what, row, ", ".join(extra_names[len(rest):])))
        for name, value in zip(extra_names, rest):
            extras[name][row] = None if _is_not_available(value) else value
    missing = [dev for dev in devices if dev not in matrix]
    if missing and matrix:
        warn("%s: no row for %s (output cut short?)" % (what, ", ".join(missing)))
    return devices, matrix, extras, legend, nics


def _placed_cells(row, devices, cells):
    """The cells of a row that lacks ``len(devices) - len(cells)`` of them (position unknown)
    whose column is still certain: the row's own ``X`` tells on which side the gap is. With
    ``X`` at the row's column, the cells up to it are in place; with ``X`` as many columns
    early as cells are missing, the cells from it on are. Otherwise none is."""
    if row not in devices or "X" not in cells:
        return {}
    own, at, missing = devices.index(row), cells.index("X"), len(devices) - len(cells)
    if at == own:
        return dict(zip(devices[:own + 1], cells[:own + 1]))
    if at == own - missing:
        return dict(zip(devices[own:], cells[at:]))
    return {}


def parse_topology(text, warn=None):
    """Parse ``nvidia-smi topo -m``.

    Returns a dict:

    * ``devices``: the column names in order (``GPU0``..., ``NIC0``... or ``mlx5_0`` on
      older drivers);
    * ``matrix``: ``{row: {column: value}}`` with the values as printed (``X``, ``PIX``,
      ``PXB``, ``PHB``, ``NODE``, ``SYS``, ``NV12``...); NIC rows included; a row cut short
      holds the cells it had. Only link words are cells: a row with a cell missing in the
      middle (its affinity values would slide into the matrix) keeps only the cells whose
      column is certain, and its affinity values are read from the end of the line;
    * ``cpu_affinity``, ``numa_affinity``, ``gpu_numa_id``: ``{GPU0: '0-63'}``... strings as
      printed, None for ``N/A``; only rows that have the column (NIC rows do not);
    * ``nics``: the ``NIC Legend:`` (``{NIC0: 'mlx5_0'}``), empty when absent;
    * ``legend``: the ``Legend:`` entries (``{'PIX': 'Connection traversing ...'}``).

    Rows are split on white space (tabs or the spaces a paste left): all values are single
    words, and tab-separated output may hold an empty field (``0\\t\\tN/A``). ANSI codes
    and lines before the header (shell prompt) are dropped; what cannot be placed is
    reported through ``warn``.
    """
    warn = warn or _noop
    devices, matrix, extras, legend, nics = _matrix_text(text, "topo -m", warn)
    return {
        "devices": devices,
        "matrix": matrix,
        "cpu_affinity": extras.get("CPU Affinity", {}),
        "numa_affinity": extras.get("NUMA Affinity", {}),
        "gpu_numa_id": extras.get("GPU NUMA ID", {}),
        "nics": nics,
        "legend": legend,
    }


def parse_p2p(text, warn=None):
    """Parse ``nvidia-smi topo -p2p r|w|rw|n|a|p``.

    Returns ``{"devices": [...], "matrix": {GPU0: {GPU1: 'OK'|'NS'|'CNS'|'GNS'|'TNS'|'U'|'X'...}},
    "legend": {...}}``. Same layout rules as :func:`parse_topology` (row labels may have a
    leading space).
    """
    warn = warn or _noop
    devices, matrix, extras, legend, _nics = _matrix_text(text, "topo -p2p", warn)
    for name in extras:
        warn("topo -p2p: unexpected column %r ignored" % name)
    return {"devices": devices, "matrix": matrix, "legend": legend}


# --------------------------------------------------------------------------- failures

# (kind, pattern, hint). Checked in this order against every line of stderr then stdout;
# the first kind that matches wins. Lines starting with "<" (XML) are never examined.
_APOS = u"['\u2019\u2018\u02bc`\u00b4]?"
_FAILURES = (
    ("driver_library_mismatch",
     re.compile(r"Driver/library version mismatch", re.I),
     "the NVIDIA userspace libraries were upgraded under the running kernel driver (often by "
     "unattended-upgrades): reboot, or unload and reload the nvidia kernel modules "
     "(rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia; modprobe nvidia)"),
    ("driver_not_loaded",
     re.compile(r"couldn" + _APOS + r"?t\s+communicate\s+with\s+the\s+NVIDIA\s+driver", re.I),
     "the nvidia kernel module is not loaded: check that the driver is built for the running "
     "kernel (dkms status; Secure Boot needs the module signed, mokutil --sb-state) and run "
     "modprobe nvidia (dmesg tells why it fails)"),
    ("access_blocked",
     re.compile(r"GPU access blocked by the operating system", re.I),
     "NVML cannot open the GPU: typically the driver's userspace is installed without its kernel "
     "module (no /dev/nvidia*), or a container or VM policy hides the device nodes"),
    ("gpu_lost",
     re.compile(r"GPU is lost|fallen off the bus", re.I),
     "a GPU stopped answering: check dmesg for 'NVRM: Xid ... 79' (fallen off the bus), check "
     "power, risers and seating (reseat the card), then reboot; the GPU stays lost until then"),
    ("nvml_unknown_error",
     re.compile(r"Failed to initialize NVML:\s*Unknown Error|Unable to determine the device handle.*Unknown Error",
                re.I),
     "inside a container this usually follows 'systemctl daemon-reload' on the host (NVIDIA "
     "container toolkit issue 48: the container loses its /dev/nvidia* cgroup access): restart "
     "the container, or apply the toolkit's documented workaround (device nodes passed "
     "explicitly / systemd cgroup driver); on a host, reboot"),
    ("no_devices",
     re.compile(r"No devices were found|NVIDIA probe routine was not called|No NVIDIA graphics adapter probed",
                re.I),
     "the driver sees no usable GPU: check lspci that the GPU is on the PCI bus, that nouveau "
     "does not own it (lsmod | grep nouveau; blacklist it), and dmesg for 'rm_init_adapter "
     "failed' / 'RmInitAdapter failed' (BIOS: Above 4G decoding / Resizable BAR, power)"),
    ("not_installed",
     re.compile(r"couldn" + _APOS + r"?t find libnvidia-ml\.so|NVML Shared Library Not Found", re.I),
     "the NVIDIA driver's userspace (libnvidia-ml) is missing: install the driver's nvidia-smi / "
     "NVML package"),
)

# nvidia-smi's documented exit codes (man nvidia-smi, RETURN VALUE; 16-18 are NVML's
# nvmlReturn_t values, which nvidia-smi passes on: 17 measured on Debian), used when no
# line of the output says more.
_RC_KINDS = {
    2: "invalid_argument",
    3: "not_supported",
    4: "insufficient_permissions",
    6: "not_found",
    8: "insufficient_power",
    9: "driver_not_loaded",
    10: "irq_issue",
    12: "not_installed",
    13: "function_not_found",
    14: "inforom_corrupted",
    15: "gpu_lost",
    16: "reset_required",
    17: "access_blocked",
    18: "driver_library_mismatch",
    255: "internal_error",
}
# What each exit code means, in the manual's words (quoted when nvidia-smi printed nothing).
RC_MEANING = {
    2: "a supplied argument or flag is invalid",
    3: "the requested operation is not available on target device",
    4: "the current user does not have permission to access this device or perform this operation",
    6: "a query to find an object was unsuccessful",
    8: "a device's external power cables are not properly attached",
    9: "NVIDIA driver is not loaded",
    10: "NVIDIA Kernel detected an interrupt issue with a GPU",
    12: "NVML Shared Library couldn't be found or loaded",
    13: "local version of NVML doesn't implement this function",
    14: "infoROM is corrupted",
    15: "the GPU has fallen off the bus or has otherwise become inaccessible",
    16: "the GPU requires a reset before it can be used again",
    17: "the GPU control device has been blocked by the operating system/cgroups",
    18: "RM detects a driver/library version mismatch",
    255: "other error or internal driver error occurred",
}

HINTS = dict((kind, hint) for kind, _pattern, hint in _FAILURES)
HINTS["timeout"] = ("nvidia-smi did not answer in time: a hung GPU or driver (look for Xid "
                    "errors in dmesg); without persistence mode every call initialises every GPU, "
                    "which can take long on big hosts (nvidia-smi -pm 1, or the "
                    "nvidia-persistenced service); raise the timeout if the host is just slow")
HINTS["not_installed"] = ("install the NVIDIA driver's nvidia-smi package (it comes with the "
                          "driver's utils package), or point the executable option at it")
HINTS["unparsable"] = ("the output is not what this nvidia-smi call should print; run the same "
                       "command by hand")

HINTS["invalid_argument"] = ("nvidia-smi rejected its arguments: an option this driver's nvidia-smi does not "
                             "have (an older driver?), or a GPU index or bus id that does not exist "
                             "(nvidia-smi -L lists them)")
HINTS["not_supported"] = ("this GPU or driver does not offer the operation (GeForce boards, laptop GPUs and "
                          "vGPU guests lack many management functions); leave it out for this GPU")
HINTS["insufficient_permissions"] = ("run it as root (become: true); inside a container root is not enough: "
                                     "the container needs the SYS_ADMIN capability")
HINTS["not_found"] = ("no such GPU or object on this host: check the index, bus id or UUID against "
                      "nvidia-smi -L")
HINTS["insufficient_power"] = ("a GPU's external power cables are not properly attached: check every 8-pin / "
                               "12VHPWR connector and that the power supply has the rails for all GPUs")
HINTS["irq_issue"] = ("the NVIDIA kernel driver saw an interrupt problem with a GPU: read dmesg for NVRM "
                      "lines; check the BIOS (MSI/MSI-X, Above 4G decoding), reseat the card, then reboot")
HINTS["function_not_found"] = ("the NVML library is older than this nvidia-smi: the driver's packages come from "
                               "different versions; reinstall the driver's packages of one version")
HINTS["inforom_corrupted"] = ("a GPU's infoROM is corrupted, so the driver cannot trust its ECC and "
                              "configuration data: nvidia-smi -q shows the InfoROM versions; the card needs "
                              "the vendor's infoROM update or an RMA")
HINTS["reset_required"] = ("a GPU needs a reset before it can be used again: nvidia-smi -r -i INDEX "
                           "once no process uses it, or reboot")
HINTS["internal_error"] = ("nvidia-smi reports an internal driver error: read dmesg for NVRM / Xid lines, "
                           "restart nvidia-persistenced, and reboot if it stays")
HINTS["crashed"] = ("nvidia-smi itself crashed: usually user-space driver libraries that do not match the "
                    "loaded kernel module, or damaged driver files; reinstall the driver packages and "
                    "reboot, and read dmesg for NVRM lines")
HINTS["failed"] = "run the same command by hand to see what it says"


def _failure_lines(stdout, stderr):
    for text in (stderr, stdout):
        for line in (text or "").splitlines():
            stripped = strip_ansi(line).strip()
            if stripped and not stripped.startswith("<"):
                yield stripped


def classify_failure(rc, stdout, stderr, timed_out=False, not_found=False, signal=None):
    """Tell whether a run of nvidia-smi failed, and how.

    Returns None when the run is a success (rc 0 and no failure line), else
    ``(error_kind, msg)``: ``error_kind`` is one of :data:`ERROR_KINDS`; ``msg`` quotes
    nvidia-smi's own line and says what usually fixes it.

    * ``not_found`` (the executable does not exist) gives ``not_installed``; ``timed_out``
      gives ``timeout``; ``signal`` (the name of the signal that ended it, e.g. ``SIGSEGV``)
      gives ``crashed``.
    * The lines of stderr then stdout (XML lines excepted) are matched against the known
      messages, in this order: driver/library mismatch, couldn't communicate with the driver
      (any apostrophe, or none), access blocked, GPU lost / fallen off the bus, NVML unknown
      error (including the per-GPU ``Unable to determine the device handle for GPU ...:
      Unknown Error``), no devices (also the kernel's 'probe routine was not called'),
      libnvidia-ml not found. A known message makes the run a failure even with rc 0:
      ``nvidia-smi -q -x`` describes the GPUs it could open and still prints the device-handle
      line for one it could not, and an inventory silently missing a GPU is worse than none.
    * Otherwise a nonzero rc is classified by nvidia-smi's documented exit codes
      (:data:`RC_MEANING`, in any language of the message), and any other is ``failed``.
    * rc 0 with nothing on stdout but text on stderr is a failure too (``unparsable``, the
      text quoted): there is nothing to read.
    """
    if not_found:
        return "not_installed", "nvidia-smi not found. " + HINTS["not_installed"]
    if timed_out:
        return "timeout", "nvidia-smi timed out. " + HINTS["timeout"]
    lines = list(_failure_lines(stdout, stderr))
    for kind, pattern, hint in _FAILURES:
        for number, line in enumerate(lines):
            if pattern.search(line):
                quoted = line
                # "fallen off the bus" spans several kernel log lines: quote the start too.
                if kind == "gpu_lost" and "fallen off the bus" in line.lower() and number > 0 \
                        and "NVRM" in lines[number - 1]:
                    quoted = " ".join(lines[max(0, number - 2):number + 1])
                    quoted = re.sub(r"\s*NVRM:\s*", " ", quoted).strip()
                if number + 1 < len(lines) and lines[number + 1].startswith("NVML library version"):
                    quoted += " / " + lines[number + 1]
                return kind, "nvidia-smi failed (rc=%s): '%s'. Likely cause and fix: %s" % (rc, quoted, hint)
    said = "'%s'" % " / ".join(lines[-3:]) if lines else "nothing"
    if signal:
        return "crashed", "nvidia-smi was killed by %s and printed %s. Likely cause and fix: %s" % (
            signal, said, HINTS["crashed"])
    if rc in (0, None):
        if rc == 0 and not (stdout or "").strip() and (stderr or "").strip():
            return "unparsable", ("nvidia-smi exited 0 but printed nothing on stdout, only this on stderr: %s. %s"
                                  % (said, HINTS["unparsable"]))
        return None
    kind = _RC_KINDS.get(rc)
    if kind:
        return kind, "nvidia-smi failed (rc=%s: %s) and printed %s. Likely cause and fix: %s" % (
            rc, RC_MEANING[rc], said, HINTS[kind])
    return "failed", "nvidia-smi failed with rc=%s, which its manual does not document, and printed %s. %s" % (
        rc, said, HINTS["failed"])
