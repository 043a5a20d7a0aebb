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

LIST_MODES = ("append_unique", "replace")


class DaemonJsonError(ValueError):
    """daemon.json cannot be read as a JSON object; the message says where and what to do."""


def load(text, path="daemon.json"):
    """Parse daemon.json text; an empty or blank file is an empty object."""
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = ""
        if hasattr(exc, "lineno"):
            where = " at line %d, column %d" % (exc.lineno, exc.colno)
        raise DaemonJsonError(
            "%s is not valid JSON%s (%s). dockerd would not start with it either. Fix the file "
            "by hand (python3 -m json.tool %s shows the error); it was left unchanged."
            % (path, where, getattr(exc, "msg", str(exc)), path))
    if not isinstance(data, dict):
        raise DaemonJsonError(
            "%s holds a JSON %s, not an object ({...}): dockerd reads its settings from an "
            "object. Fix the file by hand; it was left unchanged." % (path, type(data).__name__))
    return data


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
