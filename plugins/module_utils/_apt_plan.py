# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What apt would really install, read from ``apt-get install --simulate``; pure standard library.

``LANG=C apt-get install --simulate -o Debug::NoLocking=1 PKG...`` prints the whole plan,
dependencies included, one action a line (apt-pkg's ``pkgSimulate``)::

    Inst libnvidia-ml1 (580.95.05-1 localhost [amd64])
    Inst libsystemd0 [252.38-1~deb12u1] (252.39-1~deb12u2 Debian:12.15/oldstable [amd64]) []
    Conf libnvidia-ml1 (580.95.05-1 localhost [amd64])
    Remv nvidia-driver-535 [535.183.01-0ubuntu1]

or, when it cannot, ``E:`` lines (``Unable to locate package X``, ``Version 'V' for 'X' was
not found``) and a ``The following packages have unmet dependencies:`` block. :func:`parse`
reads both; :func:`parse_show` reads ``apt-cache show NAME=VERSION...`` (the ``Source:``,
``Depends:`` and ``Provides:`` of each planned package); :func:`classify` says which driver
branch a planned package belongs to, and :func:`check` puts it together.

The branch of a package, in this order (measured on Debian 12's archive and on Ubuntu's
names, tests/unit/fixtures/apt):

1. Its version, when the package is built from the driver's source package and the version
   is a driver version (``580.95.05-1``, ``1:535.309.01-0+deb12u1``): what is inside wins
   over the name, because Ubuntu's transitional packages keep the old name
   (``libnvidia-compute-418`` 430.50-0ubuntu3, "Transitional package for
   libnvidia-compute-430").
2. The branch in the name (Ubuntu: ``libnvidia-extra-535-server``,
   ``linux-modules-nvidia-580-server-generic``, ``nvidia-dkms-570-server-open``; Debian's old
   ``nvidia-tesla-470-driver``, ``nvidia-legacy-390xx-driver``), for packages whose version is
   not a driver's (``linux-modules-nvidia-550-server-6.8.0-51-generic`` is 6.8.0-51.52+1).
3. Otherwise the package is not the driver's: many NVIDIA-named packages are versioned on
   their own (Debian: ``nvidia-kernel-common`` 20220217+3~deb12u1 from ``nvidia-support``,
   ``glx-alternative-nvidia`` 1.2.2 from ``glx-alternatives``, ``libnvidia-egl-wayland1``
   1:1.1.10-1 from ``egl-wayland``, ``nvidia-persistenced`` 535.171.04-1~deb12u1, whose
   535 is no promise of anything). Its branch is None.

The driver's source packages are :data:`DRIVER_SOURCES` (Debian ``nvidia-graphics-drivers``,
``nvidia-graphics-drivers-tesla-470``..., ``nvidia-open-gpu-kernel-modules``; Ubuntu
``nvidia-graphics-drivers-535-server``...). Without ``apt-cache show`` data the source is
unknown; a package whose name looks like the driver's and is not in
:data:`INDEPENDENT_PACKAGES` is then judged by its version, and the result says so
(``basis: "version (source unknown)"``).
"""

from __future__ import annotations

import re

# Source packages that build the driver itself: their binaries carry the driver's version.
DRIVER_SOURCES = re.compile(
    r"^(?:nvidia-graphics-drivers(?:-[a-z0-9.+-]+)?|nvidia-open-gpu-kernel-modules|"
    r"nvidia-(?:fabric-?manager|kernel-source|open-kernel-source)(?:-[0-9]{3}[a-z0-9-]*)?|"
    r"fabric-manager-[0-9]{3}[a-z0-9-]*|libnvidia-nscq-[0-9]{3})$")

# NVIDIA-named packages versioned independently of the driver (Debian 12's archive, measured
# with apt-cache show; tests/unit/fixtures/apt/P_*.show). Used only when the source is unknown.
INDEPENDENT_PACKAGES = frozenset([
    "nvidia-kernel-common",       # 20220217+3~deb12u1, source nvidia-support (20151021+13 in bullseye)
    "nvidia-support",             # 20220217+3~deb12u1
    "nvidia-installer-cleanup",   # 20220217+3~deb12u1, source nvidia-support
    "glx-alternative-nvidia",     # 1.2.2, source glx-alternatives
    "glx-alternative-mesa",       # 1.2.2, source glx-alternatives
    "glx-diversions",             # 1.2.2, source glx-alternatives
    "update-glx",                 # 1.2.2, source glx-alternatives
    "libnvidia-egl-wayland1",     # 1:1.1.10-1, source egl-wayland
    "libnvidia-egl-gbm1",         # source egl-gbm
    "nvidia-settings",            # source nvidia-settings (its own 535.x / 525.x)
    "nvidia-modprobe",            # source nvidia-modprobe (no Source: field, 535.309.01-0+deb12u1)
    "nvidia-persistenced",        # source nvidia-persistenced, 535.171.04-1~deb12u1
    "nvidia-xconfig",             # source nvidia-xconfig
    "nvidia-cuda-toolkit",        # CUDA 11.8.89, not the driver
    "nvidia-cuda-dev",
    "libnvidia-container1",       # the container toolkit, 1.x
    "libnvidia-container-tools",
    "nvidia-container-toolkit",
    "nvidia-container-toolkit-base",
    "firmware-misc-nonfree",      # 20230210-5, source firmware-nonfree
])

# A driver version: a three-digit branch, then a dot (epoch allowed): 535.309.01-0+deb12u1,
# 580.95.05-0ubuntu1, 1:535.54.03-1. Not 6.8.0-51.52+1 (linux-modules-nvidia-...).
_DRIVER_VERSION = re.compile(r"^(?:[0-9]+:)?([0-9]{3})\.[0-9]+")
# The branch in a package name: -535-, -580-server, -470-driver, -390xx-, at the end too.
_NAME_BRANCH = re.compile(r"(?:^|-)([0-9]{3})(?:xx)?(?=-|$)")
_DRIVER_NAME = re.compile(r"nvidia|^libcuda|^libnvcuvid|^libnvoptix|^libnvidia|^xserver-xorg-video-nvidia")

_INST = re.compile(r"^Inst (?P<name>\S+)(?: \[(?P<old>[^\]]*)\])? \((?P<version>\S+)(?: (?P<origin>.*?))? "
                   r"\[(?P<arch>[^\]]+)\]\)(?: \[.*\])?\s*$")
_CONF = re.compile(r"^Conf (?P<name>\S+) \((?P<version>\S+)(?: (?P<origin>.*?))? \[(?P<arch>[^\]]+)\]\)\s*$")
_REMV = re.compile(r"^(?P<verb>Remv|Purg) (?P<name>\S+)(?: \[(?P<old>[^\]]*)\])?(?: \[.*\])?\s*$")
_SUMMARY = re.compile(r"^(\d+) upgraded, (\d+) newly installed, (?:(\d+) downgraded, )?(\d+) to remove and "
                      r"(\d+) not upgraded\.")
_UNMET_HEAD = "The following packages have unmet dependencies:"
_UNMET_PKG = re.compile(r"^ (?P<name>\S+) : (?P<rest>.*)$")
_RELATION = re.compile(r"^(?P<kind>Depends|Pre-Depends|Recommends|Conflicts|Breaks|Suggests): (?P<what>.*)$")
_E_LOCATE = re.compile(r"^E: Unable to locate package (?P<name>.+?)\s*$")
_E_VERSION = re.compile(r"^E: Version '(?P<version>[^']*)' for '(?P<name>[^']*)' was not found\s*$")
_E_RELEASE = re.compile(r"^E: Release '(?P<release>[^']*)' for '(?P<name>[^']*)' was not found\s*$")
_E_NO_CANDIDATE = re.compile(r"^E: Package '(?P<name>[^']*)' has no installation candidate\s*$")
_E_HELD = "E: Unable to correct problems, you have held broken packages."
_NOISE = ("Reading package lists", "Building dependency tree", "Reading state information",
          "NOTE: This is only a simulation!", "apt-get needs root privileges for real execution.",
          "Keep also in mind that locking is deactivated,", "so don't depend on the relevance to the real current situation!")


def _noop(_message):
    pass


def _strip_arch(name):
    return name.split(":", 1)[0]


def parse(text, warn=None):
    """The plan of an ``apt-get install --simulate`` run.

    Returns ``{"install": [...], "configure": [...], "remove": [...], "errors": [...],
    "summary": {upgraded, new, downgraded, remove, not_upgraded} or None}``. An ``install`` record is ``{name, arch, version,
    old_version, origin}`` (``old_version`` None for a new package; ``origin`` as apt prints
    it, ``Debian-Security:12/oldstable-security``, ``localhost`` for a file: repository);
    ``remove`` records are ``{name, old_version, purge}``. ``errors`` holds ``{kind, package,
    message, ...}`` with kind ``unknown_package``, ``version_not_found`` (with ``version``),
    ``release_not_found``, ``no_candidate``, ``unmet_dependencies`` (with ``relations``, the
    package's unmet lines, continuation lines joined), ``held_broken`` or ``error`` (any other
    ``E:`` line). Lines it does not know go to ``warn``; nothing raises."""
    warn = warn or _noop
    plan = {"install": [], "configure": [], "remove": [], "errors": [], "summary": None}
    unmet = None  # the current package's record in an unmet-dependencies block
    in_unmet = False
    in_list = False  # inside "The following ... packages ..." name lists
    for raw in (text or "").splitlines():
        line = raw.rstrip()
        if not line.strip():
            in_list = False
            continue
        if in_unmet:
            match = _UNMET_PKG.match(line)
            if match:
                unmet = {"kind": "unmet_dependencies", "package": match.group("name"), "relations": [],
                         "message": None}
                plan["errors"].append(unmet)
                unmet["relations"].append(match.group("rest").strip())
                continue
            if line.startswith(" ") and unmet is not None:
                part = line.strip()
                if _RELATION.match(part) or not unmet["relations"]:
                    unmet["relations"].append(part)
                else:  # "or" continuation of the previous relation
                    unmet["relations"][-1] += " " + part
                continue
            in_unmet = False
        if line == _UNMET_HEAD:
            in_unmet = True
            unmet = None
            continue
        for pattern, kind in ((_E_LOCATE, "unknown_package"), (_E_VERSION, "version_not_found"),
                              (_E_RELEASE, "release_not_found"), (_E_NO_CANDIDATE, "no_candidate")):
            match = pattern.match(line)
            if match:
                record = {"kind": kind, "package": match.group("name"), "message": line[3:]}
                if kind == "version_not_found":
                    record["version"] = match.group("version")
                if kind == "release_not_found":
                    record["release"] = match.group("release")
                plan["errors"].append(record)
                break
        else:
            match = _INST.match(line)
            if match:
                plan["install"].append({
                    "name": _strip_arch(match.group("name")), "arch": match.group("arch"),
                    "version": match.group("version"), "old_version": match.group("old"),
                    "origin": (match.group("origin") or "").strip() or None})
                continue
            match = _CONF.match(line)
            if match:
                plan["configure"].append({"name": _strip_arch(match.group("name")), "version": match.group("version"),
                                          "arch": match.group("arch")})
                continue
            match = _REMV.match(line)
            if match:
                plan["remove"].append({"name": _strip_arch(match.group("name")), "old_version": match.group("old"),
                                       "purge": match.group("verb") == "Purg"})
                continue
            match = _SUMMARY.match(line)
            if match:
                plan["summary"] = dict(zip(("upgraded", "new", "downgraded", "remove", "not_upgraded"),
                                           (int(x or 0) for x in match.groups())))
                continue
            if line == _E_HELD:
                plan["errors"].append({"kind": "held_broken", "package": None, "message": line[3:]})
                continue
            if line.startswith("E: "):
                plan["errors"].append({"kind": "error", "package": None, "message": line[3:]})
                continue
            if line.startswith(("W: ", "N: ")):
                warn("apt: %s" % line)
                continue
            if line.startswith("The following ") or line.endswith(":") or (in_list and line.startswith("  ")):
                in_list = True
                continue
            if line.startswith(_NOISE) or _is_prose(line):
                continue
            warn("apt-get --simulate printed a line this parser does not know: %r" % line)
    return plan


_PROSE = ("Some packages could not be installed.", "The following information may help", "Package ",
          "This may mean that the package", "However the following packages replace it:", "Note, selecting ",
          "Selected version ", "Need to get ", "After this operation", "Use 'apt autoremove'", "Calculating upgrade")
# Lines apt prints around a plan, matched anywhere in the line.
_PROSE_PARTS = ("requested an impossible situation", "distribution that some required packages",
                "or been moved out of Incoming.", "is only available from another source",
                " is already the newest version (", " set to manually installed.", " set to automatically installed.")


def _is_prose(line):
    return line.startswith(_PROSE) or any(part in line for part in _PROSE_PARTS)


def parse_show(text):
    """``{(name, version): {"source", "source_version", "depends", "provides"}}`` from
    ``apt-cache show NAME=VERSION...``. ``source`` is the ``Source:`` field's name, else the
    package's own name (dpkg's rule); ``depends`` are the ``Pre-Depends`` and ``Depends``
    groups, each a list of alternative names; ``provides`` the names it provides."""
    records = {}
    for chunk in re.split(r"\n\s*\n", text or ""):
        fields = {}
        key = None
        for line in chunk.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key] += " " + line.strip()
                continue
            name, sep, value = line.partition(":")
            if not sep or " " in name:
                key = None
                continue
            key = name
            fields[key] = value.strip()
        if "Package" not in fields or "Version" not in fields:
            continue
        source, source_version = fields["Package"], fields["Version"]
        if fields.get("Source"):
            match = re.match(r"^(\S+)(?: \(([^)]+)\))?", fields["Source"])
            source = match.group(1)
            source_version = match.group(2) or fields["Version"]
        depends = []
        for field in ("Pre-Depends", "Depends"):
            for group in _split_relations(fields.get(field, "")):
                depends.append(group)
        provides = [alt[0] for alt in _split_relations(fields.get("Provides", ""))]
        records[(_strip_arch(fields["Package"]), fields["Version"])] = {
            "source": source, "source_version": source_version, "depends": depends, "provides": provides,
            "depends_text": fields.get("Depends", "")}
    return records


def _split_relations(value):
    groups = []
    for group in value.split(","):
        names = [re.split(r"[\s(]", alt.strip(), 1)[0].split(":", 1)[0] for alt in group.split("|")]
        names = [name for name in names if name]
        if names:
            groups.append(names)
    return groups


def driver_version_branch(version):
    """The branch of a driver version (``580.95.05-1`` -> ``"580"``), else None."""
    match = _DRIVER_VERSION.match(version or "")
    return match.group(1) if match else None


def name_branch(name):
    """The branch in an NVIDIA package's name (``libnvidia-extra-535-server`` -> ``"535"``), else None."""
    name = _strip_arch(name)
    if not _DRIVER_NAME.search(name):
        return None
    match = _NAME_BRANCH.search(name)
    return match.group(1) if match else None


