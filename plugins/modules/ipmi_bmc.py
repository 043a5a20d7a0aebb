#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipmi_bmc
short_description: Ensure a BMC's accounts, LAN settings, power, next boot device and Supermicro fan mode with ipmitool
version_added: 0.1.0
description:
  - Logs in to a BMC with O(password); when that is refused and O(default_password) is given (the
    C(ADMIN) password on the sticker), logs in with it and changes the password of O(user) to
    O(password), last, after every other change, then logs in again to prove it.
  - Reads what it manages first and runs only the ipmitool commands that change something, so a
    second run changes nothing. In check mode it only reads and returns the planned RV(actions).
  - A failure after some change was made (C(chassis bootdev pxe) done, then C(chassis power on)
    refused) reports C(changed=true), lists what was done in RV(actions) and the failed step in
    RV(failed_action).
  - "Parts, each left alone when its option is not set: O(users) (name, password, privilege on
    O(channel)), O(lan) (address source, address, netmask, gateway, VLAN), O(boot_device)
    (C(chassis bootdev)), O(power) (C(chassis power)), O(fan_mode) (Supermicro's OEM command
    C(raw 0x30 0x45), only on a BMC whose C(mc info) manufacturer id is 10876; elsewhere a skip
    with a sentence in RV(skipped_parts))."
  - Passwords never reach a command line - the session password goes through ipmitool's
    environment (C(-E)) and new passwords through a command file (C(ipmitool exec), mode 0600,
    removed at once) - and are never returned.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
extends_documentation_fragment:
  - aiserver.gpu.attributes.no_diff
  - aiserver.gpu.ipmitool
requirements:
  - C(ipmitool) where the module runs (usually the controller, or a runner that reaches the BMC network).
options:
  host:
    description: Address of the BMC.
    type: str
    required: true
  password:
    description: The password O(user) should have.
    type: str
    required: true
  default_password:
    description:
      - The factory password to try when O(password) is refused (Supermicro - C(ADMIN) on older
        boards, a unique one on the sticker since 2020). Omit it to never try one.
    type: str
  interface:
    description: C(lanplus) (IPMI 2.0) or C(lan) (IPMI 1.5).
    type: str
    default: lanplus
    choices: [lanplus, lan]
  channel:
    description: The LAN channel (1 on Supermicro and most boards).
    type: int
    default: 1
  users:
    description:
      - Users to create or update (found by name; a new one takes the first free slot from 3 up).
        Users not listed are left alone.
      - A password is checked by logging in as that user; a refused login sets it (and enables the user).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: User name (16 characters at most).
        type: str
        required: true
      password:
        description: Its password (20 characters at most, no spaces or quotes). Omit to leave the password alone.
        type: str
      privilege:
        description: Privilege on O(channel).
        type: str
        default: administrator
        choices: [user, operator, administrator]
  lan:
    description:
      - LAN settings of O(channel). Keys left out (or null) are left alone. Changing the address you
        reach the BMC through moves it - the next run must use the new address.
    type: dict
    suboptions:
      ip_source:
        description: C(static) or C(dhcp).
        type: str
        choices: [static, dhcp]
      ip_address:
        description: Static address.
        type: str
      netmask:
        description: Static netmask.
        type: str
      gateway:
        description: Default gateway.
        type: str
      vlan_id:
        description: 802.1q VLAN id (1-4094); 0 turns VLAN tagging off.
        type: int
  boot_device:
    description:
      - The next boot device (C(chassis bootdev)). V(usb) is the primary removable media (ipmitool's
        C(floppy)). Already set when C(chassis bootparam get 5) shows that device.
    type: str
    choices: [none, pxe, disk, safe, diag, cdrom, bios, usb, floppy]
  boot_persistent:
    description: Keep O(boot_device) for every boot, not only the next one.
    type: bool
    default: false
  boot_efi:
    description: Ask for an EFI boot.
    type: bool
    default: false
  power:
    description: Chassis power - V(on), V(off) (hard), V(soft) (ACPI shutdown; counts as done once the power reads off).
    type: str
    choices: ["on", "off", soft]
  fan_mode:
    description:
      - Supermicro fan mode, set with C(raw 0x30 0x45 0x01 MODE) after reading it with C(raw 0x30 0x45 0x00).
        Only on a BMC whose manufacturer id is 10876; on any other, nothing is sent and RV(skipped_parts) says why.
    type: str
    choices: [standard, full, optimal, heavy_io]
