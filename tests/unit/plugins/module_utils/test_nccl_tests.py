"""Tests for the pure nccl-tests output parser (plugins/module_utils/_nccl_tests.py).

Every E_ capture in tests/unit/fixtures/nccl_tests is read here, and the key figures its
``.source`` note states are asserted, keyed by the capture's name. The edge cases below
them are built from those captures (cut, shuffled, reformatted) or are a few lines written
here.
"""
import os

import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils._nccl_tests import (
    MAX_WARNINGS,
    collective_name,
    implausible,
    parse_nccl_log,
)
from captures import (
    FIXTURES,
    NCCL_4XH100_ALLTOALL_BANNER_CUT,
    NCCL_64XV100_ALLTOALL_BLANK_REDOP,
    NCCL_ABSURD_FIGURES,
    NCCL_AVG_LINE_ONLY,
    NCCL_BLANK_REDOP_ERROR_NA,
    NCCL_10XL40S_WARN_711,
    NCCL_12XV100_OLD_FAILED,
    NCCL_1X2080TI_REDUCE_MISALIGNED,
    NCCL_1X4090_HANG_USING_DEVICES,
    NCCL_2X2080TI_ALL_REDUCE,
    NCCL_2X2080TI_ALLTOALL_NA,
    NCCL_3X3090_WRONG_FAILED,
    NCCL_8X4090_ALL_REDUCE,
    fixture_path,
)

RESULT_KEYS = {"devices", "results", "avg_busbw_gbps", "max_busbw_gbps", "wrong_total", "errors", "refused",
               "collective", "validated", "completed", "passed", "started", "using_devices"}
DEVICE_KEYS = {"rank", "host", "pid", "device", "bus_id", "name"}
ROW_KEYS = {"size_bytes", "count", "type", "redop", "root", "out_of_place", "in_place"}
PLACED_KEYS = {"time_us", "algbw_gbps", "busbw_gbps", "wrong"}


def read(name):
    with open(fixture_path("nccl_tests", name), "rb") as handle:
        return handle.read().decode("utf-8")


def parse(text):
    warnings = []
    return parse_nccl_log(text, warn=warnings.append), warnings


def placed(row, where):
    """(time_us, algbw, busbw, wrong[, error]) of one placement of a row."""
    values = row[where]
    key = (values["time_us"], values["algbw_gbps"], values["busbw_gbps"], values["wrong"])
    return key + ((values["error"],) if "error" in values else ())


# --------------------------------------------------------------------------- the captures

