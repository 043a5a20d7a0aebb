#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nvidia_power_limit
short_description: Ensure the power limit of NVIDIA GPUs with nvidia-smi
version_added: 0.1.0
description:
  - Reads C(nvidia-smi -q -x) once, works out which limit each GPU is asked for (O(limit_w)
    for every GPU, O(limits) per GPU index or product name) and checks every asked value
    against the range the GPU reports (C(min_power_limit) to C(max_power_limit)) before
    changing anything.
  - For each GPU whose limit in force differs from the asked value it runs
    C(nvidia-smi -i <bus id> -pl <watts>); with O(persistence_mode=true) it first runs
    C(nvidia-smi -i <bus id> -pm 1) on those asked GPUs whose persistence mode is off.
  - Then it reads C(nvidia-smi -q -x) again and fails, quoting what nvidia-smi printed,
    unless every limit and persistence mode it set reads back as asked.
  - A power limit set with C(-pl) lasts until the driver is unloaded or the host reboots;
    run the task at every boot (or from a boot-time service) to keep it.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
requirements:
  - The NVIDIA driver and its C(nvidia-smi) on the target.
  - Root (C(become=true)) to change anything; inside a container also the C(SYS_ADMIN)
    capability.
extends_documentation_fragment:
  - aiserver.gpu.attributes.no_diff
options:
  limit_w:
    description:
      - Power limit in watts for every GPU that O(limits) does not name.
      - At least one of O(limit_w) and O(limits) is required.
    type: float
  limits:
    description:
      - Power limits in watts per GPU. A key is a GPU index as nvidia-smi numbers GPUs
        (V(0), V(1)...; a string of digits or an integer) or a product name as nvidia-smi
        prints it (V(NVIDIA GeForce RTX 3090); compared without regard to case or repeated
        spaces), which names every GPU of that model.
      - For one GPU an index key wins over a name key, and a name key over O(limit_w). GPUs
        that no key names and O(limit_w) does not cover are left alone.
      - A key that names no GPU of the host is an error that lists the host's GPUs.
    type: dict
  persistence_mode:
    description:
      - Enable persistence mode (C(nvidia-smi -pm 1)) on the GPUs this task sets a limit for,
        where it is off. Without it the driver forgets the limit as soon as no process has
        the GPU open (nvidia-smi itself closes it when it exits).
      - V(false) leaves persistence mode as it is; it is never turned off.
      - A host that runs the C(nvidia-persistenced) service already has it on.
    type: bool
    default: true
  executable:
    description:
      - Name or path of C(nvidia-smi). A bare name is looked up in E(PATH) and the directories
        the driver packages use.
    type: str
    default: nvidia-smi
  timeout:
    description:
      - Seconds each C(nvidia-smi) run may take before it is killed and the task fails.
    type: int
    default: 30
attributes:
  check_mode:
    details:
    - In check mode only C(nvidia-smi -q -x) runs; RV(commands) lists the C(-pm) and C(-pl) commands that would
      run and RV(gpus) the limits they would set.
notes:
  - Limits are compared with a tolerance of half a watt. nvidia-smi prints them with two
    decimals and the driver rounds what it is given to the steps the board accepts, so a
    current limit within 0.5 W of the asked one counts as set (no C(-pl) runs), and the read
    back accepts such a difference too. Asked values are passed to C(-pl) with at most two
    decimals.
  - A read in which two GPUs share a PCI bus id (or, without bus ids, a UUID) is refused before any
    change (RV(error_kind=ambiguous_gpus)), since a command could not name one of them, nor a read back tell
    which one changed.
  - The range check is strict. A value outside C(min_power_limit) to C(max_power_limit) is
    refused for every GPU before any GPU is changed, with a message naming the GPU (index,
    product name, PCI bus id), the asked value and both bounds.
  - A GPU for which nvidia-smi reports no limit range (C(N/A), power management not supported,
    as on most laptop GPUs) is refused, unless its current limit already equals the asked one.
  - Commands name a GPU by its PCI bus id (C(domain:bus:device.function), as nvidia-smi's
    C(-i) accepts it), or by its UUID when the bus id is unknown, never by index. nvidia-smi's
    index is an enumeration order that shifts when a GPU is added, removed or falls off the
    bus, and CUDA numbers GPUs in yet another order by default; a bus id cannot point at
    another GPU between the read and the change. O(limits) index keys are resolved against
    the read made by this same task.
  - The limit checked and reported is the one in force (C(Current Power Limit), or
    C(enforced_power_limit) in older XML schemas). When something else caps it (the
    C(nvidia-powerd) Dynamic Boost service on laptops, a chassis limit) the read back fails
    and says so.
  - C(-pl) and C(-pm) need root. nvidia-smi then prints C(Insufficient Permissions) (also as
    root in a container without C(SYS_ADMIN)); the module fails with RV(error_kind)
    V(insufficient_permissions).
