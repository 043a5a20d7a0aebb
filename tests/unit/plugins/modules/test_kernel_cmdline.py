# -*- coding: utf-8 -*-
"""End-to-end tests of plugins/modules/kernel_cmdline.py: the real module file runs as a
subprocess, the way Ansible runs it, on copies of the fixtures in a temporary directory."""
import os
import shutil
import stat

import pytest

from captures import GRUB_CLOUDIMG, GRUB_DEBIAN, GRUB_PROXMOX, GRUB_SEED, GRUB_UBUNTU, fixture_path, module_path

MODULE = module_path('kernel_cmdline')
RUNNING = 'BOOT_IMAGE=/boot/vmlinuz-5.15.0-100-generic root=LABEL=cloudimg-rootfs ro console=tty1 console=ttyS0\n'


def fixture(name):
    with open(fixture_path('grub', name), 'rb') as f:
        return f.read()


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def warnings(result):
    """Warning texts; ansible-core 2.19 returns them as WarningSummary dicts."""
    return [w['event']['msg'] if isinstance(w, dict) else w for w in result.get('warnings', [])]


@pytest.fixture
def host(tmp_path, run_module):
    """A fake /etc/default: tmp/grub, tmp/grub.d/, and a fake /proc/cmdline."""
    class Host(object):
        dir = tmp_path
        grub = str(tmp_path / 'grub')
        dropins = tmp_path / 'grub.d'
        proc = str(tmp_path / 'cmdline')

        def install(self, main, dropins=()):
            shutil.copyfile(fixture_path('grub', main), self.grub)
            self.dropins.mkdir(exist_ok=True)
            for name, fix in dropins:
                shutil.copyfile(fixture_path('grub', fix), str(self.dropins / name))
            with open(self.proc, 'w') as f:
                f.write(RUNNING)

        def run(self, check_mode=False, diff=True, **args):
            """conftest's run_module: it writes tmp/args.json and runs the module in tmp."""
            args.setdefault('path', self.grub)
            args.setdefault('proc_cmdline_path', self.proc)
            return run_module('kernel_cmdline', args, check_mode=check_mode, diff=diff, env={'LC_ALL': 'C.UTF-8'})

    return Host()


def test_changes_then_idempotent(host):
    host.install(GRUB_UBUNTU, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG)])
    first = host.run(params=GRUB_SEED)
    assert first['changed'] is True
    assert first['cmdline_before'] == ['console=tty1', 'console=ttyS0']
    assert first['cmdline_after'] == GRUB_SEED + ['console=tty1', 'console=ttyS0']
    assert first['files_changed'] == [host.grub]
    assert first['backup_files'] == []
    assert first['reboot_required'] is True
    assert read(host.grub) == fixture(GRUB_UBUNTU).replace(
        b'GRUB_CMDLINE_LINUX=""\n', b'GRUB_CMDLINE_LINUX="' + ' '.join(GRUB_SEED).encode() + b'"\n')
    assert read(str(host.dropins / '50-cloudimg-settings.cfg')) == fixture(GRUB_CLOUDIMG)
    assert first['diff'] == [{
        'before_header': host.grub, 'after_header': host.grub,
        'before': fixture(GRUB_UBUNTU).decode(), 'after': read(host.grub).decode()}]

    second = host.run(params=GRUB_SEED)
    assert second['changed'] is False
    assert second['files_changed'] == []
    assert second['diff'] == []
    assert second['cmdline_before'] == second['cmdline_after'] == first['cmdline_after']
    assert second['reboot_required'] is True  # the running kernel still lacks them


def test_check_mode_writes_nothing(host):
    host.install(GRUB_PROXMOX)
    before = os.stat(host.grub)
    result = host.run(check_mode=True, params=['intel_iommu=off'], backup=True)
    assert result['changed'] is True
    assert result['cmdline_before'] == ['quiet', 'intel_iommu=on']
    assert result['cmdline_after'] == ['quiet', 'intel_iommu=off']
    assert result['files_changed'] == [host.grub]
    assert result['backup_files'] == []
    assert result['diff'][0]['before'] == fixture(GRUB_PROXMOX).decode()
    assert result['diff'][0]['after'] == fixture(GRUB_PROXMOX).decode().replace(
        '"quiet intel_iommu=on"', '"quiet intel_iommu=off"')
    assert read(host.grub) == fixture(GRUB_PROXMOX)
    assert os.stat(host.grub).st_mtime_ns == before.st_mtime_ns
    assert sorted(os.listdir(str(host.dir))) == ['args.json', 'cmdline', 'grub', 'grub.d']


