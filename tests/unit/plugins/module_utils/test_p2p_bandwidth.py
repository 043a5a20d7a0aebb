"""Tests for the pure p2pBandwidthLatencyTest / nvbandwidth parsers (plugins/module_utils/_p2p_bandwidth.py).

Every F_ (p2pBandwidthLatencyTest) and G_ (nvbandwidth) capture in tests/unit/fixtures/p2p is
read here, and the key figures its ``.source`` note states are asserted, keyed by the
capture's name. Edge cases (empty, garbage, cut short, glued numbers) are built inline.
"""
import glob
import os
import random

import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils._p2p_bandwidth import (
    LOG_LIMIT,
    NVBW_TOOL,
    P2P_MATRIX_KEYS,
    P2P_TOOL,
    detect_tool,
    log_tail,
    parse_p2p_log,
    summarize,
)
from captures import (
    NCCL_2X2080TI_ALLTOALL_NA,
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
)

ALL = [P2P_2X2080TI_CANNOT, P2P_POWER9_POWER8, P2P_4X3090_CANNOT, P2P_8XA100_WRITES, P2P_8X4090_STOCK,
       P2P_6X4090_READS, NVBW_8XA100_ASSERT, NVBW_README_WRITE_CE, NVBW_1X3050_LATENCY_NS]
RUN_KEYS = {"tool", "device_count", "devices", "p2p_access", "matrices", "sums", "errors", "testcases",
            "versions", "units", "refused", "incomplete", "passed"}


def ids(name):
    return name.rsplit(".", 1)[0]


def read(name):
    with open(fixture_path("p2p", name), "rb") as handle:
        return handle.read().decode("utf-8")


def parse(text):
    warnings = []
    result = parse_p2p_log(text, warn=warnings.append)
    return result, warnings


def identity(size):
    return [[i == j for j in range(size)] for i in range(size)]


# --------------------------------------------------------------------------- the captures

