"""Tests for the pure power-limit planning logic (plugins/module_utils/_power_limit.py).

The GPU dicts come from REAL captures where possible: ``gpus_from_text`` below reads the
``nvidia-smi -q`` text captures in tests/unit/fixtures/nvidia_smi (8x RTX 4090, 150-450 W;
a laptop GPU, 5-95 W) into the dicts ``_nvidia_smi.parse_query_xml`` gives the module. The
few hand-built dicts (``gpu(...)``) copy the figures of the XML captures named beside them.
"""
import math
import re

import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils._power_limit import (
    TOLERANCE_W,
    ambiguous,
    check_request,
    classify_set_output,
    commands,
    find_gpu,
    gpu_label,
    normalize_name,
    plan,
    report,
    resolve_requests,
    same_watts,
    to_watts,
    verify,
    watts_arg,
    watts_text,
)
from captures import (SMI_PL_NO_PERMISSION, SMI_PL_NOT_SUPPORTED, SMI_PL_OUT_OF_RANGE, SMI_PL_SUCCESS,
                      SMI_Q_POWER_LAPTOP, SMI_Q_TEXT_8X4090, fixture_path)

SMI = "/usr/bin/nvidia-smi"
BUS_4090 = ["00000000:01:00.0", "00000000:23:00.0", "00000000:41:00.0", "00000000:61:00.0",
            "00000000:81:00.0", "00000000:A1:00.0", "00000000:C1:00.0", "00000000:E1:00.0"]
RTX4090 = "NVIDIA GeForce RTX 4090"


def read(name):
    with open(fixture_path("nvidia_smi", name)) as handle:
        return handle.read()


def _watts(text):
    match = re.match(r"([0-9.]+) W$", text.strip())
    return float(match.group(1)) if match else None


def gpus_from_text(text):
    """Test helper: the GPUs of an ``nvidia-smi -q`` (or ``-q -d POWER``) text capture, as the
    dicts the planner reads. Only the top-level "GPU Power Readings" section counts."""
    gpus, gpu, section = [], None, None
    for line in text.splitlines():
        header = re.match(r"GPU ([0-9A-Fa-f]{8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])\s*$", line)
        if header:
            gpu = {"index": len(gpus), "name": None, "uuid": None, "pci_bus_id": header.group(1),
                   "persistence_mode": None, "power_limit_w": None, "power_default_limit_w": None,
                   "power_min_limit_w": None, "power_max_limit_w": None}
            gpus.append(gpu)
            continue
        if gpu is None:
            continue
        if re.match(r"    \S", line):
            section = line.strip()
        field = re.match(r"\s+([^:]+?)\s*: (.*)$", line)
        if not field:
            continue
        key, value = field.group(1), field.group(2).strip()
        if key == "Product Name":
            gpu["name"] = value
        elif key == "GPU UUID":
            gpu["uuid"] = value
        elif key == "Persistence Mode":
            gpu["persistence_mode"] = {"Enabled": True, "Disabled": False}.get(value)
        elif section == "GPU Power Readings":
            target = {"Current Power Limit": "power_limit_w", "Default Power Limit": "power_default_limit_w",
                      "Min Power Limit": "power_min_limit_w", "Max Power Limit": "power_max_limit_w"}.get(key)
            if target:
                gpu[target] = _watts(value)
    return gpus


def gpu(index, name, bus, current, default, low, high, persistence=True, uuid=None):
    return {"index": index, "name": name, "uuid": uuid or "GPU-%08d-0000-0000-0000-000000000000" % index,
            "pci_bus_id": bus, "persistence_mode": persistence, "power_limit_w": current,
            "power_default_limit_w": default, "power_min_limit_w": low, "power_max_limit_w": high}


@pytest.fixture
def rtx4090():
    return gpus_from_text(read(SMI_Q_TEXT_8X4090))


@pytest.fixture
def laptop():
    return gpus_from_text(read(SMI_Q_POWER_LAPTOP))


