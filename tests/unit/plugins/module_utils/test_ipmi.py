"""Tests for the pure ipmitool parsers and planners (plugins/module_utils/_ipmi.py), over REAL
captures: public Supermicro captures from the corpus (J_*) and ipmitool 1.8.19 run against
OpenIPMI's ipmi_sim with the molecule/bios_ipmi board (L_ipmisim_*); see each .source."""
import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils import _ipmi
from captures import fixture_path

LAN_SM_STATIC = "J_ipmitool-lan-print_supermicro-0cc47a-static_go-hal.txt"
MC_SM_X10 = "J_ipmitool-mc-info_supermicro-x10sri-fw3.19_smfc.txt"
SDR_SM_X10QBI = "J_ipmitool-sdr_supermicro-x10qbi-4socket_smfc.txt"
SENSOR_SM_X11 = "J_ipmitool-sensor_supermicro-X11DSC+-bmc3.77_6049P_trailing-spaces_mithro.txt"
USERS_SM = "J_ipmitool-user-list_supermicro_raw-tabs-header_unknown-0x00_pytest-fixture.txt"


def read(name):
    with open(fixture_path("ipmi", name), encoding="utf-8") as handle:
        return handle.read()


# ----------------------------------------------------------------------------- mc info

def test_mc_info_real_supermicro():
    mc = _ipmi.parse_mc_info(read(MC_SM_X10))
    assert mc["manufacturer_id"] == 10876
    assert mc["supermicro"] is True
    assert mc["manufacturer_name"] == "Super Micro Computer Inc."
    assert mc["product_id"] == 1579
    assert mc["product_name"] == "X10SRi"
    assert mc["firmware_revision"] == "3.19"
    assert mc["ipmi_version"] == "2.0"
    assert len(mc["additional_device_support"]) == 7
    assert mc["additional_device_support"][-1] == "Chassis Device"


@pytest.mark.parametrize("name, supermicro, manufacturer", [
    ("L_ipmisim_mc-info_sm.txt", True, 10876),
    ("L_ipmisim_mc-info_generic.txt", False, 4753),
])
def test_mc_info_ipmi_sim(name, supermicro, manufacturer):
    warnings = []
    mc = _ipmi.parse_mc_info(read(name), warnings.append)
    assert mc["supermicro"] is supermicro
    assert mc["manufacturer_id"] == manufacturer
    assert warnings == []


# ----------------------------------------------------------------------------- lan print

def test_lan_print_real_supermicro_static():
    warnings = []
    lan = _ipmi.parse_lan_print(read(LAN_SM_STATIC), warnings.append)
    assert lan["ip_source"] == "static"
    assert lan["ip_address"] == "10.248.36.246"
    assert lan["netmask"] == "255.255.252.0"
    assert lan["gateway"] == "10.248.36.1"
    assert lan["mac_address"] == "0c:c4:7a:ed:3e:27"
    assert lan["vlan_id"] is None
    assert lan["cipher_suites"] == [1, 2, 3, 6, 7, 8, 11, 12]
    assert lan["raw"]["Bad Password Threshold"] == "Not Available"
    assert warnings == []


def test_lan_print_ipmi_sim_fresh_and_changed():
    fresh = _ipmi.parse_lan_print(read("L_ipmisim_lan-print_fresh.txt"))
    assert (fresh["ip_source"], fresh["ip_address"], fresh["vlan_id"]) == ("dhcp", "0.0.0.0", None)
    changed = _ipmi.parse_lan_print(read("L_ipmisim_lan-print_static-vlan20.txt"))
    assert changed["ip_source"] == "static"
    assert changed["ip_address"] == "192.0.2.21"
    assert changed["netmask"] == "255.255.255.0"
    assert changed["gateway"] == "192.0.2.1"
    assert changed["vlan_id"] == 20


