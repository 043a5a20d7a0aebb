#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: conda_env
short_description: Write a conda environment's spec file and create or update the environment only when it differs
version_added: 0.1.0
description:
  - Writes the environment's spec, an C(environment.yml) that C(conda env create -f) reads,
    to O(spec_path) (name, channels, dependencies, a C(pip) list). The file is rewritten only
    when its text changes, atomically.
  - With O(create), compares the spec with what C(conda list --json) reports for the
    environment (found with C(conda env list --json)); a missing package, or one whose
    version, build or channel does not satisfy its spec, makes the module run
    C(conda env create) (environment absent) or C(conda env update) (present). Nothing runs
    when every spec is met, so a second run reports no change.
  - After conda, the module compares again and fails when a spec is still not met, naming
    it and what is installed (with C(channel_priority) strict, a package that an earlier
    channel has is taken from that channel only; write C(conda-forge::name) to get it from
    conda-forge).
  - Package specs are read in their common forms (C(name), C(channel::name), C(name=1.2),
    C(name>=1.2,<2), C(name=1.2=build)); other forms fail with a message. pip requirements
    are compared by name and version constraint; others (URLs, C(-r)) are not compared and
    give a warning.
  - Every conda run is killed, with every process it started, after its timeout (O(timeout) for
    create/update, at most 300 s for the queries), so a dead proxy or channel ends in a clear failure,
    never in a task that hangs.
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
extends_documentation_fragment:
  - ansible.builtin.files
  - aiserver.gpu.attributes
options:
  name:
    description: The environment's name (not C(base)).
    type: str
    required: true
  channels:
    description: The channels written in the spec, in order.
    type: list
    elements: str
    default: []
  dependencies:
    description:
      - conda package specs, and at most one C(pip) mapping holding a list, as in C(environment.yml).
    type: list
    elements: raw
    default: []
  pip:
    description: pip requirements, added to the spec's C(pip) list (C(pip) itself is added when missing).
    type: list
    elements: str
    default: []
  spec_path:
    description: Where to write the spec file.
    type: path
    required: true
  create:
    description: Create or update the environment with conda. V(false) only writes the spec file.
    type: bool
    default: true
  conda:
    description: The conda executable.
    type: path
    default: /opt/conda/bin/conda
  timeout:
    description:
      - Seconds one C(conda env create) or C(conda env update) may take before it is killed; the
        queries (C(conda env list), C(conda list)) get the same or 300 s, whichever is less.
    type: int
    default: 3600
attributes:
  check_mode:
    details: Reports whether the spec file or the environment would change, and the unmet specs; runs no change.
  diff_mode:
    details: Shows the spec file before and after. The spec file keeps its mode and owner unless O(mode),
      O(owner) or O(group) are set; a new one is 0644.
