"""Tests for the pure nvidia-smi parsers (plugins/module_utils/_nvidia_smi.py).

Every A_ (``-q -x``), D_ (``topo -m`` / ``topo -p2p``) and I_ (failure) capture in
tests/unit/fixtures/nvidia_smi is read here, and the key figures its ``.source`` note
states are asserted, keyed by the capture's name.
"""
import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import (
    ERROR_KINDS,
    NvidiaSmiParseError,
    classify_failure,
    normalize_bus_id,
    parse_p2p,
    parse_query_xml,
    duplicates,
    parse_topology,
    strip_ansi,
)
from captures import (
    SMI_DEBIAN_FULL_DRIVER,
    SMI_DEBIAN_NO_RECOMMENDS,
    SMI_DEBIAN_SMI_ALONE,
    SMI_ERR_COULDNT_COMMUNICATE,
    SMI_ERR_CSV_UNKNOWN_FIELD,
    SMI_ERR_DEVICE_HANDLE,
    SMI_ERR_DMESG_FALLEN_OFF,
    SMI_ERR_DMESG_NOUVEAU,
    SMI_ERR_MISMATCH_NVML_LINE,
    SMI_ERR_MISMATCH_OLD,
    SMI_ERR_NO_DEVICES,
    SMI_ERR_UNKNOWN_CONTAINER,
    SMI_P2P_2X2080TI_NS,
    SMI_TOPO_2X2080TI_PIX,
    SMI_TOPO_4X3090_NV4,
    SMI_TOPO_8XH100_NV18,
    SMI_TOPO_CUT,
    SMI_TOPO_MISSING_CELL,
    SMI_TOPO_L40S_ANSI,
    SMI_TOPO_NICS,
    SMI_XML_1070TI_V10,
    SMI_XML_ATTACHED_MISMATCH,
    SMI_XML_DUAL_2080,
    SMI_XML_GT1030,
    SMI_XML_RTX3090,
    SMI_XML_RTX4000_ADA,
    SMI_XML_SAME_BUS_ID,
    SMI_XML_TESLA_T4,
    SMI_XML_8X_V100S,
    fixture_path,
)

GPU_KEYS = {
    "index": int, "minor_number": int, "name": str, "product_brand": str, "architecture": str, "uuid": str,
    "pci_bus_id": str, "serial": str, "vbios_version": str, "persistence_mode": bool, "compute_mode": str,
    "mig_mode": str, "mig_mode_pending": str, "ecc_mode": str, "performance_state": str,
    "memory_total_mib": int, "memory_used_mib": int, "power_limit_w": float, "power_requested_limit_w": float,
    "power_default_limit_w": float, "power_min_limit_w": float, "power_max_limit_w": float,
    "power_draw_w": float, "pcie_gen_current": int, "pcie_gen_max": int, "pcie_width_current": int,
    "pcie_width_max": int, "temperature_c": int, "fabric_state": str, "fabric_status": str,
    # health figures (issue 16): ECC, retired pages, row remapping, clock event reasons
    "fabric_health_summary": str, "ecc_mode_pending": str, "ecc_errors": dict,
    "ecc_volatile_correctable": int, "ecc_volatile_uncorrectable": int,
    "ecc_aggregate_correctable": int, "ecc_aggregate_uncorrectable": int,
    "ecc_sram_threshold_exceeded": bool, "retired_pages_single_bit": int, "retired_pages_double_bit": int,
    "retired_pages_pending": bool, "remapped_rows_correctable": int, "remapped_rows_uncorrectable": int,
    "remapped_rows_pending": bool, "remapped_rows_failure": bool, "clocks_event_reasons": dict,
}


def read(name):
    with open(fixture_path("nvidia_smi", name), "rb") as handle:
        return handle.read().decode("utf-8")


def parse(name, parser):
    warnings = []
    result = parser(read(name), warn=warnings.append)
    return result, warnings


# --------------------------------------------------------------------------- -q -x

