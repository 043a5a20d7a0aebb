#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: p2p_bandwidth
short_description: Run or read p2pBandwidthLatencyTest / nvbandwidth and report the GPU peer-to-peer matrices
version_added: 0.1.0
description:
  - Runs C(p2pBandwidthLatencyTest) (CUDA samples) or C(nvbandwidth) with a hard timeout, or reads a
    saved log of either, and reports the devices, the P2P connectivity matrix, every bandwidth and
    latency matrix, the C(nvbandwidth) C(SUM) lines and the error lines.
  - The tool is told from the text itself (RV(tool)), not from the file name.
  - Rows are split on white space, so a 4-digit value that leaves one space, numbers glued together
    (C(2494.51364.13)), shell prompt lines, C(#) script comments, C([...]) elisions and ANSI codes are
    read; a log cut short keeps the rows and cells it has. What cannot be placed is reported as a
    warning, never as a failure.
  - What is not evidence does not pass. A text that is neither tool's output (an nccl-tests log,
    nvidia-smi output...) is not read at all; RV(unrecognized) says what it looks like. A matrix
    cut short in the middle is named in RV(incomplete); a value no run can produce (negative,
    beyond any GPU) is refused (RV(refused), the cell null). A crash message the shell glued to a
    partial line (C(P2Aborted (core dumped))) is split; the partial line is read, the crash is an
    error.
  - Every matrix and C(SUM) has its unit in RV(units) (C(GB/s), C(us), or C(ns) for the
    nvbandwidth latency testcases, from the matrix title), so a latency is never taken for a
    bandwidth.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - C(p2pBandwidthLatencyTest) or C(nvbandwidth) on the target when O(executable) is used.
extends_documentation_fragment:
  - aiserver.gpu.attributes.no_diff
options:
  executable:
    description:
      - Path of the C(p2pBandwidthLatencyTest) or C(nvbandwidth) binary to run. A bare name is looked
        up in E(PATH).
      - Exactly one of O(executable) and O(log_path) is required.
    type: path
  args:
    description:
      - Arguments for O(executable), for example C(["-t", "device_to_device_memcpy_read_ce"]) for
        C(nvbandwidth) or C(["--p2p_read"]) for C(p2pBandwidthLatencyTest).
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds the run may take. After that its whole process group is killed, the module reports
        RV(timed_out=true) and whatever the tool printed before.
      - A full C(nvbandwidth) run on 8 GPUs can take several minutes.
    type: int
    default: 600
  log_path:
    description:
      - Read this saved output of C(p2pBandwidthLatencyTest) or C(nvbandwidth) instead of running a
        tool. Nothing is run then.
    type: path
  fail_on_error:
    description:
      - Fail when RV(passed) is false, that is when the run or the log shows an error line, the run
        timed out or exited non-zero, no matrix nor C(SUM) line could be read at all, a matrix is
        cut short, a value was refused, or the text is not output of either tool.
      - The failure still returns everything parsed.
      - With V(false) the module never fails for what the tool reports; check RV(passed).
    type: bool
    default: true
attributes:
  check_mode:
    details:
    - With O(executable) nothing is run in check mode; the module returns C(changed=false), empty results and a
      message. With O(log_path) the log is read as usual.
notes:
  - B(Several runs in one text.) A log appended to, or a file that pastes several samples, holds
    more than one run. A run starts again when the banner, the C(Device) list, the connectivity matrix
    or a matrix heading comes back. Every run is reported in RV(runs); the top-level values describe
    the first run that has a result (a matrix or a C(SUM) line); RV(errors) gathers the error lines of
    all runs, so an error in a later run still makes RV(passed) false.
  - The C(P2P=Enabled) matrices of C(p2pBandwidthLatencyTest) are measured whether or not P2P is
    available; without P2P access the copies go through host memory. Read them together with
    RV(p2p_access), and compare them with the C(P2P=Disabled) ones (an early driver could report P2P
    while the enabled path was slower than the disabled one).
  - The tool's output is read through a pipe, so output it still held in its buffer when it was killed
    after O(timeout) is lost.
  - The tool runs with E(LC_ALL=C); stderr is merged into stdout, in order.
