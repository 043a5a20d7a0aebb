#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: condarc
short_description: Merge settings and channels into a conda .condarc, keeping every key you do not name
version_added: 0.1.0
description:
  - Reads a conda configuration file (O(path), for example C(/opt/conda/.condarc), the
    installation's own file), merges O(settings) into it, removes the keys of O(remove) and
    puts O(channels) first in C(channels), in the order given. Keys the task does not name
    are kept as they are, in their order; the user's other channels are kept after the
    managed ones (O(keep_other_channels)).
  - A file that is not a YAML mapping, or whose C(channels) is not a list of names, fails
    the task with the line and column of the error, and is left unchanged. A missing file
    is created when there is something to write.
  - The file is rewritten only when the settings change (compared as data, not as text),
    through a temporary file and an atomic rename; a backup is kept with O(backup).
    Comments, conda's C(#!final) markers included, do not survive a rewrite (PyYAML).
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - PyYAML on the target (Debian/Ubuntu package C(python3-yaml))
options:
  path:
    description: The .condarc to edit.
    type: path
    required: true
  channels:
    description:
      - Channels to put first, in this order. Empty leaves C(channels) as it is.
    type: list
    elements: str
    default: []
  keep_other_channels:
    description:
      - Keep the channels of the file that O(channels) does not name, after them. V(false)
        sets C(channels) to exactly O(channels).
    type: bool
    default: true
  settings:
    description:
      - Keys to set (C(channel_priority), C(solver), ...), merged into the file (nested
        mappings key by key, lists and scalars replaced). Not C(channels).
    type: dict
    default: {}
  remove:
    description: Top-level keys to take out.
    type: list
    elements: str
    default: []
  mode:
    description: Mode of the file when it is written.
    type: str
    default: "0644"
  backup:
    description: Keep a timestamped copy of the file as it was before a change.
    type: bool
    default: true
attributes:
  check_mode:
    description: Reports what would change and the resulting RV(config); writes nothing.
    support: full
  diff_mode:
    description: Shows the file before and after.
    support: full
"""

EXAMPLES = r"""
- name: fastchan first, conda-forge behind it, strict priority; the user's keys stay
  aiserver.gpu.condarc:
    path: /opt/conda/.condarc
    channels: [fastchan, conda-forge]
    settings:
      channel_priority: strict
      solver: libmamba
      auto_activate_base: false
"""

RETURN = r"""
config:
  description: The configuration after the task (what the file holds, or would hold in check mode).
  returned: success
  type: dict
  sample: {"channels": ["fastchan", "conda-forge", "bioconda"], "channel_priority": "strict", "envs_dirs": ["/data/envs"]}
backup_file:
  description: The backup of the file as it was, when one was made.
  returned: changed and backup made
  type: str
  sample: /opt/conda/.condarc.12345.2026-11-28@12:00:00~
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aiserver.gpu.plugins.module_utils._condarc import CondarcError, plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            channels=dict(type="list", elements="str", default=[]),
            keep_other_channels=dict(type="bool", default=True),
            settings=dict(type="dict", default={}),
            remove=dict(type="list", elements="str", default=[]),
            mode=dict(type="str", default="0644"),
            backup=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    try:
        mode = int(module.params["mode"], 8)
    except ValueError:
        module.fail_json(msg="mode must be an octal string such as '0644', not %r." % module.params["mode"])
    text = None
    if os.path.exists(path):
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            module.fail_json(msg="Cannot read %s (%s); it was left unchanged." % (path, exc))
    try:
        result = plan(text, module.params["channels"], module.params["settings"], module.params["remove"],
                      module.params["keep_other_channels"], path)
    except CondarcError as exc:
        module.fail_json(msg=str(exc))
    out = dict(changed=result["changed"], config=result["after"])
    if module._diff:
        out["diff"] = dict(before=text or "", after=result["text"] if result["changed"] else (text or ""),
                           before_header=path, after_header=path)
    if result["changed"] and not module.check_mode:
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            os.makedirs(folder, 0o755)
        if module.params["backup"] and text is not None:
            out["backup_file"] = module.backup_local(path)
        fd, tmp = tempfile.mkstemp(prefix=".condarc.", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(result["text"].encode("utf-8"))
        module.atomic_move(tmp, path)
        os.chmod(path, mode)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