# Key figures of each capture's .source (and of the XML itself where the note is silent).
XML_CASES = {
    SMI_XML_DUAL_2080: dict(
        driver_version="590.44.01", cuda_version="13.1", attached_gpus=2,
        gpus=[
            dict(index=0, minor_number=0, name="NVIDIA GeForce RTX 2080", pci_bus_id="0000:01:00.0",
                 product_brand="GeForce", persistence_mode=True, memory_total_mib=8192, power_limit_w=215.0,
                 power_default_limit_w=215.0, power_min_limit_w=105.0, power_max_limit_w=240.0, power_draw_w=1.0,
                 pcie_gen_current=1, pcie_gen_max=3, pcie_width_current=8, pcie_width_max=16, temperature_c=15,
                 mig_mode=None, serial=None, vbios_version="90.04.0B.00.8F", compute_mode="Default"),
            dict(index=1, minor_number=1, name="NVIDIA GeForce RTX 2080", pci_bus_id="0000:02:00.0",
                 power_draw_w=1.62, power_limit_w=215.0),
        ]),
    SMI_XML_GT1030: dict(
        driver_version="470.74", cuda_version="11.4", attached_gpus=1,
        gpus=[dict(index=0, name="NVIDIA GeForce GT 1030", pci_bus_id="0000:2d:00.0", persistence_mode=False,
                   power_draw_w=None, power_limit_w=30.0, power_default_limit_w=30.0, power_min_limit_w=25.5,
                   power_max_limit_w=30.0, memory_total_mib=1998, pcie_width_max=4, temperature_c=36,
                   serial=None, architecture=None)]),
    SMI_XML_1070TI_V10: dict(
        driver_version=None, cuda_version=None, attached_gpus=None,
        gpus=[dict(index=0, minor_number=None, name="GeForce GTX 1070 Ti", pci_bus_id="0000:01:00.0",
                   uuid="GPU-f9ba66fc-a7f5-94c5-da19-019ef2f9c665", persistence_mode=None, power_draw_w=None,
                   power_limit_w=None, power_max_limit_w=None, pcie_gen_current=1, pcie_gen_max=None,
                   pcie_width_current=16, pcie_width_max=None, memory_total_mib=4096, temperature_c=39,
                   vbios_version=None, product_brand=None)]),
    SMI_XML_RTX3090: dict(
        driver_version="525.147.05", cuda_version="12.0", attached_gpus=1,
        gpus=[dict(index=0, name="NVIDIA GeForce RTX 3090", pci_bus_id="0000:00:10.0", power_draw_w=27.23,
                   power_limit_w=200.0, power_requested_limit_w=200.0, power_default_limit_w=350.0,
                   power_min_limit_w=100.0, power_max_limit_w=375.0, memory_total_mib=24576, pcie_gen_max=4,
                   architecture="Ampere")]),
    SMI_XML_RTX4000_ADA: dict(
        driver_version="595.84", cuda_version="13.2", attached_gpus=1,
        gpus=[dict(index=0, name="NVIDIA RTX 4000 SFF Ada Generation", pci_bus_id="0000:06:00.0",
                   product_brand="NVIDIA RTX", serial="REDACTED", power_draw_w=8.44, power_limit_w=70.0,
                   power_default_limit_w=70.0, power_min_limit_w=30.0, power_max_limit_w=70.0,
                   memory_total_mib=20475, temperature_c=38, ecc_mode="Disabled", architecture="Ada Lovelace")]),
    SMI_XML_TESLA_T4: dict(
        driver_version="515.105.01", cuda_version="11.7", attached_gpus=1,
        gpus=[dict(index=0, name="Tesla T4", pci_bus_id="0000:00:1e.0", product_brand="NVIDIA",
                   persistence_mode=False, serial="0000000000000", power_draw_w=26.78, power_limit_w=70.0,
                   power_min_limit_w=60.0, power_max_limit_w=70.0, memory_total_mib=15360, pcie_width_current=8,
                   pcie_width_max=16, ecc_mode="Enabled", uuid="GPU-d37e67a5-91dd-3774-a5cb-99096249601a")]),
}


@pytest.mark.parametrize("name", sorted(XML_CASES), ids=lambda name: name.rsplit(".", 1)[0])
def test_query_xml_key_figures(name):
    result, warnings = parse(name, parse_query_xml)
    expected = XML_CASES[name]
    for key in ("driver_version", "cuda_version", "attached_gpus"):
        assert result[key] == expected[key], key
    assert result["gpu_count"] == len(result["gpus"]) == len(expected["gpus"])
    for gpu, want in zip(result["gpus"], expected["gpus"]):
        for key, value in want.items():
            assert gpu[key] == value, (gpu["index"], key)
    assert warnings == []


