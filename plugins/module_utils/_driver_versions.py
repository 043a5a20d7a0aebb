# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for the versions of the NVIDIA driver's parts.

No Ansible imports: the module ``aiserver.gpu.nvidia_driver_state`` and the kernel
safety net use them, and the unit tests call them directly on captured outputs.

Parts
    * the **loaded** kernel module: ``/proc/driver/nvidia/version`` (:func:`parse_proc_version`);
    * the **installed** kernel module of a kernel: ``modinfo [-k KERNEL] nvidia``
      (:func:`parse_modinfo`);
    * the **packages**: ``dpkg-query -W`` or ``dpkg -l`` (:func:`parse_dpkg_query`), sorted
      into kernel-module and user-space parts by :func:`packages_of` with the name lists kept
      as data (``KERNEL_MODULE_PACKAGES``, ``USERSPACE_PACKAGES``, ``UNRELATED_PACKAGES``);

:func:`compare` judges the parts (findings with a sentence and the fix), :func:`state_of`
and :func:`sentence_of` say it once.

Nothing here raises on odd input: a text that says nothing usable gives None.
"""

from __future__ import annotations

import re

# NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.129.03  Thu Oct 19 18:56:32 UTC 2023
# NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.129.03  Release Build  (...)
_NVRM_RE = re.compile(
    r"^NVRM version:\s*(?P<what>.*?Kernel Module.*?)\s+(?P<version>[0-9]+\.[0-9]+(?:\.[0-9]+)?)\b",
    re.MULTILINE,
)
_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+(?:\.[0-9]+)?$")
_MODINFO_LINE_RE = re.compile(r"^(?P<key>[a-z_][a-z0-9_]*):\s*(?P<value>.*?)\s*$")


def parse_proc_version(text):
    """``/proc/driver/nvidia/version`` -> ``{'version', 'flavour', 'line'}`` or None.

    ``flavour`` is ``open`` for NVIDIA's open kernel module, ``proprietary`` otherwise.
    """
    if not isinstance(text, str):
        return None
    m = _NVRM_RE.search(text.replace("\r\n", "\n"))
    if not m:
        return None
    what = m.group("what")
    return {
        "version": m.group("version"),
        "flavour": "open" if re.search(r"\bOpen Kernel Module\b", what) else "proprietary",
        "line": m.group(0).strip(),
    }


def parse_modinfo(text):
    """``modinfo [-k KERNEL] nvidia`` -> ``{'version', 'filename', 'vermagic', 'signer', 'license'}`` or None.

    None when the text has no ``version:`` line (``modinfo: ERROR: Module nvidia not found.``).
    Keys modinfo did not print are None. Only the first value of a repeated key is kept.
    """
    if not isinstance(text, str):
        return None
    fields = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        m = _MODINFO_LINE_RE.match(line)
        if m and m.group("key") not in fields:
            fields[m.group("key")] = m.group("value")
    version = fields.get("version")
    if not version or not _VERSION_RE.match(version):
        return None
    vermagic = fields.get("vermagic")
    return {
        "version": version,
        "filename": fields.get("filename"),
        "vermagic": vermagic.split()[0] if vermagic else None,
        "signer": fields.get("signer"),
        "license": fields.get("license"),
    }


# --------------------------------------------------------------------------- dpkg packages
#
# ``dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' PATTERN...`` prints one
# line per package dpkg knows ("ii  libnvidia-ml1 535.309.01-0+deb12u1", "un  libcuda1 "
# for a name it only knows of); ``dpkg -l`` prints the same first three columns after a
# header, with ``name:arch`` and a version cut at the column width. Both are read here.

# The abbreviated status: desired (u i h r p), current (n c H U F W t i), error (R or none).
_STATUS_RE = re.compile(r"^[uihrp][ncHUFWti][R ]?$")
# A version the NVIDIA driver gives itself: a three-digit branch, then one or two parts.
_DRIVER_VERSION_RE = re.compile(r"^(?P<branch>[0-9]{3})\.[0-9]{2,3}(?:\.[0-9]{2,3})?$")

# Kernel-module parts, in order of precedence; each is (regular expression, what it is).
# ``driver versioned``: its version is the driver's (nvidia-kernel-dkms 535.309.01-0+deb12u1);
# the Ubuntu prebuilt modules carry the kernel's version (linux-modules-nvidia-550-server-
# 6.8.0-51-generic 6.8.0-51.52+1) and tell the branch only by their name.
KERNEL_MODULE_PACKAGES = (
    # Debian: nvidia-kernel-dkms, nvidia-open-kernel-dkms, nvidia-kernel-support,
    # nvidia-tesla-535-kernel-dkms, nvidia-kernel-source...
    r"^nvidia(?:-tesla(?:-[0-9]{3})?)?(?:-open)?-kernel-(?:dkms|support|source)$",
    # Ubuntu: nvidia-dkms-535, nvidia-dkms-535-server, nvidia-dkms-550-open,
    # nvidia-kernel-source-535, nvidia-kernel-common-535 (the module's firmware and udev rules).
    r"^nvidia-(?:dkms|kernel-source|kernel-common)-[0-9]{3}(?:-server)?(?:-open)?$",
    # Ubuntu prebuilt modules: linux-modules-nvidia-535-5.15.0-112-generic,
    # linux-objects-nvidia-550-server-6.8.0-51-generic, linux-signatures-nvidia-6.8.0-51-generic.
    r"^linux-(?:modules|objects|signatures)-nvidia-",
)

# Packages whose name says NVIDIA but whose version is not the driver's (or that do not
# go with it): they never count, whatever their version looks like.
UNRELATED_PACKAGES = (
    r"^nvidia-kernel-common$",          # Debian: 20220217+3~deb12u1
    r"^nvidia-support$", r"^nvidia-installer-cleanup$", r"^nvidia-legacy-check$",
    r"^glx-alternative-nvidia$", r"^glx-alternative-mesa$", r"^glx-diversions$", r"^update-glx$",
    r"^nvidia-settings", r"^nvidia-modprobe$", r"^nvidia-persistenced$", r"^nvidia-xconfig$",
    r"^libxnvctrl", r"^nvidia-prime", r"^nvidia-detector$", r"^screen-resolution-extra$",
    r"^firmware-nvidia", r"^nvidia-firmware-",    # GSP firmware, its own package
    r"^nvidia-container", r"^libnvidia-container", r"^nvidia-docker",
    r"^nvidia-cuda-", r"^nvidia-cudnn", r"^nvidia-openjdk", r"^nvidia-profiler", r"^nvidia-visual-profiler",
    r"^libnvidia-egl-wayland", r"^libnvidia-egl-gbm", r"^nvidia-egl-wayland",
    r"^bumblebee-nvidia$", r"^primus",
)

# User-space parts carrying the driver's version: any package of the driver whose name
# says NVIDIA, and the libraries that do not (libcuda1, libnvcuvid1, libnvoptix1).
USERSPACE_PACKAGES = (
    r"nvidia",
    r"^libcuda1", r"^libnvcuvid1", r"^libnvoptix1", r"^libnvidia-",
)

# The branch in an Ubuntu package name: nvidia-utils-535, libnvidia-compute-550-server.
_NAME_BRANCH_RE = re.compile(r"-(?P<branch>[0-9]{3})(?:-server)?(?:-open)?(?::[a-z0-9]+)?$")
_PREBUILT_BRANCH_RE = re.compile(r"^linux-(?:modules|objects)-nvidia-(?P<branch>[0-9]{3})(?:-server)?(?:-open)?-")

# The dpkg-query patterns of the driver's packages (the module's default).
DEFAULT_PATTERNS = ("*nvidia*", "libcuda1*", "libnvcuvid1*", "libnvoptix1*")


def upstream_version(version):
    """The upstream part of a Debian package version: ``535.309.01-0+deb12u1`` ->
    ``535.309.01``, ``535.183.01-0ubuntu0.22.04.1`` -> ``535.183.01``, ``1:1.1.10-1`` ->
    ``1.1.10``; a version cut short by ``dpkg -l`` (``440.82-0ubuntu0~0.18.04.``) still
    gives its upstream part. None for an empty or odd value."""
    if not isinstance(version, str):
        return None
    version = version.strip()
    if not version:
        return None
    no_epoch = version.split(":", 1)[1] if re.match(r"^[0-9]+:", version) else version
    upstream = no_epoch.rsplit("-", 1)[0] if "-" in no_epoch else no_epoch
    return upstream if re.match(r"^[0-9][A-Za-z0-9.+~]*$", upstream) else None


def driver_version(version):
    """The driver version a package version stands for (``535.309.01``), or None when it is
    not versioned like a driver (``20220217+3~deb12u1``, ``1.2.2``, ``6.8.0-51.52+1``)."""
    upstream = upstream_version(version)
    return upstream if upstream and _DRIVER_VERSION_RE.match(upstream) else None


def branch_of(version):
    """``535`` for ``535.309.01`` (or a package version of it), else None."""
    found = driver_version(version) or (version if isinstance(version, str) and
                                        _DRIVER_VERSION_RE.match(version) else None)
    return found.split(".")[0] if found else None


def version_key(version):
    """A sort key for a driver version (``535.54.03`` < ``535.104.05``)."""
    return tuple(int(part) if part.isdigit() else 0 for part in str(version or "").split("."))


def parse_dpkg_query(text, warn=None):
    """``dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\\n'`` (or ``dpkg -l``)
    output -> a list of ``{'name', 'arch', 'status', 'version', 'installed', 'broken'}``.

    ``installed`` is true for a fully installed package (current state ``i``); ``broken``
    for one dpkg left half way (unpacked, half-configured, half-installed, awaiting
    triggers, or with the reinstall-required flag). Packages only known by name (``un``),
    removed ones with their configuration left (``rc``) keep ``installed`` false. Header
    lines of ``dpkg -l`` and ``dpkg-query:`` messages are skipped; any other line it cannot
    read goes to ``warn``. Never raises."""
    records = []
    if not isinstance(text, str):
        return records
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith(("Desired=", "| ", "|/", "||/", "+++-", "dpkg-query:", "dpkg:")):
            continue
        words = line.split()
        status = words[0]
        # dpkg-query writes the status with its blank error flag ("ii "): the split drops it.
        if not _STATUS_RE.match(status) or len(words) < 2:
            if warn:
                warn("a dpkg-query line that is not 'STATUS NAME VERSION' was skipped: %r" % line[:120])
            continue
        name, _sep, arch = words[1].partition(":")
        version = words[2] if len(words) > 2 and words[2] != "<none>" else None
        records.append({
            "name": name,
            "arch": arch or None,
            "status": status,
            "version": version,
            "installed": status[1] == "i" and status[2:3] != "R",
            "broken": status[1] in "UFHWt" or status[2:3] == "R",
        })
    return records


def _matches(patterns, name):
    return any(re.search(pattern, name) for pattern in patterns)


def classify_package(name, version):
    """What an installed package is to the driver: ``kernel`` (a kernel-module part),
    ``userspace`` (a user-space part carrying the driver's version), ``transitional`` (an
    Ubuntu package whose name says another branch than its version: libnvidia-common-455
    460.91.03, an empty package pulling the next branch) or None (not the driver's)."""
    if not name or _matches(UNRELATED_PACKAGES, name):
        return None
    driver = driver_version(version)
    named = _NAME_BRANCH_RE.search(name)
    if _matches(KERNEL_MODULE_PACKAGES, name):
        if name.startswith("linux-"):
            return "kernel"
        if not driver:
            return None
        return "transitional" if named and named.group("branch") != driver.split(".")[0] else "kernel"
    if not driver or not _matches(USERSPACE_PACKAGES, name):
        return None
    if named and named.group("branch") != driver.split(".")[0]:
        return "transitional"
    return "userspace"


def packages_of(records):
    """The installed packages of :func:`parse_dpkg_query`'s records, sorted into the
    driver's parts: ``{'packages': {name: version}, 'full': {name: package version},
    'kernel_module_packages': [names], 'kernel': {name: driver version},
    'prebuilt_branches': {name: branch}, 'userspace': {name: driver version},
    'transitional': [names], 'broken': {name: status}}``.

    A name installed for two architectures with two versions (libcuda1 amd64 and i386)
    keeps both, the second as ``name:arch``."""
    out = {"packages": {}, "full": {}, "kernel_module_packages": [], "kernel": {}, "prebuilt_branches": {},
           "userspace": {}, "transitional": [], "broken": {}}
    for record in records or []:
        if not isinstance(record, dict) or not record.get("name"):
            continue
        name, version = record["name"], record.get("version")
        if record.get("broken"):
            out["broken"][name] = record.get("status")
        if not record.get("installed") or not version:
            continue
        key = name
        if name in out["full"]:
            if out["full"][name] == version:
                continue
            key = "%s:%s" % (name, record.get("arch") or "other")
        out["packages"][key] = version
        out["full"][key] = version
        kind = classify_package(name, version)
        if kind == "kernel":
            out["kernel_module_packages"].append(key)
            if driver_version(version):
                out["kernel"][key] = driver_version(version)
            else:
                prebuilt = _PREBUILT_BRANCH_RE.match(name)
                if prebuilt:
                    out["prebuilt_branches"][key] = prebuilt.group("branch")
        elif kind == "userspace":
            out["userspace"][key] = driver_version(version)
        elif kind == "transitional":
            out["transitional"].append(key)
    return out


# --------------------------------------------------------------------------- the comparison

STATES = ("ok", "not_installed", "reboot_pending", "mismatch", "off_branch")
# Which finding decides the state, the worst first.
_RANK = {"mismatch": 4, "off_branch": 3, "reboot_pending": 2, "not_installed": 1}
_NVML_RE = re.compile(r"NVML library version:\s*(?P<version>[0-9]+\.[0-9]+(?:\.[0-9]+)?)")


def nvml_version(message):
    """``570.124`` from nvidia-smi's ``NVML library version: 570.124`` line (newer drivers
    print it after ``Failed to initialize NVML: Driver/library version mismatch``), or None."""
    match = _NVML_RE.search(message) if isinstance(message, str) else None
    return match.group("version") if match else None


def _listing(names, limit=4):
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1] if names else ""
    return "%s and %d more" % (", ".join(names[:limit]), len(names) - limit)


