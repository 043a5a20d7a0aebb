"""Role task files run for real with ``ansible-playbook`` on localhost, against stand-ins that
replay REAL captures (tests/unit/standins, tests/unit/fixtures):

* nvidia_driver's secure_boot.yml, in check mode, with a mokutil stand-in: a host whose
  shim has validation disabled ("SecureBoot enabled" + "SecureBoot validation is disabled
  in shim") loads unsigned modules, so the role must not stop it, and must say why;
* bios_ipmi's oob.yml with the ipmitool stand-in: the IPMI connection comes from
  module_defaults (group/aiserver.gpu.ipmi), and a BMC that refuses `chassis power on`
  after `chassis bootdev pxe` fails the role with what was done (before: the role went on
  as if nothing had failed - failed_when: false resets the registered `failed`);
* bios_ipmi's redfish.yml with community.general.redfish_info against a local HTTPS
  server whose Bios resource is a REAL capture (fixtures/redfish): Supermicro X12's
  current settings (compared with the role's map), and the pending-settings object
  Bios/SD, which has no Attributes member. The service root, the Systems collection and
  the system that link to it are minimal hand-made documents (plumbing, not captures).

One inventory host per case; per-host outcomes are collected as in test_role_validation.py.
"""
import http.server
import json
import os
import re
import ssl
import subprocess
import sys
import threading

import pytest
import yaml

import captures
from captures import FIXTURES, NAMESPACE, ROOT

STANDINS = os.path.join(ROOT, "tests", "unit", "standins")
BMC_PASSWORD = "N3w-Admin-pw-x"

SECURE_BOOT = {
    # host: (capture, mokutil's exit status)
    "sb-enabled": (captures.MOKUTIL_ENABLED, 0),
    "sb-shim-validation-off": (captures.MOKUTIL_SHIM_VALIDATION_DISABLED, 0),
    "sb-disabled": (captures.MOKUTIL_DISABLED, 0),
    "sb-efi-not-supported": (captures.MOKUTIL_EFI_NOT_SUPPORTED, 255),
    "sb-mokutil-missing": (None, 0),
}

BMC = {
    # host: (extra role variables, stand-in replies)
    "bmc-power-refused-after-bootdev": ({"bios_ipmi_boot_device": "pxe", "bios_ipmi_power": "on"},
                                        {"chassis power on": captures.IPMI_POWER_ON_REFUSED}),
    "bmc-bootdev": ({"bios_ipmi_boot_device": "pxe"}, {}),
    "bmc-user-list-is-lan-print": ({"bios_ipmi_users": [{"name": "ops", "privilege": "operator"}]},
                                   {"user list 1": captures.IPMI_LAN_PRINT_SM_STATIC}),
}


REDFISH = {
    # host: the capture the system's Bios link leads to
    "redfish-x12": captures.REDFISH_BIOS_SUPERMICRO_X12,
    "redfish-bios-sd": captures.REDFISH_BIOS_SD_PENDING_SUPERMICRO,
}


