"""The bios_ipmi role's BIOS comparison, over REAL Redfish Bios documents (tests/unit/fixtures/redfish:
a Supermicro X12 system, its pending-settings object Bios/SD, and a Dell PowerEdge MX740c, see their
.source) and the role's own per-vendor map."""
import json
import os

import pytest
import yaml

import captures
from ansible_collections.aiserver.gpu.plugins.filter.bios_attributes import (
    attributes_of, bios_attribute_findings, read_attributes)
from captures import fixture_path

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
SUPERMICRO = "K_redfish-bios_supermicro-x12-intel_real-world-fixture_buildio.json"
DELL = "K_redfish-bios-attributes_dell-poweredge-mx740c_idrac_gather_facts-sample.json"


def load(name):
    with open(fixture_path("redfish", name), encoding="utf-8") as handle:
        return json.load(handle)


def vendor_map():
    with open(os.path.join(ROOT, "roles", "bios_ipmi", "vars", "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["__bios_ipmi_redfish_vendor_attributes"]


def test_supermicro_x12_against_the_role_map():
    findings = bios_attribute_findings(load(SUPERMICRO), vendor_map()["supermicro"])
    by_name = dict((f["attribute"], f) for f in findings)
    assert [f["attribute"] for f in findings] == ["Above4GDecoding", "Re_SizeBARSupport", "ACSControl"]
    assert by_name["Above4GDecoding"]["status"] == "ok"
    assert by_name["Re_SizeBARSupport"] == {
        "attribute": "Re_SizeBARSupport", "expected": "Enabled", "actual": "Disabled", "status": "mismatch",
        "msg": "Re_SizeBARSupport is Disabled, expected Enabled"}
    # The capture spells it "Enable"; the map asks for "Disable".
    assert by_name["ACSControl"]["actual"] == "Enable" and by_name["ACSControl"]["status"] == "mismatch"


def test_dell_mx740c_against_the_role_map():
    findings = bios_attribute_findings(load(DELL), vendor_map()["dell"])
    assert [(f["attribute"], f["actual"], f["status"]) for f in findings] == [
        ("MmioAbove4Gb", "Enabled", "ok"), ("SriovGlobalEnable", "Disabled", "mismatch")]


def test_every_mapped_attribute_exists_in_its_vendor_capture():
    """The names in the role's map are real: each appears in the capture of its vendor."""
    captures = {"supermicro": SUPERMICRO, "dell": DELL}
    for vendor, wanted in vendor_map().items():
        attributes = attributes_of(load(captures[vendor]))
        assert set(wanted) <= set(attributes), vendor


def test_enable_and_enabled_are_the_same():
    attrs = attributes_of(load(SUPERMICRO))
    assert attrs["Intel__VTforDirectedI_O_VT_d_"] == "Enable"
    [finding] = bios_attribute_findings(attrs, {"Intel__VTforDirectedI_O_VT_d_": "Enabled"})
    assert finding["status"] == "ok"


def test_redfish_info_result_shape_and_missing_attribute():
    attrs = attributes_of(load(DELL))
    result = {"ret": True, "entries": [[{"system_uri": "/redfish/v1/Systems/System.Embedded.1"}, attrs]]}
    [finding] = bios_attribute_findings(result, {"Above4GDecoding": "Enabled"})
    assert finding["status"] == "missing" and finding["actual"] is None
    assert "195 attributes" in finding["msg"]


@pytest.mark.parametrize("value, want, status", [
    (True, True, "ok"), (0, 0, "ok"), ("56TB", "56tb", "ok"), ("Disabled", "Enabled", "mismatch")])
def test_value_comparison(value, want, status):
    assert bios_attribute_findings({"X": value}, {"X": want})[0]["status"] == status


def test_bios_sd_without_attributes_reads_as_no_attributes():
    """Before: Supermicro's pending Bios/SD object (no Attributes member) had its Id, Name and
    @odata.* properties compared as BIOS attributes ("Above4GDecoding is not among this
    BIOS's 8 attributes"). Now it has none, and says so."""
    sd = load(captures.REDFISH_BIOS_SD_PENDING_SUPERMICRO)
    assert "Attributes" not in sd and sd["Id"] == "SD"
    attributes, problem = read_attributes(sd)
    assert attributes == {} and attributes_of(sd) == {}
    assert problem.startswith("the Redfish resource /redfish/v1/Systems/1/Bios/SD (BIOS Configuration Pending "
                              "Settings) has no Attributes member")
    findings = bios_attribute_findings(sd, vendor_map()["supermicro"])
    assert [f["status"] for f in findings] == ["no_attributes"] * 3
    assert findings[0]["msg"].startswith("Above4GDecoding not checked: the Redfish resource /redfish/v1/Systems/1/Bios/SD")
    assert all(f["actual"] is None for f in findings)
    # Not one resource property is taken for an attribute.
    [finding] = bios_attribute_findings(sd, {"Id": "SD"})
    assert finding["status"] == "no_attributes"


def test_resource_properties_are_never_attributes():
    """The whole X12 resource: only the members of Attributes count."""
    full = load(captures.REDFISH_BIOS_SUPERMICRO_X12)
    attributes = attributes_of(full)
    assert "Id" not in attributes and "@odata.id" not in attributes and len(attributes) == 312
    assert bios_attribute_findings(full, {"Name": "x"})[0]["status"] == "missing"


@pytest.mark.parametrize("data, words", [
    (None, "the BIOS data is null"),
    ([], "the BIOS data is a list"),
    ({}, "the BIOS attributes are empty"),
    ({"ret": True, "entries": [[{"system_uri": "/redfish/v1/Systems/1"}, {}]]},
     "redfish_info returned no BIOS attributes for /redfish/v1/Systems/1"),
    ({"@odata.id": "/redfish/v1/Systems/1/Bios", "Id": "Bios", "Name": "BIOS", "Attributes": None},
     "the Attributes member of the Redfish resource /redfish/v1/Systems/1/Bios (BIOS) is not an object"),
])
def test_no_attributes_is_said(data, words):
    [finding] = bios_attribute_findings(data, {"Above4GDecoding": "Enabled"})
    assert finding["status"] == "no_attributes" and words in finding["msg"]
