# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules of this collection that read tools' output share: warnings said once,
and a saved output read from a file (``xml_path``, ``log_path``, ``lspci_path``...).

Running the tool is ``_runner``'s job, editing a file ``_safe_write``'s."""

from __future__ import annotations

import os


def warn_once(module):
    """A ``warn(message)`` for parsers: each message reaches ``module.warn`` once (a read
    back repeats the first read's warnings)."""
    seen = set()

    def warn(message):
        if message not in seen:
            seen.add(message)
            module.warn(message)

    return warn


def read_saved(module, option, hint, **fail_extra):
    """The text of the file named by the module option ``option`` (UTF-8, undecodable bytes
    replaced: it is a tool's output, read, never written back). A missing file, a folder or
    an unreadable file fails the module naming the option, the path and ``hint`` (what to
    save there); ``fail_extra`` goes into that failure (``error_kind``, ``timed_out``...)."""
    path = module.params[option]
    if not os.path.exists(path):
        module.fail_json(msg="%s %s does not exist; %s." % (option, path, hint), **fail_extra)
    if not os.path.isfile(path):
        module.fail_json(msg="%s %s is a directory, not a file; %s." % (option, path, hint), **fail_extra)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        module.fail_json(msg="Cannot read %s %s (%s); check its permissions." % (option, path, exc.strerror or exc),
                         **fail_extra)
    return data.decode("utf-8", errors="replace")
