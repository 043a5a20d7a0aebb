"""The driver's parts over REAL captures (tests/unit/fixtures/driver, see each .source):
/proc/driver/nvidia/version, modinfo nvidia, dpkg-query and dpkg -l listings, and the
comparison that names a driver/library mismatch with its fix."""
import os

import pytest

import captures
from captures import fixture_path
from ansible_collections.aiserver.gpu.plugins.module_utils import _driver_versions as dv


def read(name):
    with open(fixture_path("driver", name), "rb") as handle:
        return handle.read().decode("utf-8")


def pkgs(name):
    warnings = []
    out = dv.packages_of(dv.parse_dpkg_query(read(name), warn=warnings.append))
    assert warnings == []
    return out


def test_every_fixture_has_its_source():
    folder = fixture_path("driver", "")
    names = [n for n in os.listdir(folder) if n.endswith(".txt")]
    assert len(names) >= 15
    for name in names:
        assert os.path.isfile(os.path.join(folder, name[:-4] + ".source")), name


# --------------------------------------------------------------------------- /proc and modinfo

@pytest.mark.parametrize("name, version, flavour", [
    (captures.PROC_PROPRIETARY_580_TRUENAS, "580.173.02", "proprietary"),
    (captures.PROC_PROPRIETARY_520_DEBIAN, "520.56.06", "proprietary"),
    (captures.PROC_OPEN_565_UBUNTU, "565.57.01", "open"),
    (captures.PROC_SYNTHETIC_535_261, "535.261.03", "proprietary"),
])
def test_proc_version(name, version, flavour):
    parsed = dv.parse_proc_version(read(name))
    assert (parsed["version"], parsed["flavour"]) == (version, flavour)


@pytest.mark.parametrize("name, expected", [
    (captures.MODINFO_PROPRIETARY_430, {"version": "430.40", "vermagic": "5.3.6-1-MANJARO", "signer": None,
                                        "license": "NVIDIA",
                                        "filename": "/lib/modules/5.3.6-1-MANJARO/extramodules/nvidia.ko.gz"}),
    (captures.MODINFO_OPEN_595, {"version": "595.80", "vermagic": None, "signer": None, "license": "Dual MIT/GPL",
                                 "filename": "/lib/modules/7.0.12-zen1-1-zen/updates/dkms/nvidia.ko.zst"}),
    (captures.MODINFO_SYNTHETIC_535_309, {"version": "535.309.01", "vermagic": "6.1.0-28-amd64",
                                          "signer": "DKMS module signing key", "license": "NVIDIA",
                                          "filename": "/lib/modules/6.1.0-28-amd64/updates/dkms/nvidia.ko"}),
])
def test_modinfo(name, expected):
    assert dv.parse_modinfo(read(name)) == expected


def test_modinfo_module_not_found_is_none():
    assert dv.parse_modinfo(read(captures.MODINFO_NOT_FOUND)) is None


# --------------------------------------------------------------------------- versions

@pytest.mark.parametrize("version, upstream, driver", [
    ("535.309.01-0+deb12u1", "535.309.01", "535.309.01"),
    ("535.183.01-0ubuntu0.22.04.1", "535.183.01", "535.183.01"),
    ("535.261.03-1", "535.261.03", "535.261.03"),
    ("440.82-0ubuntu0~0.18.04.", "440.82", "440.82"),          # cut by dpkg -l's column
    ("20220217+3~deb12u1", "20220217+3~deb12u1", None),         # nvidia-kernel-common, nvidia-support
    ("1.2.2", "1.2.2", None),                                   # glx-alternative-nvidia
    ("1:1.1.10-1", "1.1.10", None),                             # libnvidia-egl-wayland1
    ("6.8.0-51.52+1", "6.8.0", None),                           # linux-modules-nvidia-550-server-6.8.0-51-generic
    ("", None, None), (None, None, None), ("-1", None, None),
])
def test_upstream_and_driver_version(version, upstream, driver):
    assert dv.upstream_version(version) == upstream
    assert dv.driver_version(version) == driver


