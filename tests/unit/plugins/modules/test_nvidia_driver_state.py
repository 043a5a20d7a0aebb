"""Tests for the module aiserver.gpu.nvidia_driver_state, run as Ansible runs it (the
``run_module`` fixture of tests/unit/conftest.py), over the REAL captures of
tests/unit/fixtures/driver.

The loaded module's version is read from ``version_file`` (a capture of
/proc/driver/nvidia/version); ``modinfo`` and ``dpkg-query`` are STAND-INS, small shell
scripts put first in PATH that record their argv and print a capture with the exit status
the real tool gives (modinfo: 1 for "Module nvidia not found"). They are not the tools; they
let the module run its real code path on hardware and hosts we do not have.
"""
import pytest

import captures
from captures import fixture_path, write_standins

MODULE = "nvidia_driver_state"

STANDIN = r"""#!/bin/sh
# STAND-IN for %(tool)s, written by tests/unit/plugins/modules/test_nvidia_driver_state.py.
echo "%(tool)s $* | LC_ALL=$LC_ALL" >> "$STANDIN_LOG"
if [ -n "$%(var)s_SLEEP" ]; then sleep "$%(var)s_SLEEP"; fi
if [ -n "$%(var)s_ERR" ]; then cat "$%(var)s_ERR" >&2; exit "${%(var)s_RC:-1}"; fi
if [ -n "$%(var)s" ]; then cat "$%(var)s"; fi
exit "${%(var)s_RC:-0}"
"""


def fx(name):
    return fixture_path("driver", name)


@pytest.fixture
def gate(tmp_path, run_module):
    """``call(proc=None, modinfo=None, dpkg=None, **args)``: runs the module with the
    stand-ins; ``modinfo=None`` answers "Module nvidia not found" (rc 1). Returns (result, argv lines)."""
    bindir = write_standins(tmp_path / "bin", STANDIN, {"modinfo": "STANDIN_MODINFO", "dpkg-query": "STANDIN_DPKG"})
    log = tmp_path / "standin.log"

    def call(proc=None, modinfo=None, dpkg=None, env=None, check_mode=False, **args):
        environ = {"STANDIN_LOG": str(log), "STANDIN_MODINFO": "", "STANDIN_MODINFO_ERR": "",
                   "STANDIN_DPKG": fx(dpkg) if dpkg else "", "STANDIN_DPKG_ERR": "", "LC_ALL": "de_DE.UTF-8"}
        if modinfo:
            environ["STANDIN_MODINFO"] = fx(modinfo)
        else:
            environ["STANDIN_MODINFO_ERR"] = fx(captures.MODINFO_NOT_FOUND)
        environ.update(env or {})
        module_args = {"version_file": fx(proc) if proc else str(tmp_path / "no-proc"),
                       "sysfs_version_file": str(tmp_path / "no-sys")}
        module_args.update(args)
        result = run_module(MODULE, module_args, check_mode=check_mode, env=environ, path_prefix=bindir)
        return result, (log.read_text().splitlines() if log.exists() else [])

    return call


def test_partial_downgrade_on_debian12(gate):
    result, argv = gate(dpkg=captures.DPKG_DEBIAN12_MIXED, branch="535")
    assert result["changed"] is False and not result.get("failed")
    assert result["state"] == "mismatch"
    assert result["loaded"] is None and result["module"] is None
    assert result["userspace"]["libnvidia-ml1"] == "535.261.03"
    assert result["packages"]["nvidia-kernel-common"] == "20220217+3~deb12u1"
    assert result["kernel_module_packages"] == ["nvidia-kernel-dkms", "nvidia-kernel-support"]
    assert result["sentence"].endswith(
        "Fix: apt-get install libnvidia-ml1=535.309.01-0+deb12u1 nvidia-smi=535.309.01-0+deb12u1.")
    # One modinfo, one dpkg-query with the driver's patterns, both in the C locale.
    # (the format's newline splits the logged dpkg-query argv in two lines)
    assert argv[0] == "modinfo nvidia | LC_ALL=C"
    assert argv[1].startswith("dpkg-query -W -f ${db:Status-Abbrev} ${Package} ${Version}")
    assert len(argv) == 3 and argv[2] == " *nvidia* libcuda1* libnvcuvid1* libnvoptix1* | LC_ALL=C"


