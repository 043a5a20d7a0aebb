# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the NVIDIA driver branch table (plugins/module_utils/_driver_branches.py)."""

from __future__ import annotations

import datetime

from ansible_collections.aiserver.gpu.plugins.module_utils._driver_branches import (
    branch_info,
    known_bad_entries,
)

DOCUMENTATION = r"""
name: driver_branch_info
short_description: What the collection's driver branch table says of an NVIDIA driver branch on a day
version_added: 0.1.0
author: aiserver.gpu maintainers (@aiserver-gpu)
description:
  - "Pure function over the one table of driver branches the collection keeps
    (C(plugins/module_utils/_driver_branches.py)): each branch's kind (Long Term Support,
    Production or New Feature Branch), its end-of-life date as NVIDIA publishes it, the GPUs it
    is known to be bad on, and the address of each fact."
  - Returns whether the branch is past its end of life on O(today), the days left, a sentence
    for a person with the dates, and what to choose instead on the given distribution release.
  - Never raises; an unknown branch comes back with C(known=false) and a sentence that says so.
  - The same file holds C(driver_branch_known_bad), the table's known-bad driver x GPU entries
    in the fields of the gpu_validation role's C(vars/known_bad.yml) (optionally of one branch),
    which C(aiserver.gpu.gpu_validation_judge) adds to the entries it is given.
options:
  _input:
    description: The driver branch (C("535")) or a full driver version (C("535.261.03")).
    type: str
    required: true
  today:
    description:
      - The day to judge on, C(YYYY-MM-DD); null for the controller's date.
      - "In a play: C(now(utc=true, fmt='%Y-%m-%d'))."
    type: str
    default: null
  distribution:
    description: C(ansible_facts['distribution']) (C(Debian), C(Ubuntu)), for the advice.
    type: str
    default: null
  version:
    description: C(ansible_facts['distribution_version']) (C(12), C(22.04)), for the advice.
    type: str
    default: null
"""

EXAMPLES = r"""
- name: Warn about a pinned branch past its end of life
  ansible.builtin.debug:
    msg: "{{ (nvidia_driver_branch | aiserver.gpu.driver_branch_info(now(utc=true, fmt='%Y-%m-%d'),
             ansible_facts['distribution'], ansible_facts['distribution_version'])).sentence }}"

- name: The table's known-bad entries of the 545 branch
  ansible.builtin.debug:
    msg: "{{ '545' | aiserver.gpu.driver_branch_known_bad }}"
"""

RETURN = r"""
_value:
  description: What the table says (driver_branch_info), or the known-bad entries (driver_branch_known_bad, a list).
  type: dict
  contains:
    branch: {description: The branch (C("535")); the input as given when it is no branch., type: str}
    known: {description: Whether the table has the branch., type: bool}
    kind: {description: C(LTSB), C(PB) or C(NFB); null when unknown., type: str}
    kind_name: {description: NVIDIA's name of the kind., type: str}
    eol: {description: "End of life, C(YYYY-MM-DD) (the first day of NVIDIA's month); null without a date.", type: str}
    eol_text: {description: "NVIDIA's words (C(June 2026)).", type: str}
    past_eol: {description: Whether the branch has reached its end of life on O(today); null when unknown., type: bool}
    days_left: {description: Days from O(today) to the end of life (negative once past); null without a date., type: int}
    warn: {description: Whether a person should hear of it (unknown, past its end of life, or a New Feature Branch)., type: bool}
    known_bad:
      description: The branch's known-bad driver x GPU entries (fields of gpu_validation's C(vars/known_bad.yml)).
      type: list
      elements: dict
    source: {description: Where the branch's dates were read., type: str}
    release: {description: The distribution release, for people (C(Ubuntu 24.04 (noble))); null when unknown., type: str}
    recommended:
      description: C({branch, source, why, release, sources}), what to choose on the release; null when unknown.
      type: dict
    sentence: {description: All of it in words for a person, with the dates and the addresses., type: str}
"""


def driver_branch_info(branch, today=None, distribution=None, version=None):
    """What the table says of ``branch`` on ``today`` (the controller's date when None)."""
    return branch_info(branch, today if today else datetime.date.today(), distribution, version)


def driver_branch_known_bad(branch=None):
    """The table's known-bad entries, all of them or those of ``branch``."""
    return known_bad_entries(branch if branch not in (None, "", "all") else None)


class FilterModule:
    """aiserver.gpu driver branch filters."""

    def filters(self):
        return {
            "driver_branch_info": driver_branch_info,
            "driver_branch_known_bad": driver_branch_known_bad,
        }
