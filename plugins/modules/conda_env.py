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
author:
  - aiserver.gpu maintainers (@aiserver-gpu)
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
    description: Seconds one conda create/update may take.
    type: int
    default: 3600
attributes:
  check_mode:
    description: Reports whether the spec file or the environment would change, and the unmet specs; runs no change.
    support: full
  diff_mode:
    description: Shows the spec file before and after.
    support: full
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
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aiserver.gpu.plugins.module_utils._conda_env import (
    CondaEnvError, build_spec, find_env, parse_conda_list, spec_text, split_dependencies, unmet)

HEADER = "# conda environment spec written by aiserver.gpu (role conda_fastchan); conda env create -f this file"


def _run(module, args, timeout=None):
    env = dict(LANG="C", LC_ALL="C", CONDA_ALWAYS_YES="true")
    try:
        return module.run_command(args, environ_update=env, timeout=timeout) if timeout else \
            module.run_command(args, environ_update=env)
    except TypeError:  # ansible-core without run_command(timeout=)
        return module.run_command(args, environ_update=env)


def _installed(module, conda, name):
    rc, out, err = _run(module, [conda, "env", "list", "--json"])
    if rc != 0:
        module.fail_json(msg="conda env list --json failed (rc %d): %s" % (rc, (err or out).strip()), rc=rc, stdout=out, stderr=err)
    prefix = find_env(out, name)
    if prefix is None:
        return None, []
    rc, out, err = _run(module, [conda, "list", "--json", "-p", prefix])
    if rc != 0:
        module.fail_json(msg="conda list --json -p %s failed (rc %d): %s" % (prefix, rc, (err or out).strip()),
                         rc=rc, stdout=out, stderr=err)
    return prefix, parse_conda_list(out, warn=module.warn)


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
        supports_check_mode=True,
    )
    params = module.params
    try:
        spec = build_spec(params["name"], params["channels"], params["dependencies"], params["pip"])
        conda_specs, pip_specs = split_dependencies(spec["dependencies"])
    except CondaEnvError as exc:
        module.fail_json(msg="conda environment %s: %s" % (params["name"], exc))
    text = spec_text(spec, HEADER)
    path = params["spec_path"]
    before = None
    if os.path.exists(path):
        with open(path, "rb") as handle:
            before = handle.read().decode("utf-8", "replace")
    out = dict(changed=before != text, spec=spec, spec_changed=before != text)
    if module._diff:
        out["diff"] = dict(before=before or "", after=text, before_header=path, after_header=path)
    if out["spec_changed"] and not module.check_mode:
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            os.makedirs(folder, 0o755)
        fd, tmp = tempfile.mkstemp(prefix=".conda-env.", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.chmod(tmp, 0o644)
        module.atomic_move(tmp, path)
    if not params["create"]:
        module.exit_json(**out)

    conda = params["conda"]
    if not os.access(conda, os.X_OK):
        module.fail_json(msg="conda is not at %s: install it first (conda_fastchan_install), or set create=false "
                             "to write the spec file only." % conda, **out)
    try:
        prefix, installed = _installed(module, conda, params["name"])
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
    rc, stdout, stderr = _run(module, command, timeout=params["timeout"])
    out.update(command=command, stdout=stdout, stderr=stderr, rc=rc)
    if rc != 0:
        module.fail_json(msg="conda env %s for %s failed (rc %d); the channels may be unreachable or the specs "
                             "unsatisfiable: %s" % (verb, params["name"], rc, (stderr or stdout).strip()[-2000:]), **out)
    try:
        prefix, installed = _installed(module, conda, params["name"])
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