# Key figures of each capture's .source. "rows": (matrix, row index) -> the row as printed.
CASES = {
    P2P_2X2080TI_CANNOT: dict(
        tool=P2P_TOOL, device_count=2, p2p_access=identity(2), passed=True, errors=[], runs=1,
        devices=[dict(index=0, name="NVIDIA GeForce RTX 2080 Ti", pci_bus_id="b4", pci_address="0000:b4:00.0"),
                 dict(index=1, name="NVIDIA GeForce RTX 2080 Ti", pci_bus_id="b5", pci_address="0000:b5:00.0")],
        keys=["unidirectional_p2p_disabled_gbps", "unidirectional_p2p_enabled_gbps", "bidirectional_p2p_disabled_gbps",
              "bidirectional_p2p_enabled_gbps", "latency_gpu_p2p_disabled_us", "latency_cpu_p2p_disabled_us",
              "latency_gpu_p2p_enabled_us", "latency_cpu_p2p_enabled_us"],
        rows={("unidirectional_p2p_enabled_gbps", 0): [538.62, 5.72],
              ("bidirectional_p2p_enabled_gbps", 0): [533.34, 6.10],
              ("latency_gpu_p2p_enabled_us", 0): [1.32, 14.99],
              ("latency_cpu_p2p_enabled_us", 0): [3.36, 10.34]}),
    P2P_POWER9_POWER8: dict(
        # Two runs: the top level is the P9 one (first with results); P8 is runs[1].
        tool=P2P_TOOL, device_count=4, p2p_access=[[True] * 4] * 4, passed=True, errors=[], runs=2, devices=[],
        keys=["unidirectional_p2p_enabled_gbps", "bidirectional_p2p_enabled_gbps"],
        rows={("unidirectional_p2p_enabled_gbps", 0): [752.60, 68.46, 29.10, 28.97]}),
    P2P_4X3090_CANNOT: dict(
        tool=P2P_TOOL, device_count=4, p2p_access=identity(4), passed=True, errors=[], runs=1,
        devices=[dict(index=0, name="GeForce RTX 3090", pci_bus_id="19", pci_address="0000:19:00.0"),
                 dict(index=1, name="GeForce RTX 3090", pci_bus_id="53", pci_address="0000:53:00.0"),
                 dict(index=2, name="GeForce RTX 3090", pci_bus_id="8d", pci_address="0000:8d:00.0"),
                 dict(index=3, name="GeForce RTX 3090", pci_bus_id="c7", pci_address="0000:c7:00.0")],
        keys=["unidirectional_p2p_disabled_gbps", "unidirectional_p2p_enabled_gbps", "bidirectional_p2p_disabled_gbps",
              "bidirectional_p2p_enabled_gbps", "latency_gpu_p2p_disabled_us", "latency_cpu_p2p_disabled_us",
              "latency_gpu_p2p_enabled_us", "latency_cpu_p2p_enabled_us"],
        rows={("unidirectional_p2p_enabled_gbps", 0): [832.89, 5.90, 5.90, 5.90],
              ("bidirectional_p2p_enabled_gbps", 0): [836.90, 8.75, 8.75, 8.76],
              ("latency_gpu_p2p_enabled_us", 0): [1.57, 18.50, 10.26, 10.26]}),
    P2P_8XA100_WRITES: dict(
        tool=P2P_TOOL, device_count=8, p2p_access=None, passed=True, errors=[], runs=1, devices=[],
        keys=["unidirectional_p2p_enabled_gbps"],
        rows={("unidirectional_p2p_enabled_gbps", 0): [1581.48, 274.55, 275.92, 272.02, 275.35, 275.28, 273.62, 273.20],
              ("unidirectional_p2p_enabled_gbps", 3): [273.25, 274.87, 272.12, 1545.50, 274.38, 274.37, 274.22, 274.38]}),
    P2P_8X4090_STOCK: dict(
        tool=P2P_TOOL, device_count=8, p2p_access=identity(8), passed=True, errors=[], runs=1, devices=[],
        keys=["unidirectional_p2p_disabled_gbps", "unidirectional_p2p_enabled_gbps", "bidirectional_p2p_disabled_gbps",
              "bidirectional_p2p_enabled_gbps", "latency_gpu_p2p_disabled_us", "latency_cpu_p2p_disabled_us",
              "latency_gpu_p2p_enabled_us", "latency_cpu_p2p_enabled_us"],
        rows={("unidirectional_p2p_enabled_gbps", 0): [910.02, 18.83, 19.55, 20.27, 18.76, 19.36, 19.26, 19.83],
              ("bidirectional_p2p_enabled_gbps", 0): [917.23, 20.86, 21.49, 21.56, 20.63, 20.99, 21.05, 21.13],
              ("latency_gpu_p2p_enabled_us", 0): [1.54, 11.67, 11.75, 20.27, 14.49, 15.77, 16.95, 15.91],
              ("latency_cpu_p2p_enabled_us", 7): [9.89, 9.66, 9.85, 9.85, 10.81, 10.62, 10.68, 3.41]}),
    P2P_6X4090_READS: dict(
        # bidirectional_p2p_disabled_gbps has its heading and header only: left out.
        tool=P2P_TOOL, device_count=6, p2p_access=None, passed=True, errors=[], runs=1, devices=[],
        keys=["unidirectional_p2p_disabled_gbps", "unidirectional_p2p_enabled_gbps",
              "unidirectional_p2p_enabled_reads_gbps"],
        rows={("unidirectional_p2p_disabled_gbps", 0): [911.08, 20.10, 22.16, 22.14, 22.33, 22.37],
              ("unidirectional_p2p_enabled_gbps", 0): [912.68, 9.90, 9.90, 9.90, 9.90, 9.90],
              ("unidirectional_p2p_enabled_reads_gbps", 0): [911.08, 9.90, 10.01, 10.22, 9.64, 10.22],
              ("unidirectional_p2p_enabled_reads_gbps", 5): [9.95, 9.95, 10.46, 9.95, 9.95, 921.29]}),
    NVBW_8XA100_ASSERT: dict(
        tool=NVBW_TOOL, device_count=8, p2p_access=None, passed=False, runs=1, keys=[], rows={},
        devices=[dict(index=0, name="NVIDIA A100-SXM4-80GB", pci_bus_id="00000000:34:00", pci_address="0000:34:00.0"),
                 dict(index=4, name="NVIDIA A100-SXM4-80GB", pci_bus_id="00000000:9b:00", pci_address="0000:9b:00.0"),
                 dict(index=7, name="NVIDIA A100-SXM4-80GB", pci_bus_id="00000000:9e:00", pci_address="0000:9e:00.0")],
        errors=["Invalid value when checking the pattern at 0x70a640000000",
                "Current offset : 11136",
                "ASSERT in expression h_errorFlag == 0 in void memcmpPatternHelper(CUstream, CUdeviceptr, long long "
                "unsigned int, unsigned int, CompareKernelFunc, std::shared_ptr<NodeHelper>)() : "
                "/mnt/project/cuda_related/nvbandwidth/memcpy.cpp:165"],
        testcases=["device_to_device_memcpy_read_ce"], sums={},
        versions={"tool": "v0.7", "git": "v0.7", "cuda_runtime": "12040", "cuda_driver": "12040", "driver": "550.127.08"}),
    NVBW_README_WRITE_CE: dict(
        tool=NVBW_TOOL, device_count=8, p2p_access=None, passed=True, errors=[], runs=1, devices=[],
        keys=["device_to_device_memcpy_write_ce"], testcases=["device_to_device_memcpy_write_ce"], sums={}, versions={},
        rows={("device_to_device_memcpy_write_ce", 0): [0.00, 276.07, 276.36, 276.14, 276.29, 276.48, 276.55, 276.33],
              ("device_to_device_memcpy_write_ce", 7): [276.12, 276.45, 276.12, 276.36, 276.00, 276.57, 276.45, 0.00]}),
    NVBW_1X3050_LATENCY_NS: dict(
        tool=NVBW_TOOL, device_count=1, p2p_access=None, passed=True, errors=[], runs=1,
        devices=[dict(index=0, name="NVIDIA GeForce RTX 3050 Laptop GPU", pci_bus_id="00000000:01:00",
                      pci_address="0000:01:00.0")],
        keys=["host_to_device_memcpy_ce", "device_to_host_memcpy_ce", "host_to_device_bidirectional_memcpy_ce",
              "device_to_host_bidirectional_memcpy_ce", "all_to_host_memcpy_ce", "all_to_host_bidirectional_memcpy_ce",
              "host_to_all_memcpy_ce", "host_to_all_bidirectional_memcpy_ce", "host_to_device_memcpy_sm",
              "device_to_host_memcpy_sm", "host_to_device_bidirectional_memcpy_sm",
              "device_to_host_bidirectional_memcpy_sm", "all_to_host_memcpy_sm", "all_to_host_bidirectional_memcpy_sm",
              "host_to_all_memcpy_sm", "host_to_all_bidirectional_memcpy_sm", "host_device_latency_sm",
              "device_local_copy"],
        rows={("host_to_device_memcpy_ce", 0): [12.98], ("host_device_latency_sm", 0): [613.22],
              ("device_local_copy", 0): [84.33]}),
}


