# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the modules of this collection run a program; pure standard library.

``AnsibleModule.run_command`` cannot time out, and the programs we run hang for real: a
GPU benchmark on a broken P2P path, ``nvidia-smi`` on a wedged GPU, ``ipmitool`` against a
BMC that stopped answering, ``/bin/sh`` sourcing a GRUB file that waits on a command,
``conda env create`` behind a dead proxy. :func:`run` therefore

* starts the program with stdin closed, in a new session (so in its own process group),
  in the C locale (``LC_ALL=C``, ``LANG=C``, ``LANGUAGE=C``) unless told otherwise;
* reads stdout and stderr as they come (merged, as a terminal shows them, on request) and
  remembers when the last byte arrived, so a caller can tell "slow" from "silent for N s";
* after ``timeout`` seconds kills **every process the program started**: its process
  group, and also descendants that left the group with ``setsid`` (found through
  ``/proc`` by their parent chain; this process becomes a child subreaper on Linux, so that
  orphans of the program are re-parented here instead of to init and can still be found),
  then waits until they are gone;
* does the same for children the program left running behind it when it exits on its own,
  so nothing it started outlives the module;
* never fails the module and never raises for a program that cannot start, fails, crashes
  or hangs: everything is in the returned :class:`Result`. Each tool's module keeps only
  its own reading of the output (its classifier of failures).

:func:`find_executable` is the one way to resolve a program's path, and :func:`describe`
the one sentence for how a run ended (exit status, signal, timeout, a missing shared
library), which each module puts in front of its own advice.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import threading
import time

# Seconds to wait for killed processes to disappear and for the pipes to close.
_DRAIN_S = 5
# Rounds of "find every process of the run, kill it" (a process may fork while we kill).
_KILL_ROUNDS = 20
C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"}
# Where programs live besides PATH on the distributions we support (sbin is not in a
# non-root PATH; the NVIDIA .run installer and containers use the others).
DEFAULT_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")

_PR_SET_CHILD_SUBREAPER = 36
_subreaper = []  # [True] once this process is a child subreaper (or [False] when it cannot be)

_LOADER_RE = re.compile(r"error while loading shared libraries: ([^:\s]+): ([^\n]*)")


class Result(dict):
    """How a run went; a dict (JSON-ready) with attribute access.

    ``cmd`` (list), ``rc`` (int; None when the program was killed by the timeout or could
    not start; negative ``-N`` when a signal N ended it), ``stdout``, ``stderr`` (str;
    ``stderr`` is empty with ``merge_stderr``), ``timed_out`` (bool), ``signal`` (the
    signal's name when one ended the program, e.g. ``SIGSEGV``; ``SIGKILL`` after a
    timeout), ``elapsed`` (seconds), ``last_output_at`` (seconds after the start when the
    last output arrived, None when there was none), ``error`` (None, or why the program
    could not be started), ``errno`` (its errno name, e.g. ``ENOENT``), ``killed`` (how many
    processes of the run were still there and were killed, after a timeout or because the
    program left them behind).
    """

    __getattr__ = dict.get

    @property
    def ok(self):
        return self["rc"] == 0 and not self["timed_out"] and not self["error"]


def _become_subreaper():
    if _subreaper:
        return _subreaper[0]
    done = False
    try:
        import ctypes  # pylint: disable=import-outside-toplevel
        libc = ctypes.CDLL(None, use_errno=True)
        done = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError, ImportError, TypeError, ValueError):
        done = False
    _subreaper.append(done)
    return done


