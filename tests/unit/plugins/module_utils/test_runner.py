"""The one runner (module_utils/_runner.py): real processes, real timeouts, real kills.

Every test starts real programs (/bin/sh, python, sleep, a real ELF linked against a
library that is then removed) and checks through /proc that nothing they started is left.
"""
import os
import shutil
import subprocess
import sys
import time

import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils import _runner


def alive(pid):
    """True while ``pid`` is a live (not zombie) process."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def read_pids(path):
    with open(path) as handle:
        return [int(line) for line in handle.read().split()]


def wait_for_file(path, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path):
            return
        time.sleep(0.05)
    raise AssertionError("%s never appeared" % path)


def test_ok_run_returns_rc_stdout_stderr_in_the_c_locale():
    res = _runner.run(["/bin/sh", "-c", 'echo "out $LC_ALL $LANG"; echo err >&2; exit 0'], 10)
    assert res.ok
    assert res["rc"] == 0 and res["signal"] is None and not res["timed_out"]
    assert res["stdout"] == "out C C\n"
    assert res["stderr"] == "err\n"
    assert res["killed"] == 0
    assert res["last_output_at"] is not None
    assert _runner.describe(res) is None


def test_merged_output_keeps_the_order_a_terminal_shows():
    res = _runner.run(["/bin/sh", "-c", "echo one; echo two >&2; echo three"], 10, merge_stderr=True)
    assert res["stdout"] == "one\ntwo\nthree\n" and res["stderr"] == ""


def test_env_update_sets_and_removes_variables():
    res = _runner.run(["/bin/sh", "-c", 'echo "${AISERVER_A-unset} ${HOME-unset}"'], 10,
                      env_update={"AISERVER_A": 1, "HOME": None})
    assert res["stdout"] == "1 unset\n"


def test_c_locale_can_be_turned_off():
    res = _runner.run(["/bin/sh", "-c", 'echo "${LC_ALL-unset}"'], 10, env={"PATH": "/usr/bin:/bin"},
                      c_locale=False)
    assert res["stdout"] == "unset\n"


def test_nonzero_rc_is_returned_and_described():
    res = _runner.run(["/bin/sh", "-c", "exit 3"], 10)
    assert res["rc"] == 3 and not res.ok
    assert _runner.describe(res, "nvidia-smi") == "nvidia-smi exited with status 3"


def test_a_crash_is_named_by_its_signal():
    res = _runner.run(["/bin/sh", "-c", "kill -SEGV $$"], 10)
    assert res["rc"] == -11 and res["signal"] == "SIGSEGV"
    assert _runner.describe(res, "nvidia-smi") == (
        "nvidia-smi was killed by SIGSEGV (a segmentation fault: it crashed)")


def test_a_program_that_does_not_exist_is_an_error_not_an_exception(tmp_path):
    res = _runner.run([str(tmp_path / "nope")], 10)
    assert res["rc"] is None and res["errno"] == "ENOENT"
    assert "No such file or directory" in res["error"]
    assert _runner.describe(res).startswith("nope could not be started: No such file")


def test_a_bad_timeout_is_an_error_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    for timeout in (0, -1, "soon", None):
        res = _runner.run(["/bin/sh", "-c", "touch %s" % marker], timeout)
        assert res["errno"] == "EINVAL" and "positive number of seconds" in res["error"]
    assert not marker.exists()


def test_timeout_kills_the_process_group_and_waits_for_it(tmp_path):
    pids = tmp_path / "pids"
    script = "sleep 300 & echo $! >> %s; sleep 300 & echo $! >> %s; echo started; wait" % (pids, pids)
    start = time.monotonic()
    res = _runner.run(["/bin/sh", "-c", script], 1.5)
    assert time.monotonic() - start < 10
    assert res["timed_out"] and res["rc"] is None and res["signal"] == "SIGKILL"
    assert res["stdout"] == "started\n"
    children = read_pids(pids)
    assert len(children) == 2
    assert not any(alive(pid) for pid in children), "a child of the timed-out process survived"
    assert res["killed"] >= 3
    assert _runner.describe(res, "all_reduce_perf", 1.5) == (
        "all_reduce_perf did not finish within 1.5 s and was killed (with every process it started)")


def test_timeout_kills_a_child_that_left_the_process_group_with_setsid(tmp_path):
    pids = tmp_path / "pids"
    escaper = ("import os, time; os.setsid(); open(%r, 'a').write('%%d\\n' %% os.getpid()); time.sleep(300)"
               % str(pids))
    script = "%s -c \"%s\" & sleep 300" % (sys.executable, escaper)
    res = _runner.run(["/bin/sh", "-c", script], 2)
    assert res["timed_out"]
    (child,) = read_pids(pids)
    assert not alive(child), "the setsid child outlived the timeout"


def test_timeout_kills_a_daemon_that_double_forked_away(tmp_path):
    """The benchmark forks, the child calls setsid and forks again, the middle one exits:
    the grandchild is orphaned in a session of its own. It must still be killed."""
    pids = tmp_path / "pids"
    daemon = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        open(%r, 'a').write('%%d\\n' %% os.getpid())\n"
        "        time.sleep(300)\n"
        "    os._exit(0)\n"
        "os.wait()\n"
        "time.sleep(300)\n" % str(pids))
    res = _runner.run([sys.executable, "-c", daemon], 2)
    assert res["timed_out"]
    (grandchild,) = read_pids(pids)
    assert not alive(grandchild), "the double-forked daemon outlived the timeout"


def test_children_left_behind_by_a_finished_program_are_killed(tmp_path):
    pids = tmp_path / "pids"
    # The background sleep keeps stdout open: without the kill the run would wait for it.
    res = _runner.run(["/bin/sh", "-c", "sleep 300 & echo $! > %s; echo done" % pids], 30)
    assert res["rc"] == 0 and not res["timed_out"]
    assert res["elapsed"] < 10
    assert res["stdout"] == "done\n"
    (child,) = read_pids(pids)
    assert not alive(child)
    assert res["killed"] == 1


def test_a_detached_leftover_that_closed_its_pipes_is_killed_too(tmp_path):
    pids = tmp_path / "pids"
    leftover = ("import os, sys, time; os.setsid(); open(%r, 'a').write('%%d\\n' %% os.getpid()); "
                "time.sleep(300)" % str(pids))
    # The shell waits until the leftover has detached and written its pid, then exits.
    script = "%s -c \"%s\" </dev/null >/dev/null 2>&1 & while [ ! -s %s ]; do sleep 0.05; done; echo done" % (
        sys.executable, leftover, pids)
    res = _runner.run(["/bin/sh", "-c", script], 30)
    assert res["rc"] == 0
    wait_for_file(str(pids))
    (child,) = read_pids(pids)
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_last_output_time_tells_silence_from_slowness():
    res = _runner.run(["/bin/sh", "-c", "echo early; sleep 300"], 2)
    assert res["timed_out"]
    assert res["last_output_at"] < 1.0 and res["elapsed"] >= 2


def test_output_limit_keeps_the_end():
    res = _runner.run([sys.executable, "-c", "import sys\nfor i in range(200000): print(i)"], 60,
                      output_limit=100000)
    assert res["rc"] == 0
    assert res["stdout"].endswith("199999\n")
    assert len(res["stdout"]) <= 200000


def test_result_is_plain_json():
    import json
    res = _runner.run(["/bin/true"], 10)
    assert json.loads(json.dumps(res))["rc"] == 0


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc to build a real ELF")
def test_a_missing_shared_library_is_named(tmp_path):
    """A real program linked against a library that is then removed: the dynamic loader's
    own message, exit status 127."""
    (tmp_path / "lib.c").write_text("int aiserver_answer(void) { return 42; }\n")
    (tmp_path / "main.c").write_text("int aiserver_answer(void);\nint main(void) { return aiserver_answer() - 42; }\n")
    subprocess.check_call(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "libaiservermissing.so.2"),
                           str(tmp_path / "lib.c"), "-Wl,-soname,libaiservermissing.so.2"])
    subprocess.check_call(["gcc", "-o", str(tmp_path / "bench"), str(tmp_path / "main.c"),
                           str(tmp_path / "libaiservermissing.so.2"), "-Wl,-rpath," + str(tmp_path)])
    assert _runner.run([str(tmp_path / "bench")], 10)["rc"] == 0
    os.unlink(str(tmp_path / "libaiservermissing.so.2"))
    res = _runner.run([str(tmp_path / "bench")], 10)
    assert res["rc"] == 127
    assert _runner.missing_library(res)[0] == "libaiservermissing.so.2"
    assert _runner.describe(res, "all_reduce_perf").startswith(
        "all_reduce_perf cannot start: the shared library libaiservermissing.so.2 is missing")


def test_find_executable(tmp_path):
    assert _runner.find_executable("sh") in ("/bin/sh", "/usr/bin/sh") or _runner.find_executable("sh").endswith("/sh")
    assert _runner.find_executable(str(tmp_path / "none")) is None
    assert _runner.find_executable("aiserver-no-such-program") is None
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    assert _runner.find_executable(str(tool)) is None  # not executable
    tool.chmod(0o755)
    assert _runner.find_executable(str(tool)) == str(tool)
    assert _runner.find_executable("tool", dirs=[str(tmp_path)]) == str(tool)
    assert _runner.find_executable("") is None


def test_line_buffered_uses_stdbuf_when_there():
    cmd = _runner.line_buffered(["prog", "-g", "2"])
    assert cmd[-3:] == ["prog", "-g", "2"]
    if shutil.which("stdbuf"):
        assert cmd[1:3] == ["-oL", "-eL"]