def test_version_order_is_numeric():
    assert dv.version_key("535.54.03") < dv.version_key("535.104.05") < dv.version_key("535.309.01")


# --------------------------------------------------------------------------- dpkg listings

def test_debian12_listing_sorts_the_parts():
    out = pkgs(captures.DPKG_DEBIAN12_535_309)
    assert out["kernel_module_packages"] == ["nvidia-kernel-dkms", "nvidia-kernel-support"]
    assert set(out["userspace"].values()) == {"535.309.01"}
    assert {"libnvidia-ml1", "nvidia-driver-libs", "nvidia-alternative", "libglx-nvidia0"} <= set(out["userspace"])
    # Named NVIDIA, versioned otherwise or not the driver's: never counted.
    for name in ("nvidia-kernel-common", "nvidia-support", "nvidia-installer-cleanup", "glx-alternative-nvidia",
                 "libnvidia-egl-wayland1", "firmware-nvidia-gsp", "nvidia-modprobe"):
        assert name in out["packages"] and name not in out["userspace"] and name not in out["kernel"]
    # 'un' lines (known by name only) are not installed.
    assert "libcuda1" not in out["packages"] and "nvidia-smi" not in out["packages"]
    assert out["packages"]["nvidia-kernel-common"] == "20220217+3~deb12u1"


def test_dpkg_l_and_dpkg_query_read_alike():
    query = pkgs(captures.DPKG_DEBIAN12_MIXED)
    listing = pkgs(captures.DPKG_L_DEBIAN12_MIXED)
    assert query["userspace"] == listing["userspace"]
    assert query["kernel"] == listing["kernel"]
    assert listing["userspace"]["libnvidia-ml1"] == "535.261.03"


def test_records_keep_status_and_arch():
    records = dv.parse_dpkg_query(read(captures.DPKG_L_UBUNTU_495_LEFT_BESIDE_510))
    by_name = dict((r["name"], r) for r in records)
    assert by_name["libnvidia-compute-495"]["status"] == "rc" and not by_name["libnvidia-compute-495"]["installed"]
    assert by_name["libnvidia-cfg1-510"]["arch"] == "amd64" and by_name["libnvidia-cfg1-510"]["installed"]
    assert by_name["libgldispatch0-nvidia"]["version"] is None


def test_ubuntu_prebuilt_modules_tell_the_branch_by_name():
    out = pkgs(captures.DPKG_L_UBUNTU_550_SERVER_PREBUILT)
    assert "linux-modules-nvidia-550-server-6.8.0-51-generic" in out["kernel_module_packages"]
    assert "linux-signatures-nvidia-6.8.0-51-generic" in out["kernel_module_packages"]
    assert out["kernel"] == {}
    assert set(out["prebuilt_branches"].values()) == {"550"}
    assert set(out["userspace"]) == {"libnvidia-cfg1-550-server", "libnvidia-compute-550-server",
                                     "nvidia-compute-utils-550-server"}
    assert "nvidia-firmware-550-server-550.127.08" not in out["userspace"]


def test_ubuntu_transitional_packages_are_left_aside():
    out = pkgs(captures.DPKG_L_UBUNTU_470_TRANSITIONAL)
    assert out["transitional"] == ["libnvidia-common-455", "libnvidia-common-460"]
    assert set(out["userspace"].values()) == {"470.103.01"}


@pytest.mark.parametrize("line, installed, broken", [
    ("iU  libnvidia-ml1 535.309.01-0+deb12u1", False, True),
    ("iF  nvidia-kernel-dkms 535.309.01-0+deb12u1", False, True),
    ("iiR libcuda1 535.309.01-0+deb12u1", False, True),
    ("hi  libcuda1 535.309.01-0+deb12u1", True, False),
])
def test_half_installed_status(line, installed, broken):
    (record,) = dv.parse_dpkg_query(line + "\n")
    assert (record["installed"], record["broken"]) == (installed, broken)


