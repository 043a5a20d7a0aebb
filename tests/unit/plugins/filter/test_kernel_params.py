import pytest

from ansible_collections.aiserver.gpu.plugins.filter.kernel_params import kernel_param_problems

SEED = ["pti=off", "spectre_v2=off", "l1tf=off", "nospec_store_bypass_disable",
        "no_stf_barrier", "intel_iommu=off", "amd_iommu=off", "iommu=pt",
        "rcutree.rcu_idle_gp_delay=1", "mitigations=off"]


def test_seed_params_have_no_problem():
    assert kernel_param_problems(SEED) == []


@pytest.mark.parametrize("typo, meant", [
    ("intel_iomu=off", "intel_iommu"),
    ("spectre_v2=of", None),  # value typos are the kernel's business, not ours
    ("rcutree.rcu_idle_gp_dely=1", "rcutree.rcu_idle_gp_delay"),
    ("mitigation=off", "mitigations"),
    ("nospec_store_bypas_disable", "nospec_store_bypass_disable"),
])
def test_typos_name_the_parameter_meant(typo, meant):
    problems = kernel_param_problems([typo])
    if meant is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert repr(meant) in problems[0] and repr(typo) in problems[0]


@pytest.mark.parametrize("bad", ["quiet splash", "a='b'", "x=$(reboot)", "", "=1", "a;b", 3])
def test_malformed(bad):
    problems = kernel_param_problems([bad])
    assert len(problems) == 1 and "name=value" in problems[0]


def test_unknown_but_not_close_is_accepted():
    assert kernel_param_problems(["zswap.enabled=1", "foo_bar_baz"]) == []


def test_known_extends_the_list():
    assert kernel_param_problems(["intel_iomu=off"], known=["intel_iomu"]) == []


def test_string_and_none_inputs():
    assert kernel_param_problems(None) == []
    assert kernel_param_problems("intel_iomu=1") != []