def _redfish_server(work, capture):
    """An HTTPS Redfish service (self-signed) whose only system's Bios is ``capture``; its port."""
    with open(os.path.join(FIXTURES, "redfish", capture), "rb") as handle:
        bios = handle.read()
    bios_path = json.loads(bios.decode("utf-8")).get("@odata.id", "/redfish/v1/Systems/1/Bios")
    documents = {
        "/redfish/v1/": {"@odata.id": "/redfish/v1/", "Systems": {"@odata.id": "/redfish/v1/Systems"}},
        "/redfish/v1/Systems": {"@odata.id": "/redfish/v1/Systems", "Members": [{"@odata.id": "/redfish/v1/Systems/1"}]},
        "/redfish/v1/Systems/1": {"@odata.id": "/redfish/v1/Systems/1", "Id": "1", "Bios": {"@odata.id": bios_path}},
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            path = self.path.split("?")[0]
            body = bios if path.rstrip("/") == bios_path.rstrip("/") else (
                json.dumps(documents[path]).encode() if path in documents else None)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, *args):
            pass

    key, cert = str(work / "key.pem"), str(work / "cert.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """{host: {"outcome": "passed" | failure message, "secure_boot": fact or None}, "log": text}."""
    work = tmp_path_factory.mktemp("role-tasks")
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    bin_dir = work / "bin"
    bin_dir.mkdir()
    os.symlink(os.path.join(STANDINS, "mokutil-standin"), str(bin_dir / "mokutil"))
    inventory = {"all": {"hosts": {"collector": dict(local)}, "children": {
        "secure_boot": {"hosts": {}}, "bmc": {"hosts": {}}, "redfish": {"hosts": {}}}}}
    servers = []
    for host, capture in REDFISH.items():
        servers.append(_redfish_server(work, capture))
        inventory["all"]["children"]["redfish"]["hosts"][host] = dict(
            local, bios_ipmi_address="127.0.0.1", bios_ipmi_password="redfish-pw", bios_ipmi_redfish=True,
            bios_ipmi_redfish_address="127.0.0.1:%d" % servers[-1].server_address[1],
            bios_ipmi_redfish_vendor="supermicro", test_env={})
    for host, (capture, rc) in SECURE_BOOT.items():
        inventory["all"]["children"]["secure_boot"]["hosts"][host] = dict(
            local, test_env={"MOKUTIL_STANDIN_CAPTURE": os.path.join(FIXTURES, "mokutil", capture or "none"),
                             "MOKUTIL_STANDIN_RC": str(rc),
                             "PATH": (str(bin_dir) + os.pathsep if capture else "") + os.environ["PATH"]})
    for host, (variables, replies) in BMC.items():
        state = work / ("%s.json" % host)
        state.write_text(json.dumps({"accounts": {"ADMIN": BMC_PASSWORD}, "fixtures": os.path.join(FIXTURES, "ipmi"),
                                     "board": "sm", "sensor": "L_ipmisim_sensor_sm.txt", "replies": replies}))
        inventory["all"]["children"]["bmc"]["hosts"][host] = dict(
            local, bios_ipmi_address="127.0.0.1", bios_ipmi_password=BMC_PASSWORD,
            bios_ipmi_ipmitool=os.path.join(STANDINS, "ipmitool-standin"),
            test_env={"STANDIN_STATE": str(state), "STANDIN_LOG": str(work / ("%s.log" % host))}, **variables)

    def play(name, hosts, role, tasks_from, check_mode=False):
        return {
            "name": name, "hosts": hosts, "gather_facts": False, "check_mode": check_mode,
            "tasks": [{
                "name": "Run " + tasks_from, "environment": "{{ test_env }}",
                "block": [
                    {"ansible.builtin.include_role": {"name": "aiserver.gpu." + role, "tasks_from": tasks_from}},
                    {"ansible.builtin.set_fact": {"test_outcome": "passed"}},
                ],
                "rescue": [{"ansible.builtin.set_fact": {"test_outcome": "{{ ansible_failed_result.msg }}"}}],
            }],
        }

    plays = [
        play("secure boot", "secure_boot", "nvidia_driver", "secure_boot", check_mode=True),
        play("bmc", "bmc", "bios_ipmi", "oob"),
        play("redfish", "redfish", "bios_ipmi", "redfish"),
        {"name": "collect", "hosts": "collector", "gather_facts": False, "tasks": [{"ansible.builtin.copy": {
            "dest": str(work / "outcomes.json"), "mode": "0600",
            "content": "{{ dict(__hosts | zip(__hosts | map('extract', hostvars, 'test_outcome') | map('default', none)))"
                       " | combine({'__secure_boot__': dict(__hosts | zip(__hosts | map('extract', hostvars,"
                       " 'nvidia_driver_secure_boot_state') | map('default', none)))}) | to_json }}",
        }, "vars": {"__hosts": "{{ groups['all'] | difference(['collector']) }}"}}]},
    ]
    (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (work / "playbook.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=NAMESPACE, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_FORKS="10", ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_CALLBACK_FORMAT_PRETTY="false", ANSIBLE_DISPLAY_SKIPPED_HOSTS="false")
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([playbook if os.path.exists(playbook) else "ansible-playbook", "-i",
                           str(work / "inventory.yml"), str(work / "playbook.yml")],
                          cwd=str(work), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600,
                          check=False)
    for server in servers:
        server.shutdown()
    log = proc.stdout.decode("utf-8", "replace")
    assert (work / "outcomes.json").exists(), log[-6000:]
    data = json.loads((work / "outcomes.json").read_text())
    facts = data.pop("__secure_boot__")
    result = dict((host, {"outcome": outcome, "secure_boot": facts.get(host)}) for host, outcome in data.items())
    result["log"] = log
    result["calls"] = dict(
        (host, [json.loads(line)["argv"] for line in (work / ("%s.log" % host)).read_text().splitlines()])
        for host in BMC if (work / ("%s.log" % host)).exists())
    return result


def notes(log, host, task):
    """The msg of ``task``'s result for ``host`` (the json result format, one line each)."""
    found = []
    for section in log.split("\nTASK [")[1:]:
        if section.startswith("aiserver.gpu.") and (": " + task + "]") in section.split("\n", 1)[0]:
            for line in section.splitlines():
                match = re.match(r"^ok: \[%s\] => (\{.*\})$" % re.escape(host), line)
                if match:
                    found.append(json.loads(match.group(1)).get("msg"))
    return found


@pytest.mark.parametrize("host, state, enforcing, outcome", [
    ("sb-enabled", "enabled", True, "Secure Boot is enabled and enforced"),
    ("sb-shim-validation-off", "enabled", False, "passed"),
    ("sb-disabled", "disabled", False, "passed"),
    ("sb-efi-not-supported", "not_supported", None, "passed"),
    ("sb-mokutil-missing", "unknown", None, "passed"),
])
def test_secure_boot_stops_only_where_the_kernel_enforces(run, host, state, enforcing, outcome):
    assert run[host]["secure_boot"]["state"] == state
    assert run[host]["secure_boot"]["enforcing"] is enforcing
    assert run[host]["outcome"].startswith(outcome), run[host]["outcome"]


def test_shim_validation_off_is_said_in_a_note(run):
    """Before: the role stopped this host ("the kernel refuses the DKMS-built NVIDIA modules
    unless they are signed"); its kernel loads unsigned modules."""
    [note] = notes(run["log"], "sb-shim-validation-off", "Say what Secure Boot means here")
    assert "validation is disabled in shim" in note
    assert "SecureBoot enabled; SecureBoot validation is disabled in shim" in note
    assert "loads the unsigned DKMS-built NVIDIA modules, so the role does not stop" in note


def test_unknown_secure_boot_is_said_in_a_note(run):
    [note] = notes(run["log"], "sb-mokutil-missing", "Say what Secure Boot means here")
    assert note.startswith("Secure Boot state unknown (mokutil: not installed)")
    assert notes(run["log"], "sb-disabled", "Say what Secure Boot means here") == []


def test_bmc_connection_comes_from_module_defaults(run):
    """oob.yml's tasks name no host, user, password or port: group/aiserver.gpu.ipmi does."""
    assert run["bmc-bootdev"]["outcome"] == "passed"
    calls = run["calls"]["bmc-bootdev"]
    assert calls and all(c[:9] == ["-I", "lanplus", "-H", "127.0.0.1", "-p", "623", "-U", "ADMIN", "-E"] for c in calls)
    assert ["chassis", "bootdev", "pxe"] in [c[-3:] for c in calls]
    assert BMC_PASSWORD not in json.dumps(calls)


def test_bmc_failure_after_a_change_fails_the_role_saying_what_was_done(run):
    outcome = run["bmc-power-refused-after-bootdev"]["outcome"]
    assert outcome.startswith("BMC 127.0.0.1:623 of bmc-power-refused-after-bootdev: ipmitool chassis power on: "
                              "the BMC does not implement this command"), outcome
    assert "Already done before this failure (changed): chassis bootdev pxe." in outcome
    assert BMC_PASSWORD not in run["log"]


def test_bmc_user_list_of_another_command_fails_the_role(run):
    outcome = run["bmc-user-list-is-lan-print"]["outcome"]
    assert "this is not `ipmitool user list` output" in outcome
    assert "No free user slot" not in outcome


def test_redfish_bios_attributes_are_compared_with_the_role_map(run):
    outcome = run["redfish-x12"]["outcome"]
    assert outcome == ("BIOS of redfish-x12: Re_SizeBARSupport is Disabled, expected Enabled; "
                       "ACSControl is Enable, expected Disable."), outcome


def test_redfish_bios_without_attributes_is_said(run):
    """The system's Bios link leads to Supermicro's pending object Bios/SD, which has no
    Attributes member: redfish_info stops on it; the role says what the resource lacks
    instead of "MODULE FAILURE"."""
    outcome = run["redfish-bios-sd"]["outcome"]
    assert outcome.startswith("Could not read the BIOS attributes of redfish-bios-sd over Redfish"), outcome
    # ansible-core 2.19 keeps no traceback in the registered result (2.16 keeps KeyError in
    # module_stderr, which gets the shorter sentence).
    assert ("the Bios resource of the system has no Attributes member" in outcome
            or "a Bios resource without an Attributes member" in outcome), outcome
    assert "MODULE FAILURE" not in outcome and "unknown error" not in outcome