def test_every_capture_has_a_case_and_a_source():
    here = sorted(os.path.basename(path) for path in glob.glob(fixture_path("p2p", "*.txt"))
                  if not os.path.basename(path).startswith("synthetic_"))
    assert here == sorted(ALL) == sorted(CASES)
    for name in ALL:
        assert os.path.isfile(fixture_path("p2p", ids(name) + ".source")), name


@pytest.mark.parametrize("name", ALL, ids=ids)
def test_detect_tool(name):
    assert detect_tool(read(name)) == CASES[name]["tool"]


@pytest.mark.parametrize("name", ALL, ids=ids)
def test_key_figures(name):
    result, _warnings = parse(read(name))
    want = CASES[name]
    for key in ("tool", "device_count", "p2p_access", "passed", "errors"):
        assert result[key] == want[key], key
    assert len(result["runs"]) == want["runs"]
    assert list(result["matrices"]) == want["keys"]
    for (key, row), values in want["rows"].items():
        assert result["matrices"][key][row] == values, (key, row)
    if want["devices"]:
        assert len(result["devices"]) == want["device_count"]
        by_index = {device["index"]: device for device in result["devices"]}
        for device in want["devices"]:
            for field, value in device.items():
                assert by_index[device["index"]][field] == value, (device["index"], field)
    else:
        assert result["devices"] == []
    for key in ("testcases", "sums", "versions"):
        if key in want:
            assert result[key] == want[key], key


@pytest.mark.parametrize("name", ALL, ids=ids)
def test_shape_and_types(name):
    result, _warnings = parse(read(name))
    assert set(result) == RUN_KEYS | {"runs", "unrecognized"}
    assert result["unrecognized"] is None and result["refused"] == [] and result["incomplete"] == []
    assert set(result["units"]) == set(result["matrices"]) | set(result["sums"])
    for run in result["runs"]:
        assert set(run) == RUN_KEYS
    for key, rows in result["matrices"].items():
        if result["tool"] == P2P_TOOL:
            assert key in P2P_MATRIX_KEYS
        for row in rows:
            assert all(value is None or isinstance(value, float) for value in row)
    if result["p2p_access"] is not None:
        assert all(isinstance(value, bool) for row in result["p2p_access"] for value in row)
    assert all(isinstance(error, str) for error in result["errors"])