def test_odd_lines_warn_never_raise():
    warnings = []
    text = "dpkg-query: no packages found matching libcuda1*\nsomething else\n\x00\nii\n"
    assert dv.parse_dpkg_query(text, warn=warnings.append) == []
    assert len(warnings) == 3
    assert dv.parse_dpkg_query(None) == [] and dv.packages_of(None)["packages"] == {}


# --------------------------------------------------------------------------- the comparison

def judge(listing=None, loaded=None, module=None, branch=None, **extra):
    parts = dict(packages=pkgs(listing) if listing else dv.packages_of([]), loaded=loaded, module=module, **extra)
    findings = dv.compare(parts, branch)
    return dv.state_of(findings), dv.sentence_of(findings, {"loaded": loaded, "module": module}), findings


def test_consistent_listing_without_gpu_is_ok_with_a_note():
    state, sentence, findings = judge(captures.DPKG_DEBIAN12_535_309, branch="535")
    assert state == "ok"
    assert "none is on disk" in sentence and "535.309.01" in sentence
    assert [f["kind"] for f in findings] == ["note"]


def test_partial_downgrade_names_the_packages_and_the_command():
    state, sentence, findings = judge(captures.DPKG_DEBIAN12_MIXED, branch="535")
    assert state == "mismatch"
    assert "libnvidia-ml1 and nvidia-smi 535.261.03" in sentence
    assert sentence.endswith("Fix: apt-get install libnvidia-ml1=535.309.01-0+deb12u1 "
                             "nvidia-smi=535.309.01-0+deb12u1.")
    assert findings[0]["parts"]["libnvidia-ml1"] == "535.261.03"
    assert findings[0]["parts"]["nvidia-driver-libs"] == "535.309.01"


def test_reboot_pending():
    loaded = dv.parse_proc_version(read(captures.PROC_SYNTHETIC_535_261))["version"]
    module = dv.parse_modinfo(read(captures.MODINFO_SYNTHETIC_535_309))["version"]
    state, sentence, findings = judge(captures.DPKG_DEBIAN12_535_309, loaded=loaded, module=module, branch="535")
    assert state == "reboot_pending"
    assert sentence == ("The loaded kernel module is 535.261.03 while the module on disk and the user space are "
                        "535.309.01. Fix: Reboot (the 535.309.01 module loads then).")
    assert findings[0]["parts"] == {"loaded module": "535.261.03", "module on disk": "535.309.01",
                                    "user space": "535.309.01"}


def test_loaded_and_on_disk_and_user_space_agree():
    state, sentence, _findings = judge(captures.DPKG_DEBIAN12_535_309, loaded="535.309.01", module="535.309.01")
    assert state == "ok"
    assert sentence == ("The driver's parts agree (loaded module 535.309.01, module on disk 535.309.01).")


def test_debian_host_of_machine_shop_70():
    """The real host: module 520.56.06 loaded, nvidia-smi 525.85.12-1 installed."""
    loaded = dv.parse_proc_version(read(captures.PROC_PROPRIETARY_520_DEBIAN))["version"]
    state, sentence, _findings = judge(captures.DPKG_L_SMI_525_DEBIAN, loaded=loaded,
                                       module=dv.parse_modinfo(read(captures.MODINFO_NOT_FOUND)),
                                       smi_error_kind="driver_library_mismatch")
    assert state == "mismatch"
    assert "user space is 525.85.12 but the loaded kernel module is 520.56.06" in sentence
    assert "Install the kernel-module package (nvidia-kernel-dkms) at 525.85.12" in sentence


def test_user_space_against_the_module_on_disk():
    # nvidia-all #394: the module on disk stayed 595.80 under newer user space.
    module = dv.parse_modinfo(read(captures.MODINFO_OPEN_595))["version"]
    state, sentence, _findings = judge(captures.DPKG_DEBIAN12_535_309, module=module)
    assert state == "mismatch"
    assert "The module on disk is 595.80 but the user space is 535.309.01" in sentence