def _by_version(parts):
    """{version: [names]} of a {name: version} dict, the most common version first."""
    groups = {}
    for name in sorted(parts):
        groups.setdefault(parts[name], []).append(name)
    return dict(sorted(groups.items(), key=lambda item: (-len(item[1]), version_key(item[0]))))


def _full_of(pkgs, version):
    """The package version a driver version has in this listing (all the driver's packages
    come from one source package, so one installed at ``version`` gives it)."""
    for name in sorted(pkgs.get("full") or {}):
        if driver_version(pkgs["full"][name]) == version:
            return pkgs["full"][name]
    return None


def install_command(pkgs, names, version):
    """``apt-get install NAME=FULL...`` putting ``names`` at driver ``version`` (with
    ``--allow-downgrades`` when one would go down), or None when no installed package shows
    the exact package version of ``version``. An Ubuntu package named for another branch
    (libnvidia-common-495 beside 510) cannot take that version: it is purged instead."""
    full = _full_of(pkgs, version)
    if not full or not names:
        return None
    target_branch = version.split(".")[0]
    install, purge = [], []
    for name in sorted(names):
        named = _NAME_BRANCH_RE.search(name.split(":")[0])
        (purge if named and named.group("branch") != target_branch else install).append(name)
    steps = []
    if install:
        current = [pkgs.get("userspace", {}).get(n) or pkgs.get("kernel", {}).get(n) for n in install]
        down = any(c and version_key(c) > version_key(version) for c in current)
        steps.append("apt-get install %s%s" % ("--allow-downgrades " if down else "",
                                               " ".join("%s=%s" % (n.split(":")[0], full) for n in install)))
    if purge:
        steps.append("apt-get purge %s" % " ".join(n.split(":")[0] for n in purge))
    return " && ".join(steps)


