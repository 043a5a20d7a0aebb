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
    gpu_validation_drift,
    FilterModule,
    gpu_validation_fails_on,
    gpu_validation_judge,
    gpu_validation_markdown,
    pair_limit,
)
from ansible_collections.aiserver.gpu.plugins.module_utils import _links
from ansible_collections.aiserver.gpu.plugins.module_utils._lspci import acs_devices, acs_evidence, scan_lspci
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
    """A pci_acs result (state: query) for a saved lspci output: its devices, counts and evidence."""
    raw = text("lspci", name)
    scan = scan_lspci(raw)
    devices = acs_devices(scan["devices"])
    return {"devices": devices, "enabled_count": sum(1 for dev in devices if dev["enabled"]),
            "orphan_acs_ctl": len(scan["orphan_acs_ctl"]), "devices_seen": len(scan["devices"]),
            "capabilities_seen": scan["capabilities_seen"], "evidence": acs_evidence(scan, raw),
            "orphan_acs_enabled": sum(1 for flags in scan["orphan_acs_ctl"] if any(flags.values()))}


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
    for gpu in smi_result["gpus"]:  # the capture's pending MIG change is test_mig_*'s case
        gpu.update(mig_mode="Disabled", mig_mode_pending="Disabled")
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


# --- kernel log (kernel_log_info's result) -----------------------------------------------------

def kernel_log_result(name, gpus=()):
    """What aiserver.gpu.kernel_log_info returns for a real capture (its own parser and judge)."""
    from ansible_collections.aiserver.gpu.plugins.module_utils._kernel_log import findings, parse_kernel_log
    parsed = parse_kernel_log(text("kernel_log", name))
    judged = findings(parsed, gpus=gpus)
    return {"changed": False, "status": judged["status"], "findings": judged["findings"], "by_gpu": judged["by_gpu"],
            "counts": dict((k, len(parsed[k])) for k in ("xid", "sxid", "fallen_off_bus", "aer")),
            "lines": parsed["lines"], "read_from": "journalctl -k --no-pager -q -o short-iso -b"}


def test_kernel_log_xid_79_fails_the_box_naming_the_gpu_and_the_fix():
    inputs = rtx4090_stock_box()
    inputs["kernel_log"] = kernel_log_result("O_journal_xid-79-fallen-off-the-bus_rtx5080_ogkm-1151_PARTIAL.txt")
    report = judge(inputs)
    found = by_id(report)["kernel_log"]
    assert report["verdict"] == "fail" and found["status"] == "fail"
    assert found["title"] == "Kernel log (Xid, AER)"
    assert "GPU 0000:2b:00.0" in found["detail"] and "Xid 79" in found["detail"]
    assert "Fix: Drain the node and reboot it" in found["detail"]
    assert "In journalctl -k --no-pager -q -o short-iso -b (1 Xid, 0 SXid, 0 AER event(s))" in found["detail"]
    assert "1 check fails (Kernel log (Xid, AER))" in report["summary"]


def test_kernel_log_corrected_aer_warns_and_a_clean_log_passes():
    inputs = rtx4090_stock_box()
    inputs["kernel_log"] = kernel_log_result("O_journal-ru_aer-corrected-rxerr-first_intel-9d15_gsconnect-1052_PARTIAL.txt")
    found = by_id(judge(inputs))["kernel_log"]
    assert found["status"] == "warn" and "3 corrected PCIe AER errors" in found["detail"]
    inputs["kernel_log"] = dict(inputs["kernel_log"], findings=[], status="PASS", lines=812)
    report = judge(inputs)
    assert by_id(report)["kernel_log"]["status"] == "pass" and "(812 lines)" in by_id(report)["kernel_log"]["detail"]
    assert report["verdict"] == "pass"


