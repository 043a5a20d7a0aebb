# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge settings into Docker's ``daemon.json``: pure functions, no Ansible imports.

The file belongs to the user: keys we are not asked about are kept as they are, in their
order. Objects are merged key by key (``runtimes`` keeps the user's other runtimes);
lists are merged as sets by default (``exec-opts`` keeps the user's other options), or
replaced. Text that is not a JSON object is an error that names the line and column, and
nothing is written.
"""

from __future__ import annotations

import copy
import json
import re

LIST_MODES = ("append_unique", "replace")


class DaemonJsonError(ValueError):
    """daemon.json cannot be read as a JSON object; the message says where and what to do."""


class _Duplicate(Exception):
    def __init__(self, key, first, second):
        Exception.__init__(self, key)
        self.key, self.first, self.second = key, first, second


def _pairs(pairs):
    data = {}
    for key, value in pairs:
        if key in data:
            raise _Duplicate(key, data[key], value)
        data[key] = value
    return data


def _constant(name):
    raise ValueError("%s is not a JSON value" % name)


def _lines_of_key(text, key):
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    return [number for number, line in enumerate(text.splitlines(), 1) if pattern.search(line)]


def load(text, path="daemon.json"):
    """Parse daemon.json text; an empty or blank file is an empty object.

    Refused, with the file left as it is: text that is not JSON (line and column), a value
    that is not an object, ``NaN``/``Infinity`` (not JSON: Python reads them, dockerd's Go
    decoder does not), a key given twice in one object (dockerd would silently take the
    last one), JSON nested too deep to read."""
    if text is None or not text.strip():
        return {}
    fix = "Fix the file by hand (python3 -m json.tool %s shows the error); it was left unchanged." % path
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except _Duplicate as dup:
        lines = _lines_of_key(text, dup.key)
        where = " (lines %s)" % ", ".join(str(n) for n in lines) if len(lines) > 1 else ""
        raise DaemonJsonError(
            "%s sets the key %s twice in one object%s: %s, then %s. dockerd would take the last one without "
            "a word. Keep the one you mean and remove the other; the file was left unchanged."
            % (path, json.dumps(dup.key), where, json.dumps(dup.first), json.dumps(dup.second)))
    except RecursionError:
        raise DaemonJsonError("%s is nested too deep to be read (thousands of levels of [ or {): it is not a "
                              "Docker daemon configuration. %s" % (path, fix))
    except ValueError as exc:
        where = ""
        if hasattr(exc, "lineno"):
            where = " at line %d, column %d" % (exc.lineno, exc.colno)
        elif "is not a JSON value" in str(exc):
            name = str(exc).split()[0]
            found = [n for n, line in enumerate(text.splitlines(), 1) if name in line]
            where = " at line %d" % found[0] if found else ""
        raise DaemonJsonError(
            "%s is not valid JSON%s (%s). dockerd would not start with it either. %s"
            % (path, where, getattr(exc, "msg", str(exc)), fix))
    if not isinstance(data, dict):
        raise DaemonJsonError(
            "%s holds a JSON %s, not an object ({...}): dockerd reads its settings from an "
            "object. Fix the file by hand; it was left unchanged." % (path, type(data).__name__))
    return data


def _type_clashes(current, wanted, prefix=""):
    """Keys the task sets to an object where the file has another kind of value."""
    clashes = []
    for key, value in (wanted or {}).items():
        if key not in current:
            continue
        name = "%s.%s" % (prefix, key) if prefix else key
        if isinstance(value, dict) and not isinstance(current[key], dict):
            clashes.append("%s is %s in the file, not an object" % (name, json.dumps(current[key])))
        elif isinstance(value, dict):
            clashes += _type_clashes(current[key], value, name)
    return clashes


def _merge(current, wanted, list_mode):
    if isinstance(current, dict) and isinstance(wanted, dict):
        merged = dict(current)
        for key, value in wanted.items():
            merged[key] = _merge(current[key], value, list_mode) if key in current else copy.deepcopy(value)
        return merged
    if isinstance(current, list) and isinstance(wanted, list) and list_mode == "append_unique":
        merged = list(current)
        for item in wanted:
            if item not in merged:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(wanted)


def _conflicting_cgroup_driver(options):
    drivers = [o.split("=", 1)[1] for o in options if isinstance(o, str) and o.startswith("native.cgroupdriver=")]
    return len(set(drivers)) > 1


def merge(data, settings=None, remove=None, list_mode="append_unique"):
    """Return ``(new_data, warnings)``: ``settings`` merged into a copy of ``data``, then the
    keys of ``remove`` taken out (a key is a top-level name, or ``a.b`` for a nested one)."""
    if list_mode not in LIST_MODES:
        raise DaemonJsonError("list_mode must be one of %s, not %r." % (", ".join(LIST_MODES), list_mode))
    new = _merge(data, settings or {}, list_mode)
    warnings = []
    for dotted in remove or []:
        parts = str(dotted).split(".")
        node = new
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    if _conflicting_cgroup_driver(new.get("exec-opts") or []):
        warnings.append(
            "exec-opts names more than one native.cgroupdriver (%s): dockerd uses the last; remove "
            "the one you do not want (list_mode=replace sets exec-opts exactly)."
            % ", ".join(o for o in new["exec-opts"] if str(o).startswith("native.cgroupdriver=")))
    return new, warnings


def dump(data):
    """daemon.json text as we write it: 4-space indent, the keys in their order, a final newline."""
    return json.dumps(data, indent=4, ensure_ascii=False) + "\n"


def plan(text, settings=None, remove=None, list_mode="append_unique", path="daemon.json"):
    """Everything the module needs: ``{"changed", "before", "after", "text", "warnings"}``.
    ``text`` is the file to write (None when nothing changes: the file keeps its layout)."""
    before = load(text, path)
    clashes = _type_clashes(before, settings or {})
    if clashes:
        raise DaemonJsonError(
            "%s: %s; dockerd expects an object there (and would refuse the file). Fix the value by hand; the "
            "file was left unchanged." % (path, "; ".join(clashes)))
    after, warnings = merge(before, settings, remove, list_mode)
    # Compared as data: a file that already says the same is left with its own layout.
    changed = after != before
    return {
        "changed": changed,
        "before": before,
        "after": after,
        "text": dump(after) if changed else None,
        "warnings": warnings,
    }