def classify(name, version, source=None, source_version=None):
    """``(branch, basis)`` of one planned package: ``basis`` says what decided (``version``,
    ``name``, ``version (source unknown)``) or why there is no branch (``independent``:
    another source package; ``not nvidia``)."""
    name = _strip_arch(name)
    by_name = name_branch(name)
    if source is not None:
        if not DRIVER_SOURCES.match(source):
            # linux-restricted-modules and friends: kernel-versioned, the name says the branch.
            if by_name:
                return by_name, "name"
            return None, "independent"
        by_version = driver_version_branch(version) or driver_version_branch(source_version)
        if by_version:
            return by_version, "version"
        if by_name:
            return by_name, "name"
        source_branch = name_branch(source)
        return (source_branch, "source") if source_branch else (None, "independent")
    by_version = driver_version_branch(version)
    if name in INDEPENDENT_PACKAGES:
        return (by_name, "name") if by_name else (None, "independent")
    if _DRIVER_NAME.search(name):
        if by_version:
            return by_version, "version (source unknown)"
        if by_name:
            return by_name, "name"
        return None, "independent"
    return None, "not nvidia"


def plan_branches(plan, show=None):
    """The ``install`` records of ``plan`` with ``branch``, ``basis``, ``source`` added."""
    show = show or {}
    out = []
    for item in plan["install"]:
        info = show.get((item["name"], item["version"]))
        source = info["source"] if info else None
        branch, basis = classify(item["name"], item["version"], source, info["source_version"] if info else None)
        record = dict(item)
        record.update(branch=branch, basis=basis, source=source)
        out.append(record)
    return out


