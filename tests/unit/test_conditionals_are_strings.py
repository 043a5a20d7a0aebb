"""Every conditional in the collection's YAML is a string (or a boolean).

An unquoted conditional with ": " in it ("... search('rebooted: host')") is a YAML mapping,
not an expression: ansible-core then fails the task at run time with "Conditional
expressions must be strings", after the hosts have been changed. Found twice in the VM
scenarios before they ran; this catches it when the file is written.
"""
import glob
import os

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEYS = ("when", "failed_when", "changed_when", "until")
ASSERTS = ("ansible.builtin.assert", "assert")
FILES = sorted(
    path for pattern in ("roles/**/*.yml", "playbooks/*.yml", "molecule/**/*.yml", "testbed/*.yml", "bench/*.yml")
    for path in glob.glob(os.path.join(ROOT, pattern), recursive=True)
)


def _bad(node, where=""):
    if isinstance(node, list):
        for item in node:
            yield from _bad(item, where)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in KEYS or (key == "that" and where in ASSERTS):
                for item in value if isinstance(value, list) else [value]:
                    if not isinstance(item, (str, bool)):
                        yield "%s: %r" % (key, item)
            yield from _bad(value, key)


def test_files_found():
    assert len(FILES) > 50


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_conditionals_are_strings(path):
    with open(path) as handle:
        data = yaml.safe_load(handle)
    assert list(_bad(data)) == []
