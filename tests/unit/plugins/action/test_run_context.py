"""aiserver.gpu.run_context, run for real with ansible-playbook on localhost.

Its reason to exist: ``ansible_check_mode`` is false under a task-level check mode
(include_role with ``apply: {check_mode: true}``, the way molecule/site_reboot_vm and the
role tests run a role in check mode) while every module there runs in check mode. The
test proves both halves on the installed ansible-core: run_context says true where
ansible_check_mode says false, and false in a real run; and ``container`` asks the host.
"""
import json
import os
import subprocess
import sys

import yaml

from captures import NAMESPACE, ROOT


def _run(tmp_path, plays, *args):
    (tmp_path / "playbook.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    (tmp_path / "inventory.ini").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n"
                                            % sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=NAMESPACE, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_ROLES_PATH=str(tmp_path / "roles"))
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([playbook if os.path.exists(playbook) else "ansible-playbook", "-i",
                           str(tmp_path / "inventory.ini"), str(tmp_path / "playbook.yml")] + list(args),
                          cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=300, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def _probe_role(tmp_path, out_name):
    """A role whose one task records run_context's answers and ansible_check_mode."""
    tasks = tmp_path / "roles" / "probe" / "tasks"
    tasks.mkdir(parents=True, exist_ok=True)
    out = tmp_path / out_name
    (tasks / "main.yml").write_text(yaml.safe_dump([
        {"name": "Ask", "aiserver.gpu.run_context": {"container": True}, "register": "ctx"},
        # copy would not write in check mode: the record is written by a task run for real.
        {"name": "Record", "check_mode": False, "ansible.builtin.copy": {
            "dest": str(out), "mode": "0600",
            "content": "{{ {'check_mode': ctx.check_mode, 'diff_mode': ctx.diff_mode, 'container': ctx.container,"
                       " 'is_container': ctx.is_container, 'ansible_check_mode': ansible_check_mode} | to_json }}"}},
    ]))
    return out


def test_task_level_check_mode_is_seen_where_ansible_check_mode_is_not(tmp_path):
    out = _probe_role(tmp_path, "applied.json")
    plays = [{"name": "apply", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"ansible.builtin.include_role": {"name": "probe", "apply": {"check_mode": True}}}]}]
    rc, log = _run(tmp_path, plays)
    assert rc == 0, log[-4000:]
    got = json.loads(out.read_text())
    assert got["check_mode"] is True, got
    # The reason run_context exists (if ansible-core ever fixes this, the roles may go back
    # to ansible_check_mode: this line then fails and says so).
    assert got["ansible_check_mode"] is False, got


def test_play_check_and_diff_and_a_real_run(tmp_path):
    out = _probe_role(tmp_path, "cli.json")
    plays = [{"name": "plain", "hosts": "localhost", "gather_facts": False, "roles": ["probe"]}]
    rc, log = _run(tmp_path, plays, "--check", "--diff")
    assert rc == 0, log[-4000:]
    got = json.loads(out.read_text())
    assert got["check_mode"] is True and got["diff_mode"] is True and got["ansible_check_mode"] is True, got
    rc, log = _run(tmp_path, plays)
    assert rc == 0, log[-4000:]
    got = json.loads(out.read_text())
    assert got["check_mode"] is False and got["diff_mode"] is False, got


def test_container_answer_is_systemd_detect_virt(tmp_path):
    out = _probe_role(tmp_path, "virt.json")
    rc, log = _run(tmp_path, [{"name": "plain", "hosts": "localhost", "gather_facts": False, "roles": ["probe"]}])
    assert rc == 0, log[-4000:]
    got = json.loads(out.read_text())
    proc = subprocess.run("systemd-detect-virt --container 2>/dev/null || true", shell=True,
                          stdout=subprocess.PIPE, check=False)
    expected = proc.stdout.decode().strip() or "none"
    assert got["container"] == expected, got
    assert got["is_container"] is (expected != "none"), got


def test_unknown_option_is_refused_with_a_sentence(tmp_path):
    plays = [{"name": "bad", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"aiserver.gpu.run_context": {"contaner": True}}]}]
    rc, log = _run(tmp_path, plays)
    assert rc != 0
    assert "run_context takes only the option container, not contaner." in log, log[-3000:]
    assert "Traceback" not in log