def test_plan_lan_from_fresh_then_nothing():
    wanted = {"ip_source": "static", "ip_address": "192.0.2.21", "netmask": "255.255.255.0",
              "gateway": "192.0.2.1", "vlan_id": 20}
    fresh = _ipmi.parse_lan_print(read("L_ipmisim_lan-print_fresh.txt"))
    assert _ipmi.plan_lan(fresh, wanted, 1) == [
        ["lan", "set", "1", "ipsrc", "static"],
        ["lan", "set", "1", "ipaddr", "192.0.2.21"],
        ["lan", "set", "1", "netmask", "255.255.255.0"],
        ["lan", "set", "1", "defgw", "ipaddr", "192.0.2.1"],
        ["lan", "set", "1", "vlan", "id", "20"],
    ]
    done = _ipmi.parse_lan_print(read("L_ipmisim_lan-print_static-vlan20.txt"))
    assert _ipmi.plan_lan(done, wanted, 1) == []


def test_plan_lan_vlan_off_and_dhcp():
    done = _ipmi.parse_lan_print(read("L_ipmisim_lan-print_static-vlan20.txt"))
    assert _ipmi.plan_lan(done, {"vlan_id": 0}, 1) == [["lan", "set", "1", "vlan", "id", "off"]]
    assert _ipmi.plan_lan(done, {"ip_source": "dhcp"}, 1) == [["lan", "set", "1", "ipsrc", "dhcp"]]
    real = _ipmi.parse_lan_print(read(LAN_SM_STATIC))
    assert _ipmi.plan_lan(real, {"vlan_id": 0}, 1) == []  # already disabled


# ----------------------------------------------------------------------------- users

def test_user_list_real_supermicro_tabs():
    warnings = []
    users = _ipmi.parse_user_list(read(USERS_SM), warnings.append)
    assert warnings == []
    assert [u["id"] for u in users] == list(range(1, 11))
    admin = users[1]
    assert (admin["name"], admin["privilege"], admin["ipmi_msg"], admin["callin"]) == \
        ("ADMIN", "administrator", True, False)
    assert users[3]["name"] == "test_guy"
    assert users[4]["name"] == "" and users[4]["privilege"] == "unknown"
    assert users[4]["privilege_raw"] == "Unknown (0x00)"


def test_user_list_ipmi_sim():
    fresh = _ipmi.parse_user_list(read("L_ipmisim_user-list_fresh.txt"))
    assert len(fresh) == 63
    assert [u["name"] for u in fresh if u["name"]] == ["ADMIN"]
    ops = _ipmi.parse_user_list(read("L_ipmisim_user-list_ops-operator.txt"))[2]
    assert (ops["id"], ops["name"], ops["privilege"], ops["link_auth"], ops["ipmi_msg"]) == \
        (3, "ops", "operator", True, True)


def test_plan_user_new_then_nothing():
    fresh = _ipmi.parse_user_list(read("L_ipmisim_user-list_fresh.txt"))
    wanted = {"name": "ops", "id": 3, "channel": 1, "privilege": "operator", "password": "x"}
    plan = _ipmi.plan_user(None, wanted, None)
    assert plan == [["user", "set", "name", "3", "ops"], ("password", 3), ["user", "enable", "3"],
                    ["channel", "setaccess", "1", "3", "link=on", "ipmi=on", "callin=on", "privilege=3"]]
    assert all("x" not in step for step in plan if isinstance(step, list))
    ops = _ipmi.parse_user_list(read("L_ipmisim_user-list_ops-operator.txt"))[2]
    assert _ipmi.plan_user(ops, wanted, login_ok=True) == []
    assert _ipmi.plan_user(ops, wanted, login_ok=False) == [("password", 3), ["user", "enable", "3"]]
    assert fresh[2]["name"] == ""


def test_plan_user_privilege_change():
    ops = _ipmi.parse_user_list(read("L_ipmisim_user-list_ops-operator.txt"))[2]
    wanted = {"name": "ops", "id": 3, "channel": 1, "privilege": "administrator", "password": None}
    assert _ipmi.plan_user(ops, wanted, None) == [
        ["channel", "setaccess", "1", "3", "link=on", "ipmi=on", "callin=on", "privilege=4"]]


