"""The ipmi_info and ipmi_bmc modules run as Ansible runs them, against an ipmitool stand-in
(tests/unit/standins/ipmitool-standin) that replays REAL ipmitool output captured from
OpenIPMI's ipmi_sim and logs every call. The tests prove what each module reads, what it
would change, and that no password ever reaches an ipmitool command line or a result."""
import json
import os

import pytest

import captures
from captures import FIXTURES

STANDIN = os.path.join(os.path.dirname(__file__), "..", "..", "standins", "ipmitool-standin")
NEW = "N3w-Admin-pw-x"
FACTORY = "KXPQZTRBWM"
OPS = "0ps-Pa55-word"


@pytest.fixture
def bmc(tmp_path):
    state = tmp_path / "state.json"
    log = tmp_path / "calls.jsonl"

    def setup(accounts, board="sm", sensor="L_ipmisim_sensor_sm.txt", replies=None, hang=None):
        state.write_text(json.dumps({"accounts": accounts, "fixtures": os.path.join(FIXTURES, "ipmi"),
                                     "board": board, "sensor": sensor, "replies": replies or {},
                                     "hang": hang or {}}))
        return {"STANDIN_STATE": str(state), "STANDIN_LOG": str(log)}

    def calls():
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    setup.calls = calls
    return setup


def base(**extra):
    args = {"host": "127.0.0.1", "port": 9001, "executable": os.path.abspath(STANDIN), "cipher_suite": 3}
    args.update(extra)
    return args


def no_secret_anywhere(result, calls, secrets):
    text = json.dumps(result)
    for secret in secrets:
        assert secret not in text
        for call in calls:
            assert secret not in " ".join(call["argv"])


def test_info_reads_and_judges_everything(run_module, bmc):
    env = bmc({"ADMIN": NEW})
    result = run_module("ipmi_info", base(password=NEW), env=env)
    assert result["changed"] is False
    assert result["mc"]["supermicro"] is True
    assert result["lan"]["ip_source"] == "dhcp"
    assert [u["name"] for u in result["users"] if u["name"]] == ["ADMIN"]
    assert [s["name"] for s in result["sensors"]] == ["CPU1 Temp", "System Temp", "FAN1", "PS1 Status"]
    assert result["sensor_findings"] == []
    assert result["power"] == "off"
    assert result["boot"]["device"] == "disk"
    calls = bmc.calls()
    assert all(c["env_password"] == NEW for c in calls)
    assert all("-E" in c["argv"] and "-P" not in c["argv"] for c in calls)
    no_secret_anywhere(result, calls, [NEW])


def test_info_hot_sensor_is_a_finding_not_a_failure(run_module, bmc):
    env = bmc({"ADMIN": NEW}, sensor="L_ipmisim_sensor_hot.txt")
    result = run_module("ipmi_info", base(password=NEW, gather=["sensors"]), env=env)
    assert [f["msg"] for f in result["sensor_findings"]] == [
        "System Temp reads 87 degrees C, at or above its upper critical threshold of 85 degrees C"]


def test_info_wrong_password_is_named(run_module, bmc):
    env = bmc({"ADMIN": NEW})
    result = run_module("ipmi_info", base(password="Wrong-pw-123"), env=env)
    assert result["failed"] and result["error_kind"] == "auth_failed"
    assert "RAKP 2 HMAC invalid" in result["msg"]
    no_secret_anywhere(result, bmc.calls(), ["Wrong-pw-123"])


def test_info_missing_ipmitool_names_the_install_command(run_module, bmc):
    env = bmc({"ADMIN": NEW})
    result = run_module("ipmi_info", base(password=NEW, executable="/nonexistent/ipmitool"), env=env)
    assert result["error_kind"] == "not_installed"
    assert "apt-get install ipmitool" in result["msg"] and "dnf install ipmitool" in result["msg"]


def test_bmc_check_mode_plans_without_changing(run_module, bmc):
    env = bmc({"ADMIN": FACTORY})
    args = base(password=NEW, default_password=FACTORY,
                users=[{"name": "ops", "password": OPS, "privilege": "operator"}],
                lan={"ip_source": "static", "ip_address": "192.0.2.21", "netmask": "255.255.255.0",
                     "gateway": "192.0.2.1", "vlan_id": 20},
                boot_device="pxe", power="on")
    result = run_module("ipmi_bmc", args, check_mode=True, env=env)
    assert result["changed"] is True
    assert result["login"] == "default_password"
    assert result["actions"] == [
        "create user ops in slot 3", "user set name 3 ops", "set the password of ops (slot 3)", "user enable 3",
        "channel setaccess 1 3 link=on ipmi=on callin=on privilege=3",
        "lan set 1 ipsrc static", "lan set 1 ipaddr 192.0.2.21", "lan set 1 netmask 255.255.255.0",
        "lan set 1 defgw ipaddr 192.0.2.1", "lan set 1 vlan id 20",
        "chassis bootdev pxe", "chassis power on", "replace the default password of ADMIN (slot 2)"]
    calls = bmc.calls()
    changing = [c for c in calls if c["argv"][-3:-1] != ["mc", "guid"] and
                any(w in c["argv"] for w in ("set", "setaccess", "enable", "bootdev", "exec"))]
    assert changing == []
    no_secret_anywhere(result, calls, [NEW, FACTORY, OPS])