# Key figures of each capture's .source. rows: number of table rows; last: (size, count, type, redop, root,
# out-of-place figures, in-place figures) of the largest size; errors: the error lines expected, in order.
CASES = {
    NCCL_10XL40S_WARN_711: dict(
        devices=10, host="ubuntu", first_bus_id="0000:95:00", last_bus_id="0000:b7:00", name="NVIDIA L40S",
        rows=0, avg=None, max=None, wrong_total=0, completed=False, passed=False, collective="all_reduce",
        errors=["[2025-06-20 02:14:03] ubuntu:33207:33207 [0] allocator.cc:79 NCCL WARN Cuda failure 711 "
                "'peer mapping resources exhausted'"],
    ),
    NCCL_12XV100_OLD_FAILED: dict(
        devices=12, host="seville", first_bus_id="0x36", last_bus_id="0xe7", name="Tesla V100-SXM3-32GB",
        rows=31, avg=30.2993, max=112.34, wrong_total=0, completed=True, passed=False, collective="all_gather",
        errors=["# Out of bounds values : 4 FAILED"],
        last=(8589934560, 178956970, "float", None, None, (106773.0, 73.75, 73.75, None, 1.0),
              (70089.0, 112.34, 112.34, None, 1.0)),
    ),
    NCCL_1X2080TI_REDUCE_MISALIGNED: dict(
        devices=1, host="autodl-container-xxxxx", first_bus_id="0000:b4:00", last_bus_id="0000:b4:00",
        name="NVIDIA GeForce RTX 2080 Ti",
        rows=28, avg=202818.0, max=5706839.35, wrong_total=0, completed=True, passed=True, errors=[], collective="reduce",
        last=(1073741824, 268435456, "float", "sum", 0, (4016.0, 267.37, 267.37, 0),
              (0.19, 5706839.35, 5706839.35, 0)),
    ),
    NCCL_1X4090_HANG_USING_DEVICES: dict(
        devices=0, rows=0, avg=None, max=None, wrong_total=0, completed=False, passed=False, errors=[],
        collective="all_reduce",
    ),
    NCCL_2X2080TI_ALL_REDUCE: dict(
        devices=2, host="autodl-container-xxxxx", first_bus_id="0000:b4:00", last_bus_id="0000:b5:00",
        name="NVIDIA GeForce RTX 2080 Ti",
        rows=28, avg=2.05774, max=4.0, wrong_total=0, completed=True, passed=True, errors=[], collective="all_reduce",
        last=(1073741824, 268435456, "float", "sum", -1, (268588.0, 4.0, 4.0, 0), (268461.0, 4.0, 4.0, 0)),
    ),
    NCCL_2X2080TI_ALLTOALL_NA: dict(
        devices=2, host="autodl-container-xxxxx", first_bus_id="0000:b4:00", last_bus_id="0000:b5:00",
        name="NVIDIA GeForce RTX 2080 Ti",
        rows=28, avg=2.06935, max=4.73, wrong_total=0, completed=True, passed=True, errors=[], collective="alltoall",
        last=(1073741824, 134217728, "float", "none", -1, (116573.0, 9.21, 4.61, 0), (113591.0, 9.45, 4.73, None)),
    ),
    NCCL_3X3090_WRONG_FAILED: dict(
        devices=3, host="worker1", first_bus_id="0x31", last_bus_id="0x31", name="NVIDIA GeForce RTX 3090",
        rows=27, avg=4.00344, max=9.99, completed=True, passed=False, collective=None,  # run by local_run_inc.sh
        errors=["# Out of bounds values : 162 FAILED"],
        last=(536870912, 134217728, "float", "sum", -1, (72761.0, 7.38, 9.84, 402653000),
              (73330.0, 7.32, 9.76, 402653000)),
    ),
    NCCL_8X4090_ALL_REDUCE: dict(
        devices=8, host="<REDACTED>", first_bus_id="0x01", last_bus_id="0xe1", name="NVIDIA GeForce RTX 4090",
        rows=25, avg=4.85265, max=15.04, wrong_total=0, completed=True, passed=True, errors=[],
        collective="all_reduce",  # from the root prompt '# ./build/all_reduce_perf -b 8 ...'
        last=(134217728, 33554432, "float", "sum", -1, (16253.0, 8.26, 14.45, 0), (16227.0, 8.27, 14.47, 0)),
    ),
    NCCL_64XV100_ALLTOALL_BLANK_REDOP: dict(
        devices=0, rows=2, avg=0.507636, max=0.51, wrong_total=0, completed=True, passed=True, errors=[],
        collective=None,  # the comment pastes the table only
        last=(536870912, 2097152, "float", None, None, (1041974.0, 0.52, 0.51, None, 0.0),
              (1041299.0, 0.52, 0.51, None, 1.0)),
    ),
    NCCL_4XH100_ALLTOALL_BANNER_CUT: dict(
        devices=4, host="Node1", first_bus_id="0000:4e:00", last_bus_id="0000:db:00", name="NVIDIA H100 80GB HBM3",
        rows=0, avg=None, max=None, wrong_total=0, completed=False, passed=False, errors=[], collective="alltoall",
    ),
}


def test_every_capture_is_covered():
    names = sorted(name for name in os.listdir(os.path.join(FIXTURES, "nccl_tests"))
                   if name.endswith(".txt") and not name.startswith("synthetic_"))
    assert names == sorted(CASES)
    for name in names:
        assert os.path.isfile(fixture_path("nccl_tests", name[:-4] + ".source"))


