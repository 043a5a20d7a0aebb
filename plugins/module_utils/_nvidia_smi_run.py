# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run ``nvidia-smi`` for the modules of this collection.

The run itself is the collection's one runner (``_runner.run``: C locale, own process
group, a timeout that kills every process it started). What is nvidia-smi's own is here:
where to find it, and what its failures mean (``_nvidia_smi.classify_failure``). Every
failure ends in ``module.fail_json`` with an ``error_kind`` and rc/stdout/stderr.

``CALLS`` collects the argv of every run in this process (modules return its length as
``nvidia_smi_calls``, which tests and benchmarks use to prove how often nvidia-smi ran).
"""

from __future__ import annotations

from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import classify_failure
from ansible_collections.aiserver.gpu.plugins.module_utils._runner import find_executable, run

# argv lists of the nvidia-smi runs made by this process, in order.
CALLS = []

# Where the driver packages put nvidia-smi besides PATH (Debian/Ubuntu, RHEL, .run installer).
_OPT_DIRS = ["/usr/bin", "/usr/local/bin", "/usr/local/nvidia/bin", "/opt/nvidia/bin"]


def resolve_executable(module, executable):
    """The path of ``executable`` (PATH first, then the driver directories). Fails the
    module with ``error_kind='not_installed'`` when there is none."""
    executable = executable or "nvidia-smi"
    path = find_executable(executable, _OPT_DIRS)
    if path:
        return path
    kind, msg = classify_failure(None, "", "", not_found=True)
    module.fail_json(msg="%s: %r is not an executable file on this host. %s" % (kind, executable, msg),
                     error_kind=kind, cmd=[executable], nvidia_smi_calls=len(CALLS))
    return None  # not reached: fail_json exits


def run_raw(module, executable, args, timeout):
    """Run ``executable args...`` and return the runner's result, whatever happened (the
    executable must exist: :func:`resolve_executable` fails the module otherwise)."""
    path = resolve_executable(module, executable)
    cmd = [path] + [str(arg) for arg in args]
    CALLS.append(list(cmd))
    return run(cmd, timeout)


def failure_of(res, timeout=None):
    """``(error_kind, msg)`` for a run of :func:`run_raw`, or None when it succeeded."""
    cmd = " ".join(res["cmd"])
    if res["error"]:
        kind, msg = classify_failure(None, "", "", not_found=True)
        return kind, "could not run %s: %s. %s" % (cmd, res["error"], msg)
    if res["timed_out"]:
        kind, msg = classify_failure(None, "", "", timed_out=True)
        return kind, "%s did not finish within %s s and was killed. %s" % (cmd, timeout, msg)
    failure = classify_failure(res["rc"], res["stdout"], res["stderr"], signal=res["signal"])
    if failure:
        return failure[0], "%s: %s" % (cmd, failure[1])
    return None


def fail(module, kind, msg, res, **extra):
    """Fail the module for the run ``res`` with everything a person needs to see."""
    module.fail_json(msg=msg, error_kind=kind, rc=res["rc"], stdout=res["stdout"], stderr=res["stderr"],
                     cmd=res["cmd"], nvidia_smi_calls=len(CALLS), **extra)


def run_nvidia_smi(module, executable, args, timeout):
    """Run ``executable args...`` and return the runner's result when it succeeded.

    * The executable is resolved by :func:`resolve_executable` (``not_installed`` when absent).
    * A timeout, a crash, a nonzero rc, or a known failure line even with rc 0, fails the
      module through ``module.fail_json(msg, error_kind, rc, stdout, stderr, cmd)`` as
      decided by ``_nvidia_smi.classify_failure``.

    Each run's argv is appended to :data:`CALLS`.
    """
    res = run_raw(module, executable, args, timeout)
    failure = failure_of(res, timeout)
    if failure:
        fail(module, failure[0], failure[1], res)
    return res


def unreadable(module, source, exc, res=None):
    """Fail the module because the output of ``source`` could not be parsed; quotes what
    nvidia-smi printed on stderr, which often says why."""
    extra = {}
    said = ""
    if res is not None:
        extra = dict(rc=res["rc"], stdout=res["stdout"], stderr=res["stderr"], cmd=res["cmd"])
        err = " / ".join(line.strip() for line in (res["stderr"] or "").splitlines() if line.strip())
        if err:
            said = " nvidia-smi said on stderr: '%s'." % err[-500:]
    module.fail_json(msg="Cannot read the output of %s: %s.%s" % (source, exc, said), error_kind="unparsable",
                     nvidia_smi_calls=len(CALLS), **extra)