def test_bmc_replaces_the_factory_password_through_a_command_file(run_module, bmc):
    env = bmc({"ADMIN": FACTORY})
    result = run_module("ipmi_bmc", base(password=NEW, default_password=FACTORY,
                                         users=[{"name": "ops", "password": OPS}]), env=env)
    assert result["changed"] is True and result["login"] == "default_password"
    calls = bmc.calls()
    execs = [c for c in calls if "exec" in c["argv"]]
    assert [c["exec_lines"] for c in execs] == [["user set password 3 %s 16" % OPS],
                                                ["user set password 2 %s 16" % NEW]]
    assert {c["exec_mode"] for c in execs} == {"0o600"}
    # The command files are gone.
    assert not any(os.path.exists(c["argv"][-1]) for c in execs)
    # The last login proves the new password.
    assert calls[-1]["env_password"] == NEW and calls[-1]["argv"][-2:] == ["mc", "guid"]
    no_secret_anywhere(result, calls, [NEW, FACTORY, OPS])


def test_bmc_second_run_changes_nothing(run_module, bmc):
    env = bmc({"ADMIN": NEW, "ops": OPS})
    # Already converged: the new password works, no users or LAN asked.
    result = run_module("ipmi_bmc", base(password=NEW, default_password=FACTORY), check_mode=True, env=env)
    assert result["changed"] is False and result["actions"] == [] and result["login"] == "password"


def test_bmc_both_passwords_refused(run_module, bmc):
    env = bmc({"ADMIN": "Something-else-1"})
    result = run_module("ipmi_bmc", base(password=NEW, default_password=FACTORY), env=env)
    assert result["error_kind"] == "auth_failed"
    assert "neither the password nor the default password" in result["msg"]
    no_secret_anywhere(result, bmc.calls(), [NEW, FACTORY, "Something-else-1"])


def test_bmc_fan_mode_skipped_on_other_vendors(run_module, bmc):
    env = bmc({"ADMIN": NEW}, board="generic")
    result = run_module("ipmi_bmc", base(password=NEW, fan_mode="full"), env=env)
    assert result["changed"] is False and result["fan_mode"] is None
    assert result["skipped_parts"][0].startswith("fan_mode: not a Supermicro BMC (manufacturer id 4753")
    assert not any("raw" in c["argv"] for c in bmc.calls())


def test_bmc_fan_mode_on_a_board_without_the_oem_command(run_module, bmc):
    env = bmc({"ADMIN": NEW}, board="sm")
    result = run_module("ipmi_bmc", base(password=NEW, fan_mode="full"), env=env)
    assert result["error_kind"] == "invalid_command"
    assert "raw 0x30 0x45" in result["msg"]


@pytest.mark.parametrize("args, words", [
    ({"users": [{"name": "ops", "password": "has space"}]}, "space, quote"),
    ({"users": [{"name": "ops", "password": "x" * 21}]}, "longer than 20 bytes"),
    ({"users": [{"name": "ADMIN", "password": "abc"}]}, "the login user"),
    ({"lan": {"vlan_id": 5000}}, "outside 0-4094"),
    ({"lan": {"ip_address": "10.0.0.300"}}, "not an IPv4 address"),
    ({"lan": {"ip_source": "dhcp", "ip_address": "10.0.0.3"}}, "leave ip_address"),
])
def test_bmc_bad_options_fail_before_any_call(run_module, bmc, args, words):
    env = bmc({"ADMIN": NEW})
    result = run_module("ipmi_bmc", base(password=NEW, **args), env=env)
    assert result["error_kind"] == "invalid_request" and words in result["msg"]
    assert bmc.calls() == []


# ----------------------------------------------------------------------------- issue 12

POWER_ON_REFUSED = captures.IPMI_POWER_ON_REFUSED
LAN_PRINT_SM = captures.IPMI_LAN_PRINT_SM_STATIC
MC_INFO_SM = captures.IPMI_MC_INFO_SM_X10


