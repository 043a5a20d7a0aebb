"""Kernel-log findings (_kernel_log.py) over real Xid, SXid and AER lines (fixtures/kernel_log)."""
import os

import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils import _xid_catalog as catalog
from ansible_collections.aiserver.gpu.plugins.module_utils._kernel_log import findings, parse_kernel_log

from captures import (
    KLOG_AER_CORRECTED_RU,
    KLOG_AER_DLL_TIMEOUT_BADTLP,
    KLOG_AER_FATAL_CANT_RECOVER,
    KLOG_AER_OLD_ID,
    KLOG_SXID_12028,
    KLOG_XID_119_H100,
    KLOG_XID_13_109,
    KLOG_XID_32_31_OLD,
    KLOG_XID_3_FALLEN_OLD,
    KLOG_XID_45_CAUSED_BY,
    KLOG_XID_69_31,
    KLOG_XID_79,
    fixture_path,
)

ALL = [KLOG_AER_CORRECTED_RU, KLOG_AER_DLL_TIMEOUT_BADTLP, KLOG_AER_FATAL_CANT_RECOVER, KLOG_AER_OLD_ID,
       KLOG_SXID_12028, KLOG_XID_119_H100, KLOG_XID_13_109, KLOG_XID_32_31_OLD, KLOG_XID_3_FALLEN_OLD,
       KLOG_XID_45_CAUSED_BY, KLOG_XID_69_31, KLOG_XID_79]


def read(name):
    with open(fixture_path("kernel_log", name), "rb") as handle:
        return handle.read()


def parsed(name):
    warnings = []
    result = parse_kernel_log(read(name), warn=warnings.append)
    assert warnings == []
    return result


def by_kind(result, kind):
    return [f for f in findings(result)["findings"] if f["kind"] == kind]


def test_every_kernel_log_fixture_is_tested_and_has_its_source():
    folder = os.path.dirname(fixture_path("kernel_log", "x"))
    names = sorted(n for n in os.listdir(folder) if n.endswith(".txt"))
    assert names == sorted(ALL)
    for name in names:
        assert os.path.isfile(os.path.join(folder, name[:-4] + ".source")), name


# --------------------------------------------------------------------------- Xid

def test_xid_119_with_pid_and_name_dmesg_T_names_the_gpu_with_its_uuid():
    result = parsed(KLOG_XID_119_H100)
    assert [x["code"] for x in result["xid"]] == [119] * 5
    first = result["xid"][0]
    assert (first["bus_id"], first["pid"], first["process"], first["line"]) == ("0000:9b:00.0", "2024380", "nvidia-smi", 3)
    assert first["message"].startswith("Timeout after 6s of waiting for RPC response from GPU4 GSP!")
    assert result["uuids"] == {"0000:9b:00.0": "GPU-509665ad-b600-ac93-3616-d754b23d636d"}
    (finding,) = by_kind(result, "xid")
    assert (finding["status"], finding["action"], finding["count"]) == ("FAIL", "reset_gpu", 5)
    assert "GPU 0000:9b:00.0 (GPU-509665ad-b600-ac93-3616-d754b23d636d): Xid 119 (GSP_RPC_TIMEOUT)" in finding["sentence"]
    assert "5 times" in finding["sentence"] and "line 3" in finding["sentence"]
    assert finding["fix"].startswith("Reset the GPU") and catalog.CATALOG_URL in finding["fix"]
    assert findings(result)["by_gpu"] == {"0000:9b:00.0": "FAIL"}


def test_xid_quoted_unknown_pid_is_none_and_each_code_is_its_own_finding():
    result = parsed(KLOG_XID_13_109)
    assert [(x["code"], x["pid"], x["process"]) for x in result["xid"]] == [
        (13, None, None), (13, None, None), (13, None, None), (109, "1797828", "pt_main_thread")]
    assert result["xid"][0]["message"].startswith("Graphics SM Warp Exception on (GPC 7, TPC 7, SM 0)")
    found = {f["code"]: f for f in by_kind(result, "xid")}
    assert (found[13]["count"], found[13]["status"], found[13]["action"]) == (3, "WARN", "check_application")
    assert (found[109]["count"], found[109]["status"]) == (1, catalog.describe(109)["status"])
    assert "Process: pt_main_thread." in found[109]["sentence"]
    assert findings(result)["status"] == "FAIL"   # 109 is a FAIL in the catalogue


def test_old_xid_format_without_pid_and_name():
    result = parsed(KLOG_XID_32_31_OLD)
    assert [(x["code"], x["bus_id"], x["pid"]) for x in result["xid"]] == [
        (32, "0000:01:00.0", None), (32, "0000:01:00.0", None), (31, "0000:01:00.0", None)]
    assert result["xid"][0]["message"] == "Channel ID 00000000 intr 00004000"
    assert sorted((f["code"], f["count"]) for f in by_kind(result, "xid")) == [(31, 1), (32, 2)]


