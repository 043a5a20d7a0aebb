"""The real module file, run as Ansible runs it, on daemon.json files in a temporary folder."""

import json
import os


USER = '{\n  "log-driver": "json-file",\n  "runtimes": {"runsc": {"path": "/usr/local/bin/runsc"}}\n}\n'
NVIDIA = {"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": []}}}


def test_merge_backup_and_idempotence(run_module, tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text(USER)
    first = run_module("docker_daemon_json", {"path": str(path), "settings": NVIDIA}, diff=True)
    assert first["changed"] is True
    assert set(json.loads(path.read_text())["runtimes"]) == {"runsc", "nvidia"}
    assert open(first["backup_file"]).read() == USER
    assert '"nvidia"' in first["diff"]["after"] and first["diff"]["before"] == USER
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    again = run_module("docker_daemon_json", {"path": str(path), "settings": NVIDIA})
    assert again["changed"] is False and "backup_file" not in again


def test_check_mode_writes_nothing(run_module, tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text(USER)
    result = run_module("docker_daemon_json", {"path": str(path), "settings": NVIDIA}, check_mode=True)
    assert result["changed"] is True and "nvidia" in result["config"]["runtimes"]
    assert path.read_text() == USER


def test_invalid_json_fails_and_leaves_the_file(run_module, tmp_path):
    path = tmp_path / "daemon.json"
    broken = '{"log-driver": "json-file",}\n'
    path.write_text(broken)
    result = run_module("docker_daemon_json", {"path": str(path), "settings": NVIDIA})
    assert result["failed"] is True
    assert "not valid JSON at line 1, column 28" in result["msg"]
    assert path.read_text() == broken
    assert os.listdir(tmp_path) == ["daemon.json"] or sorted(os.listdir(tmp_path)) == ["args.json", "daemon.json"]


def test_missing_file_and_folder_are_created(run_module, tmp_path):
    path = tmp_path / "etc-docker" / "daemon.json"
    result = run_module("docker_daemon_json", {"path": str(path), "settings": NVIDIA})
    assert result["changed"] is True and "backup_file" not in result
    assert json.loads(path.read_text()) == NVIDIA
