"""The cuda role's filters, over the role's real per-distribution data files."""
import os

import pytest
import yaml

from ansible_collections.aiserver.gpu.plugins.filter.cuda import cuda_packages, nvcc_version

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
VARS = os.path.join(ROOT, "roles", "cuda", "vars")


def load(name):
    with open(os.path.join(VARS, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def platform(name):
    return load(name)["__cuda_platform"]


FORBIDDEN = load("main.yml")["__cuda_forbidden_packages"]
UBUNTU = {"22": "ubuntu2204", "24": "ubuntu2404"}


def plan(version, data, **kwargs):
    kwargs.setdefault("forbidden", FORBIDDEN)
    return cuda_packages(version, data, **kwargs)


# --- Debian 12 ---------------------------------------------------------------------------

@pytest.mark.parametrize("samples", [False, True])
@pytest.mark.parametrize("host_compiler", [False, True])
def test_debian_12_default(samples, host_compiler):
    result = plan("11.8", platform("Debian-12.yml"), samples=samples, host_compiler=host_compiler,
                  distribution="Debian", distribution_version="12.12")
    assert result["problems"] == []
    expected = ["nvidia-cuda-toolkit"] + (["nvidia-cuda-samples"] if samples else []) \
        + (["gcc", "g++"] if host_compiler else [])
    assert result["packages"] == expected
    assert result["source"] == "distribution"
    assert result["repo_url"] is None and result["keyring_url"] is None
    assert result["nvcc"] == "/usr/bin/nvcc"
    assert result["prefix"] == "/usr/lib/nvidia-cuda-toolkit"
    assert result["profile_needed"] is False
    assert result["package_version_prefix"] == "11.8."
    assert result["samples_dir"] == ("/usr/share/doc/nvidia-cuda-toolkit/examples" if samples else None)


@pytest.mark.parametrize("version", ["12.4", "11.7", "12.0", "13.0"])
def test_debian_12_refuses_other_versions_naming_what_it_has(version):
    result = plan(version, platform("Debian-12.yml"), distribution="Debian", distribution_version="12.12")
    assert len(result["problems"]) == 1
    message = result["problems"][0]
    assert "CUDA %s is not available on Debian 12.12" % version in message
    assert "ships CUDA 11.8 only (nvidia-cuda-toolkit)" in message
    assert "NVIDIA's CUDA repository" in message and "Ubuntu" in message
    assert result["packages"] == []


def test_float_version_is_read_as_text():
    assert plan(11.8, platform("Debian-12.yml"))["problems"] == []


# --- Ubuntu 22.04 / 24.04 ------------------------------------------------------------------

@pytest.mark.parametrize("major", ["22", "24"])
@pytest.mark.parametrize("version, package, prefix", [
    ("11.8", "cuda-toolkit-11-8", "/usr/local/cuda-11.8"),
    ("12.4", "cuda-toolkit-12-4", "/usr/local/cuda-12.4"),
    ("12.6", "cuda-toolkit-12-6", "/usr/local/cuda-12.6"),
])
def test_ubuntu_nvidia_repo(major, version, package, prefix):
    if major == "24" and version in ("11.8", "12.4"):
        version, package, prefix = "12.5", "cuda-toolkit-12-5", "/usr/local/cuda-12.5"
    result = plan(version, platform("Ubuntu-%s.yml" % major), distribution="Ubuntu",
                  distribution_version="%s.04" % major)
    assert result["problems"] == []
    assert result["packages"] == [package, "gcc", "g++"]
    base = "https://developer.download.nvidia.com/compute/cuda/repos/%s/x86_64/" % UBUNTU[major]
    assert result["repo_url"] == base
    assert result["keyring_url"] == base + "cuda-keyring_1.1-1_all.deb"
    assert result["keyring_package"] == "cuda-keyring_1.1-1_all.deb"
    assert result["prefix"] == prefix
    assert result["nvcc"] == prefix + "/bin/nvcc"
    assert result["lib_dir"] == prefix + "/lib64"
    assert result["profile_needed"] is True
    assert result["package_version_prefix"] == version + "."


@pytest.mark.parametrize("version", ["11.8", "12.4"])
def test_ubuntu_24_refuses_versions_before_its_repository(version):
    result = plan(version, platform("Ubuntu-24.yml"), distribution="Ubuntu", distribution_version="24.04")
    assert result["problems"] == [
        "CUDA %s is not in NVIDIA's repository for Ubuntu 24.04: it starts at CUDA 12.5. Set cuda_version to \"12.5\" or later." % version]
    assert result["packages"] == []


def test_ubuntu_22_refuses_versions_before_its_repository():
    result = plan("11.6", platform("Ubuntu-22.yml"), distribution="Ubuntu", distribution_version="22.04")
    assert result["problems"] == [
        "CUDA 11.6 is not in NVIDIA's repository for Ubuntu 22.04: it starts at CUDA 11.7. "
        "Set cuda_version to \"11.7\" or later."]


@pytest.mark.parametrize("major", ["22", "24"])
def test_ubuntu_samples_are_refused_with_the_way_out(major):
    result = plan("12.6", platform("Ubuntu-%s.yml" % major), samples=True)
    assert len(result["problems"]) == 1
    assert "github.com/NVIDIA/cuda-samples" in result["problems"][0]


# --- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Ubuntu-22.yml", "Ubuntu-24.yml", "Debian-12.yml"])
@pytest.mark.parametrize("bad", [
    "cuda", "cuda-12-4", "cuda-drivers", "cuda-drivers-535", "cuda-runtime-12-4",
    "nvidia-driver", "nvidia-driver-535", "nvidia-tesla-driver", "nvidia-kernel-dkms",
    "nvidia-kernel-open-dkms", "nvidia-dkms-535", "nvidia-open-kernel-dkms",
])
def test_metapackages_and_drivers_are_refused(name, bad):
    result = plan("12.6" if name.startswith("Ubuntu") else "11.8", platform(name), extra=[bad])
    assert len(result["problems"]) == 1
    assert result["problems"][0].startswith("Refusing %s:" % bad)


def test_refusal_from_the_data_itself():
    data = dict(platform("Ubuntu-22.yml"), toolkit="cuda-{major}-{minor}")
    assert plan("12.4", data)["problems"][0].startswith("Refusing cuda-12-4:")


def test_extra_names_refused_by_the_caller_list():
    assert plan("11.8", platform("Debian-12.yml"), extra=["my-driver"], forbidden=["my-driver"])["problems"]


@pytest.mark.parametrize("ok", ["cuda-toolkit-12-4", "cuda-nvcc-12-4", "libcudnn8", "nvidia-smi", "cuda-keyring"])
def test_toolkit_parts_are_allowed(ok):
    assert plan("12.4", platform("Ubuntu-22.yml"), extra=[ok])["problems"] == []


def test_unsupported_distribution():
    result = plan("11.8", load("default.yml")["__cuda_platform"], distribution="Rocky", distribution_version="9.3")
    assert result["problems"] == [
        "The cuda role does not support Rocky 9.3: it knows Debian 12 (the distribution's "
        "nvidia-cuda-toolkit) and Ubuntu 22.04/24.04 (NVIDIA's CUDA repository)."]


@pytest.mark.parametrize("bad", ["11", "11.8.89", "latest", "", None, "v11.8", "11,8"])
def test_malformed_versions(bad):
    result = plan(bad, platform("Debian-12.yml"))
    assert len(result["problems"]) == 1 and "is not a CUDA version" in result["problems"][0]


def test_unknown_source():
    assert "Unknown CUDA source" in plan("11.8", {"source": "conda"})["problems"][0]


def test_every_vars_file_is_known():
    assert sorted(os.listdir(VARS)) == ["Debian-12.yml", "Ubuntu-22.yml", "Ubuntu-24.yml", "default.yml", "main.yml"]


def test_nvcc_version_filter():
    assert nvcc_version("Cuda compilation tools, release 11.8, V11.8.89\n")["release"] == "11.8"
    assert nvcc_version("command not found") is None
