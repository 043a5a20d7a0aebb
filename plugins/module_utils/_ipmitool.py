# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run ``ipmitool`` for the modules of this collection.

Passwords never reach a command line: the session password goes through the
``IPMI_PASSWORD`` environment variable of the ipmitool process (``-E``), and a user's
new password through a command file (``ipmitool exec FILE``, mode 0600 in a private
temporary directory, removed at once). Every failure ends in ``module.fail_json`` with an
``error_kind`` (see ``_ipmi.classify_failure``) unless the caller asks to get it back.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ansible_collections.aiserver.gpu.plugins.module_utils._ipmi import classify_failure
from ansible_collections.aiserver.gpu.plugins.module_utils._runner import describe, find_executable, run

CONNECTION_SPEC = dict(
    host=dict(type="str"),
    port=dict(type="int", default=623),
    user=dict(type="str", default="ADMIN"),
    password=dict(type="str", no_log=True),
    interface=dict(type="str", default="lanplus", choices=["lanplus", "lan", "open"]),
    cipher_suite=dict(type="int"),
    executable=dict(type="str", default="ipmitool"),
    timeout=dict(type="int", default=30),
    retries=dict(type="int", default=2),
)


class IpmiError(Exception):
    """A failed ipmitool run: kind, sentence, argv (no password in it), rc, stdout, stderr."""

    def __init__(self, kind, msg, cmd, rc, stdout, stderr):
        Exception.__init__(self, msg)
        self.kind, self.msg, self.cmd, self.rc, self.stdout, self.stderr = kind, msg, cmd, rc, stdout, stderr


class Ipmitool(object):
    """One BMC, reached with the module's connection options."""

    def __init__(self, module, password=None):
        self.module = module
        params = module.params
        self.params = params
        self.password = params.get("password") if password is None else password
        self.calls = []
        executable = params.get("executable") or "ipmitool"
        path = find_executable(executable)
        if not path:
            module.fail_json(
                msg="ipmitool is not installed where this task runs (%r not found). Install it: "
                    "apt-get install ipmitool (Debian/Ubuntu) or dnf install ipmitool (RHEL)." % executable,
                error_kind="not_installed")
        self.path = path
        if params.get("interface") != "open" and not params.get("host"):
            module.fail_json(msg="host is required with interface %s: the BMC's address." % params.get("interface"),
                             error_kind="invalid_request")

    def base(self, user=None, verbose=False):
        p = self.params
        argv = [self.path]
        if verbose:
            argv.append("-v")
        argv += ["-I", p["interface"]]
        if p["interface"] != "open":
            argv += ["-H", p["host"], "-p", str(p["port"]), "-U", user or p["user"], "-E",
                     "-N", "2", "-R", str(max(1, p.get("retries") or 1))]
            if p.get("cipher_suite") is not None:
                argv += ["-C", str(p["cipher_suite"])]
        return argv

    def run(self, args, check=True, password=None, user=None, verbose=False):
        """Run ipmitool with ``args``; return (rc, stdout, stderr). With ``check`` a failure
        raises IpmiError (classified; a session failure is probed again with -v to tell a
        wrong password from an unreachable BMC)."""
        argv = self.base(user=user, verbose=verbose) + list(args)
        # The session password travels in ipmitool's environment only (-E), never in argv.
        secret = {"IPMI_PASSWORD": None}
        if self.params["interface"] != "open":
            secret["IPMI_PASSWORD"] = (self.password if password is None else password) or ""
        self.calls.append(list(args))
        timeout = self.params.get("timeout") or 30
        res = run(argv, timeout, env_update=secret)
        out, err = res["stdout"], res["stderr"]
        if res["error"]:
            raise IpmiError("not_installed", "could not run ipmitool: %s" % res["error"], argv, None, "", "")
        if res["timed_out"]:
            raise IpmiError("timeout", "ipmitool %s did not finish in %s s and was killed (with every process it "
                            "started): the BMC does not answer; check its address and network, or raise timeout"
                            % (" ".join(args), timeout), argv, None, out, err)
        if res["signal"]:
            raise IpmiError("crashed", "ipmitool %s: %s" % (" ".join(args), describe(res, "ipmitool")),
                            argv, res["rc"], out, err)
        rc = res["rc"]
        if rc != 0 and check:
            kind, msg = classify_failure(rc, out, err)
            if kind == "session_failed" and not verbose:
                try:
                    self.run(["mc", "guid"], check=True, password=password, user=user, verbose=True)
                except IpmiError as probe:
                    if probe.kind != "session_failed":
                        kind, msg = probe.kind, probe.msg
            raise IpmiError(kind, "ipmitool %s: %s" % (" ".join(args), msg), argv, rc, out, err)
        return rc, out, err

    def can_login(self, user, password):
        """Whether a session opens as ``user`` with ``password`` (a read-only command)."""
        try:
            self.run(["mc", "guid"], password=password, user=user)
            return True
        except IpmiError as exc:
            if exc.kind in ("auth_failed", "unknown_user", "session_failed"):
                return False
            raise

    def run_secret_script(self, lines):
        """Run ipmitool commands that hold a secret through ``ipmitool exec FILE``: the file
        lives in a private directory (0700) with mode 0600 and is removed right after."""
        tmpdir = tempfile.mkdtemp(prefix="aiserver-ipmi-")
        try:
            os.chmod(tmpdir, 0o700)
            path = os.path.join(tmpdir, "commands")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write("\n".join(lines) + "\n")
            rc, out, err = self.run(["exec", path], check=False)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        # `ipmitool exec` keeps going after a failed line and may still exit 0: read its words.
        bad = [w for w in ("failed", "Invalid", "error", "Error") if w in out + err]
        if rc != 0 or bad:
            kind, msg = classify_failure(rc, out, err)
            raise IpmiError(kind, "setting a password failed: %s" % msg, ["ipmitool", "exec", "(command file)"],
                            rc, out, err)
        return out

    def fail(self, exc, **extra):
        self.module.fail_json(msg=exc.msg, error_kind=exc.kind, cmd=exc.cmd, rc=exc.rc,
                              stdout=exc.stdout, stderr=exc.stderr, **extra)
