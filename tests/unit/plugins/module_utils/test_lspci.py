"""Tests for the pure lspci -vvv parser (plugins/module_utils/_lspci.py).

The real fixtures are captures copied byte for byte from the project corpus; the figures
asserted here are the ones their .source notes state. synthetic_* fixtures say in their own
.source how they were built.
"""
import random

import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils._lspci import (
    ACS_FLAGS,
    acs_ctl_misplaced,
    acs_devices,
    acs_evidence,
    acs_targets,
    normalize_bdf,
    parse_header,
    parse_link,
    parse_lspci,
    scan_lspci,
)
from captures import (LSPCI_EMPTY, LSPCI_LENOVO, LSPCI_NIC_ACS, LSPCI_NONROOT, LSPCI_PEX8747, LSPCI_PEX8747_HDR,
                      LSPCI_PLAIN, LSPCI_STELLINE_GREP, LSPCI_SUPERMICRO, fixture_path)

ALL_OFF = dict((flag, False) for flag in ACS_FLAGS)
ALL_ON = dict((flag, True) for flag in ACS_FLAGS)
CTL_ON = "SrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl+ DirectTrans+"
CTL_OFF = CTL_ON.replace("+", "-")


def read(name):
    with open(fixture_path("lspci", name), "rb") as handle:
        return handle.read().decode("utf-8")


def scan(text):
    warnings = []
    result = scan_lspci(text, warnings.append)
    return result, warnings


def flags(text):
    """'SrcValid+ TransBlk-' -> full flag dict (flags not named are off)."""
    out = dict(ALL_OFF)
    for token in text.split():
        out[token[:-1]] = token[-1] == "+"
    return out


def by_bdf(devices):
    return dict((d["bdf"], d) for d in devices)


# --------------------------------------------------------------------------- key figures

@pytest.mark.parametrize(
    "name, n_devices, n_acs, n_enabled, n_orphan_acs, n_warnings",
    [
        pytest.param(LSPCI_LENOVO, 298, 14, 10, 0, 0, id="lenovo-p920-D-PP-transblk-enabled"),
        pytest.param(LSPCI_SUPERMICRO, 340, 31, 0, 0, 0, id="supermicro-4028gr-PP-all-disabled"),
        pytest.param(LSPCI_STELLINE_GREP, 0, 0, 0, 46, 1, id="stelline-grep-acsctl-no-headers"),
        pytest.param(LSPCI_PEX8747, 0, 0, 0, 1, 1, id="pex8747-excerpt-no-header-spaces"),
        pytest.param(LSPCI_PEX8747_HDR, 1, 1, 0, 0, 0, id="synthetic-pex8747-with-header"),
        pytest.param(LSPCI_NIC_ACS, 19, 3, 2, 0, 0, id="synthetic-nic-function-acs-enabled"),
        pytest.param(LSPCI_NONROOT, 3, 0, 0, 0, 0, id="synthetic-nonroot-access-denied"),
    ],
)
def test_key_figures(name, n_devices, n_acs, n_enabled, n_orphan_acs, n_warnings):
    result, warnings = scan(read(name))
    acs = acs_devices(result["devices"])
    assert len(result["devices"]) == n_devices
    assert len(acs) == n_acs
    assert sum(1 for d in acs if d["enabled"]) == n_enabled
    assert len(result["orphan_acs_ctl"]) == n_orphan_acs
    assert len(warnings) == n_warnings, warnings


LENOVO_ENABLED_ROOT_PORTS = [
    "0000:07:00.0", "0000:0e:00.0", "0000:15:00.0", "0000:15:01.0", "0000:15:02.0",
    "0000:15:03.0", "0000:a2:00.0", "0000:c1:00.0", "0000:e1:00.0",
]