@pytest.mark.parametrize("name", [P2P_2X2080TI_CANNOT, P2P_4X3090_CANNOT, P2P_8X4090_STOCK, P2P_8XA100_WRITES,
                                  NVBW_8XA100_ASSERT, NVBW_README_WRITE_CE], ids=ids)
def test_complete_square_matrices_and_no_warnings(name):
    result, warnings = parse(read(name))
    assert warnings == []
    size = result["device_count"]
    for key, rows in result["matrices"].items():
        assert len(rows) == size and all(len(row) == size for row in rows), key


def test_power9_power8_two_runs_from_script_comments():
    result, warnings = parse(read(P2P_POWER9_POWER8))
    assert warnings == []  # '# P8 example' and the like are comments, skipped quietly
    p9, p8 = result["runs"]
    assert p9["matrices"] == {key: result["matrices"][key] for key in result["matrices"]}
    assert p9["p2p_access"] == [[True] * 4] * 4
    assert p9["matrices"]["bidirectional_p2p_enabled_gbps"][0] == [766.68, 136.01, 34.43, 34.16]
    # P8: NVLink only inside the pairs 0-1 and 2-3
    assert p8["p2p_access"] == [[True, True, False, False], [True, True, False, False],
                                [False, False, True, True], [False, False, True, True]]
    assert p8["matrices"]["unidirectional_p2p_enabled_gbps"][0] == [507.22, 35.35, 20.27, 20.31]
    assert p8["matrices"]["bidirectional_p2p_enabled_gbps"][0] == [519.38, 70.53, 30.36, 30.37]
    assert p8["matrices"]["unidirectional_p2p_enabled_gbps"][3] == [24.55, 24.92, 35.34, 509.52]
    assert p8["device_count"] == 4 and p8["passed"] is True


def test_6x4090_p2p_enabled_slower_than_disabled():
    result, warnings = parse(read(P2P_6X4090_READS))
    disabled = result["matrices"]["unidirectional_p2p_disabled_gbps"]
    for key in ("unidirectional_p2p_enabled_gbps", "unidirectional_p2p_enabled_reads_gbps"):
        enabled = result["matrices"][key]
        for i in range(6):
            assert 911 <= enabled[i][i] <= 923
            for j in range(6):
                if i != j:
                    assert 9.6 <= enabled[i][j] <= 10.5 < 20 <= disabled[i][j] <= 22.5
    assert warnings == ["bidirectional_p2p_disabled_gbps has a heading but no rows (log cut short?); left out"]


def test_8xa100_off_diagonal_range():
    rows = parse(read(P2P_8XA100_WRITES))[0]["matrices"]["unidirectional_p2p_enabled_gbps"]
    diagonal = [rows[i][i] for i in range(8)]
    assert min(diagonal) == 1545.50 and max(diagonal) == 1594.39
    off = [rows[i][j] for i in range(8) for j in range(8) if i != j]
    assert 270 < min(off) and max(off) < 277


def test_access_lines_build_p2p_access_without_the_matrix():
    text = read(P2P_4X3090_CANNOT)
    without_matrix = text[:text.index("P2P Connectivity Matrix")] + text[text.index("Unidirectional P2P=Disabled"):]
    result, warnings = parse(without_matrix)
    assert warnings == []
    assert result["p2p_access"] == identity(4)


# --------------------------------------------------------------------------- edge cases

@pytest.mark.parametrize("text", [None, "", "\n\n", b"", "   \t  \n"], ids=["none", "empty", "newlines", "bytes", "blank"])
def test_empty(text):
    result, warnings = parse(text)
    assert result["tool"] is None and result["device_count"] is None and result["p2p_access"] is None
    assert result["matrices"] == {} and result["sums"] == {} and result["errors"] == [] and result["devices"] == []
    assert result["passed"] is False and len(result["runs"]) == 1
    assert warnings == []
    assert detect_tool(text) is None


def test_garbage_is_refused_and_does_not_raise():
    text = "hello world\n\x00\x01binary\xff junk\n12 apples\n= = =\nD\\D\n"
    result, warnings = parse(text)
    assert result["tool"] is None and result["passed"] is False and result["matrices"] == {}
    assert result["unrecognized"].startswith("it has none of their lines")
    assert warnings == []  # nothing of it is read, so no line-by-line warnings


