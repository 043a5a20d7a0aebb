# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""conda environments, compared as data: pure functions, no Ansible imports.

- ``spec_text`` writes the environment.yml conda reads (``conda env create -f``).
- ``parse_match_spec`` reads the common forms of conda's MatchSpec: ``name``,
  ``channel::name``, ``name=1.2`` (1.2, 1.2.*), ``name==1.2.0``, ``name>=1.2,<2``,
  ``name 1.2.*``, ``name=1.2=build*``, ``a|b`` alternatives. Anything else (brackets,
  URLs) is an error that says so, rather than a comparison that is silently wrong.
- ``parse_conda_list`` reads what ``conda list --json`` prints (a JSON list of records),
  or the table ``conda list`` prints (Name Version Build Channel).
- ``unmet`` says which wanted specs the installed packages do not satisfy.

Version order is conda's in its common cases: components split at ``.``, ``-`` and ``_``,
then into number and letter runs; numbers compare as numbers, a letter run sorts before a
number (``1.0rc1`` < ``1.0``), missing components count as 0 (``1.2`` == ``1.2.0``).
"""

from __future__ import annotations

import fnmatch
import json
import re

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
ENV_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
SPEC_RE = re.compile(
    r"^(?:(?P<channel>[A-Za-z0-9_.\-/]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)"
    r"(?:\s*(?P<version>[=<>!~][^\s=]*(?:=[^\s]+)?|\s+\S+(?:\s+\S+)?))?$")
PIP_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._\-]*)(?:\[[^\]]*\])?\s*(?P<constraint>(?:[=<>!~]=?|===)\s*\S.*)?$")
VERSION_VALUE_RE = re.compile(r"^[A-Za-z0-9_.*+!]+$")
OPS = ("==", ">=", "<=", "!=", "~=", ">", "<", "=")


class CondaEnvError(ValueError):
    """A spec or an output cannot be understood; the message says which and what to do."""


# ----------------------------------------------------------------------------- versions

def _version_key(version):
    parts = []
    for component in re.split(r"[.\-_+]", str(version).strip().lower()):
        for run in re.findall(r"\d+|[a-z]+", component) or ["0"]:
            parts.append((1, int(run), "") if run.isdigit() else (0, 0, run))
    while parts and parts[-1] == (1, 0, ""):
        parts.pop()
    return parts


def compare_versions(left, right):
    """-1, 0 or 1 as conda orders the two versions (common cases, see the module docstring)."""
    a, b = _version_key(left), _version_key(right)
    length = max(len(a), len(b))
    a += [(1, 0, "")] * (length - len(a))
    b += [(1, 0, "")] * (length - len(b))
    return (a > b) - (a < b)


def _fuzzy(installed, wanted):
    """``=1.2`` and ``1.2.*``: installed is 1.2 or starts with its components."""
    wanted = wanted.rstrip("*").rstrip(".")
    if not wanted:
        return True
    w = _version_key(wanted)
    i = _version_key(installed)
    i += [(1, 0, "")] * max(0, len(w) - len(i))
    return i[:len(w)] == w


def _one_constraint(installed, constraint):
    constraint = constraint.strip()
    for op in OPS:
        if constraint.startswith(op):
            value = constraint[len(op):].strip()
            break
    else:
        op, value = "", constraint
    if not VERSION_VALUE_RE.match(value):
        raise CondaEnvError("cannot read the version %r" % constraint)
    if op in ("", "=", "=="):
        if "*" in value.rstrip("*").rstrip("."):
            return fnmatch.fnmatchcase(installed, value)
        if op == "=" or value.endswith("*"):
            # name=1.2 means 1.2.*; so do 1.2* and 1.2.*
            return _fuzzy(installed, value)
        return compare_versions(installed, value) == 0
    if op == "~=":
        prefix = value.rsplit(".", 1)[0]
        return compare_versions(installed, value) >= 0 and _fuzzy(installed, prefix)
    result = compare_versions(installed, value)
    return {"!=": result != 0, ">=": result >= 0, "<=": result <= 0, ">": result > 0, "<": result < 0}[op]


def version_matches(installed, expression):
    """Whether ``installed`` satisfies a conda version expression (``|`` or, ``,`` and)."""
    if expression in (None, "", "*"):
        return True
    return any(all(_one_constraint(installed, part) for part in alternative.split(","))
               for alternative in expression.split("|"))


# ----------------------------------------------------------------------------- specs

def parse_match_spec(spec):
    """``{"name", "channel", "version", "build", "spec"}`` from a conda spec string."""
    text = str(spec).strip()
    match = SPEC_RE.match(text)
    if not match or "[" in text:
        raise CondaEnvError(
            "cannot read the conda package spec %r: write it as name, channel::name, name=1.2, "
            "name>=1.2,<2 or name=1.2=build (bracket and URL forms are not supported here)." % text)
    version = (match.group("version") or "").strip()
    build = None
    if version and not version[0] in "=<>!~":
        # "name 1.2.* build" (conda's space form)
        pieces = version.split()
        version, build = pieces[0], (pieces[1] if len(pieces) > 1 else None)
    elif version.startswith("=") and not version.startswith("=="):
        pieces = version[1:].split("=", 1)
        version = "=" + pieces[0]
        build = pieces[1] if len(pieces) > 1 else None
    elif version.startswith("==") and version.count("=") > 2:
        pieces = version[2:].split("=", 1)
        version, build = "==" + pieces[0], pieces[1]
    if version:
        try:
            version_matches("0", version)
        except CondaEnvError:
            raise CondaEnvError("cannot read the version in the conda package spec %r." % text)
    return {"spec": text, "name": match.group("name").lower(), "channel": match.group("channel"),
            "version": version or None, "build": build}


def _pip_name(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pip_spec(spec):
    """``{"name", "version", "spec"}`` for ``name``, ``name==1.0``, ``name>=1,<2``; None for
    forms we cannot compare (URLs, ``-r file``, paths): the caller warns and skips them."""
    text = str(spec).strip()
    match = PIP_RE.match(text)
    if not match:
        return None
    constraint = (match.group("constraint") or "").replace(" ", "") or None
    if constraint and constraint.startswith("==="):
        constraint = "==" + constraint[3:]
    return {"spec": text, "name": _pip_name(match.group("name")), "version": constraint}


def split_dependencies(dependencies):
    """conda specs and pip specs from environment.yml's ``dependencies`` list."""
    conda, pip = [], []
    for item in dependencies or []:
        if isinstance(item, dict):
            if set(item) != {"pip"} or not isinstance(item["pip"], list):
                raise CondaEnvError("a dependency that is a mapping must be {pip: [...]}, not %r." % (item,))
            pip.extend(str(p) for p in item["pip"])
        elif isinstance(item, str):
            conda.append(item)
        else:
            raise CondaEnvError("dependencies must be strings or one {pip: [...]} mapping, not %r." % (item,))
    return conda, pip


