"""The one GPU-state decision (plugins/filter/gpu_facts.py), over nvidia_smi_info results
made from real captures: real -q -x XML through the module's parser, and the real nvidia-smi
failures measured on the Debian test bed (captures.SMI_DEBIAN_*)."""
import pytest

from ansible_collections.aiserver.gpu.plugins.filter.gpu_facts import gpu_state
from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import classify_failure, parse_query_xml
from captures import (SMI_DEBIAN_FULL_DRIVER, SMI_DEBIAN_NO_RECOMMENDS, SMI_DEBIAN_SMI_ALONE, SMI_XML_DUAL_2080,
                      SMI_XML_RTX3090, fixture_path)


def smi_ok(name):
    with open(fixture_path("nvidia_smi", name)) as handle:
        info = parse_query_xml(handle.read())
    return dict(changed=False, driver_version=info["driver_version"], cuda_version=info["cuda_version"],
                gpu_count=info["gpu_count"], gpus=info["gpus"], nvidia_smi_calls=1)


def smi_failed(measured):
    rc, text = measured
    kind, msg = classify_failure(rc, text, "")
    return dict(failed=True, error_kind=kind, msg=msg, rc=rc, nvidia_smi_calls=1)


def bus_ids(result):
    return [gpu["pci_bus_id"] for gpu in result["gpus"]]


def test_working():
    smi = smi_ok(SMI_XML_DUAL_2080)
    verdict = gpu_state(smi, bus_ids(smi))
    assert verdict["state"] == "working" and verdict["present"] is True
    assert verdict["gpu_count"] == 2 and verdict["missing_bus_ids"] == []
    assert verdict["driver_version"] == smi["driver_version"]
    assert verdict["sentence"].startswith("2 NVIDIA GPU(s) working (")


def test_sysfs_and_nvidia_smi_spellings_of_a_bus_id_compare_equal():
    smi = smi_ok(SMI_XML_RTX3090)
    sysfs = [bus_ids(smi)[0].lower()]
    smi["gpus"][0]["pci_bus_id"] = "0000" + smi["gpus"][0]["pci_bus_id"].upper()  # nvidia-smi's 8-digit domain
    assert gpu_state(smi, sysfs)["missing_bus_ids"] == []


def test_working_with_a_gpu_missing_from_nvidia_smi_names_it():
    smi = smi_ok(SMI_XML_RTX3090)
    verdict = gpu_state(smi, bus_ids(smi) + ["0000:b3:00.0"])
    assert verdict["state"] == "working" and verdict["missing_bus_ids"] == ["0000:b3:00.0"]
    assert "0000:b3:00.0" in verdict["sentence"] and "Xid 79" in verdict["sentence"]


@pytest.mark.parametrize("measured", [SMI_DEBIAN_FULL_DRIVER, SMI_DEBIAN_NO_RECOMMENDS, SMI_DEBIAN_SMI_ALONE],
                         ids=["rc9", "rc17", "rc255"])
def test_no_gpu_on_the_bus_is_none_whatever_nvidia_smi_says(measured):
    verdict = gpu_state(smi_failed(measured), [])
    assert verdict["state"] == "none" and verdict["present"] is False
    assert verdict["sentence"].startswith("No NVIDIA GPU on this host (none on the PCI bus; nvidia-smi: ")
    assert verdict["error_kind"] in verdict["sentence"]


@pytest.mark.parametrize("measured", [SMI_DEBIAN_FULL_DRIVER, SMI_DEBIAN_NO_RECOMMENDS, SMI_DEBIAN_SMI_ALONE],
                         ids=["rc9", "rc17", "rc255"])
def test_gpus_on_the_bus_and_nvidia_smi_failing_is_broken(measured):
    smi = smi_failed(measured)
    verdict = gpu_state(smi, ["0000:01:00.0", "0000:02:00.0"])
    assert verdict["state"] == "broken" and verdict["present"] is True
    assert verdict["sentence"].startswith("2 NVIDIA GPU(s) on the PCI bus (0000:01:00.0, 0000:02:00.0) but "
                                          "nvidia-smi fails (%s): " % smi["error_kind"])
    assert measured[1] in verdict["sentence"]


def test_not_installed_nvidia_smi():
    smi = dict(failed=True, error_kind="not_installed", msg="not_installed: 'nvidia-smi' is not an executable file")
    assert gpu_state(smi, [])["state"] == "none"
    assert gpu_state(smi, ["0000:01:00.0"])["state"] == "broken"


def test_nvidia_smi_lists_no_gpu_but_the_bus_has_one():
    smi = dict(changed=False, gpus=[], gpu_count=0, driver_version="535.216.01")
    verdict = gpu_state(smi, ["0000:01:00.0"])
    assert verdict["state"] == "broken" and "nvidia-smi lists no GPU" in verdict["sentence"]


@pytest.mark.parametrize("smi,pci", [(None, None), ("text", "0000:01:00.0"), ({"gpus": "x"}, [None, 3]),
                                     ({"gpus": [None, 1]}, [])])
def test_never_raises(smi, pci):
    assert gpu_state(smi, pci)["state"] in ("none", "working", "broken")
