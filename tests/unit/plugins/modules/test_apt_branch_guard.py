"""End-to-end tests of the aiserver.gpu.apt_branch_guard module.

Each test runs the REAL module file as a subprocess (conftest's ``run_module``). Instead of
apt-get, apt-cache and dpkg-query it finds STAND-IN executables written into a temporary
directory put first on PATH: they record every argv and replay REAL captures
(tests/unit/fixtures/apt, see each ``.source``): ``apt-get install --simulate`` prints the
capture named by APT_STANDIN_PLAN and exits APT_STANDIN_RC; ``apt-cache show`` prints the
capture's ``.show`` (the real ``apt-cache show NAME=VERSION...`` of that plan); dpkg-query
prints the packages named in APT_STANDIN_INSTALLED as installed.
"""
import json
import os
import stat
import sys

import pytest

from captures import (APT_DEBIAN_DESKTOP, APT_JUMP, APT_JUMP_NO_SMI, APT_OPEN_UNMET, APT_UNKNOWN, APT_VERSION_NOT_FOUND,
                      fixture_path)

STANDIN = r'''#!@PYTHON@
# STAND-IN for @TOOL@ (tests/unit/plugins/modules/test_apt_branch_guard.py only): replays REAL captures.
import json, os, sys
tool = os.path.basename(sys.argv[0])
with open(os.path.join("@DIR@", "calls.jsonl"), "a") as handle:
    handle.write(json.dumps([tool] + sys.argv[1:]) + "\n")
plan = os.environ.get("APT_STANDIN_PLAN")
if tool == "apt-get":
    with open(plan) as handle:
        sys.stdout.write(handle.read())
    sys.exit(int(os.environ.get("APT_STANDIN_RC", "0")))
if tool == "apt-cache":
    show = plan[:-4] + ".show"
    if not os.path.exists(show):
        sys.stderr.write("E: No packages found\n")
        sys.exit(100)
    with open(show) as handle:
        sys.stdout.write(handle.read())
    sys.exit(0)
if tool == "dpkg-query":
    installed = [n for n in os.environ.get("APT_STANDIN_INSTALLED", "").split(",") if n]
    for name in sys.argv[4:]:
        if name in installed:
            sys.stdout.write("%s\thi \n" % name)
        else:
            sys.stderr.write("dpkg-query: no packages found matching %s\n" % name)
    sys.exit(0 if all(n in installed for n in sys.argv[4:]) else 1)
'''

ROLE_LIST = ["nvidia-driver", "nvidia-smi", "nvidia-persistenced", "firmware-misc-nonfree", "dkms"]


@pytest.fixture
def guard(tmp_path, run_module):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("apt-get", "apt-cache", "dpkg-query"):
        path = bindir / tool
        path.write_text(STANDIN.replace("@PYTHON@", sys.executable).replace("@TOOL@", tool)
                        .replace("@DIR@", str(tmp_path)))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def run(capture, rc=0, installed=(), check_mode=False, **args):
        args.setdefault("packages", ROLE_LIST)
        args.setdefault("branch", "535")
        env = {"APT_STANDIN_PLAN": fixture_path("apt", capture), "APT_STANDIN_RC": str(rc),
               "APT_STANDIN_INSTALLED": ",".join(installed)}
        result = run_module("apt_branch_guard", args, check_mode=check_mode, env=env, path_prefix=bindir)
        calls_file = tmp_path / "calls.jsonl"
        calls = [json.loads(line) for line in calls_file.read_text().splitlines()] if calls_file.exists() else []
        if calls_file.exists():
            os.remove(str(calls_file))
        return result, calls

    return run


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_debian_archive_is_ok_in_both_modes(guard, check_mode):
    result, calls = guard(APT_DEBIAN_DESKTOP, check_mode=check_mode, install_recommends=False)
    assert result["changed"] is False and result["ok"] is True and result["sentence"] == ""
    assert len(result["plan"]) == 50 and result["off_branch"] == [] and result["remove"] == []
    assert [c[0] for c in calls] == ["dpkg-query", "apt-get", "apt-cache"]
    assert calls[1] == ["apt-get", "install", "--simulate", "-o", "Debug::NoLocking=1",
                        "-o", "APT::Install-Recommends=no"] + ROLE_LIST
    assert calls[2][:2] == ["apt-cache", "show"] and "nvidia-driver=535.309.01-0+deb12u1" in calls[2]
    smi = [r for r in result["plan"] if r["name"] == "nvidia-smi"][0]
    assert (smi["branch"], smi["basis"], smi["source"]) == ("535", "version", "nvidia-graphics-drivers")


