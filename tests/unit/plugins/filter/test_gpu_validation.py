"""The gpu_validation filters and heatmap script, over inputs made by the REAL parsers from real captures.

Where no capture of the whole box exists, the box is put together from captures of its parts
(the GPU entry of one ``nvidia-smi -q -x`` repeated, a topology written as ``topo -m`` prints
it); each helper says what it changes.
"""
import copy
import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.aiserver.gpu.plugins.filter.gpu_validation import (
    FilterModule,
    gpu_validation_judge,
    gpu_validation_markdown,
    pair_limit,
)
from ansible_collections.aiserver.gpu.plugins.module_utils._lspci import acs_devices, scan_lspci
from ansible_collections.aiserver.gpu.plugins.module_utils._nccl_tests import parse_nccl_log
from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import parse_p2p, parse_query_xml, parse_topology
from ansible_collections.aiserver.gpu.plugins.module_utils._p2p_bandwidth import parse_p2p_log

from captures import FIXTURES, ROOT

ROLE = os.path.join(ROOT, "roles", "gpu_validation")
SCRIPT = os.path.join(ROLE, "files", "p2p_heatmap.py")
with open(os.path.join(ROLE, "vars", "known_bad.yml"), encoding="utf-8") as _handle:
    KNOWN_BAD = yaml.safe_load(_handle)["__gpu_validation_known_bad"]


def text(family, name):
    with open(os.path.join(FIXTURES, family, name), encoding="utf-8") as handle:
        return handle.read()


def smi(xml, topo=None, p2p=None):
    """An nvidia_smi_info result: the parsed -q -x, topo -m and topo -p2p captures."""
    result = parse_query_xml(text("nvidia_smi", xml))
    result["topology"] = parse_topology(text("nvidia_smi", topo)) if topo else None
    result["p2p"] = parse_p2p(text("nvidia_smi", p2p))["matrix"] if p2p else None
    return result


def box(xml, count, **gpu):
    """``count`` copies of the first GPU of ``xml`` (bus ids 01:00.0, 02:00.0...), fields in ``gpu`` replaced."""
    result = parse_query_xml(text("nvidia_smi", xml))
    first = result["gpus"][0]
    result["gpus"] = [dict(first, index=i, minor_number=i, pci_bus_id="0000:%02x:00.0" % (i + 1), **gpu)
                      for i in range(count)]
    result["gpu_count"] = result["attached_gpus"] = count
    result["topology"] = result["p2p"] = None
    return result


def topo_all(count, cell):
    """``nvidia-smi topo -m`` text for ``count`` GPUs joined pairwise by ``cell`` (NV12, SYS...), parsed."""
    names = ["GPU%d" % i for i in range(count)]
    lines = ["\t" + "\t".join(names + ["CPU Affinity", "NUMA Affinity"])]
    for i, name in enumerate(names):
        lines.append("\t".join([name] + ["X" if i == j else cell for j in range(count)] + ["0-63", "0"]))
    return parse_topology("\n".join(lines) + "\n")


def p2p_log(name):
    result = parse_p2p_log(text("p2p", name))
    result["timed_out"] = False
    return result


def nccl_log(name, timed_out=False):
    result = parse_nccl_log(text("nccl_tests", name))
    result["timed_out"] = timed_out
    return result


def acs_result(name):
    devices = acs_devices(scan_lspci(text("lspci", name))["devices"])
    return {"devices": devices, "enabled_count": sum(1 for dev in devices if dev["enabled"])}


def by_id(report):
    return dict((finding["id"], finding) for finding in report["findings"])


def judge(inputs, **kwargs):
    kwargs.setdefault("known_bad", KNOWN_BAD)
    report = gpu_validation_judge(inputs, **kwargs)
    json.dumps(report)  # the report goes to report.json: plain JSON only
    return report


# --- boxes built from captures ----------------------------------------------------------------