@pytest.mark.parametrize("name", sorted(XML_CASES) + [SMI_XML_ATTACHED_MISMATCH, SMI_XML_8X_V100S],
                         ids=lambda name: name.rsplit(".", 1)[0])
def test_query_xml_every_gpu_has_every_key_with_its_type(name):
    result, _warnings = parse(name, parse_query_xml)
    for gpu in result["gpus"]:
        assert set(gpu) == set(GPU_KEYS)
        for key, kind in GPU_KEYS.items():
            value = gpu[key]
            # bool is an int subclass: an int field must not hold True/False.
            assert value is None or (isinstance(value, kind) and isinstance(value, bool) == (kind is bool)), \
                (key, value)
        assert gpu["uuid"].startswith("GPU-")


def test_query_xml_health_figures_v11_ecc_board():
    """v11 (460.73.01, 8x V100S with ECC on): ECC counted by bit with a <total>, retired
    pages with their pending flags, remapped rows N/A (pre-Ampere), throttle reasons."""
    result, warnings = parse(SMI_XML_8X_V100S, parse_query_xml)
    assert result["gpu_count"] == 8 and warnings == []
    for gpu in result["gpus"]:
        assert gpu["ecc_mode"] == "Enabled" and gpu["ecc_mode_pending"] == "Enabled"
        assert (gpu["ecc_volatile_correctable"], gpu["ecc_volatile_uncorrectable"]) == (0, 0)
        assert (gpu["ecc_aggregate_correctable"], gpu["ecc_aggregate_uncorrectable"]) == (0, 0)
        assert gpu["ecc_errors"]["volatile"]["single_bit_device_memory"] == 0
        assert gpu["ecc_errors"]["volatile"]["single_bit_texture_memory"] is None   # N/A
        assert (gpu["retired_pages_single_bit"], gpu["retired_pages_double_bit"]) == (0, 0)
        assert gpu["retired_pages_pending"] is False
        assert gpu["remapped_rows_pending"] is None and gpu["remapped_rows_failure"] is None
        assert gpu["clocks_event_reasons"]["hw_slowdown"] is False


def test_query_xml_health_figures_boards_without_ecc_counters():
    """v13 Ada without ECC: remapped rows read (No -> False), ECC totals None; v10's reduced
    capture has no throttle reasons at all (None, not an empty dict)."""
    ada = parse(SMI_XML_RTX4000_ADA, parse_query_xml)[0]["gpus"][0]
    assert (ada["remapped_rows_pending"], ada["remapped_rows_failure"]) == (False, False)
    assert ada["ecc_volatile_uncorrectable"] is None and ada["ecc_mode_pending"] == "Disabled"
    assert ada["clocks_event_reasons"]["gpu_idle"] is True
    t4 = parse(SMI_XML_TESLA_T4, parse_query_xml)[0]["gpus"][0]
    assert t4["clocks_event_reasons"]["gpu_idle"] is False and t4["ecc_aggregate_uncorrectable"] == 0
    assert parse(SMI_XML_1070TI_V10, parse_query_xml)[0]["gpus"][0]["clocks_event_reasons"] is None


def test_query_xml_clock_reason_neither_active_nor_not_active_is_warned():
    text = read(SMI_XML_TESLA_T4).replace(
        "<clocks_throttle_reason_hw_slowdown>Not Active<", "<clocks_throttle_reason_hw_slowdown>Maybe<")
    warnings = []
    gpu = parse_query_xml(text, warn=warnings.append)["gpus"][0]
    assert "hw_slowdown" not in gpu["clocks_event_reasons"]
    assert any("hw_slowdown" in w and "Maybe" in w for w in warnings), warnings