seealso:
  - name: nvbandwidth
    description: NVIDIA's tool for measuring bandwidth on NVIDIA GPUs.
    link: https://github.com/NVIDIA/nvbandwidth
  - name: p2pBandwidthLatencyTest
    description: The CUDA sample that measures P2P bandwidth and latency between GPU pairs.
    link: https://github.com/NVIDIA/cuda-samples/tree/master/Samples/5_Domain_Specific/p2pBandwidthLatencyTest
"""

EXAMPLES = r"""
- name: Measure P2P bandwidth and latency between all GPU pairs
  aiserver.gpu.p2p_bandwidth:
    executable: /opt/cuda-samples/bin/p2pBandwidthLatencyTest
    timeout: 900
  register: p2p

- name: Check that every GPU pair has P2P access
  ansible.builtin.assert:
    that: p2p.p2p_access | flatten | select('equalto', false) | list | length == 0
    fail_msg: "{{ p2p.msg }}"

- name: Run one nvbandwidth testcase
  aiserver.gpu.p2p_bandwidth:
    executable: nvbandwidth
    args: ["-t", "device_to_device_memcpy_read_ce"]
  register: nvbw

- name: Show the total device-to-device read bandwidth
  ansible.builtin.debug:
    msg: "{{ nvbw.sums.device_to_device_memcpy_read_ce }} GB/s"

- name: Read a log saved on another machine, report instead of failing
  aiserver.gpu.p2p_bandwidth:
    log_path: /tmp/node07-p2pBandwidthLatencyTest.log
    fail_on_error: false
  delegate_to: localhost
  register: saved

- name: Show the unidirectional P2P write bandwidth from GPU 0
  ansible.builtin.debug:
    msg: "{{ saved.matrices.unidirectional_p2p_enabled_gbps[0] }}"
  when: "'unidirectional_p2p_enabled_gbps' in saved.matrices"
"""

RETURN = r"""
tool:
  description: The tool whose output was read, V(p2pBandwidthLatencyTest) or V(nvbandwidth); null when the text is neither.
  returned: always
  type: str
  sample: p2pBandwidthLatencyTest
device_count:
  description: Number of C(Device) lines, else the width of the widest matrix; null when the text has neither.
  returned: always
  type: int
  sample: 2
devices:
  description: One entry per C(Device) line, as printed; empty when the log does not print them.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: CUDA device index.
      type: int
      sample: 0
    name:
      description: Device name.
      type: str
      sample: NVIDIA GeForce RTX 2080 Ti
    pci_bus_id:
      description:
        - PCI bus id as printed, V(b4) for C(pciBusID) of C(p2pBandwidthLatencyTest), V(00000000:34:00)
          (domain, bus, device) for C(nvbandwidth).
      type: str
      sample: b4
    pci_device_id:
      description: C(pciDeviceID) as printed (C(p2pBandwidthLatencyTest) only).
      type: str
      sample: "0"
    pci_domain_id:
      description: C(pciDomainID) as printed (C(p2pBandwidthLatencyTest) only).
      type: str
      sample: "0"
    pci_address:
      description:
        - The PCI address in the lower-case form of C(lspci -D), the function taken as 0 (a CUDA device
          is function 0).
      type: str
      sample: "0000:b4:00.0"
p2p_access:
  description:
    - N x N booleans, row device to column device, from the C(P2P Connectivity Matrix); without it, built
      from the C(Device=0 CAN/CANNOT Access Peer Device=1) lines (diagonal true, pairs not printed null).
    - Null when the log has neither.
  returned: always
  type: list
  elements: list
  sample: [[true, false], [false, true]]