def test_jump_is_reported_with_the_sentence(guard):
    result, _calls = guard(APT_JUMP, check_mode=True)
    assert result["changed"] is False and result["ok"] is False
    assert [(r["name"], r["via"]) for r in result["off_branch"]] == [("libnvidia-ml1", ["nvidia-driver", "libnvidia-ml1"])]
    assert result["sentence"].startswith("apt would install libnvidia-ml1 580.95.05-1 (branch 580, from localhost) "
                                         "for nvidia-driver 535.999.01-1")
    assert 'Set nvidia_driver_branch: "580"' in result["sentence"]


def test_branch_variable_is_named_as_asked(guard):
    result, _calls = guard(APT_JUMP, branch_variable="my_branch")
    assert 'Set my_branch: "580"' in result["sentence"]


def test_present_simulates_only_what_is_not_installed(guard):
    result, calls = guard(APT_JUMP, installed=["nvidia-driver", "nvidia-smi", "dkms"])
    assert result["simulated"] == ["nvidia-persistenced", "firmware-misc-nonfree"]
    assert calls[1][-2:] == ["nvidia-persistenced", "firmware-misc-nonfree"]
    result, calls = guard(APT_JUMP, installed=ROLE_LIST)
    assert result["ok"] is True and result["simulated"] == [] and result["plan"] == []
    assert [c[0] for c in calls] == ["dpkg-query"]


def test_latest_simulates_everything_as_if_the_holds_were_released(guard):
    result, calls = guard(APT_JUMP, installed=ROLE_LIST, state="latest")
    assert result["simulated"] == ROLE_LIST and not result["ok"]
    assert [c[0] for c in calls] == ["apt-get", "apt-cache"]
    assert "--allow-change-held-packages" in calls[0] and "APT::Install-Recommends=no" not in calls[0]


def test_extra_args_go_before_the_packages(guard):
    _result, calls = guard(APT_DEBIAN_DESKTOP, extra_args=["-t", "bookworm-backports"], install_recommends=True)
    assert calls[1][5:] == ["-o", "APT::Install-Recommends=yes", "-t", "bookworm-backports"] + ROLE_LIST


@pytest.mark.parametrize("capture,kind,words", [
    (APT_UNKNOWN, "unknown_package", ["apt knows no package nvidia-drvier-typo"]),
    (APT_VERSION_NOT_FOUND, "version_not_found", ["apt has no version 535.999 of nvidia-driver"]),
    (APT_OPEN_UNMET, "unmet_dependencies", ["nvidia-open-kernel-dkms (Depends: firmware-nvidia-gsp (= 535.261.03)"]),
    (APT_JUMP_NO_SMI, "unmet_dependencies", ["nvidia-smi (Depends: libnvidia-ml1", "branch 580 (libnvidia-ml1 580.95.05-1)",
                                             'nvidia_driver_branch: "580"']),
], ids=["unknown", "version", "open", "jump-no-smi"])
def test_apt_errors_fail_with_a_sentence(guard, capture, kind, words):
    result, calls = guard(capture, rc=100)
    assert result["failed"] and result["error_kind"] == kind and result["rc"] == 100
    assert result["msg"].startswith("apt cannot install ") and result["msg"].endswith("Nothing was changed.")
    for word in words:
        assert word in result["msg"], result["msg"]
    assert [c[0] for c in calls] == ["dpkg-query", "apt-get"]  # no apt-cache show after a failed plan


def test_a_failing_apt_without_known_errors_is_described(guard, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("Reading package lists...\n")
    result, _calls = guard(str(empty), rc=1)
    assert result["failed"] and result["error_kind"] == "apt_failed"
    assert "exited with status 1" in result["msg"]


def test_missing_show_data_falls_back_with_a_warning(guard, tmp_path):
    plan = tmp_path / "plan.txt"  # the jump capture, with no .show beside it
    with open(fixture_path("apt", APT_JUMP)) as handle:
        plan.write_text(handle.read())
    result, _calls = guard(str(plan))
    assert not result["ok"]
    assert set(r["basis"] for r in result["off_branch"]) == {"version (source unknown)"}
    warnings = [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]
    assert any("apt-cache show failed" in w for w in warnings), warnings


@pytest.mark.parametrize("args,words", [
    ({"branch": "5xx"}, "branch must be a driver branch"),
    ({"packages": [" "]}, "packages is empty"),
    ({"timeout": 0}, "timeout must be at least 1 second"),
])
def test_bad_requests(guard, args, words):
    result, calls = guard(APT_DEBIAN_DESKTOP, **args)
    assert result["failed"] and result["error_kind"] == "bad_request" and words in result["msg"]
    assert calls == []