def test_dkms_package_against_user_space():
    parts = dict(packages=pkgs(captures.DPKG_DEBIAN12_535_309))
    parts["packages"]["kernel"]["nvidia-kernel-dkms"] = "535.261.03"
    parts["packages"]["full"]["nvidia-kernel-dkms"] = "535.261.03-1"
    findings = dv.compare(parts)
    assert dv.state_of(findings) == "mismatch"
    assert findings[0]["sentence"] == "The kernel-module package nvidia-kernel-dkms is 535.261.03, the user space is " \
                                      "535.309.01."
    assert findings[0]["fix"] == "apt-get install nvidia-kernel-dkms=535.309.01-0+deb12u1 (then reboot)"


def test_leftover_of_another_branch_is_purged():
    state, sentence, _findings = judge(captures.DPKG_L_UBUNTU_495_LEFT_BESIDE_510)
    assert state == "mismatch"
    assert "libnvidia-common-495 495.29.05" in sentence
    assert sentence.endswith("Fix: apt-get purge libnvidia-common-495.")


def test_off_branch():
    state, sentence, findings = judge(captures.DPKG_L_UBUNTU_550_SERVER_PREBUILT, branch="535")
    assert state == "off_branch"
    assert sentence.startswith("Not on the pinned 535 branch: libnvidia-cfg1-550-server 550.127.08")
    assert "linux-modules-nvidia-550-server-6.8.0-51-generic 550" in sentence
    assert findings[-1]["kind"] == "off_branch"
    assert judge(captures.DPKG_L_UBUNTU_550_SERVER_PREBUILT, branch="550")[0] == "ok"


def test_mismatch_outranks_off_branch():
    state, _sentence, findings = judge(captures.DPKG_DEBIAN12_MIXED, branch="550")
    assert state == "mismatch"
    assert sorted(set(f["kind"] for f in findings)) == ["mismatch", "note", "off_branch"]


def test_not_installed():
    state, sentence, _findings = judge()
    assert state == "not_installed"
    assert sentence.startswith("No NVIDIA driver is installed")


def test_smi_mismatch_with_agreeing_parts_points_at_another_library():
    """truenas-nvidia-drivers #19: loaded 580.173.02, NVML library 580.178, no package listing."""
    loaded = dv.parse_proc_version(read(captures.PROC_PROPRIETARY_580_TRUENAS))["version"]
    state, sentence, findings = judge(loaded=loaded, smi_error_kind="driver_library_mismatch",
                                      nvml=dv.nvml_version("Failed to initialize NVML: Driver/library version "
                                                           "mismatch\nNVML library version: 580.178\n"))
    assert state == "mismatch"
    assert "(NVML library 580.178)" in sentence and "loaded module 580.173.02" in sentence
    assert "ldconfig -p | grep libnvidia-ml" in sentence
    assert findings[0]["parts"] == {"loaded module": "580.173.02", "NVML library": "580.178"}


def test_smi_version_stands_for_an_unreadable_proc():
    state, _sentence, _findings = judge(captures.DPKG_DEBIAN12_535_309, smi_version="535.309.01",
                                        module="535.309.01")
    assert state == "ok"
    state, _sentence, _findings = judge(captures.DPKG_DEBIAN12_535_309, smi_version="535.261.03",
                                        module="535.309.01")
    assert state == "reboot_pending"


@pytest.mark.parametrize("parts", [None, [], "x", {"packages": "x", "loaded": 5, "module": ["a"]},
                                   {"packages": {"userspace": {"a": "535.1.1"}, "kernel": None}, "smi_version": "x"}])
def test_odd_parts_never_raise(parts):
    findings = dv.compare(parts, "535")
    assert dv.state_of(findings) in dv.STATES
    assert isinstance(dv.sentence_of(findings, parts), str)
