# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge settings into a conda ``.condarc``: pure functions, no Ansible imports.

The file belongs to the user: keys we are not asked about are kept, in their order.
``channels`` is special: the managed channels come first, in the order given (conda
searches them in that order, and with ``channel_priority: strict`` the first channel that
has a package wins); the user's other channels are kept after them, in their order, unless
asked not to. Text that is not a YAML mapping is an error naming the line and column, and
nothing is written.

PyYAML reads and writes the file. It does not keep comments (nor conda's ``#!final`` /
``#!top`` markers, which are comments): the file is rewritten only when the settings
change, and the caller keeps a backup.
"""

from __future__ import annotations

import copy

try:
    import yaml
except ImportError:  # pragma: no cover - the module reports it with missing_required_lib
    yaml = None

HEADER = (
    "# conda configuration. aiserver.gpu (role conda_fastchan) manages the keys it was\n"
    "# given (channels first in the list, channel_priority, solver, auto_activate_base);\n"
    "# every other key and channel here is yours and is kept.\n"
)


class CondarcError(ValueError):
    """The .condarc cannot be used as it is; the message says where and what to do."""


if yaml is not None:
    class _StrictLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML would keep
        the last silently, and which one conda honours is then a guess)."""

        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _value_node in node.value:
                try:
                    key = self.construct_object(key_node, deep=True)
                    hash(key)
                except (TypeError, yaml.YAMLError):
                    continue
                if key in seen:
                    raise CondarcError(
                        "the key %r is set twice in one mapping (lines %d and %d)"
                        % (key, seen[key] + 1, key_node.start_mark.line + 1))
                seen[key] = key_node.start_mark.line
            return yaml.SafeLoader.construct_mapping(self, node, deep=deep)


def load(text, path=".condarc"):
    """Parse .condarc text; an empty file, or one holding only comments, is an empty mapping."""
    if yaml is None:
        raise CondarcError("PyYAML is needed to read %s (Debian/Ubuntu: apt install python3-yaml)." % path)
    if text is None or not text.strip():
        return {}
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except CondarcError as exc:
        raise CondarcError("%s: %s. Keep the one you mean and remove the other; the file was left unchanged."
                           % (path, exc))
    except RecursionError:
        raise CondarcError("%s is nested too deep to be read (thousands of levels): it is not a conda "
                           "configuration. Fix the file by hand; it was left unchanged." % path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CondarcError(
            "%s is not valid YAML%s (%s). conda cannot read it either. Fix the file by hand "
            "(python3 -c 'import yaml,sys; yaml.safe_load(open(sys.argv[1]))' %s shows the error); "
            "it was left unchanged." % (path, where, problem, path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CondarcError(
            "%s holds a YAML %s, not a mapping (key: value lines): conda reads its settings from "
            "a mapping. Fix the file by hand; it was left unchanged." % (path, type(data).__name__))
    channels = data.get("channels")
    if channels is not None and not (isinstance(channels, list) and all(isinstance(c, str) for c in channels)):
        raise CondarcError(
            "%s: channels must be a list of channel names, not %r. Fix the file by hand; it was "
            "left unchanged." % (path, channels))
    return data


def merge_channels(current, managed, keep_others=True):
    """The managed channels first, in their order; then the others of ``current`` (if kept),
    in their order; no duplicates."""
    result = []
    for name in list(managed) + (list(current or []) if keep_others else []):
        if name not in result:
            result.append(name)
    return result


def _merge(current, wanted):
    if isinstance(current, dict) and isinstance(wanted, dict):
        merged = dict(current)
        for key, value in wanted.items():
            merged[key] = _merge(current[key], value) if key in current else copy.deepcopy(value)
        return merged
    return copy.deepcopy(wanted)


def merge(data, channels=None, settings=None, remove=None, keep_other_channels=True):
    """Return a new mapping: ``settings`` merged into ``data`` (mappings key by key, lists and
    scalars replaced), ``remove``'s top-level keys taken out, then ``channels`` placed first."""
    settings = dict(settings or {})
    if "channels" in settings:
        raise CondarcError("Give the channels with the channels option, not in settings: their order is merged specially.")
    new = _merge(data, settings)
    for key in remove or []:
        new.pop(key, None)
    if channels:
        new["channels"] = merge_channels(data.get("channels"), channels, keep_other_channels)
    return new


def dump(data):
    """.condarc text as we write it: block style, the keys in their order, our header."""
    return HEADER + yaml.safe_dump(data, default_flow_style=False, sort_keys=False, allow_unicode=True)


def plan(text, channels=None, settings=None, remove=None, keep_other_channels=True, path=".condarc"):
    """Everything the module needs: ``{"changed", "before", "after", "text"}``. ``text`` is
    the file to write, None when nothing changes (the file keeps its layout and comments)."""
    before = load(text, path)
    after = merge(before, channels, settings, remove, keep_other_channels)
    # Compared as data: a file that already says the same is left with its own layout.
    changed = after != before
    return {"changed": changed, "before": before, "after": after, "text": dump(after) if changed else None}
