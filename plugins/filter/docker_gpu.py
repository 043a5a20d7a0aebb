# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the docker_gpu role: which Docker engine and which NVIDIA container toolkit
packages to install, and whether the 'Failed to initialize NVML: Unknown Error' workaround
(NVIDIA/nvidia-container-toolkit issue 48) applies to a host."""

from __future__ import annotations

DOCUMENTATION = r"""
name: docker_gpu_nvml_workaround
short_description: Decide whether and how to work around 'Failed to initialize NVML - Unknown Error'
version_added: 0.1.0
author: aiserver.gpu maintainers (@aiserver-gpu)
description:
  - Pure function. Containers lose their GPUs after C(systemctl daemon-reload) when systemd
    manages the containers' cgroups (Docker's C(systemd) cgroup driver, its default on
    cgroup v2 hosts) and runc finds no C(/dev/char) symlinks for the NVIDIA device nodes
    (NVIDIA/nvidia-container-toolkit issue 48).
  - From the cgroup file system type, whether systemd is PID 1, the daemon settings that
    will be written and the chosen workaround, returns the cgroup driver Docker will use,
    whether the bug applies, the C(exec-opts) to merge (for V(cgroupfs)), whether to
    install the udev rule (for V(dev_char_symlinks)) and a sentence saying why.
options:
  _input:
    description: The type of the file system on C(/sys/fs/cgroup) (C(stat -f -c %T)), V(cgroup2fs) on cgroup v2.
    type: str
    required: true
  workaround:
    description: V(dev_char_symlinks) (NVIDIA's first choice), V(cgroupfs) or V(none).
    type: str
    required: true
  settings:
    description: The daemon.json settings the role will merge (its C(exec-opts) may choose the driver).
    type: dict
    default: {}
  current:
    description: The daemon.json as it is on the host (an C(exec-opts) there also counts).
    type: dict
    default: {}
  systemd:
    description: Whether systemd is the init system (Docker picks the systemd driver on cgroup v2 only then).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Decide on the workaround
  ansible.builtin.set_fact:
    plan: "{{ cgroup_fs_type | aiserver.gpu.docker_gpu_nvml_workaround('dev_char_symlinks', settings=wanted) }}"
"""

RETURN = r"""
_value:
  description: C(driver), C(applies), C(exec_opts), C(udev_rule), C(reason).
  type: dict
"""

WORKAROUNDS = ("dev_char_symlinks", "cgroupfs", "none")
_DRIVER_OPT = "native.cgroupdriver="


def _driver_from(settings):
    for opt in (settings or {}).get("exec-opts") or []:
        if isinstance(opt, str) and opt.replace(" ", "").startswith(_DRIVER_OPT):
            return opt.replace(" ", "")[len(_DRIVER_OPT):]
    return None


def docker_gpu_nvml_workaround(cgroup_fs, workaround, settings=None, current=None, systemd=True):
    if workaround not in WORKAROUNDS:
        return dict(driver=None, applies=False, exec_opts=[], udev_rule=False, problems=[
            "docker_gpu_nvml_workaround is %r; use one of %s." % (workaround, ", ".join(WORKAROUNDS))],
            reason="")
    cgroup_v2 = (cgroup_fs or "").strip() == "cgroup2fs"
    chosen = _driver_from(settings) or _driver_from(current)
    driver = chosen or ("systemd" if cgroup_v2 and systemd else "cgroupfs")
    origin = ("set in daemon.json" if chosen else
              "Docker's default on cgroup %s%s" % ("v2" if cgroup_v2 else "v1", " with systemd" if cgroup_v2 and systemd else ""))
    result = dict(driver=driver, applies=driver == "systemd", exec_opts=[], udev_rule=False, problems=[])
    if driver != "systemd":
        result["reason"] = (
            "Docker uses the %s cgroup driver here (%s): containers keep their GPUs across "
            "systemctl daemon-reload, no workaround is needed." % (driver, origin))
        return result
    if workaround == "none":
        result["reason"] = (
            "Docker uses the systemd cgroup driver (%s), so a systemctl daemon-reload can take the "
            "GPUs from running containers ('Failed to initialize NVML: Unknown Error'), and "
            "docker_gpu_nvml_workaround is none: no workaround applied." % origin)
    elif workaround == "cgroupfs":
        if chosen == "systemd":
            result["problems"].append(
                "daemon.json asks for native.cgroupdriver=systemd, which the cgroupfs workaround "
                "would contradict: remove it from docker_gpu_daemon_settings (or the file), or set "
                "docker_gpu_nvml_workaround: dev_char_symlinks.")
        result["exec_opts"] = [_DRIVER_OPT + "cgroupfs"]
        result["reason"] = (
            "Docker would use the systemd cgroup driver (%s): switching it to cgroupfs "
            "(exec-opts native.cgroupdriver=cgroupfs) so a systemctl daemon-reload does not take "
            "the GPUs from running containers." % origin)
    else:
        result["udev_rule"] = True
        result["reason"] = (
            "Docker uses the systemd cgroup driver (%s): a udev rule runs nvidia-ctk system "
            "create-dev-char-symlinks --create-all when the driver loads, so runc finds the "
            "/dev/char links and a systemctl daemon-reload does not take the GPUs from running "
            "containers." % origin)
    return result


def docker_gpu_engine(choice, distribution):
    """auto → Docker's repository (docker_ce) on Ubuntu, Debian's docker.io on Debian."""
    if choice in ("docker_ce", "docker_io"):
        return choice
    return "docker_ce" if distribution == "Ubuntu" else "docker_io"


def docker_gpu_toolkit_packages(version, packages):
    """The toolkit's packages, each pinned to the version when one is given (they are
    released together and must match: nvidia-container-toolkit depends on the -base of
    the same version)."""
    version = (version or "").strip()
    if not version:
        return list(packages)
    return ["%s=%s" % (name, version) for name in packages]


class FilterModule:
    """aiserver.gpu Docker filters."""

    def filters(self):
        return {
            "docker_gpu_nvml_workaround": docker_gpu_nvml_workaround,
            "docker_gpu_engine": docker_gpu_engine,
            "docker_gpu_toolkit_packages": docker_gpu_toolkit_packages,
        }