@pytest.fixture
def mixed():
    """An RTX 3090 (A_rtx-3090_525.xml: 200 W of 100-375 W, default 350 W, persistence on) and a
    Tesla T4 (A_tesla-t4_515.xml: 70 W of 60-70 W, persistence off)."""
    return [gpu(0, "NVIDIA GeForce RTX 3090", "00000000:00:10.0", 200.0, 350.0, 100.0, 375.0, True),
            gpu(1, "Tesla T4", "00000000:00:1E.0", 70.0, 70.0, 60.0, 70.0, False)]


def to_set(actions):
    return dict((a["index"], a["requested_w"]) for a in actions if a["set_limit"])


# --------------------------------------------------------------------------- the text helper itself


def test_text_helper_reads_the_8x4090_capture(rtx4090):
    assert [g["pci_bus_id"] for g in rtx4090] == BUS_4090
    assert {g["name"] for g in rtx4090} == {RTX4090}
    assert rtx4090[0]["uuid"] == "GPU-313bbff0-b0a0-fd26-4820-0578bdef3a12"
    for g in rtx4090:
        assert (g["power_limit_w"], g["power_default_limit_w"], g["power_min_limit_w"], g["power_max_limit_w"]) == (
            450.0, 450.0, 150.0, 450.0)
        assert g["persistence_mode"] is True


def test_text_helper_reads_the_laptop_capture(laptop):
    assert len(laptop) == 1
    assert laptop[0]["pci_bus_id"] == "00000000:01:00.0"
    assert (laptop[0]["power_limit_w"], laptop[0]["power_min_limit_w"], laptop[0]["power_max_limit_w"]) == (35.0, 5.0, 95.0)


# --------------------------------------------------------------------------- small helpers


@pytest.mark.parametrize("value, text", [(250, "250"), (250.0, "250"), (250.5, "250.5"), (250.25, "250.25"),
                                         (99.999, "100"), (25.5, "25.5"), (120.10, "120.1")])
def test_watts_arg(value, text):
    assert watts_arg(value) == text


def test_watts_text():
    assert watts_text(250) == "250.00 W"
    assert watts_text(25.5) == "25.50 W"
    assert watts_text(None) == "N/A"


@pytest.mark.parametrize("first, second, equal", [
    (300.0, 300.0, True), (300.0, 300.49, True), (300.0, 299.51, True), (300.0, 300.5, False),
    (300.0, 299.5, False), (None, 300.0, False), (300.0, None, False), (None, None, False),
])
def test_same_watts_tolerance(first, second, equal):
    assert TOLERANCE_W == 0.5
    assert same_watts(first, second) is equal


@pytest.mark.parametrize("value, watts", [
    (250, 250.0), ("250", 250.0), (" 250.5 ", 250.5), (250.5, 250.5),
    (0, None), (-5, None), ("abc", None), (True, None), (False, None), (None, None),
    (float("nan"), None), (float("inf"), None), ("nan", None), ([250], None),
])
def test_to_watts(value, watts):
    assert to_watts(value) == watts


def test_normalize_name():
    assert normalize_name("  NVIDIA  GeForce RTX\t3090 ") == "nvidia geforce rtx 3090"


def test_gpu_label(mixed):
    assert gpu_label(mixed[0]) == "GPU 0 (NVIDIA GeForce RTX 3090, 00000000:00:10.0)"
    assert gpu_label({"index": 2, "name": None, "pci_bus_id": None, "uuid": "GPU-x"}) == "GPU 2 (unknown model, GPU-x)"


# --------------------------------------------------------------------------- which GPU gets what


def test_limit_w_for_every_gpu(rtx4090):
    actions, errors = plan(rtx4090, limit_w=300)
    assert errors == []
    assert to_set(actions) == dict((i, 300.0) for i in range(8))
    assert all(a["source"] == "limit_w" for a in actions)
    assert commands(actions, SMI) == [[SMI, "-i", bus, "-pl", "300"] for bus in BUS_4090]


