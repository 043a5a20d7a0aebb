#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nvidia_smi_info
short_description: Report NVIDIA GPUs, driver, PCIe/NVLink topology and P2P status from nvidia-smi
version_added: 0.1.0
description:
  - Runs C(nvidia-smi -q -x) once and reports the driver and CUDA versions and, for every GPU,
    its identity (name, UUID, PCI bus id, serial, VBIOS), persistence and compute modes, MIG
    mode, memory, power draw and power limits, PCIe link generation and width, and temperature.
  - Unless O(topology=false), also runs C(nvidia-smi topo -m) once and reports the GPU/NIC
    connection matrix (C(X), C(PIX), C(PXB), C(PHB), C(NODE), C(SYS), C(NV#)), the CPU and NUMA
    affinity of every GPU, and the NIC names.
  - With O(p2p) set, also runs C(nvidia-smi topo -p2p) for that capability and reports the
    peer-to-peer status matrix. No other C(nvidia-smi) call is made.
  - Saved outputs can be read instead (O(xml_path), O(topology_path), O(p2p_path)); with
    O(xml_path) the module never runs C(nvidia-smi).
  - The XML schemas C(nvsmi_device_v10) to C(v13) (drivers 470 to 595 in the test captures) are read
    alike. Fields a driver does not give are null; what the module skips is reported as a warning,
    never as a failure.
  - When C(nvidia-smi) fails the module fails with RV(error_kind) and a message that quotes
    C(nvidia-smi) and says what usually fixes it.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - C(nvidia-smi) from the NVIDIA driver on the target (unless O(xml_path) is used).
options:
  executable:
    description:
      - Name or path of C(nvidia-smi). A bare name is looked up in E(PATH) and the usual driver
        directories (C(/usr/bin), C(/usr/local/nvidia/bin)...).
    type: str
    default: nvidia-smi
  xml_path:
    description:
      - Read this saved C(nvidia-smi -q -x) output instead of running C(nvidia-smi).
      - With it the module runs nothing; the topology and the P2P matrix then come only from
        O(topology_path) and O(p2p_path).
    type: path
  topology:
    description:
      - Whether to report the topology (C(nvidia-smi topo -m), or O(topology_path)).
    type: bool
    default: true
  topology_path:
    description:
      - Read this saved C(nvidia-smi topo -m) output instead of running it. Tab separated or
        tab-expanded text, ANSI escape codes, a leading shell prompt line, NIC rows and a
        C(NIC Legend) are accepted; a matrix cut short keeps the rows and cells it has.
    type: path
  p2p:
    description:
      - Run C(nvidia-smi topo -p2p) with this capability and report the matrix in RV(p2p).
      - V(r) read, V(w) write, V(rw) read and write, V(n) NVLink, V(a) atomics, V(p) PCIe
        (C(prop)). V(none) does not run it.
      - Not run when O(p2p_path) or O(xml_path) is given.
    type: str
    choices: [none, r, w, rw, n, a, p]
    default: none
  p2p_path:
    description:
      - Read this saved C(nvidia-smi topo -p2p r|w|rw|n|a|p) output and report it in RV(p2p).
    type: path
  on_topology_error:
    description:
      - What a failing C(topo -m) or C(topo -p2p) call does. V(fail) fails the module like a failing
        C(-q -x) does; V(warn) keeps what C(-q -x) read, warns, leaves RV(topology) and RV(p2p) null
        and says why in RV(topology_error) (some virtual machines and one-GPU hosts cannot answer
        C(topo)).
    type: str
    choices: [fail, warn]
    default: fail
  timeout:
    description:
      - Seconds each C(nvidia-smi) call may take. After that its whole process group is killed
        and the module fails with RV(error_kind=timeout). A hung GPU can make C(nvidia-smi)
        hang for minutes.
    type: int
    default: 30
extends_documentation_fragment:
  - aiserver.gpu.attributes.read_only
notes:
  - RV(gpus[].index) is the position of the GPU in the C(nvidia-smi) output, which lists GPUs in
    PCI bus order, the order C(nvidia-smi -i) and C(CUDA_DEVICE_ORDER=PCI_BUS_ID) use. The
    C(/dev/nvidiaN) number is RV(gpus[].minor_number); the two can differ.
  - A line such as C(Unable to determine the device handle for GPU 0000:0B:00.0 Unknown Error) or
    C(... GPU is lost) makes the module fail (RV(error_kind=nvml_unknown_error) or
    RV(error_kind=gpu_lost)) even when C(nvidia-smi) describes the other GPUs, because an inventory that
    silently leaves a GPU out would mislead every check built on it. The output is in RV(stdout).
  - A failing C(topo -m) or C(topo -p2p) call fails the module like a failing C(-q -x) does unless
    O(on_topology_error=warn); where the topology is never available (some virtual machines), set
    O(topology=false).
  - When C(attached_gpus) differs from the number of GPUs described, or the topology matrix
    names a different number of GPUs, the module warns.
seealso:
  - name: nvidia-smi documentation
    description: The options and exit codes of nvidia-smi.
    link: https://docs.nvidia.com/deploy/nvidia-smi/index.html
"""

EXAMPLES = r"""
- name: Read the GPUs, the driver and the topology of this host
  aiserver.gpu.nvidia_smi_info:
  register: smi

- name: Check that every GPU runs at PCIe x16
  ansible.builtin.assert:
    that: smi.gpus | map(attribute='pcie_width_max') | select('ne', 16) | list | length == 0

- name: Show which GPU pairs talk over NVLink
  ansible.builtin.debug:
    msg: "{{ smi.topology.matrix }}"

- name: Also read the P2P read capability
  aiserver.gpu.nvidia_smi_info:
    p2p: r
  register: smi

- name: Skip the topology, give a slow host more time
  aiserver.gpu.nvidia_smi_info:
    topology: false
    timeout: 120

- name: Inspect outputs saved on another machine
  aiserver.gpu.nvidia_smi_info:
    xml_path: /tmp/node07-nvidia-smi-q-x.xml
    topology_path: /tmp/node07-topo-m.txt
  delegate_to: localhost

- name: Tell a broken driver from a broken GPU
  aiserver.gpu.nvidia_smi_info:
  register: smi
  failed_when: false

- name: Reboot after a driver upgrade left the old kernel module loaded
  ansible.builtin.reboot:
  when: smi.error_kind | default('') == 'driver_library_mismatch'
  become: true
"""

RETURN = r"""
driver_version:
  description: NVIDIA driver version; null when the XML has none.
  returned: success
  type: str
  sample: "590.44.01"
cuda_version:
  description: Highest CUDA version the driver supports; null when the XML has none.
  returned: success
  type: str
  sample: "13.1"
attached_gpus:
  description: Number of GPUs C(nvidia-smi) says are attached; null when the XML has none.
  returned: success
  type: int
  sample: 2
gpu_count:
  description: Number of GPUs described in RV(gpus).
  returned: success
  type: int
  sample: 2
gpus:
  description: One entry per GPU, in C(nvidia-smi) order. Values C(nvidia-smi) does not give (C(N/A)) are null.
  returned: success
  type: list
  elements: dict
  contains:
    index:
      description: Position in the C(nvidia-smi) output, 0-based (PCI bus order, as C(nvidia-smi -i) counts).
      type: int
      sample: 0
    minor_number:
      description: The N of C(/dev/nvidiaN).
      type: int
      sample: 0
    name:
      description: Product name.
      type: str
      sample: NVIDIA GeForce RTX 2080
    product_brand:
      description: Product brand.
      type: str
      sample: GeForce
    architecture:
      description: GPU architecture (schema v12 and later).
      type: str
      sample: Turing
    uuid:
      description: GPU UUID.
      type: str
      sample: GPU-37037c3f-65c8-ec4d-24a9-420204ad8026
    pci_bus_id:
      description:
        - PCI address, normalised to the lower-case 4-digit-domain form of C(lspci -D) and sysfs
          (C(nvidia-smi) writes C(00000000:2D:00.0)).
      type: str
      sample: "0000:2d:00.0"
    serial:
      description: Board serial number.
      type: str
      sample: "0000000000000"
    vbios_version:
      description: VBIOS version.
      type: str
      sample: 90.04.0B.00.8F
    persistence_mode:
      description: Whether persistence mode is on.
      type: bool
      sample: true
    compute_mode:
      description: Compute mode.
      type: str
      sample: Default
    mig_mode:
      description: Current MIG mode (C(Enabled) or C(Disabled)); null on GPUs without MIG.
      type: str
      sample: Disabled
    mig_mode_pending:
      description: MIG mode after the next GPU reset.
      type: str
      sample: Disabled
    ecc_mode:
      description: Current ECC mode.
      type: str
      sample: Enabled
    performance_state:
      description: Performance state.
      type: str
      sample: P8
    memory_total_mib:
      description: Framebuffer memory in MiB.
      type: int
      sample: 8192
    memory_used_mib:
      description: Framebuffer memory in use, MiB.
      type: int
      sample: 1
    power_limit_w:
      description:
        - Power limit in force, W (C(current_power_limit), on older drivers C(enforced_power_limit)
          or C(power_limit)).
      type: float
      sample: 215.0
    power_requested_limit_w:
      description: Power limit set with C(nvidia-smi -pl), W.
      type: float
      sample: 215.0
    power_default_limit_w:
      description: Default power limit, W.
      type: float
      sample: 215.0
    power_min_limit_w:
      description: Lowest power limit that can be set, W.
      type: float
      sample: 105.0
    power_max_limit_w:
      description: Highest power limit that can be set, W.
      type: float
      sample: 240.0
    power_draw_w:
      description: Power draw, W (instant reading where the driver gives one).
      type: float
      sample: 1.62
    pcie_gen_current:
      description: Current PCIe link generation (GPUs drop to gen 1 when idle).
      type: int
      sample: 1
    pcie_gen_max:
      description: Maximum PCIe link generation of GPU and host together.
      type: int
      sample: 3
    pcie_width_current:
      description: Current PCIe link width (lanes).
      type: int
      sample: 8
    pcie_width_max:
      description: Maximum PCIe link width (lanes).
      type: int
      sample: 16
    temperature_c:
      description: GPU temperature in degrees Celsius.
      type: int
      sample: 38
    fabric_state:
      description: NVLink fabric state (NVSwitch systems); null elsewhere.
      type: str
      sample: Completed
    fabric_status:
      description: NVLink fabric status; null elsewhere.
      type: str
      sample: Success
    fabric_health_summary:
      description: NVLink fabric health summary (NVSwitch systems, recent drivers); null elsewhere.
      type: str
      sample: Healthy
    ecc_mode_pending:
      description: The ECC mode after the next GPU reset (C(Enabled), C(Disabled)); null without ECC.
      type: str
    ecc_errors:
      description:
        - ECC counters as the schema names them, C({"volatile" {LEAF int}, "aggregate" {...}}) (C(sram_correctable),
          C(dram_uncorrectable)..., or the older C(single_bit_device_memory)..., C(single_bit_total)); null without ECC.
      type: dict
    ecc_volatile_correctable:
      description: Correctable ECC errors since the driver loaded (SRAM plus DRAM, or the single-bit total); null without ECC.
      type: int
    ecc_volatile_uncorrectable:
      description: Uncorrectable ECC errors since the driver loaded; null without ECC.
      type: int
    ecc_aggregate_correctable:
      description: Correctable ECC errors over the GPU's life; null without ECC.
      type: int
    ecc_aggregate_uncorrectable:
      description: Uncorrectable ECC errors over the GPU's life; null without ECC.
      type: int
    ecc_sram_threshold_exceeded:
      description: Whether the SRAM error threshold is exceeded (newer schemas); null where not reported.
      type: bool
    retired_pages_single_bit:
      description: Pages retired for multiple single-bit errors (before Ampere); null where not reported.
      type: int
    retired_pages_double_bit:
      description: Pages retired for a double-bit error (before Ampere); null where not reported.
      type: int
    retired_pages_pending:
      description: Whether a page retirement (or blacklisting) waits for the next GPU reset; null where not reported.
      type: bool
    remapped_rows_correctable:
      description: Rows remapped for correctable errors (Ampere and newer); null where not reported.
      type: int
    remapped_rows_uncorrectable:
      description: Rows remapped for uncorrectable errors (Ampere and newer); null where not reported.
      type: int
    remapped_rows_pending:
      description: Whether a row remap waits for the next GPU reset; null where not reported.
      type: bool
    remapped_rows_failure:
      description: Whether a row remap failed (no spare row); null where not reported.
      type: bool
    clocks_event_reasons:
      description:
        - The clock event (throttle) reasons, C(True) when active, by name without the prefix (C(gpu_idle),
          C(sw_power_cap), C(hw_slowdown), C(hw_thermal_slowdown), C(hw_power_brake_slowdown), C(sw_thermal_slowdown)...);
          null when the GPU reports none.
      type: dict
      sample: {"gpu_idle": true, "sw_power_cap": false, "hw_slowdown": false}
topology:
  description:
    - The C(nvidia-smi topo -m) matrix. Null when O(topology=false), or when O(xml_path) is given without O(topology_path).
  returned: success
  type: dict
  contains:
    devices:
      description: Column names in order, GPUs then NICs.
      type: list
      elements: str
      sample: ["GPU0", "GPU1", "NIC0"]
    matrix:
      description:
        - Row name to column name to connection as printed (C(X) self, C(PIX), C(PXB), C(PHB), C(NODE), C(SYS), C(NV12)...).
        - NIC rows included. A row cut short holds only the cells it had.
      type: dict
      sample: {"GPU0": {"GPU0": "X", "GPU1": "NV4"}, "GPU1": {"GPU0": "NV4", "GPU1": "X"}}
    cpu_affinity:
      description: GPU to the CPUs close to it, as printed; null for C(N/A).
      type: dict
      sample: {"GPU0": "0-51,104-155"}
    numa_affinity:
      description: GPU to its NUMA node, as printed; null for C(N/A).
      type: dict
      sample: {"GPU0": "0"}
    gpu_numa_id:
      description: GPU to the NUMA id of the GPU memory itself (Grace Hopper and similar); null for C(N/A). Empty on older drivers.
      type: dict
      sample: {"GPU0": null}
    nics:
      description: The C(NIC Legend), NIC column name to device name; empty without NICs.
      type: dict
      sample: {"NIC0": "mlx5_0"}
    legend:
      description: The C(Legend) entries, abbreviation to meaning.
      type: dict
      sample: {"PIX": "Connection traversing at most a single PCIe bridge"}
p2p:
  description:
    - The C(nvidia-smi topo -p2p) matrix, GPU to GPU to status (C(OK), C(NS) not supported, C(CNS) chipset
      not supported, C(GNS) GPU not supported, C(TNS) topology not supported, C(DR) disabled by regkey,
      C(U) unknown, C(X) self).
    - Null unless O(p2p) or O(p2p_path) is given.
  returned: success
  type: dict
  sample: {"GPU0": {"GPU0": "X", "GPU1": "NS"}, "GPU1": {"GPU0": "NS", "GPU1": "X"}}
topology_error:
  description: Why RV(topology) and RV(p2p) are null with O(on_topology_error=warn) (the failing call's message); null otherwise.
  returned: success
  type: str
  sample: "nvidia-smi topo -m: nvidia-smi failed (rc=3: ...)"
nvidia_smi_calls:
  description: How many times C(nvidia-smi) ran (0 with O(xml_path)).
  returned: always
  type: int
  sample: 2
error_kind:
  description:
    - Why the module failed. V(not_installed) no C(nvidia-smi); V(driver_not_loaded) it could not talk to
      the kernel driver; V(driver_library_mismatch) libraries newer than the loaded kernel module;
      V(nvml_unknown_error) NVML C(Unknown Error); V(gpu_lost) a GPU is lost or fell off the bus;
      V(no_devices) no GPU found; V(access_blocked) NVML access blocked by the operating system;
      V(timeout) O(timeout) passed; V(unparsable) output (or a saved file) that cannot be read, or a
      failure message this module does not know.
  returned: failure
  type: str
  sample: driver_library_mismatch
cmd:
  description: The C(nvidia-smi) command that failed.
  returned: failure, when C(nvidia-smi) ran
  type: list
  elements: str
  sample: ["/usr/bin/nvidia-smi", "-q", "-x"]
rc:
  description: Exit status of the C(nvidia-smi) command that failed; null after a timeout.
  returned: failure, when C(nvidia-smi) ran
  type: int
  sample: 9
stdout:
  description: Standard output of the C(nvidia-smi) command that failed.
  returned: failure, when C(nvidia-smi) ran
  type: str
  sample: ""
stderr:
  description: Standard error of the C(nvidia-smi) command that failed.
  returned: failure, when C(nvidia-smi) ran
  type: str
  sample: "Failed to initialize NVML: Driver/library version mismatch"
"""


from ansible.module_utils.basic import AnsibleModule
from ansible_collections.aiserver.gpu.plugins.module_utils import _module
from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import (
    NvidiaSmiParseError,
    parse_p2p,
    parse_query_xml,
    parse_topology,
)
from ansible_collections.aiserver.gpu.plugins.module_utils import _nvidia_smi_run


def read_saved(module, option):
    return _module.read_saved(module, option, "save the nvidia-smi output there, or leave %s out" % option,
                              error_kind="unparsable", nvidia_smi_calls=len(_nvidia_smi_run.CALLS))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            executable=dict(type="str", default="nvidia-smi"),
            xml_path=dict(type="path"),
            topology=dict(type="bool", default=True),
            topology_path=dict(type="path"),
            p2p=dict(type="str", default="none", choices=["none", "r", "w", "rw", "n", "a", "p"]),
            p2p_path=dict(type="path"),
            on_topology_error=dict(type="str", default="fail", choices=["fail", "warn"]),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 second, got %d." % params["timeout"], nvidia_smi_calls=0)
    offline = bool(params["xml_path"])

    warn = _module.warn_once(module)

    def run(args):
        return _nvidia_smi_run.run_nvidia_smi(module, params["executable"], args, params["timeout"])

    topology_errors = []

    def run_topo(args):
        """A topo call: fails the module, or (on_topology_error=warn) returns None and says why."""
        if params["on_topology_error"] == "fail":
            return run(args)["stdout"]
        res = _nvidia_smi_run.run_raw(module, params["executable"], args, params["timeout"])
        failure = _nvidia_smi_run.failure_of(res, params["timeout"])
        if failure:
            topology_errors.append(failure[1])
            warn("nvidia-smi %s failed; going on without it: %s" % (" ".join(args), failure[1]))
            return None
        return res["stdout"]

    xml_run = None
    if offline:
        xml_text = read_saved(module, "xml_path")
        source = "xml_path %s" % params["xml_path"]
    else:
        xml_run = run(["-q", "-x"])
        xml_text = xml_run["stdout"]
        source = "nvidia-smi -q -x"
    try:
        info = parse_query_xml(xml_text, warn=warn)
    except NvidiaSmiParseError as exc:
        _nvidia_smi_run.unreadable(module, source, exc, xml_run)

    topology = None
    if params["topology"]:
        if params["topology_path"]:
            topology = parse_topology(read_saved(module, "topology_path"), warn=warn)
        elif not offline:
            text = run_topo(["topo", "-m"])
            topology = None if text is None else parse_topology(text, warn=warn)
        if topology is not None:
            gpu_rows = [name for name in topology["devices"] if name.startswith("GPU")]
            if len(gpu_rows) != info["gpu_count"]:
                warn("the topology matrix names %d GPU(s), the -q -x output describes %d"
                     % (len(gpu_rows), info["gpu_count"]))
    elif params["topology_path"]:
        warn("topology_path is ignored because topology is false")

    p2p = None
    if params["p2p_path"]:
        p2p = parse_p2p(read_saved(module, "p2p_path"), warn=warn)["matrix"]
    elif params["p2p"] != "none":
        if offline:
            warn("p2p=%s is not run because xml_path is given; save `nvidia-smi topo -p2p %s` in p2p_path"
                 % (params["p2p"], params["p2p"]))
        else:
            text = run_topo(["topo", "-p2p", params["p2p"]]) if not topology_errors else None
            p2p = None if text is None else parse_p2p(text, warn=warn)["matrix"]

    module.exit_json(
        changed=False,
        driver_version=info["driver_version"],
        cuda_version=info["cuda_version"],
        attached_gpus=info["attached_gpus"],
        gpu_count=info["gpu_count"],
        gpus=info["gpus"],
        topology=topology,
        p2p=p2p,
        topology_error=topology_errors[0] if topology_errors else None,
        nvidia_smi_calls=len(_nvidia_smi_run.CALLS),
    )


if __name__ == "__main__":
    main()