@pytest.mark.parametrize("name", sorted(CASES), ids=lambda name: name[:-4])
def test_capture_key_figures(name):
    case = CASES[name]
    result, _warnings = parse(read(name))
    assert set(result) == RESULT_KEYS
    assert len(result["devices"]) == case["devices"]
    assert len(result["results"]) == case["rows"]
    assert result["avg_busbw_gbps"] == case["avg"]
    assert result["max_busbw_gbps"] == case["max"]
    assert result["completed"] is case["completed"]
    assert result["passed"] is case["passed"]
    assert result["errors"] == case["errors"]
    assert result["refused"] == []
    assert result["collective"] == case["collective"]
    if "wrong_total" in case:
        assert result["wrong_total"] == case["wrong_total"]
    for rank, device in enumerate(result["devices"]):
        assert set(device) == DEVICE_KEYS
        assert device["rank"] == rank and device["name"] == case["name"]
        assert isinstance(device["pid"], int) and isinstance(device["device"], int)
    if case["devices"]:
        assert result["devices"][0]["host"] == case["host"]
        assert result["devices"][0]["bus_id"] == case["first_bus_id"]
        assert result["devices"][-1]["bus_id"] == case["last_bus_id"]
    for row in result["results"]:
        assert set(row) == ROW_KEYS
        for where in ("out_of_place", "in_place"):
            assert PLACED_KEYS <= set(row[where])
    if "last" in case:
        size, count, dtype, redop, root, out_of_place, in_place = case["last"]
        last = result["results"][-1]
        assert (last["size_bytes"], last["count"], last["type"], last["redop"], last["root"]) == \
            (size, count, dtype, redop, root)
        assert placed(last, "out_of_place") == out_of_place
        assert placed(last, "in_place") == in_place


def test_10x_l40s_warn_before_any_table():
    result, warnings = parse(read(NCCL_10XL40S_WARN_711))
    assert result["started"] and result["using_devices"]
    assert [device["device"] for device in result["devices"]] == list(range(10))
    assert {device["pid"] for device in result["devices"]} == {33207}
    assert warnings == []  # NCCL INFO lines are known noise


def test_12x_v100_old_format_error_column_is_not_a_count():
    result, warnings = parse(read(NCCL_12XV100_OLD_FAILED))
    assert warnings == []
    rows = result["results"]
    assert [row["size_bytes"] for row in rows[:4]] == [0, 0, 0, 48]
    assert rows[-1]["size_bytes"] == 8589934560
    # error '0e+00' everywhere except the two largest sizes '1e+00', both placements.
    errors = [(row["out_of_place"]["error"], row["in_place"]["error"]) for row in rows]
    assert errors == [(0.0, 0.0)] * 29 + [(1.0, 1.0)] * 2
    assert all(row["out_of_place"]["wrong"] is None and row["in_place"]["wrong"] is None for row in rows)
    assert all(row["redop"] is None and row["root"] is None for row in rows)
    assert result["devices"][10] == dict(rank=10, host="seville", pid=87569, device=10, bus_id="0xe5",
                                         name="Tesla V100-SXM3-32GB")
    # the time column switches from %.2f to %.1f to integers: 106.2, 13744
    assert rows[18]["out_of_place"]["time_us"] == 106.2 and rows[27]["out_of_place"]["time_us"] == 13744.0


def test_1x_2080ti_misaligned_columns():
    result, warnings = parse(read(NCCL_1X2080TI_REDUCE_MISALIGNED))
    assert warnings == []
    assert all(row["root"] == 0 and row["redop"] == "sum" for row in result["results"])
    assert all(row["in_place"]["time_us"] in (0.18, 0.19) for row in result["results"])
    assert result["results"][0]["size_bytes"] == 8 and result["results"][-1]["size_bytes"] == 1073741824


def test_1x_4090_hang_at_using_devices():
    result, warnings = parse(read(NCCL_1X4090_HANG_USING_DEVICES))
    assert result["started"] and result["using_devices"]
    assert warnings == []  # the prompt line is noise before the run


def test_2x_2080ti_all_reduce_rows():
    result, _warnings = parse(read(NCCL_2X2080TI_ALL_REDUCE))
    sizes = [row["size_bytes"] for row in result["results"]]
    assert sizes == [8 * 2 ** i for i in range(28)]
    assert result["wrong_total"] == 0
    assert all(row["out_of_place"]["wrong"] == 0 and row["in_place"]["wrong"] == 0 for row in result["results"])


