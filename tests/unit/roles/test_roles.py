"""Every role's meta/argument_specs.yml mirrors its defaults/main.yml: the same variables,
the same default values, and a description for each (the specs are the documentation
ansible-doc --type role shows)."""

import os

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLES = sorted(
    name for name in os.listdir(os.path.join(ROOT, "roles"))
    if os.path.isfile(os.path.join(ROOT, "roles", name, "defaults", "main.yml"))
)


def _load(role, *path):
    with open(os.path.join(ROOT, "roles", role, *path)) as handle:
        return yaml.safe_load(handle) or {}


def test_roles_found():
    assert {"kernel_tuning", "nvidia_driver", "cuda", "power_limit"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_specs_mirror_defaults(role):
    defaults = _load(role, "defaults", "main.yml")
    options = _load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(defaults), "variables differ between defaults and specs"
    for name, spec in options.items():
        assert spec.get("description"), "%s has no description" % name
        assert spec.get("default") == defaults[name], "%s: spec default %r, defaults %r" % (
            name, spec.get("default"), defaults[name])
        assert name.startswith(role + "_"), "%s is not prefixed with the role name" % name


def _task_files(role):
    base = os.path.join(ROOT, "roles", role)
    for folder in ("tasks", "handlers"):
        for dirpath, _dirs, files in os.walk(os.path.join(base, folder)):
            for name in files:
                if name.endswith(".yml"):
                    yield os.path.join(dirpath, name)


def _included_role(node):
    """The short name of the collection role a task includes (its variables are that role's)."""
    for key in ("ansible.builtin.include_role", "include_role", "ansible.builtin.import_role", "import_role"):
        name = (node.get(key) or {}).get("name", "") if isinstance(node.get(key), dict) else ""
        if name.startswith("aiserver.gpu."):
            return name.split(".")[-1]
    return None


def _vars_and_registers(node):
    """(name, the role whose prefix it may carry) for what a task defines: keys of its vars:
    and what it registers, recursing into blocks. A task including another role of the
    collection gives it that role's variables (aiserver.gpu.reboot: reboot_ok)."""
    if isinstance(node, list):
        for item in node:
            yield from _vars_and_registers(item)
    elif isinstance(node, dict):
        included = _included_role(node)
        for key in ("vars",):
            if isinstance(node.get(key), dict):
                for name in node[key]:
                    yield name, included
        if isinstance(node.get("register"), str):
            yield node["register"], None
        for key in ("block", "rescue", "always"):
            if key in node:
                yield from _vars_and_registers(node[key])


@pytest.mark.parametrize("role", sorted(os.listdir(os.path.join(ROOT, "roles"))))
def test_role_names_are_prefixed(role):
    """A role's task variables and registers carry the role's prefix. A generic name such as
    __policy would be shadowed by a caller's registered variable of the same name
    (registered variables outrank task vars), and the role would read the caller's value."""
    wrong = []
    for path in _task_files(role):
        with open(path) as handle:
            for name, included in _vars_and_registers(yaml.safe_load(handle)):
                if included and name.startswith("%s_" % included):
                    continue
                if not (name.startswith("__%s_" % role) or name.startswith("%s_" % role)):
                    wrong.append("%s: %s" % (os.path.relpath(path, ROOT), name))
    assert wrong == []


def _task_keys(node):
    """Every key of every task (and of module_defaults) in a parsed tasks/playbook file."""
    if isinstance(node, list):
        for item in node:
            yield from _task_keys(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            if key == "module_defaults" and isinstance(value, dict):
                for name in value:
                    yield name.replace("group/", "", 1)
            if key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
                yield from _task_keys(value)


def test_every_collection_used_is_a_declared_dependency():
    """A role that calls community.general.modprobe needs community.general installed: a user
    with ansible-core alone must get it from ansible-galaxy (galaxy.yml dependencies), not
    a failure mid-run."""
    import re
    fqcn = re.compile(r"^([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+$")
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        declared = set((yaml.safe_load(handle).get("dependencies") or {}).keys())
    used = {}
    paths = [path for role in sorted(os.listdir(os.path.join(ROOT, "roles"))) for path in _task_files(role)]
    for folder in ("playbooks",):
        paths += [os.path.join(ROOT, folder, name) for name in os.listdir(os.path.join(ROOT, folder))
                  if name.endswith(".yml")]
    paths.append(os.path.join(ROOT, "site.yml"))
    for path in paths:
        with open(path) as handle:
            for key in _task_keys(yaml.safe_load(handle)):
                match = fqcn.match(str(key))
                if match and "%s.%s" % match.groups() not in ("ansible.builtin", "aiserver.gpu"):
                    used.setdefault("%s.%s" % match.groups(), os.path.relpath(path, ROOT))
    assert used, "no collection found: the scan is broken"
    missing = dict((name, where) for name, where in used.items() if name not in declared)
    assert missing == {}, "used but not in galaxy.yml dependencies: %s" % missing


def test_check_mode_and_container_come_from_run_context_only():
    """One place answers "is this check mode, is this a container": the run_context action.
    ansible_check_mode is false under include_role apply: {check_mode: true} (conda init ran
    without --dry-run there), and a /bin/true probe or a copy of systemd-detect-virt in a role
    is the kind of copy that drifted into that bug. Comments may name them; code may not."""
    import re
    banned = re.compile(r"ansible_check_mode|command:\s*/bin/true|systemd-detect-virt")
    found = []
    scanned = 0
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        for folder in ("tasks", "handlers", "templates"):
            base = os.path.join(ROOT, "roles", role, folder)
            if not os.path.isdir(base):
                continue
            for name in sorted(os.listdir(base)):
                path = os.path.join(base, name)
                scanned += 1
                with open(path) as handle:
                    for number, line in enumerate(handle, 1):
                        code = line.split("#", 1)[0] if not folder == "templates" else line
                        if folder == "templates" and line.lstrip().startswith("#"):
                            continue
                        if banned.search(code):
                            found.append("%s:%d: %s" % (os.path.relpath(path, ROOT), number, line.strip()))
    assert scanned > 50, "too few role files scanned: the scan is broken"
    assert found == [], "use aiserver.gpu.run_context instead:\n" + "\n".join(found)
