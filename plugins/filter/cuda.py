# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the cuda role: what to install for a CUDA version, and what nvcc says."""

from __future__ import annotations

import re

from ansible_collections.aiserver.gpu.plugins.module_utils._nvcc import parse_nvcc_version

DOCUMENTATION = r"""
name: cuda_packages
short_description: Work out how to install a CUDA toolkit without a driver
version_added: 0.1.0
author: aiserver.gpu maintainers (@aiserver-gpu)
description:
  - Pure function. From the asked CUDA version and the data of one distribution (the
    C(__cuda_platform) of C(roles/cuda/vars/<Distribution>-<major>.yml)) returns the
    packages to install, NVIDIA's repository and keyring where one is needed, where the
    toolkit lives and whether PATH/LD_LIBRARY_PATH must be set in C(/etc/profile.d).
  - Never raises on bad input; every reason not to go on is a sentence in C(problems),
    which the role asserts empty before any change.
  - Refuses the metapackages that pull a driver (C(cuda), C(cuda-X-Y), C(cuda-drivers*),
    C(cuda-runtime-*)) and every driver or kernel-module package (C(nvidia-driver*),
    C(nvidia-kernel-*), C(*-dkms)), whether they come from the data or from I(extra).
options:
  _input:
    description: The CUDA version, major.minor (C("11.8")). Quote it in YAML.
    type: str
    required: true
  platform:
    description: The distribution's data (C(__cuda_platform)); empty for an unsupported one.
    type: dict
    required: true
  samples:
    description: Also install the CUDA samples.
    type: bool
    default: false
  host_compiler:
    description: Also install the platform's host compiler packages (nvcc needs C(gcc)/C(g++)).
    type: bool
    default: true
  extra:
    description: More packages asked by the user; checked against the forbidden ones.
    type: list
    elements: str
    default: []
  forbidden:
    description: More package names to refuse, on top of the built-in patterns.
    type: list
    elements: str
    default: []
  distribution:
    description: C(ansible_facts.distribution), for the messages.
    type: str
    default: ''
  distribution_version:
    description: C(ansible_facts.distribution_version), for the messages.
    type: str
    default: ''
"""

EXAMPLES = r"""
- name: Work out what to install
  ansible.builtin.set_fact:
    __cuda_plan: >-
      {{ cuda_version | aiserver.gpu.cuda_packages(__cuda_platform, samples=cuda_samples,
         distribution=ansible_facts.distribution,
         distribution_version=ansible_facts.distribution_version) }}

- name: Read the release nvcc reports
  ansible.builtin.set_fact:
    __cuda_nvcc: "{{ __nvcc_out.stdout | aiserver.gpu.nvcc_version }}"
"""

RETURN = r"""
_value:
  description: The plan (cuda_packages) or the parsed nvcc version (nvcc_version, null when unparsable).
  type: dict
  contains:
    problems: {description: Sentences; non-empty means do not go on., type: list, elements: str}
    packages: {description: "Packages to install, in order.", type: list, elements: str}
    source: {description: C(distribution) or C(nvidia_repo)., type: str}
    repo_url: {description: NVIDIA's repository (null on Debian)., type: str}
    keyring_url: {description: URL of cuda-keyring's .deb (null on Debian)., type: str}
    prefix: {description: Where the toolkit is installed., type: str}
    bin_dir: {description: Folder holding the real nvcc., type: str}
    lib_dir: {description: Folder of the CUDA libraries., type: str}
    nvcc: {description: The nvcc to run to check the version., type: str}
    profile_needed: {description: Whether PATH/LD_LIBRARY_PATH must be set in /etc/profile.d., type: bool}
    samples_dir: {description: "Root of the samples sources when samples are installed, else null.", type: str}
    package_version_prefix: {description: What the toolkit package's version starts with., type: str}
"""

VERSION_RE = re.compile(r"^(?P<major>\d{1,2})\.(?P<minor>\d{1,2})$")

# Packages that would bring a driver or a kernel module: never installed by this role.
FORBIDDEN_RES = (
    re.compile(r"^cuda$"),                       # NVIDIA's everything metapackage (driver included)
    re.compile(r"^cuda-\d+-\d+$"),               # cuda-12-4: toolkit + driver
    re.compile(r"^cuda-drivers(-.*)?$"),          # the driver metapackages
    re.compile(r"^cuda-runtime-\d+-\d+$"),       # depends on cuda-drivers
    re.compile(r"^nvidia-driver(-.*)?$"),
    re.compile(r"^nvidia-tesla(-\d+)?-driver$"),
    re.compile(r"^nvidia-kernel-.*$"),            # nvidia-kernel-dkms, -open-dkms, -source
    re.compile(r"^nvidia-(open-)?dkms(-.*)?$"),
    re.compile(r"^.*-dkms$"),
)


def _forbidden(name, extra_names):
    return name in extra_names or any(rx.match(name) for rx in FORBIDDEN_RES)


def _fmt(template, version, major, minor):
    if template is None:
        return None
    return template.format(version=version, major=major, minor=minor)


