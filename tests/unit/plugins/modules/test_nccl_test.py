"""Tests for the module aiserver.gpu.nccl_test, run as Ansible runs it (the ``run_module``
fixture of tests/unit/conftest.py).

Two ways in: saved logs (``log_path``, the real captures of tests/unit/fixtures/nccl_tests),
and a STAND-IN nccl-tests binary: a small shell script written to a temporary directory that
prints a capture (``cat``), optionally prints the device lines of a capture and then hangs
(``sleep`` in a child process, to prove that the whole process group is killed), and records
its argv and the environment variables the module passes. It is not nccl-tests; it only lets
the module run its real code path.
"""
import json
import os
import shutil
import stat
import subprocess
import time

import pytest

from captures import (
    NCCL_64XV100_ALLTOALL_BLANK_REDOP,
    NCCL_ABSURD_FIGURES,
    NCCL_AVG_LINE_ONLY,
    NCCL_BLANK_REDOP_ERROR_NA,
    NCCL_10XL40S_WARN_711,
    NCCL_12XV100_OLD_FAILED,
    NCCL_1X4090_HANG_USING_DEVICES,
    NCCL_2X2080TI_ALL_REDUCE,
    NCCL_3X3090_WRONG_FAILED,
    NCCL_8X4090_ALL_REDUCE,
    fixture_path,
)

MODULE = "nccl_test"
RESULT_KEYS = {"changed", "msg", "passed", "completed", "devices", "results", "avg_busbw_gbps", "max_busbw_gbps",
               "wrong_total", "errors", "timed_out", "log"}
HANG = "no output after the devices were listed for %d s: the classic broken-P2P hang; " \
       "re-run with NCCL_P2P_DISABLE=1 to confirm"

# The stand-in all_reduce_perf (tests only). Appends "argv | NCCL_P2P_DISABLE=... NCCL_DEBUG=..." to $STANDIN_LOG;
# prints $STANDIN_OUT; with $STANDIN_SLEEP starts `sleep` as a child (pid in $STANDIN_LOG.sleep) and waits
# for it; exits $STANDIN_RC.
STANDIN = r"""#!/bin/sh
# STAND-IN for an nccl-tests binary, written by tests/unit/plugins/modules/test_nccl_test.py.
echo "$* | NCCL_P2P_DISABLE=${NCCL_P2P_DISABLE-unset} NCCL_DEBUG=${NCCL_DEBUG-unset}" >> "$STANDIN_LOG"
cat "$STANDIN_OUT"
if [ -n "$STANDIN_SLEEP" ]; then
  sleep "$STANDIN_SLEEP" &
  echo $! > "$STANDIN_LOG.sleep"
  wait
fi
exit "${STANDIN_RC:-0}"
"""


def fx(name):
    return fixture_path("nccl_tests", name)