def test_oldest_xid_without_pci_prefix_and_fallen_off_the_bus_without_xid_79():
    result = parsed(KLOG_XID_3_FALLEN_OLD)
    assert [(x["code"], x["bus_id"]) for x in result["xid"]] == [(3, "0000:01:00.0")]
    assert [(f["bus_id"], f["line"]) for f in result["fallen_off_bus"]] == [("0000:01:00.0", 1)]
    (xid3,) = by_kind(result, "xid")
    assert xid3["mnemonic"] is None and xid3["status"] == "WARN" and xid3["confirmed"] is False
    assert "does not describe" in xid3["sentence"]
    (fallen,) = by_kind(result, "fallen_off_bus")
    assert (fallen["status"], fallen["action"], fallen["code"]) == ("FAIL", "reboot", 79)
    assert "has fallen off the bus" in fallen["sentence"] and "no Xid 79" in fallen["sentence"]
    assert findings(result)["by_gpu"] == {"0000:01:00.0": "FAIL"}


def test_xid_79_and_its_fallen_line_make_one_finding():
    result = parsed(KLOG_XID_79)
    assert [x["code"] for x in result["xid"]] == [79]
    assert len(result["fallen_off_bus"]) == 1
    found = findings(result)["findings"]
    assert [(f["kind"], f["code"], f["status"], f["action"]) for f in found] == [("xid", 79, "FAIL", "reboot")]
    assert "GPU-0b11d014-1685-04bd-26ed-5fc0bc1c44ae" in found[0]["sentence"]


def test_xid_45_names_the_previous_xid_and_a_truncated_last_line_still_reads():
    result = parsed(KLOG_XID_45_CAUSED_BY)
    assert len(result["xid"]) == 8
    assert [x["caused_by"] for x in result["xid"]] == [149, 145, 145, 145, 149, 145, 145, None]
    found = {f["bus_id"]: f for f in by_kind(result, "xid")}
    assert sorted(found) == ["0000:97:00.0", "0000:ba:00.0", "0000:dc:00.0", "0000:ed:00.0"]
    assert found["0000:dc:00.0"]["caused_by"] == [149]
    assert "follows Xid 149: that Xid is the fault to act on" in found["0000:dc:00.0"]["sentence"]
    assert all(f["status"] == "PASS" for f in found.values())


def test_xid_69_and_31_on_one_gpu():
    result = parsed(KLOG_XID_69_31)
    assert sorted((f["code"], f["count"]) for f in by_kind(result, "xid")) == [(31, 1), (69, 7)]


def test_xid_154_takes_the_recovery_action_the_line_names():
    line = ("[ 100.000000] NVRM: Xid (PCI:0000:9b:00): 154, GPU recovery action changed from 0x0 (None) "
            "to 0x2 (Node Reboot Required)")
    (finding,) = findings(parse_kernel_log(line))["findings"]
    assert (finding["code"], finding["action"], finding["status"]) == (154, "reboot", "FAIL")


def test_an_xid_line_that_cannot_be_read_is_warned_not_dropped_silently():
    warnings = []
    result = parse_kernel_log("kernel: NVRM: Xid (PCI:0000:2b", warn=warnings.append)
    assert result["xid"] == [] and len(warnings) == 1 and "line 1" in warnings[0]


# --------------------------------------------------------------------------- SXid

def test_sxid_nvswitch_iso_dmesg_with_facility_column():
    result = parsed(KLOG_SXID_12028)
    (record,) = result["sxid"]
    assert (record["code"], record["device"], record["bus_id"], record["fatal"]) == (
        12028, "nvidia-nvswitch1", "0000:84:00.0", None)
    (finding,) = by_kind(result, "sxid")
    assert finding["status"] == "WARN" and "nvidia-nvswitch1" in finding["sentence"]


def test_fatal_sxid_fails():
    line = "nvidia-nvswitch0: SXid (PCI:0000:05:00.0): 20034, Fatal, Link 30 LTSSM Fault Up"
    (finding,) = findings(parse_kernel_log(line))["findings"]
    assert (finding["status"], finding["action"]) == ("FAIL", "drain")


# --------------------------------------------------------------------------- AER

def test_aer_uncorrected_fatal_without_prefix_and_cant_recover_marks_the_gpu_below():
    result = parsed(KLOG_AER_FATAL_CANT_RECOVER)
    (event,) = result["aer"]
    assert (event["bus_id"], event["severity"], event["multiple"], event["layer"], event["agent"]) == (
        "0000:00:03.0", "fatal", True, "Transaction Layer", "requester")
    assert (event["vendor_device"], event["status"], event["mask"]) == ("8086:6f08", "00004020", "00000000")
    assert event["errors"] == [{"bit": 5, "name": "SDES", "first": False}, {"bit": 14, "name": "CmpltTO", "first": True}]
    assert event["recovered"] is False
    assert {"bus_id": "0000:03:00.0", "driver": "nvidia"} in event["unrecovered"]
    result_findings = findings(result)
    (finding,) = result_findings["findings"]
    assert (finding["status"], finding["action"], finding["gpu"]) == ("FAIL", "reboot", False)
    assert finding["gpus_affected"] == ["0000:03:00.0"]
    assert "SDES, CmpltTO" in finding["sentence"] and "0000:03:00.0 (nvidia)" in finding["sentence"]
    assert result_findings["by_gpu"] == {"0000:03:00.0": "FAIL"}


