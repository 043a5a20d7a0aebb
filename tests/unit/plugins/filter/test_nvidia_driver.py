import itertools

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.aiserver.gpu.plugins.filter.nvidia_driver import (
    FilterModule,
    nvidia_driver_deb822_components,
    nvidia_driver_packages,
    nvidia_driver_sources_list_components,
)


def _expected():
    """(distribution, version, flavour, headless, source) -> packages, for branch 535: every
    combination the role accepts."""
    expected = {
        ("Debian", "12", "proprietary", False, None):
            ["nvidia-driver", "nvidia-smi", "nvidia-persistenced", "firmware-misc-nonfree"],
        ("Debian", "12", "proprietary", True, None):
            ["nvidia-kernel-dkms", "nvidia-smi", "libcuda1", "nvidia-persistenced", "firmware-misc-nonfree"],
        ("Debian", "12", "open", False, None):
            ["nvidia-driver", "nvidia-open-kernel-dkms", "nvidia-smi", "nvidia-persistenced", "firmware-misc-nonfree"],
        ("Debian", "12", "open", True, None):
            ["nvidia-open-kernel-dkms", "nvidia-smi", "libcuda1", "nvidia-persistenced", "firmware-misc-nonfree"],
    }
    for version in ("22", "22.04", "24", "24.04"):
        for source in (None, "ubuntu"):
            expected[("Ubuntu", version, "proprietary", True, source)] = ["nvidia-headless-535-server", "nvidia-utils-535-server"]
            expected[("Ubuntu", version, "proprietary", False, source)] = ["nvidia-driver-535-server", "nvidia-utils-535-server"]
            expected[("Ubuntu", version, "open", True, source)] = ["nvidia-headless-535-server-open", "nvidia-utils-535-server"]
            expected[("Ubuntu", version, "open", False, source)] = ["nvidia-driver-535-server-open", "nvidia-utils-535-server"]
        expected[("Ubuntu", version, "proprietary", True, "nvidia")] = ["nvidia-headless-535", "nvidia-utils-535"]
        expected[("Ubuntu", version, "proprietary", False, "nvidia")] = ["nvidia-driver-535", "nvidia-utils-535"]
        expected[("Ubuntu", version, "open", True, "nvidia")] = ["nvidia-headless-535-open", "nvidia-utils-535"]
        expected[("Ubuntu", version, "open", False, "nvidia")] = ["nvidia-driver-535-open", "nvidia-utils-535"]
    expected[("Debian", "12", "proprietary", False, "debian")] = expected[("Debian", "12", "proprietary", False, None)]
    return expected


EXPECTED = _expected()

ALL = list(itertools.product(
    [("Debian", "12"), ("Debian", "12.8"), ("Debian", "11"), ("Ubuntu", "22"), ("Ubuntu", "22.04"),
     ("Ubuntu", "24"), ("Ubuntu", "24.04"), ("Ubuntu", "20.04"), ("RedHat", "9")],
    ["proprietary", "open"], [True, False], [None, "debian", "ubuntu", "nvidia"]))


@pytest.mark.parametrize("dist_version, flavour, headless, source", ALL,
                         ids=["-".join(str(p) for p in (dv[0], dv[1], f, h, s)) for dv, f, h, s in ALL])
def test_every_combination(dist_version, flavour, headless, source):
    distribution, version = dist_version
    key = (distribution, version if distribution == "Ubuntu" else version.split(".")[0], flavour, headless, source)
    if distribution == "Debian" and version.startswith("12") and source in (None, "debian"):
        key = ("Debian", "12", flavour, headless, None)
    if key in EXPECTED:
        assert nvidia_driver_packages(distribution, version, "535", flavour, headless, source) == EXPECTED[key]
    else:
        with pytest.raises(AnsibleFilterError) as exc:
            nvidia_driver_packages(distribution, version, "535", flavour, headless, source)
        assert "not" in str(exc.value)


@pytest.mark.parametrize("branch", ["550", "570"])
def test_other_branches_on_ubuntu(branch):
    assert nvidia_driver_packages("Ubuntu", "24.04", branch) == [
        "nvidia-headless-%s-server" % branch, "nvidia-utils-%s-server" % branch]


def test_debian_has_only_535():
    with pytest.raises(AnsibleFilterError, match='only the 535 driver branch.*"535"'):
        nvidia_driver_packages("Debian", "12", "550")


