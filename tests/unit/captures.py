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


def write_standins(folder, template, tools):
    """Write a STAND-IN script per ``{tool: variable}`` into ``folder`` (a pathlib.Path),
    ``template % {"tool": tool, "var": variable}``, executable; returns ``folder``. The tests
    put ``folder`` first in PATH so a module runs its real code path against replayed captures."""
    import stat
    folder.mkdir(exist_ok=True)
    for tool, var in tools.items():
        script = folder / tool
        script.write_text(template % {"tool": tool, "var": var})
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


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
LSPCI_PLAIN = "synthetic_lenovo-p920_plain-lspci-D-PP_headers-only.txt"   # no -vvv: headers only
LSPCI_EMPTY = "synthetic_empty.txt"

# --------------------------------------------------------------------------- nvidia-smi -pl / -q (fixtures/nvidia_smi, M_*)

SMI_PL_NO_PERMISSION = "M_nvidia-smi-i0-pl-120_insufficient-permissions_in-container_nvidia-docker-495.txt"
SMI_PL_OUT_OF_RANGE = "M_nvidia-smi-pl-10_out-of-range_100-270W_desktop.txt"
SMI_PL_SUCCESS = "M_nvidia-smi-pl-250_success_4x-gpu-300W_h2ogpt-faq.txt"
SMI_PL_NOT_SUPPORTED = "M_nvidia-smi-pl-50_not-supported_thinkpad-p15-laptop.txt"
SMI_Q_POWER_LAPTOP = "M_nvidia-smi-q-d-power_laptop-5-95W_590.48.01_ogkm-483_PARTIAL.txt"
SMI_Q_TEXT_8X4090 = "M_nvidia-smi-q_full-text_8x-rtx4090_535.154.05_gpud.txt"

# --------------------------------------------------------------------------- nvidia-smi -q -x / topo (fixtures/nvidia_smi, A_/D_/I_)

SMI_XML_DUAL_2080 = "A_dual-rtx-2080_590.xml"                # v13, 590.44.01, 2 GPUs
SMI_XML_GT1030 = "A_gt-1030_old.xml"                         # v11, 470.74
SMI_XML_1070TI_V10 = "A_gtx-1070-ti_schema-v10.xml"          # v10, reduced (no driver_version)
SMI_XML_RTX3090 = "A_rtx-3090_525.xml"                       # v12, 525.147.05
SMI_XML_RTX4000_ADA = "A_rtx-4000-sff-ada_595.xml"           # v13, 595.84
SMI_XML_TESLA_T4 = "A_tesla-t4_515.xml"                      # v11, 515.105.01
SMI_XML_8X_V100S = "A_nvidia-smi-q-x_8x-tesla-v100s-pcie-32gb_460.73.01_datakit.xml"   # v11, 8 GPUs, ECC on
SMI_XML_ATTACHED_MISMATCH = "synthetic_q-x_attached-2-described-1_mig-enabled.xml"
SMI_XML_SAME_BUS_ID = "synthetic_q-x_dual-rtx-2080_same-bus-id-twice.xml"   # GPU 1 reads as 01:00.0 too

SMI_TOPO_2X2080TI_PIX = "D_2x-rtx2080ti_PIX_cpu-numa-affinity_autodl.txt"
SMI_TOPO_4X3090_NV4 = "D_4x-rtx3090-nvlink-pairs_NV4-PHB-NODE_aikitoria-pr18.txt"
SMI_TOPO_8XH100_NV18 = "D_8x-h100-nv18_cpu-affinity_ml-engineering.txt"
SMI_TOPO_L40S_ANSI = "D_l40s-single_topo_ansi_595.txt"
SMI_TOPO_NICS = "synthetic_topo-m_2x-gpu-nv12_2x-nic_nic-legend.txt"
SMI_TOPO_CUT = "synthetic_topo-m_4x-rtx3090_cut-short.txt"
SMI_TOPO_MISSING_CELL = "synthetic_topo-m_4x-rtx3090_row-GPU1-missing-a-cell.txt"
SMI_P2P_2X2080TI_NS = "D_topo-p2p-p_2x-rtx2080ti_NS_autodl.txt"