def rtx4090_stock_box():
    """The 8x RTX 4090 of the chlc blog (stock driver, no P2P, all SYS): its P2P test and its
    all_reduce; the GPU entries are the RTX 3090 capture's (Gen4 x16, idle) renamed 4090."""
    smi_result = box("A_rtx-3090_525.xml", 8, name="NVIDIA GeForce RTX 4090", architecture="Ada Lovelace")
    smi_result["driver_version"] = "535.154.05"
    smi_result["topology"] = topo_all(8, "SYS")
    return {"host": "gpu4090", "smi": smi_result, "under_load": False, "cmdline": "BOOT_IMAGE=/vmlinuz ro quiet",
            "iommu_groups": 0, "acs": acs_result("H_lspci-vvvPP_full_supermicro-4028GR-TVRT_8x-v100-sxm2_plx9765-"
                                                 "pm8533_acs-all-disabled_mithro.txt"),
            "p2p": p2p_log("F_8x-rtx4090_p2p-unsupported-stock_chlc-blog.txt"),
            "nccl": nccl_log("E_8x-rtx4090_all_reduce_stock-no-p2p_chlc-blog.txt")}


def a100_box():
    """8x A100 SXM4 over NVSwitch (NV12 everywhere), P2P test of ml-engineering, Gen4 x16 GPUs."""
    smi_result = box("synthetic_q-x_attached-2-described-1_mig-enabled.xml", 8)
    smi_result["topology"] = topo_all(8, "NV12")
    return {"host": "dgx", "smi": smi_result, "under_load": True, "cmdline": "ro intel_iommu=off",
            "iommu_groups": 0, "p2p": p2p_log("F_8x-a100-sxm_p2p-writes-uni-enabled_partial.txt")}


def dual_2080():
    """The telegraf dual RTX 2080 (x8/x8, idle Gen1) with the AutoDL 2080 Ti pair's topology,
    P2P status (NS), P2P test and all_reduce."""
    return {"host": "desk", "smi": smi("A_dual-rtx-2080_590.xml", "D_2x-rtx2080ti_PIX_cpu-numa-affinity_autodl.txt",
                                       "D_topo-p2p-p_2x-rtx2080ti_NS_autodl.txt"),
            "under_load": False, "cmdline": "ro quiet", "iommu_groups": 0,
            "p2p": p2p_log("F_2x-rtx2080ti_p2p-cannot-access_full_autodl.txt"),
            "nccl_runs": [{"name": "all_reduce_perf",
                           "result": nccl_log("E_2x-rtx2080ti_all_reduce_pix-no-p2p_autodl.txt"),
                           "p2p_disabled": None}]}


# --- verdicts ---------------------------------------------------------------------------------

def test_healthy_geforce_box_without_p2p_passes_with_notes():
    report = judge(rtx4090_stock_box())
    found = by_id(report)
    assert report["verdict"] == "pass", report
    assert report["summary"] == "Every check passes on 8x NVIDIA GeForce RTX 4090, driver 535.154.05."
    assert found["pcie_width"]["status"] == "pass"
    assert found["pcie_gen"]["status"] == "info"
    assert found["iommu"]["status"] == "pass"
    assert found["acs"]["status"] == "pass"
    assert found["p2p_support"]["status"] == "info"
    assert "host-staged" in found["p2p_support"]["detail"]
    assert found["p2p_bandwidth"]["status"] == "info"
    assert "host memory at 18.4 to 20.6 GB/s" in found["p2p_bandwidth"]["detail"]
    assert found["nccl"]["status"] == "pass"
    assert "4.85 GB/s average bus bandwidth, peak 15.04 GB/s, 48 % of the slowest link's 31.50 GB/s " \
           "(PCIe Gen4 x16)" in found["nccl"]["detail"]
    assert report["nccl"]["avg_busbw_gbps"] == 4.85265 and report["nccl"]["limit_gbps"] == 31.5
    assert [gpu["pcie"] for gpu in report["gpus"]] == ["Gen1 x16 (max Gen4 x16)"] * 8
    assert report["gpus"][3] == {"index": 3, "name": "NVIDIA GeForce RTX 4090", "bus_id": "0000:04:00.0",
                                 "pcie": "Gen1 x16 (max Gen4 x16)"}
    assert len(report["p2p_heatmap"]["matrix"]) == 8 and report["p2p_heatmap"]["matrix"][0][1] == 18.83


