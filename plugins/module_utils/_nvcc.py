# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parser for ``nvcc --version`` output.

No Ansible imports: the filter ``aiserver.gpu.nvcc_version`` wraps it, and the unit tests
call it on real captures (tests/unit/fixtures/nvcc/).

The line that matters::

    Cuda compilation tools, release 11.8, V11.8.89

``release`` is the CUDA major.minor the compiler belongs to (what ``cuda_version`` names);
``version`` is the full compiler version. The ``Build cuda_11.8.r11.8/compiler.31833905_0``
line is kept as ``build`` when present. Text without the release line gives None: the
caller decides what a missing nvcc means. Never raises on odd input.
"""

from __future__ import annotations

import re

RELEASE_RE = re.compile(
    r"Cuda compilation tools,\s*release\s+(?P<release>\d+\.\d+)\s*,\s*V(?P<version>\d+(?:\.\d+)+)",
    re.IGNORECASE,
)
BUILD_RE = re.compile(r"^Build\s+(?P<build>\S+)\s*$", re.MULTILINE)


def parse_nvcc_version(text):
    """Return ``{'release': '11.8', 'version': '11.8.89', 'build': ...}`` or None."""
    if not isinstance(text, str):
        return None
    text = text.replace("\r\n", "\n")
    match = RELEASE_RE.search(text)
    if not match:
        return None
    build = BUILD_RE.search(text)
    return {
        "release": match.group("release"),
        "version": match.group("version"),
        "build": build.group("build") if build else None,
    }
