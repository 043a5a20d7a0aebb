# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for the output of the GPU peer-to-peer benchmarks.

No Ansible imports: the module ``aiserver.gpu.p2p_bandwidth`` and the unit tests use these
directly.

What is here
    * :func:`detect_tool` tells ``p2pBandwidthLatencyTest`` (CUDA samples) from
      ``nvbandwidth`` output.
    * :func:`parse_p2p_log` reads either: the device list, the P2P connectivity matrix (or
      the ``Device=0 CAN/CANNOT Access Peer Device=1`` lines), every bandwidth and latency
      matrix, the nvbandwidth ``SUM`` lines, version lines and error lines.
    * :func:`summarize` writes the one-sentence verdict the module returns as ``msg``.
    (The module runs the benchmark with the collection's one runner, ``_runner.run``.)

What is not believed
    * text that is neither tool's output (an nccl-tests log, nvidia-smi output): it is not
      read at all, and ``unrecognized`` says what it looks like;
    * a matrix cut short in the middle (``incomplete``), a value no run can produce
      (``refused``): the log does not pass;
    * a crash message glued to a partial line (``P2Aborted (core dumped)``): the two are
      split, the partial line is read for what it holds and the crash is an error.

What is never done
    * raise on odd input: lines that cannot be placed are reported through the ``warn``
      callable given by the caller (one call per line) and skipped.

Layouts accepted
    Rows are split on white space, not on fixed columns (a 4-digit value leaves one space,
    ``0 1581.48 274.55``); numbers glued together when a column overflows
    (``2494.51364.13``) are split on the fixed two decimals both tools print. ``N/A`` is
    None. A leading ``#`` (script comments), shell prompt lines, ``[...]`` elisions, ANSI
    codes and CR line ends are accepted; a log cut short keeps the rows and cells it has.

Several runs in one text
    A run starts again when a banner, a ``Device`` list or a matrix heading comes back that
    the current run already has. Every run is in ``runs``; the top-level values describe the
    first run with a result (a matrix or a ``SUM``), and ``errors`` gathers the errors of
    every run.
"""

from __future__ import annotations

import re

P2P_TOOL = "p2pBandwidthLatencyTest"
NVBW_TOOL = "nvbandwidth"

# The most of the log the module hands back, in bytes (the tail is kept).
LOG_LIMIT = 64 * 1024

# Row and device indexes above this are not believed (a garbled line), and skipped.
MAX_INDEX = 1023

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_COMMENT_RE = re.compile(r"^\s*#+\s?")

# --- p2pBandwidthLatencyTest
_P2P_BANNER_RE = re.compile(r"^\[P2P \(Peer-to-Peer\) GPU Bandwidth Latency Test\]")
_P2P_DEVICE_RE = re.compile(
    r"^Device:\s*(\d+),\s*(.*?),\s*pciBusID:\s*([0-9A-Fa-f]+),\s*pciDeviceID:\s*([0-9A-Fa-f]+),"
    r"\s*pciDomainID:\s*([0-9A-Fa-f]+)\s*$")
_ACCESS_RE = re.compile(r"^Device\s*=\s*(\d+)\s+(CAN|CANNOT)\s+Access\s+Peer\s+Device\s*=\s*(\d+)\s*$", re.I)
_CONNECTIVITY_RE = re.compile(r"^P2P\s+Connectivity\s+Matrix\s*$", re.I)
_BANDWIDTH_RE = re.compile(
    r"^(Unidirectional|Bidirectional)\s+P2P\s*=\s*(Enabled|Disabled)\s+Bandwidth\s*"
    r"(?:\(P2P\s+(Writes|Reads)\)\s*)?Matrix\s*\(GB/s\)\s*$", re.I)
_LATENCY_RE = re.compile(
    r"^P2P\s*=\s*(Enabled|Disabled)\s+Latency\s*(?:\(P2P\s+(Writes|Reads)\)\s*)?Matrix\s*\(us\)\s*$", re.I)
_OTHER_P2P_HEADING_RE = re.compile(r"^.*\bP2P\s*=\s*(?:Enabled|Disabled)\b.*\bMatrix\b", re.I)
_P2P_HEADER_RE = re.compile(r"^(D\\D|GPU|CPU)((?:\s+\d+)+)\s*$")

# --- nvbandwidth
_NVBW_VERSION_RE = re.compile(r"^nvbandwidth\s+Version:\s*(.*?)\s*$", re.I)
_VERSION_LINES = (
    (re.compile(r"^Built from Git version:\s*(.*?)\s*$", re.I), "git"),
    (re.compile(r"^CUDA Runtime Version:\s*(.*?)\s*$", re.I), "cuda_runtime"),
    (re.compile(r"^CUDA Driver Version:\s*(.*?)\s*$", re.I), "cuda_driver"),
    (re.compile(r"^Driver Version:\s*(.*?)\s*$", re.I), "driver"),
)
_NVBW_DEVICE_RE = re.compile(r"^Device\s+(\d+):\s*(.*?)\s*\(([0-9A-Fa-f]+):([0-9A-Fa-f]+):([0-9A-Fa-f]+)\)\s*$")
_RUNNING_RE = re.compile(r"^Running\s+(?:benchmark\s+)?([A-Za-z][A-Za-z0-9_]*)\.?\s*$")
_SUM_RE = re.compile(r"^SUM\s+([A-Za-z][A-Za-z0-9_]*)\s+(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")
_DESCRIPTION_RE = re.compile(r"\(row\).*\(column\)|\((?:GB/s|ns|us)\)\s*$", re.I)
# Only nvbandwidth titles its matrices "... GPU(row) <- GPU(column) bandwidth (GB/s)".
_NVBW_TITLE_RE = re.compile(r"\((?:row)\).*\((?:column)\)", re.I)
_UNIT_RE = re.compile(r"\((GB/s|ns|us)\)\s*$", re.I)
_WAIVED_RE = re.compile(r"^Waived\b", re.I)

# --- both
_ROW_RE = re.compile(r"^(\d+)(?:\s+(.*?))?\s*$")
_FLOAT_RE = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_GLUED_RE = re.compile(r"^(?:N/A|-?\d+\.\d{2})+$", re.I)
_GLUED_PART_RE = re.compile(r"N/A|-?\d+\.\d{2}", re.I)
_NA = frozenset(["n/a", "na", "-", "nan"])
_ERROR_RES = (
    re.compile(r"\bASSERT\b"),
    re.compile(r"CUDA error", re.I),
    re.compile(r"\bcudaError[A-Za-z]+"),
    re.compile(r"\bCUDA_ERROR_[A-Z_]+"),
    re.compile(r"\bNVML_ERROR\b"),
    re.compile(r"^ERROR\b", re.I),
    re.compile(r"\bFAILED\b"),
    re.compile(r"\b(?:test|testcase)\s+failed\b", re.I),
    re.compile(r"Invalid value when checking the pattern", re.I),
    re.compile(r"^Current offset\s*:", re.I),
    re.compile(r"Segmentation fault|core dumped|Aborted", re.I),
)
# Lines both tools print that carry nothing to report.
_INFO_RES = (
    re.compile(r"^\**\s*NOTE\b", re.I),
    re.compile(r"^So you can see lesser Bandwidth", re.I),
    re.compile(r"^Additional system-specific tuning", re.I),
    re.compile(r"^Performance can vary with", re.I),
    re.compile(r"^(?:Test passed|Result\s*=\s*PASS)\b", re.I),
    re.compile(r"^\[\s*\.\.\.\s*\]$|^\.\.\.+$"),
    re.compile(r"^(?:.*?[$#%>]\s*)?(?:sudo\s+)?\S*(?:p2pBandwidthLatencyTest|nvbandwidth)\b(?:\s+.*)?$"),
    _WAIVED_RE,
)
_PROMPT_TOOL_RE = re.compile(r"(?:^|[/\s$#>])(p2pBandwidthLatencyTest|nvbandwidth)(?:\s|$)")
# A partial line with the shell's crash message glued to it ("P2Aborted (core dumped)"): the
# program died in the middle of a line and the shell wrote its message right after.
_GLUED_CRASH_RE = re.compile(
    r"^(?P<partial>.*\S)(?P<crash>(?:Aborted|Segmentation fault|Bus error|Illegal instruction|"
    r"Floating point exception|Killed)(?: \(core dumped\))?)\s*$")

# Figures above these cannot be measured (100x the fastest memory of any GPU), and no
# bandwidth, latency or sum is negative: such values are refused, never reported as results.
MAX_GBPS = 1e6
MAX_LATENCY = 1e9        # us or ns
MAX_SUM = 1e9

# What other text given as a P2P log looks like, to say so: (pattern, description).
_FOREIGN = (
    (re.compile(r"^\s*#\s*(?:nThread\s+\d+|nccl-tests version|Rank\s+\d+.*\bdevice\b|Avg bus bandwidth|"
                r"Collective test starting)|\b\w+_perf\b.*\s-[bgef]\s", re.M),
     "nccl-tests output (# nThread, # Rank, # Avg bus bandwidth lines): give it to aiserver.gpu.nccl_test"),
    (re.compile(r"<nvidia_smi_log\b"), "nvidia-smi -q -x XML: give it to aiserver.gpu.nvidia_smi_info"),
    (re.compile(r"^\s*GPU0(?:\s+\S+)*\s+(?:CPU Affinity|NUMA Affinity)|^\s*X\s+=\s+Self", re.M),
     "nvidia-smi topo -m output: give it to aiserver.gpu.nvidia_smi_info"),
    (re.compile(r"NVIDIA-SMI \d+\.\d+|^\|\s*GPU\s+Name\b", re.M), "the nvidia-smi table"),
    (re.compile(r"^\[CUDA Bandwidth Test\]|^\s*(?:Host to Device|Device to Host) Bandwidth", re.M | re.I),
     "the CUDA sample bandwidthTest (host to device copies, not GPU to GPU)"),
    (re.compile(r"deviceQuery|CUDA Device Query", re.I), "the CUDA sample deviceQuery"),
    (re.compile(r"^(?:[0-9A-Fa-f]{4}:)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7] \w", re.M), "lspci output"),
)

# Keys of the p2pBandwidthLatencyTest matrices, in the order the tool prints them.
P2P_MATRIX_KEYS = (
    "unidirectional_p2p_disabled_gbps",
    "unidirectional_p2p_enabled_gbps",
    "unidirectional_p2p_enabled_reads_gbps",
    "bidirectional_p2p_disabled_gbps",
    "bidirectional_p2p_enabled_gbps",
    "bidirectional_p2p_enabled_reads_gbps",
    "latency_gpu_p2p_disabled_us",
    "latency_cpu_p2p_disabled_us",
    "latency_gpu_p2p_enabled_us",
    "latency_cpu_p2p_enabled_us",
    "latency_gpu_p2p_enabled_reads_us",
    "latency_cpu_p2p_enabled_reads_us",
)


def _noop(_msg):
    return None


def _lines(text):
    """The lines of ``text`` (str, bytes or None): ANSI codes and CRs removed, each with a
    flag saying whether it was a ``#`` comment (the ``#`` removed)."""
    if text is None:
        return []
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        text = str(text)
    text = _ANSI_RE.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    result = []
    for line in text.split("\n"):
        match = _COMMENT_RE.match(line)
        if match:
            result.append((line[match.end():].rstrip(), True))
        else:
            result.append((line.rstrip(), False))
    return result


def _tool_of(line):
    """The tool a single (comment-stripped) line belongs to, or None."""
    stripped = line.strip()
    if not stripped:
        return None
    if (_P2P_BANNER_RE.match(stripped) or _CONNECTIVITY_RE.match(stripped) or _BANDWIDTH_RE.match(stripped)
            or _LATENCY_RE.match(stripped) or _P2P_DEVICE_RE.match(stripped) or _ACCESS_RE.match(stripped)
            or _OTHER_P2P_HEADING_RE.match(stripped)):
        return P2P_TOOL
    if (_NVBW_VERSION_RE.match(stripped) or _NVBW_DEVICE_RE.match(stripped) or _SUM_RE.match(stripped)
            or (_RUNNING_RE.match(stripped) and "_" in stripped) or _NVBW_TITLE_RE.search(stripped)):
        return NVBW_TOOL
    match = _PROMPT_TOOL_RE.search(stripped)
    if match:
        return match.group(1)
    return None


def detect_tool(text):
    """``'p2pBandwidthLatencyTest'``, ``'nvbandwidth'`` or None: the tool whose output (or
    command line) comes first in ``text``."""
    for line, _comment in _lines(text):
        tool = _tool_of(line)
        if tool:
            return tool
    return None


def looks_like(text):
    """What ``text`` that is neither tool's output looks like, as a phrase (``nccl-tests
    output ...``), or None when it looks like nothing this collection knows."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = _ANSI_RE.sub("", text if isinstance(text, str) else str(text or ""))
    for regex, what in _FOREIGN:
        if regex.search(text):
            return what
    return None


def unrecognized(text):
    """The sentence for a text that is not p2pBandwidthLatencyTest or nvbandwidth output."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not (text or "").strip():
        return "the text is empty"
    what = looks_like(text)
    if what:
        return "it looks like %s" % what
    return ("it has none of their lines (the p2pBandwidthLatencyTest banner or matrix headings, the nvbandwidth "
            "version, Device, 'Running <testcase>.' or SUM lines)")


def _numbers(rest, integers=False):
    """Parse the cells of a matrix row. Returns (values, bad_token): floats (ints when
    ``integers``), None for ``N/A``; numbers glued together are split on their two
    decimals. Parsing stops at the first token that is none of these."""
    values = []
    for token in (rest or "").split():
        if token.lower() in _NA:
            values.append(None)
        elif integers and token.isdigit():
            values.append(int(token))
        elif _FLOAT_RE.match(token):
            values.append(float(token))
        elif _GLUED_RE.match(token):
            values.extend(None if part.upper() == "N/A" else float(part) for part in _GLUED_PART_RE.findall(token))
        else:
            return values, token
    return values, None


def _pci_address(domain, bus, device):
    """``dddd:bb:dd.0`` (lower case, as ``lspci -D``) from hex strings; the function is
    always 0 for a CUDA device. None when a part is not hex."""
    try:
        return "%04x:%02x:%02x.0" % (int(domain, 16), int(bus, 16), int(device, 16))
    except (TypeError, ValueError):
        return None


def _new_run():
    return {
        "tool": None,
        "device_count": None,
        "devices": [],
        "p2p_access": None,
        "matrices": {},
        "sums": {},
        "errors": [],
        "testcases": [],
        "versions": {},
        "units": {},
        "refused": [],
        "incomplete": [],
        # working state, removed by _finish
        "_access": {},
        "_columns": 0,
        "_order": [],
        "_widths": {},
        "_row_kind": {},
    }


def _has_content(run):
    return bool(run["devices"] or run["matrices"] or run["sums"] or run["p2p_access"] is not None
                or run["_access"] or run["errors"] or run["testcases"])


class _Parser(object):
    """Line-by-line state machine behind :func:`parse_p2p_log`."""

    def __init__(self, warn):
        self.warn = warn
        self.runs = [_new_run()]
        self.section = None      # 'connectivity', 'bandwidth', 'latency', 'nvbw' or None
        self.key = None          # the matrix rows go to, None when unknown
        self.latency = None      # (state, suffix) of the latency heading
        self.testcase = None     # nvbandwidth testcase now running
        self.unnamed = 0
        self.lineno = 0

    @property
    def run(self):
        return self.runs[-1]

    # ------------------------------------------------------------------ helpers

    def new_run_if(self, condition):
        """Start a new run when ``condition`` holds and this one has anything; the caller
        sets the section it is in."""
        if condition and _has_content(self.run):
            self.runs.append(_new_run())

    def set_tool(self, tool):
        if self.run["tool"] is None:
            self.run["tool"] = tool

    def start_matrix(self, key):
        """Rows from now on go to ``key``; a key this run already has starts a new run."""
        if key in self.run["matrices"] and self.run["matrices"][key]:
            self.new_run_if(True)
        self.key = key
        if key not in self.run["matrices"]:
            self.run["matrices"][key] = []
            self.run["_order"].append(key)

    def put_row(self, index, values):
        rows = self.run["matrices"][self.key]
        if index < len(rows):
            self.warn("line %d: row %d of %s appears twice; the later one is kept" % (self.lineno, index, self.key))
            rows[index] = values
            return
        if index > len(rows):
            self.warn("line %d: %s jumps to row %d after row %d; the missing rows are null"
                      % (self.lineno, self.key, index, len(rows) - 1))
            rows.extend([None] * (index - len(rows)))
        rows.append(values)

    # ------------------------------------------------------------------ lines

    def feed(self, line, comment):
        self.lineno += 1
        stripped = line.strip()
        if not stripped:
            return
        match = _GLUED_CRASH_RE.match(stripped)
        if match and not any(regex.search(match.group("partial")) for regex in _ERROR_RES):
            # "P2Aborted (core dumped)": what the test had printed of its line, then the shell's
            # message. The partial line is read for what it holds (a matrix left incomplete is
            # reported as such); the crash is an error.
            partial = match.group("partial")
            self.warn("line %d: %r is a line cut short by the crash that followed (%s)"
                      % (self.lineno, partial.strip()[:200], match.group("crash")))
            self.dispatch(partial.strip(), True)
            self.run["errors"].append("%s (the test died while printing %r)" % (match.group("crash"),
                                                                                partial.strip()[:80]))
            return
        self.dispatch(stripped, comment)

    def dispatch(self, stripped, comment):
        for handler in (self.banner, self.device, self.access, self.heading, self.nvbw_line, self.header,
                        self.row, self.error):
            if handler(stripped):
                return
        if any(regex.match(stripped) for regex in _INFO_RES):
            return
        if not comment:
            self.warn("line %d not understood, skipped: %r" % (self.lineno, stripped[:200]))

    def banner(self, line):
        if _P2P_BANNER_RE.match(line):
            self.new_run_if(True)
            self.section = self.key = self.latency = self.testcase = None
            self.set_tool(P2P_TOOL)
            return True
        match = _NVBW_VERSION_RE.match(line)
        if match:
            self.new_run_if(True)
            self.section = self.key = self.latency = self.testcase = None
            self.set_tool(NVBW_TOOL)
            self.run["versions"]["tool"] = match.group(1)
            return True
        for regex, name in _VERSION_LINES:
            match = regex.match(line)
            if match:
                self.run["versions"][name] = match.group(1)
                return True
        if (self.run["tool"] == NVBW_TOOL and "driver" in self.run["versions"] and not self.run["devices"]
                and "host" not in self.run["versions"] and re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", line)):
            # nvbandwidth 0.8+ prints the host name alone on a line after the versions
            self.run["versions"]["host"] = line
            return True
        return False

    def device(self, line):
        match = _P2P_DEVICE_RE.match(line)
        if match:
            index = int(match.group(1))
            self.new_run_if(bool(self.run["matrices"] or self.run["sums"]) or any(d["index"] == index for d in self.run["devices"]))
            self.set_tool(P2P_TOOL)
            self.run["devices"].append({
                "index": index,
                "name": match.group(2),
                "pci_bus_id": match.group(3),
                "pci_device_id": match.group(4),
                "pci_domain_id": match.group(5),
                "pci_address": _pci_address(match.group(5), match.group(3), match.group(4)),
            })
            self.section = self.key = self.testcase = None
            return True
        match = _NVBW_DEVICE_RE.match(line)
        if match:
            index = int(match.group(1))
            self.new_run_if(bool(self.run["matrices"] or self.run["sums"]) or any(d["index"] == index for d in self.run["devices"]))
            self.set_tool(NVBW_TOOL)
            self.run["devices"].append({
                "index": index,
                "name": match.group(2),
                "pci_bus_id": "%s:%s:%s" % (match.group(3), match.group(4), match.group(5)),
                "pci_address": _pci_address(match.group(3), match.group(4), match.group(5)),
            })
            self.section = self.key = self.testcase = None
            return True
        return False

    def access(self, line):
        match = _ACCESS_RE.match(line)
        if not match:
            return False
        self.set_tool(P2P_TOOL)
        pair = (int(match.group(1)), int(match.group(3)))
        if max(pair) > MAX_INDEX:
            self.warn("line %d: device index above %d, skipped: %r" % (self.lineno, MAX_INDEX, line[:200]))
        else:
            self.run["_access"][pair] = match.group(2).upper() == "CAN"
        return True

    def nvbw_line(self, line):
        match = _RUNNING_RE.match(line)
        if match and "_" in match.group(1):
            name = match.group(1)
            self.new_run_if(name in self.run["testcases"] or name in self.run["matrices"])
            self.set_tool(NVBW_TOOL)
            self.run["testcases"].append(name)
            self.testcase = name
            self.section, self.key = "nvbw", None
            return True
        match = _SUM_RE.match(line)
        if match:
            name, value = match.group(1), float(match.group(2))
            self.set_tool(NVBW_TOOL)
            if name in self.run["sums"]:
                self.new_run_if(True)
            if self.key and self.key.startswith("unnamed") and name not in self.run["matrices"]:
                # the Running line was lost: the SUM line names the matrix above it
                matrices = self.run["matrices"]
                matrices[name] = matrices.pop(self.key)
                self.run["_order"][self.run["_order"].index(self.key)] = name
                for table in ("units", "_widths", "_row_kind"):
                    if self.key in self.run[table]:
                        self.run[table][name] = self.run[table].pop(self.key)
            if name not in self.run["testcases"]:
                self.run["testcases"].append(name)
            self.run["sums"][name] = value
            self.section, self.key, self.testcase = None, None, None
            return True
        if _DESCRIPTION_RE.search(line) and (_NVBW_TITLE_RE.search(line) or self.testcase is not None
                                             or self.run["tool"] == NVBW_TOOL):
            # A unit alone at the end of a line ("(GB/s)") is nvbandwidth's only inside its run:
            # the column header of nccl-tests ends the same way.
            self.set_tool(NVBW_TOOL)
            self.section = "nvbw"
            self.start_matrix(self.nvbw_name())
            unit = _UNIT_RE.search(line)
            self.run["units"][self.key] = unit.group(1) if unit else None
            self.run["_row_kind"][self.key] = "CPU" if re.search(r"\bCPU\s*\(row\)", line, re.I) else "GPU"
            return True
        return False

    def nvbw_name(self):
        """The matrix key for the nvbandwidth testcase now running."""
        if self.testcase is None:
            self.unnamed += 1
            name = "unnamed" if self.unnamed == 1 else "unnamed_%d" % self.unnamed
            self.warn("line %d: a matrix without its 'Running <testcase>.' line; kept as %r" % (self.lineno, name))
            return name
        if self.run["matrices"].get(self.testcase):
            return "%s_%d" % (self.testcase, sum(1 for k in self.run["matrices"] if k.startswith(self.testcase)) + 1)
        return self.testcase

    def heading(self, line):
        if _CONNECTIVITY_RE.match(line):
            self.new_run_if(self.run["p2p_access"] is not None)
            self.set_tool(P2P_TOOL)
            self.section, self.key = "connectivity", None
            self.run["p2p_access"] = []
            return True
        match = _BANDWIDTH_RE.match(line)
        if match:
            direction, state, variant = match.group(1).lower(), match.group(2).lower(), (match.group(3) or "").lower()
            self.set_tool(P2P_TOOL)
            self.section = "bandwidth"
            self.start_matrix("%s_p2p_%s%s_gbps" % (direction, state, "_reads" if variant == "reads" else ""))
            self.run["units"][self.key] = "GB/s"
            return True
        match = _LATENCY_RE.match(line)
        if match:
            state, variant = match.group(1).lower(), (match.group(2) or "").lower()
            self.set_tool(P2P_TOOL)
            self.section, self.key = "latency", None
            self.latency = (state, "_reads" if variant == "reads" else "")
            gpu_key = "latency_gpu_p2p_%s%s_us" % self.latency
            self.new_run_if(bool(self.run["matrices"].get(gpu_key)))
            return True
        if _OTHER_P2P_HEADING_RE.match(line):
            self.warn("line %d: unknown matrix heading %r; its rows are skipped" % (self.lineno, line))
            self.set_tool(P2P_TOOL)
            self.section, self.key = "orphan", None
            return True
        return False

    def header(self, line):
        match = _P2P_HEADER_RE.match(line)
        if match:
            columns = len(match.group(2).split())
            self.run["_columns"] = max(self.run["_columns"], columns)
            label = match.group(1)
            if self.section == "latency" and self.latency:
                kind = "cpu" if label == "CPU" else "gpu"
                self.start_matrix("latency_%s_p2p_%s%s_us" % ((kind,) + self.latency))
                self.run["units"][self.key] = "us"
            elif self.section not in ("connectivity", "bandwidth"):
                self.warn("line %d: matrix header without a heading; its rows are skipped" % self.lineno)
                self.section, self.key = "orphan", None
            if self.key and self.section in ("latency", "bandwidth"):
                self.run["_widths"][self.key] = columns
            return True
        if self.section == "nvbw":
            tokens = line.split()
            if tokens and all(token.isdigit() for token in tokens) and [int(t) for t in tokens] == list(range(len(tokens))):
                if self.key is None or not self.run["matrices"].get(self.key):
                    self.run["_columns"] = max(self.run["_columns"], len(tokens))
                    if self.key is not None:
                        self.run["_widths"][self.key] = len(tokens)
                    return True
        return False

    def row(self, line):
        match = _ROW_RE.match(line)
        if not match or self.section is None:
            return False
        index, rest = int(match.group(1)), match.group(2)
        if self.section == "orphan":
            return True
        if index > MAX_INDEX:
            self.warn("line %d: row index above %d, skipped: %r" % (self.lineno, MAX_INDEX, line[:200]))
            return True
        if self.section == "connectivity":
            values, bad = _numbers(rest, integers=True)
            if bad is not None:
                self.warn("line %d: connectivity row %d stops at %r" % (self.lineno, index, bad))
            cells = []
            for value in values:
                if value in (0, 1) and not isinstance(value, float):
                    cells.append(bool(value))
                else:
                    self.warn("line %d: connectivity value %r is neither 1 nor 0; reported as null" % (self.lineno, value))
                    cells.append(None)
            matrix = self.run["p2p_access"]
            if index > len(matrix):
                matrix.extend([None] * (index - len(matrix)))
            if index < len(matrix):
                matrix[index] = cells
            else:
                matrix.append(cells)
            return True
        if self.key is None and self.section == "nvbw":
            self.start_matrix(self.nvbw_name())
        if self.key is None:
            self.warn("line %d: a matrix row before its GPU/CPU header; skipped" % self.lineno)
            return True
        values, bad = _numbers(rest)
        if bad is not None:
            self.warn("line %d: row %d of %s stops at %r" % (self.lineno, index, self.key, bad))
        columns = self.run["_columns"]
        if columns and len(values) > columns:
            self.warn("line %d: row %d of %s has %d values for %d columns" % (self.lineno, index, self.key, len(values), columns))
        self.put_row(index, values)
        return True

    def error(self, line):
        if any(regex.search(line) for regex in _ERROR_RES):
            self.run["errors"].append(line)
            return True
        return False

    # ------------------------------------------------------------------ result

    def finish(self):
        runs = []
        for run in self.runs:
            if not _has_content(run) and run["tool"] is None:
                continue
            runs.append(_finish(run, self.warn))
        if not runs:
            runs = [_finish(_new_run(), self.warn)]
        return runs


def _unit_of(key, units):
    unit = units.get(key)
    if unit:
        return unit
    if key.endswith("_gbps"):
        return "GB/s"
    if key.endswith("_us"):
        return "us"
    return None


def _refuse(run, matrices):
    """Replace by None every cell no run can produce (negative, or beyond :data:`MAX_GBPS` /
    :data:`MAX_LATENCY`), and every such SUM; one sentence each in ``run['refused']``."""
    for key, rows in matrices.items():
        unit = _unit_of(key, run["units"])
        limit = MAX_GBPS if unit == "GB/s" else MAX_LATENCY if unit in ("us", "ns") else MAX_GBPS
        for i, row in enumerate(rows):
            for j, value in enumerate(row or []):
                if value is None:
                    continue
                if value < 0 or value > limit:
                    run["refused"].append("%s row %d column %d: %g%s is %s; not taken as a result" % (
                        key, i, j, value, " " + unit if unit else "", "negative" if value < 0 else
                        "beyond anything a GPU can do (more than %g)" % limit))
                    row[j] = None
    for name in list(run["sums"]):
        value = run["sums"][name]
        if value < 0 or value > MAX_SUM:
            run["refused"].append("SUM %s %g is %s; not taken as a result" % (
                name, value, "negative" if value < 0 else "beyond anything a GPU can do (more than %g)" % MAX_SUM))
            del run["sums"][name]


def _incomplete(run, matrices, columns, devices):
    """Sentences for the matrices cut short: fewer rows than columns (one row for
    nvbandwidth's CPU(row) testcases), a missing row, or a row with fewer values."""
    found = []
    for key, rows in matrices.items():
        width = run["_widths"].get(key) or columns or devices
        if not width:
            continue
        expected = 1 if run["_row_kind"].get(key) == "CPU" else width
        if len(rows) < expected:
            found.append("%s has %d of %d rows" % (key, len(rows), expected))
        for index, row in enumerate(rows):
            if row is None:
                found.append("%s has no row %d" % (key, index))
            elif len(row) < width:
                found.append("%s row %d has %d of %d values" % (key, index, len(row), width))
    return found


def _finish(run, warn):
    access = run.pop("_access")
    columns = run.pop("_columns")
    order = run.pop("_order")
    matrices = {}
    for key in order:
        rows = run["matrices"].get(key)
        if rows:
            matrices[key] = rows
        else:
            warn("%s has a heading but no rows (log cut short?); left out" % key)
    run["matrices"] = matrices
    _refuse(run, matrices)
    run["incomplete"] = _incomplete(run, matrices, columns, len(run["devices"]))
    run.pop("_widths")
    run.pop("_row_kind")
    run["units"] = dict((key, _unit_of(key, run["units"])) for key in list(matrices) + list(run["sums"]))
    if access:
        size = max([len(run["devices"])] + [max(pair) + 1 for pair in access])
        built = [[(True if i == j else access.get((i, j))) for j in range(size)] for i in range(size)]
        if run["p2p_access"] is None or not any(run["p2p_access"]):
            run["p2p_access"] = built
        else:
            for (i, j), value in sorted(access.items()):
                try:
                    printed = run["p2p_access"][i][j]
                except (IndexError, TypeError):
                    continue
                if printed is not None and printed != value:
                    warn("'Device=%d %s Access Peer Device=%d' disagrees with the P2P Connectivity Matrix"
                         % (i, "CAN" if value else "CANNOT", j))
    if run["p2p_access"] is not None and not any(run["p2p_access"]):
        run["p2p_access"] = None
    if run["devices"]:
        run["device_count"] = len(run["devices"])
    else:
        widths = [columns] + [len(row) for rows in matrices.values() for row in rows if row]
        if run["p2p_access"]:
            widths.append(len(run["p2p_access"]))
        run["device_count"] = max(widths) or None
    run["passed"] = bool(matrices or run["sums"]) and not run["errors"] and not run["refused"] \
        and not run["incomplete"]
    return run


def parse_p2p_log(text, warn=None):
    """Parse the output of ``p2pBandwidthLatencyTest`` or ``nvbandwidth`` (auto-detected).

    Returns a dict:

    * ``tool``: ``'p2pBandwidthLatencyTest'``, ``'nvbandwidth'`` or None;
    * ``device_count``: the number of ``Device`` lines, else the widest matrix; None when
      the text has neither;
    * ``devices``: ``{index, name, pci_bus_id, pci_address, ...}`` per ``Device`` line
      (p2pBandwidthLatencyTest adds ``pci_device_id`` and ``pci_domain_id``); ``pci_bus_id``
      as printed (``b4``, ``00000000:34:00``), ``pci_address`` as ``0000:b4:00.0``;
    * ``p2p_access``: N x N booleans from the ``P2P Connectivity Matrix``, else built from
      the ``CAN/CANNOT Access Peer`` lines (diagonal true, pairs not printed null); None
      when the text has neither;
    * ``matrices``: key to rows (lists of floats, None for ``N/A``), a row at the position
      of its printed index; only matrices with at least one row. p2pBandwidthLatencyTest
      keys are :data:`P2P_MATRIX_KEYS`; nvbandwidth keys are the testcase names;
    * ``sums``: nvbandwidth testcase to its ``SUM`` value;
    * ``errors``: the error lines (asserts, CUDA errors, ``FAILED``...), of every run;
    * ``testcases``: nvbandwidth testcases in the order they ran (empty for the other tool);
    * ``versions``: nvbandwidth ``tool``, ``git``, ``cuda_runtime``, ``cuda_driver``,
      ``driver`` and ``host`` (0.8+) strings as printed; empty when not printed;
    * ``units``: matrix or testcase key to its unit, ``GB/s`` for bandwidths, ``us`` (the
      p2pBandwidthLatencyTest latencies) or ``ns`` (nvbandwidth latency testcases, from the
      matrix title); None when the title was not printed;
    * ``refused``: one sentence per value no run can produce (negative, or beyond
      :data:`MAX_GBPS` / :data:`MAX_LATENCY` / :data:`MAX_SUM`); such a cell is None in
      ``matrices``, such a sum is left out of ``sums``;
    * ``incomplete``: one sentence per matrix cut short (fewer rows than columns, a missing
      row, a row with fewer values), of every run;
    * ``unrecognized``: None, or, when the text is neither tool's output, why (what it looks
      like: nccl-tests, nvidia-smi...); nothing of such a text is read;
    * ``passed``: a matrix or a sum was read and no run shows an error, a refused value or a
      matrix cut short;
    * ``runs``: one dict like the above (without ``runs`` and ``unrecognized``) per run.
    """
    warn = warn or _noop
    parser = _Parser(warn)
    if detect_tool(text) is None:
        # Neither tool's output: nothing in it is a P2P result, whatever its numbers look like
        # (an nccl-tests table once read as a 1-GPU nvbandwidth matrix).
        runs = parser.finish()
        result = dict(runs[0])
        result.update(runs=runs, unrecognized=unrecognized(text))
        return result
    for line, comment in _lines(text):
        parser.feed(line, comment)
    runs = parser.finish()
    chosen = next((run for run in runs if run["matrices"] or run["sums"]), runs[0])
    result = dict(chosen)
    for key in ("errors", "refused", "incomplete"):
        result[key] = [item for run in runs for item in run[key]]
    result["passed"] = bool(chosen["matrices"] or chosen["sums"]) and not result["errors"] \
        and not result["refused"] and not result["incomplete"]
    if result["tool"] is None:
        result["tool"] = detect_tool(text)
    result["runs"] = runs
    result["unrecognized"] = None
    return result


def log_tail(text, limit=LOG_LIMIT):
    """The last ``limit`` bytes of ``text`` (UTF-8), cut at a character boundary."""
    data = (text or "").encode("utf-8", "replace")
    if len(data) <= limit:
        return text or ""
    return data[-limit:].decode("utf-8", "ignore")


def summarize(result, timed_out=False, timeout=None, rc=None):
    """One sentence saying what the log shows, for the module's ``msg``."""
    tool = result.get("tool") or "the P2P benchmark"
    parts = []
    count = result.get("device_count")
    if count:
        parts.append("%d GPU%s" % (count, "" if count == 1 else "s"))
    matrices = result.get("matrices") or {}
    parts.append("%d matri%s" % (len(matrices), "x" if len(matrices) == 1 else "ces"))
    if result.get("sums"):
        parts.append("%d SUM line%s" % (len(result["sums"]), "" if len(result["sums"]) == 1 else "s"))
    access = result.get("p2p_access")
    if access:
        pairs = [(i, j) for i, row in enumerate(access) for j, value in enumerate(row or []) if i != j]
        able = sum(1 for i, j in pairs if access[i][j])
        parts.append("P2P access on %d of %d GPU pairs" % (able, len(pairs)))
    found = ", ".join(parts)
    errors = result.get("errors") or []
    if timed_out:
        return "%s did not finish within %s s and was killed (%s read before)." % (tool, timeout, found)
    if errors:
        more = " and %d more" % (len(errors) - 1) if len(errors) > 1 else ""
        return "%s reports an error: %s%s (%s)." % (tool, errors[0], more, found)
    if rc not in (None, 0):
        return "%s exited with status %s (%s)." % (tool, rc, found)
    if result.get("unrecognized"):
        return "Not p2pBandwidthLatencyTest or nvbandwidth output: %s." % result["unrecognized"]
    refused = result.get("refused") or []
    if refused:
        more = " and %d more" % (len(refused) - 1) if len(refused) > 1 else ""
        return "%s printed values no run can produce, so the log is no evidence: %s%s (%s)." % (
            tool, refused[0], more, found)
    incomplete = result.get("incomplete") or []
    if incomplete:
        return "%s output is cut short in the middle of a matrix: %s (%s)." % (tool, "; ".join(incomplete[:3]), found)
    if not result.get("passed"):
        if result.get("tool") is None:
            return "No p2pBandwidthLatencyTest or nvbandwidth output found."
        return "%s output holds no result (%s): the log is cut short or the run did not get that far." % (tool, found)
    return "%s passed: %s." % (tool, found)