def test_nvlink_box_passes_on_share_of_nvlink():
    report = judge(a100_box())
    found = by_id(report)
    assert found["p2p_bandwidth"]["status"] == "pass", found["p2p_bandwidth"]
    # 12 NVLink3 links x 25 GB/s = 300 GB/s; the slowest pair 270.84 GB/s.
    assert "lowest GPU5->GPU3 270.8 of 300.00 GB/s (90 %, NVLink NV12 (Ampere 25 GB/s per link))" \
        in found["p2p_bandwidth"]["detail"]
    assert found["pcie_gen"]["status"] == "pass" and found["iommu"]["status"] == "pass"
    assert found["nccl"]["status"] == "skipped"
    assert report["verdict"] == "pass"


def test_x8_link_fails_naming_the_bus_id():
    report = judge(dual_2080())
    width = by_id(report)["pcie_width"]
    assert width["status"] == "fail"
    assert width["detail"].startswith("0000:01:00.0 at x8 of x16, 0000:02:00.0 at x8 of x16: ")
    assert "riser" in width["detail"]
    assert report["verdict"] == "fail"
    assert report["summary"] == "1 check fails (PCIe link width) on 2x NVIDIA GeForce RTX 2080, driver 590.44.01."


def test_tesla_t4_x8_under_load_fails_width_not_gen():
    report = judge({"smi": smi("A_tesla-t4_515.xml"), "under_load": True})
    assert by_id(report)["pcie_width"]["status"] == "fail"
    assert by_id(report)["pcie_gen"]["status"] == "pass"


def test_idle_gen1_is_information_not_failure():
    found = by_id(judge(dual_2080()))
    assert found["pcie_gen"]["status"] == "info"
    assert "idle GPUs drop to Gen1 on purpose" in found["pcie_gen"]["detail"]
    assert "0000:01:00.0 at Gen1 of Gen3" in found["pcie_gen"]["detail"]


def test_gen1_under_load_fails():
    inputs = dual_2080()
    inputs["under_load"] = True
    assert by_id(judge(inputs))["pcie_gen"]["status"] == "fail"


@pytest.mark.parametrize("cmdline, groups, status, words", [
    ("BOOT_IMAGE=/boot/vmlinuz-6.1.0 root=UUID=1 ro quiet intel_iommu=on", 0, "warn", "intel_iommu=on"),
    ("BOOT_IMAGE=/boot/vmlinuz-6.1.0 root=UUID=1 ro quiet", 57, "warn", "57 IOMMU groups"),
    ("ro amd_iommu=on iommu=pt", 57, "info", "pass-through"),
    ("ro intel_iommu=off", 0, "pass", "off"),
    (None, None, "skipped", "was read"),
])
def test_iommu(cmdline, groups, status, words):
    inputs = dual_2080()
    inputs.update(cmdline=cmdline, iommu_groups=groups)
    finding = by_id(judge(inputs))["iommu"]
    assert finding["status"] == status
    assert words in finding["detail"]
    if status == "warn":
        assert "kernel_tuning" in finding["detail"] and "through the CPU" in finding["detail"]


def test_acs_enabled_from_lspci_warns_naming_devices_and_the_fix():
    inputs = rtx4090_stock_box()
    inputs["acs"] = acs_result("H_lspci-D-vvvPP_full_lenovo-p920_quadro-rtx4000_acs-TransBlk-enabled_mithro.txt")
    report = judge(inputs)
    acs = by_id(report)["acs"]
    assert acs["status"] == "warn"
    assert acs["detail"].startswith("ACS is enabled on 10 PCIe device(s): 0000:00:1d.2 (CmpltRedir, ReqRedir, "
                                    "SrcValid, TransBlk), 0000:07:00.0 ")
    assert "and 4 more" in acs["detail"] and "root complex" in acs["detail"]
    assert "kernel_tuning" in acs["detail"] and "pci_acs" in acs["detail"]
    assert report["verdict"] == "warn"


def test_driver_545_with_rtx_4090_fails_citing_nccl_tests_117():
    inputs = rtx4090_stock_box()
    inputs["smi"]["driver_version"] = "545.29.06"
    report = judge(inputs)
    known = by_id(report)["known_bad"]
    assert known["status"] == "fail"
    assert known["detail"].startswith("NVIDIA GeForce RTX 4090 on driver 545.29.06: NCCL hangs")
    assert "NVIDIA/nccl-tests issue 117" in known["detail"]
    assert report["verdict"] == "fail"


