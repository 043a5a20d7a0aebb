# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel-update safety net: never let GRUB boot by default a kernel that has no
NVIDIA module. Standard library only.

One mechanism, one place: the module ``aiserver.gpu.nvidia_kernel_guard`` and the kernel
hook the role installs (``/usr/local/sbin/aiserver-nvidia-kernel-guard``, run by
``/etc/kernel/postinst.d``, ``/etc/kernel/header_postinst.d`` and at boot) both call
:func:`gather`, :func:`decide` and :func:`commands` of this file. On the host the role
copies this file, ``_dkms.py``, ``_driver_versions.py`` and ``_runner.py`` to
``/usr/local/lib/aiserver-gpu/ansible_collections/aiserver/gpu/plugins/module_utils/``, so
the imports below are the same there as inside Ansible.

How the default is held back
    GRUB boots ``${saved_entry}`` once ``GRUB_DEFAULT=saved`` (the role's drop-in
    ``/etc/default/grub.d/zz-aiserver-nvidia-kernel-guard.cfg``, then ``update-grub``). An
    unset ``saved_entry`` makes GRUB boot entry 0, the newest kernel, as ``GRUB_DEFAULT=0``
    does. So:

    * the kernel the user's own ``GRUB_DEFAULT`` (the files without the drop-in) boots has
      the module: ``saved_entry`` is the user's value (unset for ``0``);
    * it has none: ``saved_entry`` becomes the Advanced-menu entry of the newest kernel that
      has one (``gnulinux-advanced-UUID>gnulinux-K-advanced-UUID``, the form
      ``grub-set-default`` takes), and that kernel is reported as held back with its fix.

    ``grub-editenv`` writes ``grubenv`` (it keeps the 1024-byte block GRUB needs).
