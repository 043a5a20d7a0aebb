"""The real condarc module file, run as Ansible runs it, on .condarc files in a temporary folder."""

import os

import yaml

USER = "channels:\n  - conda-forge\n  - bioconda\nenvs_dirs:\n  - /data/conda/envs\n"
ARGS = {"channels": ["fastchan", "conda-forge"],
        "settings": {"channel_priority": "strict", "solver": "libmamba", "auto_activate_base": False}}


def test_merge_backup_mode_and_idempotence(run_module, tmp_path):
    path = tmp_path / ".condarc"
    path.write_text(USER)
    first = run_module("condarc", dict(ARGS, path=str(path)), diff=True)
    assert first["changed"] is True
    data = yaml.safe_load(path.read_text())
    assert data["channels"] == ["fastchan", "conda-forge", "bioconda"]
    assert data["envs_dirs"] == ["/data/conda/envs"] and data["auto_activate_base"] is False
    assert open(first["backup_file"]).read() == USER
    assert first["diff"]["before"] == USER and "fastchan" in first["diff"]["after"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    again = run_module("condarc", dict(ARGS, path=str(path)))
    assert again["changed"] is False and "backup_file" not in again


def test_check_mode_writes_nothing(run_module, tmp_path):
    path = tmp_path / ".condarc"
    path.write_text(USER)
    result = run_module("condarc", dict(ARGS, path=str(path)), check_mode=True, diff=True)
    assert result["changed"] is True and result["config"]["channels"][0] == "fastchan"
    assert path.read_text() == USER
    assert sorted(os.listdir(tmp_path)) == [".condarc", "args.json"]


def test_invalid_yaml_fails_and_leaves_the_file(run_module, tmp_path):
    path = tmp_path / ".condarc"
    broken = "channels:\n  - conda-forge\n - bioconda\n"
    path.write_text(broken)
    result = run_module("condarc", dict(ARGS, path=str(path)))
    assert result["failed"] is True
    assert "is not valid YAML at line 3, column 2" in result["msg"]
    assert path.read_text() == broken
    assert sorted(os.listdir(tmp_path)) == [".condarc", "args.json"]


def test_missing_file_and_folder_are_created(run_module, tmp_path):
    path = tmp_path / "opt-conda" / ".condarc"
    result = run_module("condarc", dict(ARGS, path=str(path), mode="0640"))
    assert result["changed"] is True and "backup_file" not in result
    assert yaml.safe_load(path.read_text())["channels"] == ["fastchan", "conda-forge"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o640"


def test_a_key_twice_or_deep_nesting_fails_named_untouched(run_module, tmp_path):
    """Before: a key given twice was accepted silently (the last won), deep nesting gave a
    RecursionError traceback."""
    cases = [
        ("twice", "channels:\n  - defaults\nchannel_priority: flexible\nchannel_priority: strict\n",
         ["'channel_priority' is set twice", "lines 3 and 4"]),
        ("twice-nested", "proxy_servers:\n  http: a\n  http: b\n", ["'http' is set twice", "lines 2 and 3"]),
        ("deep", "a: " + "[" * 20000 + "]" * 20000 + "\n", ["nested too deep"]),
    ]
    for case, text, words in cases:
        folder = tmp_path / case
        folder.mkdir()
        path = folder / ".condarc"
        path.write_text(text)
        result = run_module("condarc", dict(ARGS, path=str(path), backup=True))
        assert result["failed"] is True, case
        for word in words:
            assert word in result["msg"], (case, word, result["msg"])
        assert path.read_text() == text and os.listdir(str(folder)) == [".condarc"], case