def test_lenovo_acs_enabled_with_transblk():
    acs = acs_devices(parse_lspci(read(LSPCI_LENOVO)))
    enabled = [d["bdf"] for d in acs if d["enabled"]]
    disabled = [d["bdf"] for d in acs if not d["enabled"]]
    assert enabled == ["0000:00:1d.2"] + LENOVO_ENABLED_ROOT_PORTS
    assert disabled == ["0000:e2:00.0", "0000:e2:00.1", "0000:e2:00.2", "0000:e2:00.3"]
    devs = by_bdf(acs)
    pch = devs["0000:00:1d.2"]
    assert pch["acs_ctl"] == flags("SrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd- EgressCtrl- DirectTrans-")
    assert pch["acs_cap"] == pch["acs_ctl"]
    assert pch["class"] == "PCI bridge" and pch["is_bridge"] is True and pch["path"] is None
    assert pch["name"] == (
        "Intel Corporation C620 Series Chipset Family PCI Express Root Port #11 (rev f9) "
        "(prog-if 00 [Normal decode])"
    )
    assert pch["driver"] == "pcieport"
    assert pch["link"] == {"cap_speed_gts": 8.0, "cap_width": 1, "sta_speed_gts": 2.5,
                           "sta_width": 1, "downgraded": True}
    for bdf in LENOVO_ENABLED_ROOT_PORTS:
        assert devs[bdf]["acs_ctl"] == flags(
            "SrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-"), bdf
        assert devs[bdf]["is_bridge"] is True
    nic = devs["0000:e2:00.3"]
    assert nic["path"] == "0000:e1:00.0/e2:00.3"
    assert nic["class"] == "Ethernet controller" and nic["is_bridge"] is False
    assert nic["acs_ctl"] == ALL_OFF and nic["acs_cap"] == ALL_OFF
    assert nic["driver"] == "i40e"


def test_lenovo_gpu_behind_its_root_port():
    devs = by_bdf(parse_lspci(read(LSPCI_LENOVO)))
    gpu = devs["0000:08:00.0"]
    assert gpu["path"] == "0000:07:00.0/08:00.0"
    assert gpu["class"] == "VGA compatible controller"
    assert gpu["name"].startswith("NVIDIA Corporation TU104GL [Quadro RTX 4000] (rev a1)")
    assert gpu["driver"] == "nvidia"
    assert gpu["acs_ctl"] is None and gpu["enabled"] is False
    # "LnkSta: Speed 5GT/s (downgraded), Width x16" (the width has no note)
    assert gpu["link"] == {"cap_speed_gts": 8.0, "cap_width": 16, "sta_speed_gts": 5.0,
                           "sta_width": 16, "downgraded": True}


SUPERMICRO_GPUS = [
    ("0000:0d:00.0", "00:02.0/0b:00.0/0c:04.0/0d:00.0"),
    ("0000:0e:00.0", "00:02.0/0b:00.0/0c:08.0/0e:00.0"),
    ("0000:14:00.0", "00:03.0/12:00.0/13:04.0/14:00.0"),
    ("0000:15:00.0", "00:03.0/12:00.0/13:08.0/15:00.0"),
    ("0000:8b:00.0", "80:02.0/83:00.0/84:08.0/8b:00.0"),
    ("0000:8c:00.0", "80:02.0/83:00.0/84:0c.0/8c:00.0"),
    ("0000:8f:00.0", "80:03.0/8d:00.0/8e:04.0/8f:00.0"),
    ("0000:90:00.0", "80:03.0/8d:00.0/8e:08.0/90:00.0"),
]


def test_supermicro_eight_v100_at_8gts_x16():
    devices = parse_lspci(read(LSPCI_SUPERMICRO))
    gpus = [d for d in devices if d["class"] == "3D controller"]
    assert [(d["bdf"], d["path"]) for d in gpus] == SUPERMICRO_GPUS
    for gpu in gpus:
        assert gpu["name"] == "NVIDIA Corporation GV100GL [Tesla V100 SXM2 16GB] (rev a1)"
        assert gpu["driver"] == "nvidia"
        assert gpu["link"] == {"cap_speed_gts": 8.0, "cap_width": 16, "sta_speed_gts": 8.0,
                               "sta_width": 16, "downgraded": False}, gpu["bdf"]


