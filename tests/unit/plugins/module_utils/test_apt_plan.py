"""_apt_plan over REAL captures of ``apt-get install --simulate`` (tests/unit/fixtures/apt,
see each ``.source``): Debian 12's archive through a temporary apt root, the tests' local
branch-jump repository, and Ubuntu outputs from public issues. The key figures each
``.source`` states are asserted, keyed by the capture's name."""
import os

import pytest

from captures import (APT_CONTAINER_DOWNGRADE_KERNEL, APT_CONTAINER_UPGRADE_JUMP, APT_DEBIAN_DESKTOP, APT_DEBIAN_HEADLESS,
                      APT_JUMP, APT_JUMP_NO_SMI, APT_MISMATCH_KERNEL_USERSPACE, APT_MIXED_UNMET, APT_OPEN_UNMET, APT_UBUNTU_465_TO_470, APT_UBUNTU_570_TO_580,
                      APT_UBUNTU_DPKG_TRANSITIONAL, APT_UNKNOWN, APT_VERSION_NOT_FOUND, fixture_path)
from ansible_collections.aiserver.gpu.plugins.module_utils import _apt_plan

ROLE_LIST = ["nvidia-driver", "nvidia-smi", "nvidia-persistenced", "firmware-misc-nonfree", "dkms"]


def read(name, ext=".txt"):
    with open(fixture_path("apt", name[:-4] + ext if name.endswith(".txt") else name), newline="") as handle:
        return handle.read()


def parsed(name):
    warnings = []
    plan = _apt_plan.parse(read(name), warn=warnings.append)
    return plan, warnings


def test_every_capture_has_its_source_note():
    for name in sorted(os.listdir(os.path.dirname(fixture_path("apt", "x")))):
        if name.endswith((".txt", ".show")):
            assert os.path.isfile(fixture_path("apt", name.rsplit(".", 1)[0] + ".source")), name


# capture -> (Inst, Conf, Remv, summary)
PLANS = {
    APT_DEBIAN_DESKTOP: (50, 50, 0, {"upgraded": 8, "new": 42, "downgraded": 0, "remove": 0, "not_upgraded": 133}),
    APT_DEBIAN_HEADLESS: (23, 23, 0, {"upgraded": 0, "new": 23, "downgraded": 0, "remove": 0, "not_upgraded": 141}),
    APT_JUMP: (15, 15, 0, {"upgraded": 0, "new": 15, "downgraded": 0, "remove": 0, "not_upgraded": 141}),
    APT_MISMATCH_KERNEL_USERSPACE: (20, 20, 0, {"upgraded": 0, "new": 20, "downgraded": 0, "remove": 0, "not_upgraded": 141}),
    APT_CONTAINER_UPGRADE_JUMP: (3, 3, 0, {"upgraded": 3, "new": 0, "downgraded": 0, "remove": 0, "not_upgraded": 13}),
    APT_CONTAINER_DOWNGRADE_KERNEL: (2, 2, 1, {"upgraded": 0, "new": 0, "downgraded": 2, "remove": 1, "not_upgraded": 15}),
}


@pytest.mark.parametrize("name", sorted(PLANS), ids=lambda n: n[:60])
def test_plans_are_read_whole(name):
    plan, warnings = parsed(name)
    inst, conf, remv, summary = PLANS[name]
    assert (len(plan["install"]), len(plan["configure"]), len(plan["remove"])) == (inst, conf, remv)
    assert plan["summary"] == summary
    assert plan["errors"] == [] and warnings == []
    # Every Inst line of the capture is one record, with no field left empty.
    lines = [line for line in read(name).splitlines() if line.startswith("Inst ")]
    assert [r["name"] for r in plan["install"]] == [line.split()[1] for line in lines]
    assert all(r["version"] and r["arch"] and r["origin"] for r in plan["install"])


def test_upgrade_of_the_held_driver_on_the_test_bed_is_refused():
    plan, warnings = parsed(APT_CONTAINER_UPGRADE_JUMP)
    assert warnings == []  # "is already the newest version", "Use 'apt autoremove'" are known prose
    assert [(r["name"], r["old_version"], r["version"]) for r in plan["install"]] == [
        ("nvidia-smi", "535.309.01-0+deb12u1", "535.999.01-1"),
        ("libnvidia-ml1", "535.309.01-0+deb12u1", "580.95.05-1"),
        ("nvidia-driver", "535.309.01-0+deb12u1", "535.999.01-1")]
    result = _apt_plan.check(plan, _apt_plan.parse_show(read(APT_CONTAINER_UPGRADE_JUMP, ".show")), ROLE_LIST, "535",
                             "nvidia_driver_branch")
    assert [(r["name"], r["via"], r["relation"]) for r in result["off_branch"]] == [
        ("libnvidia-ml1", ["nvidia-driver", "libnvidia-ml1"], "libnvidia-ml1 (>= 580)")]