def test_kernel_log_fail_findings_come_first_and_many_are_counted():
    inputs = rtx4090_stock_box()
    result = kernel_log_result("O_syslog_xid-3-no-pci-prefix_gpu-fallen-off-the-bus_pastebin-xJaypMZt.txt")
    result["findings"] = result["findings"] * 4
    inputs["kernel_log"] = result
    detail = by_id(judge(inputs))["kernel_log"]["detail"]
    assert detail.index("FAIL GPU 0000:01:00.0 has fallen off the bus") < detail.index("WARN GPU 0000:01:00.0: Xid 3")
    assert detail.endswith("And 2 more finding(s).")


def test_kernel_log_not_read_is_skipped_with_the_reason():
    inputs = rtx4090_stock_box()
    inputs["kernel_log"] = {"failed": True, "msg": "Cannot read the kernel log: dmesg exited with status 1: "
                                                   "dmesg: read kernel buffer failed: Operation not permitted."}
    found = by_id(judge(inputs))["kernel_log"]
    assert found["status"] == "skipped" and "Operation not permitted." in found["detail"]
    assert found["detail"].startswith("The kernel log could not be read: Cannot read")
    inputs["kernel_log"] = None
    assert "gpu_validation_kernel_log: false" in by_id(judge(inputs))["kernel_log"]["detail"]


# --- GPU health from the -q -x figures (ECC, remapping, clocks, persistence, count, MIG, fabric) ---

V100S = "A_nvidia-smi-q-x_8x-tesla-v100s-pcie-32gb_460.73.01_datakit.xml"


def test_health_of_eight_v100s_with_ecc_on():
    """The real 8x V100S capture: ECC on with no error, no page pending, persistence off."""
    found = by_id(judge({"smi": smi(V100S), "pci_bus_ids": ["0000:00:%02x.0" % n for n in range(0x0d, 0x15)]}))
    assert found["ecc"]["status"] == "pass" and "8 GPU(s) (ECC enabled)" in found["ecc"]["detail"]
    assert found["memory_remap"]["status"] == "pass"
    assert "0000:00:0d.0: 0 single-bit, 0 double-bit pages retired" in found["memory_remap"]["detail"]
    assert found["persistence"]["status"] == "warn" and "nvidia-persistenced" in found["persistence"]["detail"]
    assert found["gpu_count"]["status"] == "pass" and "(the PCI bus shows 8)" in found["gpu_count"]["detail"]
    assert (found["mig"]["status"], found["fabric"]["status"]) == ("skipped", "skipped")


def test_ecc_uncorrectable_since_boot_fails_and_before_boot_warns():
    result = smi(V100S)
    result["gpus"][3].update(ecc_volatile_uncorrectable=2, ecc_aggregate_uncorrectable=2)   # edited
    found = by_id(judge({"smi": result}))["ecc"]
    assert found["status"] == "fail" and "0000:00:10.0 (2 volatile uncorrectable)" in found["detail"]
    assert "RMA" in found["detail"]
    result["gpus"][3].update(ecc_volatile_uncorrectable=0)
    found = by_id(judge({"smi": result}))["ecc"]
    assert found["status"] == "warn" and "before this boot" in found["detail"]


def test_ecc_disabled_is_information_and_geforce_is_skipped():
    assert by_id(judge({"smi": smi("A_rtx-4000-sff-ada_595.xml")}))["ecc"]["status"] == "info"
    assert by_id(judge({"smi": smi("A_rtx-3090_525.xml")}))["ecc"]["status"] == "skipped"


def test_row_remapping_pending_warns_and_failure_fails():
    result = smi("A_rtx-4000-sff-ada_595.xml")
    assert by_id(judge({"smi": result}))["memory_remap"]["status"] == "pass"
    result["gpus"][0]["remapped_rows_pending"] = True      # edited
    found = by_id(judge({"smi": result}))["memory_remap"]
    assert found["status"] == "warn" and "0000:06:00.0" in found["detail"] and "nvidia-smi -r" in found["detail"]
    result["gpus"][0]["remapped_rows_failure"] = True
    found = by_id(judge({"smi": result}))["memory_remap"]
    assert found["status"] == "fail" and "RMA" in found["detail"]


