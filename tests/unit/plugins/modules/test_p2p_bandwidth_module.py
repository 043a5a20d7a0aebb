"""Tests for the module aiserver.gpu.p2p_bandwidth, run as Ansible runs it (the ``run_module``
fixture of tests/unit/conftest.py).

Two ways in: saved logs (``log_path``) of the F_/G_ captures in tests/unit/fixtures/p2p, and a
STAND-IN tool: a small shell script written to a temporary directory that prints one of those
captures (or hangs), records its argv and locale, and exits with a chosen status. It is not
p2pBandwidthLatencyTest nor nvbandwidth; it only lets the module run its real code path.
"""
import ast
import json
import os
import stat
import time

import pytest
import yaml

from captures import (
    NCCL_2X2080TI_ALL_REDUCE,
    NVBW_1X3050_LATENCY_NS,
    P2P_ABORTED_GLUED,
    P2P_ABSURD_VALUES,
    P2P_CUT_MID_MATRIX,
    NVBW_8XA100_ASSERT,
    NVBW_README_WRITE_CE,
    P2P_2X2080TI_CANNOT,
    P2P_4X3090_CANNOT,
    P2P_6X4090_READS,
    P2P_8X4090_STOCK,
    P2P_8XA100_WRITES,
    P2P_POWER9_POWER8,
    fixture_path,
    module_path,
)

MODULE = "p2p_bandwidth"
ALL = [P2P_2X2080TI_CANNOT, P2P_POWER9_POWER8, P2P_4X3090_CANNOT, P2P_8XA100_WRITES, P2P_8X4090_STOCK,
       P2P_6X4090_READS, NVBW_8XA100_ASSERT, NVBW_README_WRITE_CE, NVBW_1X3050_LATENCY_NS]
FAILING = {NVBW_8XA100_ASSERT}

# The stand-in tool (tests only). It appends "argv | LC_ALL=..." to $STANDIN_LOG, prints
# $STANDIN_OUT, then with $STANDIN_SLEEP starts `sleep` as a child (pid in $STANDIN_LOG.sleep)
# and waits for it, and exits $STANDIN_RC.
STANDIN = r"""#!/bin/sh
# STAND-IN for p2pBandwidthLatencyTest / nvbandwidth, written by tests/unit/plugins/modules/test_p2p_bandwidth_module.py.
echo "$* | LC_ALL=$LC_ALL" >> "$STANDIN_LOG"
if [ -n "$STANDIN_OUT" ]; then cat "$STANDIN_OUT"; fi
if [ -n "$STANDIN_SLEEP" ]; then
  sleep "$STANDIN_SLEEP" &
  echo $! > "$STANDIN_LOG.sleep"
  wait
fi
exit "${STANDIN_RC:-0}"
"""


def fx(name):
    return fixture_path("p2p", name)


def ids(name):
    return name.rsplit(".", 1)[0]


def documented_return_keys():
    """The top-level keys of the module's RETURN block."""
    with open(module_path(MODULE)) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [target.id for target in node.targets] == ["RETURN"]:
            return set(yaml.safe_load(node.value.value))
    raise AssertionError("no RETURN in the module")


def warning_texts(result):
    """The warning messages of a result (ansible-core 2.19 returns them as WarningSummary dicts)."""
    texts = []
    for warning in result.get("warnings", []):
        if isinstance(warning, dict):
            warning = warning.get("event", warning).get("msg", json.dumps(warning))
        texts.append(warning)
    return texts


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except (IOError, OSError):
        return False


