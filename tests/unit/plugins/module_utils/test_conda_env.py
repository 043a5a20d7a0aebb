"""conda environments compared as data, over real `conda list` output: a PyTorch 2.0.1 /
CUDA 11.8 environment (table form) and the record conda's own tests assert for
`conda list --json` (see tests/unit/fixtures/conda/*.source)."""

import json
import os

import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils._conda_env import (
    CondaEnvError, build_spec, compare_versions, find_env, parse_conda_list, parse_match_spec,
    spec_text, unmet, version_matches)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "conda")


def _read(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


@pytest.fixture(scope="module")
def ninet():
    warnings = []
    records = parse_conda_list(_read("ninet_pytorch-2.0.1-cuda11.8_conda-list.txt"), warn=warnings.append)
    assert warnings == []
    return records


def test_table_form_is_read(ninet):
    assert len(ninet) == 134
    by_name = {r["name"]: r for r in ninet}
    assert by_name["pytorch"] == {"name": "pytorch", "version": "2.0.1", "build": "py3.9_cuda11.8_cudnn8.7.0_0",
                                  "channel": "pytorch"}
    assert by_name["python"]["channel"] == ""          # defaults: blank channel column
    assert by_name["timm"]["channel"] == "pypi" and by_name["timm"]["build"] == "pypi_0"


def test_json_form_is_read():
    records = parse_conda_list(_read("conda-test-create_pypi-record_conda-list-json.json"))
    assert records == [{"name": "itsdangerous", "version": "0.24", "build": "pypi_0", "channel": "pypi"}]


def test_json_error_object_is_an_error():
    with pytest.raises(CondaEnvError, match="reported an error: .*not found"):
        parse_conda_list(json.dumps({"exception_name": "EnvironmentLocationNotFound", "message": "Not found"}).lower())


# The env as wanted: every spec met by the capture, so nothing would run.
MET = ["python=3.9", "pytorch::pytorch=2.0.1", "pytorch-cuda=11.8", "pytorch==2.0.1=*cuda11.8*",
       "cuda-runtime>=11.8,<12", "numpy 1.26.*", "jpeg>=9d", "tzdata=2024a", "defaults::python",
       "nvidia::cuda-cudart", "pip"]
PIP_MET = ["timm==1.0.8", "transformers>=4.40", "Safetensors", "typing-extensions"]


def test_everything_met_means_no_change(ninet):
    assert unmet(MET, PIP_MET, ninet) == []


@pytest.mark.parametrize("spec, reason", [
    ("fastai", "missing"),
    ("pytorch=2.1", "version"),
    ("pytorch-cuda=12.1", "version"),
    ("python>=3.10", "version"),
    ("pytorch=2.0.1=*cpu*", "build"),
    ("conda-forge::pytorch", "channel"),
    ("conda-forge::python", "channel"),
], ids=lambda v: v)
def test_each_kind_of_unmet_spec(ninet, spec, reason):
    result = unmet([spec], [], ninet)
    assert [r["reason"] for r in result] == [reason]


def test_pip_specs(ninet):
    warnings = []
    result = unmet([], ["timm==0.9.16", "einops", "xformers>=0.1", "git+https://example.invalid/x.git"], ninet,
                   warn=warnings.append)
    assert [(r["spec"], r["reason"]) for r in result] == [("timm==0.9.16", "version"), ("xformers>=0.1", "version")]
    assert len(warnings) == 1 and "not compared" in warnings[0]


@pytest.mark.parametrize("left, right, order", [
    ("1.2", "1.2.0", 0), ("1.10", "1.9", 1), ("2.18.0a20240801", "2.18.0", -1), ("1.0rc1", "1.0", -1),
    ("2024a", "2024", -1), ("2024b", "2024a", 1), ("9e", "9d", 1), ("11.8.89", "11.8", 1),
])
def test_version_order(left, right, order):
    assert compare_versions(left, right) == order


@pytest.mark.parametrize("installed, expression, ok", [
    ("1.26.4", "=1.26", True), ("1.26.4", "=1.2", False), ("1.26.4", "1.26.*", True),
    ("2.0.1", "==2.0", False), ("2.0.0", "==2.0", True), ("3.9.19", ">=3.8,<3.10", True),
    ("3.9.19", "<3.8|>=3.9", True), ("3.9.19", "!=3.9.19", False), ("1.4.2", "~=1.4", True),
])
def test_version_expressions(installed, expression, ok):
    assert version_matches(installed, expression) is ok


@pytest.mark.parametrize("spec, parsed", [
    ("conda-forge::fastai>=2.7.18", ("fastai", "conda-forge", ">=2.7.18", None)),
    ("pytorch=2.0.1=py3.9_cuda*", ("pytorch", None, "=2.0.1", "py3.9_cuda*")),
    ("numpy 1.26.* py39*", ("numpy", None, "1.26.*", "py39*")),
    ("Python", ("python", None, None, None)),
])
def test_match_spec_forms(spec, parsed):
    result = parse_match_spec(spec)
    assert (result["name"], result["channel"], result["version"], result["build"]) == parsed


@pytest.mark.parametrize("spec", ["numpy[version='>=1.2']", "https://conda.anaconda.org/x/numpy.tar.bz2", "numpy >=>1"])
def test_unsupported_specs_are_refused(spec):
    with pytest.raises(CondaEnvError, match="cannot read"):
        parse_match_spec(spec)


def test_spec_text_is_environment_yml():
    spec = build_spec("fastai", ["fastchan", "conda-forge"], ["python=3.11", "conda-forge::fastai>=2.7.18"],
                      pip=["timm==1.0.8"])
    assert spec["dependencies"] == ["python=3.11", "conda-forge::fastai>=2.7.18", "pip", {"pip": ["timm==1.0.8"]}]
    text = spec_text(spec)
    assert text == ('name: "fastai"\nchannels:\n  - "fastchan"\n  - "conda-forge"\ndependencies:\n'
                    '  - "python=3.11"\n  - "conda-forge::fastai>=2.7.18"\n  - "pip"\n  - pip:\n      - "timm==1.0.8"\n')
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(text) == spec


@pytest.mark.parametrize("name, deps, words", [
    ("base", ["python"], "base environment"),
    ("my env", ["python"], "environment name"),
    ("empty", [], "no packages"),
    ("bad", [{"conda": ["x"]}], "must be {pip"),
    ("bad", ["numpy[version='1']"], "cannot read"),
])
def test_bad_specs(name, deps, words):
    with pytest.raises(CondaEnvError, match=words):
        build_spec(name, [], deps)


def test_find_env():
    listing = json.dumps({"envs": ["/opt/conda", "/opt/conda/envs/fastai", "/data/envs/torch"]})
    assert find_env(listing, "fastai") == "/opt/conda/envs/fastai"
    assert find_env(listing, "torch") == "/data/envs/torch"      # an envs_dirs folder of the user's
    assert find_env(listing, "other") is None


@pytest.mark.parametrize("text,words", [
    # Before: "'list' object has no attribute 'get'".
    ('["/opt/conda", "/opt/conda/envs/fastai"]', "a JSON list instead of an object"),
    # Before: "'int' object has no attribute 'rstrip'".
    ('{"envs": ["/opt/conda", 3, null]}', "2 environment(s) that are not prefix paths"),
    ('{"envs": "/opt/conda"}', "'envs' as a JSON str, not a list"),
    # conda's own --json error object.
    ('{"caused_by": "None", "error": "CondaHTTPError: HTTP 000 CONNECTION FAILED", '
     '"exception_name": "CondaHTTPError", "message": "HTTP 000 CONNECTION FAILED for url"}',
     "reported an error: HTTP 000 CONNECTION FAILED"),
    ('{"other": 1}', "printed no 'envs' list"),
    ("Traceback (most recent call last):", "not JSON"),
    ("[" * 100000, "nested too deep"),
])
def test_find_env_with_what_a_broken_conda_prints(text, words):
    with pytest.raises(CondaEnvError) as exc:
        find_env(text, "fastai")
    assert words in str(exc.value)