def test_random_input_never_raises():
    rng = random.Random(1234)
    pieces = read(P2P_2X2080TI_CANNOT).splitlines() + read(NVBW_8XA100_ASSERT).splitlines() + \
        ["SUM x 1", "Running a_b.", "0 1 2", "0 1.00 N/A 3.33x", "D\\D", "GPU 0 1", "   0 1581.481581.48", "#", "9" * 400]
    for _round in range(300):
        lines = [rng.choice(pieces) for _line in range(rng.randint(0, 30))]
        if rng.random() < 0.3:
            lines = [line[:rng.randint(0, len(line))] for line in lines]
        parse_p2p_log("\n".join(lines))
        parse_p2p_log("\n".join(lines), warn=lambda msg: None)


def test_partial_matrix_cut_mid_row():
    text = read(P2P_2X2080TI_CANNOT)
    cut = text[:text.index("     1  13.63")] + "     1  13.6"
    result, _warnings = parse(cut)
    rows = result["matrices"]["latency_gpu_p2p_enabled_us"]
    assert rows == [[1.32, 14.99], [13.6]]
    assert "latency_cpu_p2p_enabled_us" not in result["matrices"]
    # Before: passed. A matrix cut in the middle is not a complete result.
    assert result["passed"] is False and result["device_count"] == 2
    assert result["incomplete"] == ["latency_gpu_p2p_enabled_us row 1 has 1 of 2 values"]


def test_glued_numbers_are_split():
    text = ("Running device_to_device_memcpy_read_ce.\n"
            "memcpy CE GPU(row) -> GPU(column) bandwidth (GB/s)\n"
            "           0         1\n"
            " 0       N/A2494.51364.13\n"
            " 1   2494.51 364.13\n"
            "\nSUM device_to_device_memcpy_read_ce 1234.56\n")
    result, warnings = parse(text)
    assert result["matrices"]["device_to_device_memcpy_read_ce"] == [[None, 2494.51, 364.13], [2494.51, 364.13]]
    assert any("3 values for 2 columns" in warning for warning in warnings)
    assert result["sums"] == {"device_to_device_memcpy_read_ce": 1234.56}
    assert result["tool"] == NVBW_TOOL


def test_nvbandwidth_full_run_with_sums_and_na():
    text = ("nvbandwidth Version: v0.8\nBuilt from Git version: \n\n"
            "NOTE: This tool reports current measured bandwidth on your system.\n"
            "Additional system-specific tuning may be required to achieve maximal peak bandwidth.\n\n"
            "CUDA Runtime Version: 12080\nCUDA Driver Version: 12080\nDriver Version: 570.124.06\n\n"
            "Device 0: NVIDIA H100 80GB HBM3 (00000000:19:00)\nDevice 1: NVIDIA H100 80GB HBM3 (00000000:3b:00)\n\n"
            "Running host_to_device_memcpy_ce.\n"
            "memcpy CE CPU(row) -> GPU(column) bandwidth (GB/s)\n"
            "           0         1\n"
            " 0     55.64     55.65\n\n"
            "SUM host_to_device_memcpy_ce 111.29\n\n"
            "Running device_to_device_memcpy_read_ce.\n"
            "memcpy CE GPU(row) <- GPU(column) bandwidth (GB/s)\n"
            "           0         1\n"
            " 0       N/A    389.26\n"
            " 1    389.55       N/A\n\n"
            "SUM device_to_device_memcpy_read_ce 778.81\n\n"
            "NOTE: The reported results may not reflect the full capabilities of the platform.\n"
            "Performance can vary with software drivers, hardware clocks, and system topology.\n")
    result, warnings = parse(text)
    assert warnings == []
    assert result["tool"] == NVBW_TOOL and result["device_count"] == 2 and result["passed"] is True
    assert result["matrices"] == {"host_to_device_memcpy_ce": [[55.64, 55.65]],
                                  "device_to_device_memcpy_read_ce": [[None, 389.26], [389.55, None]]}
    assert result["sums"] == {"host_to_device_memcpy_ce": 111.29, "device_to_device_memcpy_read_ce": 778.81}
    assert result["testcases"] == ["host_to_device_memcpy_ce", "device_to_device_memcpy_read_ce"]
    assert result["versions"] == {"tool": "v0.8", "git": "", "cuda_runtime": "12080", "cuda_driver": "12080",
                                  "driver": "570.124.06"}
    assert result["devices"][1] == {"index": 1, "name": "NVIDIA H100 80GB HBM3", "pci_bus_id": "00000000:3b:00",
                                    "pci_address": "0000:3b:00.0"}