def test_2x_2080ti_alltoall_in_place_wrong_is_na():
    result, _warnings = parse(read(NCCL_2X2080TI_ALLTOALL_NA))
    rows = result["results"]
    assert [row["size_bytes"] for row in rows[:2]] == [0, 0]
    assert all(row["in_place"]["wrong"] is None for row in rows)
    assert all(row["out_of_place"]["wrong"] == 0 for row in rows)


def test_3x_3090_wrong_counts_in_scientific_notation_and_stray_line():
    result, warnings = parse(read(NCCL_3X3090_WRONG_FAILED))
    rows = result["results"]
    assert rows[0]["out_of_place"]["wrong"] == 6
    assert rows[18]["size_bytes"] == 2097152 and rows[18]["out_of_place"]["wrong"] == 1572860
    wrongs = [row[where]["wrong"] for row in rows for where in ("out_of_place", "in_place")]
    assert all(isinstance(value, int) and value > 0 for value in wrongs)
    assert result["wrong_total"] == sum(wrongs)
    assert [device["host"] for device in result["devices"]] == ["worker1", "worker2", "worker3"]
    assert [device["pid"] for device in result["devices"]] == [30331, 12583, 2635]
    assert len(warnings) == 1 and "Connect QP" in warnings[0] and "line 12" in warnings[0]


def test_8x_4090_trailing_spaces_and_prompt():
    result, warnings = parse(read(NCCL_8X4090_ALL_REDUCE))
    assert warnings == []
    assert result["results"][15]["out_of_place"]["time_us"] == 124.8


# --------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("text", ["", None, b"", "\n\n  \n"], ids=["empty", "none", "bytes", "blank"])
def test_empty(text):
    result, warnings = parse(text)
    assert result["devices"] == [] and result["results"] == [] and result["errors"] == []
    assert result["completed"] is False and result["passed"] is False
    assert result["avg_busbw_gbps"] is None and result["max_busbw_gbps"] is None and result["wrong_total"] == 0
    assert warnings == []


@pytest.mark.parametrize("text", [
    "garbage\x00\x01\xff line\n12 34\n# Avg bus\n#  Rank x\n",
    "\n".join("%d %d" % (i, i) for i in range(50)),
    "# nThread 1\n" + "\n".join("%d %d foo bar" % (i, i) for i in range(50)),
    "# nThread\n#  size count type time algbw busbw\n1 2 float x y z\n",
    b"\xff\xfe# nThread 1 nGpus 1\n\x80\x81",
], ids=["binary", "number-pairs", "many-bad-rows", "bad-values", "bad-utf8"])
def test_garbage_never_raises(text):
    result, warnings = parse(text)
    assert result["results"] == [] and result["completed"] is False and result["passed"] is False
    assert len(warnings) <= MAX_WARNINGS + 1


def test_many_unknown_lines_are_summed_up():
    text = "# nThread 1 nGpus 1\n" + "\n".join("noise %d" % i for i in range(30))
    result, warnings = parse(text)
    assert len(warnings) == MAX_WARNINGS + 1
    assert warnings[-1].startswith("10 more line(s)")
    assert result["started"]


def test_warn_is_optional():
    assert parse_nccl_log(read(NCCL_3X3090_WRONG_FAILED))["results"]


def test_cut_mid_row():
    text = read(NCCL_2X2080TI_ALL_REDUCE)
    cut = text[:text.index("    16777216       4194304") + 60]  # in the middle of the in-place figures
    result, warnings = parse(cut)
    assert result["completed"] is False and result["passed"] is False
    assert len(result["results"]) == 21  # the 22nd row is cut short and skipped
    assert result["avg_busbw_gbps"] is None and result["max_busbw_gbps"] == 3.97
    assert len(warnings) == 1 and "cut short" in warnings[0]