def why(target, requested, planned, show):
    """The chain of planned packages from a requested one to ``target``: ``[requested, ..., target]``,
    or ``[target]`` when it is requested itself or no chain is known. ``planned`` is
    ``{name: version}``; ``show`` is :func:`parse_show`'s result."""
    if target in requested:
        return [target]
    provides = {}
    for name, version in planned.items():
        info = show.get((name, version))
        for alias in (info["provides"] if info else []):
            provides.setdefault(alias, []).append(name)
    edges = {}
    for name, version in planned.items():
        info = show.get((name, version))
        targets = []
        for group in (info["depends"] if info else []):
            for alt in group:
                if alt in planned:
                    targets.append(alt)
                targets.extend(provides.get(alt, []))
        edges[name] = targets
    start = [name for name in requested if name in planned]
    seen = set(start)
    queue = [[name] for name in start]
    while queue:
        chain = queue.pop(0)
        for nxt in edges.get(chain[-1], []):
            if nxt == target:
                return chain + [nxt]
            if nxt not in seen:
                seen.add(nxt)
                queue.append(chain + [nxt])
    return [target]


def relation_to(show, name, version, target):
    """The text of ``name``'s Depends entry that names ``target`` (``libnvidia-ml1 (>= 580)``), else None."""
    info = show.get((name, version))
    if not info:
        return None
    for group in info["depends_text"].split(","):
        if re.search(r"(?:^|\|)\s*%s(?:[\s(:|]|$)" % re.escape(target), group.strip()):
            return group.strip()
    return None