def test_nvbandwidth_sum_names_a_matrix_without_running_line():
    text = ("memcpy CE GPU(row) <- GPU(column) bandwidth (GB/s)\n"
            "           0         1\n"
            " 0       N/A    100.00\n"
            " 1    100.50       N/A\n"
            "SUM device_to_device_memcpy_read_ce 200.50\n")
    result, _warnings = parse(text)
    assert result["matrices"] == {"device_to_device_memcpy_read_ce": [[None, 100.0], [100.5, None]]}
    assert result["testcases"] == ["device_to_device_memcpy_read_ce"]


def test_p2p_errors_and_access_lines_without_matrix():
    text = ("[P2P (Peer-to-Peer) GPU Bandwidth Latency Test]\n"
            "Device: 0, NVIDIA GeForce RTX 4090, pciBusID: 1, pciDeviceID: 0, pciDomainID:0\n"
            "Device: 1, NVIDIA GeForce RTX 4090, pciBusID: 2, pciDeviceID: 0, pciDomainID:0\n"
            "Device: 2, NVIDIA GeForce RTX 4090, pciBusID: 41, pciDeviceID: 0, pciDomainID:0\n"
            "Device=0 CAN Access Peer Device=1\n"
            "Device=1 CAN Access Peer Device=0\n"
            "Device=0 CANNOT Access Peer Device=2\n"
            "CUDA error at p2pBandwidthLatencyTest.cu:178 code=217(cudaErrorPeerAccessUnsupported) "
            "\"cudaDeviceEnablePeerAccess(j, 0)\"\n")
    result, warnings = parse(text)
    assert warnings == []
    assert result["tool"] == P2P_TOOL and result["device_count"] == 3
    assert result["devices"][0]["pci_address"] == "0000:01:00.0"
    assert result["p2p_access"] == [[True, True, False], [True, True, None], [None, None, True]]
    assert len(result["errors"]) == 1 and "cudaErrorPeerAccessUnsupported" in result["errors"][0]
    assert result["passed"] is False


def test_access_line_disagreeing_with_matrix_warns():
    text = ("Device=0 CAN Access Peer Device=1\n"
            "P2P Connectivity Matrix\n     D\\D     0     1\n     0       1     0\n     1       0     1\n")
    result, warnings = parse(text)
    assert result["p2p_access"] == identity(2)
    assert any("disagrees" in warning for warning in warnings)


def test_p2p_read_latency_and_old_latency_layout():
    text = ("P2P=Enabled Latency (P2P Reads) Matrix (us)\n"
            "   GPU     0      1\n     0   1.50   2.50\n     1   2.40   1.40\n\n"
            "   CPU     0      1\n     0   3.00   4.00\n     1   4.10   3.10\n"
            "P2P=Disabled Latency Matrix (us)\n"
            "   D\\D     0      1\n     0   1.11  10.00\n     1  10.10   1.12\n"
            "Bidirectional P2P=Enabled Bandwidth (P2P Reads) Matrix (GB/s)\n"
            "   D\\D     0      1\n     0 500.00  20.00\n")
    result, warnings = parse(text)
    assert warnings == []
    assert result["matrices"] == {
        "latency_gpu_p2p_enabled_reads_us": [[1.5, 2.5], [2.4, 1.4]],
        "latency_cpu_p2p_enabled_reads_us": [[3.0, 4.0], [4.1, 3.1]],
        "latency_gpu_p2p_disabled_us": [[1.11, 10.0], [10.1, 1.12]],
        "bidirectional_p2p_enabled_reads_gbps": [[500.0, 20.0]],
    }


def test_unknown_heading_rows_skipped_with_warning():
    text = ("Unidirectional P2P=Enabled Bandwidth (P2P Atomics) Matrix (GB/s)\n"
            "   D\\D     0      1\n     0 500.00  20.00\n")
    result, warnings = parse(text)
    assert result["matrices"] == {} and result["tool"] == P2P_TOOL
    assert any("unknown matrix heading" in warning for warning in warnings)


def test_rows_out_of_order_and_crlf_and_ansi():
    text = ("\x1b[1mUnidirectional P2P=Disabled Bandwidth Matrix (GB/s)\x1b[0m\r\n"
            "   D\\D     0      1      2\r\n"
            "     0 100.00   1.00   2.00\r\n"
            "     2   3.00   4.00 100.00\r\n")
    result, warnings = parse(text)
    assert result["matrices"]["unidirectional_p2p_disabled_gbps"] == [[100.0, 1.0, 2.0], None, [3.0, 4.0, 100.0]]
    assert len(warnings) == 1 and "jumps to row 2" in warnings[0]
    assert result["device_count"] == 3