def _tuple(version):
    return tuple(int(x) for x in str(version).split("."))


def cuda_packages(cuda_version, platform, samples=False, host_compiler=True, extra=None,
                  forbidden=None, distribution="", distribution_version=""):
    """Return the install plan for ``cuda_version`` on ``platform`` (see DOCUMENTATION)."""
    where = ("%s %s" % (distribution, distribution_version)).strip() or "this distribution"
    plan = {
        "problems": [], "packages": [], "source": None, "repo_url": None, "keyring_url": None,
        "keyring_package": None, "prefix": None, "bin_dir": None, "lib_dir": None, "nvcc": None,
        "profile_needed": False, "samples_dir": None, "package_version_prefix": None,
    }
    problems = plan["problems"]
    version = str(cuda_version).strip() if cuda_version is not None else ""
    match = VERSION_RE.match(version)
    if not match:
        problems.append(
            "cuda_version %r is not a CUDA version: write major.minor as a quoted string, "
            "for example \"11.8\" or \"12.4\"." % (cuda_version,))
        return plan
    major, minor = match.group("major"), match.group("minor")
    if not platform or not isinstance(platform, dict) or not platform.get("source"):
        problems.append(
            "The cuda role does not support %s: it knows Debian 12 (the distribution's "
            "nvidia-cuda-toolkit) and Ubuntu 22.04/24.04 (NVIDIA's CUDA repository)." % where)
        return plan

    source = platform["source"]
    plan["source"] = source
    packages = []
    if source == "distribution":
        versions = platform.get("versions") or {}
        if version not in versions:
            shipped = ", ".join(sorted(versions, key=_tuple)) or "none"
            problems.append(
                "CUDA %s is not available on %s: %s ships CUDA %s only (%s). Ask for "
                "cuda_version \"%s\", or use Ubuntu 22.04/24.04, where the role installs "
                "cuda-toolkit-X-Y from NVIDIA's CUDA repository (the path for other versions)."
                % (version, where, platform.get("name", where), shipped,
                   ", ".join(p for v in versions.values() for p in v.get("toolkit", [])) or "-",
                   sorted(versions, key=_tuple)[-1] if versions else "?"))
            return plan
        entry = versions[version]
        packages.extend(entry.get("toolkit", []))
        plan["package_version_prefix"] = entry.get("package_version_prefix", version + ".")
        if samples:
            if not entry.get("samples"):
                problems.append("%s has no CUDA samples package for CUDA %s." % (where, version))
            packages.extend(entry.get("samples") or [])
            plan["samples_dir"] = platform.get("samples_dir")
    elif source == "nvidia_repo":
        minimum = platform.get("min_version")
        if minimum and _tuple(version) < _tuple(minimum):
            problems.append(
                "CUDA %s is not in NVIDIA's repository for %s: it starts at CUDA %s. Set "
                "cuda_version to \"%s\" or later." % (version, where, minimum, minimum))
            return plan
        packages.append(_fmt(platform.get("toolkit", "cuda-toolkit-{major}-{minor}"), version, major, minor))
        plan["repo_url"] = platform.get("repo_url")
        plan["keyring_package"] = platform.get("keyring_package")
        if plan["repo_url"] and plan["keyring_package"]:
            plan["keyring_url"] = plan["repo_url"].rstrip("/") + "/" + plan["keyring_package"]
        plan["package_version_prefix"] = version + "."
        if samples:
            problems.append(
                "cuda_samples is not available with NVIDIA's repository on %s: NVIDIA stopped "
                "packaging the samples with CUDA 11.6; build them from "
                "https://github.com/NVIDIA/cuda-samples (tag v%s) instead." % (where, version))
    else:
        problems.append("Unknown CUDA source %r in the data for %s." % (source, where))
        return plan

    if host_compiler:
        packages.extend(platform.get("host_compiler") or [])
    packages.extend(extra or [])
    plan["packages"] = list(dict.fromkeys(p for p in packages if p))
    extra_names = set(forbidden or ())
    refused = [p for p in plan["packages"] if _forbidden(p, extra_names)]
    if refused:
        problems.append(
            "Refusing %s: these packages bring a driver or a kernel module (the cuda role "
            "installs the toolkit only; the driver is the nvidia_driver role's job)."
            % ", ".join(refused))

    plan["prefix"] = _fmt(platform.get("prefix"), version, major, minor)
    plan["bin_dir"] = _fmt(platform.get("bin_dir"), version, major, minor)
    plan["lib_dir"] = _fmt(platform.get("lib_dir"), version, major, minor)
    plan["nvcc"] = _fmt(platform.get("nvcc"), version, major, minor)
    plan["profile_needed"] = bool(platform.get("profile_needed", False))
    return plan


def nvcc_version(text):
    """Parse ``nvcc --version`` output: dict with release/version/build, or None."""
    return parse_nvcc_version(text)


class FilterModule:
    """aiserver.gpu CUDA filters."""

    def filters(self):
        return {"cuda_packages": cuda_packages, "nvcc_version": nvcc_version}