_UNMET_TARGET = re.compile(r"^(?:Pre-)?Depends: (?P<name>[^\s(:]+)(?::\S+)?(?: \([^)]*\))?"
                           r"(?: but (?P<version>\S+) is to be installed)?")


def unmet_branches(errors, branch):
    """``[(package, version or None, branch)]`` for unmet dependencies that would bring
    another driver branch than ``branch`` (``libnvidia-ml1 (= 535.309.01-0+deb12u1) but
    580.95.05-1 is to be installed``; Ubuntu's ``nvidia-driver-465 : Depends:
    nvidia-driver-470 but it is not going to be installed``)."""
    found = []
    for error in errors:
        if error["kind"] != "unmet_dependencies":
            continue
        for relation in error["relations"]:
            match = _UNMET_TARGET.match(relation)
            if not match:
                continue
            version = match.group("version")
            other = driver_version_branch(version) or name_branch(match.group("name"))
            if other and other != str(branch) and (match.group("name"), version, other) not in found:
                found.append((match.group("name"), version, other))
    return found


def describe_errors(errors, branch=None, variable=None):
    """One sentence for apt's errors: which packages it does not know, which versions it has
    not, which dependencies it cannot meet (and, given the pinned ``branch``, which of those
    would bring another branch)."""
    parts = []
    unknown = [e["package"] for e in errors if e["kind"] == "unknown_package"]
    if unknown:
        parts.append("apt knows no package %s (check the package name and the APT sources, then apt-get update)"
                     % ", ".join(unknown))
    for error in errors:
        if error["kind"] == "version_not_found":
            parts.append("apt has no version %s of %s" % (error["version"], error["package"]))
        elif error["kind"] == "release_not_found":
            parts.append("apt has no release %s for %s" % (error["release"], error["package"]))
        elif error["kind"] == "no_candidate":
            parts.append("%s has no installation candidate (it is only referred to, or pinned away)" % error["package"])
    unmet = [e for e in errors if e["kind"] == "unmet_dependencies"]
    if unmet:
        parts.append("apt cannot meet the dependencies of %s" % "; of ".join(
            "%s (%s)" % (e["package"], "; ".join(e["relations"])) for e in unmet))
    others = [e["message"] for e in errors if e["kind"] == "error"]
    if others:
        parts.append("apt said: %s" % " ".join(others))
    if not parts and any(e["kind"] == "held_broken" for e in errors):
        parts.append("apt cannot correct the dependency problems (held broken packages)")
    text = "; ".join(parts) + "." if parts else ""
    others = unmet_branches(errors, branch) if branch else []
    if others:
        text += (" The conflict comes from branch %s (%s) where %s is pinned: a transitional package of the "
                 "pinned branch, or another repository, pulls it in.%s"
                 % (" and ".join(sorted(set(o[2] for o in others), reverse=True)),
                    ", ".join(("%s %s" % (o[0], o[1])) if o[1] else o[0] for o in others), branch,
                    (" Set %s: \"%s\" to choose it on purpose, or remove or pin away what offers it."
                     % (variable, others[0][2])) if variable else ""))
    return text


