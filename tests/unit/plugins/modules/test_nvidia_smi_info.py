"""Tests for the module aiserver.gpu.nvidia_smi_info, run as Ansible runs it (the
``run_module`` fixture of tests/unit/conftest.py).

Two ways in: saved outputs (``xml_path``, ``topology_path``, ``p2p_path``), and a STAND-IN
``nvidia-smi``: a small shell script written to a temporary directory (see ``standin``
below) that replays the real captures of tests/unit/fixtures/nvidia_smi, records every
argv it gets, and for failures prints captured error text with the exit code nvidia-smi
gives (Debian test bed measurements: rc 9 couldn't communicate, 17 access blocked,
255 unknown error). It is not nvidia-smi; it only lets the module run its real code path.
"""
import json
import os
import stat
import time

import pytest

from captures import (
    SMI_DEBIAN_FULL_DRIVER,
    SMI_DEBIAN_NO_RECOMMENDS,
    SMI_DEBIAN_SMI_ALONE,
    SMI_ERR_COULDNT_COMMUNICATE,
    SMI_ERR_DEVICE_HANDLE,
    SMI_ERR_MISMATCH_NVML_LINE,
    SMI_ERR_NO_DEVICES,
    SMI_ERR_UNKNOWN_CONTAINER,
    SMI_P2P_2X2080TI_NS,
    SMI_TOPO_2X2080TI_PIX,
    SMI_TOPO_4X3090_NV4,
    SMI_TOPO_8XH100_NV18,
    SMI_TOPO_CUT,
    SMI_TOPO_L40S_ANSI,
    SMI_TOPO_NICS,
    SMI_XML_1070TI_V10,
    SMI_XML_ATTACHED_MISMATCH,
    SMI_XML_DUAL_2080,
    SMI_XML_GT1030,
    SMI_XML_RTX3090,
    SMI_XML_RTX4000_ADA,
    SMI_XML_TESLA_T4,
    fixture_path,
)

MODULE = "nvidia_smi_info"

# The stand-in nvidia-smi (tests only). It appends "argv | LC_ALL=... LANG=..." to $STANDIN_LOG, then:
# with $STANDIN_SLEEP it starts `sleep` as a child (pid in $STANDIN_LOG.sleep) and waits for it;
# with $STANDIN_ERR it prints that file to stderr (and $STANDIN_OUT, if set, to stdout) and exits
# $STANDIN_RC (or kills itself with $STANDIN_SIGNAL); otherwise it prints the capture for the subcommand and exits 0.
STANDIN = r"""#!/bin/sh
# STAND-IN for nvidia-smi, written by tests/unit/plugins/modules/test_nvidia_smi_info.py.
echo "$* | LC_ALL=$LC_ALL LANG=$LANG" >> "$STANDIN_LOG"
if [ -n "$STANDIN_SLEEP" ]; then
  sleep "$STANDIN_SLEEP" &
  echo $! > "$STANDIN_LOG.sleep"
  wait
fi
if [ -n "$STANDIN_ERR" ]; then
  if [ -n "$STANDIN_OUT" ]; then cat "$STANDIN_OUT"; fi
  cat "$STANDIN_ERR" >&2
  if [ -n "$STANDIN_SIGNAL" ]; then kill -s "$STANDIN_SIGNAL" $$; fi
  exit "$STANDIN_RC"
fi
if [ -n "$STANDIN_TOPO_FAIL" ] && [ "$1" = topo ]; then
  echo "$STANDIN_TOPO_FAIL" >&2
  exit 3
fi
case "$1 $2" in
  "-q -x") cat "$STANDIN_XML" ;;
  "topo -m") cat "$STANDIN_TOPO" ;;
  "topo -p2p") cat "$STANDIN_P2P" ;;
  *) echo "stand-in: unexpected arguments: $*" >&2; exit 2 ;;
esac
"""


def fx(name):
    return fixture_path("nvidia_smi", name)


def read(name):
    with open(fx(name), "rb") as handle:
        return handle.read().decode("utf-8")


def tool_text(name):
    """A failure capture without its shell prompt line: what nvidia-smi itself printed."""
    lines = read(name).splitlines(True)
    return "".join(line for line in lines if "nvidia-smi" not in line.split(":")[0] or "NVIDIA-SMI" in line)


def warning_texts(result):
    """The warning messages of a result (ansible-core 2.19 returns them as WarningSummary dicts)."""
    texts = []
    for warning in result.get("warnings", []):
        if isinstance(warning, dict):
            warning = warning.get("event", warning).get("msg", json.dumps(warning))
        texts.append(warning)
    return texts