@pytest.mark.parametrize("key", ["3", 3, " 3 ", "03"])
def test_by_index(rtx4090, key):
    actions, errors = plan(rtx4090, limits={key: 300})
    assert errors == []
    assert to_set(actions) == {3: 300.0}
    assert commands(actions, SMI) == [[SMI, "-i", "00000000:61:00.0", "-pl", "300"]]
    assert [a["requested_w"] for a in actions] == [None, None, None, 300.0, None, None, None, None]


@pytest.mark.parametrize("key", [RTX4090, "nvidia geforce rtx 4090", "  NVIDIA GeForce  RTX 4090 "])
def test_by_name_matches_every_gpu_of_that_model(rtx4090, key):
    actions, errors = plan(rtx4090, limits={key: 350})
    assert errors == []
    assert to_set(actions) == dict((i, 350.0) for i in range(8))
    assert actions[0]["source"] == "limits[%r]" % key


def test_index_key_wins_over_name_key_wins_over_limit_w(rtx4090):
    actions, errors = plan(rtx4090, limit_w=250, limits={RTX4090: 350, "0": 200, 7: 400})
    assert errors == []
    assert to_set(actions) == {0: 200.0, 1: 350.0, 2: 350.0, 3: 350.0, 4: 350.0, 5: 350.0, 6: 350.0, 7: 400.0}
    assert actions[0]["source"] == "limits['0']"
    assert actions[7]["source"] == "limits['7']"
    assert actions[3]["source"] == "limits['NVIDIA GeForce RTX 4090']"


def test_limit_w_is_the_fallback_for_gpus_no_key_names(mixed):
    actions, errors = plan(mixed, limit_w=65, limits={"NVIDIA GeForce RTX 3090": 300})
    assert errors == []
    assert to_set(actions) == {0: 300.0, 1: 65.0}
    assert actions[1]["source"] == "limit_w"


def test_gpus_no_option_names_are_left_alone(mixed):
    actions, errors = plan(mixed, limits={"Tesla T4": 65})
    assert errors == []
    assert to_set(actions) == {1: 65.0}
    untouched = actions[0]
    assert (untouched["requested_w"], untouched["source"], untouched["set_limit"], untouched["enable_persistence"]) == (
        None, None, False, False)
    assert commands(actions, SMI) == [[SMI, "-i", "00000000:00:1E.0", "-pm", "1"],
                                      [SMI, "-i", "00000000:00:1E.0", "-pl", "65"]]


def test_resolve_requests_sources(mixed):
    requests, errors = resolve_requests(mixed, 65, {"0": "300.5"})
    assert errors == []
    assert requests == {0: (300.5, "limits['0']"), 1: (65.0, "limit_w")}


# --------------------------------------------------------------------------- refusals


def test_out_of_range_low_exact_message(rtx4090):
    actions, errors = plan(rtx4090, limits={"2": 100})
    assert errors == [
        "GPU 2 (NVIDIA GeForce RTX 4090, 00000000:41:00.0): 100.00 W asked by limits['2'] is below its minimum; "
        "this GPU allows 150.00 W to 450.00 W"
    ]
    assert not any(a["set_limit"] for a in actions)


def test_out_of_range_high_exact_message(mixed):
    actions, errors = plan(mixed, limit_w=300, limits={"Tesla T4": 80})
    assert errors == [
        "GPU 1 (Tesla T4, 00000000:00:1E.0): 80.00 W asked by limits['Tesla T4'] is above its maximum; "
        "this GPU allows 60.00 W to 70.00 W"
    ]
    assert to_set(actions) == {0: 300.0}  # the plan of the other GPU is kept; the caller must change nothing


def test_every_out_of_range_gpu_is_reported(rtx4090):
    errors = plan(rtx4090, limit_w=500)[1]
    assert len(errors) == 8
    assert [e.split(":")[0] for e in errors] == ["GPU %d (NVIDIA GeForce RTX 4090, 00000000" % i for i in range(8)]


