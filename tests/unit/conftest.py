"""Make the repository importable as ``ansible_collections.aiserver.gpu``.

The collection lives at the repository root, but Ansible code imports it through the
``ansible_collections`` namespace. We build that namespace once under ``build/`` with a
symlink back to the repository, so tests import exactly the files in the working tree.

It also puts tests/unit on sys.path, so test modules can ``import captures`` (shared paths
and fixture names), and gives them the ``run_module`` fixture.
"""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from captures import NAMESPACE, ROOT, module_path  # noqa: E402  (needs HERE on sys.path)

LINK = os.path.join(NAMESPACE, "ansible_collections", "aiserver", "gpu")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
if NAMESPACE not in sys.path:
    sys.path.insert(0, NAMESPACE)


@pytest.fixture
def run_module(tmp_path):
    """Run the REAL module file plugins/modules/<module_name>.py as a subprocess, the way Ansible
    runs it on a target: ``python <module>.py args.json`` with ``{"ANSIBLE_MODULE_ARGS": {...}}``
    written to tmp_path/args.json, and the collection importable through PYTHONPATH.

    ``run(module_name, args, check_mode=False, diff=False, env=None, pythonpath=(),
    path_prefix=None, cwd=None)`` returns the JSON result as a dict, after checking that the
    module printed no Traceback, printed exactly one JSON object, exited 1 exactly when the
    result says failed, and reported no exception. ``env`` adds to (or replaces) variables of
    this process's environment; ``pythonpath`` entries come before the collection namespace;
    ``path_prefix`` goes in front of PATH; ``cwd`` defaults to tmp_path.
    """
    assert os.path.isdir(LINK)

    def run(module_name, args, check_mode=False, diff=False, env=None, pythonpath=(), path_prefix=None, cwd=None):
        args_file = tmp_path / "args.json"
        module_args = dict(args)
        module_args["_ansible_check_mode"] = check_mode
        module_args["_ansible_diff"] = diff
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": module_args}))
        environ = dict(os.environ)
        environ.update(env or {})
        environ["PYTHONPATH"] = os.pathsep.join([str(p) for p in pythonpath] + [NAMESPACE])
        if path_prefix:
            environ["PATH"] = str(path_prefix) + os.pathsep + environ.get("PATH", "")
        proc = subprocess.run(
            [sys.executable, module_path(module_name), str(args_file)],
            cwd=str(tmp_path if cwd is None else cwd), env=environ,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False,
        )
        out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
        assert "Traceback" not in out + err, out + err
        result = json.loads(out)
        assert proc.returncode == (1 if result.get("failed") else 0), out + err
        assert "exception" not in result, out + err
        return result

    return run
