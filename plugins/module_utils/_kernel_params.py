# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a kernel command-line parameter is, for the whole collection: one definition.

Used by the ``kernel_cmdline`` module (``_grub.py``), which writes parameters into the GRUB
files, and by the ``kernel_param_problems`` filter, which the ``kernel_tuning`` role runs
before any change: a parameter one of them accepts, the other accepts too.

A parameter is ``NAME`` or ``NAME=VALUE``:

* ``NAME``: letters, digits, ``_``, ``.`` and ``-``, not starting with ``.`` or ``-``. As
  for the kernel (``parameq`` in kernel/params.c), ``-`` and ``_`` in a name are the same
  character: ``nvidia-drm.modeset`` and ``nvidia_drm.modeset`` are one parameter.
* ``VALUE``: printable ASCII without blanks, and without the characters that the two
  parsers between the GRUB files and the kernel would read: quotes, ``$``, backtick and
  backslash for ``grub-mkconfig``'s ``/bin/sh``; ``;``, ``&``, ``|``, ``<``, ``>``,
  ``(`` and ``)`` for GRUB's own script parser, which reads the ``linux`` line of
  ``grub.cfg`` unquoted. It may be empty (``NAME=`` is another parameter than ``NAME``).
* The same parameter twice with different values is refused (the kernel would see both);
  twice with the same text is one.

Pure standard library, no Ansible imports.
"""

from __future__ import annotations

import re

# What the kernel (isspace) and GRUB treat as separators between parameters.
WS = " \t\n\r\v\f"

NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
# Printable ASCII (0x21-0x7e) except " $ ' ( ) ; & < > | \ `
VALUE_RE = re.compile(r"[!#%*+,\-./0-9:=?@A-Z\[\]^_a-z{}~]*\Z")
FORBIDDEN = "blanks, quotes, $, `, \\, ;, &, |, <, >, ( or )"


def key(name):
    """The name as the kernel compares it: ``-`` and ``_`` are the same character."""
    return name.replace("-", "_")


def token_key(token):
    """The comparison key of a ``NAME`` or ``NAME=VALUE`` token."""
    return key(token.split("=", 1)[0])


def split(text):
    """The tokens of a command line (``/proc/cmdline``), split where the kernel splits."""
    out, cur = [], []
    for ch in text:
        if ch in WS:
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def problem(item):
    """None when ``item`` is a parameter we write, else why not (a sentence fragment)."""
    if not isinstance(item, str):
        return "%r is not a string; write each parameter as NAME or NAME=VALUE" % (item,)
    name, sep, value = item.partition("=")
    if not item:
        return "an empty string is not a kernel parameter"
    if not NAME_RE.match(name):
        return ("%r is not a kernel parameter: NAME is made of letters, digits, '_', '.' and '-' (give each "
                "parameter as its own list item)" % (item,))
    if sep and not VALUE_RE.match(value):
        bad = sorted(set(ch for ch in value if not VALUE_RE.match(ch)))
        shown = ", ".join(repr(ch) for ch in bad)
        return ("%r is not a kernel parameter this collection writes: VALUE is printable ASCII without %s "
                "(found %s)" % (item, FORBIDDEN, shown))
    return None


def same(wanted, token):
    """True when ``token`` is exactly the parameter ``wanted`` (names compared as the kernel does)."""
    if token_key(token) != token_key(wanted):
        return False
    return token.split("=", 1)[1:] == wanted.split("=", 1)[1:]


def problems(items):
    """One sentence per malformed item, and per parameter listed twice with different values."""
    if items is None:
        return []
    if isinstance(items, str) or not isinstance(items, (list, tuple)):
        return ["the parameters must be a list such as [intel_iommu=on, iommu=pt], not %r" % (items,)]
    out, seen = [], {}
    for item in items:
        why = problem(item)
        if why:
            out.append(why)
            continue
        k = token_key(item)
        if k in seen and seen[k] != item:
            how = ("spelled two ways ('-' and '_' are the same character in a parameter name)"
                   if same(seen[k], item) else "with two values")
            out.append("%r and %r are the same kernel parameter %s: the kernel would see it twice; "
                       "keep only one of them" % (seen[k], item, how))
        seen.setdefault(k, item)
    return out
