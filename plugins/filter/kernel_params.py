# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that check kernel command-line parameters before anything is changed."""

from __future__ import annotations

import difflib

from ansible_collections.aiserver.gpu.plugins.module_utils import _kernel_params

DOCUMENTATION = r"""
name: kernel_param_problems
short_description: Find malformed or mistyped kernel command-line parameters
version_added: 0.1.0
author: aiserver.gpu maintainers (@aiserver-gpu)
description:
  - Returns one sentence per problem found in a list of kernel parameters (C(name) or
    C(name=value)), an empty list when there is none.
  - A parameter is malformed when it is not what the C(aiserver.gpu.kernel_cmdline) module
    writes (the same definition, in module_utils/_kernel_params.py) - C(NAME) of letters, digits,
    C(_), C(.) and C(-); C(VALUE) of printable ASCII without blanks, quotes, C($), backtick,
    backslash, C(;), C(&), C(|), C(<), C(>), C(\() or C(\)) - or when the same parameter is listed
    twice with different values (C([iommu=pt, iommu=off])).
  - A parameter is taken as mistyped when its name is not a known kernel parameter but
    is one or two letters away from one (C(intel_iomu) for C(intel_iommu)). As for the kernel,
    C(-) and C(_) in names are the same character (C(nvidia_drm.modeset) is C(nvidia-drm.modeset)).
options:
  _input:
    description: The parameters to check.
    type: list
    elements: str
    required: true
  known:
    description: Extra parameter names to accept as known.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Fail before any change on a mistyped parameter
  ansible.builtin.assert:
    that: (params | aiserver.gpu.kernel_param_problems) == []
    fail_msg: "{{ params | aiserver.gpu.kernel_param_problems | join(' ') }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem.
  type: list
  elements: str
"""

# Parameter names from the kernel's admin-guide/kernel-parameters.txt that GPU-server
# guides set, plus the ones this collection writes. Typos are judged against these.
KNOWN = frozenset("""
acpi amd_iommu amd_iommu_intr amd_pstate apparmor audit clocksource console consoleblank
crashkernel default_hugepagesz efi earlyprintk hugepages hugepagesz idle init initrd
intel_idle.max_cstate intel_iommu intel_pstate iommu iommu.passthrough iommu.strict
ipv6.disable isolcpus kvm.ignore_msrs l1tf loglevel mce mds mem memmap mitigations
modprobe.blacklist module_blacklist net.ifnames nmi_watchdog no_stf_barrier nohz
nohz_full nokaslr nomodeset nopti nosmt nospec_store_bypass_disable nospectre_v1
nospectre_v2 nouveau.modeset numa_balancing nvidia-drm.fbdev nvidia-drm.modeset
nvidia.NVreg_EnableGpuFirmware nvidia.NVreg_OpenRmEnableUnsupportedGpus
nvidia.NVreg_PreserveVideoMemoryAllocations panic pci pcie_acs_override pcie_aspm
pcie_port_pm pci=noaer processor.max_cstate pti quiet rcu_nocbs rcupdate.rcu_expedited
rcutree.rcu_idle_gp_delay rd.driver.blacklist retbleed ro root rootflags rootfstype rw
selinux spec_store_bypass_disable spectre_bhi spectre_v2 spectre_v2_user splash
srbds swiotlb systemd.unified_cgroup_hierarchy transparent_hugepage tsc tsx
tsx_async_abort vfio-pci.ids video mmio_stale_data gather_data_sampling
reg_file_data_sampling
""".split())


def _sentence(text):
    return (text[:1].upper() + text[1:] if text[:1].islower() else text) + "."


def kernel_param_problems(params, known=None):
    """Return a sentence per malformed, doubled or likely mistyped parameter."""
    if params is None:
        return []
    if isinstance(params, str):
        params = [params]
    problems = [_sentence(why) for why in _kernel_params.problems(params)]
    # Names compared as the kernel compares them ('-' and '_' are the same).
    known_keys = dict((_kernel_params.key(name), name) for name in KNOWN | frozenset(known or ()))
    for param in params:
        if not isinstance(param, str) or _kernel_params.problem(param):
            continue
        name = param.split("=", 1)[0]
        if _kernel_params.key(name) in known_keys:
            continue
        close = difflib.get_close_matches(_kernel_params.key(name), list(known_keys), n=1, cutoff=0.85)
        if close:
            problems.append(
                "%r looks like a typo of the kernel parameter %r; fix the spelling, or add "
                "%r to kernel_tuning_known_params if the kernel really takes it."
                % (param, known_keys[close[0]], name)
            )
    return problems


class FilterModule:
    """aiserver.gpu kernel parameter filters."""

    def filters(self):
        return {"kernel_param_problems": kernel_param_problems}