def test_clock_reasons_are_judged_only_under_load():
    idle = smi("A_rtx-3090_525.xml")
    assert by_id(judge({"smi": idle}))["clocks"]["status"] == "info"
    sample = loaded_sample(idle)
    assert by_id(judge({"smi": idle, "smi_load": sample}))["clocks"]["status"] == "pass"
    sample["gpus"][0]["clocks_event_reasons"]["sw_power_cap"] = True         # edited: capped
    found = by_id(judge({"smi": idle, "smi_load": sample}))["clocks"]
    assert found["status"] == "info" and "SW power cap" in found["detail"]
    sample["gpus"][0]["clocks_event_reasons"]["sw_thermal_slowdown"] = True
    assert by_id(judge({"smi": idle, "smi_load": sample}))["clocks"]["status"] == "warn"
    sample["gpus"][0]["clocks_event_reasons"]["hw_power_brake_slowdown"] = True
    found = by_id(judge({"smi": idle, "smi_load": sample}))["clocks"]
    assert found["status"] == "fail" and "0000:00:10.0: HW power brake" in found["detail"] and "PSU" in found["detail"]


def test_gpu_count_names_the_gpu_missing_from_nvidia_smi():
    inputs = {"smi": smi("A_dual-rtx-2080_590.xml"), "pci_bus_ids": ["0000:01:00.0", "0000:02:00.0", "0000:03:00.0"],
              "missing_bus_ids": ["0000:03:00.0"]}
    found = by_id(judge(inputs))["gpu_count"]
    assert found["status"] == "fail" and "0000:03:00.0 is on the PCI bus" in found["detail"]
    found = by_id(judge({"smi": smi("A_dual-rtx-2080_590.xml"), "expected_gpu_count": 4}))["gpu_count"]
    assert found["status"] == "fail" and "lists 2 GPU(s), 4 expected" in found["detail"]
    assert by_id(judge({"smi": smi("A_dual-rtx-2080_590.xml"), "expected_gpu_count": "2"}))["gpu_count"]["status"] == "pass"
    assert by_id(judge({"smi": smi("A_dual-rtx-2080_590.xml"), "expected_gpu_count": 1}))["gpu_count"]["status"] == "warn"


def test_mig_pending_change_warns_and_fabric_completed_passes():
    found = by_id(judge({"smi": smi("synthetic_q-x_attached-2-described-1_mig-enabled.xml")}))
    assert found["mig"]["status"] == "warn" and "from Enabled to Disabled" in found["mig"]["detail"]
    assert found["fabric"]["status"] == "pass"


def test_fabric_not_ready_fails_naming_fabric_manager():
    result = smi("synthetic_q-x_attached-2-described-1_mig-enabled.xml")
    result["gpus"][0].update(fabric_state="In Progress", fabric_status="N/A")      # edited
    found = by_id(judge({"smi": result}))["fabric"]
    assert found["status"] == "fail" and "nvidia-fabricmanager" in found["detail"] and "In Progress/N/A" in found["detail"]


# --- drift against the host's previous report ---------------------------------------------------

def _through_json(report):
    """A report as report.json holds it (what the role reads back next run)."""
    return json.loads(json.dumps(report))


def test_drift_first_run_has_nothing_to_compare_and_a_rerun_writes_the_same_report():
    first = gpu_validation_drift(judge(dual_2080()))
    assert first["baseline"] is None and first["rotate"] is False
    assert by_id(first["report"])["drift"]["status"] == "skipped"
    again = gpu_validation_drift(judge(dual_2080()), last=_through_json(first["report"]))
    assert again["baseline"] is None and again["rotate"] is False
    assert _through_json(again["report"]) == _through_json(first["report"])   # idempotent