# ----------------------------------------------------------------------------- sensors

def test_sensor_real_x11_all_ok():
    warnings = []
    sensors = _ipmi.parse_sensor(read(SENSOR_SM_X11), warnings.append)
    assert warnings == []
    assert len(sensors) == 70
    cpu1 = sensors[0]
    assert (cpu1["name"], cpu1["value"], cpu1["unit"], cpu1["status"]) == ("CPU1 Temp", 75.0, "degrees C", "ok")
    assert (cpu1["unc"], cpu1["ucr"], cpu1["unr"], cpu1["lnc"]) == (93.0, 98.0, 98.0, 5.0)
    na = [s for s in sensors if s["status"] == "na"]
    assert len(na) == 16 and all(s["value"] is None for s in na)
    hdd = sensors[-1]
    assert hdd["discrete"] and hdd["value"] is None and hdd["status"] == "0x0100"
    assert _ipmi.sensor_findings(sensors) == []


def test_sensor_real_x11_own_limit_is_critical():
    sensors = _ipmi.parse_sensor(read(SENSOR_SM_X11))
    findings = _ipmi.sensor_findings(sensors, {"CPU1 Temp": {"max": 70}})
    assert len(findings) == 1
    assert findings[0]["level"] == "critical"
    assert findings[0]["msg"] == "CPU1 Temp reads 75 degrees C, at or above its configured maximum threshold of 70 degrees C"
    assert _ipmi.sensor_findings(sensors, {"CPU1 Temp": {"max": 70}}, ignore=["CPU1 Temp"]) == []


def test_sensor_ipmi_sim_hot_is_critical_with_value_and_threshold():
    ok = _ipmi.parse_sensor(read("L_ipmisim_sensor_sm.txt"))
    assert [s["name"] for s in ok] == ["CPU1 Temp", "System Temp", "FAN1", "PS1 Status"]
    assert ok[2]["value"] == 3500.0 and ok[2]["lcr"] == 500.0
    assert _ipmi.sensor_findings(ok) == []
    hot = _ipmi.parse_sensor(read("L_ipmisim_sensor_hot.txt"))
    findings = _ipmi.sensor_findings(hot)
    assert findings == [{
        "sensor": "System Temp", "value": 87.0, "unit": "degrees C", "level": "critical", "threshold": "ucr",
        "threshold_value": 85.0,
        "msg": "System Temp reads 87 degrees C, at or above its upper critical threshold of 85 degrees C"}]


def test_sensor_warning_below_fan_threshold():
    sensors = _ipmi.parse_sensor(read("L_ipmisim_sensor_sm.txt"))
    fan = dict(sensors[2], value=600.0)
    [finding] = _ipmi.sensor_findings([fan])
    assert finding["level"] == "warning" and finding["threshold"] == "lnc"
    assert "FAN1 reads 600 RPM, at or below its lower non-critical threshold of 700 RPM" == finding["msg"]


def test_sensor_status_only_counts_without_thresholds():
    finding = _ipmi.sensor_findings([{"name": "PSU", "value": None, "value_raw": "0x0", "status": "cr"}])
    assert finding[0]["level"] == "critical" and "status cr" in finding[0]["msg"]


def test_sdr_real_x10qbi():
    warnings = []
    sdr = _ipmi.parse_sdr(read(SDR_SM_X10QBI), warnings.append)
    assert warnings == [] and len(sdr) == 50
    assert sdr[0] == {"name": "CPU1 Temp", "value": 33.0, "unit": "degrees C", "value_raw": "33 degrees C", "status": "ok"}
    assert sum(1 for s in sdr if s["status"] == "ns") == 19
    assert [s for s in sdr if s["name"] == "12V"][0]["value"] == 12.0
    chassis = [s for s in sdr if s["name"] == "Chassis Intru"][0]
    assert chassis["value"] is None and chassis["value_raw"] == "0x01"