def test_supermicro_acs_everywhere_disabled():
    acs = acs_devices(parse_lspci(read(LSPCI_SUPERMICRO)))
    assert [d["bdf"] for d in acs] == [
        "0000:00:01.0", "0000:00:02.0", "0000:00:03.0",
        "0000:02:00.0", "0000:02:01.0", "0000:02:02.0", "0000:02:03.0",
        "0000:02:04.0", "0000:02:05.0", "0000:02:06.0", "0000:02:07.0",
        "0000:0c:04.0", "0000:0c:08.0", "0000:0c:0c.0", "0000:10:08.0",
        "0000:13:04.0", "0000:13:08.0", "0000:13:0c.0",
        "0000:80:00.0", "0000:80:01.0", "0000:80:02.0", "0000:80:03.0",
        "0000:81:00.0", "0000:81:00.1",
        "0000:84:04.0", "0000:84:08.0", "0000:84:0c.0",
        "0000:8e:04.0", "0000:8e:08.0", "0000:8e:0c.0", "0000:92:08.0",
    ]
    assert all(d["acs_ctl"] == ALL_OFF and d["enabled"] is False for d in acs)
    plx9765 = [d["bdf"] for d in acs if "PLX Technology, Inc. Device 9765" in d["name"]]
    pm8533 = [d["bdf"] for d in acs if "PM8533" in d["name"]]
    assert len(plx9765) == 12 and len(pm8533) == 8
    devs = by_bdf(acs)
    assert devs["0000:84:04.0"]["path"] == "80:02.0/83:00.0/84:04.0"
    assert devs["0000:00:02.0"]["path"] is None
    assert devs["0000:81:00.0"]["is_bridge"] is False  # X540 NIC function
    assert acs_targets(acs, "all") == []


def test_stelline_grep_lines_are_orphans_not_devices():
    result, warnings = scan(read(LSPCI_STELLINE_GREP))
    assert result["devices"] == []
    assert result["orphan_acs_ctl"] == [ALL_OFF] * 46
    assert result["orphan_lines"] == 46
    assert "46 ACSCtl line(s)" in warnings[0] and "0 of them show ACS enabled" in warnings[0]


def test_pex8747_excerpt_without_header():
    result, warnings = scan(read(LSPCI_PEX8747))
    assert result["devices"] == []
    assert result["orphan_acs_ctl"] == [ALL_OFF]
    assert result["orphan_lines"] == 38
    assert "1 ACSCtl line(s)" in warnings[0]


def test_pex8747_space_indented_block_with_header():
    (dev,) = parse_lspci(read(LSPCI_PEX8747_HDR))
    assert dev["bdf"] == "0000:03:08.0" and dev["path"] is None
    assert dev["class"] == "PCI bridge" and dev["is_bridge"] is True
    assert dev["name"] == (
        "PLX Technology, Inc. PEX 8747 48-Lane, 5-Port PCI Express Gen 3 (8.0 GT/s) Switch (rev ca)"
    )
    assert dev["acs_cap"] == ALL_ON
    assert dev["acs_ctl"] == ALL_OFF and dev["enabled"] is False
    assert dev["driver"] == "pcieport"
    assert dev["link"] is None  # the excerpt starts after the Express capability


def test_nonroot_output_counts_denied_capabilities():
    result, warnings = scan(read(LSPCI_NONROOT))
    assert warnings == []
    assert result["capabilities_denied"] == 3
    devs = by_bdf(result["devices"])
    assert sorted(devs) == ["0000:00:00.0", "0000:07:00.0", "0000:08:00.0"]
    assert devs["0000:07:00.0"]["is_bridge"] is True and devs["0000:07:00.0"]["driver"] == "pcieport"
    assert devs["0000:08:00.0"]["driver"] == "nvidia" and devs["0000:08:00.0"]["link"] is None
    assert devs["0000:00:00.0"]["is_bridge"] is False  # Host bridge is not a PCI bridge


# --------------------------------------------------------------------------- scope

def test_scope_bridges_versus_all():
    devices = parse_lspci(read(LSPCI_NIC_ACS))
    assert [d["bdf"] for d in acs_targets(devices, "bridges")] == ["0000:e1:00.0"]
    assert [d["bdf"] for d in acs_targets(devices, "all")] == ["0000:e1:00.0", "0000:e2:00.0"]
    nic = by_bdf(devices)["0000:e2:00.0"]
    assert nic["acs_ctl"] == flags("ReqRedir+ CmpltRedir+")
    with pytest.raises(ValueError):
        acs_targets(devices, "bridge")


def test_lenovo_targets_are_the_ten_enabled_bridges():
    devices = parse_lspci(read(LSPCI_LENOVO))
    expected = ["0000:00:1d.2"] + LENOVO_ENABLED_ROOT_PORTS
    assert [d["bdf"] for d in acs_targets(devices)] == expected
    assert [d["bdf"] for d in acs_targets(devices, "all")] == expected


