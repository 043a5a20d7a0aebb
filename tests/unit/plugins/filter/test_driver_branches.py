"""The driver branch table (module_utils/_driver_branches.py) and its filters (filter/driver_branches.py).

The table is the one place the collection keeps driver branch facts: each has its source; the
nvidia_driver role reads it for the end-of-life note (tasks/lifecycle.yml) and the refusal of a
refused branch, the gpu_validation judge for its driver branch x GPU known-bad entries.
"""
import datetime
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.aiserver.gpu.plugins.filter.driver_branches import (
    FilterModule,
    driver_branch_info,
    driver_branch_known_bad,
)
from ansible_collections.aiserver.gpu.plugins.filter.gpu_validation import gpu_validation_judge
from ansible_collections.aiserver.gpu.plugins.module_utils import _driver_branches as table
from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import parse_query_xml

from captures import FIXTURES, NAMESPACE, ROOT

TODAY = "2026-12-04"
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def _load(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# --- the table is well-formed ---------------------------------------------------------------

@pytest.mark.parametrize("branch", sorted(table.BRANCHES))
def test_every_branch_has_a_kind_a_source_and_iso_dates(branch):
    facts = table.BRANCHES[branch]
    assert table.branch_of(branch) == branch
    assert facts["kind"] in table.KINDS
    assert facts["source"].startswith("https://")
    assert set(facts) <= {"kind", "eol", "eol_text", "ended", "source", "note"}
    if "eol" in facts:
        day = datetime.date.fromisoformat(facts["eol"])
        assert day.day == 1, "eol is the first day of NVIDIA's month"
        assert facts["eol_text"] == "%s %d" % (MONTHS[day.month - 1], day.year)
    else:
        assert "eol_text" not in facts


def test_known_bad_entries_have_sources_and_known_branches():
    keys = set(table.JUDGE_FIELDS) | {"gpus", "source"}
    for entry in table.KNOWN_BAD:
        assert set(entry) <= keys and entry["source"].startswith("https://")
        assert entry["driver_branch"] and all(branch in table.BRANCHES for branch in entry["driver_branch"])
        assert entry["severity"] in ("fail", "warn", "info") and entry["reason"] and entry["ref"]
    assert len(set(entry["id"] for entry in table.KNOWN_BAD)) == len(table.KNOWN_BAD)


@pytest.mark.parametrize("release", sorted(table.RELEASES))
def test_every_release_recommends_a_known_branch_with_sources(release):
    facts = table.RELEASES[release]
    assert facts["recommended"] in table.BRANCHES
    assert facts["recommended"] in facts["distribution_branches"]
    assert facts["source"] in ("debian", "ubuntu", "nvidia")
    assert facts["sources"] and all(url.startswith("https://") for url in facts["sources"])


def test_gpu_validation_keeps_no_driver_branch_entry_of_its_own():
    """The 545 fact lives in the table only: known_bad.yml keeps what is no driver branch fact."""
    local = _load("roles", "gpu_validation", "vars", "known_bad.yml")["__gpu_validation_known_bad"]
    assert [entry for entry in local if "driver_branch" in entry] == []


def test_nvidia_driver_refuses_branches_the_table_knows_bad():
    defaults = _load("roles", "nvidia_driver", "defaults", "main.yml")
    for branch in defaults["nvidia_driver_refuse_branches"]:
        assert driver_branch_known_bad(branch), "%s is refused by default but not known bad" % branch


# --- the filter's answers for a fixed day ---------------------------------------------------

def test_535_is_past_its_end_of_life_on_debian_12_and_still_the_branch_there():
    info = driver_branch_info("535", TODAY, "Debian", "12")
    assert info["known"] and info["kind"] == "LTSB" and info["eol"] == "2026-06-01"
    assert info["past_eol"] is True and info["warn"] is True
    assert info["days_left"] == -186
    assert info["known_bad"] == []
    assert info["recommended"]["branch"] == "535" and info["release"] == "Debian 12 (bookworm)"
    sentence = info["sentence"]
    assert "reached its end of life on 2026-06-01 (NVIDIA: June 2026, 186 days before 2026-12-04)" in sentence
    assert table.NVIDIA_MATRIX_615 in sentence
    assert "still the branch to choose on Debian 12" in sentence


@pytest.mark.parametrize("version", ["22.04", "24.04", "24"])
def test_535_on_ubuntu_says_choose_580(version):
    info = driver_branch_info("535.261.03", TODAY, "Ubuntu", version)
    assert info["branch"] == "535" and info["past_eol"] is True
    assert info["recommended"]["branch"] == "580" and info["recommended"]["source"] == "ubuntu"
    assert "choose 580" in info["sentence"] and "June 2028" in info["sentence"]


def test_580_is_supported_with_the_days_left():
    info = driver_branch_info("580", TODAY, "Ubuntu", "24.04")
    assert info["past_eol"] is False and info["warn"] is False
    assert info["days_left"] == (datetime.date(2028, 6, 1) - datetime.date(2026, 12, 4)).days
    assert info["sentence"].startswith("Driver branch 580, a Long Term Support Branch (LTSB), is supported until 2028-06-01")
    assert "It is still the branch to choose on Ubuntu 24.04 (noble)" in info["sentence"]


@pytest.mark.parametrize("day, past", [("2026-05-31", False), ("2026-06-01", True), ("2026-06-02", True)])
def test_the_end_of_life_starts_on_its_day(day, past):
    info = driver_branch_info("535", day)
    assert info["past_eol"] is past and info["days_left"] == (datetime.date(2026, 6, 1) - datetime.date.fromisoformat(day)).days
    assert info["recommended"] is None


def test_a_branch_ended_without_a_date_is_past_its_end_of_life():
    info = driver_branch_info("565", TODAY)
    assert info["past_eol"] is True and info["eol"] is None and info["days_left"] is None
    assert "at a date NVIDIA no longer gives" in info["sentence"]


def test_545_is_a_new_feature_branch_known_bad_on_ga102_ad102_geforce():
    info = driver_branch_info("545", TODAY, "Ubuntu", "22.04")
    assert info["kind"] == "NFB" and info["past_eol"] is False and info["warn"] is True
    assert [entry["id"] for entry in info["known_bad"]] == ["driver-545-ga102-ad102-geforce"]
    assert "New Feature Branch" in info["sentence"] and "RTX 3080, 3090, 3090 Ti, 4080, 4090" in info["sentence"]
    assert "NVIDIA/nccl-tests issue 117" in info["sentence"] and "choose 580" in info["sentence"]


@pytest.mark.parametrize("branch", ["999", "abc", "", None, 5.35])
def test_an_unknown_branch_says_so_and_never_raises(branch):
    info = driver_branch_info(branch, TODAY, "Ubuntu", "24.04")
    assert info["known"] is False and info["warn"] is True and info["past_eol"] is None
    assert "not in the collection's driver branch table" in info["sentence"] and "choose 580" in info["sentence"]
    json.dumps(info)


def test_a_day_that_is_no_date_leaves_the_end_of_life_unknown():
    info = driver_branch_info("535", "tomorrow")
    assert info["past_eol"] is None and info["days_left"] is None and info["warn"] is True


def test_without_a_day_the_controllers_date_is_used():
    info = driver_branch_info("535")
    assert info["days_left"] == (datetime.date(2026, 6, 1) - datetime.date.today()).days


def test_known_bad_filter_and_registration():
    assert FilterModule().filters() == {"driver_branch_info": driver_branch_info,
                                        "driver_branch_known_bad": driver_branch_known_bad}
    assert [entry["id"] for entry in driver_branch_known_bad()] == [entry["id"] for entry in table.KNOWN_BAD]
    assert [entry["id"] for entry in driver_branch_known_bad("525")] == ["early-ada-driver-rtx4090-p2p"]
    assert driver_branch_known_bad("535") == [] and driver_branch_known_bad("x") == []
    entry = driver_branch_known_bad("545")[0]
    assert set(entry) <= set(table.JUDGE_FIELDS) and "source" not in entry
    entry["driver_branch"].append("999")  # a copy: the table is not changed
    assert table.KNOWN_BAD[0]["driver_branch"] == ["545"]


# --- gpu_validation reads the same table ----------------------------------------------------

def _rtx3090_box(driver):
    with open(os.path.join(FIXTURES, "nvidia_smi", "A_rtx-3090_525.xml"), encoding="utf-8") as handle:
        smi = parse_query_xml(handle.read())
    first = smi["gpus"][0]
    smi["gpus"] = [dict(first, index=i, minor_number=i, pci_bus_id="0000:%02x:00.0" % (i + 1)) for i in range(2)]
    smi["gpu_count"] = smi["attached_gpus"] = 2
    smi["topology"] = smi["p2p"] = None
    smi["driver_version"] = driver
    return {"smi": smi}


def test_gpu_validation_flags_545_on_a_3090_from_the_table():
    known = dict((f["id"], f) for f in gpu_validation_judge(_rtx3090_box("545.29.06"), known_bad=[])["findings"])["known_bad"]
    assert known["status"] == "fail"
    assert "NVIDIA GeForce RTX 3090 on driver 545.29.06: NCCL hangs" in known["detail"]
    assert "NVIDIA/nccl-tests issue 117" in known["detail"]


def test_gpu_validation_passes_535_on_a_3090_and_counts_the_table():
    known = dict((f["id"], f) for f in gpu_validation_judge(_rtx3090_box("535.261.03"))["findings"])["known_bad"]
    assert known["status"] == "pass"
    assert "(%d in the table)" % len(table.KNOWN_BAD) in known["detail"]


def test_an_entry_with_a_table_id_replaces_it():
    mine = [{"id": "driver-545-ga102-ad102-geforce", "driver_branch": "545", "severity": "warn", "reason": "a site rule"}]
    known = dict((f["id"], f) for f in gpu_validation_judge(_rtx3090_box("545.29.06"), known_bad=mine)["findings"])["known_bad"]
    assert known["status"] == "warn" and "a site rule" in known["detail"] and "NCCL hangs" not in known["detail"]


# --- the role's tasks: the note, in check mode ----------------------------------------------

def _run_lifecycle(tmp_path, hostvars):
    hosts = dict(("h%d" % i, dict(v, ansible_connection="local", ansible_python_interpreter=sys.executable))
                 for i, v in enumerate(hostvars))
    inventory = {"all": {"hosts": hosts}}
    play = [{"hosts": "all", "gather_facts": False, "tasks": [
        {"ansible.builtin.include_role": {"name": "aiserver.gpu.nvidia_driver", "tasks_from": "lifecycle"},
         "vars": {"ansible_facts": "{{ test_facts }}"}},
        {"ansible.builtin.set_fact": {"test_note": "{{ __nvidia_driver_lifecycle | default({}) }}"}},
    ]}, {"hosts": "all", "gather_facts": False, "tasks": [{
        "ansible.builtin.copy": {"dest": str(tmp_path / "{{ inventory_hostname }}.json"), "mode": "0600",
                                 "content": "{{ test_note | to_json }}"},
        "check_mode": False}]}]
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "playbook.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=NAMESPACE, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([playbook if os.path.exists(playbook) else "ansible-playbook", "--check", "-i",
                           str(tmp_path / "inventory.yml"), str(tmp_path / "playbook.yml")],
                          cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=300, check=False)
    log = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, log[-4000:]
    return log, [json.loads((tmp_path / ("h%d.json" % i)).read_text()) for i in range(len(hostvars))]


def test_lifecycle_tasks_say_the_date_in_check_mode(tmp_path):
    facts = {"test_facts": {"distribution": "Ubuntu", "distribution_version": "24.04"}}
    log, (old, new, quiet) = _run_lifecycle(tmp_path, [
        dict(facts, nvidia_driver_branch="535", nvidia_driver_eol_today=TODAY),
        dict(facts, nvidia_driver_branch="580", nvidia_driver_eol_today=TODAY),
        dict(facts, nvidia_driver_branch="535", nvidia_driver_eol_warn=False),
    ])
    assert old["past_eol"] is True and new["past_eol"] is False and quiet == {}
    assert 'nvidia_driver_branch "535" on h0: Driver branch 535' in log
    assert "reached its end of life on 2026-06-01" in old["sentence"] and "choose 580" in old["sentence"]
    assert 'nvidia_driver_branch "580" on h1' not in log
    assert "skipping: [h1]" in log and "skipping: [h2]" in log
