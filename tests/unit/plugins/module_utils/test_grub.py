# -*- coding: utf-8 -*-
"""Tests for plugins/module_utils/_grub.py over real GRUB defaults files.

Every expectation about the effective command line is also checked against an independent
evaluation with the system's /bin/sh (dash on Debian), written here the way grub-mkconfig
sources the files, so the tests check what update-grub would really compute.
"""
import os
import shutil
import subprocess

import pytest

from ansible_collections.aiserver.gpu.plugins.module_utils import _grub as grub
from captures import GRUB_CLOUDIMG, GRUB_DEBIAN, GRUB_PROXMOX, GRUB_SEED, GRUB_SEED_TWO_LINES, GRUB_UBUNTU, fixture_path


def fixture(name):
    with open(fixture_path('grub', name), 'rb') as f:
        return f.read().decode('utf-8')


def make_tree(tmp_path, main, dropins=()):
    """tmp/grub from fixture ``main`` and tmp/grub.d/<name> from (name, fixture) pairs."""
    path = tmp_path / 'grub'
    shutil.copyfile(fixture_path('grub', main), str(path))
    if dropins:
        (tmp_path / 'grub.d').mkdir()
        for name, fix in dropins:
            shutil.copyfile(fixture_path('grub', fix), str(tmp_path / 'grub.d' / name))
    return str(path)


def sh_cmdline(path):
    """Independent ground truth: source like grub-mkconfig with /bin/sh, split the result."""
    script = ('set -e; . "$1"; for x in "$2"/*.cfg; do if [ -e "$x" ]; then . "$x"; fi; done; '
              'printf "%s %s" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"')
    out = subprocess.run(['/bin/sh', '-c', script, 'sh', path, os.path.join(os.path.dirname(path), 'grub.d')],
                         stdout=subprocess.PIPE, check=True, env={'PATH': '/usr/bin:/bin', 'LC_ALL': 'C'})
    return out.stdout.decode().split()


def apply(result):
    for change in result.changes:
        with open(change.path, 'w') as f:
            f.write(change.after)


def read(path):
    with open(path) as f:
        return f.read()


def run(path, params, state='present'):
    """compute + write + check against sh + check that a second pass is a no-op."""
    result = grub.compute(path, params, state)
    assert result.cmdline_before == sh_cmdline(path) or not result.changes
    apply(result)
    assert sh_cmdline(path) == result.cmdline_after
    again = grub.compute(path, params, state)
    assert again.changes == []
    assert again.cmdline_before == again.cmdline_after == result.cmdline_after
    return result


# --- the real files ------------------------------------------------------------------------

def test_debian_stock_effective_cmdline(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN)
    assert grub.evaluate(path) == ('', 'quiet')
    assert grub.compute(path, []).cmdline_before == ['quiet'] == sh_cmdline(path)


def test_debian_stock_adds_to_grub_cmdline_linux(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN)
    result = run(path, ['intel_iommu=on', 'iommu=pt'])
    assert result.cmdline_before == ['quiet']
    assert result.cmdline_after == ['intel_iommu=on', 'iommu=pt', 'quiet']
    assert [c.path for c in result.changes] == [path]
    assert read(path) == fixture(GRUB_DEBIAN).replace(
        'GRUB_CMDLINE_LINUX=""\n', 'GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt"\n')


def test_ubuntu_cloudimg_dropin_overrides_main_file(tmp_path):
    path = make_tree(tmp_path, GRUB_UBUNTU, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG)])
    result = grub.compute(path, [])
    # not "quiet splash": the drop-in replaces GRUB_CMDLINE_LINUX_DEFAULT
    assert result.cmdline_before == ['console=tty1', 'console=ttyS0'] == sh_cmdline(path)
    assert grub.evaluate(path) == ('', 'console=tty1 console=ttyS0')


