"""The real conda_env module file, run as Ansible runs it. No conda here: these cover the
spec file (written, idempotent, check mode, diff) and the clear failures; the comparison
with installed packages is tested over real captures in module_utils/test_conda_env.py."""

import os

import yaml

ARGS = {"name": "fastai", "channels": ["fastchan", "conda-forge"],
        "dependencies": ["python=3.11", "conda-forge::fastai>=2.7.18", {"pip": ["timm==1.0.8"]}]}


def test_spec_file_written_once(run_module, tmp_path):
    path = tmp_path / "envs" / "fastai.yml"
    first = run_module("conda_env", dict(ARGS, spec_path=str(path), create=False), diff=True)
    assert first["changed"] is True and first["spec_changed"] is True
    data = yaml.safe_load(path.read_text())
    assert data == {"name": "fastai", "channels": ["fastchan", "conda-forge"],
                    "dependencies": ["python=3.11", "conda-forge::fastai>=2.7.18", "pip", {"pip": ["timm==1.0.8"]}]}
    assert first["diff"]["before"] == "" and "fastai" in first["diff"]["after"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    again = run_module("conda_env", dict(ARGS, spec_path=str(path), create=False))
    assert again["changed"] is False


def test_check_mode_writes_nothing(run_module, tmp_path):
    path = tmp_path / "fastai.yml"
    result = run_module("conda_env", dict(ARGS, spec_path=str(path), create=True,
                                          conda=str(tmp_path / "no-conda")), check_mode=True)
    # No conda and check mode: the spec would change; conda's absence is still reported.
    assert result["failed"] is True and "conda is not at" in result["msg"]
    assert not path.exists()


def test_missing_conda_is_a_clear_failure(run_module, tmp_path):
    path = tmp_path / "fastai.yml"
    result = run_module("conda_env", dict(ARGS, spec_path=str(path), conda="/nonexistent/bin/conda"))
    assert result["failed"] is True
    assert result["msg"].startswith("conda is not at /nonexistent/bin/conda: install it first")


def test_bad_spec_fails_before_writing(run_module, tmp_path):
    path = tmp_path / "bad.yml"
    result = run_module("conda_env", {"name": "bad", "dependencies": ["numpy[version='>=1']"],
                                      "spec_path": str(path), "create": False})
    assert result["failed"] is True and "cannot read the conda package spec" in result["msg"]
    assert not path.exists()


def test_a_conda_that_hangs_is_killed_after_the_timeout(run_module, tmp_path):
    """Before: run_command(timeout=) raised TypeError, the fallback ran without a timeout and
    conda_fastchan_env_timeout had no effect. Here a program in conda's place never answers
    (as conda does behind a dead proxy); it and its child must be gone after the timeout."""
    import time
    pids = tmp_path / "pids"
    hung = tmp_path / "conda"
    hung.write_text("#!/bin/sh\nsleep 300 &\necho $! >> %s\necho $$ >> %s\nwait\n" % (pids, pids))
    hung.chmod(0o755)
    start = time.monotonic()
    result = run_module("conda_env", dict(ARGS, spec_path=str(tmp_path / "fastai.yml"), conda=str(hung), timeout=2))
    assert time.monotonic() - start < 30
    assert result["failed"] is True and result["timed_out"] is True
    assert "conda env list --json: conda did not finish within 2 s and was killed" in result["msg"]
    assert "proxy" in result["msg"]
    for pid in (int(line) for line in pids.read_text().split()):
        assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z"


def test_timeout_must_be_positive(run_module, tmp_path):
    result = run_module("conda_env", dict(ARGS, spec_path=str(tmp_path / "x.yml"), timeout=0))
    assert result["failed"] is True and "timeout must be at least 1 second" in result["msg"]
    assert not (tmp_path / "x.yml").exists()