def test_second_run_in_appended_log_starts_a_new_run():
    text = read(P2P_2X2080TI_CANNOT) + read(P2P_2X2080TI_CANNOT).replace("538.62", "111.11")
    result, _warnings = parse(text)
    assert len(result["runs"]) == 2
    assert result["matrices"]["unidirectional_p2p_enabled_gbps"][0] == [538.62, 5.72]
    assert result["runs"][1]["matrices"]["unidirectional_p2p_enabled_gbps"][0] == [111.11, 5.72]


def test_error_in_later_run_fails_the_whole():
    text = read(P2P_2X2080TI_CANNOT) + "[P2P (Peer-to-Peer) GPU Bandwidth Latency Test]\nCUDA error at x.cu:1 code=2\n"
    result, _warnings = parse(text)
    assert result["runs"][0]["passed"] is True
    assert result["passed"] is False and result["errors"] == ["CUDA error at x.cu:1 code=2"]


def test_detect_tool_first_wins_and_prompts():
    assert detect_tool("$ ./nvbandwidth -t 0\n") == NVBW_TOOL
    assert detect_tool("user@h:~$ ./p2pBandwidthLatencyTest\nnvbandwidth Version: v0.7\n") == P2P_TOOL
    assert detect_tool("SUM device_to_host_memcpy_ce 55.00\n") == NVBW_TOOL
    assert detect_tool("P2P Connectivity Matrix\n") == P2P_TOOL
    assert detect_tool("nothing here\n") is None


# --------------------------------------------------------------------------- helpers

def test_log_tail():
    assert log_tail("abc") == "abc" and log_tail(None) == ""
    long_text = "x" * (LOG_LIMIT + 10) + "\u00e9"
    tail = log_tail(long_text)
    assert len(tail.encode("utf-8")) <= LOG_LIMIT and tail.endswith("\u00e9")


@pytest.mark.parametrize("name, words", [
    (P2P_2X2080TI_CANNOT, ["passed", "2 GPUs", "8 matrices", "P2P access on 0 of 2 GPU pairs"]),
    (NVBW_8XA100_ASSERT, ["nvbandwidth reports an error", "Invalid value", "2 more"]),
    (NVBW_README_WRITE_CE, ["nvbandwidth passed", "8 GPUs", "1 matrix"]),
], ids=lambda value: ids(value) if isinstance(value, str) else None)
def test_summarize(name, words):
    msg = summarize(parse(read(name))[0])
    for word in words:
        assert word in msg, msg


def test_summarize_special_cases():
    assert summarize(parse("")[0]) == "Not p2pBandwidthLatencyTest or nvbandwidth output: the text is empty."
    assert "within 5 s" in summarize(parse("")[0], timed_out=True, timeout=5)
    assert "holds no result" in summarize(parse("P2P Connectivity Matrix\n")[0])
    assert "status 3" in summarize(parse(read(NVBW_README_WRITE_CE))[0], rc=3)


# --------------------------------------------------------------------------- issue 12: bad input


def test_a_log_cut_in_the_middle_of_a_matrix_does_not_pass():
    """Before: passed (every matrix it had was kept, the cut one too)."""
    result, warnings = parse(read(P2P_CUT_MID_MATRIX))
    assert warnings == []
    rows = [[836.90, 8.75, 8.75, 8.76], [8.75, 831.05, 8.74, 8.77]]
    assert result["matrices"]["bidirectional_p2p_enabled_gbps"] == rows
    assert result["incomplete"] == ["bidirectional_p2p_enabled_gbps has 2 of 4 rows"]
    assert result["passed"] is False
    assert summarize(result).startswith("p2pBandwidthLatencyTest output is cut short in the middle of a matrix: "
                                        "bidirectional_p2p_enabled_gbps has 2 of 4 rows (4 GPUs, 4 matrices")


def test_an_nccl_tests_log_is_refused_naming_what_it_is():
    """Before: 'nvbandwidth passed: 1 GPU, 1 matrix' (its '(GB/s)' column header read as a matrix title)."""
    with open(fixture_path("nccl_tests", NCCL_2X2080TI_ALLTOALL_NA), encoding="utf-8") as handle:
        result, warnings = parse(handle.read())
    assert result["tool"] is None and result["matrices"] == {} and result["passed"] is False
    assert result["unrecognized"] == ("it looks like nccl-tests output (# nThread, # Rank, # Avg bus bandwidth lines): "
                                      "give it to aiserver.gpu.nccl_test")
    assert warnings == []
    assert summarize(result) == "Not p2pBandwidthLatencyTest or nvbandwidth output: %s." % result["unrecognized"]