def test_ubuntu_cloudimg_seed_params(tmp_path):
    path = make_tree(tmp_path, GRUB_UBUNTU, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG)])
    dropin = str(tmp_path / 'grub.d' / '50-cloudimg-settings.cfg')
    result = run(path, GRUB_SEED)
    assert result.cmdline_after == GRUB_SEED + ['console=tty1', 'console=ttyS0']
    assert [c.path for c in result.changes] == [path]
    assert read(path) == fixture(GRUB_UBUNTU).replace(
        'GRUB_CMDLINE_LINUX=""\n', 'GRUB_CMDLINE_LINUX="%s"\n' % ' '.join(GRUB_SEED))
    assert read(dropin) == fixture(GRUB_CLOUDIMG)
    assert result.warnings == []


def test_ubuntu_cloudimg_rewrites_where_effective(tmp_path):
    """console= is set by the drop-in: it is rewritten there, the second one removed."""
    path = make_tree(tmp_path, GRUB_UBUNTU, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG)])
    dropin = str(tmp_path / 'grub.d' / '50-cloudimg-settings.cfg')
    result = run(path, ['console=ttyS0,115200n8'])
    assert result.cmdline_after == ['console=ttyS0,115200n8']
    assert [c.path for c in result.changes] == [dropin]
    assert read(path) == fixture(GRUB_UBUNTU)
    assert read(dropin) == fixture(GRUB_CLOUDIMG).replace(
        'GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0"',
        'GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0,115200n8"')


def test_ubuntu_cloudimg_dead_main_default_is_not_edited(tmp_path):
    """'quiet' only sits in the overridden main-file line: it is not effective, so it is added."""
    path = make_tree(tmp_path, GRUB_UBUNTU, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG)])
    result = run(path, ['quiet'])
    assert result.cmdline_after == ['quiet', 'console=tty1', 'console=ttyS0']
    assert read(path) == fixture(GRUB_UBUNTU).replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="quiet"')


def test_ubuntu_cloudimg_absent_console(tmp_path):
    path = make_tree(tmp_path, GRUB_UBUNTU, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG)])
    dropin = str(tmp_path / 'grub.d' / '50-cloudimg-settings.cfg')
    result = run(path, ['console'], 'absent')
    assert result.cmdline_after == []
    assert read(dropin) == fixture(GRUB_CLOUDIMG).replace('"console=tty1 console=ttyS0"', '""')


def test_proxmox_intel_iommu_replaced_not_duplicated(tmp_path):
    path = make_tree(tmp_path, GRUB_PROXMOX)
    result = run(path, ['intel_iommu=off'])
    assert result.cmdline_before == ['quiet', 'intel_iommu=on']
    assert result.cmdline_after == ['quiet', 'intel_iommu=off']
    expected = fixture(GRUB_PROXMOX).replace('GRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on"',
                                             'GRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=off"')
    assert read(path) == expected
    # the commented-out line naming the variable is untouched
    assert '#GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n' in read(path)


def test_proxmox_absent_by_name_and_by_value(tmp_path):
    path = make_tree(tmp_path, GRUB_PROXMOX)
    # a different value does not match NAME=VALUE
    assert grub.compute(path, ['intel_iommu=off'], 'absent').changes == []
    result = run(path, ['intel_iommu=on'], 'absent')
    assert result.cmdline_after == ['quiet']
    assert read(path) == fixture(GRUB_PROXMOX).replace('"quiet intel_iommu=on"', '"quiet"')
    # name only, '-' and '_' are the same for the kernel
    (tmp_path / 'other').mkdir()
    path2 = make_tree(tmp_path / 'other', GRUB_PROXMOX)
    assert run(path2, ['intel-iommu'], 'absent').cmdline_after == ['quiet']


def test_proxmox_parser_ignores_comment_lines():
    assignments, mentions = grub.parse(fixture(GRUB_PROXMOX))
    assert [(a.var, a.line) for a in assignments] == [
        ('GRUB_CMDLINE_LINUX_DEFAULT', 10), ('GRUB_CMDLINE_LINUX', 11)]
    assert [w.text for w in assignments[0].words] == ['quiet', 'intel_iommu=on']
    assert mentions == []