def test_consistent_debian12_without_gpu_is_ok(gate):
    result, _argv = gate(dpkg=captures.DPKG_DEBIAN12_535_309, branch="535", check_mode=True)
    assert result["state"] == "ok" and result["changed"] is False
    assert "none is on disk for the running kernel" in result["sentence"]


def test_reboot_pending(gate):
    result, _argv = gate(proc=captures.PROC_SYNTHETIC_535_261, modinfo=captures.MODINFO_SYNTHETIC_535_309,
                         dpkg=captures.DPKG_DEBIAN12_535_309, branch="535")
    assert result["state"] == "reboot_pending"
    assert result["loaded"] == {"version": "535.261.03", "flavour": "proprietary"}
    assert result["module"] == {"version": "535.309.01", "filename": "/lib/modules/6.1.0-28-amd64/updates/dkms/nvidia.ko",
                                "vermagic": "6.1.0-28-amd64", "signer": "DKMS module signing key"}
    assert result["sentence"] == ("The loaded kernel module is 535.261.03 while the module on disk and the user "
                                  "space are 535.309.01. Fix: Reboot (the 535.309.01 module loads then).")


def test_debian_host_of_machine_shop_70(gate):
    result, _argv = gate(proc=captures.PROC_PROPRIETARY_520_DEBIAN, dpkg=captures.DPKG_L_SMI_525_DEBIAN,
                         smi_error_kind="driver_library_mismatch",
                         smi_message="Failed to initialize NVML: Driver/library version mismatch")
    assert result["state"] == "mismatch"
    assert result["loaded"]["version"] == "520.56.06"
    assert "The user space is 525.85.12 but the loaded kernel module is 520.56.06" in result["sentence"]


def test_truenas_mismatch_with_nvml_line(gate):
    result, _argv = gate(proc=captures.PROC_PROPRIETARY_580_TRUENAS, smi_error_kind="driver_library_mismatch",
                         smi_message="Failed to initialize NVML: Driver/library version mismatch\n"
                                     "NVML library version: 580.178")
    assert result["state"] == "mismatch" and result["nvml_version"] == "580.178"
    assert "NVML library 580.178" in result["sentence"]


def test_open_flavour_and_off_branch(gate):
    result, _argv = gate(proc=captures.PROC_OPEN_565_UBUNTU, modinfo=captures.MODINFO_OPEN_595,
                         dpkg=captures.DPKG_L_UBUNTU_550_SERVER_PREBUILT, branch="550")
    assert result["loaded"] == {"version": "565.57.01", "flavour": "open"}
    assert result["module"]["version"] == "595.80" and result["module"]["vermagic"] is None
    assert result["state"] == "mismatch"
    kinds = [f["kind"] for f in result["findings"]]
    assert "off_branch" in kinds
    off = [f for f in result["findings"] if f["kind"] == "off_branch"][0]
    assert off["parts"] == {"loaded module": "565.57.01", "module on disk": "595.80"}


def test_sysfs_fallback(gate, tmp_path):
    sysfs = tmp_path / "sys-version"
    sysfs.write_text("535.309.01\n")
    result, _argv = gate(modinfo=captures.MODINFO_SYNTHETIC_535_309, dpkg=captures.DPKG_DEBIAN12_535_309,
                         sysfs_version_file=str(sysfs))
    assert result["loaded"] == {"version": "535.309.01", "flavour": None}
    assert result["state"] == "ok"