def test_aer_corrected_with_aer_prefix_localised_journal_counts_each_event():
    result = parsed(KLOG_AER_CORRECTED_RU)
    assert len(result["aer"]) == 3
    assert all(e["severity"] == "corrected" and e["errors"] == [{"bit": 0, "name": "RxErr", "first": True}]
               for e in result["aer"])
    (finding,) = findings(result)["findings"]
    assert (finding["status"], finding["count"], finding["gpu"]) == ("WARN", 3, False)
    assert finding["fix"].startswith("Watch it")
    assert findings(result)["by_gpu"] == {}      # a root port with no GPU named: no GPU is judged


def test_aer_newer_wording_correctable_message_received_from():
    result = parsed(KLOG_AER_DLL_TIMEOUT_BADTLP)
    assert [(e["agent"], e["source"], [b["name"] for b in e["errors"]]) for e in result["aer"]] == [
        ("transmitter", "0000:00:00.0", ["Timeout"]), ("receiver", "0000:00:00.0", ["BadTLP"])]
    (finding,) = findings(result)["findings"]
    assert finding["errors"] == ["Timeout", "BadTLP"] and finding["count"] == 2


def test_aer_old_wording_with_requester_id():
    (event,) = parsed(KLOG_AER_OLD_ID)["aer"]
    assert (event["source"], event["agent"], event["errors"][0]["name"]) == ("00e5", "receiver", "Receiver Error")


def test_aer_of_a_gpu_itself_is_judged_for_that_gpu():
    text = read(KLOG_AER_CORRECTED_RU).decode("utf-8")
    result = findings(parse_kernel_log(text), gpus=["00000000:00:1C.5"])
    assert result["by_gpu"] == {"0000:00:1c.5": "WARN"}
    assert result["findings"][0]["sentence"].startswith("GPU 0000:00:1c.5: 3 corrected")


# --------------------------------------------------------------------------- whole logs

@pytest.mark.parametrize("name", ALL, ids=lambda name: name[:40])
def test_every_finding_has_a_status_an_action_a_sentence_and_a_fix(name):
    result = findings(parsed(name))
    assert result["findings"], name
    for finding in result["findings"]:
        assert finding["status"] in ("PASS", "WARN", "FAIL")
        assert finding["action"] in catalog.ACTIONS
        assert finding["sentence"].endswith(".") and finding["fix"].endswith(".")
        assert finding["lines"] and finding["count"] == len(finding["lines"])


def test_a_log_without_findings_passes_and_bad_bytes_do_not_raise():
    assert findings(parse_kernel_log(""))["status"] == "PASS"
    assert findings(parse_kernel_log(b"\xff\xfe kernel: usb 1-1: new device\n"))["findings"] == []
    assert parse_kernel_log(None)["lines"] == 0


def test_several_logs_together_keep_their_gpus_apart():
    text = b"\n".join(read(name) for name in (KLOG_XID_119_H100, KLOG_XID_79, KLOG_XID_13_109))
    result = findings(parse_kernel_log(text))
    assert result["by_gpu"] == {"0000:9b:00.0": "FAIL", "0000:2b:00.0": "FAIL", "0000:cb:00.0": "FAIL"}


# --------------------------------------------------------------------------- the catalogue (data)

def test_catalogue_entries_are_well_formed_and_cover_the_codes_users_meet():
    for code, entry in catalog.XIDS.items():
        assert isinstance(code, int)
        assert entry["action"] in catalog.ACTIONS, code
        assert entry["status"] in ("PASS", "WARN", "FAIL"), code
        assert entry["mnemonic"] and entry["meaning"] and entry["why"], code
        assert entry["source"] == catalog.CATALOG_URL
    # fallen off the bus, ECC double-bit, row remapping (issue 16), GSP, NVLink, preemptive cleanup
    assert {79, 48, 63, 64, 94, 95, 119, 74, 45, 154} <= set(catalog.XIDS)
    assert catalog.describe(79)["status"] == "FAIL" and catalog.describe(48)["status"] == "FAIL"
    assert catalog.describe(99999) == catalog.UNKNOWN and catalog.describe(99999) is not catalog.UNKNOWN
    for action, status in catalog.RECOVERY_ACTIONS.values():
        assert action in catalog.ACTIONS and status in ("PASS", "WARN", "FAIL")
    assert set(catalog.ACTION_TEXT) == set(catalog.ACTIONS)
