"""The .condarc merge: the managed channels first, the user's keys and channels kept,
invalid YAML refused with its line and column."""

import pytest
import yaml

from ansible_collections.aiserver.gpu.plugins.module_utils._condarc import (
    CondarcError, dump, load, merge, merge_channels, plan)

MANAGED = ["fastchan", "conda-forge"]
SETTINGS = {"channel_priority": "strict", "solver": "libmamba", "auto_activate_base": False}

# What Miniforge's installer leaves in $PREFIX/.condarc, plus keys a user added by hand.
USER = """channels:
  - conda-forge
  - bioconda
envs_dirs:
  - /data/conda/envs
ssl_verify: true
channel_priority: flexible
"""


def test_managed_channels_first_then_the_users():
    assert merge_channels(["conda-forge", "bioconda"], MANAGED) == ["fastchan", "conda-forge", "bioconda"]
    assert merge_channels(["bioconda", "fastchan"], MANAGED) == ["fastchan", "conda-forge", "bioconda"]
    assert merge_channels(["bioconda"], MANAGED, keep_others=False) == MANAGED
    assert merge_channels(None, MANAGED) == MANAGED


def test_user_keys_and_order_kept():
    result = plan(USER, MANAGED, SETTINGS)
    assert result["changed"] is True
    after = result["after"]
    assert list(after) == ["channels", "envs_dirs", "ssl_verify", "channel_priority", "solver", "auto_activate_base"]
    assert after["channels"] == ["fastchan", "conda-forge", "bioconda"]
    assert after["envs_dirs"] == ["/data/conda/envs"] and after["ssl_verify"] is True
    assert after["channel_priority"] == "strict"
    # The text we write reads back as the same data.
    assert yaml.safe_load(result["text"]) == after
    assert result["text"].startswith("# conda configuration.")


def test_second_run_changes_nothing_and_keeps_the_text():
    first = plan(USER, MANAGED, SETTINGS)
    again = plan(first["text"], MANAGED, SETTINGS)
    assert again["changed"] is False and again["text"] is None


def test_same_data_other_layout_is_not_rewritten():
    text = "# my comment\nchannels: [fastchan, conda-forge]\nchannel_priority: strict\nsolver: libmamba\nauto_activate_base: false\n"
    assert plan(text, MANAGED, SETTINGS)["changed"] is False


def test_empty_and_missing_files():
    for text in (None, "", "   \n", "# only a comment\n"):
        result = plan(text, MANAGED, SETTINGS)
        assert result["after"] == {"channels": MANAGED, **SETTINGS}


def test_remove_and_nested_merge():
    data = load("proxy_servers:\n  http: http://proxy:3128\nchannel_alias: https://mirror.example/\n")
    new = merge(data, MANAGED, {"proxy_servers": {"https": "http://proxy:3128"}}, remove=["channel_alias"])
    assert new["proxy_servers"] == {"http": "http://proxy:3128", "https": "http://proxy:3128"}
    assert "channel_alias" not in new


def test_channels_only_through_the_channels_option():
    with pytest.raises(CondarcError, match="channels option"):
        merge({}, MANAGED, {"channels": ["x"]})


@pytest.mark.parametrize("text, where", [
    ("channels:\n  - conda-forge\n - bioconda\n", "line 3, column 2"),
    ("channels: [conda-forge\nssl_verify: true\n", "line 2"),
    ("key: 'unterminated\n", "line 2"),
], ids=["bad-indent", "unclosed-flow", "unterminated-quote"])
def test_invalid_yaml_names_line_and_column(text, where):
    with pytest.raises(CondarcError) as exc:
        plan(text, MANAGED, SETTINGS, path="/opt/conda/.condarc")
    message = str(exc.value)
    assert "/opt/conda/.condarc is not valid YAML at " + where in message
    assert "left unchanged" in message


@pytest.mark.parametrize("text, words", [
    ("- conda-forge\n- bioconda\n", "holds a YAML list, not a mapping"),
    ("just a string\n", "holds a YAML str, not a mapping"),
    ("channels: conda-forge\n", "channels must be a list"),
], ids=["list", "scalar", "channels-not-a-list"])
def test_wrong_shapes_are_refused(text, words):
    with pytest.raises(CondarcError, match=words):
        load(text)


def test_dump_keeps_key_order():
    assert dump({"b": 1, "a": [1, 2]}).splitlines()[-4:] == ["b: 1", "a:", "- 1", "- 2"]
