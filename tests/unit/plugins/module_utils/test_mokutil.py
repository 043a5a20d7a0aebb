import os

import pytest

from captures import ROOT
from ansible_collections.aiserver.gpu.plugins.filter.nvidia_driver import nvidia_driver_sb_state
from ansible_collections.aiserver.gpu.plugins.module_utils._mokutil import parse_sb_state

FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures", "mokutil")
CASES = {
    "L_mokutil-sb-state_enabled_ubuntu24.04-rtx4070.txt": "enabled",
    "L_mokutil-sb-state_disabled_hwameistor-docs.txt": "disabled",
    "L_mokutil-sb-state_efi-variables-not-supported_legacy-bios_ubuntu-forum-nvidia535.txt": "not_supported",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_captures(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        data = handle.read()
    source = os.path.join(FIXTURES, name[:-4] + ".source")
    assert os.path.isfile(source)
    warnings = []
    assert parse_sb_state(data, warn=warnings.append) == CASES[name]
    assert warnings == []
    assert nvidia_driver_sb_state(data.decode()) == CASES[name]


def test_shim_validation_line_is_warned_not_fatal():
    warnings = []
    text = "SecureBoot enabled\nSecureBoot validation is disabled in shim\n"
    assert parse_sb_state(text, warn=warnings.append) == "enabled"
    # synthetic: the second line is what mokutil adds when shim validation is off
    assert len(warnings) == 1 and "validation" in warnings[0]


@pytest.mark.parametrize("text", ["", None, "mokutil: command not found\n"])
def test_unknown(text):
    warnings = []
    assert parse_sb_state(text, warn=warnings.append) == "unknown"
    assert len(warnings) == (1 if text else 0)