def test_drift_names_a_slower_p2p_pair_a_narrower_link_and_a_lost_gpu():
    before = _through_json(gpu_validation_drift(judge(rtx4090_stock_box()))["report"])
    inputs = rtx4090_stock_box()
    inputs["p2p"]["matrices"] = copy.deepcopy(inputs["p2p"]["matrices"])
    for rows in inputs["p2p"]["matrices"].values():            # edited: GPU0->GPU1 at 60 %
        if rows and rows[0] and len(rows[0]) > 1 and rows[0][1] is not None:
            rows[0][1] = rows[0][1] * 0.6
    inputs["smi"]["gpus"][2] = dict(inputs["smi"]["gpus"][2], pcie_width_current=8)   # edited: x8
    del inputs["smi"]["gpus"][7]                                                      # edited: a GPU lost
    result = gpu_validation_drift(judge(inputs), last=before)
    assert result["baseline"] == "last" and result["rotate"] is True
    drift = by_id(result["report"])["drift"]
    assert drift["status"] == "fail"
    assert "the GPU count fell from 8 to 7" in drift["detail"]
    assert "0000:03:00.0's link width fell from x16 to x8" in drift["detail"]
    assert "P2P bandwidth fell by more than 10 % on 1 pair(s): GPU0->GPU1" in drift["detail"]
    assert result["report"]["verdict"] == "fail" and "Drift since the previous report" in result["report"]["summary"]


def test_drift_compares_with_previous_when_the_last_run_measured_the_same():
    old = _through_json(gpu_validation_drift(judge(dual_2080()))["report"])
    inputs = dual_2080()
    inputs["nccl_runs"][0]["result"] = dict(inputs["nccl_runs"][0]["result"])
    inputs["nccl_runs"][0]["result"]["avg_busbw_gbps"] = inputs["nccl_runs"][0]["result"]["avg_busbw_gbps"] / 2  # edited
    slower = gpu_validation_drift(judge(inputs), last=old)
    assert slower["rotate"] is True
    detail = by_id(slower["report"])["drift"]["detail"]
    assert "all_reduce_perf's average bus bandwidth fell from" in detail and "(50 %)" in detail
    # The next run measures the same as the slow one: compared with previous.json (the old
    # report), it writes the same report again, and nothing rotates.
    again = gpu_validation_drift(judge(inputs), last=_through_json(slower["report"]), previous=old)
    assert again["baseline"] == "previous" and again["rotate"] is False
    assert _through_json(again["report"]) == _through_json(slower["report"])


def test_drift_within_the_threshold_passes_and_a_driver_change_warns():
    old = _through_json(gpu_validation_drift(judge(dual_2080()))["report"])
    inputs = dual_2080()
    inputs["nccl_runs"][0]["result"] = dict(inputs["nccl_runs"][0]["result"])
    inputs["nccl_runs"][0]["result"]["avg_busbw_gbps"] *= 0.95                   # edited: 5 % slower
    result = gpu_validation_drift(judge(inputs), last=old)
    assert by_id(result["report"])["drift"]["status"] == "pass"
    assert by_id(gpu_validation_drift(judge(inputs), last=old, threshold=0.01)["report"])["drift"]["status"] == "warn"
    inputs["smi"] = dict(inputs["smi"], driver_version="595.84")
    found = by_id(gpu_validation_drift(judge(inputs), last=old)["report"])["drift"]
    assert found["status"] == "warn" and "the driver changed from 590.44.01 to 595.84" in found["detail"]


def test_drift_reads_the_files_text_and_ignores_one_that_is_not_json():
    old = gpu_validation_drift(judge(dual_2080()))["report"]
    again = gpu_validation_drift(judge(dual_2080()), last=json.dumps(old, indent=2), previous="")
    assert again["rotate"] is False and again["report"] == old
    broken = gpu_validation_drift(judge(dual_2080()), last="{not json", previous="")
    assert broken["baseline"] is None
    assert by_id(broken["report"])["drift"]["detail"].endswith("(report.json could not be read as JSON: ignored.)")


