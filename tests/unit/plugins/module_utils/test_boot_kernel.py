# -*- coding: utf-8 -*-
"""plugins/module_utils/_boot_kernel.py: grub.cfg menus and grubenv captured in the test
bed's Debian 12 VM (fixtures/boot), and the decision over them."""
import pytest

from captures import (BOOT_GRUB_CFG_ONE_KERNEL, BOOT_GRUB_CFG_TWO_KERNELS, BOOT_GRUBENV_EMPTY, fixture_path)

from ansible_collections.aiserver.gpu.plugins.module_utils import _boot_kernel as bk

UUID = "d72c151b-5ae9-4921-b5cc-ea7d66d45ee9"  # the root UUID of the image the fixtures come from
SUBMENU = "gnulinux-advanced-" + UUID


def read(name):
    with open(fixture_path("boot", name), encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def two():
    return bk.parse_grub_cfg(read(BOOT_GRUB_CFG_TWO_KERNELS))


def kernel(release, has_module, headers=True, dkms=None, registered=True):
    return {"release": release, "has_module": has_module, "module_version": "535.309.01" if has_module else None,
            "headers": headers, "dkms": dkms, "dkms_registered": registered}


def test_one_kernel_default_0():
    menu = bk.parse_grub_cfg(read(BOOT_GRUB_CFG_ONE_KERNEL))
    assert menu["saved"] is False and menu["defaults"] == ["0"]
    assert [item["kind"] for item in menu["top"]] == ["entry", "submenu"]
    assert menu["top"][1]["id"] == SUBMENU
    advanced = [e for e in menu["entries"] if e["submenu_id"] and not e["recovery"]]
    assert [e["path"] for e in advanced] == ["%s>gnulinux-6.1.0-50-cloud-amd64-advanced-%s" % (SUBMENU, UUID)]
    assert bk.resolve_default(menu, "0")["kernel"] == "6.1.0-50-cloud-amd64"
    assert bk.resolve_default(menu, "1>1")["recovery"] is True
    assert bk.parse_grubenv(read(BOOT_GRUBENV_EMPTY)) == {}


def test_two_kernels_saved_mode(two, new_kernel, old_kernel):
    assert two["saved"] is True
    assert two["top"][0]["kernel"] == new_kernel  # entry 0: the newest kernel, what GRUB boots
    kernels = [e["kernel"] for e in two["entries"] if e["submenu_id"] and not e["recovery"]]
    assert kernels == [new_kernel, old_kernel]
    assert bk.version_key(new_kernel) > bk.version_key(old_kernel)


def test_holds_back_the_new_kernel_without_module(two, new_kernel, old_kernel):
    kernels = [kernel(new_kernel, False, headers=False), kernel(old_kernel, True, dkms="installed")]
    plan = bk.decide(kernels, two, {}, "0")
    assert plan["changed"] is True and plan["needs_saved"] is True
    assert plan["saved_after"] == "%s>gnulinux-%s-advanced-%s" % (SUBMENU, old_kernel, UUID)
    assert plan["boots"] == old_kernel and plan["target"] == new_kernel
    (held,) = plan["held_back"]
    assert held["kernel"] == new_kernel
    assert "linux-headers-%s" % new_kernel in held["fix"] and "dkms autoinstall -k %s" % new_kernel in held["fix"]
    assert new_kernel in plan["msg"] and old_kernel in plan["msg"]
    assert bk.commands(plan, "grub-editenv") == [["grub-editenv", bk.GRUBENV, "set", "saved_entry=" + plan["saved_after"]]]
    # The saved entry names the kernel that has the module.
    assert bk.resolve_default(two, plan["saved_after"])["kernel"] == old_kernel
    # A second run with grubenv as the first left it: nothing to do.
    again = bk.decide(kernels, two, {"saved_entry": plan["saved_after"]}, "0")
    assert again["changed"] is False and bk.commands(again, "grub-editenv") == []


def test_every_kernel_has_it_newest_is_default_again(two, new_kernel, old_kernel):
    kernels = [kernel(new_kernel, True, dkms="installed"), kernel(old_kernel, True, dkms="installed")]
    held = "%s>gnulinux-%s-advanced-%s" % (SUBMENU, old_kernel, UUID)
    plan = bk.decide(kernels, two, {"saved_entry": held}, "0")
    assert plan["held_back"] == [] and plan["saved_after"] is None and plan["changed"] is True
    assert bk.commands(plan, "grub-editenv", "/g") == [["grub-editenv", "/g", "unset", "saved_entry"]]
    assert plan["boots"] == new_kernel


def test_user_default_is_restored(two, new_kernel, old_kernel):
    kernels = [kernel(new_kernel, True), kernel(old_kernel, True)]
    mine = "%s>gnulinux-%s-advanced-%s" % (SUBMENU, old_kernel, UUID)
    plan = bk.decide(kernels, two, {}, mine)
    assert plan["saved_after"] == mine and plan["target"] == old_kernel and plan["held_back"] == []
    # an index into the submenu works too
    assert bk.decide(kernels, two, {}, "1>2")["target"] == old_kernel


def test_older_kernel_without_module_is_not_held_back(two, new_kernel, old_kernel):
    kernels = [kernel(new_kernel, True), kernel(old_kernel, False)]
    plan = bk.decide(kernels, two, {}, "0")
    assert plan["held_back"] == [] and plan["changed"] is False


def test_no_kernel_has_it_nothing_to_fall_back_to(two, new_kernel, old_kernel):
    plan = bk.decide([kernel(new_kernel, False), kernel(old_kernel, False)], two, {}, "0")
    assert plan["changed"] is False and plan["held_back"] == []
    assert any("none to fall back to" in w for w in plan["warnings"])


def test_built_not_installed_and_failed_build_reasons(two, new_kernel, old_kernel):
    built = bk.decide([kernel(new_kernel, False, dkms="built"), kernel(old_kernel, True)], two, {}, "0")
    assert built["held_back"][0]["fix"].startswith("dkms install ")
    failed = bk.decide([kernel(new_kernel, False), kernel(old_kernel, True)], two, {}, "0")
    assert "make.log" in failed["held_back"][0]["why"]


def test_unknown_default_is_left_alone(two, new_kernel, old_kernel):
    plan = bk.decide([kernel(new_kernel, False), kernel(old_kernel, True)], two, {"saved_entry": "x"}, "Windows")
    assert plan["changed"] is False and plan["held_back"] == [] and plan["warnings"]


@pytest.mark.parametrize("a, b", [("6.1.0-9-amd64", "6.1.0-10-amd64"), ("6.1.0-50-cloud-amd64", "6.12.95+bpo-cloud-amd64"),
                                  ("5.15.0-100-generic", "6.8.0-45-generic")])
def test_version_key_orders_as_sort_v(a, b):
    assert bk.version_key(a) < bk.version_key(b)


def test_unreadable_inputs_give_empty_results():
    assert bk.parse_grub_cfg(None)["entries"] == [] and bk.parse_grubenv(None) == {}
    assert bk.resolve_default({"top": [], "entries": []}, "0") is None


@pytest.fixture(scope="module")
def new_kernel(two):
    return two["top"][0]["kernel"]


@pytest.fixture(scope="module")
def old_kernel(two):
    return [e["kernel"] for e in two["entries"] if e["submenu_id"] and not e["recovery"]][-1]


def test_gather_finds_debians_nvidia_current_where_modinfo_nvidia_fails(tmp_path):
    """Measured in a test-bed container: Debian's DKMS module is nvidia-current.ko and
    ``modinfo -k K nvidia`` fails beside it; the guard asks for nvidia-current too, and a
    kernel without headers (no DKMS line) has neither."""
    from captures import (BOOT_MODINFO_NVIDIA_CURRENT, BOOT_MODINFO_NVIDIA_NOT_FOUND_DEBIAN,
                          DKMS_DEBIAN12_TWO_KERNELS_ONE_BUILT)
    boot = tmp_path / "boot"
    boot.mkdir()
    for release in ("6.1.0-50-cloud-amd64", "6.1.0-57-cloud-amd64"):
        (boot / ("vmlinuz-" + release)).write_text("")
    asked = []

    def run(cmd, _timeout, **_kw):
        asked.append(cmd[1:])
        if cmd[0] == "dkms":
            return {"rc": 0, "stdout": open(fixture_path("dkms", DKMS_DEBIAN12_TWO_KERNELS_ONE_BUILT)).read(), "stderr": ""}
        if cmd[0] == "modinfo" and cmd[2:] == ["6.1.0-50-cloud-amd64", "nvidia-current"]:
            return {"rc": 0, "stdout": open(fixture_path("boot", BOOT_MODINFO_NVIDIA_CURRENT)).read(), "stderr": ""}
        if cmd[0] == "modinfo":
            return {"rc": 1, "stdout": "", "stderr": open(fixture_path("boot", BOOT_MODINFO_NVIDIA_NOT_FOUND_DEBIAN)).read()}
        return {"rc": 1, "stdout": "", "stderr": "", "error": "not here"}

    state = bk.gather(run, lambda name: name if name in ("dkms", "modinfo") else None, boot_dir=str(boot),
                      grub_cfg=str(tmp_path / "none"), grubenv=str(tmp_path / "none"), defaults=str(tmp_path / "none"),
                      modules_dir=str(tmp_path))
    kernels = dict((k["release"], k) for k in state["kernels"])
    assert kernels["6.1.0-50-cloud-amd64"]["has_module"] is True
    assert kernels["6.1.0-50-cloud-amd64"]["module_version"] == "535.309.01"
    assert kernels["6.1.0-50-cloud-amd64"]["dkms_module"] == "nvidia-current"
    assert kernels["6.1.0-57-cloud-amd64"]["has_module"] is False
    assert ["-k", "6.1.0-50-cloud-amd64", "nvidia"] in asked and ["-k", "6.1.0-50-cloud-amd64", "nvidia-current"] in asked
    assert bk.modinfo_names("nvidia") == ["nvidia", "nvidia-current"]
    assert bk.modinfo_names("aiserver_kguard_test") == ["aiserver_kguard_test"]