def test_known_bad_extra_entry_by_architecture():
    extra = [{"driver_branch": ["535"], "architectures": ["Ada Lovelace"], "severity": "warn",
              "reason": "a site rule", "ref": "ticket 7"}]
    known = by_id(judge(rtx4090_stock_box(), known_bad=KNOWN_BAD + extra))["known_bad"]
    assert known["status"] == "warn"
    assert "a site rule (ticket 7)." in known["detail"]


def test_geforce_gns_is_information():
    inputs = dual_2080()
    inputs["smi"]["p2p"] = {"GPU0": {"GPU0": "X", "GPU1": "GNS"}, "GPU1": {"GPU0": "GNS", "GPU1": "X"}}
    found = by_id(judge(inputs))
    assert found["p2p_support"]["status"] == "info"
    assert "GPU0-GPU1 GNS (GNS = GPU not supported)" in found["p2p_support"]["detail"]
    assert "host-staged copies are expected" in found["p2p_support"]["detail"]
    assert found["known_bad"]["status"] == "info"
    assert "disabled by design" in found["known_bad"]["detail"]
    assert found["p2p_bandwidth"]["status"] == "info"


def test_datacenter_gpus_without_p2p_warn():
    inputs = a100_box()
    inputs["smi"]["p2p"] = dict(("GPU%d" % i, dict(("GPU%d" % j, "X" if i == j else "CNS") for j in range(8)))
                                for i in range(8))
    assert by_id(judge(inputs))["p2p_support"]["status"] == "warn"


def test_nccl_wrong_values_fail_as_corruption():
    inputs = dual_2080()
    inputs["nccl_runs"][0]["result"] = nccl_log("E_3x-rtx3090-3node_all_reduce_inc_wrong-nonzero-FAILED_stray-line.txt")
    finding = by_id(judge(inputs))["nccl:all_reduce_perf"]
    assert finding["status"] == "fail"
    assert finding["title"] == "NCCL all_reduce_perf"
    assert "1610612416 wrong values: data corruption, not a performance issue" in finding["detail"]


def test_nccl_warn_line_is_quoted():
    inputs = {"smi": box("A_rtx-4000-sff-ada_595.xml", 10),
              "nccl": nccl_log("E_10x-l40s_all_reduce_NCCL-WARN-711-peer-mapping-exhausted_partial.txt")}
    finding = by_id(judge(inputs))["nccl"]
    assert finding["status"] == "fail"
    assert "NCCL WARN Cuda failure 711 'peer mapping resources exhausted'" in finding["detail"]


def test_hang_then_pass_without_p2p_is_confirmed_broken_p2p():
    inputs = {"host": "gpu4090", "smi": rtx4090_stock_box()["smi"],
              "nccl": nccl_log("E_1x-rtx4090_all_reduce_hang-at-using-devices_nccl-tests-117.txt", timed_out=True),
              "nccl_p2p_disabled": nccl_log("E_8x-rtx4090_all_reduce_stock-no-p2p_chlc-blog.txt")}
    report = judge(inputs)
    finding = by_id(report)["nccl"]
    assert finding["status"] == "fail"
    assert "a hang is the classic broken-P2P failure" in finding["detail"]
    assert "failure; confirmed: with NCCL_P2P_DISABLE=1 it passes at 4.85 GB/s average bus bandwidth" in finding["detail"]
    assert "P2P is broken on this box" in finding["detail"]
    assert report["nccl"]["runs"][0]["p2p_disabled"]["passed"] is True
    assert report["nccl"]["timed_out"] is True


def test_hang_that_also_fails_without_p2p_is_not_p2p():
    inputs = {"smi": rtx4090_stock_box()["smi"],
              "nccl": nccl_log("E_1x-rtx4090_all_reduce_hang-at-using-devices_nccl-tests-117.txt", timed_out=True),
              "nccl_p2p_disabled": nccl_log("E_1x-rtx4090_all_reduce_hang-at-using-devices_nccl-tests-117.txt",
                                            timed_out=True)}
    detail = by_id(judge(inputs))["nccl"]["detail"]
    assert "also fails with NCCL_P2P_DISABLE=1: not a P2P problem" in detail


