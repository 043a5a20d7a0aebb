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
  - The file is rewritten only when the settings change (compared as data, not as text),
    through a temporary file and an atomic rename; a backup is kept with O(backup).
  - This module does not restart dockerd; notify a handler when the task reports a change.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
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
    description: Reports what would change and the resulting RV(config); writes nothing.
    support: full
  diff_mode:
    description: Shows the file before and after.
    support: full
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
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

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
        supports_check_mode=True,
    )
    path = module.params["path"]
    text = None
    if os.path.exists(path):
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            module.fail_json(msg="Cannot read %s (%s); it was left unchanged." % (path, exc))
    try:
        result = plan(text, module.params["settings"], module.params["remove"], module.params["list_mode"], path)
    except DaemonJsonError as exc:
        module.fail_json(msg=str(exc))
    for warning in result["warnings"]:
        module.warn(warning)
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
        fd, tmp = tempfile.mkstemp(prefix=".daemon.json.", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(result["text"].encode("utf-8"))
        os.chmod(tmp, 0o644)
        module.atomic_move(tmp, path)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
