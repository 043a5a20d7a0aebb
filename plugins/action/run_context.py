# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of aiserver.gpu.run_context (documented in plugins/modules/run_context.py).

The one place where a role learns whether this task runs in check mode and whether the
host is a container. ``ansible_check_mode`` is the play's (``--check``) only: it stays false
under a task-level ``check_mode: true`` (``include_role`` with ``apply: {check_mode: true}``),
while every module does run in check mode there. The effective value is the task's play
context, which an action plugin reads on the controller: no remote round trip. Only
``container: true`` asks the host (``systemd-detect-virt --container``, one raw command that
changes nothing, so it runs in check mode too).
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

_VALID_ARGS = frozenset(("container",))


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        unknown = sorted(set(self._task.args) - _VALID_ARGS)
        if unknown:
            raise AnsibleActionFail("run_context takes only the option container, not %s." % ", ".join(unknown))
        try:
            want_container = boolean(self._task.args.get("container", False), strict=True)
        except TypeError:
            raise AnsibleActionFail("run_context: container must be true or false, not %r."
                                    % (self._task.args.get("container"),))
        result.update(changed=False, check_mode=bool(self._play_context.check_mode),
                      diff_mode=bool(self._play_context.diff), container=None)
        if want_container:
            # systemd-detect-virt prints the container technology (podman, docker, lxc...)
            # and exits 0, or prints "none" and exits 1; without systemd it is absent.
            out = self._low_level_execute_command("systemd-detect-virt --container 2>/dev/null || true")
            word = (out.get("stdout") or "").strip().splitlines()
            result["container"] = word[0].strip() if word and word[0].strip() else "none"
        result["is_container"] = result["container"] not in (None, "none")
        return result