seealso:
  - name: nvidia-smi documentation
    description: The C(-pl), C(-pm) and C(-i) options of nvidia-smi.
    link: https://docs.nvidia.com/deploy/nvidia-smi/index.html
  - name: Driver persistence
    description: Persistence mode and the nvidia-persistenced daemon.
    link: https://docs.nvidia.com/deploy/driver-persistence/index.html
"""

EXAMPLES = r"""
- name: Cap every GPU at 250 W
  aiserver.gpu.nvidia_power_limit:
    limit_w: 250
  become: true

- name: 300 W for the RTX 3090s, 280 W for GPU 0 whatever it is, 70 W for everything else
  aiserver.gpu.nvidia_power_limit:
    limit_w: 70
    limits:
      "NVIDIA GeForce RTX 3090": 300
      "0": 280
  become: true

- name: See what would change, without changing anything
  aiserver.gpu.nvidia_power_limit:
    limit_w: 250
  check_mode: true
  register: power

- name: Show the planned commands
  ansible.builtin.debug:
    var: power.commands
"""

RETURN = r"""
changed:
  description: Whether a C(-pm) or C(-pl) command ran (or, in check mode, would run).
  returned: always
  type: bool
  sample: true
gpus:
  description:
    - Every GPU nvidia-smi lists, in its order, with its limits before and after.
  returned: always, and on failure once nvidia-smi could be read
  type: list
  elements: dict
  contains:
    index:
      description: nvidia-smi's index of the GPU at the time of the read.
      type: int
      sample: 0
    name:
      description: Product name as nvidia-smi prints it.
      type: str
      sample: NVIDIA GeForce RTX 3090
    pci_bus_id:
      description: PCI bus id (C(domain:bus:device.function), lower case), what commands name the GPU by.
      type: str
      sample: "0000:01:00.0"
    uuid:
      description: GPU UUID.
      type: str
      sample: GPU-313bbff0-b0a0-fd26-4820-0578bdef3a12
    power_limit_before_w:
      description: Power limit in force before the task, in watts; null when nvidia-smi says N/A.
      type: float
      sample: 350.0
    power_limit_after_w:
      description:
        - Power limit in force after the task, as read back. In check mode (or when a command
          failed) the value it would have (or has) after the commands that ran.
      type: float
      sample: 300.0
    requested_w:
      description: The limit asked for this GPU; null for GPUs no option names.
      type: float
      sample: 300.0
    min_w:
      description: Lowest limit the GPU accepts; null when N/A.
      type: float
      sample: 100.0
    max_w:
      description: Highest limit the GPU accepts; null when N/A.
      type: float
      sample: 375.0
    default_w:
      description: The GPU's default limit; null when N/A.
      type: float
      sample: 350.0
    persistence_mode_before:
      description: Persistence mode before the task; null when N/A.
      type: bool
      sample: false
    persistence_mode_after:
      description: Persistence mode after the task (as for RV(gpus[].power_limit_after_w)).
      type: bool
      sample: true
    changed:
      description: Whether a command ran (or would run) for this GPU.
      type: bool
      sample: true
commands:
  description:
    - The changing C(nvidia-smi) commands (C(-pm 1), then C(-pl)) as argv lists, in the order
      they ran or, in check mode, would run. The C(-q -x) reads are not listed. Empty when
      nothing needs changing.
    - On failure, the commands that ran, the failed one last.
  returned: always
  type: list
  elements: list
  sample: [["/usr/bin/nvidia-smi", "-i", "0000:01:00.0", "-pm", "1"],
           ["/usr/bin/nvidia-smi", "-i", "0000:01:00.0", "-pl", "300"]]
nvidia_smi_calls:
  description: How many times nvidia-smi ran, reads included.
  returned: always
  type: int
  sample: 2
error_kind:
  description:
    - Why the task failed. V(invalid_request) (a value out of range, a key that names no GPU,
      N/A limits; nothing was changed), V(insufficient_permissions) (not root, or a container
      without C(SYS_ADMIN)), V(not_supported) (the GPU refuses C(-pl)), V(out_of_range) (the
      driver refused the value), V(not_applied) (the read back differs), V(timeout),
      V(failed) (another error of C(-pl)/C(-pm)), V(ambiguous_gpus) (two GPUs of the read share a PCI bus
      id, or a UUID when they have no bus id; nothing was changed), or one of the kinds of the
      collection's nvidia-smi runner (V(not_installed), V(driver_not_loaded),
      V(driver_library_mismatch), V(nvml_unknown_error), V(gpu_lost), V(no_devices),
      V(access_blocked), V(unparsable)).
  returned: failure
  type: str
  sample: insufficient_permissions
