# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command with a hard timeout, in its own process group; pure standard library.

``AnsibleModule.run_command`` cannot time out, and GPU programs that hang (a broken P2P
path, a wedged GPU) never return, so :func:`run_with_timeout` starts the command with
:mod:`subprocess` in a new session (process group), reads its output as it comes, and
kills the whole group with SIGKILL when the time is up. It also remembers when the last
byte of output arrived, so that a caller can tell "slow" from "silent for N s".

Nothing here raises for a command that fails: an executable that cannot be started is
reported in the ``error`` key of the result.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time

# Seconds to wait for the pipes to close once the process group has been killed.
_DRAIN_S = 5


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        try:
            proc.kill()
        except OSError:
            pass


class _Reader(threading.Thread):
    """Reads one pipe to its end, keeping the bytes and the time of the last chunk."""

    def __init__(self, pipe, start):
        threading.Thread.__init__(self)
        self.daemon = True
        self.pipe = pipe
        self.start_time = start
        self.chunks = []
        self.last_at = None

    def run(self):
        try:
            while True:
                chunk = os.read(self.pipe.fileno(), 65536)
                if not chunk:
                    break
                self.chunks.append(chunk)
                self.last_at = time.monotonic() - self.start_time
        except (OSError, ValueError):
            pass

    def text(self):
        return b"".join(self.chunks).decode("utf-8", "replace")


def line_buffered(cmd):
    """``cmd`` run through ``stdbuf -oL -eL`` when coreutils' ``stdbuf`` is there, else ``cmd``.

    A C program writing to a pipe keeps its output in a 4 KiB stdio buffer; one that hangs
    then shows nothing of what it printed. ``stdbuf`` makes it flush every line (programs
    that set their own buffering, or static binaries, are not affected)."""
    stdbuf = shutil.which("stdbuf")
    if not stdbuf:
        stdbuf = next((path for path in ("/usr/bin/stdbuf", "/bin/stdbuf") if os.access(path, os.X_OK)), None)
    return [stdbuf, "-oL", "-eL"] + list(cmd) if stdbuf else list(cmd)


def run_with_timeout(cmd, timeout, env=None, merge_stderr=True, cwd=None):
    """Run ``cmd`` (a list) for at most ``timeout`` seconds; return a dict:

    ``rc`` (int, None when killed or not started), ``stdout`` (str; with ``merge_stderr``
    stderr is interleaved in it, as a terminal would show it), ``stderr`` (str, empty with
    ``merge_stderr``), ``timed_out`` (bool), ``elapsed`` (seconds, float),
    ``last_output_at`` (seconds after the start when the last output arrived; None when
    there was none) and ``error`` (None, or why the command could not be started).

    ``env`` is the complete environment (None: this process's). The command runs with
    stdin closed in a new session; after ``timeout`` seconds its whole process group is
    killed with SIGKILL.
    """
    result = dict(rc=None, stdout="", stderr="", timed_out=False, elapsed=0.0, last_output_at=None, error=None)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            env=env, cwd=cwd, start_new_session=True, close_fds=True)
    except (OSError, ValueError) as exc:
        result["error"] = str(exc)
        return result
    readers = [_Reader(proc.stdout, start)]
    if not merge_stderr:
        readers.append(_Reader(proc.stderr, start))
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        result["timed_out"] = True
        _kill_group(proc)
        try:
            proc.wait(timeout=_DRAIN_S)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process stuck in the kernel (D state)
            pass
    finally:
        if proc.poll() is None and not result["timed_out"]:  # pragma: no cover - interrupted wait
            _kill_group(proc)
    if not result["timed_out"]:
        for reader in readers:
            reader.join(1)
        if any(reader.is_alive() for reader in readers):
            # The command is done but a child it left in its group still holds the pipes.
            _kill_group(proc)
    for reader in readers:
        reader.join(_DRAIN_S)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:  # pragma: no cover
                pass
    result["elapsed"] = time.monotonic() - start
    result["rc"] = None if result["timed_out"] else proc.returncode
    result["stdout"] = readers[0].text()
    if not merge_stderr:
        result["stderr"] = readers[1].text()
    times = [reader.last_at for reader in readers if reader.last_at is not None]
    result["last_output_at"] = max(times) if times else None
    return result