def test_seed_second_linux_default_line(tmp_path):
    """The seed added a second GRUB_CMDLINE_LINUX_DEFAULT line: only that one is effective."""
    path = make_tree(tmp_path, GRUB_SEED_TWO_LINES)
    result = run(path, GRUB_SEED)
    assert result.cmdline_before == ['pti=off', 'spectre_v2=off', 'l1tf=off', 'nospec_store_bypass_disable',
                                     'no_stf_barrier']
    assert result.cmdline_after == ['intel_iommu=off', 'rcutree.rcu_idle_gp_delay=1', 'mitigations=off',
                                    'pti=off', 'spectre_v2=off', 'l1tf=off', 'nospec_store_bypass_disable',
                                    'no_stf_barrier']
    assert read(path) == fixture(GRUB_SEED_TWO_LINES).replace(
        'GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="intel_iommu=off rcutree.rcu_idle_gp_delay=1 mitigations=off"')
    for token in GRUB_SEED:
        assert result.cmdline_after.count(token) == 1


def test_seed_second_line_conflicting_value_rewritten_in_effective_line(tmp_path):
    path = make_tree(tmp_path, GRUB_SEED_TWO_LINES)
    run(path, ['spectre_v2=on', 'pti=on'])
    assert read(path) == fixture(GRUB_SEED_TWO_LINES).replace(
        '"pti=off spectre_v2=off l1tf=off', '"pti=on spectre_v2=on l1tf=off')
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\n' in read(path)


def test_seed_second_line_dead_conflict_warns(tmp_path):
    """Proxmox main file + a drop-in that overrides GRUB_CMDLINE_LINUX_DEFAULT: the dead
    intel_iommu=on of the main file is left alone, with a warning."""
    path = make_tree(tmp_path, GRUB_PROXMOX, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG)])
    result = run(path, ['intel_iommu=off'])
    assert result.cmdline_after == ['intel_iommu=off', 'console=tty1', 'console=ttyS0']
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on"' in read(path)
    assert 'GRUB_CMDLINE_LINUX="intel_iommu=off"' in read(path)
    assert result.warnings == [
        "%s:10: GRUB_CMDLINE_LINUX_DEFAULT contains 'intel_iommu=on', but this assignment is overridden by a "
        "later one, so it does not reach the kernel command line; it was left unchanged" % path]


# --- drop-ins with self references ----------------------------------------------------------

def test_self_appending_dropin(tmp_path):
    path = make_tree(tmp_path, GRUB_UBUNTU, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG),
                                             ('60-gpu.cfg', 'synthetic_dropin_self-append.txt')])
    gpu = str(tmp_path / 'grub.d' / '60-gpu.cfg')
    result = run(path, ['intel_iommu=off', 'mitigations=off', 'iommu=pt'])
    assert result.cmdline_before == ['nvidia-drm.modeset=1', 'console=tty1', 'console=ttyS0',
                                     'intel_iommu=on', 'iommu=pt']
    assert result.cmdline_after == ['nvidia-drm.modeset=1', 'mitigations=off', 'console=tty1', 'console=ttyS0',
                                    'intel_iommu=off', 'iommu=pt']
    assert read(path) == fixture(GRUB_UBUNTU)
    assert read(gpu) == (
        '# Drop-in that extends both variables instead of replacing them.\n'
        'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT intel_iommu=off iommu=pt"\n'
        'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} nvidia-drm.modeset=1 mitigations=off"\n')


def test_self_appending_dropin_underscore_name_is_same_param(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN, [('60-gpu.cfg', 'synthetic_dropin_self-append.txt')])
    result = run(path, ['nvidia_drm.modeset=0'])
    assert result.cmdline_after == ['nvidia_drm.modeset=0', 'quiet', 'intel_iommu=on', 'iommu=pt']


def test_self_appending_dropin_full_seed_set(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN, [('60-gpu.cfg', 'synthetic_dropin_self-append.txt')])
    result = run(path, GRUB_SEED)
    assert result.cmdline_after == ['nvidia-drm.modeset=1', 'pti=off', 'spectre_v2=off', 'l1tf=off',
                                    'nospec_store_bypass_disable', 'no_stf_barrier',
                                    'rcutree.rcu_idle_gp_delay=1', 'mitigations=off',
                                    'quiet', 'intel_iommu=off', 'iommu=pt']
    assert read(path) == fixture(GRUB_DEBIAN)