"""

EXAMPLES = r"""
- name: PyTorch for CUDA 11.8, fastai from conda-forge (fastchan's is stale)
  aiserver.gpu.conda_env:
    name: fastai
    channels: [pytorch, nvidia, fastchan, conda-forge]
    dependencies:
      - python=3.11
      - pytorch::pytorch=2.5.1
      - pytorch::pytorch-cuda=11.8
      - conda-forge::fastai>=2.7.18
    spec_path: /etc/aiserver-gpu/conda/fastai.yml
"""

RETURN = r"""
spec:
  description: The spec written to O(spec_path).
  returned: success
  type: dict
  sample: {"name": "fastai", "channels": ["fastchan", "conda-forge"], "dependencies": ["python=3.11", "fastai"]}
spec_changed:
  description: Whether the spec file was (or would be) rewritten.
  returned: success
  type: bool
env_prefix:
  description: The environment's folder, when it exists (or was created).
  returned: when O(create)
  type: str
  sample: /opt/conda/envs/fastai
unmet:
  description: The specs the environment did not satisfy before the task (reason missing, version, build or channel).
  returned: when O(create)
  type: list
  elements: dict
  sample: [{"spec": "conda-forge::fastai>=2.7.18", "reason": "version", "installed": "fastai 2.7.12 py_0 (fastchan)"}]
command:
  description: The conda command run, when one was.
  returned: when conda ran
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aiserver.gpu.plugins.module_utils import _safe_write
from ansible_collections.aiserver.gpu.plugins.module_utils._conda_env import (
    CondaEnvError, build_spec, find_env, parse_conda_list, spec_text, split_dependencies, unmet)
from ansible_collections.aiserver.gpu.plugins.module_utils._runner import describe, run

HEADER = "# conda environment spec written by aiserver.gpu (role conda_fastchan); conda env create -f this file"


# The most a query (conda env list, conda list) may take; create/update get the timeout option.
QUERY_TIMEOUT = 300


def _run(module, args, timeout, what, **extra):
    """Run conda with the collection's runner (C locale, killed with everything it started
    after ``timeout`` s); a timeout or a run that cannot start fails the module."""
    res = run(args, timeout, env_update={"CONDA_ALWAYS_YES": "true"})
    if res["error"] or res["timed_out"]:
        hint = (" conda waits on the network when a channel or proxy does not answer: check the channels in "
                ".condarc and the proxy settings, or raise the timeout" if res["timed_out"] else "")
        module.fail_json(msg="%s: %s.%s" % (what, describe(res, "conda", timeout), hint), cmd=args, rc=res["rc"],
                         stdout=res["stdout"], stderr=res["stderr"], timed_out=res["timed_out"], **extra)
    return res["rc"], res["stdout"], res["stderr"]


def _installed(module, conda, name, timeout, out):
    query = min(timeout, QUERY_TIMEOUT)
    rc, stdout, stderr = _run(module, [conda, "env", "list", "--json"], query, "conda env list --json", **out)
    if rc != 0:
        module.fail_json(msg="conda env list --json failed (rc %d): %s" % (rc, (stderr or stdout).strip()), rc=rc,
                         stdout=stdout, stderr=stderr, **out)
    prefix = find_env(stdout, name)
    if prefix is None:
        return None, []
    rc, stdout, stderr = _run(module, [conda, "list", "--json", "-p", prefix], query, "conda list --json", **out)
    if rc != 0:
        module.fail_json(msg="conda list --json -p %s failed (rc %d): %s" % (prefix, rc, (stderr or stdout).strip()),
                         rc=rc, stdout=stdout, stderr=stderr, **out)
    return prefix, parse_conda_list(stdout, warn=module.warn)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            channels=dict(type="list", elements="str", default=[]),
            dependencies=dict(type="list", elements="raw", default=[]),
            pip=dict(type="list", elements="str", default=[]),
            spec_path=dict(type="path", required=True),
            create=dict(type="bool", default=True),
            conda=dict(type="path", default="/opt/conda/bin/conda"),
            timeout=dict(type="int", default=3600),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 second, got %d." % params["timeout"])
    args = _safe_write.file_args(module)
    try:
        spec = build_spec(params["name"], params["channels"], params["dependencies"], params["pip"])
        conda_specs, pip_specs = split_dependencies(spec["dependencies"])
    except CondaEnvError as exc:
        module.fail_json(msg="conda environment %s: %s" % (params["name"], exc))
    text = spec_text(spec, HEADER)
    path = params["spec_path"]
    before = _safe_write.read_text(module, path, "spec_path")
    out = _safe_write.edit_one(module, path, before, text, args=args)
    out.update(spec=spec, spec_changed=before != text)
    out.pop("path")
    if not params["create"]:
        module.exit_json(**out)

    conda = params["conda"]
    if not os.access(conda, os.X_OK):
        module.fail_json(msg="conda is not at %s: install it first (conda_fastchan_install), or set create=false "
                             "to write the spec file only." % conda, **out)
    try:
        prefix, installed = _installed(module, conda, params["name"], params["timeout"], out)
        missing = unmet(conda_specs, pip_specs, installed, warn=module.warn)
    except CondaEnvError as exc:
        module.fail_json(msg="conda environment %s: %s" % (params["name"], exc), **out)
    out.update(env_prefix=prefix, unmet=missing)
    if prefix is not None and not missing:
        module.exit_json(**out)
    out["changed"] = True
    if module.check_mode:
        module.exit_json(**out)
    verb = "create" if prefix is None else "update"
    command = [conda, "env", verb, "--file", path, "--name", params["name"]]
    rc, stdout, stderr = _run(module, command, params["timeout"], "conda env %s for %s" % (verb, params["name"]),
                              **dict(out, command=command))
    out.update(command=command, stdout=stdout, stderr=stderr, rc=rc)
    if rc != 0:
        module.fail_json(msg="conda env %s for %s failed (rc %d); the channels may be unreachable or the specs "
                             "unsatisfiable: %s" % (verb, params["name"], rc, (stderr or stdout).strip()[-2000:]), **out)
    try:
        prefix, installed = _installed(module, conda, params["name"], params["timeout"], out)
        still = unmet(conda_specs, pip_specs, installed, warn=module.warn)
    except CondaEnvError as exc:
        module.fail_json(msg="conda environment %s: %s" % (params["name"], exc), **out)
    out["env_prefix"] = prefix
    if still:
        module.fail_json(
            msg="conda env %s for %s succeeded but these specs are still not met: %s. With channel_priority "
                "strict a package is taken only from the first channel that has it: prefix the spec with the "
                "channel you want (conda-forge::name)." % (
                    verb, params["name"], "; ".join("%s (%s, installed: %s)" % (u["spec"], u["reason"], u["installed"])
                                                    for u in still)), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