errors:
  description: Every problem found while planning, when RV(error_kind) is V(invalid_request) or V(ambiguous_gpus).
  returned: failure
  type: list
  elements: str
  sample: ["GPU 0 (NVIDIA GeForce RTX 3090, 0000:00:10.0): 50.00 W asked by limit_w is below its minimum;
            this GPU allows 100.00 W to 375.00 W"]
problems:
  description: What the read back found different, when RV(error_kind) is V(not_applied).
  returned: failure
  type: list
  elements: str
  sample: ["GPU 0 (NVIDIA GeForce RTX 3090, 0000:00:10.0): power limit reads 350.00 W after setting 300.00 W"]
cmd:
  description: The command that failed.
  returned: failure, when a command failed
  type: list
  elements: str
  sample: ["/usr/bin/nvidia-smi", "-i", "0000:01:00.0", "-pl", "120"]
rc:
  description: Exit status of the command that failed; null when it timed out.
  returned: failure, when a command failed
  type: int
  sample: 4
stdout:
  description: Standard output of the command that failed.
  returned: failure, when a command failed
  type: str
  sample: "Failed to set power management limit for GPU 00000000:01:00.0: Insufficient Permissions"
stderr:
  description: Standard error of the command that failed.
  returned: failure, when a command failed
  type: str
  sample: ""
"""


from ansible.module_utils.basic import AnsibleModule
from ansible_collections.aiserver.gpu.plugins.module_utils import _module
from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import (
    NvidiaSmiParseError,
    classify_failure,
    parse_query_xml,
)
from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi_run import (
    CALLS,
    resolve_executable,
    run_nvidia_smi,
    run_raw,
)
from ansible_collections.aiserver.gpu.plugins.module_utils._power_limit import (
    ambiguous,
    classify_set_output,
    commands as planned_commands,
    plan,
    report,
    verify,
    watts_text,
)

ROOT_HINT = (
    "changing power limits and persistence mode needs root: run the task with become: true. "
    "Inside a container root is not enough: the container needs the SYS_ADMIN capability "
    "(docker run --cap-add SYS_ADMIN); set the limit on the host instead where possible."
)


def run_change(module, executable, cmd, timeout):
    """Run one changing nvidia-smi command with the collection's runner (C locale, a
    timeout that kills every process it started). Returns the runner's result.

    Not ``run_nvidia_smi``: that fails the module on any error, and here the caller must say
    which changes were already made and tell nvidia-smi's own ``-pl`` errors apart."""
    return run_raw(module, executable, cmd[1:], timeout)


def quoted(stdout, stderr):
    text = " / ".join(line.strip() for line in (stdout + "\n" + stderr).splitlines() if line.strip())
    return "'%s'" % text if text else "no output"