# --- quoting styles -------------------------------------------------------------------------

def test_export_single_quotes_and_comments(tmp_path):
    path = make_tree(tmp_path, 'synthetic_export-single-quotes.txt')
    original = fixture('synthetic_export-single-quotes.txt')
    result = run(path, ['intel_iommu=off', 'iommu=pt'])
    assert result.cmdline_after == ['rd.lvm.lv=vg/root', 'intel_iommu=off', 'iommu=pt', 'quiet']
    assert read(path) == original.replace(
        "export GRUB_CMDLINE_LINUX='rd.lvm.lv=vg/root intel_iommu=on'   # keep the LVM root",
        "export GRUB_CMDLINE_LINUX='rd.lvm.lv=vg/root intel_iommu=off iommu=pt'   # keep the LVM root")
    assert '#GRUB_CMDLINE_LINUX="intel_iommu=on"\n' in read(path)
    assert "# GRUB_CMDLINE_LINUX_DEFAULT='quiet splash intel_iommu=on'\n" in read(path)


def test_export_single_quotes_absent(tmp_path):
    path = make_tree(tmp_path, 'synthetic_export-single-quotes.txt')
    result = run(path, ['intel_iommu', 'quiet'], 'absent')
    assert result.cmdline_after == ['rd.lvm.lv=vg/root']
    assert read(path) == fixture('synthetic_export-single-quotes.txt').replace(
        "'rd.lvm.lv=vg/root intel_iommu=on'", "'rd.lvm.lv=vg/root'").replace(
        "export GRUB_CMDLINE_LINUX_DEFAULT='quiet'", "export GRUB_CMDLINE_LINUX_DEFAULT=''")


def test_unquoted_rewrite_stays_unquoted(tmp_path):
    path = make_tree(tmp_path, 'synthetic_unquoted.txt')
    result = run(path, ['intel_iommu=off'])
    assert result.cmdline_after == ['intel_iommu=off', 'quiet']
    assert read(path) == 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=quiet\nGRUB_CMDLINE_LINUX=intel_iommu=off\n'


def test_unquoted_append_adds_double_quotes(tmp_path):
    path = make_tree(tmp_path, 'synthetic_unquoted.txt')
    result = run(path, ['iommu=pt', 'acpi_osi=!Linux'])
    assert result.cmdline_after == ['intel_iommu=on', 'iommu=pt', 'acpi_osi=!Linux', 'quiet']
    assert read(path) == ('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=quiet\n'
                          'GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt acpi_osi=!Linux"\n')


def test_unquoted_rewrite_with_shell_special_value_is_quoted(tmp_path):
    path = make_tree(tmp_path, 'synthetic_unquoted.txt')
    # Glob characters are allowed in a value but would be expanded unquoted.
    result = run(path, ['intel_iommu=a*b?[c]'])
    assert result.cmdline_after == ['intel_iommu=a*b?[c]', 'quiet']
    assert read(path).endswith('\nGRUB_CMDLINE_LINUX="intel_iommu=a*b?[c]"\n')


def test_unquoted_absent_leaves_empty_value(tmp_path):
    path = make_tree(tmp_path, 'synthetic_unquoted.txt')
    result = run(path, ['intel_iommu'], 'absent')
    assert result.cmdline_after == ['quiet']
    assert read(path) == 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=quiet\nGRUB_CMDLINE_LINUX=\n'


def test_multiline_continuation(tmp_path):
    path = make_tree(tmp_path, 'synthetic_multiline-continuation.txt')
    result = run(path, ['intel_iommu=off'])
    assert result.cmdline_after == ['rd.lvm.lv=vg/root', 'intel_iommu=off', 'quiet']
    assert read(path) == ('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="rd.lvm.lv=vg/root \\\n    intel_iommu=off"\n'
                          'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n')


