import pytest

from ansible_collections.aiserver.gpu.plugins.filter.kernel_params import kernel_param_problems
from ansible_collections.aiserver.gpu.plugins.module_utils import _grub

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


@pytest.mark.parametrize("bad", ["quiet splash", "a='b'", "x=$(reboot)", "", "=1", "a;b", 3, "iommu=\u00e9",
                                 "a=b;c", "a=(b)"])
def test_malformed(bad):
    problems = kernel_param_problems([bad])
    assert len(problems) == 1
    assert "NAME" in problems[0] or "not a kernel parameter" in problems[0] or "empty string" in problems[0]


def test_the_same_parameter_with_two_values_is_refused():
    """Before: the filter let [iommu=pt, iommu=off] through and the module refused it later."""
    problems = kernel_param_problems(["iommu=pt", "iommu=off"])
    assert problems == ["'iommu=pt' and 'iommu=off' are the same kernel parameter with two values: the kernel "
                        "would see it twice; keep only one of them."]
    assert kernel_param_problems(["nvidia-drm.modeset=1", "nvidia_drm.modeset=0"]) != []
    assert kernel_param_problems(["iommu=pt", "iommu=pt"]) == []


def test_dash_and_underscore_spellings_are_not_typos():
    assert kernel_param_problems(["nvidia_drm.modeset=1", "vfio_pci.ids=10de:2204", "intel-iommu=on"]) == []
    assert "spelled two ways" in kernel_param_problems(["nvidia_drm.modeset=1", "nvidia-drm.modeset=1"])[0]


@pytest.mark.parametrize("item", ["quiet", "iommu=pt", "a=", "console=ttyS0,115200n8", "nvidia_drm.modeset=1",
                                  "memmap=12G$4G", "acpi_osi=!Windows2015", "a=b;c", "a=(b)", "x=\u00e9", "",
                                  "a b", "pci=noaer,realloc", "isolcpus=1-3,5", "a=`id`", "a=b|c", "hugepagesz=1G",
                                  "a=[x]", "root=UUID=1234-abcd", "a=\t"])
def test_filter_and_module_agree(item):
    """One definition: what the role's check refuses, the module refuses, and the other way round."""
    filter_ok = not any("kernel parameter" in p and "typo" not in p or "empty" in p or "NAME" in p
                        for p in kernel_param_problems([item]))
    try:
        _grub.parse_params([item])
        module_ok = True
    except _grub.GrubError:
        module_ok = False
    assert filter_ok == module_ok, (item, kernel_param_problems([item]))


def test_unknown_but_not_close_is_accepted():
    assert kernel_param_problems(["zswap.enabled=1", "foo_bar_baz"]) == []


def test_known_extends_the_list():
    assert kernel_param_problems(["intel_iomu=off"], known=["intel_iomu"]) == []


def test_string_and_none_inputs():
    assert kernel_param_problems(None) == []
    assert kernel_param_problems("intel_iomu=1") != []
