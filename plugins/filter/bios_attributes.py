# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter of the bios_ipmi role: compare a server's BIOS attributes (Redfish) with what a
multi-GPU box needs."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bios_attribute_findings
short_description: Compare BIOS attributes read over Redfish with the expected ones
version_added: 0.1.0
author: aiserver.gpu maintainers (@aiserver-gpu)
description:
  - Pure function, no I/O. Takes the BIOS attributes of one system - the C(Attributes) object of a
    Redfish C(Bios) resource, the whole resource, or what C(community.general.redfish_info) returns
    for C(GetBiosAttributes) - and a dict of expected attributes, and returns one finding per
    expected attribute, in the order of the expected dict.
  - Values compare without regard to case, and C(Enable)/C(Enabled) (C(Disable)/C(Disabled)) count
    as the same - Supermicro mixes both spellings on one board. Booleans and numbers compare as they are.
  - A finding is a dict - attribute, expected, actual (null when missing), status (V(ok),
    V(mismatch), V(missing)) and msg (a sentence).
options:
  _input:
    description: The attributes (a dict), or a Bios resource with C(Attributes), or a redfish_info C(bios_attribute) result.
    type: dict
    required: true
  expected:
    description: Expected attributes, name to value.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Compare
  ansible.builtin.set_fact:
    findings: "{{ bios.redfish_facts.bios_attribute | aiserver.gpu.bios_attribute_findings({'Above4GDecoding': 'Enabled'}) }}"
"""

RETURN = r"""
_value:
  description: One finding per expected attribute.
  type: list
  elements: dict
"""

_SAME = {"enable": "enabled", "enabled": "enabled", "disable": "disabled", "disabled": "disabled"}


def _norm(value):
    if isinstance(value, str):
        low = value.strip().lower()
        return _SAME.get(low, low)
    return value


def attributes_of(data):
    """The attribute dict in ``data``: a Bios resource (``Attributes``), a redfish_info
    ``bios_attribute`` result (``entries``: [[{system_uri}, {attributes}], ...], first system)
    or the attributes themselves."""
    if not isinstance(data, dict):
        return {}
    if isinstance(data.get("Attributes"), dict):
        return data["Attributes"]
    entries = data.get("entries")
    if isinstance(entries, list) and entries:
        first = entries[0]
        if isinstance(first, (list, tuple)) and len(first) == 2 and isinstance(first[1], dict):
            return first[1]
        if isinstance(first, dict):
            return first
    if isinstance(entries, dict):
        return entries
    return data


def bios_attribute_findings(data, expected):
    """See DOCUMENTATION."""
    attributes = attributes_of(data)
    findings = []
    for name, want in (expected or {}).items():
        if name not in attributes:
            findings.append({"attribute": name, "expected": want, "actual": None, "status": "missing",
                             "msg": "%s is not among this BIOS's %d attributes (another board generation "
                                    "or vendor names it differently)" % (name, len(attributes))})
            continue
        have = attributes[name]
        same = _norm(have) == _norm(want)
        findings.append({"attribute": name, "expected": want, "actual": have, "status": "ok" if same else "mismatch",
                         "msg": "%s is %s%s" % (name, have, "" if same else ", expected %s" % want)})
    return findings


class FilterModule:
    """aiserver.gpu BIOS filters."""

    def filters(self):
        return {"bios_attribute_findings": bios_attribute_findings}