def _proc_table():
    """{pid: (ppid, pgid, sid, state)} of every process, from /proc; {} without /proc."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as handle:
                data = handle.read().decode("ascii", "replace")
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses.
        fields = data[data.rfind(")") + 2:].split()
        try:
            table[int(name)] = (int(fields[1]), int(fields[2]), int(fields[3]), fields[0])
        except (IndexError, ValueError):
            continue
    return table


def _members(root, started):
    """Live processes that belong to the run of ``root``: its process group and session,
    and every descendant of ``root`` or of this process started for the run."""
    table = _proc_table()
    me = os.getpid()
    children = {}
    for pid, (ppid, _pgid, _sid, _state) in table.items():
        children.setdefault(ppid, []).append(pid)
    found = set()
    todo = [root] + [pid for pid in children.get(me, []) if pid in started]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, []))
    for pid, (_ppid, pgid, sid, _state) in table.items():
        if pgid == root or sid == root:
            found.add(pid)
    found.discard(me)
    return set(pid for pid in found if pid in table and table[pid][3] != "Z")


def _reap(pids):
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except OSError:  # not our child (re-parented to init), or already reaped
            pass


def _orphans_of_ours():
    """Children of this process that no Popen waits for: orphans re-parented here."""
    me = os.getpid()
    return set(pid for pid, (ppid, _g, _s, state) in _proc_table().items() if ppid == me and state != "Z")


def kill_run(proc, started=()):
    """Kill every process of the run of ``proc`` (a Popen started by :func:`run`) and wait
    until they are gone; returns how many were killed. Safe to call when all are gone."""
    killed = set()
    started = set(started)
    for _round in range(_KILL_ROUNDS):
        pids = _members(proc.pid, started) if os.path.isdir("/proc") else set()
        if proc.poll() is None:
            pids.add(proc.pid)
        if not pids:
            break
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        _reap(pids)
        time.sleep(0.02)
    deadline = time.monotonic() + _DRAIN_S
    while time.monotonic() < deadline:
        alive = _members(proc.pid, started) if os.path.isdir("/proc") else set()
        _reap(alive | killed)
        if not alive:
            break
        time.sleep(0.05)  # pragma: no cover - a process stuck in the kernel (D state)
    return len(killed)


class _Reader(threading.Thread):
    """Reads one pipe to its end, keeping the bytes and the time of the last chunk."""

    def __init__(self, pipe, start, limit):
        threading.Thread.__init__(self)
        self.daemon = True
        self.pipe = pipe
        self.start_time = start
        self.limit = limit
        self.chunks = []
        self.size = 0
        self.dropped = 0
        self.last_at = None

    def run(self):
        try:
            while True:
                chunk = os.read(self.pipe.fileno(), 65536)
                if not chunk:
                    break
                self.last_at = time.monotonic() - self.start_time
                self.chunks.append(chunk)
                self.size += len(chunk)
                # Keep the last ``limit`` bytes: a program that prints without end must not
                # exhaust the memory, and the end of a log is where the error is.
                while self.limit and self.size > self.limit and len(self.chunks) > 1:
                    self.size -= len(self.chunks[0])
                    self.dropped += len(self.chunks.pop(0))
        except (OSError, ValueError):
            pass

    def text(self):
        return b"".join(self.chunks).decode("utf-8", "replace")


def line_buffered(cmd):
    """``cmd`` run through ``stdbuf -oL -eL`` when coreutils' ``stdbuf`` is there, else ``cmd``.

    A C program writing to a pipe keeps its output in a 4 KiB stdio buffer; one that hangs
    then shows nothing of what it printed. ``stdbuf`` makes it flush every line (programs
    that set their own buffering, or static binaries, are not affected)."""
    stdbuf = find_executable("stdbuf")
    return [stdbuf, "-oL", "-eL"] + list(cmd) if stdbuf else list(cmd)


def find_executable(name, dirs=(), path_first=True):
    """The path of the program ``name``, or None.

    A ``name`` holding a ``/`` is taken as a path and must be an executable file. Otherwise
    PATH is searched first (unless ``path_first`` is false), then ``dirs``, then the usual
    program directories (sbin included)."""
    if not name:
        return None
    if "/" in name:
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    searched = []
    if path_first:
        searched += [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    searched += list(dirs) + list(DEFAULT_DIRS)
    if not path_first:
        searched += [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    for folder in searched:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _environment(env, env_update, c_locale):
    environ = dict(os.environ if env is None else env)
    if c_locale:
        environ.update(C_LOCALE)
    for key, value in (env_update or {}).items():
        if value is None:
            environ.pop(str(key), None)
        else:
            environ[str(key)] = str(value)
    return environ


def run(cmd, timeout, env=None, env_update=None, merge_stderr=False, cwd=None, c_locale=True,
        output_limit=64 * 1024 * 1024):
    """Run ``cmd`` (a list) for at most ``timeout`` seconds and return a :class:`Result`.

    ``env`` is the complete environment (None: this process's), ``env_update`` is laid
    over it (a None value removes the variable); the C locale is set unless ``c_locale`` is
    false. ``merge_stderr`` interleaves stderr into stdout. At most ``output_limit`` bytes
    of each stream are kept (the last ones).
    """
    cmd = [str(arg) for arg in cmd]
    result = Result(cmd=cmd, rc=None, stdout="", stderr="", timed_out=False, signal=None, elapsed=0.0,
                    last_output_at=None, error=None, errno=None, killed=0)
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        timeout = 0
    if timeout <= 0:
        result["error"] = "the timeout must be a positive number of seconds, not %r" % (timeout,)
        result["errno"] = "EINVAL"
        return result
    _become_subreaper()
    before = _orphans_of_ours() if _subreaper[0] else set()
    start = time.monotonic()
    try:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            env=_environment(env, env_update, c_locale), cwd=cwd, start_new_session=True, close_fds=True)
    except (OSError, ValueError) as exc:
        result["error"] = getattr(exc, "strerror", None) or str(exc)
        number = getattr(exc, "errno", None)
        result["errno"] = errno.errorcode.get(number) if number else None
        return result
    readers = [_Reader(proc.stdout, start, output_limit)]
    if not merge_stderr:
        readers.append(_Reader(proc.stderr, start, output_limit))
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        result["timed_out"] = True
    finally:
        # Whatever is left of the run: after a timeout, everything; after a normal exit,
        # children it left behind (they would hold the pipes, or run on unsupervised).
        leftovers = _members(proc.pid, set()) if os.path.isdir("/proc") else set()
        if _subreaper[0]:
            leftovers |= _orphans_of_ours() - before
        if result["timed_out"] or leftovers or proc.poll() is None:
            result["killed"] = kill_run(proc, leftovers | ((_orphans_of_ours() - before) if _subreaper[0] else set()))
        try:
            proc.wait(timeout=_DRAIN_S)
        except subprocess.TimeoutExpired:  # pragma: no cover - stuck in the kernel (D state)
            pass
    for reader in readers:
        reader.join(_DRAIN_S)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:  # pragma: no cover
                pass
    result["elapsed"] = round(time.monotonic() - start, 3)
    if result["timed_out"]:
        result["signal"] = "SIGKILL"
    else:
        result["rc"] = proc.returncode
        if proc.returncode is not None and proc.returncode < 0:
            result["signal"] = _signal_name(-proc.returncode)
    result["stdout"] = readers[0].text()
    if not merge_stderr:
        result["stderr"] = readers[1].text()
    times = [reader.last_at for reader in readers if reader.last_at is not None]
    result["last_output_at"] = round(max(times), 3) if times else None
    return result


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number


CRASH_SIGNALS = {"SIGSEGV": "a segmentation fault", "SIGBUS": "a bus error", "SIGILL": "an illegal instruction",
                 "SIGABRT": "an abort (assertion failed or abort())", "SIGFPE": "an arithmetic exception"}


def missing_library(result):
    """``(library, loader message)`` when the dynamic loader could not load a library the
    program needs (exit status 127 and the loader's line), else None."""
    text = "%s\n%s" % (result.get("stderr") or "", result.get("stdout") or "")
    match = _LOADER_RE.search(text)
    if match:
        return match.group(1), match.group(0).strip()
    return None


def describe(result, name=None, timeout=None):
    """One sentence for how the run ended, without advice: ``all_reduce_perf exited with
    status 3``, ``... was killed by SIGSEGV (a segmentation fault)``, ``... did not finish
    within 30 s and was killed``, ``... could not be started: No such file or directory``,
    ``... cannot start: the shared library libnccl.so.2 is missing (...)``. None when the
    program exited with status 0."""
    if not name:
        name = os.path.basename(result["cmd"][0]) if result.get("cmd") else "the program"
    if result.get("error"):
        return "%s could not be started: %s" % (name, result["error"])
    if result.get("timed_out"):
        within = "within %s s" % timeout if timeout is not None else "in time"
        return "%s did not finish %s and was killed (with every process it started)" % (name, within)
    library = missing_library(result)
    if library and result.get("rc") not in (0, None):
        return ("%s cannot start: the shared library %s is missing or not in the loader's path (%s); install the "
                "package that provides it or add its folder to LD_LIBRARY_PATH" % (name, library[0], library[1]))
    sig = result.get("signal")
    if sig:
        what = CRASH_SIGNALS.get(sig)
        return "%s was killed by %s%s" % (name, sig, " (%s: it crashed)" % what if what else "")
    if result.get("rc") in (None, 0):
        return None
    return "%s exited with status %s" % (name, result["rc"])