matrices:
  description:
    - Matrix name to rows, each row the list of values of one source device (row index = device index as
      printed), floats, null for C(N/A). A matrix cut short has fewer rows, or a shorter last row.
    - Only matrices with at least one row are present.
    - For C(p2pBandwidthLatencyTest) the names are C(unidirectional_p2p_disabled_gbps),
      C(unidirectional_p2p_enabled_gbps) (C(P2P Writes), or the older heading without it),
      C(unidirectional_p2p_enabled_reads_gbps) (C(P2P Reads), with C(--p2p_read)),
      C(bidirectional_p2p_disabled_gbps), C(bidirectional_p2p_enabled_gbps),
      C(bidirectional_p2p_enabled_reads_gbps), C(latency_gpu_p2p_disabled_us), C(latency_cpu_p2p_disabled_us),
      C(latency_gpu_p2p_enabled_us), C(latency_cpu_p2p_enabled_us) (C(P2P Writes)),
      C(latency_gpu_p2p_enabled_reads_us) and C(latency_cpu_p2p_enabled_reads_us) (C(P2P Reads)).
    - For C(nvbandwidth) the names are the testcase names (C(device_to_device_memcpy_read_ce)...), taken
      from the C(Running ...) line, or from the C(SUM) line when that is missing. Host testcases have one
      row (the CPU) with one value per GPU.
  returned: always
  type: dict
  sample: {"unidirectional_p2p_enabled_gbps": [[538.62, 5.72], [5.72, 532.54]]}
sums:
  description: C(nvbandwidth) testcase name to its C(SUM) value; empty for C(p2pBandwidthLatencyTest).
  returned: always
  type: dict
  sample: {"device_to_device_memcpy_write_ce": 17683.52}
errors:
  description:
    - The error lines of every run, as printed (C(ASSERT ...), C(CUDA error ...), C(cudaErrorPeerAccessUnsupported),
      C([CUDA_ERROR_...]), C(ERROR:), C(FAILED), data verification failures...).
    - In run mode, also a line for a non-zero exit status.
  returned: always
  type: list
  elements: str
  sample: ["ASSERT in expression h_errorFlag == 0 in void memcmpPatternHelper(...)() : memcpy.cpp:165"]
units:
  description:
    - Matrix name or testcase (every key of RV(matrices) and RV(sums)) to its unit, V(GB/s) for
      bandwidths, V(us) for the p2pBandwidthLatencyTest latencies, V(ns) for the nvbandwidth latency
      testcases (from the matrix title); null when the title was not printed.
  returned: always
  type: dict
  sample: {"device_to_device_memcpy_write_ce": "GB/s", "device_to_device_latency_sm": "ns"}
refused:
  description:
    - One sentence per value no run can produce (negative, or beyond 1e6 GB/s, 1e9 us/ns, 1e9 for a
      C(SUM)), naming the matrix, row and column; the cell is null in RV(matrices), such a C(SUM) is
      left out of RV(sums).
  returned: always
  type: list
  elements: str
  sample: ["unidirectional_p2p_enabled_gbps row 0 column 1: -5.72 GB/s is negative; not taken as a result"]
incomplete:
  description: One sentence per matrix cut short (fewer rows than columns, a missing row, a row with fewer values).
  returned: always
  type: list
  elements: str
  sample: ["latency_gpu_p2p_enabled_us row 1 has 1 of 2 values"]
unrecognized:
  description:
    - Null, or, when the text is neither tool's output, why, naming what it looks like (C(it looks like
      nccl-tests output ...)). Nothing of such a text is read.
  returned: always
  type: str
  sample: "it looks like nccl-tests output (# nThread, # Rank, # Avg bus bandwidth lines): give it to aiserver.gpu.nccl_test"
testcases:
  description: The C(nvbandwidth) testcases in the order they ran (C(Running) or C(SUM) lines); empty for C(p2pBandwidthLatencyTest).
  returned: always
  type: list
  elements: str
  sample: ["device_to_device_memcpy_read_ce"]
versions:
  description:
    - What C(nvbandwidth) prints about itself and the system, as printed, under the keys V(tool)
      (C(nvbandwidth Version)), V(git), V(cuda_runtime), V(cuda_driver), V(driver) and V(host) (the host name
      nvbandwidth 0.8 and later print). Empty when not printed.
  returned: always
  type: dict
  sample: {"tool": "v0.7", "git": "v0.7", "cuda_runtime": "12040", "cuda_driver": "12040", "driver": "550.127.08"}
passed:
  description:
    - True when at least one matrix or C(SUM) line was read and there is no error line, no refused value, no
      matrix cut short, no timeout and no non-zero exit status.
  returned: always
  type: bool
  sample: true