def build_spec(name, channels, dependencies, pip=None):
    """The environment.yml data (validated): name, channels, dependencies (+ a pip list)."""
    if not ENV_NAME_RE.match(str(name or "")):
        raise CondaEnvError("environment name %r: use letters, digits, '.', '_' and '-' (no spaces or '/')." % (name,))
    if name == "base":
        raise CondaEnvError("the base environment is the installer's: list the packages in a named environment instead.")
    conda, pip_from_deps = split_dependencies(dependencies)
    pip_all = pip_from_deps + [str(p) for p in pip or []]
    for spec in conda:
        parse_match_spec(spec)
    if not conda and not pip_all:
        raise CondaEnvError("environment %r has no packages." % name)
    deps = list(conda)
    if pip_all:
        if not any(parse_match_spec(s)["name"] == "pip" for s in conda):
            deps.append("pip")
        deps.append({"pip": pip_all})
    return {"name": str(name), "channels": [str(c) for c in channels or []], "dependencies": deps}


def spec_text(spec, header=""):
    """environment.yml text. Strings are written JSON-quoted, which is valid YAML."""
    lines = [header.rstrip("\n")] if header else []
    lines.append("name: %s" % json.dumps(spec["name"]))
    lines.append("channels:")
    lines += ["  - %s" % json.dumps(c) for c in spec["channels"]] or []
    if not spec["channels"]:
        lines[-1] = "channels: []"
    lines.append("dependencies:")
    for item in spec["dependencies"]:
        if isinstance(item, dict):
            lines.append("  - pip:")
            lines += ["      - %s" % json.dumps(p) for p in item["pip"]]
        else:
            lines.append("  - %s" % json.dumps(item))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- conda list

def _channel_name(channel, base_url=""):
    channel = (channel or "").strip().rstrip("/")
    if not channel and base_url:
        channel = base_url.rstrip("/")
    for prefix in ("https://conda.anaconda.org/", "http://conda.anaconda.org/", "https://repo.anaconda.com/"):
        if channel.startswith(prefix):
            channel = channel[len(prefix):]
    return channel


