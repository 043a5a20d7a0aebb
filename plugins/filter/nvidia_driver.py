# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the nvidia_driver role: package names, APT sources edits, Secure Boot state.

Every filter is a pure function of its arguments, unit-tested over every combination.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.aiserver.gpu.plugins.module_utils._mokutil import parse_sb_state, parse_secure_boot

DOCUMENTATION = r"""
name: nvidia_driver_packages
short_description: The NVIDIA driver packages to install for a distribution, branch and flavour
version_added: 0.1.0
author: aiserver.gpu maintainers (@aiserver-gpu)
description:
  - Returns the list of packages that install the NVIDIA driver of one branch, from the
    distribution's own archive (Debian non-free, Ubuntu restricted) or from NVIDIA's CUDA
    apt repository.
  - Fails with a sentence for a combination that does not exist (a branch Debian 12 does not
    ship, NVIDIA's repository on Debian, the Debian archive on Ubuntu).
  - The same file holds C(nvidia_driver_deb822_components),
    C(nvidia_driver_sources_list_components), C(nvidia_driver_sb_state) and
    C(nvidia_driver_secure_boot) (the firmware state, shim validation, and whether the kernel
    refuses unsigned modules), used by the role to edit APT sources and read
    C(mokutil --sb-state).
options:
  _input:
    description: The distribution, as C(ansible_facts['distribution']) (C(Debian), C(Ubuntu)).
    type: str
    required: true
  version:
    description: The distribution version, major (C(12), C(22)) or full (C(22.04)).
    type: str
    required: true
  branch:
    description: The driver branch (C(535)).
    type: str
    required: true
  flavour:
    description: C(proprietary) or C(open) kernel modules.
    type: str
    default: proprietary
  headless:
    description: Without the X/Wayland parts (compute servers).
    type: bool
    default: true
  source:
    description: C(debian), C(ubuntu) (the distribution's archive) or C(nvidia) (CUDA repository).
    type: str
    default: the distribution's own archive
"""

EXAMPLES = r"""
- name: The packages of the 535 server branch on Ubuntu 22.04
  ansible.builtin.debug:
    msg: "{{ 'Ubuntu' | aiserver.gpu.nvidia_driver_packages('22', '535') }}"
  # ['nvidia-headless-535-server', 'nvidia-utils-535-server']
"""

RETURN = r"""
_value:
  description: Package names, the main driver package first.
  type: list
  elements: str
"""

FLAVOURS = ("proprietary", "open")
SOURCES = ("debian", "ubuntu", "nvidia")
# The only driver branch each Debian release carries in non-free.
DEBIAN_BRANCHES = {"12": "535"}
UBUNTU_VERSIONS = ("22", "24")


def _major(version):
    return str(version).strip().split(".", maxsplit=1)[0]