def test_backup_and_mode_preserved(host):
    host.install(GRUB_PROXMOX)
    os.chmod(host.grub, 0o600)
    result = host.run(params=['intel_iommu=off', 'iommu=pt'], backup=True)
    assert result['changed'] is True
    assert result['files_changed'] == [host.grub]
    assert len(result['backup_files']) == 1
    backup = result['backup_files'][0]
    assert backup.startswith(host.grub + '.') and backup.endswith('~')
    assert read(backup) == fixture(GRUB_PROXMOX)
    assert read(host.grub) == fixture(GRUB_PROXMOX).replace(b'"quiet intel_iommu=on"', b'"quiet intel_iommu=off"').replace(
        b'GRUB_CMDLINE_LINUX=""', b'GRUB_CMDLINE_LINUX="iommu=pt"')
    assert stat.S_IMODE(os.stat(host.grub).st_mode) == 0o600
    # nothing else left behind (no temp files)
    assert sorted(os.listdir(str(host.dir))) == sorted(['args.json', 'cmdline', 'grub', 'grub.d',
                                                        os.path.basename(backup)])


def test_backup_of_dropin(host):
    host.install(GRUB_UBUNTU, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG)])
    dropin = str(host.dropins / '50-cloudimg-settings.cfg')
    result = host.run(params=['console=ttyS0,115200'], backup=True)
    assert result['files_changed'] == [dropin]
    assert [os.path.dirname(b) for b in result['backup_files']] == [str(host.dropins)]
    assert read(result['backup_files'][0]) == fixture(GRUB_CLOUDIMG)
    assert read(dropin) == fixture(GRUB_CLOUDIMG).replace(b'"console=tty1 console=ttyS0"', b'"console=ttyS0,115200"')
    # the backup does not end in .cfg, so grub-mkconfig does not source it
    assert host.run(params=['console=ttyS0,115200'])['changed'] is False


def test_symlinked_dropin_stays_a_symlink(host):
    host.install(GRUB_UBUNTU)
    target = str(host.dir / 'cloudimg-settings.cfg.real')
    shutil.copyfile(fixture_path('grub', GRUB_CLOUDIMG), target)
    os.symlink(target, str(host.dropins / '50-cloudimg-settings.cfg'))
    result = host.run(params=['console=ttyS0'])
    assert result['files_changed'] == [str(host.dropins / '50-cloudimg-settings.cfg')]
    assert os.path.islink(str(host.dropins / '50-cloudimg-settings.cfg'))
    assert read(target) == fixture(GRUB_CLOUDIMG).replace(b'"console=tty1 console=ttyS0"', b'"console=ttyS0"')
    assert result['cmdline_after'] == ['console=ttyS0']


def test_absent(host):
    host.install(GRUB_UBUNTU, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG)])
    result = host.run(params=['console=ttyS0', 'nomodeset'], state='absent')
    assert result['changed'] is True
    assert result['cmdline_after'] == ['console=tty1']
    assert result['reboot_required'] is True  # console=ttyS0 is still on the running kernel
    assert host.run(params=['console=ttyS0', 'nomodeset'], state='absent')['changed'] is False


def test_reboot_required(host):
    host.install(GRUB_DEBIAN)
    with open(host.proc, 'w') as f:
        f.write('BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=UUID=1 ro quiet intel_iommu=on\n')
    assert host.run(params=['intel_iommu=on'])['reboot_required'] is False
    assert host.run(params=['quiet', 'intel_iommu=on'])['reboot_required'] is False
    assert host.run(params=['intel_iommu=off'])['reboot_required'] is True
    assert host.run(params=['splash'], state='absent')['reboot_required'] is False
    assert host.run(params=['intel_iommu'], state='absent')['reboot_required'] is True


def test_unreadable_proc_cmdline_warns(host):
    host.install(GRUB_DEBIAN)
    result = host.run(params=['quiet'], proc_cmdline_path=str(host.dir / 'missing'))
    assert result['changed'] is False
    assert result['reboot_required'] is True
    assert warnings(result)[0].startswith('cannot read %s' % (host.dir / 'missing'))


def test_dead_assignment_warning(host):
    host.install(GRUB_PROXMOX, [('50-cloudimg-settings.cfg', GRUB_CLOUDIMG)])
    result = host.run(params=['intel_iommu=off'])
    assert result['cmdline_after'] == ['intel_iommu=off', 'console=tty1', 'console=ttyS0']
    assert warnings(result) == [
        "%s:10: GRUB_CMDLINE_LINUX_DEFAULT contains 'intel_iommu=on', but this assignment is overridden by a "
        "later one, so it does not reach the kernel command line; it was left unchanged" % host.grub]


@pytest.mark.parametrize('params', [['intel iommu=on'], ['mitigations=$(reboot)'], ['a="b"'],
                                    ['iommu=pt', 'iommu=off']])