def test_cut_before_the_summary():
    text = read(NCCL_8X4090_ALL_REDUCE)
    result, _warnings = parse(text[:text.index("# Out of bounds")])
    assert len(result["results"]) == 25 and result["completed"] is False and result["passed"] is False
    assert result["errors"] == []


def test_scientific_notation_everywhere():
    text = (
        "# nThread 1 nGpus 1 minBytes 8 maxBytes 8 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 "
        "validation: 1 graph: 0\n"
        "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   "
        "busbw #wrong\n"
        "   1073741824   268435456     float     sum      -1  1.2e+05   8.9e+00  1.5e+01  0  1.3E+05  8.26  14.45  "
        "1e+06\n"
        "# Avg bus bandwidth    : 1.2e+01\n"
    )
    result, warnings = parse(text)
    assert warnings == []
    row = result["results"][0]
    assert placed(row, "out_of_place") == (120000.0, 8.9, 15.0, 0)
    assert placed(row, "in_place") == (130000.0, 8.26, 14.45, 1000000)
    assert result["avg_busbw_gbps"] == 12.0 and result["wrong_total"] == 1000000
    assert result["completed"] and not result["passed"]


NEW_FORMAT = """\
$ ./build/all_reduce_perf -b 8 -e 16 -f 2 -g 2 -c 1 -C 1
Warning: Permanently added 'node07' (ED25519) to the list of known hosts.
[1700000000.123] [node07:1234:0]    ucp_context.c:1000 UCX  WARN  network device 'mlx5_0:1' is not available
# nccl-tests version 2.14.1 nccl-headers=22203 nccl-library=22203
# Collective test starting: all_reduce_perf
# nThread 1 nGpus 2 minBytes 8 maxBytes 16 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 \
graph: 0 unalign: 0
#
# Using devices
#  Rank  0 Group  0 Pid   1234 on     node07 device  0 [0000:18:00] NVIDIA H100 80GB HBM3
#  Rank  1 Group  0 Pid   1234 on     node07 device  1 [0000:2a:00] NVIDIA H100 80GB HBM3
#
#                                                              out-of-place                       in-place
#       size         count      type   redop    root  cputime   algbw   busbw  #wrong  cputime   algbw   busbw  \
#wrong           timestamp
#        (B)    (elements)                               (us)  (GB/s)  (GB/s)             (us)  (GB/s)  (GB/s) \
         %Y-%m-%d %H:%M:%S
           8             2     float     sum      -1    10.50    0.00    0.00       0    10.20    0.00    0.00  \
     0  2025-01-02 03:04:05
          16             4     float     sum      -1    10.60    0.00    0.00     N/A    10.30    0.00    0.00  \
     0  2025-01-02 03:04:06
# Out of bounds values : 0 OK
# Avg bus bandwidth    : 0.001 OK
#
# Collective test concluded: all_reduce_perf
# GPU memory usage     : node07 1.2 GB | Total  1.2 GB
"""


def test_new_format_with_version_line_cputime_and_timestamp():
    result, warnings = parse(NEW_FORMAT)
    assert warnings == []
    assert [device["bus_id"] for device in result["devices"]] == ["0000:18:00", "0000:2a:00"]
    assert result["devices"][0]["name"] == "NVIDIA H100 80GB HBM3"
    assert len(result["results"]) == 2
    assert placed(result["results"][0], "out_of_place") == (10.5, 0.0, 0.0, 0)
    assert result["results"][1]["out_of_place"]["wrong"] is None
    assert result["avg_busbw_gbps"] == 0.001 and result["completed"] and result["passed"]


def test_avg_bus_bandwidth_check_failed_is_an_error():
    text = NEW_FORMAT.replace("# Avg bus bandwidth    : 0.001 OK", "# Avg bus bandwidth    : 0.001 FAILED")
    result, _warnings = parse(text)
    assert result["errors"] == ["# Avg bus bandwidth    : 0.001 FAILED"] and result["passed"] is False