SMI_ERR_COULDNT_COMMUNICATE = "I_nvidia-smi-failed-couldnt-communicate_shine-cluster-50.txt"
SMI_ERR_MISMATCH_OLD = "I_nvml-driver-library-version-mismatch_old-no-version-line_shine-cluster-30.txt"
SMI_ERR_MISMATCH_NVML_LINE = "I_nvml-driver-library-version-mismatch_with-nvml-version_tinygrad-47.txt"
SMI_ERR_UNKNOWN_CONTAINER = "I_nvml-unknown-error_container-after-daemon-reload_ctk-1227.txt"
SMI_ERR_DEVICE_HANDLE = "I_device-handle-unknown-error_xxd3vin-19.txt"
SMI_ERR_NO_DEVICES = "I_no-devices-were-found_rtx5090_syslog-rminitadapter_partial.txt"
SMI_ERR_DMESG_FALLEN_OFF = "I_dmesg_nvrm-gpu-fallen-off-the-bus_no-xid_nvsentinel-155.txt"
SMI_ERR_DMESG_NOUVEAU = "I_dmesg_nvrm-probe-routine-not-called_nouveau_mattshma-133.txt"
SMI_ERR_CSV_UNKNOWN_FIELD = "I_B_1x-rtx2080ti_query-gpu-nounits_unknown-error-default-limit_mindminer-627.txt"

# nvidia-smi on the Debian 12 test bed without a GPU (measured; /work/shared/TESTBED.md): (rc, message).
SMI_DEBIAN_FULL_DRIVER = (9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                             "Make sure that the latest NVIDIA driver is installed and running.")
SMI_DEBIAN_NO_RECOMMENDS = (17, "Failed to initialize NVML: GPU access blocked by the operating system")
SMI_DEBIAN_SMI_ALONE = (255, "Failed to initialize NVML: Unknown Error")

# --------------------------------------------------------------------------- nccl-tests *_perf output (fixtures/nccl_tests, E_*)

NCCL_10XL40S_WARN_711 = "E_10x-l40s_all_reduce_NCCL-WARN-711-peer-mapping-exhausted_partial.txt"
NCCL_12XV100_OLD_FAILED = "E_12x-v100-sxm3-dgx2_all_gather_old-format_FAILED-4.txt"   # old format, error column
NCCL_1X2080TI_REDUCE_MISALIGNED = "E_1x-rtx2080ti_reduce_misaligned-columns-huge-avg_autodl.txt"
NCCL_1X4090_HANG_USING_DEVICES = "E_1x-rtx4090_all_reduce_hang-at-using-devices_nccl-tests-117.txt"
NCCL_2X2080TI_ALL_REDUCE = "E_2x-rtx2080ti_all_reduce_pix-no-p2p_autodl.txt"
NCCL_2X2080TI_ALLTOALL_NA = "E_2x-rtx2080ti_alltoall_inplace-wrong-NA_autodl.txt"
NCCL_3X3090_WRONG_FAILED = "E_3x-rtx3090-3node_all_reduce_inc_wrong-nonzero-FAILED_stray-line.txt"
NCCL_8X4090_ALL_REDUCE = "E_8x-rtx4090_all_reduce_stock-no-p2p_chlc-blog.txt"
NCCL_64XV100_ALLTOALL_BLANK_REDOP = "E_64x-v100-8node_alltoall_old-format_blank-redop_nccl-tests-78_partial.txt"
NCCL_4XH100_ALLTOALL_BANNER_CUT = "E_4x-h100_alltoall_collective-banner_nccl-tests-2.17.8_nccl-2169_partial.txt"
NCCL_BLANK_REDOP_ERROR_NA = "synthetic_64x-v100_alltoall_old-format_blank-redop_error-NA.txt"   # the above, -c 0
NCCL_AVG_LINE_ONLY = "synthetic_2x-rtx2080ti_alltoall_avg-line-only.txt"                      # no device, no row
NCCL_ABSURD_FIGURES = "synthetic_2x-rtx2080ti_all_reduce_busbw-1e30_negative-time.txt"         # two rows edited

# --------------------------------------------------------------------------- p2pBandwidthLatencyTest / nvbandwidth (fixtures/p2p, F_/G_)