def test_slow_p2p_below_share_warns_listing_pairs():
    """The 6x RTX 4090 of nccl issue 814 (early driver: P2P on, ~10 GB/s) on Gen4 x16 links."""
    smi_result = box("A_rtx-3090_525.xml", 6, name="NVIDIA GeForce RTX 4090", architecture="Ada Lovelace")
    smi_result["driver_version"] = "550.54.14"
    report = judge({"smi": smi_result,
                    "p2p": p2p_log("F_p2pBandwidthLatencyTest_6x-rtx4090-early-driver_P2P-Reads-matrix_nccl-814_"
                                   "PARTIAL.txt")})
    finding = by_id(report)["p2p_bandwidth"]
    assert finding["status"] == "warn"
    assert finding["detail"].startswith("30 of 30 GPU pair(s) below 80 % of the link's physical bandwidth: "
                                        "GPU4->GPU1 9.6 of 31.50 GB/s (31 %, PCIe Gen4 x16), ")
    assert "and 24 more" in finding["detail"]
    assert report["verdict"] == "warn"


def test_min_share_is_a_parameter():
    report = judge(a100_box(), min_share=0.95)
    assert by_id(report)["p2p_bandwidth"]["status"] == "warn"


def test_pair_limits():
    nv4 = smi("A_rtx-3090_525.xml")
    nv4["gpus"] = [dict(nv4["gpus"][0], index=i) for i in range(4)]
    nv4["topology"] = parse_topology(text("nvidia_smi", "D_4x-rtx3090-nvlink-pairs_NV4-PHB-NODE_aikitoria-pr18.txt"))
    assert pair_limit(nv4, 0, 2) == (56.25, "NVLink NV4 (Ampere 14.0625 GB/s per link)")
    assert pair_limit(nv4, 0, 1) == (31.5, "PCIe Gen4 x16")
    h100 = box("synthetic_q-x_attached-2-described-1_mig-enabled.xml", 8, name="NVIDIA H100 80GB HBM3",
               architecture="Hopper")
    h100["topology"] = parse_topology(text("nvidia_smi", "D_8x-h100-nv18_cpu-affinity_ml-engineering.txt"))
    assert pair_limit(h100, 0, 7)[0] == 450.0
    t4 = smi("A_tesla-t4_515.xml")
    t4["gpus"].append(dict(t4["gpus"][0], index=1))
    assert pair_limit(t4, 0, 1) == (15.75, "PCIe Gen3 x16")


def test_p2p_test_order_is_mapped_to_nvidia_smi_order():
    """nvbandwidth lists GPUs in CUDA order; the heatmap follows nvidia-smi's PCI order."""
    smi_result = box("synthetic_q-x_attached-2-described-1_mig-enabled.xml", 2)
    p2p = {"tool": "nvbandwidth", "devices": [{"index": 0, "pci_address": "0000:02:00.0"},
                                              {"index": 1, "pci_address": "0000:01:00.0"}],
           "matrices": {"device_to_device_memcpy_write_ce": [[None, 10.0], [20.0, None]]}}
    assert judge({"smi": smi_result, "p2p": p2p})["p2p_heatmap"]["matrix"] == [[None, 20.0], [10.0, None]]


def test_p2p_test_errors_and_hang_fail():
    inputs = a100_box()
    inputs["p2p"] = p2p_log("G_8x-a100-sxm4-80gb_d2d-read-ce-assert_v0.7.txt")
    finding = by_id(judge(inputs))["p2p_bandwidth"]
    assert finding["status"] == "fail" and "Invalid value when checking the pattern" in finding["detail"]
    inputs["p2p"] = dict(inputs["p2p"], errors=[], timed_out=True)
    assert "hung" in by_id(judge(inputs))["p2p_bandwidth"]["detail"]


def test_no_gpu_is_skipped_with_a_sentence():
    for smi_result in (None, {}, {"gpus": []}):
        report = judge({"host": "nogpu", "smi": smi_result})
        assert report["verdict"] == "skipped"
        assert report["summary"] == "No NVIDIA GPU was read on nogpu (nvidia-smi gave none), so nothing was checked."
        assert report["p2p_heatmap"]["matrix"] is None


