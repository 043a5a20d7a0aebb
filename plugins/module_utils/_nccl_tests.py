# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parser for the output of the NVIDIA nccl-tests binaries (``all_reduce_perf``...).

No Ansible imports: the module ``aiserver.gpu.nccl_test`` and the unit tests use it directly.

What is read
    * the ``#  Rank  0 Group  0 Pid 12345 on host device  0 [0x01] NAME`` lines (older
      versions have no ``Group``; the bus id is ``0x01`` or ``0000:95:00``);
    * the result table. Its columns are taken from the column header
      (``#  size  count  type  redop  root  time  algbw  busbw  #wrong  time ...``), so
      tests without ``redop``/``root`` (old ``all_gather``), the old ``error`` column (a
      float, the largest error, not a count), the oldest ``bytes N type op ... res``
      layout, ``cputime``, the per-iteration columns (``i_min``...) and a trailing
      timestamp are all read. Without a header the layout is guessed from the number of
      tokens. Rows are split on whitespace, never at fixed positions; numbers may be in
      scientific notation (``1.57286e+06``) and ``#wrong`` may be ``N/A``;
    * a ``redop`` printed blank (``alltoall`` and other tests without a reduction, in the
      older table format: one token fewer than the header names): the row is read by its
      columns counted from the end of the line, and ``redop`` is None;
    * ``# Out of bounds values : 4 FAILED`` and ``# Avg bus bandwidth : 12.34 [OK|FAILED]``;
    * the collective: ``# Collective test starting: alltoall_perf`` (nccl-tests 2.14+), else
      the name of the program that ran (the caller's ``program``), else the command line a
      shell prompt echoed (``./build/alltoall_perf -b 8``); ``alltoall``, None when unknown;
    * failures: ``NCCL WARN`` lines, ``Test failure``/``Test NCCL failure``/``Test CUDA
      failure``/``Test timeout`` lines, ``# error: ...`` (nccl-tests 2.14+), ``Invalid number of GPUs``.

What is not believed
    * a row whose figures no run can produce: a negative time, bandwidth or wrong count, an
      algorithm bandwidth above what its size and time allow, a bus bandwidth above twice the
      algorithm bandwidth (no collective moves more), or an average bus bandwidth above every
      row's. Such a row is left out of ``results`` and named in ``refused``; a run with a
      refused figure does not pass.
    * a pass without evidence: a log of which no result row could be read never passes, even
      with its ``# Avg bus bandwidth`` line.

What is never done
    * raise: any text gives a result. Lines inside a run that are not understood are
      passed to the ``warn`` callable (noise before the run starts, such as a shell
      prompt, ssh/UCX warnings or ``NCCL INFO`` lines, is skipped silently).
"""

from __future__ import annotations

import math
import re

# A line that starts a run: the parameter line, or the version line of nccl-tests 2.14+.
_RUN_START_RE = re.compile(r"^#\s*(nThread\s+\d+|nccl-tests version\b)")
_RANK_RE = re.compile(
    r"^#\s*Rank\s+(?P<rank>\d+)\s+(?:Group\s+(?P<group>\d+)\s+)?Pid\s+(?P<pid>\d+)\s+on\s+(?P<host>\S+)"
    r"\s+device\s+(?P<device>\d+)\s+\[(?P<bus_id>[^\]]*)\]\s*(?P<name>.*?)\s*$"
)
_OOB_RE = re.compile(r"^#\s*Out of bounds values\s*:\s*(?P<count>\S+)\s*(?P<verdict>\S*)")
_AVG_RE = re.compile(r"^#\s*Avg bus bandwidth\s*:\s*(?P<value>\S+)\s*(?P<verdict>\S*)")
_ERROR_RES = (
    re.compile(r"\bNCCL WARN\b"),
    re.compile(r"\bTest (?:NCCL |CUDA )?(?:failure|timeout)\b"),
    re.compile(r"^#\s*error\s*:"),
    re.compile(r"\bInvalid number of GPUs\b"),
)
# '#' lines nccl-tests prints that carry nothing this parser reports.
_KNOWN_COMMENT_RES = (
    re.compile(r"^#\s*$"),
    re.compile(r"^#\s*Using devices\s*$"),
    re.compile(r"^#\s*Collective test (?:starting|concluded)\b"),
    re.compile(r"^#\s*(?:Blocking Enabled|Per-Iteration Report|Parallel Init Enabled|Writing JSON|skipping json)"),
    re.compile(r"^#\s*(?:GPU memory usage|Check Delay|Reducing maxBytes)\b"),
    re.compile(r"^#.*\bout-of-place\b.*\bin-place\b"),
    re.compile(r"^#\s*\(B\)"),
)
# Lines from NCCL's own debug output (NCCL_DEBUG=INFO/TRACE): host:pid:tid [dev] NCCL INFO ...
_NCCL_INFO_RE = re.compile(r"\bNCCL (?:INFO|TRACE)\b")
# The command line of a test binary, echoed by a shell prompt or a script.
_INVOCATION_RE = re.compile(r"\b\w+_perf(?:_mpi)?\b")
_COLLECTIVE_RE = re.compile(r"^#\s*Collective test starting\s*:\s*(?P<name>\S+)")
_PROGRAM_RE = re.compile(r"(?:^|[/\s])(?P<name>[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*?)_perf(?:_mpi)?(?:\s|$)")

# Slack for the figures' own rounding (times printed with 2 to 3 significant digits,
# bandwidths with 2 decimals) in the plausibility checks.
_REL_SLACK = 0.1
_ABS_SLACK_GBPS = 0.02

# Header names -> (field, group); group None for the leading columns, else 0/1 for the placements.
_LEADING = {"size": "size_bytes", "bytes": "size_bytes", "count": "count", "n": "count",
            "type": "type", "redop": "redop", "op": "redop", "root": "root"}
_PLACED = {"time": "time_us", "cputime": "time_us", "algbw": "algbw_gbps", "busbw": "busbw_gbps",
           "#wrong": "wrong", "wrong": "wrong", "error": "error", "res": "error"}

MAX_WARNINGS = 20


def _noop(_msg):
    return None


def _to_float(token):
    try:
        value = float(token)
    except (TypeError, ValueError):
        return None
    if math.isnan(value) or math.isinf(value):
        return None
    return value


def _nonfinite(token):
    """Whether ``token`` is printf's nan/inf (which become None, not a parse failure)."""
    return bool(re.match(r"^[-+]?(?:nan|inf)", token or "", re.IGNORECASE))


def _to_int(token):
    """An int from ``12``, ``-1`` or ``1.57286e+06`` (``%g`` output); None otherwise."""
    if token is None:
        return None
    if re.match(r"^[-+]?\d+$", token):
        return int(token)
    value = _to_float(token)
    if value is None or value != int(value):
        return None
    return int(value)


def _header_layout(tokens):
    """Column layout [(field, group)] from the column header tokens (without the '#'), or None."""
    names = [token.lower() for token in tokens]
    if not ("busbw" in names and ("time" in names or "cputime" in names)):
        return None
    layout = []
    group = -1
    for name in names:
        if name in ("time", "cputime"):
            group += 1
        if group < 0:
            if name not in _LEADING:
                return None
            layout.append((_LEADING[name], None))
        elif group > 1:
            break
        elif name in _PLACED:
            layout.append((_PLACED[name], group))
        else:
            layout.append((None, group))  # i_min, i_max, i_p99, i_cv%, timestamp...
    if group < 0 or not layout or layout[0][0] != "size_bytes":
        return None
    return layout


def _guess_layout(tokens):
    """Layout from a data row alone (no column header seen), from its token count."""
    count = len(tokens)
    leading = {13: 5, 12: 4, 11: 3}.get(count)
    if leading is None:
        return None
    names = ["size_bytes", "count", "type", "redop", "root"][:leading]
    if leading == 4 and _to_int(tokens[3]) is not None:
        names = ["size_bytes", "count", "type", "root"]
    layout = [(name, None) for name in names]
    for group in (0, 1):
        last = tokens[leading + 4 * group + 3]
        kind = "wrong"
        match = re.match(r"^[-+]?\d+(?:\.\d*)?e([-+]?\d+)$", last, re.IGNORECASE)
        if match and int(match.group(1)) < 6:
            kind = "error"  # old '%5.0le' error column (0e+00); '%g' wrong counts switch to e+06 and up
        layout += [("time_us", group), ("algbw_gbps", group), ("busbw_gbps", group), (kind, group)]
    return layout


def _parse_row(tokens, layout):
    """A result dict from the tokens of a data row, or None when it does not fit the layout."""
    needed = len(layout)
    while needed and layout[needed - 1][0] is None:
        needed -= 1  # optional trailing columns (a timestamp) need not be there
    if len(tokens) < needed:
        return None
    row = {"size_bytes": None, "count": None, "type": None, "redop": None, "root": None}
    placed = [{"time_us": None, "algbw_gbps": None, "busbw_gbps": None, "wrong": None}, {}]
    placed[1] = dict(placed[0])
    has_error = False
    for (field, group), token in zip(layout, tokens):
        if field is None:
            continue
        if group is None:
            if field in ("size_bytes", "count", "root"):
                value = _to_int(token)
                if value is None:
                    return None
                row[field] = value
            else:
                row[field] = token
        elif field == "wrong":
            if token.upper() == "N/A":
                placed[group]["wrong"] = None
            else:
                value = _to_int(token)
                if value is None:
                    return None
                placed[group]["wrong"] = value
        elif field == "error":
            has_error = True
            if token.upper() != "N/A" and _to_float(token) is None and not _nonfinite(token):
                return None
            placed[group]["error"] = _to_float(token)
        else:
            value = _to_float(token)
            if value is None and not _nonfinite(token):
                return None
            placed[group][field] = value
    if has_error:
        for group in (0, 1):
            placed[group].setdefault("error", None)
    row["out_of_place"], row["in_place"] = placed
    return row


def collective_name(text):
    """``alltoall`` from ``alltoall_perf``, ``./build/all_reduce_perf -b 8`` or
    ``/opt/nccl-tests/build/sendrecv_perf_mpi``; None when no ``*_perf`` name is in ``text``."""
    match = _PROGRAM_RE.search(" %s " % (text or ""))
    return match.group("name") if match else None


def _placement_name(group):
    return "out-of-place" if group == 0 else "in-place"


def implausible(row):
    """Why the figures of a result row cannot come from a real run (list of phrases, empty
    when they can): negative values, an algorithm bandwidth above size / time, a bus
    bandwidth above twice the algorithm bandwidth."""
    reasons = []
    for group, key in ((0, "out_of_place"), (1, "in_place")):
        values = row[key]
        where = _placement_name(group)
        for field, what, unit in (("time_us", "time", " us"), ("algbw_gbps", "algorithm bandwidth", " GB/s"),
                                  ("busbw_gbps", "bus bandwidth", " GB/s"), ("wrong", "wrong-value count", ""),
                                  ("error", "error", "")):
            value = values.get(field)
            if value is not None and value < 0:
                reasons.append("%s %s %g%s is negative" % (where, what, value, unit))
        time_us, algbw, busbw = values["time_us"], values["algbw_gbps"], values["busbw_gbps"]
        if algbw is not None and algbw >= 0 and time_us and time_us > 0 and row["size_bytes"] is not None:
            most = row["size_bytes"] / (time_us * 1e3)
            if algbw > most * (1 + _REL_SLACK) + _ABS_SLACK_GBPS:
                reasons.append("%s algorithm bandwidth %g GB/s is more than %d bytes in %g us can give (%.3g GB/s)"
                               % (where, algbw, row["size_bytes"], time_us, most))
        if busbw is not None and algbw is not None and busbw >= 0 and algbw >= 0 \
                and busbw > 2 * algbw * (1 + _REL_SLACK / 10) + _ABS_SLACK_GBPS:
            reasons.append("%s bus bandwidth %g GB/s is more than twice the algorithm bandwidth %g GB/s (no "
                           "collective moves more)" % (where, busbw, algbw))
    return reasons


def _without_redop(layout):
    """The layout with its leading ``redop`` column removed, or None when it has none."""
    if (("redop", None)) not in layout:
        return None
    return [column for column in layout if column != ("redop", None)]


def _looks_like_row(tokens):
    return len(tokens) >= 2 and re.match(r"^\d+$", tokens[0]) and re.match(r"^\d+$", tokens[1])


def parse_nccl_log(text, warn=None, program=None):
    """Parse the output of one nccl-tests run (``*_perf``); never raises.

    Returns a dict with ``devices`` (list of ``rank``, ``host``, ``pid``, ``device``,
    ``bus_id``, ``name``), ``results`` (list of ``size_bytes``, ``count``, ``type``,
    ``redop``, ``root``, ``out_of_place`` and ``in_place``, each ``time_us``,
    ``algbw_gbps``, ``busbw_gbps``, ``wrong`` and, for the old format, ``error``),
    ``avg_busbw_gbps``, ``max_busbw_gbps``, ``wrong_total``, ``errors`` (list of lines),
    ``refused`` (one sentence per row or summary figure that no run can produce, see the
    module docstring; those rows are not in ``results``), ``validated`` (at least one row
    has a ``#wrong`` count or an ``error`` value: the data were checked; false when every
    one is ``N/A``, as with ``-c 0``), ``collective`` (``all_reduce``,
    ``alltoall``...; None when neither the log nor ``program`` tells), ``completed`` (the
    ``# Avg bus bandwidth`` line was reached), ``passed`` (completed, at least one result
    row, no wrong value, no error, nothing refused), plus ``started`` (a run's parameter
    line was seen) and ``using_devices`` (the ``# Using devices`` line was seen).

    ``program`` is the name or path of the binary that printed ``text`` when the caller ran
    it (``all_reduce_perf``): it names the collective when the log does not
    (``# Collective test starting`` is only printed by nccl-tests 2.14+).

    ``warn`` is called with one sentence per line inside a run that was not understood
    (at most :data:`MAX_WARNINGS`, then one sentence for the rest).
    """
    warn = warn or _noop
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    result = {
        "devices": [], "results": [], "avg_busbw_gbps": None, "max_busbw_gbps": None, "wrong_total": 0,
        "errors": [], "refused": [], "collective": None, "validated": False, "completed": False, "passed": False,
        "started": False, "using_devices": False,
    }
    state = {"warned": 0, "skipped": 0, "content": False, "avg_line": None, "banner": None, "invocation": None}

    def skip(number, line, why):
        state["warned"] += 1
        if state["warned"] <= MAX_WARNINGS:
            warn("line %d not understood (%s), skipped: %s" % (number, why, line.strip()[:200]))
        else:
            state["skipped"] += 1

    layout = None
    runs = 0
    seen_devices = set()
    in_run = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.replace("\x00", "").rstrip()
        stripped = line.strip()
        if not stripped:
            continue
        if any(regex.search(stripped) for regex in _ERROR_RES):
            result["errors"].append(stripped)
            continue
        if _RUN_START_RE.match(stripped):
            # '# nccl-tests version', '# Collective test starting' and '# nThread' open one run.
            if not runs or state["content"]:
                runs += 1
                if runs == 2:
                    warn("the log holds more than one nccl-tests run; devices, results and errors of all runs "
                         "are reported, the summary (avg_busbw_gbps, completed) is the last run's")
                result["completed"] = False
                result["avg_busbw_gbps"] = None
                state["avg_line"] = None
            state["content"] = False
            in_run = True
            result["started"] = True
            layout = None
            continue
        match = _COLLECTIVE_RE.match(stripped)
        if match:
            state["banner"] = collective_name(match.group("name")) or match.group("name")
            continue
        match = _RANK_RE.match(stripped)
        if match:
            device = {
                "rank": int(match.group("rank")), "host": match.group("host"), "pid": int(match.group("pid")),
                "device": int(match.group("device")), "bus_id": match.group("bus_id").strip(),
                "name": match.group("name") or None,
            }
            state["content"] = True
            key = tuple(sorted(device.items(), key=lambda item: item[0]))
            if key not in seen_devices:
                seen_devices.add(key)
                result["devices"].append(device)
            continue
        match = _OOB_RE.match(stripped)
        if match:
            if match.group("verdict").upper() == "FAILED" or (_to_int(match.group("count")) or 0) > 0:
                result["errors"].append(stripped)
            continue
        match = _AVG_RE.match(stripped)
        if match:
            result["avg_busbw_gbps"] = _to_float(match.group("value"))
            state["avg_line"] = number
            if result["avg_busbw_gbps"] is None:
                warn("line %d: the average bus bandwidth %r is not a number" % (number, match.group("value")))
            if match.group("verdict").upper() == "FAILED":
                result["errors"].append(stripped)
            result["completed"] = True
            state["content"] = True
            in_run = False
            continue
        if stripped.startswith("#"):
            if re.match(r"^#\s*Using devices\s*$", stripped):
                result["using_devices"] = True
                continue
            if any(regex.match(stripped) for regex in _KNOWN_COMMENT_RES):
                continue
            if not in_run and _INVOCATION_RE.search(stripped):
                # a root prompt ('# ./build/all_reduce_perf -g 8') before the run
                if state["invocation"] is None:
                    state["invocation"] = collective_name(stripped)
                continue
            new_layout = _header_layout(stripped.lstrip("#").split())
            if new_layout is not None:
                layout = new_layout
                continue
            if in_run:
                skip(number, stripped, "an unknown comment line")
            continue
        tokens = stripped.split()
        if _looks_like_row(tokens):
            row_layout = layout or _guess_layout(tokens)
            row = _parse_row(tokens, row_layout) if row_layout else None
            if row is None and layout and len(tokens) == len(layout) - 1 and _without_redop(layout):
                # A blank redop (alltoall... in the older format): the columns, counted from
                # the end of the line, are all there but one name of the header has no token.
                row = _parse_row(tokens, _without_redop(layout))
            if row is not None:
                reasons = implausible(row)
                if reasons:
                    result["refused"].append("line %d, the row of %s bytes: %s; not taken as evidence"
                                             % (number, row["size_bytes"], "; ".join(reasons)))
                    state["content"] = True
                    continue
                if result["completed"] and not in_run:
                    warn("line %d: a result row after the summary line" % number)
                result["results"].append(row)
                state["content"] = True
                continue
            if row_layout and len(tokens) < len(row_layout):
                skip(number, stripped, "a result row cut short")
                continue
            skip(number, stripped, "a row that does not fit the column header")
            continue
        if _NCCL_INFO_RE.search(stripped):
            continue
        if _INVOCATION_RE.search(stripped):
            if state["invocation"] is None:
                state["invocation"] = collective_name(stripped)
            continue
        if in_run:
            skip(number, stripped, "not nccl-tests output")
    if state["skipped"]:
        warn("%d more line(s) not understood were skipped" % state["skipped"])

    busbw = []
    wrong_total = 0
    for row in result["results"]:
        for placement in (row["out_of_place"], row["in_place"]):
            if placement["busbw_gbps"] is not None:
                busbw.append(placement["busbw_gbps"])
            if isinstance(placement["wrong"], int):
                wrong_total += placement["wrong"]
    result["max_busbw_gbps"] = max(busbw) if busbw else None
    result["wrong_total"] = wrong_total
    result["validated"] = any(isinstance(placement["wrong"], int) or placement.get("error") is not None
                              for row in result["results"] for placement in (row["out_of_place"], row["in_place"]))
    avg = result["avg_busbw_gbps"]
    if avg is not None:
        if avg < 0:
            result["refused"].append("line %s: the average bus bandwidth %g GB/s is negative; not taken as evidence"
                                     % (state["avg_line"], avg))
        elif busbw and avg > max(busbw) * (1 + _REL_SLACK / 10) + _ABS_SLACK_GBPS:
            result["refused"].append("line %s: the average bus bandwidth %g GB/s is above every row's (at most %g "
                                     "GB/s); not taken as evidence" % (state["avg_line"], avg, max(busbw)))
    program_name = collective_name(str(program)) if program else None
    result["collective"] = state["banner"] or program_name or state["invocation"]
    result["passed"] = bool(result["completed"] and result["results"] and wrong_total == 0 and not result["errors"]
                            and not result["refused"])
    return result