P2P_2X2080TI_CANNOT = "F_2x-rtx2080ti_p2p-cannot-access_full_autodl.txt"              # complete, CANNOT both ways
P2P_POWER9_POWER8 = "F_4x-p100-power8-nvlink-pairs_and_4x-v100-power9_script-comments_partial.txt"  # 2 runs, '#' comments
P2P_4X3090_CANNOT = "F_4x-rtx3090_no-nvlink_p2p-cannot-access_full_kinghorn.txt"      # complete but the final NOTE
P2P_8XA100_WRITES = "F_8x-a100-sxm_p2p-writes-uni-enabled_partial.txt"                # one matrix, '[...]' elisions
P2P_8X4090_STOCK = "F_8x-rtx4090_p2p-unsupported-stock_chlc-blog.txt"                 # no Device lines, trailing spaces
P2P_6X4090_READS = "F_p2pBandwidthLatencyTest_6x-rtx4090-early-driver_P2P-Reads-matrix_nccl-814_PARTIAL.txt"
NVBW_8XA100_ASSERT = "G_8x-a100-sxm4-80gb_d2d-read-ce-assert_v0.7.txt"                # v0.7, ASSERT, no matrix
NVBW_README_WRITE_CE = "G_8x-gpu_readme-example_d2d-write-ce.txt"                     # one 8x8 matrix, no SUM
NVBW_1X3050_LATENCY_NS = "G_1x-rtx3050-laptop_all-testcases_host-device-latency-ns_v0.8.txt"  # 17 SUMs, one in ns
P2P_ABORTED_GLUED = "synthetic_2x-rtx2080ti_p2p_aborted-glued-to-heading.txt"          # 'P2Aborted (core dumped)'
P2P_CUT_MID_MATRIX = "synthetic_4x-rtx3090_p2p_cut-mid-matrix.txt"                     # 2 of 4 rows
P2P_ABSURD_VALUES = "synthetic_2x-rtx2080ti_p2p_negative-bandwidth_1e30-latency.txt"   # two cells edited

# --------------------------------------------------------------------------- ipmitool (fixtures/ipmi, J_/L_)

IPMI_LAN_PRINT_SM_STATIC = "J_ipmitool-lan-print_supermicro-0cc47a-static_go-hal.txt"
IPMI_MC_INFO_SM_X10 = "J_ipmitool-mc-info_supermicro-x10sri-fw3.19_smfc.txt"
IPMI_POWER_ON_REFUSED = "J_ipmitool-chassis-power-on_failed-invalid-command_openbmc-1236.err"  # stderr, rc 1

# --------------------------------------------------------------------------- mokutil --sb-state (fixtures/mokutil, L_)

MOKUTIL_ENABLED = "L_mokutil-sb-state_enabled_ubuntu24.04-rtx4070.txt"
MOKUTIL_DISABLED = "L_mokutil-sb-state_disabled_hwameistor-docs.txt"
MOKUTIL_EFI_NOT_SUPPORTED = "L_mokutil-sb-state_efi-variables-not-supported_legacy-bios_ubuntu-forum-nvidia535.txt"
MOKUTIL_SHIM_VALIDATION_DISABLED = "L_mokutil-sb-state_enabled_validation-disabled-in-shim_systemd-pr-39298.txt"
MOKUTIL_SETUP_MODE = "L_mokutil-sb-state_disabled_setup-mode_system76-firmware-open-388.txt"

# --------------------------------------------------------------------------- Redfish Bios resources (fixtures/redfish, K_)

REDFISH_BIOS_SUPERMICRO_X12 = "K_redfish-bios_supermicro-x12-intel_real-world-fixture_buildio.json"
REDFISH_BIOS_DELL_MX740C = "K_redfish-bios-attributes_dell-poweredge-mx740c_idrac_gather_facts-sample.json"
REDFISH_BIOS_SD_PENDING_SUPERMICRO = "K_redfish-bios-SD-pending_supermicro_buildio.json"   # no Attributes member

# --------------------------------------------------------------------------- driver parts (fixtures/driver, N_)
# /proc/driver/nvidia/version, modinfo nvidia, dpkg-query and dpkg -l.