@pytest.mark.parametrize("last", [None, {}, "x", {"judged": 5, "figures": "x"}, {"figures": {"links": {"a": 3}}},
                                  {"figures": {"gpu_count": "x"}, "p2p_heatmap": {"matrix": [["x"]]},
                                   "nccl": {"runs": ["x", {"name": 5}]}}])
def test_drift_never_raises_on_odd_previous_reports(last):
    result = gpu_validation_drift(judge(dual_2080()), last=last, previous=last, threshold="x")
    json.dumps(result)
    assert gpu_validation_drift(None, last=last)["report"]["judged"]


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


def test_filter_module_exposes_the_four():
    assert set(FilterModule().filters()) == {"gpu_validation_judge", "gpu_validation_markdown",
                                             "gpu_validation_fails_on", "gpu_validation_drift"}


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


# --- issue 12: evidence, under load, ranks, inputs of any type -----------------------------------

def loaded_sample(smi_result, state="P0"):
    """The idle read with every GPU in ``state``: what a sample taken while a test runs shows
    (the link generation as the idle capture's maximum, the GPUs busy); no topology (the role
    samples with topology: false)."""
    sample = copy.deepcopy(smi_result)
    for gpu in sample["gpus"]:
        gpu.update(performance_state=state, pcie_gen_current=gpu["pcie_gen_max"])
    sample["topology"] = sample["p2p"] = None
    return sample


def test_a_sample_with_every_gpu_busy_is_judged_under_load():
    """Before, in validate.yml: __gpu_validation_loaded and the combine of the sample with the idle topology."""
    inputs = dual_2080()
    inputs["smi_load"] = loaded_sample(inputs["smi"])
    report = judge(inputs)
    assert report["under_load"] is True
    assert by_id(report)["pcie_gen"]["status"] == "pass"  # Gen3 of Gen3 under load
    assert report["p2p_heatmap"]["matrix"] is not None and by_id(report)["p2p_support"]["status"] == "info"
    # the idle read's topology is kept: the slowest link is still the PCIe x16 pair
    assert report["nccl"]["limit_link"] == "PCIe Gen3 x16"


def test_a_sample_taken_under_load_at_gen1_fails():
    inputs = dual_2080()
    sample = loaded_sample(inputs["smi"])
    for gpu in sample["gpus"]:
        gpu["pcie_gen_current"] = 1
    inputs["smi_load"] = sample
    finding = by_id(judge(inputs))["pcie_gen"]
    assert finding["status"] == "fail" and "while a test was running" in finding["detail"]


@pytest.mark.parametrize("change, why", [
    (lambda sample: sample["gpus"][1].update(performance_state="P8"),
     "the sample taken while a test ran found GPU1 in P8, not busy"),
    (lambda sample: sample["gpus"].pop(), "the sample taken while a test ran holds 1 of the 2 GPUs"),
    (lambda sample: sample.update(gpus=[]), "the sample taken while a test ran holds no GPU"),
    (lambda sample: sample.update(failed=True, msg="nvidia-smi timed out."),
     "the sample taken while a test ran failed: nvidia-smi timed out"),
], ids=["one-idle", "one-missing", "none", "failed"])
def test_a_sample_that_is_not_under_load_says_why(change, why):
    inputs = dual_2080()
    sample = loaded_sample(inputs["smi"])
    change(sample)
    inputs["smi_load"] = sample
    report = judge(inputs)
    finding = by_id(report)["pcie_gen"]
    assert report["under_load"] is False and finding["status"] == "info"
    assert finding["detail"].endswith("so the generation is only judged while a test runs (%s)." % why)


def test_no_sample_keeps_the_explicit_under_load_flag():
    inputs = dual_2080()
    inputs.update(smi_load=None, under_load="true")  # a string, as Jinja may give it
    assert by_id(judge(inputs))["pcie_gen"]["status"] == "fail"