def read(name):
    with open(fx(name), "rb") as handle:
        return handle.read().decode("utf-8")


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
    """``call(args, out=capture or text, sleep=None, rc=0, env=None, **kw)`` runs the module with
    ``executable`` set to the stand-in; returns (result, argv lines the stand-in saw)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "all_reduce_perf"
    script.write_text(STANDIN)
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    log = tmp_path / "standin.log"

    def call(args, out=NCCL_8X4090_ALL_REDUCE, sleep=None, rc=0, env=None, **kwargs):
        out_file = tmp_path / "out.txt"
        out_file.write_bytes(read(out).encode("utf-8") if out.endswith(".txt") else out.encode("utf-8"))
        environ = {"STANDIN_LOG": str(log), "STANDIN_OUT": str(out_file), "STANDIN_SLEEP": str(sleep or ""),
                   "STANDIN_RC": str(rc)}
        environ.update(env or {})
        module_args = {"executable": str(script)}
        module_args.update(args)
        result = run_module(MODULE, module_args, env=environ, **kwargs)
        calls = log.read_text().splitlines() if log.exists() else []
        return result, calls

    call.log = log
    call.script = script
    call.bindir = bindir
    return call


# --------------------------------------------------------------------------- log_path


def test_log_path_passing(run_module):
    result = run_module(MODULE, {"log_path": fx(NCCL_8X4090_ALL_REDUCE)})
    assert not result.get("failed") and result["changed"] is False
    assert RESULT_KEYS <= set(result) and "rc" not in result and "cmd" not in result
    assert result["passed"] is True and result["completed"] is True and result["timed_out"] is False
    assert len(result["devices"]) == 8 and len(result["results"]) == 25
    assert result["avg_busbw_gbps"] == 4.85265 and result["max_busbw_gbps"] == 15.04
    assert result["wrong_total"] == 0 and result["errors"] == []
    assert result["devices"][0] == dict(rank=0, host="<REDACTED>", pid=1756513, device=0, bus_id="0x01",
                                        name="NVIDIA GeForce RTX 4090")
    last = result["results"][-1]
    assert last["size_bytes"] == 134217728 and last["out_of_place"]["busbw_gbps"] == 14.45
    assert last["in_place"] == dict(time_us=16227.0, algbw_gbps=8.27, busbw_gbps=14.47, wrong=0)
    assert result["msg"].startswith("passed") and "4.85265" in result["msg"]
    assert result["log"] == read(NCCL_8X4090_ALL_REDUCE)
    assert warning_texts(result) == []


def test_log_path_failing_fails_with_everything_parsed(run_module):
    result = run_module(MODULE, {"log_path": fx(NCCL_3X3090_WRONG_FAILED)})
    assert result["failed"] is True
    assert result["passed"] is False and result["completed"] is True
    assert len(result["devices"]) == 3 and len(result["results"]) == 27
    assert result["avg_busbw_gbps"] == 4.00344 and result["wrong_total"] > 0
    assert result["errors"] == ["# Out of bounds values : 162 FAILED"]
    assert result["msg"].startswith("%d wrong values" % result["wrong_total"])
    assert any("Connect QP" in warning for warning in warning_texts(result))


def test_log_path_failing_without_fail_on_error(run_module):
    result = run_module(MODULE, {"log_path": fx(NCCL_3X3090_WRONG_FAILED), "fail_on_error": False})
    assert not result.get("failed")
    assert result["passed"] is False and len(result["results"]) == 27


@pytest.mark.parametrize("name, words", [
    (NCCL_12XV100_OLD_FAILED, "failed: # Out of bounds values : 4 FAILED"),
    (NCCL_10XL40S_WARN_711, "NCCL errors: 1 error line(s)"),
    (NCCL_1X4090_HANG_USING_DEVICES, "ends before the '# Avg bus bandwidth' summary line"),
], ids=["old-format-FAILED", "nccl-warn", "hang-log"])
def test_log_path_verdicts(run_module, name, words):
    result = run_module(MODULE, {"log_path": fx(name), "fail_on_error": False})
    assert not result.get("failed") and result["passed"] is False
    assert words in result["msg"]
    assert result["timed_out"] is False


def test_log_path_devices_listed_then_cut(run_module, tmp_path):
    text = read(NCCL_8X4090_ALL_REDUCE)
    saved = tmp_path / "cut.log"
    saved.write_text(text[:text.index("#                 ")])
    result = run_module(MODULE, {"log_path": str(saved)})
    assert result["failed"] and result["completed"] is False and len(result["devices"]) == 8
    assert "broken-P2P hang" in result["msg"] and result["errors"] == []


def test_log_path_check_mode_parses(run_module):
    result = run_module(MODULE, {"log_path": fx(NCCL_2X2080TI_ALL_REDUCE)}, check_mode=True)
    assert not result.get("failed") and result["passed"] is True and len(result["results"]) == 28


def test_log_is_truncated_to_64_kib(run_module, tmp_path):
    text = "noise line\n" * 10000 + read(NCCL_8X4090_ALL_REDUCE)
    saved = tmp_path / "big.log"
    saved.write_text(text)
    result = run_module(MODULE, {"log_path": str(saved)})
    assert result["passed"] is True
    assert len(result["log"].encode("utf-8")) == 64 * 1024 and text.endswith(result["log"])


@pytest.mark.parametrize("args, words", [
    ({"log_path": "/nonexistent/nccl.log"}, "log_path /nonexistent/nccl.log does not exist"),
    ({"executable": "/nonexistent/build/all_reduce_perf"}, "executable /nonexistent/build/all_reduce_perf is not"),
    ({"executable": "all_reduce_perf_not_here"}, "executable all_reduce_perf_not_here is not"),
], ids=["log", "executable-path", "executable-bare"])
def test_missing_file_is_a_clear_failure(run_module, args, words):
    result = run_module(MODULE, args)
    assert result["failed"] and result["msg"].startswith(words)
    assert "nccl-tests" in result["msg"]


def test_not_executable(run_module, tmp_path):
    plain = tmp_path / "all_reduce_perf"
    plain.write_text("#!/bin/sh\n")
    os.chmod(str(plain), 0o644)
    result = run_module(MODULE, {"executable": str(plain)})
    assert result["failed"] and "is not an executable file" in result["msg"]


@pytest.mark.parametrize("args, words", [
    ({}, "one of the following is required"),
    ({"log_path": "/x", "executable": "/y"}, "mutually exclusive"),
    ({"log_path": "/x", "timeout": 0}, "timeout must be at least 1 second"),
], ids=["neither", "both", "timeout-0"])
def test_bad_arguments(run_module, args, words):
    result = run_module(MODULE, args)
    assert result["failed"] and words in result["msg"]


# --------------------------------------------------------------------------- run mode (stand-in)


def test_run_passing(standin):
    result, calls = standin({"args": ["-b", "8", "-e", "128M", "-f", "2", "-g", "8"]})
    assert not result.get("failed") and result["changed"] is False
    assert result["passed"] is True and result["rc"] == 0 and result["timed_out"] is False
    assert result["cmd"] == [str(standin.script), "-b", "8", "-e", "128M", "-f", "2", "-g", "8"]
    assert calls == ["-b 8 -e 128M -f 2 -g 8 | NCCL_P2P_DISABLE=unset NCCL_DEBUG=unset"]
    assert len(result["results"]) == 25 and result["avg_busbw_gbps"] == 4.85265


def test_run_env_is_passed(standin):
    result, calls = standin({"env": {"NCCL_P2P_DISABLE": 1, "NCCL_DEBUG": "INFO"}})
    assert result["passed"] is True
    assert calls == [" | NCCL_P2P_DISABLE=1 NCCL_DEBUG=INFO"]


def test_run_env_null_removes_a_variable(standin):
    result, calls = standin({"env": {"NCCL_DEBUG": None, "NCCL_P2P_DISABLE": True}}, env={"NCCL_DEBUG": "WARN"})
    assert result["passed"] is True
    assert calls == [" | NCCL_P2P_DISABLE=1 NCCL_DEBUG=unset"]


def test_run_bare_name_found_in_path(standin, run_module):
    result = run_module(MODULE, {"executable": "all_reduce_perf"}, path_prefix=standin.bindir,
                        env={"STANDIN_LOG": str(standin.log), "STANDIN_OUT": fx(NCCL_2X2080TI_ALL_REDUCE)})
    assert result["passed"] is True and result["cmd"] == [str(standin.script)]


def test_run_failing(standin):
    result, _warnings = standin({}, out=NCCL_3X3090_WRONG_FAILED, rc=1)
    assert result["failed"] and result["passed"] is False and result["rc"] == 1
    assert result["errors"] == ["# Out of bounds values : 162 FAILED", "all_reduce_perf exited with status 1"]
    assert len(result["results"]) == 27


def test_run_nonzero_rc_after_a_complete_table_is_an_error(standin):
    result, _warnings = standin({"fail_on_error": False}, out=NCCL_2X2080TI_ALL_REDUCE, rc=3)
    assert not result.get("failed") and result["passed"] is False and result["completed"] is True
    assert result["errors"] == ["all_reduce_perf exited with status 3"]
    assert result["msg"].startswith("NCCL errors")


def test_run_hang_after_devices_kills_the_process_group(standin):
    text = read(NCCL_8X4090_ALL_REDUCE)
    devices_only = text[:text.index("#                 ")]
    start = time.time()
    result, calls = standin({"timeout": 2}, out=devices_only, sleep=30)
    elapsed = time.time() - start
    assert elapsed < 10, elapsed  # the child `sleep` would hold the pipe open for 30 s if it survived
    assert len(calls) == 1
    assert result["failed"] and result["timed_out"] is True and result["rc"] is None
    assert result["passed"] is False and result["completed"] is False
    assert len(result["devices"]) == 8 and result["results"] == []
    assert result["errors"] == [HANG % 2] and result["msg"] == HANG % 2
    assert result["log"] == devices_only
    sleeper = int((standin.log.parent / (standin.log.name + ".sleep")).read_text())
    deadline = time.time() + 3
    while _alive(sleeper) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(sleeper)


def test_run_hang_without_fail_on_error(standin):
    result, _warnings = standin({"timeout": 1, "fail_on_error": False}, out=NCCL_1X4090_HANG_USING_DEVICES, sleep=30)
    assert not result.get("failed") and result["timed_out"] is True and result["passed"] is False
    assert result["msg"].startswith("no output after '# Using devices' for 1 s")


def test_run_hang_mid_table(standin):
    text = read(NCCL_8X4090_ALL_REDUCE)
    partial = text[:text.index("     2097152")]
    result, _warnings = standin({"timeout": 1}, out=partial, sleep=30)
    assert result["failed"] and result["timed_out"] is True and len(result["results"]) == 18
    assert "after the row of 1048576 bytes" in result["msg"]


def test_check_mode_runs_nothing(standin):
    result, calls = standin({"args": ["-g", "2"]}, check_mode=True)
    assert calls == []
    assert not result.get("failed") and result["changed"] is False and result.get("skipped") is True
    assert result["cmd"] == [str(standin.script), "-g", "2"] and "not run" in result["msg"]
    assert result["timed_out"] is False and "results" not in result


def test_check_mode_with_a_missing_executable(run_module):
    result = run_module(MODULE, {"executable": "/opt/nccl-tests/build/all_reduce_perf"}, check_mode=True)
    assert not result.get("failed") and result.get("skipped") is True
    assert "not an executable file yet" in result["msg"]


# A C stand-in: printf to a pipe stays in the 4 KiB stdio buffer, so without `stdbuf -oL` the module
# would see nothing of what a hanging binary printed.
C_STANDIN = r"""
#include <stdio.h>
#include <unistd.h>
int main(void) {
  int i;
  printf("# nThread 1 nGpus 2 minBytes 8 maxBytes 134217728 step: 2(factor) warmup iters: 5 iters: 20 "
         "agg iters: 1 validation: 1 graph: 0\n#\n# Using devices\n");
  for (i = 0; i < 2; i++)
    printf("#  Rank %2d Group  0 Pid %6d on     node07 device %2d [0x%02x] NVIDIA GeForce RTX 4090\n",
           i, 4242, i, i + 1);
  sleep(30);
  return 0;
}
"""


@pytest.mark.skipif(not shutil.which("cc") or not shutil.which("stdbuf"), reason="needs a C compiler and stdbuf")
def test_run_hang_of_a_buffering_c_program(run_module, tmp_path):
    source = tmp_path / "standin.c"
    source.write_text(C_STANDIN)
    binary = tmp_path / "all_reduce_perf"
    subprocess.run(["cc", "-o", str(binary), str(source)], check=True, timeout=60)
    start = time.time()
    result = run_module(MODULE, {"executable": str(binary), "timeout": 2})
    assert time.time() - start < 10
    assert result["failed"] and result["timed_out"] is True
    assert [device["pid"] for device in result["devices"]] == [4242, 4242]
    assert result["msg"] == HANG % 2


def test_a_hang_with_fail_on_error_false_is_not_a_task_failure(run_module, tmp_path):
    """Ansible marks a result without 'failed' as failed when its rc is not 0 (a killed hang has
    rc null): the module must say failed=false itself, or fail_on_error=false would not hold."""
    script = tmp_path / "hang_perf"
    script.write_text("#!/bin/sh\necho '# Using devices'\nexec sleep 30\n")
    script.chmod(0o755)
    result = run_module("nccl_test", {"executable": str(script), "timeout": 1, "fail_on_error": False})
    assert result["timed_out"] is True
    assert result["failed"] is False
    assert result["rc"] is None


# --------------------------------------------------------------------------- issue 12: bad input


def test_log_with_only_the_summary_line_is_not_a_pass(run_module):
    """Before: passed, 'passed: 0 sizes on 0 GPU(s)'."""
    result = run_module(MODULE, {"log_path": fx(NCCL_AVG_LINE_ONLY)})
    assert result["failed"] is True and result["passed"] is False and result["completed"] is True
    assert result["results"] == [] and result["avg_busbw_gbps"] == 2.06935
    assert result["msg"] == ("no result row could be read: the output has the '# Avg bus bandwidth' summary line but "
                             "no row of the result table and no '# Rank' device line, so it is no evidence that the "
                             "collective ran")


def test_log_with_blank_redop_rows_passes_with_its_rows(run_module):
    result = run_module(MODULE, {"log_path": fx(NCCL_64XV100_ALLTOALL_BLANK_REDOP)})
    assert result["passed"] is True and len(result["results"]) == 2
    assert result["msg"] == ("passed: 2 sizes on GPUs the log does not list, avg bus bandwidth 0.507636 GB/s, "
                             "max 0.51 GB/s")
    assert result["collective"] is None and result["validated"] is True
    assert warning_texts(result) == []


def test_log_without_checked_values_says_so(run_module):
    result = run_module(MODULE, {"log_path": fx(NCCL_BLANK_REDOP_ERROR_NA)})
    assert result["passed"] is True and result["validated"] is False
    assert result["msg"].endswith("the values were not checked (#wrong N/A in every row: data checking off, -c 0)")


def test_log_with_absurd_figures_is_refused(run_module):
    result = run_module(MODULE, {"log_path": fx(NCCL_ABSURD_FIGURES), "fail_on_error": False})
    assert result["failed"] is False and result["passed"] is False
    assert len(result["refused"]) == 2 and len(result["results"]) == 26 and result["max_busbw_gbps"] == 4.0
    assert result["msg"].startswith("refused: 2 figure(s) no run can produce, so the log is no evidence; the first: "
                                    "line 19, the row of 2048 bytes: out-of-place time -11.83 us is negative")


def test_run_names_the_collective_after_the_binary(standin):
    result, _calls = standin({}, out=NCCL_64XV100_ALLTOALL_BLANK_REDOP)
    assert result["passed"] is True and result["collective"] == "all_reduce"  # the stand-in is all_reduce_perf


MAIN_C = "int ncclGetVersion(int *version);\nint main(void) { int v = 0; return ncclGetVersion(&v); }\n"
LIB_C = "int ncclGetVersion(int *version) { *version = 22203; return 0; }\n"


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc to build a real ELF")
def test_a_missing_libnccl_is_named(run_module, tmp_path):
    """A REAL program linked against a library named libnccl.so.2, which is then deleted: the
    dynamic loader refuses to start it (exit status 127). Before: only 'exited with status 127'."""
    libdir = tmp_path / "lib"
    libdir.mkdir()
    (tmp_path / "lib.c").write_text(LIB_C)
    (tmp_path / "main.c").write_text(MAIN_C)
    library = libdir / "libnccl.so.2"
    subprocess.check_call(["gcc", "-shared", "-fPIC", "-o", str(library), str(tmp_path / "lib.c"),
                           "-Wl,-soname,libnccl.so.2"])
    binary = tmp_path / "all_reduce_perf"
    subprocess.check_call(["gcc", "-o", str(binary), str(tmp_path / "main.c"), str(library),
                           "-Wl,-rpath," + str(libdir)])
    assert subprocess.call([str(binary)]) == 0  # it works while the library is there
    os.unlink(str(library))
    result = run_module(MODULE, {"executable": str(binary), "timeout": 30})
    assert result["failed"] is True and result["passed"] is False and result["rc"] == 127
    assert result["msg"].startswith("all_reduce_perf cannot start: the shared library libnccl.so.2 is missing")
    assert len(result["errors"]) == 1 and "libnccl.so.2" in result["errors"][0]
    assert "error while loading shared libraries: libnccl.so.2" in result["log"]