def nvidia_driver_packages(distribution, version, branch, flavour="proprietary", headless=True, source=None):
    """Return the driver packages, main package first; raise AnsibleFilterError when impossible."""
    distribution = str(distribution)
    major = _major(version)
    branch = str(branch).strip()
    if not re.match(r"^[0-9]{3}$", branch):
        raise AnsibleFilterError("nvidia_driver_branch must be a driver branch such as \"535\", got %r." % (branch,))
    if flavour not in FLAVOURS:
        raise AnsibleFilterError("nvidia_driver_flavour must be one of %s, got %r." % (", ".join(FLAVOURS), flavour))
    if source is not None and source not in SOURCES:
        raise AnsibleFilterError("nvidia_driver_source must be one of %s, got %r." % (", ".join(SOURCES), source))
    headless = bool(headless)

    if distribution == "Debian":
        source = source or "debian"
        if source != "debian":
            raise AnsibleFilterError(
                "nvidia_driver_source %r is not supported on Debian: the role installs the driver "
                "from Debian's own non-free archive (nvidia_driver_source: debian)." % source)
        if major not in DEBIAN_BRANCHES:
            raise AnsibleFilterError("Debian %s is not supported by the role (Debian %s only)."
                                     % (version, ", ".join(sorted(DEBIAN_BRANCHES))))
        if branch != DEBIAN_BRANCHES[major]:
            raise AnsibleFilterError(
                "Debian %s ships only the %s driver branch in non-free, not %s: set "
                "nvidia_driver_branch to \"%s\"." % (major, DEBIAN_BRANCHES[major], branch, DEBIAN_BRANCHES[major]))
        kernel = "nvidia-open-kernel-dkms" if flavour == "open" else "nvidia-kernel-dkms"
        if headless:
            # Kernel module, nvidia-smi and the CUDA/NVML libraries; no X server driver.
            return [kernel, "nvidia-smi", "libcuda1", "nvidia-persistenced", "firmware-misc-nonfree"]
        packages = ["nvidia-driver"]
        if flavour == "open":
            packages.append(kernel)
        # nvidia-smi is no dependency of nvidia-driver (not even a Recommends): the role's
        # GPU check and the other roles need it.
        return packages + ["nvidia-smi", "nvidia-persistenced", "firmware-misc-nonfree"]

    if distribution == "Ubuntu":
        source = source or "ubuntu"
        if source == "debian":
            raise AnsibleFilterError("nvidia_driver_source 'debian' is not possible on Ubuntu: use ubuntu or nvidia.")
        if major not in UBUNTU_VERSIONS:
            raise AnsibleFilterError("Ubuntu %s is not supported by the role (22.04 and 24.04 only)." % version)
        open_suffix = "-open" if flavour == "open" else ""
        if source == "ubuntu":
            # The Ubuntu archive's -server branch (long-term support, for compute).
            stem = "%s-server" % branch
        else:
            # NVIDIA's CUDA repository: the branch's packages under their plain names.
            stem = branch
        main = ("nvidia-headless-%s%s" if headless else "nvidia-driver-%s%s") % (stem, open_suffix)
        return [main, "nvidia-utils-%s" % stem]

    raise AnsibleFilterError("The nvidia_driver role supports Debian 12 and Ubuntu 22.04/24.04, not %s %s."
                             % (distribution, version))


def _components_edit(components, wanted):
    missing = [c for c in wanted if c not in components]
    return components + missing, missing


def nvidia_driver_deb822_components(content, suite_prefix, components):
    """Add missing components to the stanzas of a deb822 .sources file whose Suites all start
    with ``suite_prefix``. Only the Components line of such stanzas changes; comments, other
    fields, other stanzas, blank lines and line endings are kept as they are."""
    lines = content.splitlines(True)
    out = []
    stanza = []

    def flush():
        fields = {}
        for line in stanza:
            match = re.match(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*?)\s*$", line)
            if match:
                fields[match.group(1).lower()] = match.group(2)
        suites = fields.get("suites", "").split()
        types = fields.get("types", "").split()
        if suites and "deb" in types and all(s.startswith(suite_prefix) for s in suites):
            for line in stanza:
                match = re.match(r"^(Components:[ \t]*)(.*?)([ \t]*)(\r?\n)?$", line, re.IGNORECASE)
                if match:
                    new, missing = _components_edit(match.group(2).split(), list(components))
                    if missing:
                        line = "%s%s%s%s" % (match.group(1), " ".join(new), match.group(3), match.group(4) or "")
                out.append(line)
        else:
            out.extend(stanza)
        del stanza[:]

    for line in lines:
        if line.strip() == "":
            flush()
            out.append(line)
        else:
            stanza.append(line)
    flush()
    return "".join(out)


_ONE_LINE = re.compile(r"^(\s*deb\s+(?:\[[^\]]*\]\s+)?\S+\s+)(\S+)(\s+)([^#\r\n]*?)(\s*(?:#.*)?)(\r?\n)?$")