attributes:
  check_mode:
    details: Reads (and tries the logins) only; RV(actions) lists what would change.
notes:
  - A password is checked by opening a session as that user; a wrong one counts as one failed login
    on the BMC (mind a lockout threshold).
  - Supermicro fan modes are 0 standard, 1 full, 2 optimal, 4 heavy IO (X9 to X12 boards). A BMC that
    answers the command with completion code 0xc1 does not implement it - the task fails with
    RV(error_kind) V(invalid_command).
  - Some BMCs (and OpenIPMI's simulator) keep only the boot device selector of C(bootparam 5), not its
    flags; the persistent and EFI flags are compared only when the BMC reports them valid.
seealso:
  - module: aiserver.gpu.ipmi_info
"""

EXAMPLES = r"""
- name: Replace the sticker password, add an operator, static address on VLAN 20
  aiserver.gpu.ipmi_bmc:
    host: 10.0.0.21
    password: "{{ vault_bmc_password }}"
    default_password: ADMIN
    users:
      - name: ops
        password: "{{ vault_bmc_ops_password }}"
        privilege: operator
    lan:
      ip_source: static
      ip_address: 10.0.0.21
      netmask: 255.255.255.0
      gateway: 10.0.0.1
      vlan_id: 20
  delegate_to: localhost
  no_log: true

- name: Full fans on a Supermicro (skipped elsewhere)
  aiserver.gpu.ipmi_bmc:
    host: 10.0.0.21
    password: "{{ vault_bmc_password }}"
    fan_mode: full
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
actions:
  description:
    - What changed (or, in check mode, would change), one sentence each, no password in them.
    - On a failure, only what was actually done before it (C(changed) is then true when this is not
      empty); the step that failed is RV(failed_action).
  returned: always
  type: list
  elements: str
  sample: ["create user ops in slot 3", "set the password of ops (slot 3)", "lan set 1 ipsrc static"]
failed_action:
  description: The step whose ipmitool command failed, when a failure happened while changing something.
  returned: failure, when a changing command failed
  type: str
  sample: chassis power on
not_done:
  description: The planned steps that were not done because of the failure (the failed one last).
  returned: failure, when a changing command failed
  type: list
  elements: str
  sample: ["chassis power on"]
login:
  description: V(password) or V(default_password) - which one opened the first session.
  returned: always
  type: str
  sample: default_password
mc:
  description: C(mc info), parsed (see M(aiserver.gpu.ipmi_info)).
  returned: always
  type: dict
lan:
  description: C(lan print CHANNEL) after the changes, parsed.
  returned: when O(lan) is set
  type: dict
boot:
  description: C(chassis bootparam get 5) after the change, parsed.
  returned: when O(boot_device) is set
  type: dict
power:
  description: Power state after the change.
  returned: when O(power) is set
  type: str
fan_mode:
  description: The fan mode read (after the change); null when skipped.
  returned: when O(fan_mode) is set
  type: str
  sample: full
skipped_parts:
  description: Sentences for the parts left alone and why.
  returned: always
  type: list
  elements: str
  sample: ["fan_mode: not a Supermicro BMC (manufacturer id 4753, Unknown (0x1291)); the fan mode is Supermicro's OEM command"]
error_kind:
  description:
    - Why the task failed - V(auth_failed) (neither password works), V(unreachable), V(invalid_request)
      (bad option values; nothing changed), V(no_free_slot), V(invalid_command) (the BMC does not
      implement a command), V(not_applied) (read back differs), V(unexpected_output) (ipmitool printed
      something that is not the output of the command run, for example C(lan print) text for
      C(user list)), V(not_installed), V(timeout), V(crashed) (ipmitool ended by a signal), V(failed).
    - C(changed) is true on a failure when something was changed before it (see RV(actions)).
  returned: failure
  type: str
  sample: auth_failed
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aiserver.gpu.plugins.module_utils import _ipmi
from ansible_collections.aiserver.gpu.plugins.module_utils._ipmitool import CONNECTION_SPEC, IpmiError, Ipmitool

_BAD_PASSWORD = re.compile(r"[\s'\"#\\]")


def _check_password(label, password, errors):
    if password is None:
        return
    if len(password.encode("utf-8")) > 20:
        errors.append("%s is longer than 20 bytes, the IPMI maximum" % label)
    if not password:
        errors.append("%s is empty" % label)
    if _BAD_PASSWORD.search(password):
        errors.append("%s holds a space, quote, # or backslash, which ipmitool's command file cannot carry" % label)


def _validate(params):
    errors = []
    _check_password("password", params["password"], errors)
    _check_password("default_password", params.get("default_password"), errors)
    names = []
    for i, user in enumerate(params["users"]):
        name = user["name"]
        if not name or len(name) > 16 or not re.match(r"^[A-Za-z0-9._-]+$", name):
            errors.append("users[%d].name %r must be 1-16 letters, digits, '.', '_' or '-'" % (i, name))
        if name in names:
            errors.append("users[%d].name %r is listed twice" % (i, name))
        if name == params["user"]:
            errors.append("users[%d] is %r, the login user: its password is the password option" % (i, name))
        names.append(name)
        _check_password("users[%d].password" % i, user.get("password"), errors)
    lan = params.get("lan") or {}
    vlan = lan.get("vlan_id")
    if vlan is not None and not 0 <= vlan <= 4094:
        errors.append("lan.vlan_id %s is outside 0-4094 (0 turns VLAN off)" % vlan)
    ip_re = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
    for key in ("ip_address", "netmask", "gateway"):
        value = lan.get(key)
        if value is not None:
            match = ip_re.match(value)
            if not match or any(int(g) > 255 for g in match.groups()):
                errors.append("lan.%s %r is not an IPv4 address" % (key, value))
    if lan.get("ip_source") == "dhcp" and any(lan.get(k) for k in ("ip_address", "netmask", "gateway")):
        errors.append("lan.ip_source is dhcp: leave ip_address, netmask and gateway out")
    return errors


def main():
    spec = dict(CONNECTION_SPEC)
    spec.update(
        host=dict(type="str", required=True),
        password=dict(type="str", required=True, no_log=True),
        default_password=dict(type="str", no_log=True),
        interface=dict(type="str", default="lanplus", choices=["lanplus", "lan"]),
        channel=dict(type="int", default=1),
        users=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            password=dict(type="str", no_log=True),
            privilege=dict(type="str", default="administrator", choices=["user", "operator", "administrator"]),
        )),
        lan=dict(type="dict", options=dict(
            ip_source=dict(type="str", choices=["static", "dhcp"]),
            ip_address=dict(type="str"),
            netmask=dict(type="str"),
            gateway=dict(type="str"),
            vlan_id=dict(type="int"),
        )),
        boot_device=dict(type="str", choices=["none", "pxe", "disk", "safe", "diag", "cdrom", "bios", "usb", "floppy"]),
        boot_persistent=dict(type="bool", default=False),
        boot_efi=dict(type="bool", default=False),
        power=dict(type="str", choices=["on", "off", "soft"]),
        fan_mode=dict(type="str", choices=list(_ipmi.FAN_MODES)),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    errors = _validate(params)
    if errors:
        module.fail_json(msg="Invalid options, nothing was changed: " + "; ".join(errors), errors=errors,
                         error_kind="invalid_request")

    tool = Ipmitool(module)
    check = module.check_mode
    chan = str(params["channel"])
    # ``actions`` holds what was done (in check mode: what would be done), each sentence
    # added only once its command succeeded; ``pending`` holds sentences that describe the
    # next command (``create user ops in slot 3``) until that command has run.
    actions, skipped, pending = [], [], []
    result = dict(changed=False, actions=actions, skipped_parts=skipped)

    def finish(failed_action=None):
        """The result for exit_json/fail_json: changed is true once anything was done,
        also when a later step failed."""
        result["changed"] = bool(actions)
        if failed_action is not None:
            result["failed_action"] = failed_action
            result["not_done"] = list(pending) + [failed_action]
        return result

    def fail(msg, error_kind, failed_action=None, **extra):
        finish(failed_action)
        if actions and not check:
            msg += " Already done before this failure (changed): %s." % "; ".join(actions)
        extra.update(result)
        module.fail_json(msg=msg, error_kind=error_kind, **extra)

    def note(sentence):
        pending.append(sentence)

    def done(sentence):
        actions.extend(pending)
        del pending[:]
        actions.append(sentence)

    def do(argv, sentence=None):
        sentence = sentence or " ".join(argv)
        if not check:
            try:
                tool.run(argv)
            except IpmiError as exc:
                exc.failed_action = sentence
                raise
        done(sentence)

    def do_secret(line, sentence):
        if not check:
            try:
                tool.run_secret_script([line])
            except IpmiError as exc:
                exc.failed_action = sentence
                raise
        done(sentence)

    try:
        # Log in: the wanted password first, the factory one second.
        if tool.can_login(params["user"], params["password"]):
            result["login"] = "password"
        elif params.get("default_password") and tool.can_login(params["user"], params["default_password"]):
            result["login"] = "default_password"
            tool.password = params["default_password"]
        else:
            tried = "the password" + (" nor the default password" if params.get("default_password") else "")
            fail("The BMC %s:%s refused user %s with %s. Check the credentials in the vault, or "
                 "reset the BMC's password from the host (ipmitool user set password)."
                 % (params["host"], params["port"], params["user"],
                    tried.replace("the password nor", "neither the password nor")), "auth_failed")
        result["mc"] = _ipmi.parse_mc_info(tool.run(["mc", "info"])[1])

        # Users.
        listed = []
        if params["users"] or result["login"] == "default_password":
            text = tool.run(["user", "list", chan])[1]
            try:
                listed = _ipmi.parse_user_list(text)
            except _ipmi.NotThisOutput as exc:
                fail("ipmitool user list %s: %s. Nothing can be said about free slots or existing users; check "
                     "that executable is ipmitool (not a wrapper that prints something else) and that channel %s "
                     "is the BMC's LAN channel." % (chan, exc.msg, chan), exc.kind, stdout=text)
        admin = next((u for u in listed if u["name"] == params["user"]), None)
        taken = set(u["id"] for u in listed if u["name"])
        for wanted in params["users"]:
            current = next((u for u in listed if u["name"] == wanted["name"]), None)
            if current is None:
                free = [u["id"] for u in listed if not u["name"] and u["id"] >= 3 and u["id"] not in taken]
                if not free:
                    fail("No free user slot on the BMC for %s: user list %s shows %d slots, and slots 3 and up "
                         "are all named." % (wanted["name"], chan, len(listed)), "no_free_slot")
                uid = free[0]
                taken.add(uid)
                note("create user %s in slot %d" % (wanted["name"], uid))
            else:
                uid = current["id"]
            login_ok = None
            if wanted.get("password") is not None and current is not None:
                login_ok = tool.can_login(wanted["name"], wanted["password"])
            plan = _ipmi.plan_user(current, dict(wanted, id=uid, channel=params["channel"]), login_ok)
            for step in plan:
                if isinstance(step, tuple):
                    do_secret("user set password %d %s %d" % (
                        uid, wanted["password"], 20 if len(wanted["password"]) > 16 else 16),
                        "set the password of %s (slot %d)" % (wanted["name"], uid))
                else:
                    do(step)

        # LAN.
        if params.get("lan") and any(v is not None for v in params["lan"].values()):
            before = _ipmi.parse_lan_print(tool.run(["lan", "print", chan])[1])
            steps = _ipmi.plan_lan(before, params["lan"], params["channel"])
            for step in steps:
                do(step)
            after = _ipmi.parse_lan_print(tool.run(["lan", "print", chan])[1]) if steps and not check else before
            result["lan"] = after
            if steps and not check and _ipmi.plan_lan(after, params["lan"], params["channel"]):
                fail("The BMC did not keep the LAN settings: lan print %s still differs in %s"
                     % (chan, ", ".join(" ".join(s[3:]) for s in
                                        _ipmi.plan_lan(after, params["lan"], params["channel"]))), "not_applied")

        # Fan mode (Supermicro OEM).
        if params.get("fan_mode"):
            mc = result["mc"]
            if not mc["supermicro"]:
                skipped.append("fan_mode: not a Supermicro BMC (manufacturer id %s, %s); the fan mode is "
                               "Supermicro's OEM command raw 0x30 0x45, not sent" % (
                                   mc["manufacturer_id"], mc["manufacturer_name"]))
                result["fan_mode"] = None
            else:
                try:
                    raw = _ipmi.parse_raw_bytes(tool.run(["raw", "0x30", "0x45", "0x00"])[1])
                except IpmiError as exc:
                    if exc.kind == "invalid_command":
                        exc.msg = ("This BMC reports Supermicro's manufacturer id (10876) but does not implement "
                                   "the fan-mode OEM command raw 0x30 0x45 (completion code 0xc1, invalid command); "
                                   "set the fan mode in its web interface or leave fan_mode unset.")
                    raise
                current = _ipmi.FAN_MODE_NAMES.get(raw[0]) if raw else None
                wanted = params["fan_mode"]
                if current != wanted:
                    do(["raw", "0x30", "0x45", "0x01", "0x%02x" % _ipmi.FAN_MODES[wanted]],
                       "fan mode %s -> %s (raw 0x30 0x45 0x01 0x%02x)" % (current, wanted, _ipmi.FAN_MODES[wanted]))
                result["fan_mode"] = wanted if check else (
                    _ipmi.FAN_MODE_NAMES.get((_ipmi.parse_raw_bytes(tool.run(["raw", "0x30", "0x45", "0x00"])[1])
                                              or [None])[0]) if current != wanted else current)

        # Next boot device.
        if params.get("boot_device"):
            device = _ipmi.BOOT_DEVICE_ALIASES.get(params["boot_device"], params["boot_device"])
            boot = _ipmi.parse_bootparam_5(tool.run(["chassis", "bootparam", "get", "5"])[1])
            if not _ipmi.boot_device_matches(boot, device, params["boot_persistent"], params["boot_efi"]):
                argv = ["chassis", "bootdev", device]
                opts = [o for o, on in (("persistent", params["boot_persistent"]), ("efiboot", params["boot_efi"])) if on]
                if opts:
                    argv.append("options=" + ",".join(opts))
                do(argv)
                if not check:
                    boot = _ipmi.parse_bootparam_5(tool.run(["chassis", "bootparam", "get", "5"])[1])
                    if boot.get("device") != device:
                        fail("The BMC did not keep the boot device: bootparam 5 reads %s after chassis bootdev %s"
                             % (boot.get("device"), device), "not_applied", boot=boot)
            result["boot"] = boot

        # Power.
        if params.get("power"):
            state = _ipmi.parse_power_status(tool.run(["chassis", "power", "status"])[1])
            target = "on" if params["power"] == "on" else "off"
            if state != target:
                do(["chassis", "power", params["power"]])
                if not check:
                    state = _ipmi.parse_power_status(tool.run(["chassis", "power", "status"])[1])
                    if state != target and params["power"] != "soft":
                        fail("Chassis power reads %s after chassis power %s" % (state, params["power"]),
                             "not_applied")
            result["power"] = state if not check else target

        # The login user's own password, last.
        if result["login"] == "default_password":
            if admin is None:
                fail("Logged in as %s with the default password but user list %s does not show that user; cannot "
                     "change its password." % (params["user"], chan), "failed")
            do_secret("user set password %d %s %d" % (
                admin["id"], params["password"], 20 if len(params["password"]) > 16 else 16),
                "replace the default password of %s (slot %d)" % (params["user"], admin["id"]))
            if not check:
                tool.password = params["password"]
                if not tool.can_login(params["user"], params["password"]):
                    fail("Changed the password of %s but the BMC refuses the new one." % params["user"],
                         "not_applied")
    except IpmiError as exc:
        failed_action = getattr(exc, "failed_action", None)
        finish(failed_action)
        if actions and not check:
            exc.msg += " Already done before this failure (changed): %s." % "; ".join(actions)
        tool.fail(exc, **result)

    module.exit_json(**finish())


if __name__ == "__main__":
    main()