def parse_conda_list(text, warn=None):
    """Installed packages from ``conda list --json`` (a JSON list) or ``conda list`` (the
    table): ``[{"name", "version", "build", "channel"}]``. Lines that are not a package go
    to ``warn``."""
    warn = warn or (lambda message: None)
    stripped = (text or "").strip()
    if stripped.startswith("[") or stripped.startswith("{"):
        data = _json(stripped, "conda list --json")
        if isinstance(data, dict):
            raise CondaEnvError("conda list --json reported an error: %s" % (data.get("message") or data.get("error") or data))
        records = []
        for record in data:
            if not isinstance(record, dict) or "name" not in record or "version" not in record:
                warn("conda list --json: skipped a record without name and version: %r" % (record,))
                continue
            records.append({"name": str(record["name"]).lower(), "version": str(record["version"]),
                            "build": str(record.get("build_string", record.get("build", ""))),
                            "channel": _channel_name(record.get("channel"), record.get("base_url", ""))})
        return records
    records = []
    for line in stripped.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 3 or len(fields) > 4:
            warn("conda list: skipped a line that is not 'name version build [channel]': %r" % line)
            continue
        records.append({"name": fields[0].lower(), "version": fields[1], "build": fields[2],
                        "channel": _channel_name(fields[3] if len(fields) == 4 else "")})
    return records


def _describe(record):
    return "%s %s %s%s" % (record["name"], record["version"], record["build"],
                           " (%s)" % record["channel"] if record["channel"] else "")


def unmet(conda_specs, pip_specs, installed, warn=None):
    """The wanted specs the installed packages do not satisfy: ``[{"spec", "reason",
    "installed"}]``, reason one of missing, version, build, channel. pip specs are matched
    against the records conda lists from PyPI (channel ``pypi``)."""
    warn = warn or (lambda message: None)
    conda_records = {r["name"]: r for r in installed if r["channel"] != "pypi"}
    pip_records = {_pip_name(r["name"]): r for r in installed if r["channel"] == "pypi"}
    # A pip requirement is also met by the conda package of the same project.
    conda_by_pip_name = {_pip_name(name): r for name, r in conda_records.items()}
    result = []
    for text in conda_specs:
        spec = parse_match_spec(text)
        record = conda_records.get(spec["name"])
        if record is None:
            result.append({"spec": spec["spec"], "reason": "missing", "installed": None})
        elif spec["version"] and not version_matches(record["version"], spec["version"]):
            result.append({"spec": spec["spec"], "reason": "version", "installed": _describe(record)})
        elif spec["build"] and not fnmatch.fnmatchcase(record["build"], spec["build"]):
            result.append({"spec": spec["spec"], "reason": "build", "installed": _describe(record)})
        elif spec["channel"] and not _same_channel(spec["channel"], record["channel"]):
            result.append({"spec": spec["spec"], "reason": "channel", "installed": _describe(record)})
    for text in pip_specs:
        spec = parse_pip_spec(text)
        if spec is None:
            warn("pip requirement %r is not compared (only name and version constraints are); "
                 "it is installed when the environment is created or updated for another reason." % text)
            continue
        record = pip_records.get(spec["name"]) or conda_by_pip_name.get(spec["name"])
        if record is None:
            result.append({"spec": spec["spec"], "reason": "missing", "installed": None})
        elif spec["version"] and not version_matches(record["version"], spec["version"]):
            result.append({"spec": spec["spec"], "reason": "version", "installed": _describe(record)})
    return result


def _same_channel(wanted, installed):
    wanted = _channel_name(wanted)
    if wanted == "defaults":
        return installed.startswith("pkgs/") or installed == ""
    return wanted == installed or installed.endswith("/" + wanted)


def _json(text, what):
    try:
        return json.loads(text)
    except RecursionError:
        raise CondaEnvError("%s printed JSON nested too deep to read; run it by hand to see why." % what)
    except ValueError as exc:
        raise CondaEnvError("%s printed text that is not JSON (%s): %s" % (what, exc, (text or "").strip()[:200]))


def find_env(env_list_text, name):
    """The prefix of environment ``name`` from ``conda env list --json``, or None.

    Anything else than conda's ``{"envs": [prefix, ...]}`` is an error that says what was
    printed (conda's own ``--json`` error object names the problem in ``message``)."""
    what = "conda env list --json"
    data = _json(env_list_text, what)
    if not isinstance(data, dict):
        raise CondaEnvError("%s printed a JSON %s instead of an object with an 'envs' list: %s"
                            % (what, type(data).__name__, (env_list_text or "").strip()[:200]))
    if "envs" not in data:
        said = data.get("message") or data.get("error") or data.get("exception_name")
        raise CondaEnvError("%s %s" % (what, ("reported an error: %s" % said) if said else
                                       "printed no 'envs' list: %s" % (env_list_text or "").strip()[:200]))
    envs = data["envs"]
    if not isinstance(envs, list):
        raise CondaEnvError("%s printed 'envs' as a JSON %s, not a list of prefixes" % (what, type(envs).__name__))
    bad = [prefix for prefix in envs if not isinstance(prefix, str)]
    if bad:
        raise CondaEnvError("%s lists %d environment(s) that are not prefix paths (%r); the conda installation "
                            "looks damaged: run conda env list by hand" % (what, len(bad), bad[:3]))
    for prefix in envs:
        parts = prefix.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == "envs" and parts[-1] == name:
            return prefix
    return None