@pytest.mark.parametrize("branch", ["53", "535.1", "latest", "", None])
def test_bad_branch(branch):
    with pytest.raises(AnsibleFilterError, match="driver branch"):
        nvidia_driver_packages("Ubuntu", "22.04", branch)


def test_bad_flavour_and_source():
    with pytest.raises(AnsibleFilterError, match="nvidia_driver_flavour"):
        nvidia_driver_packages("Ubuntu", "22.04", "535", "closed")
    with pytest.raises(AnsibleFilterError, match="nvidia_driver_source"):
        nvidia_driver_packages("Ubuntu", "22.04", "535", "open", True, "ppa")


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {
        "nvidia_driver_packages", "nvidia_driver_deb822_components",
        "nvidia_driver_sources_list_components", "nvidia_driver_sb_state", "nvidia_driver_apt_policy",
        "nvidia_driver_headers_flavour", "nvidia_driver_headers", "nvidia_driver_secure_boot"}


# LANG=C apt-cache policy nvidia-driver nvidia-open-kernel-dkms nvidia-headless mokutil, in the
# Debian 12 test container (nvidia-headless is unknown to bookworm: no entry at all).
POLICY = """\
nvidia-driver:
  Installed: (none)
  Candidate: 535.309.01-0+deb12u1
  Version table:
     535.309.01-0+deb12u1 500
        500 http://deb.debian.org/debian bookworm-updates/non-free amd64 Packages
nvidia-open-kernel-dkms:
  Installed: (none)
  Candidate: 535.261.03-1
  Version table:
     535.261.03-1 500
        500 http://deb.debian.org/debian bookworm/non-free amd64 Packages
mokutil:
  Installed: 0.6.0-2
  Candidate: 0.6.0-2
  Version table:
 *** 0.6.0-2 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
"""


def test_apt_policy():
    from ansible_collections.aiserver.gpu.plugins.filter.nvidia_driver import nvidia_driver_apt_policy
    assert nvidia_driver_apt_policy(POLICY) == {
        "nvidia-driver": {"installed": None, "candidate": "535.309.01-0+deb12u1"},
        "nvidia-open-kernel-dkms": {"installed": None, "candidate": "535.261.03-1"},
        "mokutil": {"installed": "0.6.0-2", "candidate": "0.6.0-2"},
    }
    assert nvidia_driver_apt_policy("") == {}
    pinned = "nvidia-driver:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n"
    assert nvidia_driver_apt_policy(pinned) == {"nvidia-driver": {"installed": None, "candidate": None}}


WANTED = ["main", "contrib", "non-free", "non-free-firmware"]

DEB822 = """\
# Written by the installer
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://security.debian.org/debian-security
Suites: bookworm-security
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

# The user's own stanza for another release: not ours to touch.
Enabled: no
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
"""


def test_deb822_edits_only_bookworm_components():
    after = nvidia_driver_deb822_components(DEB822, "bookworm", WANTED)
    before_lines, after_lines = DEB822.splitlines(), after.splitlines()
    assert len(before_lines) == len(after_lines)
    changed = [(b, a) for b, a in zip(before_lines, after_lines) if b != a]
    assert changed == [
        ("Components: main", "Components: main contrib non-free non-free-firmware"),
        ("Components: main non-free-firmware", "Components: main non-free-firmware contrib non-free"),
    ]
    assert after.endswith("Suites: trixie\nComponents: main\n")


def test_deb822_is_idempotent_and_keeps_crlf():
    once = nvidia_driver_deb822_components(DEB822, "bookworm", WANTED)
    assert nvidia_driver_deb822_components(once, "bookworm", WANTED) == once
    crlf = DEB822.replace("\n", "\r\n")
    assert nvidia_driver_deb822_components(crlf, "bookworm", WANTED) == once.replace("\n", "\r\n")


def test_deb822_mixed_suites_stanza_is_left_alone():
    text = "Types: deb\nURIs: http://x/debian\nSuites: bookworm trixie\nComponents: main\n"
    assert nvidia_driver_deb822_components(text, "bookworm", WANTED) == text


def test_deb822_no_trailing_newline():
    text = "Types: deb\nURIs: http://x/debian\nSuites: bookworm\nComponents: main"
    assert nvidia_driver_deb822_components(text, "bookworm", ["main", "contrib"]).endswith("Components: main contrib")


