"""mokutil --sb-state over REAL captures (tests/unit/fixtures/mokutil, see each .source): the
firmware state, shim's validation, and whether the kernel refuses unsigned modules."""
import os

import pytest

import captures
from captures import ROOT
from ansible_collections.aiserver.gpu.plugins.filter.nvidia_driver import (nvidia_driver_sb_state,
                                                                           nvidia_driver_secure_boot)
from ansible_collections.aiserver.gpu.plugins.module_utils._mokutil import parse_sb_state, parse_secure_boot

FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures", "mokutil")
# name: (state, firmware, setup_mode, shim_validation, enforcing)
CASES = {
    captures.MOKUTIL_ENABLED: ("enabled", True, False, True, True),
    captures.MOKUTIL_DISABLED: ("disabled", False, False, None, False),
    captures.MOKUTIL_EFI_NOT_SUPPORTED: ("not_supported", None, False, None, None),
    captures.MOKUTIL_SHIM_VALIDATION_DISABLED: ("enabled", True, False, False, False),
    captures.MOKUTIL_SETUP_MODE: ("disabled", False, True, None, False),
}


def read(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_captures(name):
    data = read(name)
    assert os.path.isfile(os.path.join(FIXTURES, name[:-4] + ".source"))
    warnings = []
    model = parse_secure_boot(data, warn=warnings.append)
    assert warnings == []
    assert (model["state"], model["firmware"], model["setup_mode"], model["shim_validation"],
            model["enforcing"]) == CASES[name]
    assert parse_sb_state(data) == CASES[name][0]
    assert nvidia_driver_sb_state(data.decode()) == CASES[name][0]
    assert nvidia_driver_secure_boot(data.decode()) == model


def test_validation_disabled_in_shim_is_not_enforcing():
    """Before: 'SecureBoot enabled' + 'SecureBoot validation is disabled in shim' read as
    enforcing, and the role stopped a host whose kernel loads unsigned modules."""
    model = parse_secure_boot(read(captures.MOKUTIL_SHIM_VALIDATION_DISABLED))
    assert model["enforcing"] is False
    assert "validation is disabled in shim" in model["reason"]
    assert "loads unsigned modules" in model["reason"]


@pytest.mark.parametrize("text", ["", None, "mokutil: command not found\n", "Cannot determine secure boot state.\n",
                                  'Failed to read "SecureBoot" variable: No such file or directory\n'])
def test_unknown(text):
    warnings = []
    model = parse_secure_boot(text, warn=warnings.append)
    assert model["state"] == "unknown" and model["enforcing"] is None and model["firmware"] is None
    assert parse_sb_state(text) == "unknown"
    assert len(warnings) == (1 if text == "mokutil: command not found\n" else 0)


def test_colour_codes_are_ignored():
    # Some builds colour the lines (as the function copied into other tools does).
    text = "\x1b[32mSecureBoot enabled\n\x1b[0m\x1b[31mSecureBoot validation is disabled in shim\n\x1b[0m"
    model = parse_secure_boot(text)
    assert (model["state"], model["enforcing"]) == ("enabled", False)


def test_filter_reads_a_registered_command_result():
    text = read(captures.MOKUTIL_SHIM_VALIDATION_DISABLED).decode()
    assert nvidia_driver_secure_boot({"rc": 0, "stdout": text.rstrip("\n"), "stderr": ""})["enforcing"] is False
    efi = read(captures.MOKUTIL_EFI_NOT_SUPPORTED).decode()
    assert nvidia_driver_secure_boot({"rc": 255, "stdout": "", "stderr": efi})["state"] == "not_supported"
    # A missing mokutil: the command module puts the error in msg, prints nothing.
    missing = {"rc": 2, "msg": "[Errno 2] No such file or directory: b'mokutil'", "stdout": "", "stderr": ""}
    assert nvidia_driver_secure_boot(missing)["state"] == "unknown"
    assert nvidia_driver_secure_boot({})["enforcing"] is None
