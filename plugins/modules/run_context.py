#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_context
short_description: Say whether this task runs in check mode and whether the host is a container
version_added: 0.1.0
description:
  - Returns the effective check mode and diff mode of the task, read on the controller.
  - >-
    C(ansible_check_mode) is only the play's C(--check); under a task-level
    C(check_mode: true) (for example C(include_role) with C(apply: {check_mode: true})) it
    stays false although every module runs in check mode. Roles of this collection read
    RV(check_mode) instead.
  - With O(container=true) it also asks the host, with C(systemd-detect-virt --container),
    whether it is a container (one command that changes nothing; it runs in check mode too).
  - The collection's roles call it once, at their start, and read its result everywhere
    they need either answer.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
extends_documentation_fragment:
  - aiserver.gpu.attributes.read_only
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
options:
  container:
    description:
      - Also tell whether the host is a container. Without it no command runs on the host.
    type: bool
    default: false
notes:
  - 'An action plugin: without O(container) it costs no round trip to the host.'
"""

EXAMPLES = r"""
- name: Find out whether this run is in check mode and whether the host is a container
  aiserver.gpu.run_context:
    container: true
  register: __myrole_context

- name: Read back what a real run would have written
  ansible.builtin.slurp:
    src: /etc/example.conf
  register: __myrole_conf
  when: not __myrole_context.check_mode
"""

RETURN = r"""
check_mode:
  description: Whether this task runs in check mode (the play's C(--check) or a task-level C(check_mode)).
  returned: always
  type: bool
  sample: false
diff_mode:
  description: Whether this task runs with C(--diff) (or a task-level C(diff)).
  returned: always
  type: bool
  sample: false
container:
  description:
    - What C(systemd-detect-virt --container) printed (C(podman), C(docker), C(lxc)...), or
      V(none) on a machine or VM (also where systemd-detect-virt is missing).
    - V(null) without O(container).
  returned: always
  type: str
  sample: podman
is_container:
  description: Whether RV(container) names a container technology.
  returned: always
  type: bool
  sample: true
"""
