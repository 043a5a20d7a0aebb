"""End-to-end tests of the aiserver.gpu.nvidia_power_limit module.

Each test runs the REAL module file as a subprocess (conftest's ``run_module``), the way
Ansible runs it on a target, and reads the JSON it prints.

No GPU is touched. Instead of nvidia-smi the tests run a STAND-IN executable written into a
temporary directory (``NVIDIA_SMI_STANDIN``, see ``StandIn``). It records every argv, and:

* ``-q -x`` replays a REAL captured ``nvidia-smi -q -x`` XML (tests/unit/fixtures/nvidia_smi/A_*),
  byte for byte until a change was made; after ``-i BUS -pl W`` it replays the capture with
  that GPU's limit in force and requested limit set to W, after ``-i BUS -pm 1`` with its
  persistence mode Enabled: what the real read would show, so read-back and idempotence are
  tested on the real documents;
* ``-pl`` prints the line of the REAL success capture (M_nvidia-smi-pl-250_success...), with
  the GPU's bus id and watts put in;
* flag files in its directory switch in failures, printing the REAL captures byte for byte:
  ``PL_DENIED`` (M_...insufficient-permissions...), ``PL_NOT_SUPPORTED`` (M_...not-supported...,
  exit 0 as some Linux drivers do), ``PL_RANGE`` (M_...out-of-range...); and ``PL_STUCK`` /
  ``PM_STUCK`` (the command "works" but nothing changes), ``PL_HANG`` (never answers),
  ``PL_HANG_CHILD`` (never answers, waiting for a ``sleep 300`` child it started),
  ``GARBAGE`` (``-q -x`` prints no XML).

The exit codes of the failures are nvidia-smi's documented RETURN VALUEs (4: no permission,
2: invalid argument); the captures themselves do not show them.
"""
import json
import os
import stat
import sys
import time

import pytest

from captures import (SMI_PL_NO_PERMISSION, SMI_PL_NOT_SUPPORTED, SMI_PL_OUT_OF_RANGE, SMI_PL_SUCCESS,
                      SMI_XML_SAME_BUS_ID, SMI_XML_1070TI_V10, SMI_XML_DUAL_2080, SMI_XML_GT1030, SMI_XML_RTX3090, SMI_XML_RTX4000_ADA, SMI_XML_TESLA_T4,
                      fixture_path)