def test_query_xml_attached_mismatch_mig_and_unknown_error_field():
    result, warnings = parse(SMI_XML_ATTACHED_MISMATCH, parse_query_xml)
    assert (result["attached_gpus"], result["gpu_count"]) == (2, 1)
    gpu = result["gpus"][0]
    assert gpu["pci_bus_id"] == "0000:c1:00.0"
    assert gpu["minor_number"] == 5 and gpu["index"] == 0
    assert (gpu["mig_mode"], gpu["mig_mode_pending"]) == ("Enabled", "Disabled")
    assert gpu["power_draw_w"] is None
    assert (gpu["power_limit_w"], gpu["power_min_limit_w"], gpu["power_max_limit_w"]) == (400.0, 100.0, 400.0)
    assert (gpu["fabric_state"], gpu["fabric_status"]) == ("Completed", "Success")
    assert any("power_draw" in w and "Unknown Error" in w for w in warnings), warnings
    assert any("2 attached GPU(s) but describes 1" in w for w in warnings), warnings


def test_query_xml_skips_text_before_the_xml_with_a_warning():
    text = "WARNING: infoROM is corrupted at gpu 0000:01:00.0\n" + read(SMI_XML_RTX3090)
    warnings = []
    result = parse_query_xml(text, warn=warnings.append)
    assert result["gpus"][0]["power_limit_w"] == 200.0
    assert len(warnings) == 1 and "infoROM is corrupted" in warnings[0]


def test_query_xml_accepts_bytes_and_crlf():
    text = read(SMI_XML_TESLA_T4).replace("\n", "\r\n").encode("utf-8")
    assert parse_query_xml(text)["gpus"][0]["name"] == "Tesla T4"


@pytest.mark.parametrize("text", [
    "",
    "   \n",
    "No devices were found\n",
    "<html><body>nope</body></html>",
    '<?xml version="1.0" ?>\n<!DOCTYPE x [<!ENTITY a "b">]>\n<nvidia_smi_log>&a;</nvidia_smi_log>',
], ids=["empty", "blank", "error-text", "wrong-root", "entities"])
def test_query_xml_refuses_what_is_not_nvidia_smi_xml(text):
    with pytest.raises(NvidiaSmiParseError):
        parse_query_xml(text)