def test_param_in_both_variables(tmp_path):
    path = make_tree(tmp_path, 'synthetic_param-in-both-vars.txt')
    result = run(path, ['intel_iommu=off'])
    assert result.cmdline_before == ['intel_iommu=on', 'iommu=pt', 'quiet', 'intel_iommu=on', 'splash']
    assert result.cmdline_after == ['intel_iommu=off', 'iommu=pt', 'quiet', 'splash']
    assert read(path) == ('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\n'
                          'GRUB_CMDLINE_LINUX="intel_iommu=off iommu=pt"\n')


def test_param_in_both_variables_already_right_value_dedups(tmp_path):
    path = make_tree(tmp_path, 'synthetic_param-in-both-vars.txt')
    result = run(path, ['intel_iommu=on'])
    assert result.cmdline_after == ['intel_iommu=on', 'iommu=pt', 'quiet', 'splash']


def test_param_in_both_variables_absent(tmp_path):
    path = make_tree(tmp_path, 'synthetic_param-in-both-vars.txt')
    result = run(path, ['intel_iommu'], 'absent')
    assert result.cmdline_after == ['iommu=pt', 'quiet', 'splash']
    assert read(path) == ('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\n'
                          'GRUB_CMDLINE_LINUX="iommu=pt"\n')


def test_no_cmdline_variables_appends_line(tmp_path):
    path = make_tree(tmp_path, 'synthetic_no-cmdline-vars.txt')
    original = fixture('synthetic_no-cmdline-vars.txt')
    assert not original.endswith('\n')
    result = run(path, ['iommu=pt', 'intel_iommu=on'])
    assert result.cmdline_before == []
    assert result.cmdline_after == ['iommu=pt', 'intel_iommu=on']
    assert read(path) == original + '\nGRUB_CMDLINE_LINUX="iommu=pt intel_iommu=on"\n'


def test_no_cmdline_variables_absent_is_noop(tmp_path):
    path = make_tree(tmp_path, 'synthetic_no-cmdline-vars.txt')
    result = grub.compute(path, ['quiet'], 'absent')
    assert result.changes == [] and result.cmdline_after == []


# --- shell logic ----------------------------------------------------------------------------

def test_conditional_dropin_only_taken_branch_counts(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN, [('10-select.cfg', 'synthetic_dropin_conditional.txt')])
    dropin = str(tmp_path / 'grub.d' / '10-select.cfg')
    result = run(path, ['intel_iommu=off'])
    assert result.cmdline_before == ['quiet', 'iommu=pt']
    assert result.cmdline_after == ['intel_iommu=off', 'quiet', 'iommu=pt']
    assert read(dropin) == fixture('synthetic_dropin_conditional.txt')
    assert result.warnings == [
        "%s:3: GRUB_CMDLINE_LINUX_DEFAULT contains 'intel_iommu=on', but this assignment never runs, so it "
        "does not reach the kernel command line; it was left unchanged" % dropin]


def test_conditional_dropin_absent_edits_taken_branch(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN, [('10-select.cfg', 'synthetic_dropin_conditional.txt')])
    dropin = str(tmp_path / 'grub.d' / '10-select.cfg')
    result = run(path, ['iommu'], 'absent')
    assert result.cmdline_after == ['quiet']
    assert read(dropin) == fixture('synthetic_dropin_conditional.txt').replace(
        '"$GRUB_CMDLINE_LINUX_DEFAULT iommu=pt"', '"$GRUB_CMDLINE_LINUX_DEFAULT"')


def test_command_substitution_cannot_be_edited(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN, [('70-subst.cfg', 'synthetic_dropin_cmdsubst.txt')])
    dropin = str(tmp_path / 'grub.d' / '70-subst.cfg')
    with pytest.raises(grub.GrubError) as err:
        grub.compute(path, ['intel_iommu=off'])
    msg = str(err.value)
    assert msg.startswith("cannot set intel_iommu=off: 'intel_iommu=on' on the effective kernel command line "
                          "comes from %s:2, where GRUB_CMDLINE_LINUX_DEFAULT is built with a shell expansion, "
                          "which the module cannot edit" % dropin)
    assert 'plain assignment' in msg
    # parameters that are not produced by the substitution can still be managed
    result = run(path, ['iommu=pt'])
    assert result.cmdline_after == ['iommu=pt', 'quiet', 'intel_iommu=on']
    assert read(dropin) == fixture('synthetic_dropin_cmdsubst.txt')


