"""Every role refuses out-of-range values before any change (issue 12 item 7).

meta/argument_specs.yml refuses wrong types and choices; ranges, formats and the insides of
dicts and lists are checked by each role's validation step (tasks/validate.yml, the
first thing its main.yml includes; gpu_validation's is validate_vars.yml, its validate.yml
being the GPU validation itself). These tests run the REAL task files with
``ansible-playbook`` on localhost: one inventory host per case, carrying the case's
variables over the role's defaults, one play per role that includes the file through
``include_role: tasks_from`` and records, per host, "passed" or the message of the failure
(block/rescue, as molecule/*/verify.yml does its negative cases); a last play writes every
host's record in one file. One ansible-playbook run covers every case; each test then reads
its host's record.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

from captures import NAMESPACE, ROOT

# (role, validation task file)
FILES = {
    "bios_ipmi": "validate", "conda_fastchan": "validate", "cuda": "validate", "docker_gpu": "validate",
    "gpu_facts": "validate", "gpu_validation": "validate_vars", "kernel_tuning": "validate",
    "nvidia_driver": "validate", "power_limit": "validate", "reboot": "validate",
}

SHA_OK = "848194851a98903134187fbb4ab50efe87b003e0c0f808f97644b7524a62bf2c"

# (id, role, variables, words the failure must contain). The words name the variable and
# the allowed range.
NEGATIVE = [
    # bios_ipmi
    ("bmc-privilege-god", "bios_ipmi", {"bios_ipmi_users": [{"name": "ops", "privilege": "god"}]},
     ["bios_ipmi_users[].privilege must be one of user, operator, administrator, not god"]),
    ("bmc-port-0", "bios_ipmi", {"bios_ipmi_port": 0}, ["bios_ipmi_port must be a UDP port from 1 to 65535", "not 0"]),
    ("bmc-timeout-negative", "bios_ipmi", {"bios_ipmi_timeout": -5}, ["bios_ipmi_timeout", "at least 1", "not -5"]),
    ("bmc-channel-16", "bios_ipmi", {"bios_ipmi_channel": 16}, ["bios_ipmi_channel must be a LAN channel from 1 to 11"]),
    ("bmc-cipher-99", "bios_ipmi", {"bios_ipmi_cipher_suite": 99}, ["bios_ipmi_cipher_suite", "from 0 to 17", "not 99"]),
    ("bmc-user-without-name", "bios_ipmi", {"bios_ipmi_users": [{"password": "x"}]},
     ["every bios_ipmi_users entry needs a name", "(no name)"]),
    ("bmc-user-name-too-long", "bios_ipmi", {"bios_ipmi_users": [{"name": "a" * 17}]}, ["1 to 16 letters"]),
    ("bmc-vlan-5000", "bios_ipmi", {"bios_ipmi_lan": {"vlan_id": 5000}}, ["bios_ipmi_lan.vlan_id", "1 to 4094", "not 5000"]),
    ("bmc-lan-unknown-key", "bios_ipmi", {"bios_ipmi_lan": {"ipaddr": "10.0.0.2"}}, ["bios_ipmi_lan takes the keys", "unknown: ipaddr"]),
    ("bmc-lan-source", "bios_ipmi", {"bios_ipmi_lan": {"ip_source": "bootp"}}, ["bios_ipmi_lan.ip_source must be static or dhcp, not bootp"]),
    ("bmc-sensor-limit-key", "bios_ipmi", {"bios_ipmi_sensor_limits": {"CPU1 Temp": {"maximum": 85}}},
     ["bios_ipmi_sensor_limits", "wrong: maximum"]),
    ("bmc-sensor-limit-value", "bios_ipmi", {"bios_ipmi_sensor_limits": {"CPU1 Temp": {"max": "hot"}}},
     ["bios_ipmi_sensor_limits", "wrong: max"]),
    ("bmc-power", "bios_ipmi", {"bios_ipmi_power": "cycle"}, ["bios_ipmi_power must be on, off, soft or null, not cycle"]),
    ("bmc-boot", "bios_ipmi", {"bios_ipmi_boot_device": "nvme"}, ["bios_ipmi_boot_device must be", "not nvme"]),
    ("bmc-fan", "bios_ipmi", {"bios_ipmi_fan_mode": "turbo"}, ["bios_ipmi_fan_mode must be", "not turbo"]),
    ("bmc-redfish-vendor", "bios_ipmi", {"bios_ipmi_redfish_vendor": "hpe"},
     ["bios_ipmi_redfish_vendor must be null (from mc info) or one of supermicro, dell, not hpe"]),
    # conda_fastchan
    ("conda-sha256-short", "conda_fastchan", {"conda_fastchan_installer_sha256": "abc123"},
     ["conda_fastchan_installer_sha256 must be the installer's SHA-256, 64 hex digits", "is 6 characters"]),
    ("conda-sha256-not-hex", "conda_fastchan", {"conda_fastchan_installer_sha256": "z" * 64}, ["64 hex digits"]),
    ("conda-table-sha256", "conda_fastchan",
     {"conda_fastchan_installers": {"miniforge": {"version": "26.3.2-3", "x86_64": {
         "url": "https://example.org/Miniforge3.sh", "sha256": "1234"}}}},
     ["conda_fastchan_installers needs", "sha256 of 64 hex digits", "wrong for: https://example.org/Miniforge3.sh"]),
    ("conda-table-version", "conda_fastchan",
     {"conda_fastchan_installers": {"miniforge": {"version": "26 3", "x86_64": {"url": "https://e.org/m.sh", "sha256": SHA_OK}}}},
     ["conda_fastchan_installers needs a version", "malformed: miniforge"]),
    ("conda-download-timeout-0", "conda_fastchan", {"conda_fastchan_download_timeout": 0},
     ["conda_fastchan_download_timeout", "at least 1", "not 0"]),
    ("conda-env-timeout-negative", "conda_fastchan", {"conda_fastchan_env_timeout": -1},
     ["conda_fastchan_env_timeout", "at least 1", "not -1"]),
    ("conda-url", "conda_fastchan", {"conda_fastchan_installer_url": "ftp://mirror/x.sh"},
     ["conda_fastchan_installer_url must be an https://, http:// or file:// URL"]),
    ("conda-version", "conda_fastchan", {"conda_fastchan_installer_version": "latest please"},
     ["conda_fastchan_installer_version must look like 26.3.2-3"]),
    ("conda-prefix", "conda_fastchan", {"conda_fastchan_prefix": "opt/conda"}, ["conda_fastchan_prefix must be an absolute path"]),
    ("conda-shell", "conda_fastchan", {"conda_fastchan_init_shells": ["bash", "csh"]},
     ["conda_fastchan_init_shells takes bash, zsh, fish, tcsh, xonsh, powershell; unknown: csh"]),
    ("conda-channels-empty", "conda_fastchan", {"conda_fastchan_channels": []}, ["conda_fastchan_channels must list at least one"]),
    ("conda-env-name", "conda_fastchan", {"conda_fastchan_envs": [{"name": "my env", "packages": ["python"]}]},
     ["every conda_fastchan_envs entry needs a name", "my env"]),
    # cuda
    ("cuda-version-twelve", "cuda", {"cuda_version": "twelve"},
     ["cuda_version must be a CUDA release as major.minor, such as 11.8 or 12.4", "not 'twelve'"]),
    ("cuda-version-three-parts", "cuda", {"cuda_version": "12.4.1"}, ["cuda_version must be", "not '12.4.1'"]),
    ("cuda-extra-package", "cuda", {"cuda_extra_packages": ["cuda-nsight; rm -rf /"]},
     ["cuda_extra_packages must be Debian package names", "cuda-nsight; rm -rf /"]),
    # docker_gpu
    ("docker-toolkit-version", "docker_gpu", {"docker_gpu_toolkit_version": "latest"},
     ["docker_gpu_toolkit_version must be a package version", "not 'latest'"]),
    ("docker-repo-url", "docker_gpu", {"docker_gpu_docker_ce_repo_url": "download.docker.com/linux"},
     ["docker_gpu_docker_ce_repo_url, docker_gpu_toolkit_key_url and docker_gpu_toolkit_repo_url must be http(s) URLs"]),
    ("docker-user", "docker_gpu", {"docker_gpu_users": ["ok_user", "bad user"]},
     ["docker_gpu_users must be user names", "not one: bad user"]),
    ("docker-cdi-spec", "docker_gpu", {"docker_gpu_cdi_spec": "/etc/cdi/nvidia.txt"},
     ["docker_gpu_cdi_spec must be an absolute path ending in .yaml or .json"]),
    ("docker-packages-empty", "docker_gpu", {"docker_gpu_toolkit_packages": []}, ["must not be empty"]),
    ("docker-image", "docker_gpu", {"docker_gpu_verify_image": "nvidia/cuda 11.8"}, ["docker_gpu_verify_image must be an image reference"]),
    # gpu_facts
    ("facts-timeout-0", "gpu_facts", {"gpu_facts_timeout": 0}, ["gpu_facts_timeout", "at least 1", "not 0"]),
    ("facts-driver-branch-word", "gpu_facts", {"gpu_facts_driver_branch": "latest"},
     ["gpu_facts_driver_branch must be null or a driver branch of three digits", "not latest"]),
    # gpu_validation
    ("gv-drift-threshold-10", "gpu_validation", {"gpu_validation_drift_threshold": 10},
     ["gpu_validation_drift_threshold must be a share above 0 and below 1", "not 10"]),
    ("gv-expected-count-0", "gpu_validation", {"gpu_validation_expected_gpu_count": 0},
     ["gpu_validation_expected_gpu_count must be null (every NVIDIA GPU on the PCI bus) or a whole number", "not 0"]),
    ("gv-kernel-log-since-empty", "gpu_validation", {"gpu_validation_kernel_log_since": " "},
     ["gpu_validation_kernel_log_since must be boot or a time journalctl --since takes"]),
    ("validation-min-share-5", "gpu_validation", {"gpu_validation_min_share": 5},
     ["gpu_validation_min_share must be a share of the link's limit above 0 and at most 1", "not 5"]),
    ("validation-min-share-0", "gpu_validation", {"gpu_validation_min_share": 0}, ["gpu_validation_min_share", "not 0"]),
    ("validation-timeout", "gpu_validation", {"gpu_validation_timeout": -1}, ["gpu_validation_timeout", "at least 1", "not -1"]),
    ("validation-nccl-tests-name", "gpu_validation", {"gpu_validation_nccl_tests": ["allreduce"]},
     ["gpu_validation_nccl_tests must name nccl-tests binaries", "not one: allreduce"]),
    ("validation-nccl-tests-empty", "gpu_validation", {"gpu_validation_nccl_tests": []}, ["must name at least one nccl-tests binary"]),
    ("validation-nccl-version", "gpu_validation", {"gpu_validation_nccl_tests_version": "v2.18.3 --force"},
     ["gpu_validation_nccl_tests_version must be a release tag"]),
    ("validation-nccl-branch", "gpu_validation", {"gpu_validation_nccl_tests_version": "master"},
     ["gpu_validation_nccl_tests_version must be a release tag", "not 'master'", "moving target"]),
    ("validation-known-bad-severity", "gpu_validation",
     {"gpu_validation_known_bad_extra": [{"driver_branch": "550", "severity": "fatal", "reason": "x"}]},
     ["gpu_validation_known_bad_extra[].severity must be one of fail, warn, info, not fatal"]),
    ("validation-known-bad-branch", "gpu_validation",
     {"gpu_validation_known_bad_extra": [{"driver_branch": ["550", "5xx"], "severity": "warn"}]},
     ["driver_branch must be driver branches of three digits", "not 5xx"]),
    ("validation-known-bad-field", "gpu_validation",
     {"gpu_validation_known_bad_extra": [{"driver": "550", "severity": "warn"}]},
     ["gpu_validation_known_bad_extra entries take the fields", "unknown: driver"]),
    ("validation-known-bad-p2p", "gpu_validation",
     {"gpu_validation_known_bad_extra": [{"p2p_status": ["NS", "broken"]}]}, ["p2p_status takes nvidia-smi topo -p2p words", "not broken"]),
    ("validation-build-dir", "gpu_validation", {"gpu_validation_build_dir": "validation"}, ["must be absolute paths"]),
    # kernel_tuning
    ("kernel-reboot-timeout-negative", "kernel_tuning", {"kernel_tuning_reboot_timeout": -1},
     ["kernel_tuning_reboot_timeout must be a whole number of seconds of at least 1", "not -1"]),
    ("kernel-grub-path", "kernel_tuning", {"kernel_tuning_grub_path": "etc/default/grub"}, ["kernel_tuning_grub_path must be an absolute path"]),
    # nvidia_driver
    ("driver-reboot-timeout-negative", "nvidia_driver", {"nvidia_driver_reboot_timeout": -30},
     ["nvidia_driver_reboot_timeout must be a whole number of seconds of at least 1", "not -30"]),
    ("driver-branch", "nvidia_driver", {"nvidia_driver_branch": "latest"}, ["nvidia_driver_branch must be a driver branch of three digits", "'latest'"]),
    ("driver-refuse-branches", "nvidia_driver", {"nvidia_driver_refuse_branches": ["545", "5x5"]},
     ["nvidia_driver_refuse_branches must list driver branches of three digits", "not one: 5x5"]),
    ("driver-eol-today", "nvidia_driver", {"nvidia_driver_eol_today": "01/07/2026"},
     ["nvidia_driver_eol_today must be null (the controller's date) or a day written YYYY-MM-DD", "not '01/07/2026'"]),
    ("driver-source", "nvidia_driver", {"nvidia_driver_source": "ppa"}, ["nvidia_driver_source must be debian, ubuntu", "not 'ppa'"]),
    ("driver-gpu-count-0", "nvidia_driver", {"nvidia_driver_expected_gpu_count": 0},
     ["nvidia_driver_expected_gpu_count must be null", "at least 1, not 0"]),
    # power_limit
    ("power-w-negative", "power_limit", {"power_limit_w": -100},
     ["power_limit_w must be a power limit in watts above 0", "not -100"]),
    ("power-by-gpu-zero", "power_limit", {"power_limit_by_gpu": {"0": 250, "1": 0}},
     ["power_limit_by_gpu maps a GPU index or product name to watts above 0; wrong: 1: 0"]),
    ("power-by-gpu-negative-name", "power_limit", {"power_limit_by_gpu": {"NVIDIA GeForce RTX 4090": -5}},
     ["power_limit_by_gpu", "wrong: NVIDIA GeForce RTX 4090: -5"]),
    ("power-product-defaults", "power_limit", {"power_limit_product_defaults": {"NVIDIA GeForce RTX 3090": -300}},
     ["power_limit_product_defaults maps a product name to watts above 0; wrong: NVIDIA GeForce RTX 3090: -300"]),
    ("power-timeout-0", "power_limit", {"power_limit_timeout": 0},
     ["power_limit_timeout must be a whole number of seconds of at least 1, not 0"]),
    ("power-boot-retries-0", "power_limit", {"power_limit_boot_retries": 0}, ["power_limit_boot_retries", "at least 1"]),
    ("power-boot-delay-negative", "power_limit", {"power_limit_boot_retry_delay": -2}, ["power_limit_boot_retry_delay", "0 or more"]),
    # reboot
    ("reboot-timeout-0", "reboot", {"reboot_timeout": 0}, ["reboot_timeout must be a whole number of seconds of at least 1, not 0"]),
    ("reboot-needs-string", "reboot", {"reboot_needs": "kernel_tuning_reboot_required"},
     ["reboot_needs must be a list of {fact: NAME, why: SENTENCE}"]),
    ("reboot-needs-no-why", "reboot", {"reboot_needs": [{"fact": "my_reboot_required"}]}, ["reboot_needs must be a list of"]),
    ("reboot-needs-role-only", "reboot", {"reboot_needs": [{"fact": "x_required", "why": "x", "role": "me.x"}]},
     ["role needs tasks_from too"]),
    ("reboot-only-unknown", "reboot", {"reboot_only": ["cuda_reboot_required"]},
     ["reboot_only names facts that are not in reboot_needs: cuda_reboot_required"]),
    ("reboot-ok-word", "reboot", {"reboot_ok": "sometimes"}, ["reboot_ok must be true or false, not sometimes"]),
]

# Variables that pass (besides each role's defaults): edge values inside the ranges.
POSITIVE = [
    ("power-ok", "power_limit", {"power_limit_w": 300, "power_limit_by_gpu": {"0": "250", "NVIDIA A100": 275.5}}),
    ("share-1", "gpu_validation", {"gpu_validation_min_share": 1, "gpu_validation_expected_gpu_count": 8,
                                   "gpu_validation_kernel_log_since": "-24h"}),
    ("cuda-12-4", "cuda", {"cuda_version": "12.4", "cuda_extra_packages": ["cuda-nsight-systems-12-4=12.4.1-1"]}),
    ("bmc-ok", "bios_ipmi", {"bios_ipmi_users": [{"name": "ops", "privilege": "operator"}], "bios_ipmi_cipher_suite": 17,
                             "bios_ipmi_lan": {"ip_source": "static", "vlan_id": 0},
                             "bios_ipmi_sensor_limits": {"CPU1 Temp": {"max": 85, "warn_max": 80.5}}}),
    ("conda-ok", "conda_fastchan", {"conda_fastchan_installer_sha256": SHA_OK.upper(),
                                    "conda_fastchan_installer_url": "file:///srv/Miniforge3.sh"}),
    ("facts-branch-int", "gpu_facts", {"gpu_facts_driver_branch": 535}),
    ("driver-ok", "nvidia_driver", {"nvidia_driver_branch": 535, "nvidia_driver_expected_gpu_count": 8,
                                    "nvidia_driver_eol_today": "2026-07-01"}),
    ("reboot-ok", "reboot", {"reboot_ok": True, "reboot_only": ["nvidia_driver_reboot_required"],
                             "reboot_needs": [{"fact": "nvidia_driver_reboot_required", "why": "driver"},
                                              {"fact": "mine_reboot_required", "why": "mine", "role": "me.mine", "tasks_from": "v.yml"}]}),
]


def _hosts():
    hosts = {}
    for role in FILES:
        hosts["defaults-%s" % role] = (role, {})
    for case_id, role, variables, _words in NEGATIVE:
        hosts[case_id] = (role, variables)
    for case_id, role, variables in POSITIVE:
        hosts[case_id] = (role, variables)
    return hosts


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Run every case in one ansible-playbook; {host: "passed" | failure message}."""
    work = tmp_path_factory.mktemp("role-validation")
    out = work / "out"
    out.mkdir()
    hosts = _hosts()
    inventory = {"all": {"children": {}}}
    for host, (role, variables) in hosts.items():
        group = inventory["all"]["children"].setdefault("role_" + role, {"hosts": {}})
        group["hosts"][host] = dict(variables, ansible_connection="local", ansible_python_interpreter=sys.executable)
    inventory["all"]["hosts"] = {"collector": {"ansible_connection": "local",
                                               "ansible_python_interpreter": sys.executable}}
    plays = []
    for role, tasks_from in FILES.items():
        plays.append({
            "name": "validate " + role, "hosts": "role_" + role, "gather_facts": False,
            "tasks": [{
                "name": "Run the validation of " + role,
                "block": [
                    {"ansible.builtin.include_role": {"name": "aiserver.gpu." + role, "tasks_from": tasks_from}},
                    {"ansible.builtin.set_fact": {"test_outcome": "passed"}},
                ],
                "rescue": [
                    {"ansible.builtin.set_fact": {"test_outcome": "{{ ansible_failed_result.msg }}"}},
                ],
            }],
        })
    # One write for every host (a module run per host would cost a second each).
    plays.append({
        "name": "collect", "hosts": "collector", "gather_facts": False,
        "tasks": [{"ansible.builtin.copy": {
            "dest": str(out / "outcomes.json"), "mode": "0600",
            "content": "{{ dict(groups['all'] | difference(['collector']) | zip(groups['all'] | difference(['collector'])"
                       " | map('extract', hostvars, 'test_outcome') | map('default', none))) | to_json }}"}}],
    })
    (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (work / "playbook.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=NAMESPACE, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_FORKS="20", ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([playbook if os.path.exists(playbook) else "ansible-playbook", "-i",
                           str(work / "inventory.yml"), str(work / "playbook.yml")],
                          cwd=str(work), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600,
                          check=False)
    log = proc.stdout.decode("utf-8", "replace")
    assert (out / "outcomes.json").exists(), log[-6000:]
    found = dict((host, text) for host, text in json.loads((out / "outcomes.json").read_text()).items() if text)
    missing = sorted(set(hosts) - set(found))
    assert not missing, "no outcome for %s:\n%s" % (missing, log[-6000:])
    return found