NVIDIA_SMI_STANDIN = r'''#!@PYTHON@
# -*- coding: utf-8 -*-
# STAND-IN for nvidia-smi, for tests only (tests/unit/plugins/modules/test_nvidia_power_limit.py):
# it touches no GPU. It replays the REAL captured `nvidia-smi -q -x` output @FIXTURE@, records
# every argv in @DIR@/calls.jsonl, and remembers `-i BUS -pl W` / `-i BUS -pm 1` in
# @DIR@/state.json so that later `-q -x` replays show them (limit in force and requested limit
# W, persistence mode Enabled). Flag files in @DIR@ switch in the failure variants.
import json
import os
import re
import sys
import time

DIR = "@DIR@"
FIXTURE = "@FIXTURE@"
CAPTURES = "@CAPTURES@"
STATE = os.path.join(DIR, "state.json")
args = sys.argv[1:]
with open(os.path.join(DIR, "calls.jsonl"), "a") as handle:
    handle.write(json.dumps([sys.argv[0]] + args) + "\n")


def flag(name):
    return os.path.exists(os.path.join(DIR, name))


def capture(name):
    with open(os.path.join(CAPTURES, name), newline="") as handle:
        return handle.read()


def bus_key(text):
    match = re.match(r"^(?:([0-9A-Fa-f]+):)?([0-9A-Fa-f]+):([0-9A-Fa-f]+)\.([0-7])$", text.strip())
    if not match:
        return None
    return tuple(int(part or "0", 16) for part in match.groups())


def load_state():
    if not os.path.exists(STATE):
        return {}
    with open(STATE) as handle:
        return json.load(handle)


def gpu_blocks(text):
    return list(re.finditer(r'<gpu id="([^"]+)">.*?</gpu>', text, re.S))


def find_block(text, selector):
    for match in gpu_blocks(text):
        if bus_key(match.group(1)) is not None and bus_key(match.group(1)) == bus_key(selector):
            return match
        if selector.startswith("GPU-") and "<uuid>%s</uuid>" % selector in match.group(0):
            return match
    return None


def reading(block, tag):
    match = re.search(r"<(?:gpu_power_readings|power_readings)>.*?<%s>([0-9.]+) W</%s>" % (tag, tag), block, re.S)
    return match.group(1) if match else "N/A"


def render():
    with open(FIXTURE, newline="") as handle:
        text = handle.read()
    state = load_state()

    def edit(match):
        block = match.group(0)
        changes = state.get(match.group(1), {})
        if "pl" in changes:
            def readings(found):
                inner = found.group(0)
                for tag in ("current_power_limit", "requested_power_limit", "power_limit", "enforced_power_limit"):
                    inner = re.sub(r"(<%s>)[^<]*(</%s>)" % (tag, tag), r"\g<1>%s W\g<2>" % changes["pl"], inner)
                return inner
            block = re.sub(r"<(gpu_power_readings|power_readings)>.*?</\1>", readings, block, flags=re.S)
        if changes.get("pm"):
            block = block.replace("<persistence_mode>Disabled</persistence_mode>",
                                  "<persistence_mode>Enabled</persistence_mode>")
        return block

    return re.sub(r'<gpu id="([^"]+)">.*?</gpu>', edit, text, flags=re.S)


def save(gpu_id, key, value):
    state = load_state()
    state.setdefault(gpu_id, {})[key] = value
    with open(STATE, "w") as handle:
        json.dump(state, handle)


if args == ["-q", "-x"]:
    if flag("GARBAGE"):
        sys.stdout.write("this is not XML\n")
        sys.exit(0)
    sys.stdout.write(render())
    sys.exit(0)

if len(args) == 4 and args[0] == "-i" and args[2] in ("-pl", "-pm"):
    match = find_block(render(), args[1])
    if match is None:
        sys.stdout.write("No devices were found\n")
        sys.exit(6)
    gpu_id = match.group(1)
    if args[2] == "-pm":
        if args[3] != "1":
            sys.exit(2)
        if not flag("PM_STUCK"):
            save(gpu_id, "pm", True)
        sys.exit(0)  # the real success message of -pm is not in the corpus: print nothing
    if flag("PL_HANG"):
        time.sleep(60)
    if flag("PL_HANG_CHILD"):
        # a hang with a child: `sleep 300 &` started by a shell that waits for it
        import subprocess
        subprocess.call(["/bin/sh", "-c", "sleep 300 & echo $! > '%s'; wait" % os.path.join(DIR, "child.pid")])
    if flag("PL_DENIED"):
        with open(os.path.join(DIR, "PL_DENIED")) as handle:
            only = handle.read().strip()
        if not only or bus_key(only) == bus_key(gpu_id):
            sys.stdout.write(capture("@NO_PERMISSION@"))
            sys.exit(4)
    if flag("PL_NOT_SUPPORTED"):
        sys.stdout.write(capture("@NOT_SUPPORTED@"))
        sys.exit(0)
    if flag("PL_RANGE"):
        sys.stdout.write(capture("@OUT_OF_RANGE@"))
        sys.exit(2)
    new = "%.2f" % float(args[3])
    old = reading(match.group(0), "current_power_limit")
    if old == "N/A":
        old = reading(match.group(0), "enforced_power_limit")
    success = capture("@SUCCESS@").splitlines()
    line = success[0].replace("00000000:3B:00.0", gpu_id).replace("to 250.00 W from 300.00 W",
                                                                  "to %s W from %s W" % (new, old))
    sys.stdout.write(line + "\n" + success[-1] + "\n")
    if not flag("PL_STUCK"):
        save(gpu_id, "pl", new)
    sys.exit(0)

sys.stdout.write("stand-in nvidia-smi: unexpected arguments %r\n" % (args,))
sys.exit(2)
'''