def test_oneliner_append_cannot_be_edited_but_others_work(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN, [('80-oneliner.cfg', 'synthetic_dropin_oneliner-append.txt')])
    dropin = str(tmp_path / 'grub.d' / '80-oneliner.cfg')
    with pytest.raises(grub.GrubError) as err:
        grub.compute(path, ['intel_iommu=off'])
    assert str(err.value).startswith(
        "cannot set intel_iommu=off: 'intel_iommu=on' on the effective kernel command line comes from shell code "
        "the module cannot follow, run after %s:10 (see %s:2), which the module cannot edit" % (path, dropin))
    result = run(path, ['iommu=pt'])
    assert result.cmdline_before == ['intel_iommu=on', 'quiet']
    assert result.cmdline_after == ['iommu=pt', 'intel_iommu=on', 'quiet']
    assert read(dropin) == fixture('synthetic_dropin_oneliner-append.txt')


def test_oneliner_override_is_caught_by_verification(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN, [('80-oneliner.cfg', 'synthetic_dropin_oneliner-override.txt')])
    dropin = str(tmp_path / 'grub.d' / '80-oneliner.cfg')
    assert grub.compute(path, []).cmdline_before == ['nomodeset', 'quiet']
    with pytest.raises(grub.GrubError) as err:
        grub.compute(path, ['iommu=pt'])
    msg = str(err.value)
    assert msg.startswith("refusing to change anything: with the edit of %s, grub-mkconfig would compute the "
                          "kernel command line 'nomodeset quiet', in which iommu=pt appears as [] instead of "
                          "exactly once" % path)
    assert '%s:2: [ -e /nonexistent/kernel_cmdline-fixture ] || GRUB_CMDLINE_LINUX="nomodeset"' % dropin in msg
    assert read(path) == fixture(GRUB_DEBIAN)


def test_a_hanging_grub_file_is_killed_with_its_children(tmp_path):
    """Before: the subprocess timeout killed /bin/sh and left its child running. A drop-in
    whose command hangs (here: waits on a child) must time out and leave no process."""
    import time
    path = make_tree(tmp_path, GRUB_DEBIAN)
    (tmp_path / 'grub.d').mkdir()
    pidfile = tmp_path / 'pid'
    (tmp_path / 'grub.d' / '90-hang.cfg').write_text(
        'GRUB_DISTRIBUTOR=$(sleep 300 & echo $! > %s; wait)\n' % pidfile)
    start = time.monotonic()
    with pytest.raises(grub.GrubError, match='did not finish within 2 seconds'):
        grub.compute(path, ['iommu=pt'], timeout=2)
    assert time.monotonic() - start < 20
    child = int(pidfile.read_text())
    assert not os.path.exists('/proc/%d' % child) or \
        open('/proc/%d/stat' % child).read().rsplit(')', 1)[1].split()[0] == 'Z'


def test_shell_error_is_reported_with_real_path(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN, [('99-bash.cfg', 'synthetic_dropin_bash-append.txt')])
    with pytest.raises(grub.GrubError) as err:
        grub.compute(path, ['iommu=pt'])
    msg = str(err.value)
    assert 'update-grub would fail the same way' in msg
    assert '%s/grub.d/99-bash.cfg' % tmp_path in msg
    assert 'GRUB_CMDLINE_LINUX_DEFAULT+= nomodeset: not found' in msg
    assert 'exit status 127' in msg


def test_crlf_refused(tmp_path):
    path = make_tree(tmp_path, 'synthetic_crlf.txt')
    with pytest.raises(grub.GrubError, match=r'Windows \(CRLF\) line endings \(first at line 1\).*dos2unix'):
        grub.compute(path, ['iommu=pt'])


def test_missing_path(tmp_path):
    with pytest.raises(grub.GrubError) as err:
        grub.compute(str(tmp_path / 'nope' / 'grub'), ['iommu=pt'])
    assert str(err.value).startswith('%s does not exist; is GRUB installed' % (tmp_path / 'nope' / 'grub'))
    assert 'pass path=' in str(err.value)