@pytest.fixture
def standin(tmp_path, run_module):
    """``call(args, out=None, rc=0, sleep=None, name=..., **kw)`` runs the module with the stand-in
    (``executable`` defaults to its path); returns (result, argv lines the stand-in saw)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "standin.log"

    def call(args, out=None, rc=0, sleep=None, name="p2pBandwidthLatencyTest", **kwargs):
        script = bindir / name
        script.write_text(STANDIN)
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        module_args = {"executable": str(script)}
        module_args.update(args)
        env = {"STANDIN_LOG": str(log), "STANDIN_OUT": fx(out) if out else "", "STANDIN_RC": str(rc),
               "STANDIN_SLEEP": str(sleep or ""), "LC_ALL": "de_DE.UTF-8"}
        result = run_module(MODULE, module_args, env=env, path_prefix=bindir, **kwargs)
        calls = log.read_text().splitlines() if log.exists() else []
        return result, calls

    call.log = log
    return call


# --------------------------------------------------------------------------- saved logs

@pytest.mark.parametrize("name", ALL, ids=ids)
def test_log_path_every_capture(run_module, name):
    result = run_module(MODULE, {"log_path": fx(name), "fail_on_error": False})
    assert result.get("failed", False) is False and result["changed"] is False
    assert result["passed"] is (name not in FAILING)
    assert result["timed_out"] is False and "rc" not in result and "cmd" not in result
    with open(fx(name)) as handle:
        assert result["log"] == handle.read()
    assert set(result) - {"changed", "failed", "warnings", "invocation"} == documented_return_keys() - {"rc", "cmd"}


def test_log_path_passing(run_module):
    result = run_module(MODULE, {"log_path": fx(P2P_2X2080TI_CANNOT)})
    assert "failed" not in result or result["failed"] is False
    assert result["tool"] == "p2pBandwidthLatencyTest" and result["device_count"] == 2
    assert result["p2p_access"] == [[True, False], [False, True]]
    assert result["matrices"]["unidirectional_p2p_enabled_gbps"][0] == [538.62, 5.72]
    assert result["matrices"]["latency_cpu_p2p_enabled_us"][0] == [3.36, 10.34]
    assert result["passed"] is True and result["errors"] == []
    assert result["msg"] == "p2pBandwidthLatencyTest passed: 2 GPUs, 8 matrices, P2P access on 0 of 2 GPU pairs."
    assert "warnings" not in result


def test_log_path_failing_keeps_what_was_parsed(run_module):
    result = run_module(MODULE, {"log_path": fx(NVBW_8XA100_ASSERT)})
    assert result["failed"] is True and result["passed"] is False
    assert result["tool"] == "nvbandwidth" and result["device_count"] == 8
    assert result["devices"][7]["pci_bus_id"] == "00000000:9e:00"
    assert result["versions"]["driver"] == "550.127.08"
    assert result["testcases"] == ["device_to_device_memcpy_read_ce"]
    assert result["errors"][-1].startswith("ASSERT in expression h_errorFlag == 0")
    assert result["msg"].startswith("nvbandwidth reports an error: Invalid value when checking the pattern")
    assert "memcpy.cpp:165" in result["log"]


def test_log_path_failing_not_failed_without_fail_on_error(run_module):
    result = run_module(MODULE, {"log_path": fx(NVBW_8XA100_ASSERT), "fail_on_error": False})
    assert result.get("failed", False) is False
    assert result["passed"] is False and len(result["errors"]) == 3


def test_log_path_two_runs(run_module):
    result = run_module(MODULE, {"log_path": fx(P2P_POWER9_POWER8)})
    assert result["passed"] is True and len(result["runs"]) == 2
    assert result["matrices"]["unidirectional_p2p_enabled_gbps"][0] == [752.60, 68.46, 29.10, 28.97]
    assert result["runs"][1]["matrices"]["bidirectional_p2p_enabled_gbps"][0] == [519.38, 70.53, 30.36, 30.37]


def test_log_path_partial_warns(run_module):
    result = run_module(MODULE, {"log_path": fx(P2P_6X4090_READS)})
    assert result["passed"] is True
    assert warning_texts(result) == ["bidirectional_p2p_disabled_gbps has a heading but no rows (log cut short?); left out"]


def test_log_path_garbage_fails_and_warns(run_module, tmp_path):
    log = tmp_path / "garbage.log"
    log.write_text("Segfault? no.\nhello\n")
    result = run_module(MODULE, {"log_path": str(log)})
    assert result["failed"] is True and result["tool"] is None and result["passed"] is False
    assert result["msg"].startswith("Not p2pBandwidthLatencyTest or nvbandwidth output: it has none of their lines")
    assert result["unrecognized"] and warning_texts(result) == []  # nothing of it is read


def test_log_path_empty_not_failed_without_fail_on_error(run_module, tmp_path):
    log = tmp_path / "empty.log"
    log.write_text("")
    result = run_module(MODULE, {"log_path": str(log), "fail_on_error": False})
    assert result.get("failed", False) is False and result["passed"] is False and result["matrices"] == {}


def test_log_path_missing(run_module, tmp_path):
    result = run_module(MODULE, {"log_path": str(tmp_path / "nope.log")})
    assert result["failed"] is True and "does not exist" in result["msg"]


def test_log_path_check_mode_parses(run_module):
    result = run_module(MODULE, {"log_path": fx(NVBW_README_WRITE_CE)}, check_mode=True)
    assert result["changed"] is False and result["passed"] is True
    assert result["matrices"]["device_to_device_memcpy_write_ce"][0][1] == 276.07


@pytest.mark.parametrize("args, words", [
    ({}, "one of the following is required: executable, log_path"),
    ({"executable": "/bin/true", "log_path": "/etc/hostname"}, "mutually exclusive"),
    ({"log_path": "/etc/hostname", "timeout": 0}, "timeout must be at least 1"),
], ids=["neither", "both", "timeout-0"])
def test_bad_options(run_module, args, words):
    result = run_module(MODULE, args)
    assert result["failed"] is True and words in result["msg"]


# --------------------------------------------------------------------------- the stand-in tool

def test_run_passing(standin):
    result, calls = standin({"args": ["--p2p_read", "x y"]}, out=P2P_8X4090_STOCK)
    assert result.get("failed", False) is False and result["changed"] is False
    assert calls == ["--p2p_read x y | LC_ALL=C"]
    assert result["rc"] == 0 and result["cmd"][1:] == ["--p2p_read", "x y"]
    assert result["cmd"][0].endswith("/bin/p2pBandwidthLatencyTest")
    assert result["timed_out"] is False and result["passed"] is True
    assert result["matrices"]["bidirectional_p2p_enabled_gbps"][0][:2] == [917.23, 20.86]
    assert result["device_count"] == 8
    assert set(result) - {"changed", "failed", "warnings", "invocation"} == documented_return_keys()


def test_run_by_bare_name_on_path(standin):
    result, calls = standin({"executable": "nvbandwidth"}, out=NVBW_README_WRITE_CE, name="nvbandwidth")
    assert len(calls) == 1 and result["passed"] is True and result["tool"] == "nvbandwidth"
    assert result["cmd"][0].endswith("/bin/nvbandwidth")


def test_run_failing_nonzero_exit(standin):
    result, _calls = standin({"args": ["-t", "device_to_device_memcpy_read_ce"]}, out=NVBW_8XA100_ASSERT, rc=1,
                             name="nvbandwidth")
    assert result["failed"] is True and result["rc"] == 1 and result["passed"] is False
    assert result["errors"][-1].endswith("nvbandwidth exited with status 1")
    assert result["devices"] and result["versions"]["tool"] == "v0.7"


def test_run_nonzero_exit_alone_is_an_error(standin):
    result, _calls = standin({"fail_on_error": False}, out=P2P_2X2080TI_CANNOT, rc=2)
    assert result.get("failed", False) is False
    assert result["passed"] is False and result["rc"] == 2
    assert result["msg"].startswith("p2pBandwidthLatencyTest reports an error:") and "status 2" in result["msg"]


def test_run_hang_times_out_and_the_process_group_is_killed(standin):
    start = time.time()
    result, calls = standin({"timeout": 2}, out=P2P_8XA100_WRITES, sleep=30)
    elapsed = time.time() - start
    assert elapsed < 10, elapsed
    assert result["failed"] is True and result["timed_out"] is True and result["rc"] is None
    assert result["passed"] is False and "within 2 s" in result["msg"]
    # what the tool printed before it hung is kept
    assert result["matrices"]["unidirectional_p2p_enabled_gbps"][0][0] == 1581.48
    assert len(calls) == 1
    sleeper = int((standin.log.parent / (standin.log.name + ".sleep")).read_text())
    deadline = time.time() + 3
    while _alive(sleeper) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(sleeper)


def test_run_hang_not_failed_without_fail_on_error(standin):
    result, _calls = standin({"timeout": 1, "fail_on_error": False}, sleep=30)
    assert result.get("failed", False) is False and result["timed_out"] is True and result["passed"] is False


def test_check_mode_runs_nothing(standin):
    result, calls = standin({"args": ["-t", "0"]}, out=P2P_2X2080TI_CANNOT, check_mode=True)
    assert calls == []
    assert result.get("failed", False) is False and result["changed"] is False
    assert result["msg"].startswith("Check mode:") and result["rc"] is None and result["cmd"][1:] == ["-t", "0"]
    assert result["matrices"] == {} and result["passed"] is False and result["timed_out"] is False


@pytest.mark.parametrize("executable", ["/nonexistent/bin/nvbandwidth", "p2pBandwidthLatencyTest-not-here"],
                         ids=["path", "bare-name"])
def test_executable_missing(run_module, executable):
    result = run_module(MODULE, {"executable": executable})
    assert result["failed"] is True and "is not an executable file" in result["msg"]
    assert result["cmd"] == [executable]


def test_executable_not_executable(run_module, tmp_path):
    plain = tmp_path / "nvbandwidth"
    plain.write_text("#!/bin/sh\n")
    os.chmod(str(plain), 0o644)
    result = run_module(MODULE, {"executable": str(plain)})
    assert result["failed"] is True and "is not an executable file" in result["msg"]


# --------------------------------------------------------------------------- issue 12: bad input


def test_log_cut_mid_matrix_fails(run_module):
    result = run_module(MODULE, {"log_path": fx(P2P_CUT_MID_MATRIX)})
    assert result["failed"] is True and result["passed"] is False
    assert result["incomplete"] == ["bidirectional_p2p_enabled_gbps has 2 of 4 rows"]
    assert "cut short in the middle of a matrix" in result["msg"]


def test_an_nccl_tests_log_is_refused(run_module):
    """Before: 'nvbandwidth passed: 1 GPU, 1 matrix.'"""
    result = run_module(MODULE, {"log_path": fixture_path("nccl_tests", NCCL_2X2080TI_ALL_REDUCE)})
    assert result["failed"] is True and result["passed"] is False and result["tool"] is None
    assert result["matrices"] == {} and result["device_count"] is None
    assert result["msg"] == ("Not p2pBandwidthLatencyTest or nvbandwidth output: it looks like nccl-tests output "
                             "(# nThread, # Rank, # Avg bus bandwidth lines): give it to aiserver.gpu.nccl_test.")
    assert warning_texts(result) == []


def test_run_that_aborts_mid_line_reports_the_abort(standin):
    """A shell's 'Aborted (core dumped)' glued to the partial line 'P2' (exit status 134, as a
    wrapper script passes it on)."""
    result, _calls = standin({"fail_on_error": False}, out=P2P_ABORTED_GLUED, rc=134)
    assert result["failed"] is False and result["passed"] is False and result["rc"] == 134
    assert result["errors"][0] == "Aborted (core dumped) (the test died while printing 'P2')"
    assert result["errors"][1].endswith("exited with status 134")
    assert result["msg"].startswith("p2pBandwidthLatencyTest reports an error: Aborted (core dumped)")
    assert any("'P2' is a line cut short by the crash" in warning for warning in warning_texts(result))


def test_units_are_returned(run_module):
    result = run_module(MODULE, {"log_path": fx(NVBW_1X3050_LATENCY_NS)})
    assert result["passed"] is True and result["units"]["host_device_latency_sm"] == "ns"
    assert result["units"]["device_local_copy"] == "GB/s" and result["sums"]["host_device_latency_sm"] == 613.22


def test_absurd_values_are_refused(run_module):
    result = run_module(MODULE, {"log_path": fx(P2P_ABSURD_VALUES), "fail_on_error": False})
    assert result["passed"] is False and len(result["refused"]) == 2
    assert result["matrices"]["unidirectional_p2p_enabled_gbps"][0] == [538.62, None]
    assert result["msg"].startswith("p2pBandwidthLatencyTest printed values no run can produce, so the log is no "
                                    "evidence: unidirectional_p2p_enabled_gbps row 0 column 1: -5.72 GB/s is negative")