PROC_PROPRIETARY_580_TRUENAS = "N_proc-version_proprietary_580.173.02_truenas-nvidia-drivers-19.txt"     # NVML lib 580.178
PROC_PROPRIETARY_520_DEBIAN = "N_proc-version_proprietary_520.56.06_debian_machine-shop-70.txt"          # smi pkg 525.85.12
PROC_OPEN_565_UBUNTU = "N_proc-version_open_565.57.01_ubuntu24.04_nixgl-186.txt"
PROC_SYNTHETIC_535_261 = "synthetic_proc-version_proprietary_535.261.03.txt"                            # version edited
MODINFO_NOT_FOUND = "N_modinfo-nvidia_module-not-found_cuda-smi-2.txt"                                   # rc 1
MODINFO_PROPRIETARY_430 = "N_modinfo-nvidia_proprietary_430.40_manjaro_optimus-manager-qt-27_PARTIAL.txt"
MODINFO_OPEN_595 = "N_modinfo-nvidia_open_595.80_dkms-zen_nvidia-all-394_PARTIAL.txt"                    # no vermagic (cut)
MODINFO_SYNTHETIC_535_309 = "synthetic_modinfo-nvidia_535.309.01_debian12-dkms.txt"                     # signed, edited
DPKG_DEBIAN12_535_309 = "N_dpkg-query_debian12_nvidia-driver-535.309.01_no-recommends_testbed.txt"      # measured here
DPKG_DEBIAN12_MIXED = "N_dpkg-query_debian12_libnvidia-ml1-nvidia-smi-535.261.03_rest-535.309.01_testbed.txt"
DPKG_L_DEBIAN12_MIXED = "N_dpkg-l_debian12_libnvidia-ml1-nvidia-smi-535.261.03_rest-535.309.01_testbed.txt"
DPKG_L_SMI_525_DEBIAN = "N_dpkg-l-nvidia-smi_debian_525.85.12-1_machine-shop-70.txt"
DPKG_L_UBUNTU_495_LEFT_BESIDE_510 = \
    "N_dpkg-l_ubuntu_libnvidia-common-495-left-beside-510_nvidia-docker-1628_PARTIAL.txt"
DPKG_L_UBUNTU_550_SERVER_PREBUILT = \
    "N_dpkg-l-grep-nvidia_ubuntu24.04_550-server_linux-modules_gpu-driver-container-186_PARTIAL.txt"
DPKG_L_UBUNTU_470_TRANSITIONAL = "N_dpkg-l_ubuntu20.04_470_transitional-455-460_nvidia-docker-1637_PARTIAL.txt"

# --------------------------------------------------------------------------- kernel guard (fixtures/dkms, fixtures/boot)
# dkms status, grub.cfg, grubenv, modinfo -k: L_ from public notes, testbed-vm_ from this repository's VM test bed.

DKMS2_P100_DIFF_WARNING = "L_dkms-status_dkms2-format_nvidia-396-diff-warning+440-built-only_centos7-p100_broken.txt"
DKMS3_CENTOS7_470 = "L_dkms-status_dkms3-format_nvidia-470.63.01_centos7.txt"
DKMS3_PARROT_TWO_KERNELS = "L_dkms-status_dkms3-format_nvidia-current-550.163.01_two-kernels_parrot.txt"
DKMS_DEBIAN12_TWO_KERNELS_ONE_BUILT = "testbed-container_dkms-status_debian12_nvidia-current-535.309.01_two-kernels_one-built.txt"
BOOT_GRUB_CFG_ONE_KERNEL = "testbed-vm_grub.cfg_debian12_one-kernel_default-0.txt"
BOOT_GRUB_CFG_TWO_KERNELS = "testbed-vm_grub.cfg_debian12_two-kernels_default-saved.txt"
BOOT_GRUBENV_EMPTY = "testbed-vm_grubenv_debian12_empty.txt"
BOOT_MODINFO_NVIDIA_CURRENT = "testbed-container_modinfo-k_debian12_nvidia-current-535.309.01.txt"
BOOT_MODINFO_NVIDIA_NOT_FOUND_DEBIAN = "testbed-container_modinfo-k_debian12_nvidia-not-found-beside-nvidia-current.txt"
BOOT_MODINFO_NOT_FOUND = "testbed-vm_modinfo-k_debian12_not-found.txt"

# --------------------------------------------------------------------------- apt-get install --simulate (fixtures/apt, P_)
# Debian 12's real archive through a temporary apt root; NAME.show is `apt-cache show NAME=VERSION...` of the plan.