def nvidia_driver_sources_list_components(content, suite_prefix, components):
    """Add missing components to the active ``deb`` lines of a one-line sources.list whose
    suite starts with ``suite_prefix``; every other line is kept as it is."""
    out = []
    for line in content.splitlines(True):
        match = _ONE_LINE.match(line)
        if match and match.group(2).startswith(suite_prefix) and not match.group(2).endswith("/"):
            new, missing = _components_edit(match.group(4).split(), list(components))
            if missing:
                line = "%s%s%s%s%s%s" % (match.group(1), match.group(2), match.group(3), " ".join(new),
                                         match.group(5), match.group(6) or "")
        out.append(line)
    return "".join(out)


def nvidia_driver_apt_policy(text):
    """``LANG=C apt-cache policy PKG...`` output -> {package: {"installed": v|None, "candidate": v|None}}.

    Packages apt does not know are absent from the result; ``(none)`` reads as None."""
    result = {}
    current = None
    for line in (text or "").splitlines():
        header = re.match(r"^(\S+):\s*$", line)
        if header:
            current = result.setdefault(header.group(1).split(":")[0], {"installed": None, "candidate": None})
            continue
        field = re.match(r"^\s+(Installed|Candidate):\s*(\S+)\s*$", line)
        if field and current is not None:
            value = field.group(2)
            current[field.group(1).lower()] = None if value == "(none)" else value
    return result


def nvidia_driver_headers_flavour(kernels, flavours, default):
    """The kernel flavour of the first kernel release that ends with a known flavour.

    ``kernels`` in order of preference (the running kernel first, then the installed ones);
    ``flavours`` longest first where one ends another (``cloud-amd64`` before ``amd64``).
    6.1.0-28-cloud-amd64 -> cloud-amd64; a release no flavour fits (a foreign running
    kernel, a container's host) is passed over; nothing fits -> ``default``."""
    for kernel in kernels or ():
        for flavour in flavours or ():
            if str(kernel).endswith("-" + flavour):
                return flavour
    return default


def nvidia_driver_headers(policy, running, installed, meta):
    """The linux-headers packages to install so DKMS builds the module now and after
    kernel upgrades: those of the installed kernels, of the running kernel, and the
    flavour's metapackage (it brings the headers of every future kernel), each only when
    apt has a candidate for it (``policy`` from nvidia_driver_apt_policy)."""
    known = set(name for name, versions in (policy or {}).items() if versions.get("candidate"))
    wanted = list(installed or []) + [running, meta]
    return [name for name in dict.fromkeys(wanted) if name and name in known]


def nvidia_driver_sb_state(text):
    """``mokutil --sb-state`` output -> enabled, disabled, not_supported or unknown."""
    return parse_sb_state(text)


def nvidia_driver_secure_boot(output):
    """``mokutil --sb-state`` output -> dict: state (as nvidia_driver_sb_state), firmware,
    setup_mode, shim_validation, enforcing (true, false, or none for unknown) and reason.

    ``output`` is the text, or the registered result of the command (its stdout and stderr
    are read; a result without them, such as a missing mokutil's, reads as unknown)."""
    if isinstance(output, dict):
        output = "%s\n%s" % (output.get("stdout") or "", output.get("stderr") or "")
    return parse_secure_boot(output)


class FilterModule:
    """aiserver.gpu nvidia_driver filters."""

    def filters(self):
        return {
            "nvidia_driver_packages": nvidia_driver_packages,
            "nvidia_driver_deb822_components": nvidia_driver_deb822_components,
            "nvidia_driver_sources_list_components": nvidia_driver_sources_list_components,
            "nvidia_driver_sb_state": nvidia_driver_sb_state,
            "nvidia_driver_secure_boot": nvidia_driver_secure_boot,
            "nvidia_driver_apt_policy": nvidia_driver_apt_policy,
            "nvidia_driver_headers_flavour": nvidia_driver_headers_flavour,
            "nvidia_driver_headers": nvidia_driver_headers,
        }