def test_sdr_ipmi_sim():
    sdr = _ipmi.parse_sdr(read("L_ipmisim_sdr_sm.txt"))
    assert [s["name"] for s in sdr] == ["CPU1 Temp", "System Temp", "FAN1", "PS1 Status"]


def test_unparsable_lines_warn_not_raise():
    warnings = []
    assert _ipmi.parse_sensor("garbage\n", warnings.append) == []
    header = "ID  Name\t     Callin  Link Auth\tIPMI Msg   Channel Priv Limit\n"
    assert _ipmi.parse_user_list(header + "not a row\n", warnings.append) == []
    assert len(warnings) == 2


@pytest.mark.parametrize("name, starts", [
    (LAN_SM_STATIC, "Set in Progress"),
    (MC_SM_X10, "Device ID"),
    (SENSOR_SM_X11, "CPU1 Temp"),
    ("L_ipmisim_power_off.txt", "Chassis Power is off"),
])
def test_user_list_refuses_another_commands_output(name, starts):
    """Another command's real output is not an empty user list: it is named as such."""
    with pytest.raises(_ipmi.NotThisOutput) as caught:
        _ipmi.parse_user_list(read(name))
    assert caught.value.kind == "unexpected_output"
    assert caught.value.msg.startswith("this is not `ipmitool user list` output: it has no "
                                       "'ID  Name  Callin  Link Auth  IPMI Msg  Channel Priv Limit' header line")
    assert "it starts with '%s" % starts in caught.value.msg


@pytest.mark.parametrize("text", ["", None, "\n\n", "ID  Name\n"])
def test_user_list_empty_or_partial_header_is_not_a_user_list(text):
    with pytest.raises(_ipmi.NotThisOutput) as caught:
        _ipmi.parse_user_list(text)
    assert "not `ipmitool user list` output" in str(caught.value)


# ----------------------------------------------------------------------------- chassis

def test_bootparam_fresh_and_pxe():
    fresh = _ipmi.parse_bootparam_5(read("L_ipmisim_bootparam5_fresh.txt"))
    assert (fresh["device"], fresh["valid"], fresh["data"]) == ("disk", False, "0008000000")
    pxe = _ipmi.parse_bootparam_5(read("L_ipmisim_bootparam5_pxe.txt"))
    assert pxe["device"] == "pxe" and pxe["selector"] == "Force PXE"
    assert _ipmi.boot_device_matches(pxe, "pxe") is True
    # ipmi_sim keeps no flags: persistent is compared only when the BMC says the flags are valid.
    assert _ipmi.boot_device_matches(pxe, "pxe", persistent=True) is True
    assert _ipmi.boot_device_matches(dict(pxe, valid=True), "pxe", persistent=True) is False
    assert _ipmi.boot_device_matches(fresh, "pxe") is False
    assert _ipmi.boot_device_matches(dict(fresh, device="floppy"), "usb") is True


def test_power_status():
    assert _ipmi.parse_power_status(read("L_ipmisim_power_off.txt")) == "off"
    assert _ipmi.parse_power_status("Chassis Power is on\n") == "on"
    assert _ipmi.parse_power_status("") is None


# ----------------------------------------------------------------------------- failures

@pytest.mark.parametrize("name, kind", [
    ("L_ipmisim_wrong-password_v.err", "auth_failed"),
    ("L_ipmisim_unknown-user_v.err", "unknown_user"),
    ("L_ipmisim_unreachable_v.err", "unreachable"),
    ("L_ipmisim_raw-fan_sm.err", "invalid_command"),
])
def test_classify_failure(name, kind):
    assert _ipmi.classify_failure(1, "", read(name))[0] == kind


def test_raw_bytes():
    assert _ipmi.parse_raw_bytes(" 01\n") == [1]
    assert _ipmi.parse_raw_bytes("") == []
    assert _ipmi.FAN_MODE_NAMES[_ipmi.parse_raw_bytes(" 04")[0]] == "heavy_io"