@pytest.mark.parametrize("text, words", [
    ("", "the text is empty"),
    ('<?xml version="1.0" ?>\n<nvidia_smi_log>\n</nvidia_smi_log>\n', "nvidia-smi -q -x XML"),
    ("\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\nGPU0\t X \tPIX\t0-7\t0\n", "nvidia-smi topo -m output"),
    ("[CUDA Bandwidth Test] - Starting...\n", "bandwidthTest"),
    ("0000:00:00.0 Host bridge: Intel Corporation Device 1234\n", "lspci output"),
], ids=["empty", "smi-xml", "topo", "bandwidthTest", "lspci"])
def test_other_texts_are_named(text, words):
    result, warnings = parse(text)
    assert words in result["unrecognized"] and result["passed"] is False and warnings == []


def test_an_abort_glued_to_a_partial_line_is_split_and_an_error():
    result, warnings = parse(read(P2P_ABORTED_GLUED))
    assert result["errors"] == ["Aborted (core dumped) (the test died while printing 'P2')"]
    assert warnings == ["line 39: 'P2' is a line cut short by the crash that followed (Aborted (core dumped))"]
    assert "latency_gpu_p2p_enabled_us" not in result["matrices"] and result["passed"] is False
    assert result["matrices"]["latency_cpu_p2p_disabled_us"] == [[3.55, 11.08], [10.48, 3.32]]


def test_an_abort_glued_to_a_partial_row_keeps_the_row_and_says_it_is_cut():
    text = read(P2P_2X2080TI_CANNOT)
    text = text[:text.index("     1  13.63")] + "     1  13.6Segmentation fault (core dumped)\n"
    result, _warnings = parse(text)
    assert result["errors"] == ["Segmentation fault (core dumped) (the test died while printing '1  13.6')"]
    assert result["matrices"]["latency_gpu_p2p_enabled_us"] == [[1.32, 14.99], [13.6]]
    assert result["incomplete"] == ["latency_gpu_p2p_enabled_us row 1 has 1 of 2 values"]


def test_units_of_every_matrix_and_sum():
    result, warnings = parse(read(NVBW_1X3050_LATENCY_NS))
    assert warnings == [] and result["passed"] is True
    assert result["versions"] == {"tool": "v0.8", "git": "v0.8", "cuda_runtime": "12080", "cuda_driver": "12080",
                                  "driver": "572.83", "host": "darrenlu"}
    assert result["units"]["host_device_latency_sm"] == "ns"
    assert result["sums"]["host_device_latency_sm"] == 613.22
    assert set(unit for key, unit in result["units"].items() if key != "host_device_latency_sm") == {"GB/s"}
    assert result["matrices"]["host_to_device_memcpy_ce"] == [[12.98]]
    p2p = parse(read(P2P_2X2080TI_CANNOT))[0]
    assert p2p["units"]["unidirectional_p2p_enabled_gbps"] == "GB/s"
    assert p2p["units"]["latency_cpu_p2p_enabled_us"] == "us"


def test_negative_and_absurd_values_are_refused_naming_the_cell():
    result, _warnings = parse(read(P2P_ABSURD_VALUES))
    assert result["refused"] == [
        "unidirectional_p2p_enabled_gbps row 0 column 1: -5.72 GB/s is negative; not taken as a result",
        "latency_gpu_p2p_disabled_us row 0 column 1: 1e+30 us is beyond anything a GPU can do (more than 1e+09); "
        "not taken as a result"]
    assert result["matrices"]["unidirectional_p2p_enabled_gbps"][0] == [538.62, None]
    assert result["matrices"]["latency_gpu_p2p_disabled_us"][0] == [1.33, None]
    assert result["passed"] is False


def test_a_negative_or_absurd_sum_is_refused():
    text = read(NVBW_1X3050_LATENCY_NS).replace("SUM device_local_copy 84.33", "SUM device_local_copy -84.33") \
        .replace("SUM host_to_device_memcpy_ce 12.98", "SUM host_to_device_memcpy_ce 1e+30")
    result, _warnings = parse(text)
    assert "device_local_copy" not in result["sums"] and "host_to_device_memcpy_ce" not in result["sums"]
    assert result["refused"] == [
        "SUM host_to_device_memcpy_ce 1e+30 is beyond anything a GPU can do (more than 1e+09); not taken as a result",
        "SUM device_local_copy -84.33 is negative; not taken as a result"]
    assert result["passed"] is False
