"""The docker_gpu role's filters: the NVML workaround decision (NVIDIA/nvidia-container-toolkit
issue 48), the engine choice and the pinned toolkit packages."""
import pytest

from ansible_collections.aiserver.gpu.plugins.filter.docker_gpu import (
    docker_gpu_engine,
    docker_gpu_nvml_workaround,
    docker_gpu_toolkit_packages,
)

V2 = "cgroup2fs"   # `stat -f -c %T /sys/fs/cgroup` on a cgroup v2 host (Ubuntu 22.04+, Debian 12)
V1 = "tmpfs"       # the same on a cgroup v1 or hybrid host


def test_v2_with_systemd_is_affected_and_gets_the_udev_rule_by_default():
    plan = docker_gpu_nvml_workaround(V2, "dev_char_symlinks")
    assert plan["driver"] == "systemd"
    assert plan["applies"] is True
    assert plan["udev_rule"] is True
    assert plan["exec_opts"] == []
    assert plan["problems"] == []
    assert "create-dev-char-symlinks" in plan["reason"]


def test_v2_cgroupfs_choice_sets_the_exec_opt():
    plan = docker_gpu_nvml_workaround(V2, "cgroupfs")
    assert plan["applies"] is True
    assert plan["exec_opts"] == ["native.cgroupdriver=cgroupfs"]
    assert plan["udev_rule"] is False


def test_v1_docker_defaults_to_cgroupfs_and_nothing_applies():
    for choice in ("dev_char_symlinks", "cgroupfs", "none"):
        plan = docker_gpu_nvml_workaround(V1 + "\n", choice)
        assert plan["driver"] == "cgroupfs"
        assert plan["applies"] is False
        assert plan["exec_opts"] == [] and plan["udev_rule"] is False
        assert "no workaround is needed" in plan["reason"]


def test_v2_without_systemd_init_is_not_affected():
    plan = docker_gpu_nvml_workaround(V2, "dev_char_symlinks", systemd=False)
    assert plan["driver"] == "cgroupfs" and not plan["applies"]


def test_driver_already_cgroupfs_in_the_file_means_no_workaround():
    current = {"exec-opts": ["native.cgroupdriver=cgroupfs"], "log-driver": "local"}
    plan = docker_gpu_nvml_workaround(V2, "dev_char_symlinks", current=current)
    assert plan["driver"] == "cgroupfs" and not plan["applies"]
    assert "set in daemon.json" in plan["reason"]


def test_systemd_driver_asked_on_v1_is_affected():
    # NVIDIA's notice: the trigger is systemd managing the cgroups, v1 or v2.
    plan = docker_gpu_nvml_workaround(V1, "dev_char_symlinks", settings={"exec-opts": ["native.cgroupdriver = systemd"]})
    assert plan["driver"] == "systemd" and plan["applies"] and plan["udev_rule"]


def test_cgroupfs_workaround_against_an_explicit_systemd_driver_is_a_problem():
    plan = docker_gpu_nvml_workaround(V2, "cgroupfs", current={"exec-opts": ["native.cgroupdriver=systemd"]})
    assert plan["problems"] and "native.cgroupdriver=systemd" in plan["problems"][0]


def test_none_says_the_risk():
    plan = docker_gpu_nvml_workaround(V2, "none")
    assert plan["applies"] and not plan["udev_rule"] and plan["exec_opts"] == []
    assert "no workaround applied" in plan["reason"]


def test_unknown_workaround_is_a_problem_not_an_exception():
    plan = docker_gpu_nvml_workaround(V2, "udev")
    assert plan["problems"] and "dev_char_symlinks" in plan["problems"][0]


def test_settings_win_over_the_file():
    plan = docker_gpu_nvml_workaround(V1, "cgroupfs", settings={"exec-opts": ["native.cgroupdriver=systemd"]},
                                      current={"exec-opts": ["native.cgroupdriver=cgroupfs"]})
    assert plan["driver"] == "systemd"


@pytest.mark.parametrize("choice,dist,want", [
    ("auto", "Ubuntu", "docker_ce"), ("auto", "Debian", "docker_io"),
    ("docker_ce", "Debian", "docker_ce"), ("docker_io", "Ubuntu", "docker_io"),
])
def test_engine(choice, dist, want):
    assert docker_gpu_engine(choice, dist) == want


def test_toolkit_packages_pinned_together():
    pkgs = ["nvidia-container-toolkit", "nvidia-container-toolkit-base"]
    assert docker_gpu_toolkit_packages("", pkgs) == pkgs
    assert docker_gpu_toolkit_packages(" 1.17.8-1 ", pkgs) == [
        "nvidia-container-toolkit=1.17.8-1", "nvidia-container-toolkit-base=1.17.8-1"]