@pytest.mark.parametrize("watts", [150, 450, 150.0, 449.99])
def test_bounds_are_inclusive(rtx4090, watts):
    actions, errors = plan(rtx4090, limits={"0": watts})
    assert errors == []


@pytest.mark.parametrize("watts", [149.99, 450.01, 450.3])
def test_just_outside_the_bounds_is_refused_even_within_tolerance(rtx4090, watts):
    errors = plan(rtx4090, limits={"0": watts})[1]
    assert len(errors) == 1 and "this GPU allows 150.00 W to 450.00 W" in errors[0]


def test_na_limits_exact_message():
    # A_gtx-1070-ti_schema-v10.xml: its power_readings hold only power_draw (N/A).
    gpus = [gpu(0, "GeForce GTX 1070 Ti", "00000000:01:00.0", None, None, None, None, None,
                uuid="GPU-f9ba66fc-a7f5-94c5-da19-019ef2f9c665")]
    actions, errors = plan(gpus, limit_w=120)
    assert errors == [
        "GPU 0 (GeForce GTX 1070 Ti, 00000000:01:00.0): 120.00 W asked by limit_w, but nvidia-smi reports no power "
        "limit range for this GPU (min/max N/A: power management is not supported, as on most laptop GPUs); "
        "current limit N/A"
    ]
    assert not actions[0]["set_limit"]


def test_na_range_but_current_equal_is_ok():
    gpus = [gpu(0, "NVIDIA GeForce RTX 3050 Laptop GPU", "00000000:01:00.0", 35.0, None, None, None, True)]
    actions, errors = plan(gpus, limit_w=35.2)
    assert errors == []
    assert not actions[0]["set_limit"]
    errors = plan(gpus, limit_w=40)[1]
    assert len(errors) == 1 and errors[0].endswith("current limit 35.00 W")


def test_laptop_capture_with_a_range_plans_normally(laptop):
    # The -q -d POWER capture reports 5-95 W; whether the driver then accepts -pl is only known
    # when it runs (see classify_set_output and the module's read-back).
    actions, errors = plan(laptop, limit_w=50)
    assert errors == []
    assert commands(actions, "nvidia-smi") == [["nvidia-smi", "-i", "00000000:01:00.0", "-pl", "50"]]


def test_unknown_keys_exact_message(mixed):
    errors = plan(mixed, limits={"2": 100})[1]
    assert errors == [
        "limits key '2' matches no GPU (keys are GPU indexes or product names as nvidia-smi prints them); "
        "GPUs on this host: 0: NVIDIA GeForce RTX 3090 (00000000:00:10.0), 1: Tesla T4 (00000000:00:1E.0)"
    ]


def test_several_unknown_keys_in_one_message(mixed):
    errors = plan(mixed, limit_w=300, limits={"NVIDIA A100-SXM4-80GB": 300, "5": 100, "Tesla T4": 65})[1]
    assert errors == [
        "limits keys '5', 'NVIDIA A100-SXM4-80GB' match no GPU (keys are GPU indexes or product names as "
        "nvidia-smi prints them); GPUs on this host: 0: NVIDIA GeForce RTX 3090 (00000000:00:10.0), "
        "1: Tesla T4 (00000000:00:1E.0)"
    ]


@pytest.mark.parametrize("key", ["-1", "GPU-12345678-aaaa-bbbb-cccc-0123456789ab", "00000000:00:10.0", "RTX 3090"])
def test_keys_other_than_index_or_full_name_match_nothing(mixed, key):
    errors = plan(mixed, limits={key: 300})[1]
    assert len(errors) == 1 and errors[0].startswith("limits key %r matches no GPU" % key)


