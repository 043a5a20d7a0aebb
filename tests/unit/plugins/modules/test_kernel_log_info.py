"""Tests for the module aiserver.gpu.kernel_log_info, run as Ansible runs it (the
``run_module`` fixture of tests/unit/conftest.py), over the REAL kernel-log captures of
tests/unit/fixtures/kernel_log.

``journalctl`` and ``dmesg`` are STAND-INS here: small shell scripts put first in PATH that
record their argv and print a real capture (or a real error message with its exit status),
because this machine's kernel log has no GPU in it. They let the module run its real code
path (which tool, which window, the fallback, the errors)."""
import pytest

from captures import KLOG_XID_119_H100, KLOG_XID_79, fixture_path, write_standins

MODULE = "kernel_log_info"

STANDIN = r"""#!/bin/sh
# STAND-IN for %(tool)s, written by tests/unit/plugins/modules/test_kernel_log_info.py.
echo "%(tool)s $*" >> "$STANDIN_LOG"
if [ -n "$%(var)s_ERR" ]; then echo "$%(var)s_ERR" >&2; exit "${%(var)s_RC:-1}"; fi
if [ -n "$%(var)s" ]; then cat "$%(var)s"; fi
exit 0
"""


@pytest.fixture
def klog(tmp_path, run_module):
    bindir = write_standins(tmp_path / "bin", STANDIN, {"journalctl": "STANDIN_JOURNAL", "dmesg": "STANDIN_DMESG"})
    log = tmp_path / "standin.log"

    def call(journal=None, dmesg=None, env=None, check_mode=False, **args):
        environ = {"STANDIN_LOG": str(log), "STANDIN_JOURNAL": journal or "", "STANDIN_DMESG": dmesg or "",
                   "STANDIN_JOURNAL_ERR": "", "STANDIN_DMESG_ERR": ""}
        environ.update(env or {})
        result = run_module(MODULE, args, check_mode=check_mode, env=environ, path_prefix=bindir)
        return result, (log.read_text().splitlines() if log.exists() else [])

    return call


def fx(name):
    return fixture_path("kernel_log", name)


def test_journal_since_boot_finds_the_xid_and_names_the_gpu(klog):
    result, calls = klog(journal=fx(KLOG_XID_119_H100), gpus=["00000000:9B:00.0"])
    assert calls == ["journalctl -k --no-pager -q -o short-iso -b"]
    assert result["changed"] is False and result["status"] == "FAIL"
    assert result["read_from"] == "journalctl -k --no-pager -q -o short-iso -b"
    assert result["counts"] == {"xid": 5, "sxid": 0, "fallen_off_bus": 0, "aer": 0}
    assert result["by_gpu"] == {"0000:9b:00.0": "FAIL"}
    (finding,) = result["findings"]
    assert finding["code"] == 119 and finding["action"] == "reset_gpu"
    assert "GPU 0000:9b:00.0 (GPU-509665ad-b600-ac93-3616-d754b23d636d)" in finding["sentence"]


def test_a_window_goes_to_journalctl_since(klog):
    _result, calls = klog(journal=fx(KLOG_XID_79), since="-1h")
    assert calls == ["journalctl -k --no-pager -q -o short-iso --since -1h"]


def test_an_empty_journal_falls_back_to_dmesg(klog):
    result, calls = klog(dmesg=fx(KLOG_XID_79))
    assert calls == ["journalctl -k --no-pager -q -o short-iso -b", "dmesg --ctime --nopager"]
    assert result["read_from"] == "dmesg --ctime --nopager"
    assert [f["code"] for f in result["findings"]] == [79]


def test_an_empty_log_everywhere_passes(klog):
    result, _calls = klog()
    assert result["status"] == "PASS" and result["findings"] == [] and result["lines"] == 0


def test_dmesg_not_permitted_says_so_and_how(klog):
    result, _calls = klog(source="dmesg", env={"STANDIN_DMESG_ERR": "dmesg: read kernel buffer failed: "
                                                                    "Operation not permitted"})
    assert result["failed"] is True
    assert "Cannot read the kernel log: dmesg exited with status 1" in result["msg"]
    assert "Operation not permitted" in result["msg"] and "become: true" in result["msg"]


def test_a_saved_log_is_read_without_running_anything(klog):
    result, calls = klog(log_path=fx(KLOG_XID_79))
    assert calls == [] and result["read_from"] == fx(KLOG_XID_79)
    assert result["findings"][0]["status"] == "FAIL"


def test_a_missing_saved_log_fails_naming_the_option(klog, tmp_path):
    result, _calls = klog(log_path=str(tmp_path / "nope.log"))
    assert result["failed"] is True
    assert "log_path %s does not exist" % (tmp_path / "nope.log") in result["msg"]
    assert "journalctl -k -b > FILE" in result["msg"]


def test_a_zero_timeout_is_refused(klog):
    result, calls = klog(timeout=0)
    assert result["failed"] is True and "timeout must be a whole number of seconds of at least 1" in result["msg"]
    assert calls == []


def test_check_mode_reads_the_same(klog):
    result, _calls = klog(journal=fx(KLOG_XID_79), check_mode=True)
    assert result["changed"] is False and result["status"] == "FAIL"