APT_DEBIAN_DESKTOP = "P_apt-get-s_debian12_nvidia-driver-role-list_535.309.01.txt"        # 50 Inst, 8 upgrades
APT_DEBIAN_HEADLESS = "P_apt-get-s_debian12_headless-role-list_535.309.01.txt"            # 23 Inst
APT_JUMP = "P_apt-get-s_debian12_jump-repo_nvidia-driver-535.999-to-580.txt"             # local repo: 535 -> 580
APT_JUMP_NO_SMI = "P_apt-get-s_debian12_jump-repo-no-smi_unmet-libnvidia-ml1-580.txt"    # unmet, 580 named
APT_UNKNOWN = "P_apt-get-s_debian12_unable-to-locate.txt"
APT_VERSION_NOT_FOUND = "P_apt-get-s_debian12_version-not-found.txt"
APT_OPEN_UNMET = "P_apt-get-s_debian12_open-flavour_unmet.txt"                           # "or" continuation lines
APT_MIXED_UNMET = "P_apt-get-s_debian12_mixed-535-versions_unmet.txt"                    # 8 relations
APT_MISMATCH_KERNEL_USERSPACE = "P_apt-get-s_debian12_kernel-dkms-535.261.03_userspace-535.309.01.txt"  # apt allows it
APT_CONTAINER_UPGRADE_JUMP = "P_apt-get-s_debian12-container_upgrade-held-535.309_jump-repo-to-580.txt"  # the role's upgrade
APT_CONTAINER_DOWNGRADE_KERNEL = "P_apt-get-s_debian12-container_downgrade-kernel-dkms-535.261.03_remove-held-nvidia-driver.txt"
APT_UBUNTU_465_TO_470 = "P_apt-get-install_ubuntu18.04_unmet_nvidia-driver-465-to-470_data-science-stack-125.txt"
APT_UBUNTU_DPKG_TRANSITIONAL = "P_dpkg-l_ubuntu_transitional-418-430-515_tensorflow-host-packages.txt"
APT_UBUNTU_570_TO_580 = "P_ubuntu24.04_570-server-open_transitional-to-580_aisio-67.txt"

# --------------------------------------------------------------------------- kernel log (fixtures/kernel_log, O_)
# Xid, SXid and AER lines from public reports, in every log format (dmesg -T/-H/--ctime/iso, journal, syslog).

KLOG_AER_FATAL_CANT_RECOVER = "O_dmesg-H_aer-uncorrected-fatal-cmpltto_nvidia-cant-recover_returnn-1500.txt"
KLOG_XID_119_H100 = "O_dmesg-T_xid-119-gsp-rpc-timeout_h100-dell-xe9680_gpud-testdata.txt"
KLOG_XID_13_109 = "O_dmesg-ctime_xid-13-pid-unknown_xid-109_gpud-pr46.txt"
KLOG_SXID_12028 = "O_dmesg-iso-x_sxid-12028-egress-nonposted-priv_nvswitch_gpud-pr338.txt"
KLOG_XID_32_31_OLD = "O_dmesg_xid-32-31-old-format-channel-id_bumblebee-677.txt"
KLOG_AER_CORRECTED_RU = "O_journal-ru_aer-corrected-rxerr-first_intel-9d15_gsconnect-1052_PARTIAL.txt"
KLOG_XID_79 = "O_journal_xid-79-fallen-off-the-bus_rtx5080_ogkm-1151_PARTIAL.txt"
KLOG_XID_45_CAUSED_BY = "O_kernel_xid-45-caused-by-previous-xid-149-145_nvlink5_ogkm-1150_PARTIAL.txt"
KLOG_AER_DLL_TIMEOUT_BADTLP = "O_syslog_aer-correctable-data-link-layer-timeout-badtlp_amd-root-port_pop-3363_PARTIAL.txt"
KLOG_AER_OLD_ID = "O_syslog_aer-old-format-id-receiver-error_intel-9d15_nbfc-181.txt"
KLOG_XID_3_FALLEN_OLD = "O_syslog_xid-3-no-pci-prefix_gpu-fallen-off-the-bus_pastebin-xJaypMZt.txt"
KLOG_XID_69_31 = "O_syslog_xid-69-class-error_xid-31-mmu-fault_pastebin-fTNHmgzB_PARTIAL.txt"