def test_bmc_failure_after_a_change_is_changed_and_says_what_was_done(run_module, bmc):
    """`chassis bootdev pxe` is done, then the BMC refuses `chassis power on` (a real
    refusal, openbmc issue 1236): the boot device did change, so changed=true, and the
    result tells what was done from what failed."""
    env = bmc({"ADMIN": NEW}, replies={"chassis power on": POWER_ON_REFUSED})
    result = run_module("ipmi_bmc", base(password=NEW, boot_device="pxe", power="on"), env=env)
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["actions"] == ["chassis bootdev pxe"]
    assert result["failed_action"] == "chassis power on"
    assert result["not_done"] == ["chassis power on"]
    assert result["error_kind"] == "invalid_command"
    assert "Already done before this failure (changed): chassis bootdev pxe." in result["msg"]
    assert "Set Chassis Power Control to Up/On failed: Invalid command" in result["stderr"]
    bootdevs = [c["argv"][-3:] for c in bmc.calls() if "bootdev" in c["argv"]]
    assert bootdevs == [["chassis", "bootdev", "pxe"]]


def test_bmc_failure_before_any_change_is_not_changed(run_module, bmc):
    env = bmc({"ADMIN": NEW}, replies={"chassis power on": POWER_ON_REFUSED})
    result = run_module("ipmi_bmc", base(password=NEW, power="on"), env=env)
    assert result["failed"] is True and result["changed"] is False
    assert result["actions"] == [] and result["failed_action"] == "chassis power on"
    assert "Already done" not in result["msg"]


def test_bmc_failed_user_creation_keeps_the_slot_sentence_out_of_actions(run_module, bmc):
    """'create user ops in slot 3' describes `user set name 3 ops`: when that command fails,
    the sentence is among what was not done, not among the actions."""
    env = bmc({"ADMIN": NEW}, replies={"user set name 3 ops": POWER_ON_REFUSED})
    result = run_module("ipmi_bmc", base(password=NEW, users=[{"name": "ops", "password": OPS}]), env=env)
    assert result["failed"] is True and result["changed"] is False
    assert result["actions"] == []
    assert result["not_done"] == ["create user ops in slot 3", "user set name 3 ops"]
    no_secret_anywhere(result, bmc.calls(), [NEW, OPS])


@pytest.mark.parametrize("capture, starts", [
    (LAN_PRINT_SM, "Set in Progress"),
    (MC_INFO_SM, "Device ID"),
    ("L_ipmisim_power_off.txt", "Chassis Power is off"),
])
def test_bmc_another_commands_output_as_user_list_is_named(run_module, bmc, capture, starts):
    """Before: `lan print` text where `user list` was expected read as a list with no
    slot, and the module answered "No free user slot". Now it says what the text is not."""
    env = bmc({"ADMIN": NEW}, replies={"user list 1": capture})
    result = run_module("ipmi_bmc", base(password=NEW, users=[{"name": "ops", "password": OPS}]), env=env)
    assert result["failed"] is True and result["changed"] is False
    assert result["error_kind"] == "unexpected_output"
    assert "this is not `ipmitool user list` output" in result["msg"]
    assert "ID  Name  Callin  Link Auth  IPMI Msg  Channel Priv Limit" in result["msg"]
    assert "it starts with '%s" % starts in result["msg"]
    assert "No free user slot" not in result["msg"]
    assert not any("set" in c["argv"] for c in bmc.calls())


def test_info_another_commands_output_as_user_list_is_named(run_module, bmc):
    env = bmc({"ADMIN": NEW}, replies={"user list 1": LAN_PRINT_SM})
    result = run_module("ipmi_info", base(password=NEW, gather=["mc", "users"]), env=env)
    assert result["error_kind"] == "unexpected_output"
    assert "this is not `ipmitool user list` output" in result["msg"]
    assert result["mc"]["supermicro"] is True


def _alive(pid):
    """Whether ``pid`` is a live process (a zombie waiting for its parent counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            data = handle.read()
    except OSError:
        return False
    return data[data.rfind(")") + 2:].split()[0] != "Z"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_info_timeout_kills_children_that_left_the_process_group(run_module, bmc, tmp_path):
    """The stand-in starts `setsid sleep 300` and a child that calls os.setsid(), then
    hangs. Both left ipmitool's process group and session; neither may outlive the timeout."""
    pidfile = tmp_path / "children.json"
    env = bmc({"ADMIN": NEW}, hang={"mc info": str(pidfile)})
    result = run_module("ipmi_info", base(password=NEW, gather=["mc"], timeout=3), env=env)
    assert result["failed"] is True and result["error_kind"] == "timeout"
    assert "did not finish in 3 s and was killed" in result["msg"]
    pids = json.loads(pidfile.read_text())
    assert len(pids) == 2
    survivors = [pid for pid in pids if _alive(pid)]
    assert survivors == [], "children of the stand-in outlived the timeout: %s" % survivors
