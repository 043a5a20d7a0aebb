# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parser for ``dkms status``; standard library only.

No Ansible imports: ``aiserver.gpu.nvidia_kernel_guard`` and the kernel hook the role
installs on the host (``/usr/local/lib/aiserver-gpu``, see ``_boot_kernel``) use it, and the
unit tests call it on captured outputs.

Formats (one line per module, version and, once built, kernel):

* dkms 2.x: ``nvidia, 440.33.01, 3.10.0-1062.el7.x86_64, x86_64: installed``, and
  ``nvidia, 440.33.01: added`` before any build;
* dkms 3.x: ``nvidia-current/550.163.01, 6.19.13+parrot7-amd64, x86_64: installed``, and
  ``nvidia/535.x: added``.

States: ``added`` (source registered, nothing built), ``built`` (built, not installed in
``/lib/modules``), ``installed``; a state may be followed by notes in parentheses, such as
``(WARNING! Diff between built and installed module!)`` or ``(original_module exists)``,
kept as ``notes``. Lines that are none of these (``Error! ...``, deprecation notices)
go to the ``warn`` callback; nothing here raises.
"""

from __future__ import annotations

import re

# module[/ or ,] version[, kernel[, arch]]: state[ (note)...]
_LINE_RE = re.compile(
    r"^(?P<module>[A-Za-z0-9_.+-]+)(?:/|,\s*)(?P<version>[^,:\s]+)"
    r"(?:,\s*(?P<kernel>[^,:\s]+)(?:,\s*(?P<arch>[^,:\s]+))?)?"
    r":\s*(?P<state>added|built|installed|installed-weak)\b(?P<rest>.*)$"
)
_NOTE_RE = re.compile(r"\(([^()]*)\)")
STATES = ("added", "built", "installed", "installed-weak")


def parse_status(text, warn=None):
    """``dkms status`` output -> list of ``{'module', 'version', 'kernel', 'arch', 'state',
    'notes', 'line'}`` (``kernel`` and ``arch`` None on an ``added`` line of dkms 2.x or 3.x).

    ``warn(message)`` gets each non-empty line that is not a status line."""
    records = []
    if not isinstance(text, str):
        return records
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            continue
        m = _LINE_RE.match(line)
        if not m:
            if warn:
                warn("dkms status: line not understood, ignored: %s" % line[:200])
            continue
        records.append({
            "module": m.group("module"),
            "version": m.group("version"),
            "kernel": m.group("kernel"),
            "arch": m.group("arch"),
            "state": m.group("state"),
            "notes": [n.strip() for n in _NOTE_RE.findall(m.group("rest")) if n.strip()],
            "line": line,
        })
    return records


def is_nvidia(name, wanted="nvidia"):
    """Whether the DKMS module ``name`` is the driver ``wanted`` names: ``nvidia`` also
    matches Debian's ``nvidia-current`` and ``nvidia-tesla-NNN``, Ubuntu's and NVIDIA's
    ``nvidia-srv``/``nvidia-open``; any other ``wanted`` must match exactly."""
    if wanted != "nvidia":
        return name == wanted
    return name == "nvidia" or name.startswith("nvidia-") and not name.startswith("nvidia-fs")


def for_kernel(records, kernel, wanted="nvidia"):
    """The best record of the driver ``wanted`` for ``kernel``: installed before built,
    then the highest version as text; None when DKMS has nothing for that kernel."""
    rank = {"installed": 3, "installed-weak": 3, "built": 2, "added": 1}
    mine = [r for r in records if is_nvidia(r["module"], wanted) and r["kernel"] == kernel]
    if not mine:
        return None
    return max(mine, key=lambda r: (rank.get(r["state"], 0), r["version"]))


def added_only(records, wanted="nvidia"):
    """Versions of the driver ``wanted`` that DKMS has registered (``added``), whatever
    they were built for: what ``dkms autoinstall -k KERNEL`` would build."""
    return sorted(set(r["version"] for r in records if is_nvidia(r["module"], wanted)))
