# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print what a run changed and what it skipped, and why, at the end of the play recap."""

from __future__ import annotations

DOCUMENTATION = r"""
name: summary
type: aggregate
short_description: Say what the run changed and what it skipped, and why
version_added: 0.1.0
author: aiserver.gpu maintainers (@aiserver-gpu)
description:
  - At the end of a playbook, prints per host the tasks that changed something, the
    sentences the roles left to explain a skip (debug tasks tagged C(aiserver_note)),
    and the other skipped tasks with the condition that skipped them (guards such as
    C(fail) and C(assert) that did not fire, and fact gathering, are left out).
  - Enable it with C(callbacks_enabled = aiserver.gpu.summary) in ansible.cfg or
    C(ANSIBLE_CALLBACKS_ENABLED=aiserver.gpu.summary).
requirements:
  - enable in configuration
"""

from ansible.plugins.callback import CallbackBase

NOTE_TAG = "aiserver_note"
# A skipped guard (a check that did not fire) or fact gathering is not a step that was
# left out: not worth listing.
QUIET_SKIPS = frozenset((
    "fail", "assert", "setup", "set_fact", "meta",
    "ansible.builtin.fail", "ansible.builtin.assert", "ansible.builtin.setup",
    "ansible.builtin.set_fact", "ansible.builtin.meta",
))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "aiserver.gpu.summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._hosts = {}

    def _host(self, result):
        name = result._host.get_name()
        return self._hosts.setdefault(name, {"changed": [], "notes": [], "skipped": []})

    @staticmethod
    def _label(result):
        task = result._task
        name = task.get_name().strip()
        item = result._result.get("item") if isinstance(result._result, dict) else None
        label = result._result.get("_ansible_item_label", item) if item is not None else None
        return "%s (%s)" % (name, label) if label is not None else name

    def v2_runner_on_ok(self, result):
        host = self._host(result)
        res = result._result
        if NOTE_TAG in (result._task.tags or []) and res.get("msg"):
            host["notes"].append(" ".join(str(res["msg"]).split()))
        elif res.get("changed"):
            host["changed"].append(self._label(result))

    def v2_runner_item_on_ok(self, result):
        self.v2_runner_on_ok(result)

    def v2_runner_on_skipped(self, result):
        if NOTE_TAG in (result._task.tags or []) or result._task.action in QUIET_SKIPS:
            return
        res = result._result
        why = res.get("skip_reason", "")
        cond = res.get("false_condition")
        if cond:
            why = "%s: %s" % (why or "skipped", " ".join(str(cond).split()))
        self._host(result)["skipped"].append("%s — %s" % (self._label(result), why or "skipped"))

    def v2_playbook_on_stats(self, stats):
        if not self._hosts:
            return
        self._display.banner("AISERVER.GPU SUMMARY")
        for name in sorted(self._hosts):
            host = self._hosts[name]
            self._display.display(
                "%s: %d changed, %d skipped with a reason, %d other skips"
                % (name, len(host["changed"]), len(host["notes"]), len(host["skipped"]))
            )
            for title, key in (("changed", "changed"), ("skipped, and why", "notes"),
                               ("other skipped tasks", "skipped")):
                if host[key]:
                    self._display.display("  %s:" % title)
                    for line in host[key]:
                        self._display.display("    - %s" % line)