def test_nothing_installed(gate, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result, _argv = gate(env={"STANDIN_DPKG_ERR": str(empty), "STANDIN_DPKG_RC": "1"})
    assert result["state"] == "not_installed"
    assert result["packages"] == {} and result["userspace"] == {}


def test_unreadable_proc_and_failing_tools_are_findings(gate, tmp_path):
    garbage = tmp_path / "version"
    garbage.write_bytes(b"\xff\xfe not a version\n")
    result, _argv = gate(version_file=str(garbage), dpkg=captures.DPKG_DEBIAN12_535_309,
                         env={"STANDIN_MODINFO_ERR": fx(captures.MODINFO_PROPRIETARY_430), "STANDIN_MODINFO_RC": "3",
                              "STANDIN_DPKG_SLEEP": "5"},
                         timeout=1)
    assert not result.get("failed")
    notes = " ".join(f["sentence"] for f in result["findings"] if f["kind"] == "note")
    assert "holds no NVRM version line" in notes
    assert "modinfo exited with status 3" in notes
    assert "dpkg-query did not finish within 1 s and was killed" in notes
    assert result["state"] == "not_installed"


@pytest.mark.parametrize("args, words", [
    ({"branch": "53"}, "three digits"),
    ({"timeout": 0}, "at least 1 second"),
    ({"packages": [" "]}, "at least one dpkg-query pattern"),
])
def test_wrong_options_fail_clearly(gate, args, words):
    result, argv = gate(**args)
    assert result["failed"] and words in result["msg"]
    assert argv == []


# --------------------------------------------------------------------------- where the roles read it

def smi_mismatch():
    """nvidia_smi_info's failure on the tinygrad #47 capture (the message as nvidia-smi printed it)."""
    with open(fixture_path("nvidia_smi", captures.SMI_ERR_MISMATCH_NVML_LINE), encoding="utf-8") as handle:
        said = "".join(handle.readlines()[1:])
    return {"failed": True, "error_kind": "driver_library_mismatch", "msg": "nvidia-smi -q -x: " + said}


def test_gpu_facts_sentence_names_the_parts(gate):
    from ansible_collections.aiserver.gpu.plugins.filter.gpu_facts import gpu_state
    driver, _argv = gate(dpkg=captures.DPKG_DEBIAN12_MIXED, smi_error_kind="driver_library_mismatch")
    verdict = gpu_state(smi_mismatch(), ["0000:01:00.0"], driver)
    assert verdict["state"] == "broken" and verdict["driver_state"] == "mismatch"
    assert "driver_library_mismatch" in verdict["sentence"]
    assert verdict["sentence"].endswith(driver["sentence"])
    assert "libnvidia-ml1 and nvidia-smi 535.261.03" in verdict["sentence"]
    # Without the gate, or with agreeing parts, the sentence is what it was.
    plain = gpu_state(smi_mismatch(), ["0000:01:00.0"])
    assert plain["driver_state"] is None and "libnvidia-ml1" not in plain["sentence"]
    ok, _argv = gate(dpkg=captures.DPKG_DEBIAN12_535_309)
    assert gpu_state(smi_mismatch(), ["0000:01:00.0"], ok)["sentence"] == plain["sentence"]
    assert gpu_state(smi_mismatch(), ["0000:01:00.0"], "odd")["sentence"] == plain["sentence"]


def test_gpu_validation_fails_on_a_mismatch(gate):
    from ansible_collections.aiserver.gpu.plugins.filter.gpu_validation import gpu_validation_judge
    from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import parse_query_xml
    with open(fixture_path("nvidia_smi", captures.SMI_XML_DUAL_2080), encoding="utf-8") as handle:
        smi = parse_query_xml(handle.read())
    driver, _argv = gate(dpkg=captures.DPKG_DEBIAN12_MIXED)
    report = gpu_validation_judge({"smi": smi, "driver": driver})
    finding = [f for f in report["findings"] if f["id"] == "driver"][0]
    assert (finding["status"], finding["title"], finding["detail"]) == ("fail", "Driver parts", driver["sentence"])
    assert report["verdict"] == "fail"
    pending, _argv = gate(proc=captures.PROC_SYNTHETIC_535_261, modinfo=captures.MODINFO_SYNTHETIC_535_309,
                          dpkg=captures.DPKG_DEBIAN12_535_309)
    assert [f["status"] for f in gpu_validation_judge({"smi": smi, "driver": pending})["findings"]
            if f["id"] == "driver"] == ["warn"]
    assert [f["status"] for f in gpu_validation_judge({"smi": smi})["findings"] if f["id"] == "driver"] == ["skipped"]