# --------------------------------------------------------------------------- formats

def test_crlf_gives_the_same_result():
    text = read(LSPCI_SUPERMICRO)
    assert "\r" not in text
    assert scan(text.replace("\n", "\r\n")) == scan(text)


def test_space_indentation_gives_the_same_result():
    text = read(LSPCI_LENOVO)
    assert scan(text.expandtabs(8)) == scan(text)
    assert scan(text.replace("\t", "  ")) == scan(text)


def test_header_with_and_without_domain():
    text = read(LSPCI_PEX8747_HDR)
    with_domain = parse_lspci("0000:" + text)
    assert with_domain == parse_lspci(text)
    upper = parse_lspci(text.replace("03:08.0", "0000:03:0A.0", 1))
    assert upper[0]["bdf"] == "0000:03:0a.0"


def test_single_P_path_has_no_bdf_and_warns():
    text = "00:01.0/00.0 PCI bridge: Foo Bar\n\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+\n"
    result, warnings = scan(text)
    (dev,) = result["devices"]
    assert dev["bdf"] is None and dev["path"] == "00:01.0/00.0" and dev["enabled"] is True
    assert any("-PP" in w for w in warnings)
    assert acs_targets(result["devices"], "all") == []  # nothing to give setpci


def test_numeric_class_and_type1_header_make_a_bridge():
    numeric = parse_lspci("00:1c.0 0604: 8086:a110 (rev f1)\n\tACSCtl:\tSrcValid+\n")
    assert numeric[0]["is_bridge"] is True and numeric[0]["class"] == "0604"
    type1 = parse_lspci("00:1c.0 Odd class: Foo\n\tBus: primary=00, secondary=01, subordinate=01\n")
    assert type1[0]["is_bridge"] is True


def test_prompts_and_noise_lines_close_a_block():
    block = read(LSPCI_PEX8747_HDR)
    text = (
        "$ sudo lspci -vvv -s 03:08.0\n" + block
        + "root@box:~# lspci -vvv | grep ACSCtl\n"
        + "\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-\n"
        + "lspci: Unable to load libkmod resources: error -2\n"
    )
    result, warnings = scan(text)
    (dev,) = result["devices"]
    assert dev["bdf"] == "0000:03:08.0" and dev["enabled"] is False
    assert len(result["orphan_acs_ctl"]) == 1
    assert "1 of them show ACS enabled" in warnings[0]


def test_blank_line_ends_a_block():
    text = "03:08.0 PCI bridge: X\n\tDriver junk\n\n\t\tACSCtl:\tSrcValid+\n"
    result, warnings = scan(text)
    assert result["devices"][0]["acs_ctl"] is None
    assert len(result["orphan_acs_ctl"]) == 1 and len(warnings) == 1


def test_bytes_input_and_empty_input():
    assert parse_lspci(read(LSPCI_PEX8747_HDR).encode())[0]["bdf"] == "0000:03:08.0"
    assert scan("") == ({"devices": [], "orphan_acs_ctl": [], "orphan_lines": 0, "capabilities_denied": 0,
                         "capabilities_seen": 0, "acs_unreadable": 0}, [])
    assert parse_lspci("\n\n\r\n") == []


def test_warn_callback_is_optional():
    assert len(parse_lspci(read(LSPCI_STELLINE_GREP))) == 0
    assert len(parse_lspci("00:00.0 X: Y\n\t\tACSCtl: junk\n")) == 1


# --------------------------------------------------------------------------- damaged input

def test_truncated_acs_block_warns_and_leaves_device_out():
    text = read(LSPCI_PEX8747_HDR)
    cut = text[: text.index("ACSCap:")]
    result, warnings = scan(cut)
    (dev,) = result["devices"]
    assert dev["acs_ctl"] is None and acs_devices(result["devices"]) == []
    assert len(warnings) == 1 and "0000:03:08.0" in warnings[0] and "ACSCtl" in warnings[0]


def test_acsctl_cut_mid_line_fills_missing_flags_off_and_warns():
    text = "03:08.0 PCI bridge: X\n\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl+ DirectTrans+\n\t\tACSCtl:\tSrcValid+ TransBl"
    result, warnings = scan(text)
    (dev,) = result["devices"]
    assert dev["acs_ctl"] == flags("SrcValid+") and dev["enabled"] is True
    assert len(warnings) == 1 and "TransBlk" in warnings[0] and "DirectTrans" in warnings[0]