def test_bad_params_fail_cleanly(host, params):
    host.install(GRUB_DEBIAN)
    result = host.run(params=params)
    assert result['failed'] is True
    assert result['msg'].startswith('params ')
    assert read(host.grub) == fixture(GRUB_DEBIAN)


def test_missing_path(host):
    result = host.run(params=['iommu=pt'], path=str(host.dir / 'etc' / 'default' / 'grub'))
    assert result['failed'] is True
    assert result['msg'].startswith('%s does not exist; is GRUB installed' % (host.dir / 'etc' / 'default' / 'grub'))
    assert 'pass path=' in result['msg']


def test_unfollowable_shell_logic(host):
    host.install(GRUB_DEBIAN, [('70-subst.cfg', 'synthetic_dropin_cmdsubst.txt')])
    result = host.run(params=['intel_iommu=off'])
    assert result['failed'] is True
    assert '%s:2' % (host.dropins / '70-subst.cfg') in result['msg']
    assert 'plain assignment' in result['msg']
    assert read(host.grub) == fixture(GRUB_DEBIAN)
    assert read(str(host.dropins / '70-subst.cfg')) == fixture('synthetic_dropin_cmdsubst.txt')


def test_overriding_shell_logic_refused(host):
    host.install(GRUB_DEBIAN, [('80-oneliner.cfg', 'synthetic_dropin_oneliner-override.txt')])
    result = host.run(params=['iommu=pt'])
    assert result['failed'] is True
    assert result['msg'].startswith('refusing to change anything')
    assert '%s:2' % (host.dropins / '80-oneliner.cfg') in result['msg']
    assert read(host.grub) == fixture(GRUB_DEBIAN)


def test_shell_error(host):
    host.install(GRUB_DEBIAN, [('99-bash.cfg', 'synthetic_dropin_bash-append.txt')])
    result = host.run(params=['iommu=pt'])
    assert result['failed'] is True
    assert 'not found' in result['msg'] and 'update-grub would fail' in result['msg']


def test_crlf_refused(host):
    host.install('synthetic_crlf.txt')
    result = host.run(params=['iommu=pt'])
    assert result['failed'] is True
    assert 'CRLF' in result['msg']
    assert read(host.grub) == fixture('synthetic_crlf.txt')


def test_documentation_matches_argument_spec():
    """The options documented are exactly those of the argument_spec, with the same types and defaults."""
    yaml = pytest.importorskip('yaml')
    import ast
    with open(MODULE) as f:
        tree = ast.parse(f.read())
    doc = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == 'DOCUMENTATION':
            doc = yaml.safe_load(node.value.value)
    spec = None
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'argument_spec':
            spec = ast.literal_eval(node.value) if isinstance(node.value, ast.Dict) else eval(
                compile(ast.Expression(node.value), MODULE, 'eval'), {'dict': dict})
    assert set(doc['options']) == set(spec)
    for name, opt in spec.items():
        d = doc['options'][name]
        assert d['type'] == opt['type'], name
        assert d.get('default') == opt.get('default'), name
        assert d.get('required', False) == opt.get('required', False), name
        assert d.get('choices') == opt.get('choices'), name
        assert d.get('elements') == opt.get('elements'), name


def test_after_a_correct_reboot_dash_and_underscore_spellings_match(host):
    """The post-reboot check of kernel_tuning runs this module in check mode. Asked
    nvidia-drm.modeset=1, the kernel shows nvidia_drm.modeset=1 (or the other way round):
    that is the same parameter, so no reboot is required (before: the role's own Jinja
    check failed the play after a correct reboot)."""
    host.install(GRUB_DEBIAN)
    assert host.run(params=['nvidia-drm.modeset=1', 'rcutree.rcu_idle_gp_delay=1'])['changed'] is True
    with open(host.proc, 'w') as f:
        f.write('BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=UUID=1 ro quiet nvidia_drm.modeset=1 '
                'rcutree.rcu-idle-gp-delay=1\n')
    after = host.run(check_mode=True, params=['nvidia-drm.modeset=1', 'rcutree.rcu_idle_gp_delay=1'])
    assert after['changed'] is False
    assert after['reboot_required'] is False and after['running_differs'] == []
    assert 'nvidia_drm.modeset=1' in after['running_cmdline']
    wrong = host.run(check_mode=True, params=['nvidia-drm.modeset=0'])
    assert wrong['reboot_required'] is True and wrong['running_differs'] == ['nvidia-drm.modeset=0']
    left = host.run(check_mode=True, params=['nvidia-drm.modeset'], state='absent')
    assert left['reboot_required'] is True and left['running_differs'] == ['nvidia_drm.modeset=1']