@pytest.mark.parametrize("verdict, level, fails", [
    ("fail", "fail", True), ("warn", "fail", False), ("warn", "warn", True), ("pass", "warn", False),
    ("fail", "never", False), ("skipped", "warn", False), ("fail", "typo", True), ("fail", None, True),
])
def test_fails_on_ranks_like_the_role_did(verdict, level, fails):
    """Before, in validate.yml: __gpu_validation_rank {pass: 0, skipped: 0, info: 0, warn: 1, fail: 2, never: 3}."""
    assert gpu_validation_fails_on({"verdict": verdict}, level) is fails


def test_the_report_has_its_rank():
    assert judge(dual_2080())["rank"] == 2 and judge(a100_box())["rank"] == 0
    assert judge({"host": "nogpu"})["rank"] == 0
    assert gpu_validation_fails_on(None, "fail") is False and gpu_validation_fails_on([], "warn") is False


def test_nccl_summary_line_alone_is_not_a_pass():
    """Before: 'The NCCL test passed' from a log holding only '# Avg bus bandwidth'."""
    inputs = {"smi": dual_2080()["smi"], "nccl": nccl_log("synthetic_2x-rtx2080ti_alltoall_avg-line-only.txt")}
    finding = by_id(judge(inputs))["nccl"]
    assert finding["status"] == "fail"
    assert finding["detail"] == "The NCCL test did not pass: no result row could be read, only the summary line."
    # and a result that says passed without a row (a hand-made or older result) is no evidence either
    inputs["nccl"] = {"passed": True, "results": [], "avg_busbw_gbps": 2.0, "timed_out": False}
    finding = by_id(judge(inputs))["nccl"]
    assert finding["status"] == "fail"
    assert finding["detail"].startswith("The NCCL test reports a pass, but no result row was read: no evidence")


def test_nccl_refused_figures_fail():
    inputs = {"smi": dual_2080()["smi"],
              "nccl": nccl_log("synthetic_2x-rtx2080ti_all_reduce_busbw-1e30_negative-time.txt")}
    finding = by_id(judge(inputs))["nccl"]
    assert finding["status"] == "fail"
    assert finding["detail"].startswith("The NCCL test printed figures no run can produce, so its output is no "
                                        "evidence: line 19, the row of 2048 bytes: out-of-place time -11.83 us")


def test_nccl_unchecked_values_warn():
    inputs = {"smi": dual_2080()["smi"],
              "nccl": nccl_log("synthetic_64x-v100_alltoall_old-format_blank-redop_error-NA.txt")}
    finding = by_id(judge(inputs))["nccl"]
    assert finding["status"] == "warn" and "without checking its values" in finding["detail"]
    inputs["nccl"] = nccl_log("E_64x-v100-8node_alltoall_old-format_blank-redop_nccl-tests-78_partial.txt")
    assert by_id(judge(inputs))["nccl"]["status"] == "pass"


def test_an_nccl_log_given_as_the_p2p_test_is_not_read():
    inputs = dual_2080()
    inputs["p2p"] = parse_p2p_log(text("nccl_tests", "E_2x-rtx2080ti_all_reduce_pix-no-p2p_autodl.txt"))
    report = judge(inputs)
    finding = by_id(report)["p2p_bandwidth"]
    assert finding["status"] == "skipped" and "it looks like nccl-tests output" in finding["detail"]
    assert report["p2p_heatmap"]["matrix"] is None


def test_a_p2p_log_cut_mid_matrix_warns():
    inputs = rtx4090_stock_box()
    inputs["smi"] = box("A_rtx-3090_525.xml", 4, name="NVIDIA GeForce RTX 3090")
    inputs["p2p"] = p2p_log("synthetic_4x-rtx3090_p2p_cut-mid-matrix.txt")
    finding = by_id(judge(inputs))["p2p_bandwidth"]
    assert finding["status"] == "warn"
    assert finding["detail"].startswith("p2pBandwidthLatencyTest's output is cut short (bidirectional_p2p_enabled_gbps "
                                        "has 2 of 4 rows): only what it printed is judged.")


