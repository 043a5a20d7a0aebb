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


BAD_FILES = [
    ("duplicate-key", '{\n  "log-driver": "json-file",\n  "log-driver": "journald"\n}\n',
     ['"log-driver" twice', "lines 2, 3", '"json-file", then "journald"', "last one"]),
    ("duplicate-nested-key", '{"runtimes": {"nvidia": {"path": "a"}, "nvidia": {"path": "b"}}}\n',
     ['"nvidia" twice']),
    ("nan", '{\n  "max-concurrent-downloads": NaN\n}\n', ["not valid JSON at line 2", "NaN is not a JSON value"]),
    ("infinity", '{"max-concurrent-downloads": -Infinity}\n', ["-Infinity is not a JSON value"]),
    ("runtimes-string", '{"runtimes": "nvidia"}\n', ['runtimes is "nvidia" in the file, not an object']),
    ("runtime-string", '{"runtimes": {"nvidia": "nvidia-container-runtime"}}\n',
     ['runtimes.nvidia is "nvidia-container-runtime" in the file, not an object']),
    ("deep", "[" * 100000 + "]" * 100000, ["nested too deep"]),
    ("deep-object", '{"a": ' * 50000 + "1" + "}" * 50000, ["nested too deep"]),
]


def test_bad_files_fail_named_untouched_and_leave_no_backup(run_module, tmp_path):
    """Before: accepted silently (duplicates, NaN), a traceback (deep nesting), or a
    failure that still left a backup file behind."""
    for case, text, words in BAD_FILES:
        folder = tmp_path / case
        folder.mkdir()
        path = folder / "daemon.json"
        path.write_text(text)
        result = run_module("docker_daemon_json", {"path": str(path), "settings": NVIDIA, "backup": True})
        assert result["failed"] is True, case
        for word in words:
            assert word in result["msg"], (case, word, result["msg"])
        assert "left unchanged" in result["msg"], case
        assert path.read_text() == text, case
        assert os.listdir(str(folder)) == ["daemon.json"], (case, os.listdir(str(folder)))
