"""What every file-editing module guarantees (module_utils/_safe_write.py), tried on each of
them as a user's machine can present the file: a secret kept 0600, a symlink into another
folder, a bad mode, an immutable or read-only file, a folder where the file should be,
text that is not UTF-8. The real module files run as Ansible runs them (conftest's
``run_module``) on real files; immutable files are made with the real ``chattr +i``.

After every failure the folder must hold exactly what it held before: no temporary file,
no backup, no half-written file."""
import os
import shutil
import stat
import subprocess

import pytest

from captures import GRUB_CLOUDIMG, GRUB_UBUNTU, fixture_path

SECRET_CONDARC = "proxy_servers:\n  https: http://lab:s3cret@proxy.lab:3128\nchannels:\n  - defaults\n"

# module -> (the option naming the file, the file's text before, the options of a change)
CASES = {
    "docker_daemon_json": ("path", '{\n    "log-driver": "json-file"\n}\n',
                           {"settings": {"runtimes": {"nvidia": {"path": "nvidia-container-runtime",
                                                                 "runtimeArgs": []}}}}),
    "condarc": ("path", SECRET_CONDARC, {"channels": ["fastchan", "conda-forge"]}),
    "conda_env": ("spec_path", "name: old\n", {"name": "fastai", "dependencies": ["python=3.11"],
                                               "create": False}),
}
NAMES = sorted(CASES)


def listing(folder):
    """The names in ``folder``, without args.json (run_module writes the module's arguments there)."""
    return sorted(name for name in os.listdir(str(folder)) if name != "args.json")