def test_removals_and_downgrades():
    plan, warnings = parsed(APT_CONTAINER_DOWNGRADE_KERNEL)
    assert warnings == []
    assert plan["remove"] == [{"name": "nvidia-driver", "old_version": "535.309.01-0+deb12u1", "purge": False}]
    assert [(r["name"], r["old_version"], r["version"]) for r in plan["install"]] == [
        ("nvidia-kernel-dkms", "535.309.01-0+deb12u1", "535.261.03-1"),
        ("firmware-nvidia-gsp", "535.309.01-0+deb12u1", "535.261.03-1")]


def test_inst_line_fields():
    plan, _warnings = parsed(APT_DEBIAN_DESKTOP)
    by_name = dict((r["name"], r) for r in plan["install"])
    # An upgrade ("Inst libnss-systemd [252.38-1~deb12u1] (252.39-1~deb12u2 ... [amd64]) []").
    assert by_name["libnss-systemd"] == {"name": "libnss-systemd", "arch": "amd64", "version": "252.39-1~deb12u2",
                                         "old_version": "252.38-1~deb12u1", "origin": "Debian:12.15/oldstable"}
    assert by_name["nvidia-driver"]["version"] == "535.309.01-0+deb12u1"
    assert by_name["nvidia-driver"]["origin"] == "Debian-Security:12/oldstable-security"
    assert by_name["nvidia-driver"]["old_version"] is None
    assert by_name["dkms"]["arch"] == "all"
    assert by_name["libnvidia-egl-wayland1"]["version"] == "1:1.1.10-1"


def test_show_gives_sources_including_missing_source_fields():
    show = _apt_plan.parse_show(read(APT_DEBIAN_DESKTOP, ".show"))
    assert len(show) == 50
    assert show[("nvidia-driver", "535.309.01-0+deb12u1")]["source"] == "nvidia-graphics-drivers"
    assert show[("nvidia-kernel-common", "20220217+3~deb12u1")]["source"] == "nvidia-support"
    assert show[("libnvidia-egl-wayland1", "1:1.1.10-1")]["source"] == "egl-wayland"
    # No Source: field: the package is its own source (dpkg's rule).
    assert show[("nvidia-persistenced", "535.171.04-1~deb12u1")]["source"] == "nvidia-persistenced"
    assert show[("nvidia-modprobe", "535.309.01-0+deb12u1")]["source"] == "nvidia-modprobe"
    depends = show[("nvidia-driver", "535.309.01-0+deb12u1")]["depends"]
    assert ["nvidia-kernel-dkms", "nvidia-kernel-535.309.01", "nvidia-open-kernel-535.309.01"] in depends


@pytest.mark.parametrize("name,requested", [
    (APT_DEBIAN_DESKTOP, ROLE_LIST),
    (APT_DEBIAN_HEADLESS, ["nvidia-kernel-dkms", "nvidia-smi", "libcuda1", "nvidia-persistenced",
                           "firmware-misc-nonfree", "dkms"]),
    (APT_MISMATCH_KERNEL_USERSPACE, ["nvidia-kernel-dkms", "firmware-nvidia-gsp", "nvidia-smi", "libnvidia-ml1",
                                     "libcuda1"]),
], ids=["desktop", "headless", "mismatch"])
def test_debian_archive_plans_stay_on_535(name, requested):
    plan, _warnings = parsed(name)
    result = _apt_plan.check(plan, _apt_plan.parse_show(read(name, ".show")), requested, "535", "nvidia_driver_branch")
    assert result["ok"] and result["off_branch"] == [] and result["sentence"] == ""
    branches = dict((r["name"], (r["branch"], r["basis"])) for r in result["plan"])
    assert branches["nvidia-smi"] == ("535", "version")
    # NVIDIA-named, versioned on their own: no branch (nvidia-persistenced 535.171.04 is no promise).
    for independent in ("nvidia-kernel-common", "glx-alternative-nvidia", "update-glx", "nvidia-support",
                        "nvidia-installer-cleanup", "nvidia-persistenced", "nvidia-modprobe", "libnvidia-egl-wayland1"):
        if independent in branches:
            assert branches[independent] == (None, "independent"), independent
    # The same plan with 580 pinned: every driver package is off, none of the independent ones.
    off = _apt_plan.check(plan, _apt_plan.parse_show(read(name, ".show")), requested, "580")["off_branch"]
    assert set(r["name"] for r in off) == set(n for n, (b, _basis) in branches.items() if b == "535")


