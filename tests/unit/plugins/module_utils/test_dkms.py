# -*- coding: utf-8 -*-
"""plugins/module_utils/_dkms.py over real ``dkms status`` captures (fixtures/dkms)."""
import pytest

from captures import (DKMS_DEBIAN12_TWO_KERNELS_ONE_BUILT, DKMS2_P100_DIFF_WARNING, DKMS3_CENTOS7_470,
                      DKMS3_PARROT_TWO_KERNELS, fixture_path)

from ansible_collections.aiserver.gpu.plugins.module_utils import _dkms


def read(name):
    with open(fixture_path("dkms", name), encoding="utf-8") as handle:
        return handle.read()


def test_dkms2_format_with_repeated_warnings_and_a_built_only_version():
    warned = []
    records = _dkms.parse_status(read(DKMS2_P100_DIFF_WARNING), warned.append)
    assert warned == []
    assert [(r["module"], r["version"], r["kernel"], r["arch"], r["state"]) for r in records] == [
        ("nvidia", "396.44", "3.10.0-862.3.2.el7.x86_64", "x86_64", "installed"),
        ("nvidia", "440.31", "3.10.0-862.3.2.el7.x86_64", "x86_64", "built"),
    ]
    assert records[0]["notes"] == ["WARNING! Diff between built and installed module!"] * 3
    # installed wins over built for the same kernel, whatever the versions
    assert _dkms.for_kernel(records, "3.10.0-862.3.2.el7.x86_64")["version"] == "396.44"


def test_dkms3_format_one_line():
    (record,) = _dkms.parse_status(read(DKMS3_CENTOS7_470))
    assert (record["module"], record["version"], record["kernel"], record["state"]) == (
        "nvidia", "470.63.01", "3.10.0-1160.83.1.el7.x86_64", "installed")
    assert record["notes"] == []


def test_dkms3_debian_module_name_two_kernels():
    records = _dkms.parse_status(read(DKMS3_PARROT_TWO_KERNELS))
    assert [r["kernel"] for r in records] == ["6.19.13+parrot7-amd64", "7.0.9+parrot7-amd64"]
    assert all(r["module"] == "nvidia-current" and r["version"] == "550.163.01" for r in records)
    assert _dkms.for_kernel(records, "7.0.9+parrot7-amd64")["state"] == "installed"
    assert _dkms.for_kernel(records, "6.1.0-50-amd64") is None
    # a configurable module name must match exactly
    assert _dkms.for_kernel(records, "7.0.9+parrot7-amd64", wanted="nvidia-current") is not None
    assert _dkms.for_kernel(records, "7.0.9+parrot7-amd64", wanted="dummy") is None


def test_debian12_vm_capture_kernel_without_build():
    """Captured in the test bed's Debian 12 VM: the driver built for the first kernel only."""
    records = _dkms.parse_status(read(DKMS_DEBIAN12_TWO_KERNELS_ONE_BUILT))
    built = [r["kernel"] for r in records if r["state"] == "installed"]
    assert built == ["6.1.0-50-cloud-amd64"]
    assert _dkms.added_only(records) == ["535.309.01"]


@pytest.mark.parametrize("line, expected", [
    ("nvidia, 440.33.01: added", ("nvidia", "440.33.01", None, "added")),
    ("nvidia/535.309.01: added", ("nvidia", "535.309.01", None, "added")),
    ("nvidia-current/535.309.01, 6.1.0-50-cloud-amd64, x86_64: installed (original_module exists)",
     ("nvidia-current", "535.309.01", "6.1.0-50-cloud-amd64", "installed")),
], ids=["dkms2-added", "dkms3-added", "dkms3-note"])
def test_synthetic_line_forms(line, expected):
    (record,) = _dkms.parse_status(line + "\n")
    assert (record["module"], record["version"], record["kernel"], record["state"]) == expected


def test_lines_not_understood_are_warned_not_fatal():
    warned = []
    text = "Error! Could not locate dkms.conf file.\n\nnvidia/470.63.01, 5.15.0-1-amd64, x86_64: installed\n"
    records = _dkms.parse_status(text, warned.append)
    assert len(records) == 1 and len(warned) == 1 and "dkms.conf" in warned[0]
    assert _dkms.parse_status(None) == []


def test_is_nvidia():
    assert _dkms.is_nvidia("nvidia") and _dkms.is_nvidia("nvidia-current") and _dkms.is_nvidia("nvidia-srv")
    assert not _dkms.is_nvidia("nvidia-fs") and not _dkms.is_nvidia("virtualbox")