def test_acsctl_without_flags_warns():
    result, warnings = scan("03:08.0 PCI bridge: X\n\t\tACSCtl:\t???\n")
    assert result["devices"][0]["acs_ctl"] is None
    assert len(warnings) == 1 and "0000:03:08.0" in warnings[0]


def test_acsctl_without_acscap():
    result, warnings = scan("03:08.0 PCI bridge: X\n\t\tACSCtl:\t" + CTL_ON + "\n")
    assert result["devices"][0]["acs_cap"] == ALL_OFF
    assert len(warnings) == 1 and "ACSCap" in warnings[0]


def test_duplicate_bdf_keeps_the_later_block_and_warns():
    first = "03:08.0 PCI bridge: X\n\t\tACSCap:\t" + CTL_ON + "\n\t\tACSCtl:\t" + CTL_ON + "\n\n"
    later = "0000:03:08.0 PCI bridge: X\n\t\tACSCap:\t" + CTL_ON + "\n\t\tACSCtl:\t" + CTL_OFF + "\n"
    result, warnings = scan(first + later)
    (dev,) = result["devices"]
    assert dev["enabled"] is False and dev["line"] == 5
    assert len(warnings) == 1 and "more than once" in warnings[0]


def test_unreadable_link_warns():
    result, warnings = scan("03:08.0 PCI bridge: X\n\t\tLnkSta:\tgarbage\n")
    assert result["devices"][0]["link"]["sta_speed_gts"] is None
    assert len(warnings) == 1 and "LnkSta" in warnings[0]


def test_any_truncation_or_shuffle_never_raises():
    text = read(LSPCI_LENOVO)
    lines = text.splitlines(True)
    for end in range(0, len(text), 997):
        scan(text[:end])
        scan(text[end:])
    rng = random.Random(4711)
    for _round in range(30):
        sample = rng.sample(lines, 300)
        result, _warnings = scan("".join(sample))
        assert isinstance(result["devices"], list)
    for junk in ["\x00\xff", ":::::", "00:00.0", "00:00.0 ", "\tACSCtl:", "0000:zz:00.0 X: Y"]:
        scan(junk)


# --------------------------------------------------------------------------- small pieces

@pytest.mark.parametrize(
    "cap, sta, expected",
    [
        pytest.param("Port #4, Speed 8GT/s, Width x16, ASPM not supported",
                     "Speed 8GT/s (ok), Width x16 (ok)", (8.0, 16, 8.0, 16, False), id="ok-notes"),
        pytest.param("Port #0, Speed 16GT/s, Width x16, ASPM L1",
                     "Speed unknown (downgraded), Width x0 (downgraded)", (16.0, 16, None, 0, True),
                     id="unknown-downgraded"),
        pytest.param("Port #1, Speed 8GT/s, Width x8", "Speed 2.5GT/s (downgraded)",
                     (8.0, 8, 2.5, None, True), id="speed-only"),
        pytest.param("Port #1, Speed 8GT/s, Width x16", "Speed 8GT/s (ok), Width x8 (downgraded)",
                     (8.0, 16, 8.0, 8, True), id="width-downgraded"),
        pytest.param("Port #2, Speed 5GT/s, Width x4", "Speed 5GT/s, Width x4, TrErr- Train- SlotClk+",
                     (5.0, 4, 5.0, 4, False), id="old-lspci-no-notes-equal"),
        pytest.param("Port #2, Speed 8GT/s, Width x16", "Speed 2.5GT/s, Width x16",
                     (8.0, 16, 2.5, 16, True), id="old-lspci-no-notes-slower"),
        pytest.param(None, "Speed 32GT/s, Width x16", (None, None, 32.0, 16, False), id="no-lnkcap"),
        pytest.param("Port #0, Speed 2.5Gb/s, Width x1", "Speed 2.5Gb/s, Width x1",
                     (2.5, 1, 2.5, 1, False), id="ancient-gbs-unit"),
    ],
)
def test_parse_link(cap, sta, expected):
    link, problems = parse_link(cap, sta)
    assert problems == []
    keys = ("cap_speed_gts", "cap_width", "sta_speed_gts", "sta_width", "downgraded")
    assert tuple(link[k] for k in keys) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("03:08.0", "0000:03:08.0"),
        ("0000:E1:00.0", "0000:e1:00.0"),
        ("10000:e0:00.0", "10000:e0:00.0"),  # VMD domains have 5 hex digits
        ("00.0", None),
        ("zz:00.0", None),
        ("", None),
    ],
)
def test_normalize_bdf(text, expected):
    assert normalize_bdf(text) == expected