RTX3090_BUS = "0000:00:10.0"
T4_BUS = "0000:00:1e.0"
D2080_BUS = ["0000:01:00.0", "0000:02:00.0"]
ENTRY_KEYS = {"index", "name", "pci_bus_id", "uuid", "power_limit_before_w", "power_limit_after_w", "requested_w",
              "min_w", "max_w", "default_w", "persistence_mode_before", "persistence_mode_after", "changed"}


class StandIn(object):
    """The nvidia-smi stand-in of one test, and what it recorded."""

    def __init__(self, directory, fixture):
        self.dir = str(directory)
        os.makedirs(self.dir)
        text = NVIDIA_SMI_STANDIN
        for key, value in (("PYTHON", sys.executable), ("DIR", self.dir), ("FIXTURE", fixture_path("nvidia_smi", fixture)),
                           ("CAPTURES", fixture_path("nvidia_smi", "")), ("NO_PERMISSION", SMI_PL_NO_PERMISSION),
                           ("NOT_SUPPORTED", SMI_PL_NOT_SUPPORTED), ("OUT_OF_RANGE", SMI_PL_OUT_OF_RANGE),
                           ("SUCCESS", SMI_PL_SUCCESS)):
            assert '"' not in value and "\\" not in value
            text = text.replace("@%s@" % key, value)
        self.path = os.path.join(self.dir, "nvidia-smi")
        with open(self.path, "w") as handle:
            handle.write(text)
        os.chmod(self.path, os.stat(self.path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def calls(self):
        path = os.path.join(self.dir, "calls.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            return [json.loads(line) for line in handle]

    def changes(self):
        return [call for call in self.calls() if call[1:2] == ["-i"]]

    def flag(self, name, content=""):
        with open(os.path.join(self.dir, name), "w") as handle:
            handle.write(content)

    def pl(self, bus, watts):
        return [self.path, "-i", bus, "-pl", watts]

    def pm(self, bus):
        return [self.path, "-i", bus, "-pm", "1"]

    @property
    def read(self):
        return [self.path, "-q", "-x"]


@pytest.fixture
def smi(tmp_path):
    def make(fixture):
        return StandIn(tmp_path / "standin", fixture)
    return make


@pytest.fixture
def run(run_module, smi):
    """``run(fixture_or_standin, args, check_mode=False)`` -> (result, stand-in)."""
    def go(fixture, args, check_mode=False, **kwargs):
        standin = fixture if isinstance(fixture, StandIn) else smi(fixture)
        module_args = {"executable": standin.path}
        module_args.update(args)
        return run_module("nvidia_power_limit", module_args, check_mode=check_mode, **kwargs), standin
    return go


def by_index(result):
    return dict((entry["index"], entry) for entry in result["gpus"])


# --------------------------------------------------------------------------- planning and check mode


def test_check_mode_runs_only_the_read(run):
    result, standin = run(SMI_XML_RTX3090, {"limit_w": 300}, check_mode=True)
    assert result["changed"] is True
    assert result["commands"] == [standin.pl(RTX3090_BUS, "300")]
    assert standin.calls() == [standin.read]
    assert result["nvidia_smi_calls"] == 1
    assert result["gpus"] == [{
        "index": 0, "name": "NVIDIA GeForce RTX 3090", "pci_bus_id": RTX3090_BUS,
        "uuid": "GPU-12345678-aaaa-bbbb-cccc-0123456789ab", "power_limit_before_w": 200.0,
        "power_limit_after_w": 300.0, "requested_w": 300.0, "min_w": 100.0, "max_w": 375.0, "default_w": 350.0,
        "persistence_mode_before": True, "persistence_mode_after": True, "changed": True,
    }]


def test_check_mode_with_persistence_off(run):
    result, standin = run(SMI_XML_TESLA_T4, {"limit_w": 65}, check_mode=True)
    assert result["changed"] is True
    assert result["commands"] == [standin.pm(T4_BUS), standin.pl(T4_BUS, "65")]
    assert standin.changes() == []
    entry = result["gpus"][0]
    assert (entry["persistence_mode_before"], entry["persistence_mode_after"]) == (False, True)


# --------------------------------------------------------------------------- applying, read back, idempotence


def test_sets_the_limit_reads_it_back_and_is_idempotent(run):
    result, standin = run(SMI_XML_RTX3090, {"limit_w": 300})
    assert result["changed"] is True
    assert result["commands"] == [standin.pl(RTX3090_BUS, "300")]
    assert standin.calls() == [standin.read, standin.pl(RTX3090_BUS, "300"), standin.read]
    assert result["nvidia_smi_calls"] == 3
    entry = result["gpus"][0]
    assert (entry["power_limit_before_w"], entry["power_limit_after_w"], entry["changed"]) == (200.0, 300.0, True)

    again = run(standin, {"limit_w": 300})[0]
    assert again["changed"] is False
    assert again["commands"] == []
    assert standin.changes() == [standin.pl(RTX3090_BUS, "300")]  # still only the first run's -pl
    entry = again["gpus"][0]
    assert (entry["power_limit_before_w"], entry["power_limit_after_w"], entry["changed"]) == (300.0, 300.0, False)


def test_v13_dual_gpu_by_name_and_index(run):
    result, standin = run(SMI_XML_DUAL_2080, {"limits": {"NVIDIA GeForce RTX 2080": 200, "1": 180}})
    assert result["changed"] is True
    assert standin.changes() == [standin.pl(D2080_BUS[0], "200"), standin.pl(D2080_BUS[1], "180")]
    gpus = by_index(result)
    assert [(gpus[i]["pci_bus_id"], gpus[i]["power_limit_before_w"], gpus[i]["power_limit_after_w"]) for i in (0, 1)] == [
        (D2080_BUS[0], 215.0, 200.0), (D2080_BUS[1], 215.0, 180.0)]
    # Both GPUs of this capture carry the same (anonymized) UUID: the bus id tells them apart.
    assert gpus[0]["uuid"] == gpus[1]["uuid"]

    again = run(standin, {"limits": {"NVIDIA GeForce RTX 2080": 200, "1": 180}})[0]
    assert again["changed"] is False and len(standin.changes()) == 2


def test_index_key_alone_leaves_the_other_gpu_alone(run):
    result, standin = run(SMI_XML_DUAL_2080, {"limits": {"1": 150.5}})
    assert standin.changes() == [standin.pl(D2080_BUS[1], "150.5")]
    gpus = by_index(result)
    assert (gpus[0]["requested_w"], gpus[0]["changed"], gpus[0]["power_limit_after_w"]) == (None, False, 215.0)
    assert (gpus[1]["requested_w"], gpus[1]["power_limit_after_w"]) == (150.5, 150.5)


def test_string_watts_in_limits(run):
    result, standin = run(SMI_XML_DUAL_2080, {"limits": {"0": "200"}})
    assert result["changed"] is True
    assert standin.changes() == [standin.pl(D2080_BUS[0], "200")]


def test_persistence_is_enabled_before_the_limit_and_read_back(run):
    result, standin = run(SMI_XML_TESLA_T4, {"limit_w": 65})
    assert standin.calls() == [standin.read, standin.pm(T4_BUS), standin.pl(T4_BUS, "65"), standin.read]
    entry = result["gpus"][0]
    assert (entry["persistence_mode_before"], entry["persistence_mode_after"]) == (False, True)
    assert (entry["power_limit_before_w"], entry["power_limit_after_w"]) == (70.0, 65.0)

    again = run(standin, {"limit_w": 65})[0]
    assert again["changed"] is False and len(standin.changes()) == 2


def test_decimal_limit_on_a_v11_capture(run):
    # A_gt-1030_old.xml: 30 W of 25.50-30.00 W, persistence mode Disabled.
    result, standin = run(SMI_XML_GT1030, {"limit_w": 25.5})
    assert standin.changes() == [standin.pm("0000:2d:00.0"), standin.pl("0000:2d:00.0", "25.5")]
    entry = result["gpus"][0]
    assert (entry["min_w"], entry["max_w"], entry["power_limit_before_w"], entry["power_limit_after_w"]) == (
        25.5, 30.0, 30.0, 25.5)
    assert result.get("warnings", []) == []


def test_persistence_alone_is_a_change(run):
    result, standin = run(SMI_XML_TESLA_T4, {"limit_w": 70})
    assert result["changed"] is True
    assert standin.changes() == [standin.pm(T4_BUS)]


def test_persistence_mode_false_leaves_it_off(run):
    result, standin = run(SMI_XML_TESLA_T4, {"limit_w": 65, "persistence_mode": False})
    assert standin.changes() == [standin.pl(T4_BUS, "65")]
    assert result["gpus"][0]["persistence_mode_after"] is False
    again = run(standin, {"limit_w": 70, "persistence_mode": False})[0]
    assert again["changed"] is True and standin.changes()[-1] == standin.pl(T4_BUS, "70")


@pytest.mark.parametrize("watts", [200.3, 199.6, "200.49"])
def test_within_half_a_watt_is_no_change(run, watts):
    result, standin = run(SMI_XML_RTX3090, {"limits": {"NVIDIA GeForce RTX 3090": watts}})
    assert result["changed"] is False
    assert standin.changes() == []


def test_default_executable_is_found_in_path(run_module, smi):
    standin = smi(SMI_XML_RTX4000_ADA)
    result = run_module("nvidia_power_limit", {"limit_w": 60}, check_mode=True, path_prefix=standin.dir)
    assert result["commands"] == [standin.pl("0000:06:00.0", "60")]
    assert standin.calls() == [standin.read]


# --------------------------------------------------------------------------- refusals before any change


def test_out_of_range_fails_before_any_change(run):
    result, standin = run(SMI_XML_DUAL_2080, {"limits": {"0": 200, "1": 250}})
    assert result["failed"] is True
    assert result["error_kind"] == "invalid_request"
    assert result["changed"] is False
    assert result["msg"] == (
        "Nothing was changed: GPU 1 (NVIDIA GeForce RTX 2080, 0000:02:00.0): 250.00 W asked by limits['1'] "
        "is above its maximum; this GPU allows 105.00 W to 240.00 W")
    assert standin.calls() == [standin.read]
    assert result["commands"] == []
    assert [e["changed"] for e in result["gpus"]] == [False, False]


def test_out_of_range_low(run):
    result, standin = run(SMI_XML_RTX3090, {"limit_w": 99.5})
    assert result["errors"] == [
        "GPU 0 (NVIDIA GeForce RTX 3090, 0000:00:10.0): 99.50 W asked by limit_w is below its minimum; "
        "this GPU allows 100.00 W to 375.00 W"]
    assert standin.changes() == []


def test_na_limits_fail(run):
    result, standin = run(SMI_XML_1070TI_V10, {"limit_w": 120})
    assert result["failed"] is True and result["error_kind"] == "invalid_request"
    assert result["errors"] == [
        "GPU 0 (GeForce GTX 1070 Ti, 0000:01:00.0): 120.00 W asked by limit_w, but nvidia-smi reports no power "
        "limit range for this GPU (min/max N/A: power management is not supported, as on most laptop GPUs); "
        "current limit N/A"]
    assert standin.changes() == []


def test_unknown_key_lists_the_gpus(run):
    result, standin = run(SMI_XML_DUAL_2080, {"limit_w": 200, "limits": {"NVIDIA A100-SXM4-80GB": 300}})
    assert result["errors"] == [
        "limits key 'NVIDIA A100-SXM4-80GB' matches no GPU (keys are GPU indexes or product names as nvidia-smi "
        "prints them); GPUs on this host: 0: NVIDIA GeForce RTX 2080 (0000:01:00.0), "
        "1: NVIDIA GeForce RTX 2080 (0000:02:00.0)"]
    assert standin.changes() == []


def test_limit_w_or_limits_is_required(run):
    result, standin = run(SMI_XML_RTX3090, {})
    assert result["failed"] is True
    assert "one of the following is required: limit_w, limits" in result["msg"]
    assert standin.calls() == []


def test_empty_limits_is_refused(run):
    result, standin = run(SMI_XML_RTX3090, {"limits": {}})
    assert result["errors"] == ["give limit_w or a non-empty limits: no GPU is asked for a power limit"]
    assert standin.changes() == []


# --------------------------------------------------------------------------- nvidia-smi failures (real captures)


def test_insufficient_permissions(run, smi):
    standin = smi(SMI_XML_DUAL_2080)
    standin.flag("PL_DENIED")
    result = run(standin, {"limit_w": 200})[0]
    assert result["failed"] is True
    assert result["error_kind"] == "insufficient_permissions"
    assert result["changed"] is False
    assert result["msg"].startswith(
        "setting the power limit of GPU 0 (NVIDIA GeForce RTX 2080, 0000:01:00.0) failed: nvidia-smi said "
        "'Failed to set power management limit for GPU 00000000:01:00.0: Insufficient Permissions' (rc=4). "
        "changing power limits and persistence mode needs root: run the task with become: true.")
    assert "SYS_ADMIN" in result["msg"]
    assert result["rc"] == 4
    assert result["cmd"] == standin.pl(D2080_BUS[0], "200")
    with open(fixture_path("nvidia_smi", SMI_PL_NO_PERMISSION)) as handle:
        assert result["stdout"] == handle.read()
    assert result["commands"] == [standin.pl(D2080_BUS[0], "200")]
    assert standin.changes() == [standin.pl(D2080_BUS[0], "200")]  # stopped at the first failure


def test_failure_on_the_second_gpu_reports_the_first_change(run, smi):
    standin = smi(SMI_XML_DUAL_2080)
    standin.flag("PL_DENIED", "00000000:02:00.0")
    result = run(standin, {"limit_w": 200})[0]
    assert result["error_kind"] == "insufficient_permissions"
    assert result["changed"] is True
    assert "Commands that worked before it: 1." in result["msg"]
    assert result["commands"] == [standin.pl(D2080_BUS[0], "200"), standin.pl(D2080_BUS[1], "200")]
    assert [(e["changed"], e["power_limit_after_w"]) for e in result["gpus"]] == [(True, 200.0), (False, 215.0)]


def test_not_supported_even_with_rc_0(run, smi):
    standin = smi(SMI_XML_DUAL_2080)
    standin.flag("PL_NOT_SUPPORTED")
    result = run(standin, {"limits": {"0": 200}})[0]
    assert result["error_kind"] == "not_supported"
    assert result["rc"] == 0
    assert ("nvidia-smi said 'Changing power management limit is not supported for GPU: 00000000:01:00.0' (rc=0)"
            in result["msg"])
    assert result["changed"] is False


def test_driver_refuses_the_range(run, smi):
    standin = smi(SMI_XML_RTX3090)
    standin.flag("PL_RANGE")
    result = run(standin, {"limit_w": 300})[0]
    assert result["error_kind"] == "out_of_range"
    assert "The driver accepts 100.00 W to 270.00 W for this GPU now" in result["msg"]
    assert "'Provided power limit 10.00 W is not a valid power limit" in result["msg"]


def test_limit_that_does_not_stick_fails_the_read_back(run, smi):
    standin = smi(SMI_XML_RTX3090)
    standin.flag("PL_STUCK")
    result = run(standin, {"limit_w": 300})[0]
    assert result["failed"] is True
    assert result["error_kind"] == "not_applied"
    assert result["changed"] is True
    assert result["problems"] == [
        "GPU 0 (NVIDIA GeForce RTX 3090, 0000:00:10.0): power limit reads 200.00 W after setting 300.00 W"]
    assert result["msg"] == (
        "nvidia-smi accepted the commands but the read back differs: GPU 0 (NVIDIA GeForce RTX 3090, 0000:00:10.0): "
        "power limit reads 200.00 W after setting 300.00 W. nvidia-smi's output: 0000:00:10.0 said "
        "'Power limit for GPU 00000000:00:10.0 was set to 300.00 W from 200.00 W. / All done.'")
    assert standin.calls() == [standin.read, standin.pl(RTX3090_BUS, "300"), standin.read]
    assert result["gpus"][0]["power_limit_after_w"] == 200.0


def test_persistence_that_does_not_stick_fails_the_read_back(run, smi):
    standin = smi(SMI_XML_TESLA_T4)
    standin.flag("PM_STUCK")
    result = run(standin, {"limit_w": 65})[0]
    assert result["error_kind"] == "not_applied"
    assert result["problems"] == [
        "GPU 0 (Tesla T4, 0000:00:1e.0): persistence mode still reads Disabled after -pm 1"]


def test_hanging_pl_times_out(run, smi):
    standin = smi(SMI_XML_RTX3090)
    standin.flag("PL_HANG")
    result = run(standin, {"limit_w": 300, "timeout": 2})[0]
    assert result["error_kind"] == "timeout"
    assert result["rc"] is None
    assert "did not finish within 2 s and was killed" in result["msg"]


def test_unparsable_read(run, smi):
    standin = smi(SMI_XML_RTX3090)
    standin.flag("GARBAGE")
    result = run(standin, {"limit_w": 300})[0]
    assert result["error_kind"] == "unparsable"
    assert standin.changes() == []


def test_missing_executable(run_module, tmp_path):
    result = run_module("nvidia_power_limit", {"limit_w": 300, "executable": str(tmp_path / "nope" / "nvidia-smi")})
    assert result["failed"] is True
    assert result["error_kind"] == "not_installed"


def test_result_entries_have_the_documented_keys(run):
    result = run(SMI_XML_DUAL_2080, {"limit_w": 200}, check_mode=True)[0]
    assert [set(entry) for entry in result["gpus"]] == [ENTRY_KEYS, ENTRY_KEYS]


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except (IOError, OSError):
        return False


def test_hanging_pl_with_a_child_times_out_and_the_child_is_gone(run, smi):
    standin = smi(SMI_XML_RTX3090)
    standin.flag("PL_HANG_CHILD")
    start = time.time()
    result = run(standin, {"limit_w": 300, "timeout": 2})[0]
    assert time.time() - start < 15  # the child would hold the pipes open for 300 s if it survived
    assert result["failed"] is True and result["error_kind"] == "timeout" and result["rc"] is None
    assert "did not finish within 2 s and was killed" in result["msg"]
    assert result["changed"] is False and result["commands"] == [standin.pl(RTX3090_BUS, "300")]
    child = int(open(os.path.join(standin.dir, "child.pid")).read())
    deadline = time.time() + 3
    while _alive(child) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_two_gpus_with_one_bus_id_are_refused_before_any_change(run, check_mode):
    """Before: -pl ran on 0000:01:00.0 and the read back said 'GPU 0 ... is no longer in nvidia-smi's output'."""
    result, standin = run(SMI_XML_SAME_BUS_ID, {"limit_w": 200}, check_mode=check_mode)
    assert result["failed"] is True and result["error_kind"] == "ambiguous_gpus" and result["changed"] is False
    assert standin.changes() == [] and standin.calls() == [standin.read]
    assert result["errors"] == [
        "GPU 0 (NVIDIA GeForce RTX 2080, 0000:01:00.0) and GPU 1 (NVIDIA GeForce RTX 2080, 0000:01:00.0) all report "
        "the PCI bus id 0000:01:00.0: nvidia-smi's output is inconsistent, so no command can name one of them "
        "(nvidia-smi -i 0000:01:00.0 would pick one) and no read back could tell which one changed"]
    assert result["msg"].startswith("Nothing was changed: GPU 0 (NVIDIA GeForce RTX 2080, 0000:01:00.0) and GPU 1")
