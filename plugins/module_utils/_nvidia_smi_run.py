# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run ``nvidia-smi`` for the modules of this collection, with a hard timeout.

``AnsibleModule.run_command`` cannot time out, and a hung GPU makes ``nvidia-smi`` hang
for minutes, so this runs it with :mod:`subprocess` in its own process group and kills
the whole group when the time is up. Every failure ends in ``module.fail_json`` with an
``error_kind`` (see ``_nvidia_smi.classify_failure``); nothing here raises.

``CALLS`` collects the argv of every run in this process (modules return its length as
``nvidia_smi_calls``, which tests and benchmarks use to prove how often nvidia-smi ran).
"""

from __future__ import annotations

import os
import signal
import subprocess

from ansible_collections.aiserver.gpu.plugins.module_utils._nvidia_smi import classify_failure

# argv lists of the nvidia-smi runs made by this process, in order.
CALLS = []

# Where the driver packages put nvidia-smi besides PATH (Debian/Ubuntu, RHEL, .run installer).
_OPT_DIRS = ["/usr/bin", "/usr/local/bin", "/usr/local/nvidia/bin", "/opt/nvidia/bin"]


def resolve_executable(module, executable):
    """The path of ``executable``: as given when it contains a ``/``, else looked up with
    ``module.get_bin_path`` (PATH plus the usual driver directories). Fails the module with
    ``error_kind='not_installed'`` when there is none."""
    executable = executable or "nvidia-smi"
    if "/" in executable:
        path = executable
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    else:
        # PATH first (get_bin_path would search opt_dirs before PATH), then the driver directories.
        path = module.get_bin_path(executable, required=False) or \
            module.get_bin_path(executable, required=False, opt_dirs=_OPT_DIRS)
        if path:
            return path
    kind, msg = classify_failure(None, "", "", not_found=True)
    module.fail_json(msg="%s: %r is not an executable file on this host. %s" % (kind, executable, msg),
                     error_kind=kind, cmd=[executable], nvidia_smi_calls=len(CALLS))
    return None  # not reached: fail_json exits


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        try:
            proc.kill()
        except OSError:
            pass


def _text(data):
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data


def run_nvidia_smi(module, executable, args, timeout):
    """Run ``executable args...`` and return its stdout (a str) when it succeeded.

    * The executable is resolved by :func:`resolve_executable` (``not_installed`` when absent).
    * It runs with ``LC_ALL=C`` and ``LANG=C``, stdin closed, in a new process group; after
      ``timeout`` seconds the group is killed and the module fails with
      ``error_kind='timeout'``.
    * A nonzero rc, or a known failure line even with rc 0, fails the module through
      ``module.fail_json(msg, error_kind, rc, stdout, stderr, cmd)`` as decided by
      ``_nvidia_smi.classify_failure``.

    Each run's argv is appended to :data:`CALLS`.
    """
    path = resolve_executable(module, executable)
    cmd = [path] + [str(arg) for arg in args]
    CALLS.append(list(cmd))
    env = dict(os.environ)
    env.update({"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"})
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True, close_fds=True)
    except OSError as exc:
        kind, msg = classify_failure(None, "", "", not_found=True)
        module.fail_json(msg="could not run %s: %s. %s" % (path, exc, msg), error_kind=kind, cmd=cmd, nvidia_smi_calls=len(CALLS))
        return None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            out, err = b"", b""
        kind, msg = classify_failure(None, "", "", timed_out=True)
        module.fail_json(msg="%s did not finish within %s s and was killed. %s" % (" ".join(cmd), timeout, msg),
                         error_kind=kind, rc=None, stdout=_text(out), stderr=_text(err), cmd=cmd,
                         nvidia_smi_calls=len(CALLS))
        return None
    finally:
        if proc.poll() is None:  # pragma: no cover - only when communicate itself was interrupted
            _kill_group(proc)
    stdout, stderr = _text(out), _text(err)
    failure = classify_failure(proc.returncode, stdout, stderr)
    if failure:
        kind, msg = failure
        module.fail_json(msg="%s: %s" % (" ".join(cmd), msg), error_kind=kind, rc=proc.returncode,
                         stdout=stdout, stderr=stderr, cmd=cmd, nvidia_smi_calls=len(CALLS))
        return None
    return stdout
