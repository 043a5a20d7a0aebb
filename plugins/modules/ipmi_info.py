#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipmi_info
short_description: Read a BMC with ipmitool - mc info, LAN, users, sensors, power, boot device
version_added: 0.1.0
description:
  - Runs C(ipmitool) against a BMC over the network (O(interface=lanplus)) or in-band through
    the host's C(/dev/ipmi0) (O(interface=open)) and returns what it read, parsed.
  - Each part is one ipmitool command (C(mc info), C(lan print CHANNEL), C(user list CHANNEL),
    C(sensor), C(chassis power status), C(chassis bootparam get 5)). O(gather) picks the parts.
  - The password goes to ipmitool through its environment (C(-E)), never on the command line,
    and is never returned.
  - With O(sensor_limits) and the C(sensors) part, RV(sensor_findings) judges every reading
    against the BMC's thresholds and your own; the module itself never fails on a reading.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
extends_documentation_fragment:
  - aiserver.gpu.attributes.no_diff
  - aiserver.gpu.ipmitool
requirements:
  - C(ipmitool) where the module runs (for O(interface=open), the host with the BMC and the
    C(ipmi_si)/C(ipmi_devintf) kernel modules loaded).
options:
  host:
    description: Address of the BMC. Required unless O(interface=open).
    type: str
  password:
    description: Password of O(user). Sent to ipmitool through the E(IPMI_PASSWORD) environment variable.
    type: str
  interface:
    description: C(lanplus) (IPMI 2.0, RMCP+), C(lan) (IPMI 1.5) or C(open) (in-band, on the host itself).
    type: str
    default: lanplus
    choices: [lanplus, lan, open]
  channel:
    description: LAN channel for C(lan print) and C(user list). Supermicro and most boards use 1.
    type: int
    default: 1
  gather:
    description: The parts to read.
    type: list
    elements: str
    default: [mc, lan, users, sensors, power, boot]
    choices: [mc, lan, users, sensors, power, boot]
  sensor_limits:
    description:
      - "Your own limits by sensor name, on top of the BMC's thresholds, for example
        C({\"CPU1 Temp\": {\"max\": 85}}). Keys C(max)/C(min) make a critical finding, C(warn_max)/C(warn_min)
        a warning."
    type: dict
    default: {}
  sensor_ignore:
    description: Sensor names left out of RV(sensor_findings).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    details: It only reads.
notes:
  - A failed login is told apart from an unreachable BMC by running ipmitool again with C(-v)
    (RV(error_kind) V(auth_failed), V(unknown_user), V(unreachable)).
seealso:
  - module: aiserver.gpu.ipmi_bmc
  - name: ipmitool manual
    description: The commands this module runs.
    link: https://github.com/ipmitool/ipmitool/wiki
"""

EXAMPLES = r"""
- name: Read the BMC
  aiserver.gpu.ipmi_info:
    host: 10.0.0.21
    user: ADMIN
    password: "{{ vault_bmc_password }}"
  delegate_to: localhost
  no_log: true
  register: bmc

- name: In-band, on the server itself - where is my BMC?
  aiserver.gpu.ipmi_info:
    interface: open
    gather: [lan]
  become: true
  register: bmc_lan
"""

RETURN = r"""
mc:
  description: C(mc info), parsed.
  returned: when C(mc) is gathered
  type: dict
  contains:
    manufacturer_id:
      description: IANA enterprise number of the BMC's maker (10876 is Supermicro).
      type: int
      sample: 10876
    manufacturer_name:
      description: As ipmitool names it.
      type: str
      sample: Super Micro Computer Inc.
    product_name:
      description: As ipmitool names it.
      type: str
      sample: X10SRi
    firmware_revision:
      description: BMC firmware revision.
      type: str
      sample: "3.19"
    supermicro:
      description: Whether the manufacturer id is Supermicro's.
      type: bool
      sample: true
lan:
  description: C(lan print CHANNEL), parsed.
  returned: when C(lan) is gathered
  type: dict
  contains:
    ip_source:
      description: V(static), V(dhcp), V(bios), V(none) or V(other).
      type: str
      sample: static
    ip_address:
      description: BMC address.
      type: str
      sample: 10.248.36.246
    netmask:
      description: Subnet mask.
      type: str
      sample: 255.255.252.0
    gateway:
      description: Default gateway.
      type: str
      sample: 10.248.36.1
    mac_address:
      description: BMC MAC address.
      type: str
      sample: 0c:c4:7a:ed:3e:27
    vlan_id:
      description: 802.1q VLAN id, null when disabled.
      type: int
      sample: null
users:
  description: C(user list CHANNEL), parsed; empty slots have an empty name.
  returned: when C(users) is gathered
  type: list
  elements: dict
  sample: [{"id": 2, "name": "ADMIN", "privilege": "administrator", "ipmi_msg": true, "link_auth": false,
            "callin": false, "privilege_raw": "ADMINISTRATOR"}]
sensors:
  description: C(sensor), parsed - name, value, unit, status and the six thresholds (lnr, lcr, lnc, unc, ucr, unr).
  returned: when C(sensors) is gathered
  type: list
  elements: dict
sensor_findings:
  description: Readings beyond a threshold, worst first - sensor, value, unit, level (critical, warning), threshold, msg.
  returned: when C(sensors) is gathered
  type: list
  elements: dict
  sample: [{"sensor": "System Temp", "value": 87.0, "unit": "degrees C", "level": "critical", "threshold": "ucr",
            "threshold_value": 85.0,
            "msg": "System Temp reads 87 degrees C, at or above its upper critical threshold of 85 degrees C"}]
power:
  description: V(on) or V(off).
  returned: when C(power) is gathered
  type: str
  sample: "on"
boot:
  description: C(chassis bootparam get 5), parsed - device, valid, persistent, efi, data.
  returned: when C(boot) is gathered
  type: dict
  sample: {"device": "pxe", "valid": false, "persistent": false, "efi": false, "data": "0004000000"}
warnings_parse:
  description: Lines the parsers did not understand.
  returned: always
  type: list
  elements: str
error_kind:
  description:
    - Why the task failed - V(not_installed), V(auth_failed), V(unknown_user), V(unreachable),
      V(session_failed), V(no_device), V(invalid_command), V(unexpected_output) (ipmitool printed
      something that is not the output of the command run, for example C(lan print) text for C(user list)),
      V(timeout), V(crashed) (ipmitool ended by a signal), V(failed).
  returned: failure
  type: str
  sample: auth_failed
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aiserver.gpu.plugins.module_utils import _ipmi
from ansible_collections.aiserver.gpu.plugins.module_utils._ipmitool import CONNECTION_SPEC, IpmiError, Ipmitool


def main():
    spec = dict(CONNECTION_SPEC)
    spec.update(
        channel=dict(type="int", default=1),
        gather=dict(type="list", elements="str", default=["mc", "lan", "users", "sensors", "power", "boot"],
                    choices=["mc", "lan", "users", "sensors", "power", "boot"]),
        sensor_limits=dict(type="dict", default={}),
        sensor_ignore=dict(type="list", elements="str", default=[]),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    tool = Ipmitool(module)
    gather = module.params["gather"]
    chan = str(module.params["channel"])
    notes = []
    result = dict(changed=False, warnings_parse=notes)
    try:
        if "mc" in gather:
            result["mc"] = _ipmi.parse_mc_info(tool.run(["mc", "info"])[1], notes.append)
        if "lan" in gather:
            result["lan"] = _ipmi.parse_lan_print(tool.run(["lan", "print", chan])[1], notes.append)
        if "users" in gather:
            text = tool.run(["user", "list", chan])[1]
            try:
                result["users"] = _ipmi.parse_user_list(text, notes.append)
            except _ipmi.NotThisOutput as exc:
                module.fail_json(msg="ipmitool user list %s: %s. Check that executable is ipmitool (not a wrapper "
                                     "that prints something else) and that channel %s is the BMC's LAN channel."
                                 % (chan, exc.msg, chan), error_kind=exc.kind, stdout=text,
                                 **dict((k, v) for k, v in result.items() if k != "changed"))
        if "sensors" in gather:
            sensors = _ipmi.parse_sensor(tool.run(["sensor"])[1], notes.append)
            result["sensors"] = sensors
            result["sensor_findings"] = _ipmi.sensor_findings(sensors, module.params["sensor_limits"],
                                                              module.params["sensor_ignore"])
        if "power" in gather:
            result["power"] = _ipmi.parse_power_status(tool.run(["chassis", "power", "status"])[1])
        if "boot" in gather:
            result["boot"] = _ipmi.parse_bootparam_5(tool.run(["chassis", "bootparam", "get", "5"])[1], notes.append)
    except IpmiError as exc:
        tool.fail(exc, **dict((k, v) for k, v in result.items() if k != "changed"))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