def change_failure(cmd, action, rc, stdout, stderr, timed_out, timeout, signal=None):
    """``(error_kind, msg)`` for a failed ``-pl``/``-pm`` run, or None when it worked."""
    what = "%s %s" % ("setting the power limit of" if "-pl" in cmd else "enabling persistence mode on",
                      "GPU %s (%s, %s)" % (action["index"], action["name"], action["selector"]))
    if timed_out:
        kind, hint = classify_failure(None, "", "", timed_out=True)
        return kind, "%s: %s did not finish within %s s and was killed. %s" % (what, " ".join(cmd), timeout, hint)
    if signal:
        kind, hint = classify_failure(rc, stdout, stderr, signal=signal)
        return kind, "%s failed: %s" % (what, hint)
    failure = classify_set_output(rc, stdout, stderr)
    if failure is None:
        return None
    kind, detail = failure
    said = "nvidia-smi said %s (rc=%s)" % (quoted(stdout, stderr), rc)
    if kind == "insufficient_permissions":
        return kind, "%s failed: %s. %s" % (what, said, ROOT_HINT)
    if kind == "out_of_range":
        return kind, ("%s failed: %s. The driver accepts %s to %s for this GPU now, not what "
                      "nvidia-smi -q reported; ask for a value in that range"
                      % (what, said, watts_text(detail[1]), watts_text(detail[2])))
    if kind == "not_supported":
        return kind, ("%s failed: %s. This GPU does not let nvidia-smi change its power limit "
                      "(laptop GPUs, some boards and vGPU guests; on laptops nvidia-powerd / "
                      "Dynamic Boost manages it)" % (what, said))
    generic = classify_failure(rc, stdout, stderr)
    if generic and generic[0] != "unparsable":
        return generic[0], "%s failed: %s" % (what, generic[1])
    return "failed", "%s failed: %s" % (what, said)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            limit_w=dict(type="float"),
            limits=dict(type="dict"),
            persistence_mode=dict(type="bool", default=True),
            executable=dict(type="str", default="nvidia-smi"),
            timeout=dict(type="int", default=30),
        ),
        required_one_of=[["limit_w", "limits"]],
        supports_check_mode=True,
    )
    params = module.params
    timeout = params["timeout"]
    if timeout <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds, got %d" % timeout,
                         error_kind="invalid_request")
    executable = resolve_executable(module, params["executable"])

    warn = _module.warn_once(module)

    def read():
        cmd = [executable, "-q", "-x"]
        out = run_nvidia_smi(module, executable, ["-q", "-x"], timeout)["stdout"]
        try:
            gpus = parse_query_xml(out, warn)["gpus"]
        except NvidiaSmiParseError as exc:
            module.fail_json(msg="%s printed no usable XML: %s. Run it by hand to see why."
                             % (" ".join(cmd), exc), error_kind="unparsable", cmd=cmd, stdout=out,
                             nvidia_smi_calls=len(CALLS))
        if not gpus:
            module.fail_json(msg="%s lists no GPU; check that the driver sees the GPUs (nvidia-smi -L)."
                             % " ".join(cmd), error_kind="no_devices", cmd=cmd, stdout=out,
                             nvidia_smi_calls=len(CALLS))
        return gpus

    gpus = read()
    clash = ambiguous(gpus)
    if clash:
        module.fail_json(
            msg="Nothing was changed: %s. Run nvidia-smi -q -x by hand; reboot if it keeps listing two GPUs at one "
                "address." % "; ".join(clash), error_kind="ambiguous_gpus", errors=clash, commands=[], changed=False,
            nvidia_smi_calls=len(CALLS),
        )
    actions, errors = plan(gpus, params["limit_w"], params["limits"], params["persistence_mode"])
    if errors:
        module.fail_json(
            msg="Nothing was changed: %s" % "; ".join(errors), error_kind="invalid_request", errors=errors,
            gpus=report(actions, done=set()), commands=[], changed=False, nvidia_smi_calls=len(CALLS),
        )
    todo = planned_commands(actions, executable)
    if module.check_mode or not todo:
        module.exit_json(changed=bool(todo), gpus=report(actions), commands=todo, nvidia_smi_calls=len(CALLS))

    by_selector = dict((action["selector"], action) for action in actions)
    ran, outputs, done = [], {}, set()
    for position, cmd in enumerate(todo):
        action = by_selector[cmd[2]]
        res = run_change(module, executable, cmd, timeout)
        rc, stdout, stderr, timed_out = res["rc"], res["stdout"], res["stderr"], res["timed_out"]
        ran.append(cmd)
        failure = change_failure(cmd, action, rc, stdout, stderr, timed_out, timeout, res["signal"])
        if failure:
            kind, msg = failure
            partial = set(done)
            module.fail_json(
                msg="%s. Commands that worked before it: %d." % (msg, len(ran) - 1), error_kind=kind,
                cmd=cmd, rc=rc, stdout=stdout, stderr=stderr, changed=len(ran) > 1, commands=ran,
                gpus=report(actions, done=partial), nvidia_smi_calls=len(CALLS),
            )
        outputs.setdefault(action["selector"], []).append(quoted(stdout, stderr))
        if position + 1 == len(todo) or todo[position + 1][2] != cmd[2]:
            done.add(action["selector"])  # every command of this GPU worked

    after = read()
    problems = verify(actions, after)
    if problems:
        said = "; ".join(
            "%s said %s" % (selector, " then ".join(lines)) for selector, lines in outputs.items()
        )
        module.fail_json(
            msg="nvidia-smi accepted the commands but the read back differs: %s. nvidia-smi's output: %s"
            % ("; ".join(problems), said),
            error_kind="not_applied", problems=problems, changed=True, commands=ran,
            gpus=report(actions, after), nvidia_smi_calls=len(CALLS),
        )
    module.exit_json(changed=True, gpus=report(actions, after), commands=ran, nvidia_smi_calls=len(CALLS))


if __name__ == "__main__":
    main()