"""

from __future__ import annotations

import glob
import os
import re
import shlex

from ansible_collections.aiserver.gpu.plugins.module_utils import _dkms
from ansible_collections.aiserver.gpu.plugins.module_utils._driver_versions import parse_modinfo

GRUB_CFG = "/boot/grub/grub.cfg"
GRUBENV = "/boot/grub/grubenv"
GRUB_DEFAULTS = "/etc/default/grub"
DROPIN = "zz-aiserver-nvidia-kernel-guard.cfg"
BOOT_DIR = "/boot"
MODULES_DIR = "/lib/modules"
TIMEOUT = 60

_VMLINUZ_RE = re.compile(r"(?:^|/)vmlinuz-(\S+)")
_SET_DEFAULT_RE = re.compile(r"^\s*set\s+default=(?P<value>\"[^\"]*\"|'[^']*'|\S+)\s*$")
_MARK = "@@aiserver-grub-default@@"

# GRUB_DEFAULT of the GRUB files without the guard's drop-in, as grub-mkconfig sources them.
_SH_DEFAULT = r'''
set -e
. "$1"
for f in "$2"/*.cfg; do
  [ -e "$f" ] || continue
  [ "${f##*/}" = "$3" ] && continue
  . "$f"
done
printf '\n%s%s' "$4" "${GRUB_DEFAULT-0}"
'''


# --------------------------------------------------------------------------- parsing

def version_key(release):
    """Sort key of a kernel release as ``sort -V`` (GRUB's ``version_sort``) orders them."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|\D+", release or "")]


def _words(line):
    try:
        return shlex.split(line, comments=False, posix=True)
    except ValueError:
        return line.split()


def _entry_id(words):
    for i, word in enumerate(words[:-1]):
        if word in ("$menuentry_id_option", "${menuentry_id_option}", "--id"):
            return words[i + 1]
    return None


def parse_grub_cfg(text):
    """``/boot/grub/grub.cfg`` -> ``{'saved': bool, 'defaults': [values of set default=],
    'entries': [...], 'top': [...]}``.

    ``entries``: every menuentry, ``{'title', 'id', 'kernel', 'recovery', 'submenu_title',
    'submenu_id', 'index', 'path'}``; ``path`` is what ``grub-set-default`` takes
    (``SUBMENU_ID>ENTRY_ID``, or the entry's id at the top level). ``top``: the top-level
    items in menu order (``{'kind': 'entry'|'submenu', 'title', 'id', 'kernel'}``), whose
    index is what ``GRUB_DEFAULT=N`` means. ``saved`` is true when grub.cfg boots
    ``${saved_entry}`` (made with ``GRUB_DEFAULT=saved``)."""
    out = {"saved": False, "defaults": [], "entries": [], "top": []}
    if not isinstance(text, str):
        return out
    stack = []  # 'submenu' dicts, 'entry' dicts, or 'block' for functions and other braces
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _SET_DEFAULT_RE.match(line)
        if m and not any(isinstance(s, dict) for s in stack):
            value = m.group("value").strip("\"'")
            if value != "${next_entry}":
                out["defaults"].append(value)
                if value == "${saved_entry}":
                    out["saved"] = True
        first = line.split(None, 1)[0]
        if first in ("menuentry", "submenu") and line.endswith("{"):
            words = _words(line[:-1])
            title = words[1] if len(words) > 1 else ""
            item = {"kind": "entry" if first == "menuentry" else "submenu", "title": title,
                    "id": _entry_id(words), "kernel": None}
            parent = next((s for s in reversed(stack) if isinstance(s, dict) and s["kind"] == "submenu"), None)
            if item["kind"] == "entry":
                item.update(recovery="recovery" in title.lower() or "recovery" in (item["id"] or ""),
                            submenu_title=parent["title"] if parent else None,
                            submenu_id=parent["id"] if parent else None,
                            index=len(out["entries"]))
                ident = item["id"] or title
                item["path"] = "%s>%s" % (parent["id"] or parent["title"], ident) if parent else ident
                out["entries"].append(item)
            if parent is None and not any(isinstance(s, dict) for s in stack):
                out["top"].append(item)
            stack.append(item)
            continue
        if line == "}":
            if stack:
                stack.pop()
            continue
        if line.endswith("{"):
            stack.append("block")
            continue
        if first in ("linux", "linux16", "linuxefi") and stack:
            entry = next((s for s in reversed(stack) if isinstance(s, dict) and s["kind"] == "entry"), None)
            m = _VMLINUZ_RE.search(line.split(None, 2)[1] if len(line.split()) > 1 else "")
            if entry is not None and m:
                entry["kernel"] = m.group(1)
    # A top-level submenu's kernel: none (it is a menu); a top-level entry's is its own.
    return out


def parse_grubenv(text):
    """``grubenv`` -> ``{name: value}`` (comments and the ``#`` padding left out)."""
    env = {}
    if not isinstance(text, str):
        return env
    for line in text.split("\n"):
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        env[key] = value
    return env


def resolve_default(menu, value):
    """The menu entry that GRUB boots for ``value`` (a ``GRUB_DEFAULT`` or ``saved_entry``:
    an index, ``A>B``, an id or a title), or None when it names none. Empty and ``saved``
    mean entry 0, as for GRUB."""
    value = (value or "").strip()
    top = menu.get("top", [])
    if value in ("", "saved", "${saved_entry}"):
        value = "0"
    parts = value.split(">")

    def pick(items, key):
        if key.isdigit():
            index = int(key)
            return items[index] if index < len(items) else None
        for item in items:
            if key in (item.get("id"), item.get("title")):
                return item
        return None

    item = pick(top, parts[0])
    if item is None:
        # an entry's id or title anywhere (GRUB finds ids in submenus too)
        return next((e for e in menu.get("entries", []) if parts[-1] in (e["id"], e["title"])), None)
    if item["kind"] == "entry":
        return item if len(parts) == 1 else None
    children = [e for e in menu.get("entries", []) if e["submenu_id"] == item["id"] and e["submenu_title"] == item["title"]]
    if len(parts) == 1:
        return children[0] if children else None
    return pick(children, parts[1])


# --------------------------------------------------------------------------- deciding

def _why_and_fix(kernel, module_name):
    release = kernel["release"]
    state = kernel.get("dkms")  # DKMS's state for this kernel: installed, built, or None
    autoinstall = "dkms autoinstall -k %s" % release
    if not kernel.get("headers"):
        return ("no linux headers are installed for %s, so DKMS could not build the %s module for it"
                % (release, module_name),
                "apt-get install linux-headers-%s (its DKMS hook builds the module), or after installing them: %s"
                % (release, autoinstall))
    if state == "built":
        dkms_module = kernel.get("dkms_module") or module_name
        version = kernel.get("dkms_version")
        name = "%s/%s" % (dkms_module, version) if version else dkms_module
        return ("DKMS built %s for %s but did not install it" % (name.replace("/", " "), release),
                "dkms install %s -k %s" % (name, release))
    if kernel.get("dkms_registered"):
        return ("the headers of %s are installed but DKMS has no built %s module for it (the build failed or did not "
                "run: see /var/lib/dkms/*/*/build/make.log)" % (release, module_name), autoinstall)
    return ("no %s module is installed for %s (no DKMS registration either)" % (module_name, release),
            "install the driver's kernel module for %s: %s after installing nvidia-kernel-dkms, or the prebuilt "
            "linux-modules-nvidia-<branch> package of this kernel (Ubuntu)" % (release, autoinstall))


def decide(kernels, menu, grubenv, user_default, module_name="nvidia"):
    """Decide GRUB's default entry. Pure.

    ``kernels``: ``[{'release', 'has_module', 'module_version', 'headers', 'dkms',
    'dkms_registered'}]``; ``menu``: :func:`parse_grub_cfg`; ``grubenv``: :func:`parse_grubenv`;
    ``user_default``: GRUB_DEFAULT of the user's files (without the guard's drop-in).

    Returns ``{'saved_before', 'saved_after' (None: unset), 'changed', 'target' (the kernel
    the user's default boots), 'boots' (the kernel the new default boots), 'held_back':
    [{'kernel', 'why', 'fix'}], 'needs_saved' (the decision needs GRUB_DEFAULT=saved in
    grub.cfg), 'warnings', 'msg'}``."""
    by_release = dict((k["release"], k) for k in kernels)
    warnings = []
    user = (user_default or "0").strip()
    restore = None if user in ("0", "saved", "") else user
    target_entry = resolve_default(menu, user)
    target = target_entry["kernel"] if target_entry else None
    saved_before = grubenv.get("saved_entry") or None
    plan = {"saved_before": saved_before, "saved_after": restore, "target": target, "boots": target,
            "held_back": [], "needs_saved": False, "warnings": warnings}
    if target_entry is None:
        warnings.append("GRUB_DEFAULT=%s names no entry of grub.cfg; the guard cannot tell which kernel GRUB boots "
                        "and leaves the default alone" % user)
        plan["saved_after"] = saved_before
    elif target not in by_release:
        warnings.append("GRUB boots %s by default, which is not an installed kernel here; the default is left as the "
                        "GRUB files say" % (target or target_entry["title"]))
    elif not by_release[target]["has_module"]:
        good = [k for k in kernels if k["has_module"]]
        entries = dict((e["kernel"], e) for e in menu.get("entries", [])
                       if e["kernel"] and not e["recovery"] and e["submenu_id"])
        entries.update(dict((e["kernel"], e) for e in menu.get("entries", [])
                            if e["kernel"] and not e["recovery"] and e["kernel"] not in entries))
        good = [k for k in good if k["release"] in entries]
        if not good:
            why, fix = _why_and_fix(by_release[target], module_name)
            plan["held_back"] = []
            warnings.append("no installed kernel has the %s module, so there is none to fall back to: %s boots without "
                            "it (%s; fix: %s)" % (module_name, target, why, fix))
        else:
            best = max(good, key=lambda k: version_key(k["release"]))
            plan["saved_after"] = entries[best["release"]]["path"]
            plan["boots"] = best["release"]
            plan["needs_saved"] = True
            for k in sorted(kernels, key=lambda k: version_key(k["release"]), reverse=True):
                if not k["has_module"] and (k["release"] == target or version_key(k["release"]) > version_key(
                        best["release"])):
                    why, fix = _why_and_fix(k, module_name)
                    plan["held_back"].append({"kernel": k["release"], "why": why, "fix": fix})
    plan["changed"] = plan["saved_after"] != saved_before
    plan["msg"] = _sentence(plan, module_name)
    return plan


def _sentence(plan, module_name):
    if plan["held_back"]:
        names = ", ".join(h["kernel"] for h in plan["held_back"])
        return ("Held back %s: it has no %s module (%s). GRUB boots %s by default until it has one; fix: %s. The next "
                "run of the guard (the role, the kernel hooks, or the boot check) makes the newest kernel the default "
                "again." % (names, module_name, plan["held_back"][0]["why"], plan["boots"], plan["held_back"][0]["fix"]))
    if plan["target"]:
        return "GRUB boots %s by default and it has the %s module; nothing held back." % (plan["target"], module_name)
    return "Nothing held back."


def commands(plan, editenv, grubenv=GRUBENV):
    """The ``grub-editenv`` command that makes ``grubenv`` hold the decision; [] when none."""
    if not plan["changed"]:
        return []
    if plan["saved_after"] is None:
        return [[editenv, grubenv, "unset", "saved_entry"]]
    return [[editenv, grubenv, "set", "saved_entry=%s" % plan["saved_after"]]]


# --------------------------------------------------------------------------- gathering

def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None


def installed_kernels(boot_dir=BOOT_DIR):
    """Releases of the kernels GRUB can boot (``/boot/vmlinuz-*``), newest first."""
    found = [os.path.basename(p)[len("vmlinuz-"):] for p in glob.glob(os.path.join(boot_dir, "vmlinuz-*"))]
    return sorted(set(found), key=version_key, reverse=True)


def user_grub_default(run, defaults=GRUB_DEFAULTS, dropin=DROPIN, sh="/bin/sh"):
    """GRUB_DEFAULT as the user's GRUB files set it (the guard's drop-in left out), ``0``
    when unset; None when the files cannot be sourced (with the reason as second value)."""
    if not os.path.isfile(defaults):
        return "0", None
    result = run([sh, "-c", _SH_DEFAULT, "grub-mkconfig", defaults, os.path.join(os.path.dirname(defaults), "grub.d"),
                  dropin, _MARK], TIMEOUT, cwd="/")
    if result["rc"] != 0 or _MARK not in (result["stdout"] or ""):
        return None, "sourcing %s failed: %s" % (defaults, (result["stderr"] or result["error"] or "").strip()[-400:])
    return result["stdout"].rsplit(_MARK, 1)[1].strip() or "0", None


def modinfo_names(module_name, record=None):
    """The names to ask ``modinfo -k KERNEL`` for, in order. ``nvidia`` (the default) also
    means Debian's ``nvidia-current``: Debian installs the module as nvidia-current.ko and
    its modprobe.d ``install nvidia modprobe -i nvidia-current`` line is not an alias that
    modinfo follows (measured: ``modinfo -k 6.1.0-50-cloud-amd64 nvidia`` says "Module nvidia
    not found" beside a built nvidia-current.ko), and the DKMS module of that kernel
    (``nvidia-tesla-535``...) when DKMS names another one."""
    names = [module_name]
    if module_name == "nvidia":
        names.append("nvidia-current")
        if record and record.get("module") and record["module"] not in names:
            names.append(record["module"])
    return names


def gather(run, find, module_name="nvidia", grub_cfg=GRUB_CFG, grubenv=GRUBENV, defaults=GRUB_DEFAULTS,
           dropin=DROPIN, boot_dir=BOOT_DIR, modules_dir=MODULES_DIR, warn=None):
    """Everything :func:`decide` needs, read from the host. ``run(cmd, timeout, **kw)`` and
    ``find(name)`` are ``_runner.run`` and ``_runner.find_executable``. Returns a dict with
    ``kernels``, ``menu``, ``grubenv``, ``user_default``, ``errors`` (sentences), ``running``."""
    errors = []
    modinfo = find("modinfo")
    dkms = find("dkms")
    records = []
    if dkms:
        result = run([dkms, "status"], TIMEOUT)
        records = _dkms.parse_status(result["stdout"], warn=warn)
    registered = bool(_dkms.added_only(records, module_name))
    kernels = []
    for release in installed_kernels(boot_dir):
        info = None
        record = _dkms.for_kernel(records, release, module_name)
        for name in modinfo_names(module_name, record) if modinfo else ():
            info = parse_modinfo(run([modinfo, "-k", release, name], TIMEOUT)["stdout"])
            if info is not None:
                break
        kernels.append({
            "release": release,
            "has_module": info is not None,
            "module_version": info["version"] if info else None,
            "module_file": info["filename"] if info else None,
            "headers": os.path.isdir(os.path.join(modules_dir, release, "build")),
            "dkms": record["state"] if record else None,
            "dkms_version": record["version"] if record else None,
            "dkms_module": record["module"] if record else None,
            "dkms_registered": registered,
        })
    if not modinfo:
        errors.append("modinfo (package kmod) is not installed: the guard cannot tell which kernel has a %s module"
                      % module_name)
    cfg = _read(grub_cfg)
    if cfg is None:
        errors.append("%s cannot be read: is GRUB installed and update-grub run?" % grub_cfg)
    user, why = user_grub_default(run, defaults, dropin)
    if user is None:
        errors.append(why)
    try:
        running = os.uname()[2]
    except (AttributeError, OSError):  # pragma: no cover
        running = None
    return {"kernels": kernels, "menu": parse_grub_cfg(cfg), "grubenv": parse_grubenv(_read(grubenv)),
            "user_default": user, "errors": errors, "running": running,
            "running_has_module": next((k["has_module"] for k in kernels if k["release"] == running), None)}
