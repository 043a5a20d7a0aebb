#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: docker_daemon_json
short_description: Merge settings into Docker's daemon.json, keeping every key you do not name
version_added: 0.1.0
description:
  - Reads C(/etc/docker/daemon.json) (O(path)), merges O(settings) into it and removes the
    keys of O(remove). Keys the task does not name are kept as they are, in their order.
    Objects are merged key by key, so the C(runtimes) of other tools stay; lists are
    merged as sets (O(list_mode=append_unique)) or replaced.
  - A file that is not a JSON object fails the task with the line and column of the error,
    and is left unchanged. A missing file is created when there is something to write.
  - Refused, with the file left byte for byte, are also a key set twice in one object (dockerd
    would silently take the last), C(NaN)/C(Infinity) (not JSON), JSON nested too deep to read,
    and a key the task sets as an object (C(runtimes)) that holds another kind of value.
  - The file is rewritten only when the settings change (compared as data, not as text),
    through a temporary file in its folder and an atomic rename; a backup is kept with O(backup).
    The file keeps its mode, owner and group unless O(mode), O(owner) or O(group) are set; a new file
    is created 0644. When O(path) is a symbolic link, the file it points to is edited and the link
    stays.
  - This module does not restart dockerd; notify a handler when the task reports a change.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
extends_documentation_fragment:
  - ansible.builtin.files
  - aiserver.gpu.attributes
options:
  path:
    description: The daemon configuration file.
    type: path
    default: /etc/docker/daemon.json
  settings:
    description:
      - Keys to set, merged into the file (nested objects key by key).
    type: dict
    default: {}
  remove:
    description:
      - Keys to take out, top-level names or dotted paths (V(runtimes.nvidia)).
    type: list
    elements: str
    default: []
  list_mode:
    description:
      - V(append_unique) adds the items of a list that are missing and keeps the others
        (C(exec-opts)); V(replace) sets lists exactly as given.
    type: str
    choices: [append_unique, replace]
    default: append_unique
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
- name: Add the NVIDIA runtime, keeping the user's settings
  aiserver.gpu.docker_daemon_json:
    settings:
      runtimes:
        nvidia:
          path: nvidia-container-runtime
          runtimeArgs: []
  notify: Restart docker

- name: The cgroupfs workaround for 'Failed to initialize NVML - Unknown Error'
  aiserver.gpu.docker_daemon_json:
    settings:
      exec-opts: ["native.cgroupdriver=cgroupfs"]
"""

RETURN = r"""
config:
  description: The daemon configuration after the task (what the file holds, or would hold in check mode).
  returned: success
  type: dict
  sample: {"log-driver": "json-file", "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": []}}}
backup_file:
  description: The backup of the file as it was, when one was made.
  returned: changed and backup made
  type: str
  sample: /etc/docker/daemon.json.12345.2026-11-28@12:00:00~
path:
  description: The file that was (or would be) written; the target of O(path) when that is a symbolic link.
  returned: success
  type: str
  sample: /etc/docker/daemon.json
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aiserver.gpu.plugins.module_utils import _safe_write
from ansible_collections.aiserver.gpu.plugins.module_utils._daemon_json import DaemonJsonError, plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/docker/daemon.json"),
            settings=dict(type="dict", default={}),
            remove=dict(type="list", elements="str", default=[]),
            list_mode=dict(type="str", choices=["append_unique", "replace"], default="append_unique"),
            backup=dict(type="bool", default=True),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    path = module.params["path"]
    args = _safe_write.file_args(module)
    text = _safe_write.read_text(module, path, "daemon.json")
    try:
        result = plan(text, module.params["settings"], module.params["remove"], module.params["list_mode"], path)
    except DaemonJsonError as exc:
        module.fail_json(msg=str(exc))
    for warning in result["warnings"]:
        module.warn(warning)
    out = _safe_write.edit_one(module, path, text, result["text"] if result["changed"] else None,
                               backup=module.params["backup"], args=args)
    module.exit_json(config=result["after"], **out)


if __name__ == "__main__":
    main()