def test_jump_repository_is_refused_naming_package_branch_and_variable():
    plan, _warnings = parsed(APT_JUMP)
    show = _apt_plan.parse_show(read(APT_JUMP, ".show"))
    result = _apt_plan.check(plan, show, ROLE_LIST, "535", "nvidia_driver_branch")
    assert not result["ok"]
    off = dict((r["name"], r) for r in result["off_branch"])
    assert sorted(off) == ["libnvidia-ml1"]
    assert off["libnvidia-ml1"]["via"] == ["nvidia-driver", "libnvidia-ml1"]
    assert off["libnvidia-ml1"]["relation"] == "libnvidia-ml1 (>= 580)"
    assert off["libnvidia-ml1"]["origin"] == "localhost"
    sentence = result["sentence"]
    assert sentence.startswith("apt would install libnvidia-ml1 580.95.05-1 (branch 580, from localhost) for "
                               "nvidia-driver 535.999.01-1, which depends on it (libnvidia-ml1 (>= 580))")
    assert 'Set nvidia_driver_branch: "580" to choose that branch on purpose' in sentence
    assert "another repository offering a different branch under the same name" in sentence
    # The pinned 535 itself is on branch: nvidia-driver 535.999.01-1 is not refused.
    assert [r["branch"] for r in result["plan"] if r["name"] == "nvidia-driver"] == ["535"]
    # The same plan with 580 pinned refuses the 535 packages instead, asked for by name.
    other = _apt_plan.check(plan, show, ROLE_LIST, "580")
    assert [r["via"] for r in other["off_branch"] if r["name"] in ("nvidia-driver", "nvidia-smi")] == [
        ["nvidia-driver"], ["nvidia-smi"]]
    assert ("nvidia-driver 535.999.01-1 (branch 535, from localhost), asked for by name: another repository offers "
            "branch 535 under the same name") in other["sentence"]


def test_without_show_data_the_version_decides_and_says_so():
    plan, _warnings = parsed(APT_JUMP)
    result = _apt_plan.check(plan, {}, ROLE_LIST, "535")
    assert [(r["name"], r["basis"]) for r in result["off_branch"]] == [("libnvidia-ml1", "version (source unknown)")]
    # The independent list keeps nvidia-persistenced out even without its source.
    assert [r["branch"] for r in result["plan"] if r["name"] == "nvidia-persistenced"] == [None]
    assert 'Ask for branch 580' in result["sentence"]


@pytest.mark.parametrize("name,kind,package", [
    (APT_UNKNOWN, "unknown_package", "nvidia-drvier-typo"),
    (APT_VERSION_NOT_FOUND, "version_not_found", "nvidia-driver"),
    (APT_OPEN_UNMET, "unmet_dependencies", "nvidia-open-kernel-dkms"),
    (APT_MIXED_UNMET, "unmet_dependencies", "nvidia-driver"),
    (APT_JUMP_NO_SMI, "unmet_dependencies", "nvidia-smi"),
    (APT_UBUNTU_465_TO_470, "unmet_dependencies", "nvidia-driver-465"),
], ids=["unknown", "version", "open", "mixed", "jump-no-smi", "ubuntu-465"])
def test_errors(name, kind, package):
    plan, warnings = parsed(name)
    assert warnings == []
    assert plan["install"] == []
    assert plan["errors"][0]["kind"] == kind and plan["errors"][0]["package"] == package
    text = _apt_plan.describe_errors(plan["errors"], "535")
    assert package in text