def _finding(kind, parts, sentence, fix):
    return {"kind": kind, "parts": parts, "sentence": sentence, "fix": fix}


def _userspace_phrase(userspace):
    groups = _by_version(userspace)
    return "; ".join("%s %s" % (_listing(names), version) for version, names in groups.items())


def compare(parts, branch=None):
    """The findings for the driver's parts; pure, never raises.

    ``parts``: ``loaded`` (the running module's version or None), ``module`` (the version
    of the module on disk for the running kernel, or None), ``packages`` (:func:`packages_of`'s
    dict, or None when the packages could not be read), ``smi_version`` and
    ``smi_error_kind`` (what nvidia-smi said), ``nvml`` (the NVML library version nvidia-smi
    printed). ``branch``: the pinned branch (``535``) or None.

    Each finding is ``{kind, parts: {part: version}, sentence, fix}``; ``kind`` is one of
    ``mismatch``, ``off_branch``, ``reboot_pending``, ``not_installed`` (they set the state)
    or ``note`` (said, does not change it)."""
    parts = parts if isinstance(parts, dict) else {}
    pkgs = parts.get("packages") if isinstance(parts.get("packages"), dict) else {}
    loaded = parts.get("loaded") if isinstance(parts.get("loaded"), str) else None
    module = parts.get("module") if isinstance(parts.get("module"), str) else None
    smi_version = parts.get("smi_version") if isinstance(parts.get("smi_version"), str) else None
    if smi_version and not _DRIVER_VERSION_RE.match(smi_version):
        smi_version = None
    error_kind = parts.get("smi_error_kind") if isinstance(parts.get("smi_error_kind"), str) else None
    userspace = dict(pkgs.get("userspace") or {})
    kernel = dict(pkgs.get("kernel") or {})
    findings = []

    if not loaded and smi_version:
        loaded = smi_version   # /proc unreadable (a container): nvidia-smi's driver is the loaded module
    elif loaded and smi_version and smi_version != loaded:
        findings.append(_finding("note", {"loaded module": loaded, "nvidia-smi": smi_version},
                                 "nvidia-smi reports driver %s but the loaded module is %s." % (smi_version, loaded),
                                 "Run the role again (the module changed while it ran)."))

    for name, status in sorted((pkgs.get("broken") or {}).items()):
        findings.append(_finding(
            "mismatch", {name: status},
            "The package %s is half installed (dpkg status %s)." % (name, status),
            "Finish the installation: dpkg --configure -a && apt-get install -f"))

    if not (loaded or module or userspace or kernel or pkgs.get("kernel_module_packages")):
        kind = "not_installed"
        sentence = "No NVIDIA driver is installed: no module is loaded, none is on disk for the running kernel " \
                   "and no driver package is installed."
        if error_kind == "driver_library_mismatch":
            kind = "mismatch"
            sentence = ("nvidia-smi reports a Driver/library version mismatch, yet no driver module or package "
                        "could be read (a .run install, or a container without /proc/driver/nvidia).")
        findings.append(_finding(kind, {}, sentence, "Install the driver (the aiserver.gpu.nvidia_driver role)."))
        return findings

    groups = _by_version(userspace)
    target_user = next(iter(groups)) if groups else None

    # User space against itself.
    if len(groups) > 1:
        # What will run after a reboot wins: the module on disk, else the kernel-module
        # packages' version, else the version most packages have (the smallest fix).
        kernel_versions = sorted(set(kernel.values()))
        target = module if module in groups else \
            kernel_versions[0] if len(kernel_versions) == 1 and kernel_versions[0] in groups else next(iter(groups))
        off = sorted(n for n, v in userspace.items() if v != target)
        command = install_command(pkgs, off, target)
        findings.append(_finding(
            "mismatch", dict((n, userspace[n]) for n in sorted(userspace)),
            "The user-space packages of the driver disagree: %s." % _userspace_phrase(userspace),
            (command + (" (then reboot)" if loaded and loaded != target else "")) if command else
            "Install %s at %s (apt-cache madison shows the exact version)." % (_listing(off), target)))
        target_user = target

    # The dkms/kernel packages against user space.
    for name, version in sorted(kernel.items()):
        if target_user and version != target_user:
            command = install_command(pkgs, [name], target_user)
            findings.append(_finding(
                "mismatch", {name: version, "user space": target_user},
                "The kernel-module package %s is %s, the user space is %s." % (name, version, target_user),
                (command + " (then reboot)") if command else
                "Install %s at %s, then reboot." % (name, target_user)))

    user = target_user
    parts_seen = {"loaded module": loaded, "module on disk": module, "user space": user}
    parts_seen = dict((k, v) for k, v in parts_seen.items() if v)
    if user and loaded and user != loaded:
        if module == user:
            findings.append(_finding(
                "reboot_pending", parts_seen,
                "The loaded kernel module is %s while the module on disk and the user space are %s." % (loaded, user),
                "Reboot (the %s module loads then)." % user))
        elif module:
            command = install_command(pkgs, sorted(userspace), module)
            findings.append(_finding(
                "mismatch", parts_seen,
                "The user space is %s, the loaded kernel module %s and the module on disk %s." % (user, loaded, module),
                (command + (" (then reboot)" if module != loaded else "")) if command else
                "Install the kernel-module package at %s (so DKMS builds it for this kernel), then reboot." % user))
        else:
            findings.append(_finding(
                "mismatch", parts_seen,
                "The user space is %s but the loaded kernel module is %s and no nvidia module is on disk for the "
                "running kernel." % (user, loaded),
                "%s the kernel-module package (%s) at %s so the module is there for the running kernel "
                "(DKMS builds it; Ubuntu's linux-modules-nvidia-%s-<kernel> is prebuilt for one kernel), then reboot."
                % ("Reinstall" if pkgs.get("kernel_module_packages") else "Install",
                   _listing(pkgs.get("kernel_module_packages") or ["nvidia-kernel-dkms"]), user, user.split(".")[0])))
    elif user and module and module != user:
        command = install_command(pkgs, sorted(userspace), module)
        findings.append(_finding(
            "mismatch", parts_seen,
            "The module on disk is %s but the user space is %s%s." % (
                module, user, " (and the loaded module %s)" % loaded if loaded else ""),
            (command + " (then reboot)") if command else
            "Install the kernel-module package at %s, then reboot." % user))
    elif loaded and module and module != loaded and not user:
        findings.append(_finding(
            "reboot_pending", parts_seen,
            "The loaded kernel module is %s, the module on disk %s." % (loaded, module),
            "Reboot (the %s module loads then)." % module))
    elif user and not loaded and not module and (kernel or pkgs.get("kernel_module_packages")):
        findings.append(_finding(
            "note", parts_seen,
            "No nvidia module is loaded and none is on disk for the running kernel; the user space is %s." % user,
            "Without a GPU this is expected; with one, rebuild the module (dkms autoinstall) and reboot."))
    elif user and not loaded and not module and not kernel:
        findings.append(_finding(
            "mismatch", parts_seen,
            "The user space is %s but no kernel-module package is installed and no nvidia module is on disk." % user,
            "Install the kernel-module package at %s, then reboot." % user))

    nvml = parts.get("nvml") if isinstance(parts.get("nvml"), str) else None
    explained = any(f["kind"] in ("mismatch", "reboot_pending") for f in findings)
    if error_kind == "driver_library_mismatch" and not explained:
        seen = dict(parts_seen)
        if nvml:
            seen["NVML library"] = nvml
        findings.append(_finding(
            "mismatch", seen,
            "nvidia-smi reports a Driver/library version mismatch%s although the packages read agree (%s)." % (
                " (NVML library %s)" % nvml if nvml else "",
                ", ".join("%s %s" % item for item in seen.items() if item[0] != "NVML library") or "nothing read"),
            "Look for another libnvidia-ml.so.1 (ldconfig -p | grep libnvidia-ml: a .run install under /usr/local "
            "or a library from another package), remove it, then reboot."))

    if branch:
        off = {}
        for label, version in (("loaded module", loaded), ("module on disk", module)):
            if version and branch_of(version) != str(branch):
                off[label] = version
        for name, version in sorted(list(userspace.items()) + list(kernel.items())):
            if branch_of(version) != str(branch):
                off[name] = version
        for name, found in sorted((pkgs.get("prebuilt_branches") or {}).items()):
            if found != str(branch):
                off[name] = found
        if off:
            findings.append(_finding(
                "off_branch", off,
                "Not on the pinned %s branch: %s." % (branch, ", ".join("%s %s" % item for item in off.items())),
                "Install the %s driver (nvidia_driver_branch: %s with the aiserver.gpu.nvidia_driver role), then "
                "reboot." % (branch, branch)))
    return findings


def state_of(findings):
    """The state the findings decide: the worst kind, else ``ok``."""
    kinds = [f.get("kind") for f in findings or [] if isinstance(f, dict)]
    ranked = sorted((k for k in kinds if k in _RANK), key=lambda k: -_RANK[k])
    return ranked[0] if ranked else "ok"


def sentence_of(findings, parts=None):
    """One sentence for the state: the worst finding with its fix; for ``ok`` the versions."""
    state = state_of(findings)
    if state != "ok":
        worst = [f for f in findings if f.get("kind") == state][0]
        return "%s Fix: %s." % (worst["sentence"], worst["fix"].rstrip("."))
    parts = parts if isinstance(parts, dict) else {}
    said = [("loaded module", parts.get("loaded")), ("module on disk", parts.get("module")),
            ("user space", parts.get("user"))]
    said = ["%s %s" % item for item in said if item[1]]
    notes = [f["sentence"] for f in findings or [] if f.get("kind") == "note"]
    return ("The driver's parts agree (%s)." % ", ".join(said) if said else "The driver's parts agree.") + \
        ("" if not notes else " " + " ".join(notes))
