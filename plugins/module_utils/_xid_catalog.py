# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an NVIDIA Xid code means and what to do about it: data, read by ``_kernel_log``.

Every entry is taken from NVIDIA's Xid catalogue for Ampere and newer GPUs,
https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html (the table "Xids":
code, mnemonic, description and the two "Resolution Bucket" columns, kept here as
``nvidia_immediate`` / ``nvidia_investigatory``). ``action`` and ``status`` are this
collection's reading of that bucket, with ``why`` saying the reason in one line:

* ``action`` is one of :data:`ACTIONS`: ``reboot`` (restart the node: NVIDIA's
  RESTART_BM), ``reset_gpu`` (``nvidia-smi -r`` once no process uses the GPU, or reboot:
  RESET_GPU), ``drain`` (take the node out of service before anything else),
  ``check_application`` (the program did something wrong: RESTART_APP / CHECK_APP),
  ``watch`` (nothing to do now; a repeat or a rising count is the signal), ``none``.
* ``status`` is what one such line does to a health check: ``FAIL`` (the GPU needs the
  action before it is trusted again), ``WARN`` (look, or act when convenient), ``PASS``
  (reported, not a GPU fault: the application's error, or a consequence of another Xid).

``confirmed`` is False where the catalogue marks the code "Unused" for Ampere and newer
GPUs (61, 122, 123): the meaning then comes from the mnemonic and older drivers, and the
judgement is cautious. A code missing here is reported with :data:`UNKNOWN`.
"""

from __future__ import annotations

CATALOG_URL = "https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html"

ACTIONS = ("none", "watch", "check_application", "reset_gpu", "drain", "reboot")

# How strong an action is, for the one a GPU with several findings needs (the strongest).
ACTION_RANK = dict((action, rank) for rank, action in enumerate(ACTIONS))

# What each action asks of a person, for the fix sentences.
ACTION_TEXT = {
    "none": "nothing to do",
    "watch": "watch it: act if it repeats or the count rises",
    "check_application": "check the application that ran (its own error; run it under compute-sanitizer "
                         "or cuda-gdb if it repeats)",
    "reset_gpu": "reset the GPU once no process uses it (nvidia-smi -r -i BUS_ID) or reboot; "
                 "if it comes back after the reset, contact the vendor (RMA)",
    "drain": "drain the node (stop scheduling work on it), then reset the GPU or reboot",
    "reboot": "drain the node and reboot it (power-cycle if the GPU stays missing); check the PCIe slot, "
              "riser and power cables; if it repeats, contact the vendor (RMA)",
}


def _xid(mnemonic, meaning, immediate, investigatory, action, status, why, confirmed=True):
    return {
        "mnemonic": mnemonic,
        "meaning": meaning,
        "nvidia_immediate": immediate,
        "nvidia_investigatory": investigatory,
        "action": action,
        "status": status,
        "why": why,
        "confirmed": confirmed,
        "source": CATALOG_URL,
    }


XIDS = {
    8: _xid("ROBUST_CHANNEL_FIFO_ERROR_IDLE_TIMEOUT", "GPU stopped processing", "RESTART_APP",
            "CONTACT_SUPPORT", "check_application", "WARN",
            "NVIDIA's first step is restarting the application; the GPU itself is not marked bad"),
    13: _xid("ROBUST_CHANNEL_GR_EXCEPTION", "Graphics Engine Exception", "RESTART_APP", "WORKFLOW_XID_13",
             "check_application", "WARN",
             "usually the application's own fault (out-of-bounds access, illegal instruction); rarely hardware"),
    31: _xid("ROBUST_CHANNEL_FIFO_ERROR_MMU_ERR_FLT", "GPU memory page fault", "RESTART_APP", "WORKFLOW_XID_31",
             "check_application", "WARN",
             "an illegal address access, typically an application bug, sometimes a driver or hardware one"),
    32: _xid("ROBUST_CHANNEL_PBDMA_ERROR", "Invalid or corrupted push buffer stream", "RESTART_APP",
             "CHECK_APP/CUDA", "watch", "WARN",
             "NVIDIA: mostly PCIe quality issues, not the application; repeats point at the slot or riser"),
    38: _xid("ROBUST_CHANNEL_FECS_ERR_WATCHDOG_TIMEOUT", "Driver firmware error", "IGNORE", "CONTACT_SUPPORT",
             "watch", "WARN", "NVIDIA says ignore it once; contact support if it repeats"),
    43: _xid("ROBUST_CHANNEL_RESETCHANNEL_VERIF_ERROR", "GPU stopped processing", "IGNORE", "CONTACT_SUPPORT",
             "check_application", "PASS",
             "NVIDIA: an application hit a software-induced fault and had to stop; the GPU stays healthy"),
    45: _xid("ROBUST_CHANNEL_PREEMPTIVE_REMOVAL", "Preemptive cleanup, due to previous errors", "WORKFLOW_XID_45",
             "Solo: RESTART_FM; not solo: IGNORE (follow the other Xid)", "watch", "PASS",
             "the driver tore down an application (Ctrl-C, kill, GPU reset, or another Xid): follow the other Xid"),
    46: _xid("ROBUST_CHANNEL_GPU_TIMEOUT_ERROR", "GPU stopped processing", "RESET_GPU", "CONTACT_SUPPORT",
             "reset_gpu", "FAIL", "NVIDIA's immediate action is a GPU reset"),
    48: _xid("ROBUST_CHANNEL_GPU_ECC_DBE", "Double Bit ECC Error", "WORKFLOW_XID_48", "WORKFLOW_XID_48",
             "reset_gpu", "FAIL",
             "an uncorrectable memory error: NVIDIA says a GPU reset or node reboot is needed to clear it"),
    61: _xid("PMU_BREAKPOINT", "Internal micro-controller breakpoint/warning (PMU)", "CONTACT_SUPPORT",
             "N/A; Unused", "watch", "WARN",
             "marked Unused for Ampere and newer in the catalogue; on older GPUs a PMU warning: watch for 62",
             confirmed=False),
    62: _xid("PMU_HALT_ERROR", "Internal micro-controller halt", "RESET_GPU", "CONTACT_SUPPORT",
             "reset_gpu", "FAIL", "the power-management micro-controller stopped: NVIDIA resets the GPU"),
    63: _xid("INFOROM_DRAM_RETIREMENT_EVENT", "GPU memory remapping event (row remap or page retirement)",
             "IGNORE", "IGNORE", "reset_gpu", "WARN",
             "the GPU handled an ECC error by remapping a row (or retiring a page); the remap takes effect at "
             "the next GPU reset, so reset when convenient"),
    64: _xid("INFOROM_DRAM_RETIREMENT_FAILURE", "GPU memory remapping failure", "RESET_GPU", "CONTACT_SUPPORT",
             "reset_gpu", "FAIL", "the GPU could not remap a failing row: reset, and RMA if it repeats"),
    68: _xid("ROBUST_CHANNEL_NVDEC0_ERROR", "NVDEC0 Exception", "RESTART_APP", "CONTACT_SUPPORT",
             "check_application", "WARN", "a video decoder exception: NVIDIA restarts the application"),
    69: _xid("ROBUST_CHANNEL_GR_CLASS_ERROR", "Graphics Engine class error", "RESTART_APP", "CHECK_APP/CUDA",
             "check_application", "WARN", "NVIDIA points at the application or CUDA first"),
    74: _xid("NVLINK_ERROR", "NVLINK Error", "WORKFLOW_NVLINK_ERR", "CONTACT_SUPPORT", "reset_gpu", "FAIL",
             "an NVLink connection failed: NVIDIA says a GPU reset or node reboot is needed to clear it; it may "
             "be the GPU at the other end of the link"),
    79: _xid("ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS", "GPU has fallen off the bus", "RESTART_BM",
             "CONTACT_SUPPORT", "reboot", "FAIL",
             "the GPU no longer answers on PCIe (link down, power, hardware): only a node restart brings it back"),
    92: _xid("EXCESSIVE_SBE_INTERRUPTS", "High single-bit ECC error rate", "IGNORE", "CONTACT_SUPPORT",
             "watch", "WARN", "corrected errors at a high rate: nothing breaks now, a rising rate predicts failure"),
    94: _xid("ROBUST_CHANNEL_CONTAINED_ERROR", "Contained memory error", "RESTART_APP", "IGNORE (sympathetic)",
             "reset_gpu", "WARN",
             "contained to one application, which must restart; NVIDIA recommends a GPU reset when convenient"),
    95: _xid("ROBUST_CHANNEL_UNCONTAINED_ERROR", "Uncontained memory error", "RESET_GPU", "IGNORE (sympathetic)",
             "drain", "FAIL",
             "affects every application on the GPU: it must be reset before applications can restart"),
    109: _xid("ROBUST_CHANNEL_CTXSW_TIMEOUT_ERROR", "Context Switch Timeout Error", "RESET_GPU", "CONTACT_SUPPORT",
              "reset_gpu", "FAIL", "NVIDIA's immediate action is a GPU reset"),
    119: _xid("GSP_RPC_TIMEOUT", "GSP RPC Timeout", "RESET_GPU", "INVESTIGATE_SW", "reset_gpu", "FAIL",
              "the GPU's GSP firmware stopped answering: reset the GPU, power-cycle the node if it persists"),
    120: _xid("GSP_ERROR", "GSP Error", "RESET_GPU", "INVESTIGATE_SW", "reset_gpu", "FAIL",
              "an error in the GPU's GSP firmware: reset the GPU, power-cycle the node if it persists"),
    122: _xid("SPI_PMU_RPC_READ_FAIL", "SPI flash read through the PMU failed", "CONTACT_SUPPORT",
              "N/A; Unused", "watch", "WARN",
              "marked Unused for Ampere and newer in the catalogue: only the mnemonic says what it is",
              confirmed=False),
    123: _xid("SPI_PMU_RPC_WRITE_FAIL", "SPI flash write through the PMU failed", "CONTACT_SUPPORT",
              "N/A; Unused", "watch", "WARN",
              "marked Unused for Ampere and newer in the catalogue: only the mnemonic says what it is",
              confirmed=False),
    140: _xid("UNRECOVERABLE_ECC_ERROR_ESCAPE", "ECC Unrecovered Error", "RESET_GPU", "CONTACT_SUPPORT",
              "reset_gpu", "FAIL",
              "uncorrectable memory errors the driver could not offline or remap: reset, RMA if it persists"),
    145: _xid("NVLINK_RLW_ERROR", "NVLINK: RLW Error", "WORKFLOW_NVLINK5_ERR", "WORKFLOW_NVLINK5_ERR",
              "reset_gpu", "FAIL", "an NVLink5 error: NVIDIA's NVLink workflow starts with a GPU reset"),
    149: _xid("NVLINK_NETIR_ERROR", "NVLINK: NETIR Error", "WORKFLOW_NVLINK5_ERR", "WORKFLOW_NVLINK5_ERR",
              "reset_gpu", "FAIL", "an NVLink5 error: NVIDIA's NVLink workflow starts with a GPU reset"),
    154: _xid("GPU_RECOVERY_ACTION_CHANGED", "GPU Recovery Action Changed", "XID_154",
              "N/A Informational only regarding another Xid", "watch", "WARN",
              "summarises the recovery another Xid needs; the line names it (read by the parser)"),
}

# Xid 154 says the recovery in words: "... changed from 0x0 (None) to 0x2 (Node Reboot Required)".
RECOVERY_ACTIONS = {
    "none": ("none", "PASS"),
    "drain p2p": ("drain", "WARN"),
    "drain and reset": ("drain", "FAIL"),
    "gpu reset required": ("reset_gpu", "FAIL"),
    "node reboot required": ("reboot", "FAIL"),
}

UNKNOWN = {
    "mnemonic": None,
    "meaning": "an Xid this collection's catalogue does not describe",
    "nvidia_immediate": None,
    "nvidia_investigatory": None,
    "action": "watch",
    "status": "WARN",
    "why": "look the code up in NVIDIA's catalogue (%s)" % CATALOG_URL,
    "confirmed": False,
    "source": CATALOG_URL,
}


def describe(code):
    """The catalogue entry of Xid ``code`` (an int), or :data:`UNKNOWN`; a copy."""
    return dict(XIDS.get(code, UNKNOWN))