ONE_LINE = """\
# deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ - Official amd64 NETINST]/ bookworm main
deb http://deb.debian.org/debian/ bookworm main
deb-src http://deb.debian.org/debian/ bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://security.debian.org/debian-security bookworm-security main non-free-firmware  # security
deb http://deb.debian.org/debian/ bookworm-updates main contrib non-free non-free-firmware
deb https://download.docker.com/linux/debian bookworm stable
deb http://deb.debian.org/debian/ trixie main
"""


def test_one_line_sources():
    after = nvidia_driver_sources_list_components(ONE_LINE, "bookworm", WANTED).splitlines()
    before = ONE_LINE.splitlines()
    assert after[0] == before[0] and after[2] == before[2] and after[4] == before[4] and after[6] == before[6]
    assert after[1] == "deb http://deb.debian.org/debian/ bookworm main contrib non-free non-free-firmware"
    assert after[3] == ("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                        "http://security.debian.org/debian-security bookworm-security "
                        "main non-free-firmware contrib non-free  # security")
    # A third-party repository on the same suite name gets the components too only when it
    # is a Debian mirror line; the role applies the filter to Debian's own files only.
    once = "\n".join(after) + "\n"
    assert nvidia_driver_sources_list_components(once, "bookworm", WANTED) == once


# --- kernel headers ---------------------------------------------------------------------------

DEBIAN_FLAVOURS = ["cloud-amd64", "rt-amd64", "amd64"]


@pytest.mark.parametrize("kernels, expected", [
    (["6.1.0-28-cloud-amd64"], "cloud-amd64"),
    (["6.1.0-28-amd64"], "amd64"),
    (["6.1.0-28-rt-amd64", "6.1.0-28-amd64"], "rt-amd64"),
    # A foreign running kernel (the container's host) is passed over for an installed one.
    (["6.18.44-fc-v782", "6.1.0-41-cloud-amd64"], "cloud-amd64"),
    (["6.18.44-fc-v782"], "amd64"),
    ([], "amd64"),
])
def test_headers_flavour(kernels, expected):
    from ansible_collections.aiserver.gpu.plugins.filter.nvidia_driver import nvidia_driver_headers_flavour
    assert nvidia_driver_headers_flavour(kernels, DEBIAN_FLAVOURS, "amd64") == expected


def test_headers_flavour_ubuntu():
    from ansible_collections.aiserver.gpu.plugins.filter.nvidia_driver import nvidia_driver_headers_flavour
    flavours = ["generic", "aws", "azure", "gcp", "oracle", "kvm", "lowlatency"]
    assert nvidia_driver_headers_flavour(["5.15.0-91-generic"], flavours, "generic") == "generic"
    assert nvidia_driver_headers_flavour(["6.8.0-1012-aws"], flavours, "generic") == "aws"


def test_headers_keep_only_what_apt_has_and_always_the_metapackage():
    from ansible_collections.aiserver.gpu.plugins.filter.nvidia_driver import nvidia_driver_headers
    policy = {
        "linux-headers-6.1.0-41-cloud-amd64": {"installed": None, "candidate": "6.1.158-1"},
        "linux-headers-6.18.44-fc-v782": {"installed": None, "candidate": None},
        "linux-headers-cloud-amd64": {"installed": None, "candidate": "6.1.158-1"},
    }
    # Foreign running kernel: the installed kernel's headers and the metapackage.
    assert nvidia_driver_headers(policy, "linux-headers-6.18.44-fc-v782",
                                 ["linux-headers-6.1.0-41-cloud-amd64"], "linux-headers-cloud-amd64") == [
        "linux-headers-6.1.0-41-cloud-amd64", "linux-headers-cloud-amd64"]
    # Running kernel known and installed: once, plus the metapackage for later kernels.
    assert nvidia_driver_headers(policy, "linux-headers-6.1.0-41-cloud-amd64",
                                 ["linux-headers-6.1.0-41-cloud-amd64"], "linux-headers-cloud-amd64") == [
        "linux-headers-6.1.0-41-cloud-amd64", "linux-headers-cloud-amd64"]
    # Nothing apt knows: nothing (the role then says DKMS cannot build).
    assert nvidia_driver_headers({}, "linux-headers-x", ["linux-headers-y"], "linux-headers-amd64") == []