def chattr(flag, path):
    """``chattr +i``/``-i``; skips the test where the file system or capabilities refuse it."""
    proc = subprocess.run(["chattr", flag, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0 and flag.startswith("+"):
        pytest.skip("chattr %s is not possible here: %s" % (flag, proc.stderr.decode().strip()))


@pytest.fixture
def immutable():
    """Make paths immutable; undone at the end (else pytest cannot remove them)."""
    made = []

    def make(path):
        chattr("+i", path)
        made.append(path)

    yield make
    for path in reversed(made):
        chattr("-i", path)


def run_case(run_module, name, path, check_mode=False, **extra):
    option, _before, change = CASES[name]
    args = dict(change)
    args[option] = str(path)
    args.update(extra)
    return run_module(name, args, check_mode=check_mode, diff=True)


def write(path, text, mode=0o644):
    path.write_text(text)
    os.chmod(str(path), mode)


@pytest.mark.parametrize("name", NAMES)
def test_a_change_keeps_mode_and_owner_of_a_secret_file(run_module, tmp_path, name):
    target = tmp_path / "conf"
    write(target, CASES[name][1], 0o600)
    os.chown(str(target), 1, 1)
    result = run_case(run_module, name, target)
    assert result["changed"] is True
    st = os.stat(str(target))
    assert stat.S_IMODE(st.st_mode) == 0o600, "the file was widened from 0600"
    assert (st.st_uid, st.st_gid) == (1, 1)
    assert target.read_text() != CASES[name][1]
    assert run_case(run_module, name, target)["changed"] is False


@pytest.mark.parametrize("name", NAMES)
def test_a_new_file_is_0644(run_module, tmp_path, name):
    target = tmp_path / "sub" / "conf"
    result = run_case(run_module, name, target)
    assert result["changed"] is True
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o644


@pytest.mark.parametrize("name", NAMES)
def test_mode_owner_group_when_asked(run_module, tmp_path, name):
    target = tmp_path / "conf"
    write(target, CASES[name][1], 0o644)
    result = run_case(run_module, name, target, mode="0640", owner="1", group="daemon")
    assert result["changed"] is True
    st = os.stat(str(target))
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_uid == 1
    # Only the mode differs now: changed, text the same.
    text = target.read_text()
    again = run_case(run_module, name, target, mode="u=rw,g=,o=")
    assert again["changed"] is True and stat.S_IMODE(os.stat(str(target)).st_mode) == 0o600
    assert target.read_text() == text
    assert run_case(run_module, name, target, mode="0600")["changed"] is False


@pytest.mark.parametrize("mode", ["-1", "7777777", "4755", "2644", "1777", "u+s", "o+t", "0x644", "rw-r--r--",
                                  "99"])
@pytest.mark.parametrize("name", NAMES)
def test_a_bad_mode_is_refused_before_any_write(run_module, tmp_path, name, mode):
    target = tmp_path / "conf"
    write(target, CASES[name][1], 0o600)
    before = listing(tmp_path)
    result = run_case(run_module, name, target, mode=mode)
    assert result["failed"] is True and result["changed"] is False
    assert "mode" in result["msg"] and "Nothing was changed" in result["msg"]
    assert target.read_text() == CASES[name][1]
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o600
    assert listing(tmp_path) == before


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_owner_is_refused_before_any_write(run_module, tmp_path, name):
    target = tmp_path / "conf"
    write(target, CASES[name][1])
    result = run_case(run_module, name, target, owner="no-such-user-aiserver")
    assert result["failed"] is True and "no-such-user-aiserver" in result["msg"]
    assert target.read_text() == CASES[name][1]


@pytest.mark.parametrize("name", NAMES)
def test_a_symlink_stays_a_link_and_its_target_is_edited(run_module, tmp_path, name):
    real_dir = tmp_path / "configs-repo"
    real_dir.mkdir()
    real = real_dir / "conf"
    write(real, CASES[name][1], 0o640)
    link = tmp_path / "conf"
    os.symlink(str(real), str(link))
    result = run_case(run_module, name, link, **({"backup": True} if name != "conda_env" else {}))
    assert result["changed"] is True
    assert os.path.islink(str(link)) and os.readlink(str(link)) == str(real)
    assert real.read_text() != CASES[name][1]
    assert stat.S_IMODE(os.stat(str(real)).st_mode) == 0o640
    if name != "conda_env":
        assert result["path"] == str(real)
        assert os.path.dirname(result["backup_file"]) == str(real_dir)
    assert listing(tmp_path) == ["conf", "configs-repo"]


@pytest.mark.parametrize("name", NAMES)
def test_an_immutable_file_is_a_clear_error_and_nothing_is_left_behind(run_module, tmp_path, name, immutable):
    target = tmp_path / "conf"
    write(target, CASES[name][1])
    immutable(target)
    before = listing(tmp_path)
    extra = {"backup": True} if name != "conda_env" else {}
    result = run_case(run_module, name, target, **extra)
    assert result["failed"] is True and result["changed"] is False
    assert "Operation not permitted" in result["msg"] and "chattr -i" in result["msg"]
    assert "Nothing was changed" in result["msg"]
    assert "Unable to make" not in result["msg"]
    assert target.read_text() == CASES[name][1]
    assert listing(tmp_path) == before, "a temporary or backup file was left behind"


@pytest.mark.parametrize("name", NAMES)
def test_an_immutable_folder_is_a_clear_error(run_module, tmp_path, name, immutable):
    folder = tmp_path / "etc"
    folder.mkdir()
    target = folder / "conf"
    write(target, CASES[name][1])
    immutable(folder)
    result = run_case(run_module, name, target)
    assert result["failed"] is True and result["changed"] is False
    assert str(target) in result["msg"] and "Nothing was changed" in result["msg"]
    assert listing(folder) == ["conf"] and target.read_text() == CASES[name][1]


@pytest.mark.parametrize("name", NAMES)
def test_a_folder_where_the_file_should_be(run_module, tmp_path, name):
    target = tmp_path / "conf"
    target.mkdir()
    result = run_case(run_module, name, target)
    assert result["failed"] is True
    assert "is a directory" in result["msg"] and "Is a directory" not in result["msg"].split(":")[0]


@pytest.mark.parametrize("name", ["docker_daemon_json", "condarc"])
def test_text_that_is_not_utf8_is_refused_untouched(run_module, tmp_path, name):
    target = tmp_path / "conf"
    target.write_bytes(b'{"log-opts": {"tag": "caf\xe9"}}\n')
    result = run_case(run_module, name, target)
    assert result["failed"] is True and "not UTF-8" in result["msg"] and "line 1" in result["msg"]
    assert target.read_bytes() == b'{"log-opts": {"tag": "caf\xe9"}}\n'


@pytest.mark.parametrize("name", NAMES)
def test_check_mode_writes_and_creates_nothing(run_module, tmp_path, name):
    target = tmp_path / "new" / "conf"
    result = run_case(run_module, name, target, check_mode=True, mode="0600")
    assert result["changed"] is True
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "conf"
    write(existing, CASES[name][1])
    result = run_case(run_module, name, existing, check_mode=True, mode="0600")
    assert result["changed"] is True and result["diff"]["after"] != result["diff"]["before"]
    assert existing.read_text() == CASES[name][1]
    assert stat.S_IMODE(os.stat(str(existing)).st_mode) == 0o644


# --------------------------------------------------------------------------- several files: all or none

@pytest.fixture
def grub_pair(tmp_path):
    """Ubuntu's cloud-image GRUB files: a change of console= (in the drop-in) and iommu=pt
    (appended in the main file) touches both."""
    main = tmp_path / "grub"
    dropins = tmp_path / "grub.d"
    dropins.mkdir()
    shutil.copyfile(fixture_path("grub", GRUB_UBUNTU), str(main))
    dropin = dropins / "50-cloudimg-settings.cfg"
    shutil.copyfile(fixture_path("grub", GRUB_CLOUDIMG), str(dropin))
    proc = tmp_path / "cmdline"
    proc.write_text("BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro console=tty1 console=ttyS0\n")
    return main, dropin, proc


def grub_args(main, proc, **extra):
    args = dict(params=["console=ttyS0,115200", "iommu=pt"], path=str(main), proc_cmdline_path=str(proc))
    args.update(extra)
    return args


def test_kernel_cmdline_edits_both_files(run_module, grub_pair):
    main, dropin, proc = grub_pair
    result = run_module("kernel_cmdline", grub_args(main, proc))
    assert sorted(result["files_changed"]) == sorted([str(main), str(dropin)])


@pytest.mark.parametrize("backup", [False, True])
def test_kernel_cmdline_immutable_dropin_leaves_the_main_file_as_it_was(run_module, grub_pair, immutable, backup):
    """Before: /etc/default/grub was written, then the drop-in could not be, and the two
    disagreed. Now: the main file is put back (the very same file, by its kept link)."""
    main, dropin, proc = grub_pair
    main_before, dropin_before = main.read_bytes(), dropin.read_bytes()
    inode = os.stat(str(main)).st_ino
    immutable(dropin)
    folders = (listing(main.parent), listing(dropin.parent))
    result = run_module("kernel_cmdline", grub_args(main, proc, backup=backup))
    assert result["failed"] is True and result["changed"] is False
    assert str(dropin) in result["msg"] and "chattr -i" in result["msg"]
    assert "put back" in result["msg"] and "Nothing was changed" in result["msg"]
    assert main.read_bytes() == main_before and dropin.read_bytes() == dropin_before
    assert os.stat(str(main)).st_ino == inode
    assert (listing(main.parent), listing(dropin.parent)) == folders


def test_kernel_cmdline_immutable_dropin_folder_writes_nothing(run_module, grub_pair, immutable):
    main, dropin, proc = grub_pair
    main_before = main.read_bytes()
    immutable(dropin.parent)
    result = run_module("kernel_cmdline", grub_args(main, proc))
    assert result["failed"] is True and result["changed"] is False and "Nothing was changed" in result["msg"]
    assert main.read_bytes() == main_before
    assert listing(main.parent) == ["cmdline", "grub", "grub.d"]