def test_unmet_relations_join_or_lines():
    plan, _warnings = parsed(APT_OPEN_UNMET)
    assert plan["errors"][0]["relations"] == [
        "Depends: firmware-nvidia-gsp (= 535.261.03) or firmware-nvidia-gsp-535.261.03",
        "Depends: nvidia-open-kernel-support--v1"]
    assert plan["errors"][1]["kind"] == "held_broken"
    plan, _warnings = parsed(APT_MIXED_UNMET)
    relations = plan["errors"][0]["relations"]
    assert len(relations) == 8 and relations[5].endswith("or nvidia-kernel-535.261.03 or nvidia-open-kernel-535.261.03")
    # All within 535: no other branch named.
    assert _apt_plan.unmet_branches(plan["errors"], "535") == []


def test_unmet_dependencies_that_bring_another_branch_are_named():
    plan, _warnings = parsed(APT_JUMP_NO_SMI)
    assert _apt_plan.unmet_branches(plan["errors"], "535") == [("libnvidia-ml1", "580.95.05-1", "580")]
    text = _apt_plan.describe_errors(plan["errors"], "535", "nvidia_driver_branch")
    assert "branch 580 (libnvidia-ml1 580.95.05-1)" in text and 'nvidia_driver_branch: "580"' in text
    plan, _warnings = parsed(APT_UBUNTU_465_TO_470)
    assert _apt_plan.unmet_branches(plan["errors"], "465") == [("nvidia-driver-470", None, "470")]


def test_version_not_found_keeps_the_version():
    plan, _warnings = parsed(APT_VERSION_NOT_FOUND)
    assert plan["errors"] == [{"kind": "version_not_found", "package": "nvidia-driver", "version": "535.999",
                               "message": "Version '535.999' for 'nvidia-driver' was not found"}]
    assert _apt_plan.describe_errors(plan["errors"]) == "apt has no version 535.999 of nvidia-driver."


def test_ubuntu_transitional_packages_take_the_branch_of_their_version():
    # dpkg rows of a real Ubuntu host: libnvidia-compute-418 is 430.50, libnvidia-compute-430 is 515.48.07.
    rows = [line.split()[:2] for line in read(APT_UBUNTU_DPKG_TRANSITIONAL).splitlines()]
    got = dict((name, _apt_plan.classify(name, version, "nvidia-graphics-drivers-%s" % name.rsplit("-", 1)[-1]
                                         if name.startswith("libnvidia-c") and name[-1].isdigit() else None))
               for name, version in rows)
    assert got["libnvidia-compute-418"] == ("430", "version")
    assert got["libnvidia-compute-430"] == ("515", "version")
    assert got["libnvidia-compute-515"] == ("515", "version")
    assert got["libnvidia-extra-515"] == ("515", "version (source unknown)")
    assert got["libnvidia-container1"] == (None, "independent")


def test_ubuntu_names_carry_the_branch():
    # xnvme/aisio #67: the 570-server-open packages depend on the 580-server-open ones.
    for line in read(APT_UBUNTU_570_TO_580).splitlines():
        name, version, _arrow, _depends, target = line.split()
        assert _apt_plan.classify(name, version, "nvidia-graphics-drivers-570-server") == ("570", "version")
        assert _apt_plan.name_branch(target) == "580"
    # Kernel-versioned Ubuntu packages (gpu-driver-container #186 names): the name decides.
    assert _apt_plan.classify("linux-modules-nvidia-550-server-6.8.0-51-generic", "6.8.0-51.52+1",
                              "linux-restricted-modules") == ("550", "name")
    assert _apt_plan.classify("linux-modules-nvidia-580-server-generic", "6.8.0-90.91") == ("580", "name")
    assert _apt_plan.classify("linux-signatures-nvidia-6.8.0-51-generic", "6.8.0-51.52+1",
                              "linux-restricted-modules") == (None, "independent")
    assert _apt_plan.name_branch("libnvidia-extra-535-server:amd64") == "535"
    assert _apt_plan.name_branch("nvidia-legacy-390xx-driver") == "390"
    assert _apt_plan.name_branch("nvidia-firmware-550-server-550.127.08") == "550"
    assert _apt_plan.name_branch("fonts-foo-100") is None


def test_lines_it_does_not_know_are_warned_not_raised():
    warnings = []
    plan = _apt_plan.parse("Inst libnvidia-ml1 (580.95.05-1 localhost [amd64])\nsomething odd\n"
                           "W: Some index files failed to download.\n", warn=warnings.append)
    assert [r["name"] for r in plan["install"]] == ["libnvidia-ml1"]
    assert len(warnings) == 2 and "something odd" in warnings[0] and warnings[1].startswith("apt: W:")
    assert _apt_plan.parse(None)["install"] == []
