#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nccl_test
short_description: Run an NVIDIA nccl-tests benchmark (all_reduce_perf...) with a hard timeout and judge its output
version_added: 0.1.0
description:
  - Runs one nccl-tests binary (O(executable), for example C(all_reduce_perf), with O(args) and
    O(env)) in its own process group and reads what it prints; or reads a saved log of such a
    run (O(log_path)) and runs nothing.
  - Reports the devices of the C(# Rank) lines, one entry per size of the result table (time,
    algorithm and bus bandwidth, wrong values, out-of-place and in-place), the average and the
    highest bus bandwidth, the sum of the wrong values, and the error lines (C(NCCL WARN),
    C(Test failure), C(Test NCCL failure), C(# Out of bounds values ... FAILED)).
  - The run B(passed) when the C(# Avg bus bandwidth) summary line was reached, at least one
    result row was read, no value was wrong, no error line was printed and no figure was refused.
    Otherwise the module fails (unless O(fail_on_error=false)) and still returns everything it
    read. A log with the summary line but no readable row is not a pass, it is no evidence.
  - Figures no run can produce (a negative time, bandwidth or count, an algorithm bandwidth above
    what the row's size and time allow, a bus bandwidth above twice the algorithm bandwidth, an
    average above every row) are refused; the row is left out of RV(results) and named in
    RV(refused), and the run does not pass.
  - The collective (RV(collective)) comes from the C(# Collective test starting) line of
    nccl-tests 2.14+, else from the name of O(executable), else from a command line echoed in
    the log.
  - A run still going after O(timeout) seconds is killed, its whole process group included, and
    reported as a hang. When the devices were listed and no result row followed, the message
    names the classic cause, a broken GPU peer-to-peer (P2P) path.
  - Old (about 2019, C(error) column, no C(Group) in the rank lines, no C(redop)/C(root) for
    C(all_gather)) and new (C(# nccl-tests version) line, C(#wrong) column, C(N/A) wrong values,
    per-iteration columns) output formats are read; the columns are taken from the column
    header, not from fixed positions. A C(redop) printed blank (C(alltoall) in the older
    format, one token fewer than the header names) is read by counting the columns from the
    end of the line. Noise before the run (shell prompt, ssh or UCX warnings,
    C(NCCL INFO) lines), stray lines in the table, numbers in scientific notation and logs cut
    short are accepted; lines of the run that are not understood are reported as warnings.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - With O(executable), a built nccl-tests binary (U(https://github.com/NVIDIA/nccl-tests)) and
    the NCCL and CUDA libraries it needs on the target.
extends_documentation_fragment:
  - aiserver.gpu.attributes.no_diff
options:
  executable:
    description:
      - Path of the nccl-tests binary to run, for example C(/opt/nccl-tests/build/all_reduce_perf).
        A bare name is looked up in E(PATH).
      - Exactly one of O(executable) and O(log_path) is required.
    type: path
  args:
    description:
      - Arguments given to O(executable), one list item each (no shell), for example
        V([-b, 8, -e, 128M, -f, 2, -g, 2]).
      - Ignored with O(log_path).
    type: list
    elements: str
    default: []
  env:
    description:
      - Environment variables added to the environment of O(executable), for example
        C(NCCL_P2P_DISABLE) V(1) or C(NCCL_DEBUG) V(INFO). Values are turned into strings
        (V(true)/V(false) into V(1)/V(0)); a null value removes the variable.
      - Ignored with O(log_path).
    type: dict
    default: {}
  timeout:
    description:
      - Seconds the run may take. After that its whole process group is killed and the run is
        reported as a hang (RV(timed_out)).
      - Large sizes (C(-e 8G)) on slow links need more than the default.
    type: int
    default: 600
  log_path:
    description:
      - Read this saved output of an nccl-tests run instead of running anything.
      - Exactly one of O(executable) and O(log_path) is required.
    type: path
  fail_on_error:
    description:
      - Fail the task when the run did not pass (RV(passed=false)). The failed result still
        holds everything that was read.
      - With V(false) the task succeeds and RV(passed) tells the verdict.
    type: bool
    default: true
attributes:
  check_mode:
    details:
    - With O(executable) nothing is run in check mode, and a missing executable is no error (an earlier task may
      build it); the result has RV(cmd), C(skipped=true) and a message. With O(log_path) the log is read as usual.
notes:
  - The module never reports a change; a benchmark changes nothing on the host.
  - Standard error of the run is read together with standard output, in the order printed.
  - The run goes through C(stdbuf -oL -eL) where coreutils' C(stdbuf) is installed, so that the
    lines a hanging binary printed are not lost in its output buffer.
  - A run that exits with a nonzero status counts as an error even when its table is complete.
    A binary that cannot start because a shared library is missing (C(libnccl.so.2),
    C(libcudart.so.12)...) is said so in RV(msg), naming the library.
  - Where GPU peer-to-peer traffic is announced but does not get through (PCIe ACS or the IOMMU
    redirecting it, a root complex that does not forward it), a run hangs right after the
    C(# Rank) lines. C(NCCL_P2P_DISABLE=1) in O(env) makes NCCL go through host memory; if the
    run then passes, the P2P path is the cause (see M(aiserver.gpu.pci_acs)).
  - With a single GPU the in-place bus bandwidth of some tests is meaningless (a copy that is
    skipped), so RV(max_busbw_gbps) and RV(avg_busbw_gbps) can be absurdly high.
seealso:
  - module: aiserver.gpu.nvidia_smi_info
  - module: aiserver.gpu.pci_acs
  - name: nccl-tests performance notes
    description: What algbw and busbw mean for each collective.
    link: https://github.com/NVIDIA/nccl-tests/blob/master/doc/PERFORMANCE.md
"""

EXAMPLES = r"""
- name: All-reduce across 2 GPUs, 8 B to 128 MiB
  aiserver.gpu.nccl_test:
    executable: /opt/nccl-tests/build/all_reduce_perf
    args: [-b, "8", -e, 128M, -f, "2", -g, "2"]
    timeout: 300
  register: nccl

- name: Show the bus bandwidth
  ansible.builtin.debug:
    msg: "{{ nccl.avg_busbw_gbps }} GB/s average, {{ nccl.max_busbw_gbps }} GB/s at best"

- name: Same run with P2P disabled, to tell a broken P2P path from a broken GPU
  aiserver.gpu.nccl_test:
    executable: /opt/nccl-tests/build/all_reduce_perf
    args: [-b, "8", -e, 128M, -f, "2", -g, "2"]
    env:
      NCCL_P2P_DISABLE: "1"
    fail_on_error: false
  register: nccl_no_p2p

- name: Judge a log saved on another machine
  aiserver.gpu.nccl_test:
    log_path: /tmp/node07-all_reduce_perf.log
  delegate_to: localhost

- name: Require a bus bandwidth
  ansible.builtin.assert:
    that: nccl.avg_busbw_gbps >= 20
    fail_msg: "{{ nccl.msg }}"
"""

RETURN = r"""
msg:
  description:
    - "The verdict in one sentence: C(passed ...); C(N wrong values ...); the refused figures; that
      no result row could be read; how the run ended when it could not start (a missing shared
      library named); the hang sentence
      (C(no output after the devices were listed for N s: the classic broken-P2P hang; re-run
      with NCCL_P2P_DISABLE=1 to confirm)); C(NCCL errors ...); or that the output ends before
      the summary line."
    - In check mode with O(executable), that nothing was run.
  returned: always
  type: str
  sample: "passed: 25 sizes on 8 GPU(s), avg bus bandwidth 4.85265 GB/s, max 15.04 GB/s"
passed:
  description:
    - The summary line was reached, at least one result row was read, no value was wrong, and
      RV(errors) and RV(refused) are empty.
  returned: when the output was read (not in check mode with O(executable))
  type: bool
  sample: true
completed:
  description: The C(# Avg bus bandwidth) summary line was reached.
  returned: when the output was read (not in check mode with O(executable))
  type: bool
  sample: true
devices:
  description: One entry per C(# Rank) line, in the order printed.
  returned: when the output was read (not in check mode with O(executable))
  type: list
  elements: dict
  contains:
    rank:
      description: NCCL rank.
      type: int
      sample: 0
    host:
      description: Host name as printed.
      type: str
      sample: node07
    pid:
      description: Process id of the rank.
      type: int
      sample: 12345
    device:
      description: CUDA device number in that process.
      type: int
      sample: 0
    bus_id:
      description: PCI bus id as printed (C(0x01) by older versions, C(0000:95:00) by newer ones).
      type: str
      sample: "0000:b4:00"
    name:
      description: Product name; null when the line has none.
      type: str
      sample: NVIDIA GeForce RTX 4090
results:
  description: One entry per row of the result table, in the order printed.
  returned: when the output was read (not in check mode with O(executable))
  type: list
  elements: dict
  contains:
    size_bytes:
      description: Message size in bytes.
      type: int
      sample: 134217728
    count:
      description: Number of elements.
      type: int
      sample: 33554432
    type:
      description: Data type.
      type: str
      sample: float
    redop:
      description: Reduction operation (C(sum), C(none)...); null when the format has no such column or prints it blank.
      type: str
      sample: sum
    root:
      description: Root rank (C(-1) when the collective has none); null when the format has no such column.
      type: int
      sample: -1
    out_of_place:
      description: Out-of-place figures.
      type: dict
      contains:
        time_us:
          description: Time in microseconds; null for C(nan)/C(inf).
          type: float
          sample: 16253.0
        algbw_gbps:
          description: Algorithm bandwidth, GB/s.
          type: float
          sample: 8.26
        busbw_gbps:
          description: Bus bandwidth, GB/s.
          type: float
          sample: 14.45
        wrong:
          description: Number of wrong values; null for C(N/A) and in the old format (see RV(results[].out_of_place.error)).
          type: int
          sample: 0
        error:
          description: Old format only (C(error) column, about 2019), the largest error as a float; not a count.
          type: float
          returned: with the old format
          sample: 0.0
    in_place:
      description: In-place figures, the same keys as RV(results[].out_of_place).
      type: dict
      sample: {"time_us": 16227.0, "algbw_gbps": 8.27, "busbw_gbps": 14.47, "wrong": 0}
avg_busbw_gbps:
  description: The C(# Avg bus bandwidth) value, GB/s; null when the output has no summary line.
  returned: when the output was read (not in check mode with O(executable))
  type: float
  sample: 4.85265
max_busbw_gbps:
  description: Highest bus bandwidth over both placements and all rows, GB/s; null without rows.
  returned: when the output was read (not in check mode with O(executable))
  type: float
  sample: 15.04
refused:
  description:
    - One sentence per result row (or summary figure) whose figures no run can produce, naming its
      line and size and why (negative, above size/time, bus bandwidth above twice the algorithm
      bandwidth, average above every row). Those rows are not in RV(results).
  returned: when the output was read (not in check mode with O(executable))
  type: list
  elements: str
  sample: ["line 28, the row of 1048576 bytes: out-of-place bus bandwidth 1e+30 GB/s is more than twice the algorithm
            bandwidth 3.75 GB/s (no collective moves more); not taken as evidence"]
collective:
  description:
    - The collective tested, V(all_reduce), V(alltoall), V(sendrecv)..., from the log's
      C(# Collective test starting) line, else the name of O(executable), else a command line in
      the log; null when none tells.
  returned: when the output was read (not in check mode with O(executable))
  type: str
  sample: all_reduce
validated:
  description:
    - Whether any result row has a C(#wrong) count or an C(error) value, that is whether the data were
      checked. False when every one is C(N/A) (data checking off, C(-c 0)); a pass then says nothing
      about the correctness of the results.
  returned: when the output was read (not in check mode with O(executable))
  type: bool
  sample: true
wrong_total:
  description: Sum of the wrong-value counts (C(N/A) and old-format errors not counted).
  returned: when the output was read (not in check mode with O(executable))
  type: int
  sample: 0
errors:
  description:
    - Error lines as printed (C(NCCL WARN), C(Test failure), C(Test NCCL failure), C(Test timeout), C(# error),
      C(# Out of bounds values ... FAILED), C(# Avg bus bandwidth ... FAILED)).
    - When O(executable) ran, also the hang sentence after a timeout and a sentence for a nonzero
      exit status.
  returned: when the output was read (not in check mode with O(executable))
  type: list
  elements: str
  sample: ["# Out of bounds values : 4 FAILED"]
timed_out:
  description: The run was killed after O(timeout) seconds; always false with O(log_path).
  returned: always
  type: bool
  sample: false
rc:
  description: Exit status of the run; null after a timeout or in check mode.
  returned: when O(executable) is given
  type: int
  sample: 0
cmd:
  description: The command that ran (or, in check mode, would run).
  returned: when O(executable) is given
  type: list
  elements: str
  sample: ["/opt/nccl-tests/build/all_reduce_perf", "-b", "8", "-e", "128M", "-f", "2", "-g", "2"]
log:
  description: The text that was read (output of the run, or the file), its last 64 KiB when longer.
  returned: when the output was read (not in check mode with O(executable))
  type: str
  sample: "# nThread 1 nGpus 2 minBytes 8 maxBytes 134217728 ..."
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.aiserver.gpu.plugins.module_utils import _module
from ansible_collections.aiserver.gpu.plugins.module_utils._nccl_tests import parse_nccl_log
from ansible_collections.aiserver.gpu.plugins.module_utils._runner import describe, find_executable, line_buffered, run

LOG_LIMIT = 64 * 1024
P2P_HANG = ("no output after the devices were listed for %d s: the classic broken-P2P hang; "
            "re-run with NCCL_P2P_DISABLE=1 to confirm")


def tail(text, limit=LOG_LIMIT):
    """The last ``limit`` bytes of ``text`` (UTF-8), as text."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[-limit:].decode("utf-8", "ignore")


def env_value(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def resolve(module, executable):
    """The path of ``executable``; fails the module when there is none, except in check mode
    (where an earlier task may not have built it yet), which gets None."""
    path = find_executable(executable)
    if path:
        return path
    if module.check_mode:
        return None
    module.fail_json(
        msg="executable %s is not an executable file on this host; build nccl-tests "
            "(git clone https://github.com/NVIDIA/nccl-tests && make -C nccl-tests) and give the path of "
            "the binary, e.g. /opt/nccl-tests/build/all_reduce_perf, or use log_path to read a saved log."
            % executable, cmd=[executable], timed_out=False, rc=None)
    return None  # not reached


def hang_sentence(parsed, silent_s, timeout):
    if parsed["completed"]:
        return "the run printed its summary but did not exit within %d s and was killed" % timeout
    if parsed["results"]:
        return ("no output for %d s after the row of %d bytes: killed after the timeout of %d s in the middle of "
                "the table; raise timeout for large sizes, or suspect a hang at the next size"
                % (silent_s, parsed["results"][-1]["size_bytes"], timeout))
    if parsed["devices"]:
        return P2P_HANG % silent_s
    if parsed["using_devices"]:
        return ("no output after '# Using devices' for %d s: a GPU did not answer; if nvidia-smi hangs too, "
                "the GPU is wedged and the host needs a reboot" % silent_s)
    return "no output from the run for %d s: killed after the timeout of %d s" % (silent_s, timeout)


def verdict(parsed, timed_out, hang, ended=None):
    if timed_out:
        return hang
    if ended and not parsed["results"] and parsed["errors"] == [ended]:
        # The program printed no table and no error of its own: how it ended is the news (a
        # missing shared library, a crash...).
        return ended
    summary_errors = [line for line in parsed["errors"]
                      if line.startswith("#") and ("Out of bounds" in line or "Avg bus bandwidth" in line)]
    other_errors = [line for line in parsed["errors"] if line not in summary_errors]
    if other_errors:
        return "NCCL errors: %d error line(s), the first: %s" % (len(other_errors), other_errors[0])
    if parsed["refused"]:
        return ("refused: %d figure(s) no run can produce, so the log is no evidence; the first: %s"
                % (len(parsed["refused"]), parsed["refused"][0]))
    if parsed["wrong_total"]:
        return "%d wrong values%s" % (parsed["wrong_total"],
                                      " (%s)" % "; ".join(summary_errors) if summary_errors else "")
    if summary_errors:
        return "failed: %s" % "; ".join(summary_errors)
    if not parsed["completed"]:
        if parsed["devices"] and not parsed["results"]:
            return ("the output ends after the devices were listed, before any result: the run was cut short or "
                    "hung (the classic broken-P2P hang; re-run with NCCL_P2P_DISABLE=1 to confirm)")
        return "the output ends before the '# Avg bus bandwidth' summary line (%d result row(s)): the run was cut short" \
            % len(parsed["results"])
    if not parsed["results"]:
        return ("no result row could be read: the output has the '# Avg bus bandwidth' summary line but no row of "
                "the result table%s, so it is no evidence that the collective ran"
                % ("" if parsed["devices"] else " and no '# Rank' device line"))
    gpus = ("%d GPU(s)" % len(parsed["devices"])) if parsed["devices"] else "GPUs the log does not list"
    text = "passed: %d sizes on %s, avg bus bandwidth %s GB/s, max %s GB/s" % (
        len(parsed["results"]), gpus, parsed["avg_busbw_gbps"], parsed["max_busbw_gbps"])
    if not parsed["validated"]:
        text += "; the values were not checked (#wrong N/A in every row: data checking off, -c 0)"
    return text


def main():
    module = AnsibleModule(
        argument_spec=dict(
            executable=dict(type="path"),
            args=dict(type="list", elements="str", default=[]),
            env=dict(type="dict", default={}),
            timeout=dict(type="int", default=600),
            log_path=dict(type="path"),
            fail_on_error=dict(type="bool", default=True),
        ),
        mutually_exclusive=[["executable", "log_path"]],
        required_one_of=[["executable", "log_path"]],
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 second, got %d." % params["timeout"], timed_out=False)

    warn = _module.warn_once(module)

    extra = {}
    timed_out = False
    ended = None
    if params["log_path"]:
        path = params["log_path"]
        text = _module.read_saved(module, "log_path", "save the output of the nccl-tests run there (e.g. "
                                  "./build/all_reduce_perf -g 2 2>&1 | tee %s), or use executable to run it" % path,
                                  timed_out=False)
        parsed = parse_nccl_log(text, warn=warn)
    else:
        path = resolve(module, params["executable"])
        cmd = [path or params["executable"]] + [str(arg) for arg in params["args"]]
        extra["cmd"] = cmd
        if module.check_mode:
            module.exit_json(changed=False, failed=False, skipped=True, cmd=cmd, rc=None, timed_out=False,
                             msg="check mode: %s was not run%s" % (
                                 " ".join(cmd), "" if path else " (%s is not an executable file yet)" % cmd[0]))
        env_update = dict((str(key), None if value is None else env_value(value))
                          for key, value in (params["env"] or {}).items())
        ran = run(line_buffered(cmd), params["timeout"], env_update=env_update, merge_stderr=True)
        if ran["error"]:
            module.fail_json(msg="%s." % describe(ran, os.path.basename(cmd[0])), cmd=cmd, rc=None, timed_out=False)
        text = ran["stdout"]
        timed_out = ran["timed_out"]
        extra["rc"] = ran["rc"]
        parsed = parse_nccl_log(text, warn=warn, program=cmd[0])
        if timed_out:
            silent_s = int(round(ran["elapsed"] - (ran["last_output_at"] or 0.0)))
            parsed["errors"].append(hang_sentence(parsed, silent_s, params["timeout"]))
        elif ran["rc"] != 0:
            ended = describe(ran, os.path.basename(cmd[0]))
            parsed["errors"].append(ended)
        parsed["passed"] = bool(parsed["completed"] and parsed["results"] and not parsed["wrong_total"]
                                and not parsed["errors"] and not parsed["refused"])

    hang = parsed["errors"][-1] if timed_out else None
    result = dict(
        changed=False,
        msg=verdict(parsed, timed_out, hang, ended),
        passed=parsed["passed"],
        completed=parsed["completed"],
        devices=parsed["devices"],
        results=parsed["results"],
        avg_busbw_gbps=parsed["avg_busbw_gbps"],
        max_busbw_gbps=parsed["max_busbw_gbps"],
        wrong_total=parsed["wrong_total"],
        errors=parsed["errors"],
        refused=parsed["refused"],
        collective=parsed["collective"],
        validated=parsed["validated"],
        timed_out=timed_out,
        log=tail(text),
        **extra
    )
    if params["fail_on_error"] and not parsed["passed"]:
        module.fail_json(**result)
    # Explicit: without it Ansible reads a non-zero (or null) rc as a failure, and
    # fail_on_error=false would still fail the task.
    module.exit_json(failed=False, **result)


if __name__ == "__main__":
    main()