def test_old_oldest_format_bytes_n_op_res():
    text = (
        "# Using devices\n"
        "#   Rank  0 on  host1 device  0 [0x3b] Tesla P100-PCIE-16GB\n"
        "#      bytes             N    type      op        out-of-place                    in-place\n"
        "#      bytes             N    type      op     time  algbw  busbw      res     time  algbw  busbw      res\n"
        "     1048576        262144   float     sum    0.123   8.50  12.75    0e+00    0.120   8.70  13.05    0e+00\n"
    )
    result, warnings = parse(text)
    assert warnings == []
    assert result["devices"] == []  # no Pid: not an nccl-tests rank line this parser knows
    row = result["results"][0]
    assert row["redop"] == "sum" and row["root"] is None
    assert placed(row, "in_place") == (0.120, 8.70, 13.05, None, 0.0)


def test_rows_without_a_header_are_guessed_from_the_token_count():
    lines = [line for line in read(NCCL_2X2080TI_ALL_REDUCE).splitlines() if not line.startswith("#")]
    result, _warnings = parse("\n".join(lines))
    assert len(result["results"]) == 28 and result["results"][-1]["root"] == -1
    old = [line for line in read(NCCL_12XV100_OLD_FAILED).splitlines() if not line.startswith("#")]
    result, _warnings = parse("\n".join(old))
    assert len(result["results"]) == 31
    assert result["results"][-1]["in_place"]["error"] == 1.0 and result["results"][-1]["redop"] is None


def test_test_failure_lines_are_errors():
    text = read(NCCL_8X4090_ALL_REDUCE)
    text = text[:text.index("     2097152")] + (
        "node07: Test NCCL failure common.cu:1030 'unhandled cuda error (run with NCCL_DEBUG=INFO for details)'\n"
        " .. node07 pid 1234: Test failure common.cu:891\n"
        "node07: Test timeout (600s) common.cu:402\n")
    result, _warnings = parse(text)
    assert len(result["errors"]) == 3 and "Test NCCL failure" in result["errors"][0]
    assert result["errors"][2] == "node07: Test timeout (600s) common.cu:402"
    assert result["completed"] is False and result["passed"] is False and len(result["results"]) == 18


def test_two_runs_in_one_log():
    text = read(NCCL_2X2080TI_ALL_REDUCE) + read(NCCL_2X2080TI_ALLTOALL_NA)
    result, warnings = parse(text)
    assert len(result["results"]) == 56
    assert len(result["devices"]) == 4  # the pids differ
    assert result["avg_busbw_gbps"] == 2.06935
    assert any("more than one" in warning for warning in warnings)


# --------------------------------------------------------------------------- issue 12: bad input


def test_a_log_with_only_the_summary_line_is_not_a_pass():
    """Before: 'passed' (completed, no wrong value, no error) with no device and no row."""
    result, warnings = parse(read(NCCL_AVG_LINE_ONLY))
    assert result["completed"] is True and result["avg_busbw_gbps"] == 2.06935
    assert result["results"] == [] and result["devices"] == []
    assert result["passed"] is False
    assert warnings == []


def test_blank_redop_rows_of_the_older_table_are_read_from_the_end():
    """nccl-tests#78: alltoall prints no reduction, so its rows have 11 tokens under a header of 12
    names. Before: both rows dropped as 'a result row cut short' and the run passed with 0 sizes."""
    result, warnings = parse(read(NCCL_64XV100_ALLTOALL_BLANK_REDOP))
    assert warnings == []
    assert [row["size_bytes"] for row in result["results"]] == [268435456, 536870912]
    assert all(row["redop"] is None and row["type"] == "float" for row in result["results"])
    assert placed(result["results"][0], "out_of_place") == (520935.0, 0.52, 0.51, None, 0.0)
    assert placed(result["results"][0], "in_place") == (519562.0, 0.52, 0.51, None, 1.0)
    assert result["validated"] is True and result["passed"] is True


def test_blank_redop_with_both_error_columns_na():
    result, warnings = parse(read(NCCL_BLANK_REDOP_ERROR_NA))
    assert warnings == []
    assert len(result["results"]) == 2
    assert placed(result["results"][1], "in_place") == (1041299.0, 0.52, 0.51, None, None)
    # -c 0: nothing was checked; the run still passes on its own terms, but says so.
    assert result["validated"] is False and result["passed"] is True