@pytest.mark.parametrize("limit_w, limits, message", [
    ("abc", None, "limit_w must be a positive number of watts, got 'abc'"),
    (0, None, "limit_w must be a positive number of watts, got 0"),
    (None, {"0": -5}, "limits['0'] must be a positive number of watts, got -5"),
    (None, {"Tesla T4": True}, "limits['Tesla T4'] must be a positive number of watts, got True"),
    (None, {"1": None}, "limits['1'] must be a positive number of watts, got None"),
])
def test_bad_values(mixed, limit_w, limits, message):
    errors = plan(mixed, limit_w=limit_w, limits=limits)[1]
    assert message in errors


def test_nothing_asked_is_an_error(mixed):
    errors = plan(mixed, limits={})[1]
    assert errors == ["give limit_w or a non-empty limits: no GPU is asked for a power limit"]


def test_same_gpu_two_values_by_index_keys(mixed):
    errors = plan(mixed, limits={"0": 300, "00": 250})[1]
    assert errors == ["GPU 0 (NVIDIA GeForce RTX 3090, 00000000:00:10.0) is given two different limits, "
                      "300.00 W by limits['0'] and 250.00 W by limits['00']"]


def test_same_gpu_two_values_by_name_keys(mixed):
    errors = plan(mixed, limits={"Tesla T4": 65, "tesla t4": 60})[1]
    assert len(errors) == 1 and "is given two different limits" in errors[0]


def test_same_gpu_same_value_twice_is_fine(mixed):
    actions, errors = plan(mixed, limits={"Tesla T4": 65, "tesla t4": 65.0, "1": 65})
    assert errors == []
    assert to_set(actions) == {1: 65.0}


# --------------------------------------------------------------------------- no-op and tolerance


def test_no_op_when_every_limit_already_holds(rtx4090):
    actions, errors = plan(rtx4090, limit_w=450)
    assert errors == []
    assert not any(a["set_limit"] or a["enable_persistence"] for a in actions)
    assert commands(actions, SMI) == []


@pytest.mark.parametrize("asked, changes", [(449.6, False), (449.51, False), (449.5, True), (449, True), (300, True)])
def test_tolerance_against_current(rtx4090, asked, changes):
    actions = plan(rtx4090, limits={"0": asked})[0]
    assert actions[0]["set_limit"] is changes


def test_custom_tolerance(rtx4090):
    actions = plan(rtx4090, limits={"0": 449}, tolerance=2)[0]
    assert actions[0]["set_limit"] is False


def test_current_na_with_range_is_set():
    gpus = [gpu(0, "X", "00000000:01:00.0", None, 100.0, 50.0, 150.0, True)]
    actions, errors = plan(gpus, limit_w=100)
    assert errors == [] and actions[0]["set_limit"]


# --------------------------------------------------------------------------- persistence mode


def test_persistence_off_is_enabled_before_the_limit(mixed):
    actions, errors = plan(mixed, limit_w=65, limits={"0": 300})
    assert errors == []
    assert [a["enable_persistence"] for a in actions] == [False, True]
    assert commands(actions, SMI) == [
        [SMI, "-i", "00000000:00:10.0", "-pl", "300"],
        [SMI, "-i", "00000000:00:1E.0", "-pm", "1"],
        [SMI, "-i", "00000000:00:1E.0", "-pl", "65"],
    ]


def test_persistence_alone_is_a_change(mixed):
    actions, errors = plan(mixed, limits={"1": 70})
    assert errors == []
    assert commands(actions, SMI) == [[SMI, "-i", "00000000:00:1E.0", "-pm", "1"]]


def test_persistence_false_leaves_the_mode_alone(mixed):
    actions, errors = plan(mixed, limits={"1": 65}, persistence=False)
    assert errors == []
    assert commands(actions, SMI) == [[SMI, "-i", "00000000:00:1E.0", "-pl", "65"]]