def check(plan, show, requested, branch, variable=None):
    """Put the plan, the ``apt-cache show`` data and the pinned ``branch`` together.

    Returns ``{"plan": [...], "off_branch": [...], "ok": bool, "sentence": str}``; every
    ``off_branch`` record has ``via`` (the chain from a requested package) and ``relation``
    (the Depends entry that pulls it, when known)."""
    branch = str(branch)
    records = plan_branches(plan, show)
    planned = dict((r["name"], r["version"]) for r in records)
    off = []
    for record in records:
        if record["branch"] is None or record["branch"] == branch:
            continue
        chain = why(record["name"], requested, planned, show)
        relation = None
        if len(chain) > 1:
            relation = relation_to(show, chain[-2], planned[chain[-2]], record["name"])
        item = dict(record)
        item.update(via=chain, relation=relation)
        off.append(item)
    return {"plan": records, "off_branch": off, "ok": not off,
            "sentence": sentence(off, branch, planned, variable) if off else ""}


def _origin(record):
    return ", from %s" % record["origin"] if record.get("origin") else ""


def sentence(off, branch, planned, variable=None):
    """The refusal: each package, the branch it would bring, why, and what to do."""
    parts = []
    for record in off:
        head = "%s %s (branch %s%s)" % (record["name"], record["version"], record["branch"], _origin(record))
        chain = record["via"]
        if len(chain) > 1:
            root = chain[0]
            how = " which depends on it" if len(chain) == 2 else " through %s" % " -> ".join(chain[1:-1])
            rel = " (%s)" % record["relation"] if record.get("relation") else ""
            parts.append("%s for %s %s,%s%s: a package of the pinned %s moves you to %s"
                         % (head, root, planned.get(root, ""), how, rel, branch, record["branch"]))
        else:
            parts.append("%s, asked for by name: another repository offers branch %s under the same name"
                         % (head, record["branch"]))
    branches = sorted(set(r["branch"] for r in off), reverse=True)
    names = " ".join(sorted(set(r["name"] for r in off)))
    choose = ("Set %s: \"%s\" to choose that branch on purpose" % (variable, branches[0]) if variable
              else "Ask for branch %s to choose it on purpose" % branches[0])
    return ("apt would install %s. This is not a %s.x driver (a transitional package, or another repository "
            "offering a different branch under the same name). %s, or remove or pin away what offers it "
            "(apt-cache policy %s shows where it comes from) before running again."
            % ("; ".join(parts), branch, choose, names))
