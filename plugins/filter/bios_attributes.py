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
    V(mismatch), V(missing), V(no_attributes)) and msg (a sentence).
  - A Redfish resource without an C(Attributes) member (Supermicro's pending-settings object
    C(Bios/SD) when nothing is pending, or any other resource) has no BIOS attributes - its
    C(Id), C(Name) and C(@odata.*) properties are not attributes. Every expected attribute then gets
    the status V(no_attributes), its msg, and C(problem) (the sentence naming the resource, the same
    in each); so does an empty attribute dict.
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


# Members of a Redfish resource itself, never BIOS attributes (DSP0266: the @odata.*
# annotations, @Redfish.* annotations, and the common properties of every resource).
_RESOURCE_KEYS = ("Id", "Name", "Description", "AttributeRegistry", "Links", "Actions", "Oem")


def _is_resource(data):
    return any(str(key).startswith(("@odata.", "@Redfish.")) for key in data) or \
        len([key for key in _RESOURCE_KEYS if key in data]) >= 2


def _resource_name(data):
    where = data.get("@odata.id") or data.get("Id") or "?"
    name = data.get("Name")
    return "%s (%s)" % (where, name) if name else str(where)


def read_attributes(data):
    """``(attributes, problem)``: the attribute dict in ``data`` and None, or ``{}`` and one
    sentence saying why there are none.

    ``data`` is a Bios resource (its ``Attributes``), a redfish_info ``bios_attribute`` result
    (``entries``: [[{system_uri}, {attributes}], ...], first system) or the attributes
    themselves. A Redfish resource without ``Attributes`` has none: its own properties
    (``Id``, ``Name``, ``@odata.*``) are never read as attributes."""
    if not isinstance(data, dict):
        return {}, "the BIOS data is %s, not a Redfish Bios resource or a redfish_info result" % (
            "null" if data is None else "a %s" % type(data).__name__)
    if "Attributes" in data:
        if isinstance(data["Attributes"], dict) and data["Attributes"]:
            return data["Attributes"], None
        return {}, "the Attributes member of the Redfish resource %s is %s" % (
            _resource_name(data), "empty" if data["Attributes"] == {} else "not an object (%r)" % (data["Attributes"],))
    if "entries" in data:
        entries = data["entries"]
        attributes = None
        where = "the first system"
        if isinstance(entries, list) and entries:
            first = entries[0]
            if isinstance(first, (list, tuple)) and len(first) == 2 and isinstance(first[1], dict):
                attributes = first[1]
                if isinstance(first[0], dict) and first[0].get("system_uri"):
                    where = first[0]["system_uri"]
            elif isinstance(first, dict):
                attributes = first
        elif isinstance(entries, dict):
            attributes = entries
        if attributes:
            return attributes, None
        return {}, "redfish_info returned no BIOS attributes for %s" % where
    if _is_resource(data):
        return {}, ("the Redfish resource %s has no Attributes member, so no BIOS attributes (its Id, Name and "
                    "@odata properties are not attributes); Supermicro's pending-settings object Bios/SD has "
                    "none when nothing is pending - read /redfish/v1/Systems/<id>/Bios instead" % _resource_name(data))
    if not data:
        return {}, "the BIOS attributes are empty"
    return data, None


def attributes_of(data):
    """The attribute dict in ``data`` (see :func:`read_attributes`); ``{}`` when there is none."""
    return read_attributes(data)[0]


def bios_attribute_findings(data, expected):
    """See DOCUMENTATION."""
    attributes, problem = read_attributes(data)
    findings = []
    for name, want in (expected or {}).items():
        if problem:
            findings.append({"attribute": name, "expected": want, "actual": None, "status": "no_attributes",
                             "problem": problem, "msg": "%s not checked: %s" % (name, problem)})
            continue
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