runs:
  description:
    - One entry per run found in the text, in order, each with the keys RV(tool), RV(device_count), RV(devices),
      RV(p2p_access), RV(matrices), RV(sums), RV(errors), RV(refused) and RV(incomplete) (of that run only),
      RV(testcases), RV(versions), RV(units) and RV(passed) (of that run only).
    - Usually one entry; see the notes for texts that hold several runs.
  returned: always
  type: list
  elements: dict
  sample: [{"tool": "p2pBandwidthLatencyTest", "device_count": 2, "passed": true}]
timed_out:
  description: Whether the run was killed after O(timeout) seconds. Always false with O(log_path).
  returned: always
  type: bool
  sample: false
rc:
  description: Exit status of the tool; null when it timed out or did not run (check mode).
  returned: when O(executable) is given
  type: int
  sample: 0
cmd:
  description: The command run (or that would run, in check mode).
  returned: when O(executable) is given
  type: list
  elements: str
  sample: ["/usr/local/bin/nvbandwidth", "-t", "device_to_device_memcpy_read_ce"]
log:
  description: The tool output or the log read, its last 64 KiB.
  returned: always
  type: str
  sample: "[P2P (Peer-to-Peer) GPU Bandwidth Latency Test]\n..."
msg:
  description: One sentence saying what the run or the log shows.
  returned: always
  type: str
  sample: "p2pBandwidthLatencyTest passed: 2 GPUs, 8 matrices, P2P access on 0 of 2 GPU pairs."
"""


from ansible.module_utils.basic import AnsibleModule
from ansible_collections.aiserver.gpu.plugins.module_utils import _module
from ansible_collections.aiserver.gpu.plugins.module_utils._p2p_bandwidth import (
    log_tail,
    parse_p2p_log,
    summarize,
)
from ansible_collections.aiserver.gpu.plugins.module_utils._runner import describe, find_executable, run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            executable=dict(type="path"),
            args=dict(type="list", elements="str", default=[]),
            timeout=dict(type="int", default=600),
            log_path=dict(type="path"),
            fail_on_error=dict(type="bool", default=True),
        ),
        mutually_exclusive=[["executable", "log_path"]],
        required_one_of=[["executable", "log_path"]],
        supports_check_mode=True,
    )
    params = module.params
    warn = _module.warn_once(module)

    result = parse_p2p_log("")
    result.update(changed=False, timed_out=False, log="")

    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 second, got %d." % params["timeout"], **result)

    if params["log_path"]:
        text = _module.read_saved(module, "log_path", "save the p2pBandwidthLatencyTest or nvbandwidth output there",
                                  **result)
        rc, timed_out, ended = None, False, None
    else:
        path = find_executable(params["executable"])
        cmd = [path or params["executable"]] + list(params["args"])
        result.update(cmd=cmd, rc=None)
        if path is None:
            module.fail_json(msg="executable %s is not an executable file on this host; build or install "
                             "p2pBandwidthLatencyTest (CUDA samples) or nvbandwidth, or give its path."
                             % params["executable"], **result)
        if module.check_mode:
            result["msg"] = "Check mode: %s was not run." % " ".join(cmd)
            module.exit_json(failed=False, **result)
        ran = run(cmd, params["timeout"], merge_stderr=True)
        if ran["error"]:
            module.fail_json(msg="%s." % describe(ran), **result)
        text, rc, timed_out = ran["stdout"], ran["rc"], ran["timed_out"]
        ended = describe(ran, timeout=params["timeout"])

    result.update(parse_p2p_log(text, warn=warn))
    if rc not in (None, 0) and ended:
        result["errors"].append(ended)
    if "cmd" in result:
        result["rc"] = rc
    result["timed_out"] = timed_out
    result["passed"] = bool(result["passed"]) and not result["errors"] and not timed_out
    result["log"] = log_tail(text)
    result["msg"] = summarize(result, timed_out=timed_out, timeout=params["timeout"], rc=rc)
    if params["fail_on_error"] and not result["passed"]:
        module.fail_json(**result)
    # Explicit: without it Ansible reads a non-zero (or null) rc as a failure, and
    # fail_on_error=false would still fail the task.
    module.exit_json(failed=False, **result)


if __name__ == "__main__":
    main()