def test_p2p_refused_values_fail():
    inputs = dual_2080()
    inputs["p2p"] = p2p_log("synthetic_2x-rtx2080ti_p2p_negative-bandwidth_1e30-latency.txt")
    finding = by_id(judge(inputs))["p2p_bandwidth"]
    assert finding["status"] == "fail" and "values no run can produce" in finding["detail"]


def test_a_latency_matrix_is_never_read_as_bandwidth():
    """nvbandwidth's latency testcase titled '(ns)', under a name the judge takes for a bandwidth."""
    smi_result = box("synthetic_q-x_attached-2-described-1_mig-enabled.xml", 2)
    latency = {"tool": "nvbandwidth", "matrices": {"device_to_device_memcpy_read_ce": [[None, 613.22], [613.22, None]]},
               "units": {"device_to_device_memcpy_read_ce": "ns"}}
    report = judge({"smi": smi_result, "p2p": latency})
    assert report["p2p_heatmap"]["matrix"] is None
    assert by_id(report)["p2p_bandwidth"]["status"] == "skipped"
    latency["units"]["device_to_device_memcpy_read_ce"] = "GB/s"
    assert judge({"smi": smi_result, "p2p": latency})["p2p_heatmap"]["matrix"] == [[None, 613.22], [613.22, None]]


@pytest.mark.parametrize("name, status, words", [
    ("synthetic_empty.txt", "skipped", "ACS could not be read (the lspci output is empty)."),
    ("synthetic_lenovo-p920_plain-lspci-D-PP_headers-only.txt", "skipped",
     "ACS could not be read (the output lists 298 device(s) but no capability line: it is plain lspci output, "
     "not lspci -vvv)."),
    ("synthetic_nonroot_access-denied.txt", "skipped", "ACS could not be read (lspci could not read the capabilities"),
    ("H_lspci-vvv-grep-ACSCtl_all-disabled_stelline-esc8000a.txt", "pass", "No ACSCtl line shows ACS enabled (46 "),
    ("H_lspci-vvvPP_full_supermicro-4028GR-TVRT_8x-v100-sxm2_plx9765-pm8533_acs-all-disabled_mithro.txt", "pass",
     "No PCIe device has ACS enabled (31 with an ACS capability)."),
], ids=["empty", "plain-lspci", "nonroot", "grep-orphans", "supermicro"])
def test_acs_needs_capability_lines_to_pass(name, status, words):
    """Before: an empty capture or plain lspci gave 'No PCIe device has ACS enabled' as a PASS."""
    inputs = rtx4090_stock_box()
    inputs["acs"] = acs_result(name)
    finding = by_id(judge(inputs))["acs"]
    assert finding["status"] == status and finding["detail"].startswith(words), finding


def test_acs_results_without_evidence_fields_are_not_a_pass():
    inputs = rtx4090_stock_box()
    inputs["acs"] = {"devices": [], "enabled_count": 0}  # an older pci_acs result: nothing says lspci showed anything
    assert by_id(judge(inputs))["acs"]["status"] == "skipped"
    inputs["acs"] = {"failed": True, "msg": "lspci was not found in PATH or the sbin directories; install pciutils."}
    finding = by_id(judge(inputs))["acs"]
    assert finding["status"] == "skipped" and finding["detail"].startswith("ACS could not be read (lspci was not found")