def test_unknown_persistence_is_left_alone():
    gpus = [gpu(0, "X", "00000000:01:00.0", 100.0, 100.0, 50.0, 150.0, None)]
    actions = plan(gpus, limit_w=120)[0]
    assert commands(actions, SMI) == [[SMI, "-i", "00000000:01:00.0", "-pl", "120"]]


# --------------------------------------------------------------------------- how GPUs are named in commands


def test_uuid_when_no_bus_id():
    gpus = [gpu(0, "X", None, 100.0, 100.0, 50.0, 150.0, True, uuid="GPU-abc")]
    actions, errors = plan(gpus, limit_w=120)
    assert errors == []
    assert commands(actions, SMI) == [[SMI, "-i", "GPU-abc", "-pl", "120"]]


def test_no_bus_id_and_no_uuid_is_refused_only_when_a_change_is_needed():
    g = gpu(0, "X", None, 100.0, 100.0, 50.0, 150.0, True)
    g["uuid"] = None
    errors = plan([g], limit_w=120)[1]
    assert errors == ["GPU 0 (X, no bus id) has neither a PCI bus id nor a UUID in nvidia-smi's output, so it "
                      "cannot be named safely in a command"]
    errors = plan([g], limit_w=100)[1]
    assert errors == []


def test_bus_id_even_when_uuids_repeat():
    # A_dual-rtx-2080_590.xml (telegraf test data) gives both GPUs the same anonymized UUID.
    uuid = "GPU-12345678-aaaa-bbbb-cccc-0123456789ab"
    gpus = [gpu(0, "NVIDIA GeForce RTX 2080", "00000000:01:00.0", 215.0, 215.0, 105.0, 240.0, True, uuid=uuid),
            gpu(1, "NVIDIA GeForce RTX 2080", "00000000:02:00.0", 215.0, 215.0, 105.0, 240.0, True, uuid=uuid)]
    actions = plan(gpus, limits={"1": 200})[0]
    assert commands(actions, "nvidia-smi") == [["nvidia-smi", "-i", "00000000:02:00.0", "-pl", "200"]]
    after = [dict(gpus[0]), dict(gpus[1], power_limit_w=200.0)]
    assert find_gpu(after, actions[1]) is after[1]
    assert verify(actions, after) == []


# --------------------------------------------------------------------------- read-back


def test_verify_ok_and_failures(mixed):
    actions = plan(mixed, limit_w=65, limits={"0": 300})[0]
    good = [dict(mixed[0], power_limit_w=300.0), dict(mixed[1], power_limit_w=65.0, persistence_mode=True)]
    assert verify(actions, good) == []
    stuck = [dict(mixed[0], power_limit_w=300.0), dict(mixed[1])]
    assert verify(actions, stuck) == [
        "GPU 1 (Tesla T4, 00000000:00:1E.0): power limit reads 70.00 W after setting 65.00 W",
        "GPU 1 (Tesla T4, 00000000:00:1E.0): persistence mode still reads Disabled after -pm 1",
    ]
    assert verify(actions, [good[1]]) == ["GPU 0 (NVIDIA GeForce RTX 3090, 00000000:00:10.0) is no longer in "
                                          "nvidia-smi's output"]


def test_verify_matches_by_bus_id_case_insensitively_not_by_index(mixed):
    actions = plan(mixed, limits={"0": 300})[0]
    # After a re-enumeration the 3090 is index 1 and nvidia-smi prints its bus id in lower case.
    after = [dict(mixed[1], index=0), dict(mixed[0], index=1, pci_bus_id="00000000:00:10.0".lower(), power_limit_w=300.0)]
    assert verify(actions, after) == []


def test_check_request_none_when_fine(mixed):
    assert check_request(mixed[0], 300.0, "limit_w") is None


# --------------------------------------------------------------------------- -pl / -pm output (real captures)


def test_classify_insufficient_permissions_capture():
    assert classify_set_output(4, read(SMI_PL_NO_PERMISSION), "") == ("insufficient_permissions", None)