ODD_INPUTS = [None, {}, {"smi": {"gpus": [{}]}},
              {"smi": {"gpus": [None, {"index": 0}]}, "acs": {}, "p2p": {}, "nccl": {}, "nccl_runs": "x",
               "iommu_groups": "x"}]


@pytest.mark.parametrize("inputs", ODD_INPUTS)
def test_never_raises_on_missing_keys(inputs):
    report = judge(inputs)
    assert report["verdict"] in ("pass", "warn", "fail", "skipped")
    gpu_validation_markdown(report)


def test_missing_inputs_are_skipped_with_reasons():
    report = judge({"smi": smi("A_rtx-3090_525.xml")})
    found = by_id(report)
    for check in ("iommu", "acs", "p2p_support", "p2p_bandwidth", "nccl"):
        assert found[check]["status"] == "skipped" and found[check]["detail"]
    assert report["verdict"] == "pass"


# --- Markdown -----------------------------------------------------------------------------------

def test_markdown_starts_with_the_verdict_then_why():
    report = judge(dual_2080())
    markdown = gpu_validation_markdown(report)
    lines = markdown.splitlines()
    assert lines[0] == "# GPU validation: desk — FAIL"
    assert lines[2] == report["summary"]
    why = markdown.index("## Why")
    assert markdown.index("- **FAIL - PCIe link width**", why) < markdown.index("- **INFO - PCIe link generation**")
    assert "| PCIe link width | FAIL | 0000:01:00.0 at x8 of x16, 0000:02:00.0 at x8 of x16: the link has fewer " \
           "lanes than the GPU can use, which cuts host and P2P bandwidth. |" in lines
    assert "| 0 | NVIDIA GeForce RTX 2080 | 0000:01:00.0 | Gen1 x8 (max Gen3 x16) |" in lines
    assert "| all_reduce_perf | passed | 2.06 | 4.00 | - |" in lines
    assert lines[-1] == "![P2P bandwidth](p2p_heatmap.png)"


def test_markdown_without_heatmap_or_gpu():
    markdown = gpu_validation_markdown(judge({"host": "nogpu"}))
    assert markdown.startswith("# GPU validation: nogpu — SKIPPED\n\nNo NVIDIA GPU")
    assert "p2p_heatmap.png" not in markdown


def test_filter_module_exposes_both():
    assert set(FilterModule().filters()) == {"gpu_validation_judge", "gpu_validation_markdown"}


# --- heatmap script ------------------------------------------------------------------------------

def run_script(tmp_path, report):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    out = tmp_path / "p2p_heatmap.png"
    proc = subprocess.run([sys.executable, SCRIPT, str(path), str(out)], capture_output=True, text=True, check=False)
    return proc, out


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")
def test_heatmap_script_draws_a_png_once(tmp_path):
    proc, out = run_script(tmp_path, judge(dual_2080()))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("wrote ")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10000
    again, _out = run_script(tmp_path, judge(dual_2080()))
    assert again.returncode == 0 and again.stdout.startswith("unchanged ")


def test_heatmap_script_without_matrix_exits_4(tmp_path):
    proc, out = run_script(tmp_path, judge({"host": "nogpu"}))
    assert proc.returncode == 4
    assert "no P2P bandwidth matrix" in proc.stderr
    assert not out.exists()


def test_heatmap_script_bad_arguments_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_heatmap_script_without_matplotlib_exits_3(tmp_path):
    """A Python where ``import matplotlib`` fails (a stub on sys.path that raises ImportError)."""
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "matplotlib.py").write_text("raise ImportError('No module named matplotlib')\n", encoding="utf-8")
    path = tmp_path / "report.json"
    path.write_text(json.dumps(judge(dual_2080())), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(stub))
    proc = subprocess.run([sys.executable, SCRIPT, str(path), str(tmp_path / "x.png")], capture_output=True,
                          text=True, check=False, env=env)
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "matplotlib is not installed" in proc.stderr


def test_inputs_are_not_modified():
    inputs = rtx4090_stock_box()
    before = copy.deepcopy(inputs)
    judge(inputs)
    assert inputs == before