def test_links_live_in_module_utils():
    """The physics moved to module_utils/_links.py; the filter uses (and re-exports) it."""
    assert pair_limit is _links.pair_limit
    assert _links.pcie_limit_gbps(4, 16) == 31.5 and _links.pcie_limit_gbps("3", "16") == 15.75
    assert _links.pcie_limit_gbps(None, 16) is None and _links.pcie_limit_gbps([4], {}) is None
    assert _links.nvlink_limit_gbps({"name": "NVIDIA A100-SXM4-80GB"}, 12) == (300.0, "Ampere 25 GB/s per link")
    assert _links.nvlink_limit_gbps({"name": "NVIDIA GeForce RTX 3090"}, 4) == (56.25, "Ampere 14.0625 GB/s per link")
    assert _links.nvlink_limit_gbps({"name": "mystery"}, 4) == (None, None)
    assert _links.architecture({"name": "NVIDIA H100 80GB HBM3"}) == "Hopper"
    assert _links.architecture({"architecture": "Ada Lovelace", "name": "x"}) == "Ada Lovelace"
    assert _links.architecture(None) is None and _links.pair_limit(None, 0, 1) == (None, "GPU not in nvidia-smi")


# Every value a key may wrongly hold: numbers as strings (read), and other types (counted as missing).
WRONG = ["16", "0.8", "12.3", "x", "", None, [], [1, "a", None], {}, {"a": 1}, True, -1, 1e30, float("nan")]


def _paths(value, prefix=()):
    """Every key path of ``value`` (dicts, and the first item of each list), leaves included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list) and value:
        yield from _paths(value[0], prefix + (0,))


def _replaced(value, path, new):
    value = copy.deepcopy(value)
    if not path:
        return new
    holder = value
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = new
    return value


def test_every_input_key_with_wrong_types_never_raises():
    """Before: a TypeError for pcie widths '16', gpu counts as strings, min_share '0.8', busbw '12.3'."""
    base = dual_2080()
    base.update(acs=acs_result("H_lspci-D-vvvPP_full_lenovo-p920_quadro-rtx4000_acs-TransBlk-enabled_mithro.txt"),
                smi_load=loaded_sample(base["smi"]),
                nccl_runs=base["nccl_runs"] + [{"name": "sendrecv_perf",
                                                "result": nccl_log("E_1x-rtx4090_all_reduce_hang-at-using-devices_"
                                                                   "nccl-tests-117.txt", timed_out=True),
                                                "p2p_disabled": nccl_log("E_8x-rtx4090_all_reduce_stock-no-p2p_"
                                                                         "chlc-blog.txt")}])
    base["acs"]["devices"] = base["acs"]["devices"][:2]
    paths = sorted(set(_paths(base)), key=len)
    assert len(paths) > 150
    for path in paths:
        for wrong in WRONG:
            inputs = _replaced(base, path, wrong)
            report = gpu_validation_judge(inputs, known_bad=KNOWN_BAD)
            assert report["verdict"] in ("pass", "warn", "fail", "skipped"), (path, wrong)
            json.dumps(report)
            gpu_validation_markdown(report)
    for wrong in WRONG:
        gpu_validation_judge(base, known_bad=wrong, min_share=wrong)
        gpu_validation_judge(base, known_bad=[{"product": "RTX (2080", "driver_branch": wrong, "severity": wrong,
                                               "p2p_status": wrong, "architectures": wrong, "brand": wrong}],
                             min_share=wrong)
        gpu_validation_fails_on(wrong, wrong)
        gpu_validation_markdown({"findings": [{"status": "fail", "title": wrong, "detail": wrong}], "gpus": [wrong],
                                 "nccl": {"runs": [{"avg_busbw_gbps": wrong, "p2p_disabled": wrong}],
                                          "limit_gbps": wrong}, "p2p_heatmap": {"matrix": [], "title": wrong},
                                 "host": wrong, "verdict": wrong, "summary": wrong})


def test_numbers_given_as_strings_are_read_as_numbers():
    inputs = dual_2080()
    for gpu in inputs["smi"]["gpus"]:
        for key in ("pcie_width_current", "pcie_width_max", "pcie_gen_current", "pcie_gen_max"):
            gpu[key] = str(gpu[key])
    inputs["smi"]["gpu_count"] = "2"
    inputs["nccl_runs"][0]["result"]["max_busbw_gbps"] = "4.0"
    inputs["iommu_groups"] = "0"
    report = judge(inputs, min_share="0.8")
    assert report == judge(dual_2080())