def test_query_xml_cut_short_is_unparsable():
    text = read(SMI_XML_DUAL_2080)
    with pytest.raises(NvidiaSmiParseError, match="well-formed"):
        parse_query_xml(text[:len(text) // 2])


@pytest.mark.parametrize("raw,expected", [
    ("00000000:2D:00.0", "0000:2d:00.0"),
    ("0000:0B:00.0", "0000:0b:00.0"),
    ("01:00.0", "0000:01:00.0"),
    ("00000001:C1:00.1", "0001:c1:00.1"),
    ("N/A", None),
    (None, None),
])
def test_normalize_bus_id(raw, expected):
    assert normalize_bus_id(raw) == expected


# --------------------------------------------------------------------------- topo -m

def test_topo_2x2080ti_pix_and_affinity():
    topo, warnings = parse(SMI_TOPO_2X2080TI_PIX, parse_topology)
    assert topo["devices"] == ["GPU0", "GPU1"]
    assert topo["matrix"] == {"GPU0": {"GPU0": "X", "GPU1": "PIX"}, "GPU1": {"GPU0": "PIX", "GPU1": "X"}}
    assert topo["cpu_affinity"] == {"GPU0": "24-47,72-95", "GPU1": "24-47,72-95"}
    assert topo["numa_affinity"] == {"GPU0": "1", "GPU1": "1"}
    assert topo["gpu_numa_id"] == {"GPU0": None, "GPU1": None}
    assert topo["nics"] == {}
    assert topo["legend"]["PIX"] == "Connection traversing at most a single PCIe bridge"
    assert warnings == []


def test_topo_4x3090_nvlink_pairs():
    topo, warnings = parse(SMI_TOPO_4X3090_NV4, parse_topology)
    matrix = topo["matrix"]
    assert matrix["GPU0"]["GPU2"] == matrix["GPU2"]["GPU0"] == "NV4"
    assert matrix["GPU1"]["GPU3"] == matrix["GPU3"]["GPU1"] == "NV4"
    assert matrix["GPU0"]["GPU1"] == matrix["GPU2"]["GPU3"] == "PHB"
    assert matrix["GPU0"]["GPU3"] == matrix["GPU1"]["GPU2"] == "NODE"
    assert all(matrix["GPU%d" % i]["GPU%d" % i] == "X" for i in range(4))
    assert set(topo["cpu_affinity"].values()) == {"0-23"}
    assert set(topo["numa_affinity"].values()) == {"0"}
    assert list(topo["gpu_numa_id"].values()) == [None] * 4
    assert topo["legend"]["NV#"] == "Connection traversing a bonded set of # NVLinks"
    assert warnings == []


def test_topo_8xh100_prompt_line_no_legend_no_gpu_numa_id():
    topo, warnings = parse(SMI_TOPO_8XH100_NV18, parse_topology)
    assert topo["devices"] == ["GPU%d" % i for i in range(8)]
    for row in topo["devices"]:
        for col in topo["devices"]:
            assert topo["matrix"][row][col] == ("X" if row == col else "NV18")
    assert [topo["cpu_affinity"]["GPU%d" % i] for i in (0, 3, 4, 7)] == [
        "0-51,104-155", "0-51,104-155", "52-103,156-207", "52-103,156-207"]
    assert [topo["numa_affinity"]["GPU%d" % i] for i in range(8)] == ["0"] * 4 + ["1"] * 4
    assert topo["gpu_numa_id"] == {} and topo["legend"] == {}
    assert warnings == []


def test_topo_l40s_tabs_and_ansi_escapes():
    text = read(SMI_TOPO_L40S_ANSI)
    assert "\x1b[4m" in text and "\t" in text  # the capture really has them
    topo, warnings = parse(SMI_TOPO_L40S_ANSI, parse_topology)
    assert topo["devices"] == ["GPU0"]
    assert topo["matrix"] == {"GPU0": {"GPU0": "X"}}
    assert topo["cpu_affinity"] == {"GPU0": "0-7"}
    assert topo["numa_affinity"] == {"GPU0": "0"}
    assert topo["gpu_numa_id"] == {"GPU0": None}
    assert len(topo["legend"]) == 7
    assert warnings == []


def test_topo_nic_rows_and_nic_legend():
    topo, warnings = parse(SMI_TOPO_NICS, parse_topology)
    assert topo["devices"] == ["GPU0", "GPU1", "NIC0", "NIC1"]
    assert topo["matrix"]["GPU0"] == {"GPU0": "X", "GPU1": "NV12", "NIC0": "PXB", "NIC1": "SYS"}
    assert topo["matrix"]["NIC1"] == {"GPU0": "SYS", "GPU1": "PXB", "NIC0": "SYS", "NIC1": "X"}
    assert topo["cpu_affinity"] == {"GPU0": "0-31,64-95", "GPU1": "32-63,96-127"}
    assert topo["numa_affinity"] == {"GPU0": "0", "GPU1": "1"}
    assert topo["nics"] == {"NIC0": "mlx5_0", "NIC1": "mlx5_1"}
    assert warnings == []


def test_topo_cut_short_keeps_what_is_there_and_warns():
    topo, warnings = parse(SMI_TOPO_CUT, parse_topology)
    assert topo["devices"] == ["GPU0", "GPU1", "GPU2", "GPU3"]
    assert topo["matrix"]["GPU0"]["GPU2"] == topo["matrix"]["GPU1"]["GPU3"] == "NV4"
    assert topo["matrix"]["GPU2"] == {"GPU0": "NV4", "GPU1": "NODE"}
    assert "GPU3" not in topo["matrix"] and "GPU2" not in topo["cpu_affinity"]
    assert any("row GPU2 has 2 of 4 cells" in w for w in warnings), warnings
    assert any("no row for GPU3" in w for w in warnings), warnings


def test_topo_without_header_warns_and_gives_nothing():
    warnings = []
    topo = parse_topology("Failed to initialize NVML: Unknown Error\n", warn=warnings.append)
    assert topo["devices"] == [] and topo["matrix"] == {}
    assert warnings and "no header" in warnings[0]


def test_strip_ansi_bold_and_underline():
    assert strip_ansi("\x1b[1m\x1b[4mGPU0\x1b[0m") == "GPU0"


# --------------------------------------------------------------------------- topo -p2p

def test_p2p_2x2080ti_not_supported():
    p2p, warnings = parse(SMI_P2P_2X2080TI_NS, parse_p2p)
    assert p2p["devices"] == ["GPU0", "GPU1"]
    assert p2p["matrix"] == {"GPU0": {"GPU0": "X", "GPU1": "NS"}, "GPU1": {"GPU0": "NS", "GPU1": "X"}}
    assert set(p2p["legend"]) == {"X", "OK", "CNS", "GNS", "TNS", "NS", "U"}
    assert "DR" not in p2p["legend"]
    assert warnings == []


# --------------------------------------------------------------------------- failures

def tool_text(name):
    """The capture without its shell prompt line(s): what nvidia-smi itself printed."""
    lines = read(name).splitlines(True)
    return "".join(line for line in lines if "nvidia-smi" not in line.split(":")[0] or "NVIDIA-SMI" in line)


# capture -> (error_kind, words the msg must contain)
FAILURE_CASES = {
    SMI_ERR_COULDNT_COMMUNICATE: ("driver_not_loaded", ["couldn't communicate with the NVIDIA driver",
                                                        "modprobe nvidia", "Secure Boot", "running kernel"]),
    SMI_ERR_MISMATCH_OLD: ("driver_library_mismatch", ["Driver/library version mismatch", "reboot",
                                                       "reload"]),
    SMI_ERR_MISMATCH_NVML_LINE: ("driver_library_mismatch", ["Driver/library version mismatch",
                                                             "NVML library version: 570.124", "reboot"]),
    SMI_ERR_UNKNOWN_CONTAINER: ("nvml_unknown_error", ["Failed to initialize NVML: Unknown Error",
                                                       "daemon-reload", "issue 48", "restart the container"]),
    SMI_ERR_DEVICE_HANDLE: ("nvml_unknown_error", ["Unable to determine the device handle for GPU 0000:0B:00.0"]),
    SMI_ERR_NO_DEVICES: ("no_devices", ["No devices were found", "nouveau", "lspci", "rm_init_adapter"]),
    SMI_ERR_DMESG_FALLEN_OFF: ("gpu_lost", ["0000:b3:00.0", "fallen off the bus", "Xid", "79", "reboot"]),
    SMI_ERR_DMESG_NOUVEAU: ("no_devices", ["No NVIDIA graphics adapter probed", "nouveau"]),
}


@pytest.mark.parametrize("name", sorted(FAILURE_CASES), ids=lambda name: name.rsplit(".", 1)[0])
def test_classify_every_failure_capture(name):
    kind, words = FAILURE_CASES[name]
    for rc, stdout, stderr in ((1, "", tool_text(name)), (1, tool_text(name), "")):
        result = classify_failure(rc, stdout, stderr)
        assert result is not None and result[0] == kind
        for word in words:
            assert word in result[1], (word, result[1])


def test_the_captured_nvidia_smi_line_wins_over_kernel_log_lines():
    stderr = tool_text(SMI_ERR_COULDNT_COMMUNICATE) + read(SMI_ERR_DMESG_NOUVEAU)
    assert classify_failure(9, "", stderr)[0] == "driver_not_loaded"


def test_csv_with_an_unknown_error_field_is_not_a_failure():
    # A field that reads [Unknown Error] in otherwise good output is not an NVML failure.
    assert classify_failure(0, tool_text(SMI_ERR_CSV_UNKNOWN_FIELD), "") is None


@pytest.mark.parametrize("name", sorted(XML_CASES) + [SMI_XML_ATTACHED_MISMATCH],
                         ids=lambda name: name.rsplit(".", 1)[0])
def test_good_xml_is_a_success(name):
    # The synthetic one has <power_draw>Unknown Error</power_draw>: XML lines are never matched.
    assert classify_failure(0, read(name), "") is None


@pytest.mark.parametrize("measured", [SMI_DEBIAN_FULL_DRIVER, SMI_DEBIAN_NO_RECOMMENDS, SMI_DEBIAN_SMI_ALONE],
                         ids=["full-driver-rc9", "no-recommends-rc17", "smi-alone-rc255"])
def test_classify_debian_test_bed_measurements(measured):
    rc, text = measured
    kind = {9: "driver_not_loaded", 17: "access_blocked", 255: "nvml_unknown_error"}[rc]
    result = classify_failure(rc, text + "\n", "")
    assert result[0] == kind and text in result[1]
    if kind == "access_blocked":
        assert "kernel module" in result[1] and "container" in result[1]


@pytest.mark.parametrize("line", [
    u"NVIDIA-SMI has failed because it couldn\u2019t communicate with the NVIDIA driver.",
    u"NVIDIA-SMI has failed because it couldn\u2018t communicate with the NVIDIA driver. Make sure that the",
    "NVIDIA-SMI has failed because it couldnt communicate with the NVIDIA driver.",
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
], ids=["right-quote", "left-quote", "no-apostrophe", "ascii"])
def test_driver_not_loaded_any_apostrophe(line):
    assert classify_failure(9, line, "")[0] == "driver_not_loaded"


@pytest.mark.parametrize("text,kind", [
    ("Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost.  Reboot the system to recover "
     "this GPU", "gpu_lost"),
    ("Unable to determine the device handle for GPU0000:41:00.0: Unknown Error", "nvml_unknown_error"),
    ("NVRM: Xid (PCI:0000:44:00): 79, pid=1234, GPU has fallen off the bus.", "gpu_lost"),
    ("NVIDIA-SMI couldn't find libnvidia-ml.so library in your system. Please make sure that the NVIDIA "
     "Display Driver is properly installed and present in your system.", "not_installed"),
])
def test_classify_other_known_wordings(text, kind):
    assert classify_failure(255, "", text)[0] == kind


def test_device_handle_line_fails_even_with_rc_0_and_good_xml():
    result = classify_failure(0, read(SMI_XML_RTX3090), tool_text(SMI_ERR_DEVICE_HANDLE))
    assert result[0] == "nvml_unknown_error"


@pytest.mark.parametrize("rc,kind", [(2, "invalid_argument"), (3, "not_supported"), (4, "insufficient_permissions"),
                                     (6, "not_found"), (8, "insufficient_power"), (9, "driver_not_loaded"),
                                     (10, "irq_issue"), (12, "not_installed"), (13, "function_not_found"),
                                     (14, "inforom_corrupted"), (15, "gpu_lost"), (16, "reset_required"),
                                     (17, "access_blocked"), (18, "driver_library_mismatch"),
                                     (255, "internal_error"), (5, "failed"), (1, "failed")])
def test_classify_by_exit_code_when_no_line_is_known(rc, kind):
    result = classify_failure(rc, "", "something new\n")
    assert result[0] == kind and "something new" in result[1]


def test_a_silent_documented_exit_code_quotes_the_manual():
    """rc 3 with no text at all: the manual's meaning, not "a message this module does not know"."""
    kind, msg = classify_failure(3, "", "")
    assert kind == "not_supported"
    assert "rc=3: the requested operation is not available on target device" in msg
    assert "printed nothing" in msg


def test_rc_9_in_another_language_is_still_driver_not_loaded():
    german = ("NVIDIA-SMI ist fehlgeschlagen, weil keine Kommunikation mit dem NVIDIA-Treiber m\u00f6glich war. "
              "Stellen Sie sicher, dass der neueste NVIDIA-Treiber installiert ist und l\u00e4uft.")
    assert classify_failure(9, german, "")[0] == "driver_not_loaded"


def test_a_crash_is_crashed_not_unknown():
    kind, msg = classify_failure(-11, "", "", signal="SIGSEGV")
    assert kind == "crashed" and "SIGSEGV" in msg and "reinstall" in msg


def test_rc_0_with_only_stderr_is_a_failure_quoting_stderr():
    kind, msg = classify_failure(0, "", "Unable to query the GPUs: something unexpected\n")
    assert kind == "unparsable" and "something unexpected" in msg
    assert classify_failure(0, "", "") is None


def test_classify_success_timeout_and_not_found():
    assert classify_failure(0, "GPU 0: Tesla T4\n", "") is None
    assert classify_failure(None, "", "", timed_out=True)[0] == "timeout"
    assert classify_failure(None, "", "", not_found=True)[0] == "not_installed"
    assert "install" in classify_failure(None, "", "", not_found=True)[1]


def test_every_kind_is_reachable():
    reached = {
        classify_failure(None, "", "", not_found=True)[0], classify_failure(None, "", "", timed_out=True)[0],
        classify_failure(3, "", "odd")[0], classify_failure(-6, "", "", signal="SIGABRT")[0],
        classify_failure(0, "", "only stderr")[0],
    }
    reached.update(classify_failure(rc, "", "")[0] for rc in list(range(1, 20)) + [255])
    reached.update(kind for kind, _words in FAILURE_CASES.values())
    reached.add(classify_failure(SMI_DEBIAN_NO_RECOMMENDS[0], "", SMI_DEBIAN_NO_RECOMMENDS[1])[0])
    assert reached == set(ERROR_KINDS)


# --------------------------------------------------------------------------- issue 12: bad input

LINK_WORDS = {"X", "PIX", "PXB", "PHB", "NODE", "SYS", "NV4"}


def test_topo_row_missing_a_cell_puts_no_affinity_into_the_matrix():
    """Before: GPU1->GPU3 read '0-23' (the CPU affinity slid into the matrix), GPU1->GPU0 'X'."""
    topo, warnings = parse(SMI_TOPO_MISSING_CELL, parse_topology)
    assert topo["matrix"]["GPU1"] == {"GPU1": "X", "GPU2": "NODE", "GPU3": "NV4"}  # the X one column early
    assert all(value in LINK_WORDS for row in topo["matrix"].values() for value in row.values())
    assert topo["matrix"]["GPU0"] == {"GPU0": "X", "GPU1": "PHB", "GPU2": "NV4", "GPU3": "NODE"}
    assert topo["cpu_affinity"]["GPU1"] == "0-23" and topo["numa_affinity"]["GPU1"] == "0"
    assert topo["gpu_numa_id"]["GPU1"] is None
    assert warnings == ["topo -m: row GPU1 has 3 of 4 cells before its affinity columns (a cell is missing); "
                        "kept only the cells whose place is certain (GPU1, GPU2, GPU3)"]


def test_topo_row_missing_a_cell_after_its_x():
    text = read(SMI_TOPO_4X3090_NV4).replace("GPU1    PHB      X      NODE    NV4     0-23",
                                             "GPU1    PHB      X      NODE    0-23")
    warnings = []
    topo = parse_topology(text, warn=warnings.append)
    assert topo["matrix"]["GPU1"] == {"GPU0": "PHB", "GPU1": "X"}
    assert topo["cpu_affinity"]["GPU1"] == "0-23"
    assert "kept only the cells whose place is certain (GPU0, GPU1)" in warnings[0]


def test_topo_row_missing_two_cells_around_its_x_keeps_none():
    text = read(SMI_TOPO_4X3090_NV4).replace("GPU1    PHB      X      NODE    NV4     0-23", "GPU1     X      NODE    0-23")
    # 2 cells missing, X one column early: one gap before X, one after - no place is certain
    warnings = []
    topo = parse_topology(text, warn=warnings.append)
    assert topo["matrix"]["GPU1"] == {}
    assert warnings[0].endswith("a cell is missing); kept none of them: no cell's place is certain")


def test_topo_nic_row_missing_a_cell_in_the_middle_of_the_matrix():
    """A NIC row has no affinity columns: a short NIC row that is not the last line lost a cell."""
    text = read(SMI_TOPO_NICS).replace("NIC0\tPXB\tSYS\t X \tSYS", "NIC0\tPXB\t X \tSYS")
    warnings = []
    topo = parse_topology(text, warn=warnings.append)
    # its X one column early: the gap is before it, the cells from the X on are in place
    assert topo["matrix"]["NIC0"] == {"NIC0": "X", "NIC1": "SYS"}
    assert topo["matrix"]["NIC1"] == {"GPU0": "SYS", "GPU1": "PXB", "NIC0": "SYS", "NIC1": "X"}
    assert any("row NIC0 has 3 of 4 cells" in warning for warning in warnings)


def test_query_xml_two_gpus_at_one_bus_id_warn():
    result, warnings = parse(SMI_XML_SAME_BUS_ID, parse_query_xml)
    assert [gpu["pci_bus_id"] for gpu in result["gpus"]] == ["0000:01:00.0", "0000:01:00.0"]
    assert warnings == ["GPUs 0 and 1 all have the PCI bus id 0000:01:00.0: the output is inconsistent, a bus id "
                        "cannot name one of them"]
    assert list(duplicates(result["gpus"], "pci_bus_id")) == ["0000:01:00.0"]
    assert duplicates(parse(SMI_XML_DUAL_2080, parse_query_xml)[0]["gpus"], "pci_bus_id") == {}
