import os

import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils._nvcc import parse_nvcc_version

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "nvcc")


def read(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def test_debian_12_capture():
    text = read("debian-12_nvidia-cuda-toolkit-11.8.89_nvcc-version.txt")
    assert parse_nvcc_version(text) == {
        "release": "11.8", "version": "11.8.89", "build": "cuda_11.8.r11.8/compiler.31833905_0"}


def test_every_capture_has_a_source_note():
    names = os.listdir(FIXTURES)
    for name in names:
        if name.endswith(".txt"):
            assert name[:-4] + ".source" in names


def test_crlf_and_no_build_line():
    text = read("debian-12_nvidia-cuda-toolkit-11.8.89_nvcc-version.txt")
    text = "\r\n".join(line for line in text.splitlines() if not line.startswith("Build"))
    assert parse_nvcc_version(text) == {"release": "11.8", "version": "11.8.89", "build": None}


@pytest.mark.parametrize("text", [
    "", None, 42, "bash: nvcc: command not found",
    "nvcc fatal   : Failed to preprocess host compiler properties.",
    "Cuda compilation tools, release eleven",
])
def test_no_release_line_gives_none(text):
    assert parse_nvcc_version(text) is None


def test_two_digit_minor_is_kept_as_text():
    assert parse_nvcc_version("Cuda compilation tools, release 12.10, V12.10.4")["release"] == "12.10"
