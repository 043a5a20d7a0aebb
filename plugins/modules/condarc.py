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
  - A key set twice in one mapping, or YAML nested too deep to read, is refused the same way.
  - The file is rewritten only when the settings change (compared as data, not as text),
    through a temporary file in its folder and an atomic rename; a backup is kept with O(backup).
    Comments, conda's C(#!final) markers included, do not survive a rewrite (PyYAML).
  - The file keeps its mode, owner and group (a C(.condarc) that holds a proxy password stays
    0600) unless O(mode), O(owner) or O(group) are set; a new file is created 0644. When O(path)
    is a symbolic link, the file it points to is edited and the link stays.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - PyYAML on the target (Debian/Ubuntu package C(python3-yaml))
extends_documentation_fragment:
  - ansible.builtin.files
  - aiserver.gpu.attributes
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
  backup:
    description: Keep a timestamped copy of the file as it was before a change.
    type: bool
    default: true
attributes:
  check_mode:
    details: Reports what would change and the resulting RV(config); writes nothing.
  diff_mode:
    details: Shows the file before and after.
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
path:
  description: The file that was (or would be) written; the target of O(path) when that is a symbolic link.
  returned: success
  type: str
  sample: /opt/conda/.condarc
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aiserver.gpu.plugins.module_utils import _safe_write
from ansible_collections.aiserver.gpu.plugins.module_utils._condarc import CondarcError, plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            channels=dict(type="list", elements="str", default=[]),
            keep_other_channels=dict(type="bool", default=True),
            settings=dict(type="dict", default={}),
            remove=dict(type="list", elements="str", default=[]),
            backup=dict(type="bool", default=True),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    path = module.params["path"]
    args = _safe_write.file_args(module)
    text = _safe_write.read_text(module, path, ".condarc")
    try:
        result = plan(text, module.params["channels"], module.params["settings"], module.params["remove"],
                      module.params["keep_other_channels"], path)
    except CondarcError as exc:
        module.fail_json(msg=str(exc))
    out = _safe_write.edit_one(module, path, text, result["text"] if result["changed"] else None,
                               backup=module.params["backup"], args=args)
    module.exit_json(config=result["after"], **out)


if __name__ == "__main__":
    main()