def test_dropin_glob_order_and_dangling_symlink(tmp_path):
    """C-locale order: '60-gpu.cfg' sorts before 'Z.cfg' before 'a.cfg'; dangling links are skipped."""
    path = make_tree(tmp_path, GRUB_DEBIAN, [('a.cfg', 'synthetic_unquoted.txt'),
                                             ('60-gpu.cfg', 'synthetic_dropin_self-append.txt')])
    with open(str(tmp_path / 'grub.d' / 'Z.cfg'), 'w') as f:
        f.write('GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT Z"\n')
    with open(str(tmp_path / 'grub.d' / 'notes.txt'), 'w') as f:
        f.write('GRUB_CMDLINE_LINUX="ignored"\n')
    os.symlink(str(tmp_path / 'missing'), str(tmp_path / 'grub.d' / 'b.cfg'))
    result = grub.compute(path, [])
    assert [f.path for f in grub.load_files(path)] == [
        path, str(tmp_path / 'grub.d' / '60-gpu.cfg'), str(tmp_path / 'grub.d' / 'Z.cfg'),
        str(tmp_path / 'grub.d' / 'a.cfg')]
    assert result.cmdline_before == ['intel_iommu=on', 'quiet'] == sh_cmdline(path)


# --- parameters and reboot ------------------------------------------------------------------

@pytest.mark.parametrize('bad', ['intel iommu=on', 'a="b"', "a='b'", 'a=$x', 'a=`id`', 'a=b\\c', '', '=on',
                                 '-foo', 'foo bar', 'a=b c', 'a=\u00e9', 'a=b;reboot', 'a=b&c', 'a=b|c', 'a=<b>',
                                 'a=(b)', 'a=\x01', 'iommu=\u00e9', 7])
def test_invalid_params(bad):
    """The one definition (module_utils/_kernel_params.py): before, _grub.py accepted ;&|<>()
    while the role's filter refused them."""
    with pytest.raises(grub.GrubError, match='is not a kernel parameter|not a string|empty string'):
        grub.parse_params([bad])


def test_params_duplicates():
    assert grub.parse_params(['a=1', 'a=1', 'b']) == [grub.Param('a', '1', 'a=1'), grub.Param('b', None, 'b')]
    assert grub.parse_params(['c=']) == [grub.Param('c', '', 'c=')]
    with pytest.raises(grub.GrubError, match="params lists 'nvidia-drm.modeset=1' and 'nvidia_drm.modeset=0'"):
        grub.parse_params(['nvidia-drm.modeset=1', 'nvidia_drm.modeset=0'])
    with pytest.raises(grub.GrubError):
        grub.parse_params(['quiet', 'quiet=1'], 'absent')


def test_invalid_params_change_nothing(tmp_path):
    path = make_tree(tmp_path, GRUB_DEBIAN)
    with pytest.raises(grub.GrubError):
        grub.compute(path, ['iommu=pt', 'bad value'])
    assert read(path) == fixture(GRUB_DEBIAN)


def test_reboot_required():
    running = 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=x ro quiet intel_iommu=on\n'
    assert grub.reboot_required(running, ['intel_iommu=on', 'quiet']) is False
    assert grub.reboot_required(running, ['intel_iommu=off']) is True
    assert grub.reboot_required(running, ['intel_iommu']) is True  # bare NAME is not NAME=VALUE
    assert grub.reboot_required(running, ['intel-iommu=on']) is False
    assert grub.reboot_required(running, ['mitigations=off']) is True
    assert grub.reboot_required(running, ['intel_iommu'], 'absent') is True
    assert grub.reboot_required(running, ['intel_iommu=off'], 'absent') is False
    assert grub.reboot_required(running, ['intel_iommu=on'], 'absent') is True
    assert grub.reboot_required(running, ['splash'], 'absent') is False
    assert grub.reboot_required(running, []) is False


def test_split_cmdline():
    assert grub.split_cmdline(' a\tb\n c  ') == ['a', 'b', 'c']
    assert grub.effective_cmdline('', ' quiet ') == ['quiet']
