# -*- coding: utf-8 -*-
"""End-to-end tests of plugins/modules/nvidia_kernel_guard.py: the real module file runs as
a subprocess on a fake /boot (the grub.cfg captured in the test bed's VM, a grubenv written
by the real grub-editenv when it is installed), with modinfo and dkms replaced by scripts
that print the outputs captured in that VM."""
import os
import shutil
import stat

import pytest

from captures import (BOOT_GRUB_CFG_TWO_KERNELS, BOOT_MODINFO_NOT_FOUND, BOOT_MODINFO_NVIDIA_CURRENT,
                      DKMS_DEBIAN12_TWO_KERNELS_ONE_BUILT, GRUB_DEBIAN, fixture_path)

from ansible_collections.aiserver.gpu.plugins.module_utils import _boot_kernel as bk

REAL_EDITENV = shutil.which("grub-editenv")


def write_exe(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def host(tmp_path, run_module):
    menu = bk.parse_grub_cfg(open(fixture_path("boot", BOOT_GRUB_CFG_TWO_KERNELS), encoding="utf-8").read())
    new = menu["top"][0]["kernel"]
    old = [e["kernel"] for e in menu["entries"] if e["submenu_id"] and not e["recovery"]][-1]

    class Host(object):
        boot = tmp_path / "boot"
        bin = tmp_path / "bin"
        grubenv = tmp_path / "boot" / "grubenv"
        defaults = tmp_path / "etc" / "default" / "grub"
        has_module = {old}

        def __init__(self):
            self.new, self.old = new, old
            self.boot.mkdir()
            self.bin.mkdir()
            self.defaults.parent.mkdir(parents=True)
            (self.defaults.parent / "grub.d").mkdir()
            shutil.copyfile(fixture_path("grub", GRUB_DEBIAN), str(self.defaults))
            (self.defaults.parent / "grub.d" / bk.DROPIN).write_text("GRUB_DEFAULT=saved\n")
            shutil.copyfile(fixture_path("boot", BOOT_GRUB_CFG_TWO_KERNELS), str(self.boot / "grub.cfg"))
            for release in (new, old):
                (self.boot / ("vmlinuz-" + release)).write_text("")
            if REAL_EDITENV:
                os.system("%s %s create" % (REAL_EDITENV, self.grubenv))
            else:  # a stand-in with grub-editenv's file format, for hosts without GRUB
                write_exe(self.bin / "grub-editenv", '#!/bin/sh\nf=$1; shift\ncase "$1" in\n'
                          '  set) grep -v "^${2%%=*}=" "$f" > "$f.t" 2>/dev/null; echo "$2" >> "$f.t"; mv "$f.t" "$f" ;;\n'
                          '  unset) grep -v "^$2=" "$f" > "$f.t"; mv "$f.t" "$f" ;;\nesac\n')
                self.grubenv.write_text("# GRUB Environment Block\n")
            self.write_tools()

        def write_tools(self):
            found = open(fixture_path("boot", BOOT_MODINFO_NVIDIA_CURRENT)).read()
            missing = open(fixture_path("boot", BOOT_MODINFO_NOT_FOUND)).read()
            (self.bin / "found.txt").write_text(found)
            (self.bin / "missing.txt").write_text(missing)
            cases = "".join('  %s) cat "%s"; exit 0 ;;\n' % (k, self.bin / "found.txt") for k in sorted(self.has_module))
            write_exe(self.bin / "modinfo", '#!/bin/sh\ncase "$2" in\n%s  *) cat "%s" >&2; exit 1 ;;\nesac\n'
                      % (cases, self.bin / "missing.txt"))
            shutil.copyfile(fixture_path("dkms", DKMS_DEBIAN12_TWO_KERNELS_ONE_BUILT), str(self.bin / "dkms.txt"))
            write_exe(self.bin / "dkms", '#!/bin/sh\ncat "%s"\n' % (self.bin / "dkms.txt"))

        def saved(self):
            return bk.parse_grubenv(self.grubenv.read_text()).get("saved_entry")

        def run(self, check_mode=False, diff=True, **args):
            args.setdefault("grub_cfg", str(self.boot / "grub.cfg"))
            args.setdefault("grubenv", str(self.grubenv))
            args.setdefault("grub_defaults", str(self.defaults))
            args.setdefault("boot_dir", str(self.boot))
            return run_module("nvidia_kernel_guard", args, check_mode=check_mode, diff=diff, path_prefix=self.bin)

    return Host()


def test_holds_back_then_idempotent(host):
    check = host.run(check_mode=True)
    assert check["changed"] is True and host.saved() is None
    assert [h["kernel"] for h in check["held_back"]] == [host.new]
    assert check["diff"]["before"] == "" and check["diff"]["after"].startswith("saved_entry=gnulinux-advanced-")
    first = host.run()
    assert first["changed"] is True
    assert first["default_after"] == host.saved() and host.old in host.saved()
    assert first["boots"] == host.old
    kernels = dict((k["release"], k) for k in first["kernels"])
    assert kernels[host.old]["has_module"] is True and kernels[host.old]["module_version"] == "535.309.01"
    assert kernels[host.old]["dkms"] == "installed" and kernels[host.new]["dkms"] is None
    assert kernels[host.new]["has_module"] is False
    assert "linux-headers-%s" % host.new in first["msg"]
    second = host.run()
    assert second["changed"] is False and second["commands"] == []


def test_newest_again_once_it_has_the_module(host):
    host.run()
    host.has_module = {host.old, host.new}
    host.write_tools()
    fixed = host.run()
    assert fixed["changed"] is True and fixed["held_back"] == [] and host.saved() is None
    assert fixed["boots"] == host.new
    assert host.run()["changed"] is False


def test_refuses_without_saved_mode(host):
    cfg = host.boot / "grub.cfg"
    cfg.write_text(cfg.read_text().replace('set default="${saved_entry}"', 'set default="0"'))
    out = host.run()
    assert out["failed"] and out["error_kind"] == "not_saved_mode" and host.saved() is None
    assert host.new in out["msg"]
    warned = host.run(check_mode=True)  # check mode: the role would run update-grub first
    assert warned["changed"] is True and not warned.get("failed")


def test_user_default_comes_from_the_files_without_the_dropin(host):
    host.has_module = {host.old, host.new}
    host.write_tools()
    text = host.defaults.read_text().replace("GRUB_DEFAULT=0", "GRUB_DEFAULT=\"1>2\"")
    host.defaults.write_text(text)
    out = host.run()
    assert out["user_default"] == "1>2" and out["default_after"] == "1>2" and host.saved() == "1>2"