def test_parse_header_forms():
    assert parse_header("\t\tACSCtl: x") is None
    assert parse_header("$ lspci -vvv") is None
    assert parse_header("00:02.0/0b:00.0/0c:04.0/0d:00.0 3D controller: NVIDIA Corporation GV100GL") == {
        "bdf": "0000:0d:00.0", "path": "00:02.0/0b:00.0/0c:04.0/0d:00.0",
        "class": "3D controller", "name": "NVIDIA Corporation GV100GL",
    }
    assert parse_header("0001:40:00.0/41:00.0 Ethernet controller: X")["bdf"] == "0001:41:00.0"
    assert parse_header("00:00.0 Host bridge [0600]: Intel Corporation X [8086:2020]")["class"] == "Host bridge [0600]"
    assert parse_header("00:00.0") == {"bdf": "0000:00:00.0", "path": None, "class": "", "name": ""}


@pytest.mark.parametrize(
    "vendor, device, expected",
    [
        (0x8086, 0xA110, True),   # Sunrise Point-H root port #1
        (0x8086, 0xA11F, True),
        (0x8086, 0xA16A, True),
        (0x8086, 0xA294, True),   # Union Point
        (0x8086, 0xA2EE, True),
        (0x8086, 0xA120, False),
        (0x8086, 0xA1F0, False),
        (0x8086, 0x2030, False),  # Sky Lake-E root port (the Lenovo fixture's)
        (0x10B5, 0xA110, False),  # not Intel
    ],
)
def test_acs_ctl_misplaced(vendor, device, expected):
    assert acs_ctl_misplaced(vendor, device) is expected


# --------------------------------------------------------------------------- issue 12: what the output can tell

@pytest.mark.parametrize("name, evidence", [
    (LSPCI_LENOVO, None),
    (LSPCI_SUPERMICRO, None),
    (LSPCI_STELLINE_GREP, None),  # grep'd ACSCtl lines: their state is there
    (LSPCI_PEX8747_HDR, None),
    (LSPCI_EMPTY, "the lspci output is empty"),
    (LSPCI_PLAIN, "the output lists 298 device(s) but no capability line: it is plain lspci output, not lspci -vvv"),
    (LSPCI_NONROOT, "lspci could not read the capabilities of"),
], ids=["lenovo", "supermicro", "stelline-grep", "pex8747-hdr", "empty", "plain", "nonroot"])
def test_acs_evidence(name, evidence):
    text = read(name)
    found = acs_evidence(scan_lspci(text), text)
    if evidence is None:
        assert found is None
    else:
        assert found.startswith(evidence), found


def test_plain_lspci_has_devices_but_no_capabilities():
    result, warnings = scan(read(LSPCI_PLAIN))
    assert len(result["devices"]) == 298 and result["capabilities_seen"] == 0 and warnings == []
    assert acs_devices(result["devices"]) == []
    assert scan(read(LSPCI_LENOVO))[0]["capabilities_seen"] > 100


def test_lspci_v_without_acsctl_lines_is_unknown_state():
    """``lspci -v`` names the ACS capability but prints no ACSCtl line."""
    text = read(LSPCI_PEX8747_HDR)
    cut = "\n".join(line for line in text.splitlines() if "ACSCtl" not in line and "ACSCap" not in line) + "\n"
    result, _warnings = scan(cut)
    assert result["acs_unreadable"] == 1 and acs_devices(result["devices"]) == []
    assert acs_evidence(result, cut) == ("1 device(s) have an ACS capability but no ACSCtl line (lspci -v instead of "
                                         "-vvv, or a truncated output): their ACS state is unknown")


def test_text_that_is_not_lspci():
    assert acs_evidence(scan_lspci("hello\nworld\n"), "hello\nworld\n") == \
        "the text holds no lspci device block (it is not lspci output)"