@pytest.fixture
def standin(tmp_path, run_module):
    """``call(args, xml=..., topo=..., p2p=..., err_text=None, rc=0, out=None, sleep=None, **kw)``
    runs the module with the stand-in on PATH; returns (result, argv lines the stand-in saw)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "nvidia-smi"
    script.write_text(STANDIN)
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    log = tmp_path / "standin.log"

    def call(args, xml=SMI_XML_DUAL_2080, topo=SMI_TOPO_2X2080TI_PIX, p2p=SMI_P2P_2X2080TI_NS,
             err_text=None, rc=0, out=None, sleep=None, signal="", topo_fail="", **kwargs):
        env = {"STANDIN_LOG": str(log), "STANDIN_XML": fx(xml), "STANDIN_TOPO": fx(topo), "STANDIN_P2P": fx(p2p),
               "STANDIN_ERR": "", "STANDIN_OUT": "", "STANDIN_RC": str(rc), "STANDIN_SLEEP": str(sleep or ""),
               "STANDIN_SIGNAL": signal, "STANDIN_TOPO_FAIL": topo_fail,
               "LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8"}
        if err_text is not None:
            err_file = tmp_path / "stderr.txt"
            err_file.write_text(err_text)
            env["STANDIN_ERR"] = str(err_file)
        if out is not None:
            env["STANDIN_OUT"] = fx(out)
        result = run_module(MODULE, args, env=env, path_prefix=bindir, **kwargs)
        calls = log.read_text().splitlines() if log.exists() else []
        return result, calls

    call.script = str(script)
    call.log = log
    return call


# --------------------------------------------------------------------------- saved outputs

def test_saved_outputs_report_everything_and_run_nothing(run_module):
    result = run_module(MODULE, {"xml_path": fx(SMI_XML_DUAL_2080), "topology_path": fx(SMI_TOPO_2X2080TI_PIX),
                                 "p2p_path": fx(SMI_P2P_2X2080TI_NS), "executable": "/nonexistent/nvidia-smi"})
    assert result["changed"] is False
    assert (result["driver_version"], result["cuda_version"]) == ("590.44.01", "13.1")
    assert result["attached_gpus"] == result["gpu_count"] == 2
    assert [gpu["pci_bus_id"] for gpu in result["gpus"]] == ["0000:01:00.0", "0000:02:00.0"]
    assert [gpu["index"] for gpu in result["gpus"]] == [0, 1]
    gpu = result["gpus"][0]
    assert (gpu["power_limit_w"], gpu["power_min_limit_w"], gpu["power_max_limit_w"]) == (215.0, 105.0, 240.0)
    assert gpu["persistence_mode"] is True and gpu["mig_mode"] is None
    assert result["topology"]["matrix"]["GPU0"]["GPU1"] == "PIX"
    assert result["topology"]["cpu_affinity"] == {"GPU0": "24-47,72-95", "GPU1": "24-47,72-95"}
    assert result["topology"]["numa_affinity"] == {"GPU0": "1", "GPU1": "1"}
    assert result["topology"]["nics"] == {}
    assert result["p2p"] == {"GPU0": {"GPU0": "X", "GPU1": "NS"}, "GPU1": {"GPU0": "NS", "GPU1": "X"}}
    assert result["nvidia_smi_calls"] == 0
    assert warning_texts(result) == []


# capture -> (driver_version, number of GPUs, bus id of the first) from its .source
XML_SOURCES = {
    SMI_XML_DUAL_2080: ("590.44.01", 2, "0000:01:00.0"),
    SMI_XML_GT1030: ("470.74", 1, "0000:2d:00.0"),
    SMI_XML_1070TI_V10: (None, 1, "0000:01:00.0"),
    SMI_XML_RTX3090: ("525.147.05", 1, "0000:00:10.0"),
    SMI_XML_RTX4000_ADA: ("595.84", 1, "0000:06:00.0"),
    SMI_XML_TESLA_T4: ("515.105.01", 1, "0000:00:1e.0"),
}


@pytest.mark.parametrize("name", sorted(XML_SOURCES), ids=lambda name: name.rsplit(".", 1)[0])
def test_every_xml_capture_through_the_module(run_module, name):
    result = run_module(MODULE, {"xml_path": fx(name)})
    driver, count, bus = XML_SOURCES[name]
    assert result["driver_version"] == driver
    assert result["gpu_count"] == count
    assert result["gpus"][0]["pci_bus_id"] == bus
    assert result["topology"] is None and result["p2p"] is None
    assert result["nvidia_smi_calls"] == 0


@pytest.mark.parametrize("topo,devices", [
    (SMI_TOPO_4X3090_NV4, ["GPU0", "GPU1", "GPU2", "GPU3"]),
    (SMI_TOPO_8XH100_NV18, ["GPU%d" % i for i in range(8)]),
    (SMI_TOPO_L40S_ANSI, ["GPU0"]),
    (SMI_TOPO_NICS, ["GPU0", "GPU1", "NIC0", "NIC1"]),
], ids=lambda value: value.rsplit(".", 1)[0] if isinstance(value, str) else str(len(value)))
def test_every_topology_capture_through_the_module(run_module, topo, devices):
    result = run_module(MODULE, {"xml_path": fx(SMI_XML_DUAL_2080), "topology_path": fx(topo)})
    assert result["topology"]["devices"] == devices
    gpus = [dev for dev in devices if dev.startswith("GPU")]
    mismatch = [w for w in warning_texts(result) if "topology matrix names" in w]
    assert bool(mismatch) == (len(gpus) != 2)


def test_topology_nics_through_the_module(run_module):
    result = run_module(MODULE, {"xml_path": fx(SMI_XML_DUAL_2080), "topology_path": fx(SMI_TOPO_NICS)})
    assert result["topology"]["nics"] == {"NIC0": "mlx5_0", "NIC1": "mlx5_1"}
    assert result["topology"]["matrix"]["GPU0"]["GPU1"] == "NV12"


def test_attached_gpus_mismatch_and_unknown_error_field_warn(run_module):
    result = run_module(MODULE, {"xml_path": fx(SMI_XML_ATTACHED_MISMATCH)})
    assert (result["attached_gpus"], result["gpu_count"]) == (2, 1)
    assert result["gpus"][0]["mig_mode"] == "Enabled"
    assert result["gpus"][0]["power_draw_w"] is None
    warnings = warning_texts(result)
    assert any("2 attached GPU(s) but describes 1" in w for w in warnings), warnings
    assert any("Unknown Error" in w for w in warnings), warnings


def test_cut_short_topology_warns_but_succeeds(run_module):
    result = run_module(MODULE, {"xml_path": fx(SMI_XML_DUAL_2080), "topology_path": fx(SMI_TOPO_CUT)})
    assert result["topology"]["matrix"]["GPU2"] == {"GPU0": "NV4", "GPU1": "NODE"}
    assert any("cut short" in w for w in warning_texts(result))


def test_xml_path_never_runs_p2p_and_says_so(run_module):
    result = run_module(MODULE, {"xml_path": fx(SMI_XML_TESLA_T4), "p2p": "r"})
    assert result["p2p"] is None and result["nvidia_smi_calls"] == 0
    assert any("p2p=r is not run" in w for w in warning_texts(result))


@pytest.mark.parametrize("content,why", [
    ("this is not XML\n", "no XML"),
    ("<nvidia_smi_log><gpu id='00000000:01:00.0'>", "well-formed"),
    ("<root/>", "root element"),
], ids=["text", "cut", "wrong-root"])
def test_invalid_saved_xml_is_unparsable(run_module, tmp_path, content, why):
    path = tmp_path / "bad.xml"
    path.write_text(content)
    result = run_module(MODULE, {"xml_path": str(path)})
    assert result["failed"] and result["error_kind"] == "unparsable"
    assert why in result["msg"]


def test_missing_saved_file_is_a_clear_failure(run_module, tmp_path):
    result = run_module(MODULE, {"xml_path": str(tmp_path / "nope.xml")})
    assert result["failed"] and result["error_kind"] == "unparsable"
    assert "does not exist" in result["msg"]


def test_timeout_must_be_positive(run_module):
    result = run_module(MODULE, {"xml_path": fx(SMI_XML_TESLA_T4), "timeout": 0})
    assert result["failed"] and "timeout" in result["msg"]


# --------------------------------------------------------------------------- the stand-in nvidia-smi

def test_standin_exactly_two_calls_q_x_and_topo_m(standin):
    result, calls = standin({})
    assert [call.split(" | ")[0] for call in calls] == ["-q -x", "topo -m"]
    assert all(call.endswith("LC_ALL=C LANG=C") for call in calls), calls
    assert result["nvidia_smi_calls"] == 2
    assert result["gpu_count"] == 2 and result["driver_version"] == "590.44.01"
    assert result["topology"]["matrix"]["GPU1"]["GPU0"] == "PIX"
    assert result["p2p"] is None


def test_standin_found_by_bare_name_on_path(standin):
    result, calls = standin({"executable": "nvidia-smi"})
    assert len(calls) == 2 and result["nvidia_smi_calls"] == 2


def test_standin_check_mode_is_the_same_read(standin):
    result, calls = standin({"executable": standin.script}, check_mode=True)
    assert len(calls) == 2 and result["changed"] is False and result["gpu_count"] == 2


def test_standin_topology_false_is_one_call(standin):
    result, calls = standin({"topology": False}, xml=SMI_XML_RTX4000_ADA)
    assert [call.split(" | ")[0] for call in calls] == ["-q -x"]
    assert result["nvidia_smi_calls"] == 1 and result["topology"] is None
    assert result["gpus"][0]["name"] == "NVIDIA RTX 4000 SFF Ada Generation"


def test_standin_p2p_when_asked_is_a_third_call(standin):
    result, calls = standin({"p2p": "p"})
    assert [call.split(" | ")[0] for call in calls] == ["-q -x", "topo -m", "topo -p2p p"]
    assert result["nvidia_smi_calls"] == 3
    assert result["p2p"]["GPU0"]["GPU1"] == "NS"


def test_standin_p2p_path_replaces_the_p2p_call(standin):
    result, calls = standin({"p2p": "r", "p2p_path": fx(SMI_P2P_2X2080TI_NS)})
    assert len(calls) == 2 and result["p2p"]["GPU1"]["GPU0"] == "NS"


def test_standin_topology_path_replaces_the_topo_call(standin):
    result, calls = standin({"topology_path": fx(SMI_TOPO_4X3090_NV4)}, xml=SMI_XML_TESLA_T4)
    assert [call.split(" | ")[0] for call in calls] == ["-q -x"]
    assert result["topology"]["matrix"]["GPU0"]["GPU2"] == "NV4"
    assert any("topology matrix names 4 GPU(s)" in w for w in warning_texts(result))


def failure_cases():
    rc9, text9 = SMI_DEBIAN_FULL_DRIVER
    rc17, text17 = SMI_DEBIAN_NO_RECOMMENDS
    rc255, text255 = SMI_DEBIAN_SMI_ALONE
    return [
        # (id, stderr text, rc, error_kind, words in msg)
        ("couldnt-communicate-rc9", tool_text(SMI_ERR_COULDNT_COMMUNICATE), rc9, "driver_not_loaded",
         ["couldn't communicate", "modprobe nvidia"]),
        ("debian-full-driver-rc9", text9 + "\n", rc9, "driver_not_loaded", ["couldn't communicate"]),
        ("debian-access-blocked-rc17", text17 + "\n", rc17, "access_blocked", ["GPU access blocked"]),
        ("container-unknown-error-rc255", tool_text(SMI_ERR_UNKNOWN_CONTAINER), rc255, "nvml_unknown_error",
         ["Unknown Error", "daemon-reload"]),
        ("debian-smi-alone-rc255", text255 + "\n", rc255, "nvml_unknown_error", ["Unknown Error"]),
        # rc not in the captures: NVML's RM version mismatch (18) and "no devices" (6).
        ("mismatch-rc18", tool_text(SMI_ERR_MISMATCH_NVML_LINE), 18, "driver_library_mismatch",
         ["NVML library version: 570.124", "reboot"]),
        ("no-devices-rc6", "No devices were found\n", 6, "no_devices", ["No devices were found", "nouveau"]),
    ]


@pytest.mark.parametrize("case", failure_cases(), ids=lambda case: case[0])
def test_standin_failures(standin, case):
    _id, text, rc, kind, words = case
    result, calls = standin({}, err_text=text, rc=rc)
    assert result["failed"] is True
    assert result["error_kind"] == kind
    assert result["rc"] == rc
    assert result["cmd"] == [standin.script, "-q", "-x"]
    assert result["stderr"] == text
    for word in words:
        assert word in result["msg"], (word, result["msg"])
    assert len(calls) == 1 and result["nvidia_smi_calls"] == 1


def test_standin_device_handle_line_fails_despite_the_xml_of_other_gpus(standin):
    result, _calls = standin({}, err_text=tool_text(SMI_ERR_DEVICE_HANDLE), rc=255, out=SMI_XML_RTX3090)
    assert result["failed"] and result["error_kind"] == "nvml_unknown_error"
    assert "0000:0B:00.0" in result["msg"]
    assert "<nvidia_smi_log>" in result["stdout"]
    assert "gpus" not in result


def test_standin_garbage_on_q_x_is_unparsable(standin):
    result, _calls = standin({}, xml=SMI_TOPO_2X2080TI_PIX)
    assert result["failed"] and result["error_kind"] == "unparsable"
    assert result["cmd"] == [standin.script, "-q", "-x"]
    assert "GPU0" in result["stdout"]


def test_standin_no_devices_then_rc_0_is_still_a_failure(standin):
    # `No devices were found` with whatever rc: the line decides.
    result, _calls = standin({}, err_text=tool_text(SMI_ERR_NO_DEVICES).split("\n\n", maxsplit=1)[0] + "\n", rc=0)
    assert result["failed"] and result["error_kind"] == "no_devices"


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except (IOError, OSError):
        return False


def test_standin_hang_times_out_and_the_process_group_is_killed(standin):
    start = time.time()
    result, calls = standin({"timeout": 1}, sleep=60)
    elapsed = time.time() - start
    assert result["failed"] and result["error_kind"] == "timeout"
    assert result["rc"] is None and "within 1 s" in result["msg"]
    assert len(calls) == 1
    assert elapsed < 5, elapsed  # the child `sleep` would hold the pipes open for 60 s if it survived
    sleeper = int((standin.log.parent / (standin.log.name + ".sleep")).read_text())
    deadline = time.time() + 3
    while _alive(sleeper) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(sleeper)


@pytest.mark.parametrize("executable", ["/nonexistent/bin/nvidia-smi", "nvidia-smi-not-here"],
                         ids=["path", "bare-name"])
def test_not_installed(run_module, executable):
    result = run_module(MODULE, {"executable": executable})
    assert result["failed"] and result["error_kind"] == "not_installed"
    assert "install" in result["msg"] and result["nvidia_smi_calls"] == 0


def test_not_executable_is_not_installed(run_module, tmp_path):
    plain = tmp_path / "nvidia-smi"
    plain.write_text("#!/bin/sh\n")
    os.chmod(str(plain), 0o644)
    result = run_module(MODULE, {"executable": str(plain)})
    assert result["failed"] and result["error_kind"] == "not_installed"


def test_standin_rc_0_with_the_error_only_on_stderr_quotes_it(standin):
    """Exit 0, nothing on stdout, the reason on stderr: a failure that says the reason
    (before: "no XML in the output", stderr dropped)."""
    result, _calls = standin({}, err_text="Unable to query GPUs: a brand-new message\n", rc=0)
    assert result["failed"] and result["error_kind"] == "unparsable"
    assert "a brand-new message" in result["msg"]
    assert result["stderr"] == "Unable to query GPUs: a brand-new message\n"


def test_standin_garbage_with_stderr_quotes_stderr(standin):
    result, _calls = standin({}, err_text="warning: something odd\n", rc=0, out=SMI_TOPO_2X2080TI_PIX)
    assert result["failed"] and result["error_kind"] == "unparsable"
    assert "something odd" in result["msg"] and "GPU0" in result["stdout"]


def test_standin_crash_is_crashed(standin):
    """A real crash: the stand-in shell kills itself with SIGSEGV after printing nothing."""
    result, _calls = standin({}, err_text="", signal="SEGV")
    assert result["failed"] and result["error_kind"] == "crashed"
    assert "SIGSEGV" in result["msg"] and result["rc"] == -11


def test_standin_silent_rc_3_names_the_documented_meaning(standin):
    result, _calls = standin({}, err_text="", rc=3)
    assert result["failed"] and result["error_kind"] == "not_supported"
    assert "not available on target device" in result["msg"]


def test_standin_topology_error_fails_by_default(standin):
    result, calls = standin({"p2p": "rw"}, topo_fail="Topology not available")
    assert result["failed"] and result["error_kind"] == "not_supported"
    assert [call.split(" | ")[0] for call in calls] == ["-q -x", "topo -m"]


def test_standin_topology_error_warns_and_keeps_the_gpus(standin):
    """One call chain for gpu_facts: -q -x always, topo when it works (VMs cannot answer it)."""
    result, calls = standin({"p2p": "rw", "on_topology_error": "warn"}, topo_fail="Topology not available")
    assert not result.get("failed")
    assert result["gpu_count"] == 2 and result["topology"] is None and result["p2p"] is None
    assert "Topology not available" in result["topology_error"]
    assert any("topo -m failed; going on without it" in w for w in warning_texts(result))
    # topo -p2p is not tried once topo -m failed
    assert [call.split(" | ")[0] for call in calls] == ["-q -x", "topo -m"]
    ok, _calls = standin({"p2p": "rw", "on_topology_error": "warn"})
    assert ok["topology_error"] is None and ok["p2p"]["GPU0"]["GPU1"] == "NS"