def test_a_cut_row_is_not_taken_for_a_blank_redop():
    """One token short at the END of the line ('sum' is where a blank redop would leave the time)."""
    text = read(NCCL_12XV100_OLD_FAILED)
    line = [row for row in text.splitlines() if row.strip().startswith("8589934560")][0]
    result, warnings = parse(text.replace(line, line.rsplit(None, 1)[0]))
    assert len(result["results"]) == 30 and any("cut short" in warning for warning in warnings)


def test_collective_from_the_banner_of_newer_logs():
    result, warnings = parse(read(NCCL_4XH100_ALLTOALL_BANNER_CUT))
    assert result["collective"] == "alltoall"
    assert result["started"] and len(result["devices"]) == 4
    assert result["results"] == [] and result["passed"] is False
    assert len(warnings) == 1 and "line 16" in warnings[0]  # the row the excerpt cut ('... 337.99    N')


def test_collective_from_the_program_when_the_log_does_not_say():
    text = read(NCCL_64XV100_ALLTOALL_BLANK_REDOP)
    assert parse_nccl_log(text, program="/opt/nccl-tests/build/alltoall_perf")["collective"] == "alltoall"
    # the banner wins over the program's name (a stand-in or a renamed binary)
    assert parse_nccl_log(read(NCCL_4XH100_ALLTOALL_BANNER_CUT), program="sendrecv_perf")["collective"] == "alltoall"
    assert parse_nccl_log(text, program="mybench")["collective"] is None


@pytest.mark.parametrize("text, name", [
    ("alltoall_perf", "alltoall"), ("./build/all_reduce_perf -b 8", "all_reduce"),
    ("/x/sendrecv_perf_mpi -g 1", "sendrecv"), ("mpirun ./local_run_inc.sh", None), ("", None), (None, None),
])
def test_collective_name(text, name):
    assert collective_name(text) == name


def test_absurd_figures_are_refused_naming_the_row():
    """Before: a bus bandwidth of 1e30 GB/s and a negative time were taken, and the run passed
    with max_busbw_gbps 1e30."""
    result, _warnings = parse(read(NCCL_ABSURD_FIGURES))
    assert result["passed"] is False
    assert len(result["results"]) == 26 and result["max_busbw_gbps"] == 4.0
    assert result["refused"] == [
        "line 19, the row of 2048 bytes: out-of-place time -11.83 us is negative; not taken as evidence",
        "line 28, the row of 1048576 bytes: out-of-place bus bandwidth 1e+30 GB/s is more than twice the algorithm "
        "bandwidth 3.75 GB/s (no collective moves more); not taken as evidence"]


def test_an_algorithm_bandwidth_above_size_over_time_is_refused():
    text = read(NCCL_8X4090_ALL_REDUCE).replace("16253    8.26   14.45", "16253  826.00   14.45")
    result, _warnings = parse(text)
    assert len(result["refused"]) == 1 and "the row of 134217728 bytes" in result["refused"][0]
    assert "out-of-place algorithm bandwidth 826 GB/s is more than 134217728 bytes in 16253 us can give (8.26 GB/s)" in result["refused"][0]
    assert result["passed"] is False


def test_an_average_above_every_row_is_refused():
    text = read(NCCL_2X2080TI_ALL_REDUCE).replace("2.05774", "1e+30")
    result, _warnings = parse(text)
    assert result["avg_busbw_gbps"] == 1e30 and result["passed"] is False
    assert result["refused"][0].endswith("the average bus bandwidth 1e+30 GB/s is above every row's (at most 4 GB/s); "
                                         "not taken as evidence")
    negative = parse(read(NCCL_2X2080TI_ALL_REDUCE).replace("2.05774", "-2.05774"))[0]
    assert "is negative" in negative["refused"][0] and negative["passed"] is False


def test_every_real_capture_is_plausible():
    """The checks accept what real runs print, the 1-GPU in-place 5.7e6 GB/s of a skipped copy included."""
    for name in CASES:
        rows = parse(read(name))[0]["results"]
        assert [implausible(row) for row in rows] == [[]] * len(rows), name
