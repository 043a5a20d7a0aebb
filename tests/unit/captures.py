"""Paths and fixture names shared by the unit tests.

Test modules import this as ``captures``: tests/unit/conftest.py puts tests/unit on sys.path.
The fixtures themselves, and where each comes from, are described in tests/unit/fixtures/README.md.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMESPACE = os.path.join(ROOT, "build", "collections")  # made by tests/unit/conftest.py
MODULES = os.path.join(ROOT, "plugins", "modules")
FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures")


def fixture_path(family, name):
    """Path of fixture ``name`` of ``family`` ('grub' or 'lspci'); an absolute ``name`` is returned as is."""
    return os.path.join(FIXTURES, family, name)


def module_path(name):
    """Path of the module file plugins/modules/<name>.py."""
    return os.path.join(MODULES, name + ".py")


# --------------------------------------------------------------------------- grub (fixtures/grub)

GRUB_DEBIAN = "debian-12_etc-default-grub.txt"
GRUB_UBUNTU = "H_grub_ubuntu-22.04-server-cloudimg_stock.txt"
GRUB_CLOUDIMG = "H_grub.d-50-cloudimg-settings_ubuntu-22.04-cloudimg.txt"
GRUB_PROXMOX = "H_grub_proxmox-ve_intel_iommu-on_hackinthebox.txt"
GRUB_SEED_TWO_LINES = "synthetic_ubuntu-22.04_seed-second-linux-default.txt"

# The kernel parameters the GRUB tests write (the filter test keeps its own, longer list).
GRUB_SEED = ["pti=off", "spectre_v2=off", "l1tf=off", "nospec_store_bypass_disable", "no_stf_barrier",
             "intel_iommu=off", "rcutree.rcu_idle_gp_delay=1", "mitigations=off"]

# --------------------------------------------------------------------------- lspci (fixtures/lspci)

LSPCI_LENOVO = "H_lspci-D-vvvPP_full_lenovo-p920_quadro-rtx4000_acs-TransBlk-enabled_mithro.txt"
LSPCI_SUPERMICRO = "H_lspci-vvvPP_full_supermicro-4028GR-TVRT_8x-v100-sxm2_plx9765-pm8533_acs-all-disabled_mithro.txt"
LSPCI_STELLINE_GREP = "H_lspci-vvv-grep-ACSCtl_all-disabled_stelline-esc8000a.txt"
LSPCI_PEX8747 = "H_lspci-vvv_plx-pex8747-downstream-port_acs-disabled_excerpt.txt"
LSPCI_PEX8747_HDR = "synthetic_pex8747-excerpt-with-header.txt"
LSPCI_NIC_ACS = "synthetic_lenovo-p920-e1-e2_nic-function-acs-enabled.txt"
LSPCI_NONROOT = "synthetic_nonroot_access-denied.txt"