def test_classify_out_of_range_capture():
    assert classify_set_output(2, read(SMI_PL_OUT_OF_RANGE), "") == (
        "out_of_range", (10.0, 100.0, 270.0, "00000000:26:00.0"))


@pytest.mark.parametrize("rc", [0, 3])
def test_classify_not_supported_capture_even_with_rc_0(rc):
    assert classify_set_output(rc, read(SMI_PL_NOT_SUPPORTED), "") == ("not_supported", None)


def test_classify_success_capture():
    assert classify_set_output(0, read(SMI_PL_SUCCESS), "") is None


def test_classify_other_failure_and_stderr():
    assert classify_set_output(255, "", "Unknown Error") == ("failed", None)
    assert classify_set_output(4, "", read(SMI_PL_NO_PERMISSION)) == ("insufficient_permissions", None)
    assert classify_set_output(0, "", "") is None


# --------------------------------------------------------------------------- the returned gpus list


def test_report_in_check_mode_shows_the_planned_values(mixed):
    actions = plan(mixed, limit_w=65, limits={"0": 300})[0]
    entries = report(actions)
    assert entries == [
        {"index": 0, "name": "NVIDIA GeForce RTX 3090", "pci_bus_id": "00000000:00:10.0",
         "uuid": "GPU-00000000-0000-0000-0000-000000000000", "power_limit_before_w": 200.0,
         "power_limit_after_w": 300.0, "requested_w": 300.0, "min_w": 100.0, "max_w": 375.0, "default_w": 350.0,
         "persistence_mode_before": True, "persistence_mode_after": True, "changed": True},
        {"index": 1, "name": "Tesla T4", "pci_bus_id": "00000000:00:1E.0",
         "uuid": "GPU-00000001-0000-0000-0000-000000000000", "power_limit_before_w": 70.0,
         "power_limit_after_w": 65.0, "requested_w": 65.0, "min_w": 60.0, "max_w": 70.0, "default_w": 70.0,
         "persistence_mode_before": False, "persistence_mode_after": True, "changed": True},
    ]


def test_report_after_a_read_back_uses_what_was_read(mixed):
    actions = plan(mixed, limits={"1": 65})[0]
    after = [dict(mixed[0]), dict(mixed[1], power_limit_w=65.0, persistence_mode=True)]
    entries = report(actions, after)
    assert [(e["power_limit_before_w"], e["power_limit_after_w"], e["requested_w"], e["changed"]) for e in entries] == [
        (200.0, 200.0, None, False), (70.0, 65.0, 65.0, True)]
    assert entries[1]["persistence_mode_after"] is True


def test_report_partial_run(mixed):
    actions = plan(mixed, limit_w=65, limits={"0": 300})[0]
    entries = report(actions, done={"00000000:00:10.0"})
    assert [(e["power_limit_after_w"], e["persistence_mode_after"], e["changed"]) for e in entries] == [
        (300.0, True, True), (70.0, False, False)]


def test_nan_never_slips_through():
    assert to_watts(math.nan) is None


def test_gpus_sharing_a_bus_id_or_a_uuid_are_ambiguous():
    gpus = gpus_from_text(read(SMI_Q_TEXT_8X4090))
    assert ambiguous(gpus) == []
    gpus[3]["pci_bus_id"] = gpus[1]["pci_bus_id"].lower()  # compared without regard to case
    (problem,) = ambiguous(gpus)
    assert problem.startswith("GPU 1 (%s, 00000000:23:00.0) and GPU 3 (%s, 00000000:23:00.0) all report the PCI bus "
                              "id 00000000:23:00.0: " % (gpus[1]["name"], gpus[3]["name"]))
    no_bus = [dict(index=i, name="x", uuid="GPU-1", pci_bus_id=None) for i in range(2)]
    assert "all report the UUID GPU-1" in ambiguous(no_bus)[0]
    assert ambiguous([dict(index=0, uuid=None, pci_bus_id=None)] * 2) == []  # nameless: plan() says so
