"""daemon.json merges: keys we are not asked about stay, invalid JSON is refused."""

import json

import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils._daemon_json import DaemonJsonError, load, merge, plan

# A user's daemon.json of the kind Docker's documentation shows (log rotation, a mirror,
# a data root) plus another tool's runtime; synthetic, no capture exists in the corpus.
USER = """{
  "data-root": "/srv/docker",
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "3"},
  "registry-mirrors": ["https://mirror.example.org"],
  "exec-opts": ["native.umask=normal"],
  "runtimes": {"runsc": {"path": "/usr/local/bin/runsc"}}
}
"""
NVIDIA = {"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": []}}}


def test_nvidia_runtime_is_added_and_everything_else_kept():
    result = plan(USER, NVIDIA)
    after = json.loads(result["text"])
    assert result["changed"] is True
    assert list(after) == ["data-root", "log-driver", "log-opts", "registry-mirrors", "exec-opts", "runtimes"]
    assert after["runtimes"] == {"runsc": {"path": "/usr/local/bin/runsc"},
                                 "nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": []}}
    assert after["log-opts"] == {"max-size": "10m", "max-file": "3"}


def test_second_run_changes_nothing_and_keeps_the_layout():
    first = plan(USER, NVIDIA)
    again = plan(first["text"], NVIDIA)
    assert again["changed"] is False and again["text"] is None
    # The same settings written by hand in another layout: unchanged too.
    assert plan(json.dumps(first["after"]), NVIDIA)["changed"] is False


def test_exec_opts_are_merged_as_a_set_or_replaced():
    cgroupfs = {"exec-opts": ["native.cgroupdriver=cgroupfs"]}
    assert plan(USER, cgroupfs)["after"]["exec-opts"] == ["native.umask=normal", "native.cgroupdriver=cgroupfs"]
    assert plan(USER, cgroupfs, list_mode="replace")["after"]["exec-opts"] == ["native.cgroupdriver=cgroupfs"]


def test_two_cgroup_drivers_warn():
    data = {"exec-opts": ["native.cgroupdriver=systemd"]}
    _new, warnings = merge(data, {"exec-opts": ["native.cgroupdriver=cgroupfs"]})
    assert len(warnings) == 1 and "more than one native.cgroupdriver" in warnings[0]


def test_remove_top_level_and_nested():
    after = plan(USER, remove=["registry-mirrors", "runtimes.runsc", "no.such.key"])["after"]
    assert "registry-mirrors" not in after
    assert after["runtimes"] == {}


@pytest.mark.parametrize("text", [None, "", "  \n"])
def test_missing_or_empty_file(text):
    result = plan(text, NVIDIA)
    assert result["before"] == {} and result["changed"] is True
    assert plan(text, {})["changed"] is False


@pytest.mark.parametrize("text, where", [
    ('{"log-driver": "json-file",}\n', "line 1, column 28"),
    ('{\n  "a": 1\n  "b": 2\n}\n', "line 3, column 3"),
])
def test_invalid_json_names_the_place(text, where):
    with pytest.raises(DaemonJsonError) as err:
        load(text, "/etc/docker/daemon.json")
    assert where in str(err.value)
    assert "left unchanged" in str(err.value)


def test_not_an_object():
    with pytest.raises(DaemonJsonError, match="holds a JSON list, not an object"):
        load('["a"]', "/etc/docker/daemon.json")


def test_bad_list_mode():
    with pytest.raises(DaemonJsonError, match="list_mode"):
        merge({}, {}, list_mode="union")