@pytest.mark.parametrize("role", sorted(FILES))
def test_defaults_pass(outcomes, role):
    assert outcomes["defaults-" + role] == "passed"


@pytest.mark.parametrize("case_id, role, variables", POSITIVE, ids=[c[0] for c in POSITIVE])
def test_values_in_range_pass(outcomes, case_id, role, variables):
    assert outcomes[case_id] == "passed", (role, variables)


@pytest.mark.parametrize("case_id, role, variables, words", NEGATIVE, ids=[c[0] for c in NEGATIVE])
def test_out_of_range_is_refused_naming_the_variable(outcomes, case_id, role, variables, words):
    msg = outcomes[case_id]
    assert msg != "passed", "%s passed the validation of %s" % (json.dumps(variables), role)
    assert msg.startswith("Invalid %s variables for %s" % (role, case_id)), msg
    for word in words:
        assert word in msg, msg


@pytest.mark.parametrize("role", sorted(FILES))
def test_the_validation_comes_first(role):
    """The validation is the first thing main.yml includes (before gpu_facts, before any
    change)."""
    with open(os.path.join(ROOT, "roles", role, "tasks", "main.yml")) as handle:
        tasks = yaml.safe_load(handle)
    first = tasks[0]
    included = first.get("ansible.builtin.include_tasks") or first.get("ansible.builtin.import_tasks")
    assert included == FILES[role] + ".yml", first
