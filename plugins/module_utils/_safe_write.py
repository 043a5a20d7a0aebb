# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the modules of this collection edit a file on the host.

Compute first, act second (ansible.posix ``sysctl``): a module reads the file with
:func:`read_text`, computes the new text itself, then hands every file it wants changed
to :func:`commit`, which does all the writing behind one check-mode gate:

* **check mode and diff**: in check mode nothing is written and nothing is created; the
  result says what would change, and carries one diff per changed file.
* **what the module does not own is kept**: an existing file keeps its mode, owner, group
  and SELinux context unless the task sets them (``add_file_common_args``: ``mode``,
  ``owner``, ``group``, ``se*``, ``attributes``); a new file is created with the module's
  default mode (0644 unless said otherwise). A bad ``mode``, an unknown ``owner`` or
  ``group`` is refused by :func:`file_args` before anything is read or written.
* **symlinks are followed**: a ``daemon.json`` that is a link to a file kept elsewhere
  stays a link, and the file it points to is edited.
* **the write is atomic**: the new text goes to a temporary file in the target's own
  folder, gets its final mode and owner there (a secret file is never readable by others,
  not even for a moment), and is renamed over the target.
* **backups only when something is written**, next to the target
  (``NAME.PID.YYYY-MM-DD@HH:MM:SS~``, as Ansible names them), and removed again when the
  edit fails.
* **several files: all or none**: the new texts are all staged first; if replacing one of
  them fails, the ones replaced before it are put back (the old file itself, by a hard
  link kept for the purpose), so the files never disagree with each other.
* **every failure is a sentence**: read-only file systems, immutable files, folders that
  are files, unreadable or non-UTF-8 text end in ``fail_json`` naming the file, what went
  wrong, the usual fix, and what was (not) changed; never a traceback and never a stray
  temporary or backup file.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import re
import shutil
import stat
import tempfile
import time

# The most a configuration file may weigh when we read it whole (a larger one is refused).
MAX_BYTES = 64 * 1024 * 1024
_TMP_SUFFIX = ".aiserver-tmp"
_KEEP_SUFFIX = ".aiserver-keep"
_SYMBOLIC_RE = re.compile(r"^[ugoa]*([-+=]([rwxXst]*|[ugo]))+$")

HINTS = {
    errno.EROFS: "the file system is mounted read-only; remount it read-write, or manage this file where it "
                 "is writable",
    errno.EPERM: "the operation is not permitted: the file may be immutable or append-only (lsattr FILE; "
                 "chattr -i FILE), or the task may need become: true",
    errno.EACCES: "permission denied: run the task with become: true, or as the file's owner",
    errno.ENOSPC: "the file system is full: free some space",
    errno.EDQUOT: "the disk quota is exhausted: free some space",
    errno.EISDIR: "that path is a directory: give the path of the file",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EBUSY: "the file is a mount point (bind-mounted into a container?): edit it on the host that owns it",
    errno.ELOOP: "the path is a symbolic link loop",
}


class Edit(object):
    """One file to change: ``path`` as the task names it, its ``before`` text (None when
    it does not exist) and the ``after`` text; ``errors`` is the codec error handler used
    to encode it (``surrogateescape`` keeps undecodable bytes as they were)."""

    __slots__ = ("path", "before", "after", "errors", "target")

    def __init__(self, path, before, after, errors="strict"):
        self.path = path
        self.before = before
        self.after = after
        self.errors = errors
        self.target = target_of(path)

    @property
    def changed(self):
        return self.before != self.after


def target_of(path):
    """The file that an edit of ``path`` changes: ``path`` itself, or the file its symlinks
    lead to (the links are left as they are)."""
    return os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)


def _reason(exc):
    number = getattr(exc, "errno", None)
    text = getattr(exc, "strerror", None) or str(exc)
    hint = HINTS.get(number)
    return "%s (%s)" % (text, hint) if hint else text


# --------------------------------------------------------------------------- options

def parse_mode(mode):
    """The octal mode of ``mode`` (an int, an octal string), the symbolic string as is, or
    None for "keep". Raises ValueError with a sentence for anything else."""
    if mode is None:
        return None
    if isinstance(mode, bool):
        raise ValueError("mode must be an octal number such as '0644' or a symbolic mode such as 'u=rw,g=r,o=r', "
                         "not %r" % (mode,))
    if isinstance(mode, int):
        value = mode
    else:
        text = str(mode).strip()
        if re.match(r"^(0o)?[0-7]{1,4}$", text):
            value = int(text, 8)
        elif re.match(r"^-?[0-9]+$", text):
            raise ValueError("mode %r is not a file mode: octal digits 0-7, at most four of them, such as '0644'"
                             % (mode,))
        elif all(_SYMBOLIC_RE.match(part) for part in text.split(",")):
            if any(re.search(r"[+=][rwxX]*[st]", part) for part in text.split(",")):
                raise ValueError("mode %r sets a setuid, setgid or sticky bit: a configuration file needs none of "
                                 "them" % (mode,))
            return text
        else:
            raise ValueError("mode %r is neither an octal mode such as '0644' nor a symbolic mode such as "
                             "'u=rw,g=r,o=r'" % (mode,))
    if not 0 <= value <= 0o7777:
        raise ValueError("mode %r is outside 0000-7777: give it as a quoted octal string such as '0644'" % (mode,))
    if value & 0o7000:
        raise ValueError("mode %r (%04o) sets a setuid, setgid or sticky bit: a configuration file needs none of them"
                         % (mode, value))
    return value


def file_args(module):
    """The file attributes the task asked for (``add_file_common_args``), checked: fails
    the module before any change on a bad mode, an unknown owner or group. Returns the
    dict for :func:`commit` (``mode`` parsed)."""
    params = module.params
    problems = []
    mode = None
    try:
        mode = parse_mode(params.get("mode"))
    except ValueError as exc:
        problems.append(str(exc))
    owner, group = params.get("owner"), params.get("group")
    if owner is not None and _uid(owner) is None:
        problems.append("owner %r is not a user on this host" % (owner,))
    if group is not None and _gid(group) is None:
        problems.append("group %r is not a group on this host" % (group,))
    if problems:
        module.fail_json(msg="Nothing was changed: %s." % "; ".join(problems), changed=False)
    args = dict(mode=mode, owner=owner, group=group)
    for key in ("seuser", "serole", "setype", "selevel", "attributes"):
        args[key] = params.get(key)
    return args


def _uid(owner):
    """The uid of ``owner`` (a name or a number), None when there is no such user."""
    try:
        return (pwd.getpwuid(int(owner)) if str(owner).isdigit() else pwd.getpwnam(str(owner))).pw_uid
    except (KeyError, ValueError, OverflowError):
        return None


def _gid(group):
    """The gid of ``group`` (a name or a number), None when there is no such group."""
    try:
        return (grp.getgrgid(int(group)) if str(group).isdigit() else grp.getgrnam(str(group))).gr_gid
    except (KeyError, ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------- reading

def read_text(module, path, what="the file", errors="strict", missing_ok=True):
    """The text of ``path`` (its symlinks followed), None when it does not exist. A folder,
    an unreadable file, text that is not UTF-8 or a file larger than :data:`MAX_BYTES`
    fails the module, which changes nothing."""
    target = target_of(path)
    shown = path if target == os.path.abspath(path) else "%s (-> %s)" % (path, target)
    if os.path.isdir(target):
        module.fail_json(msg="%s %s is a directory, not a file: give the path of the file. Nothing was changed."
                         % (what, shown), changed=False)
    if not os.path.lexists(target):
        if missing_ok:
            return None
        module.fail_json(msg="%s %s does not exist. Nothing was changed." % (what, shown), changed=False)
    try:
        size = os.path.getsize(target)
        if size > MAX_BYTES:
            module.fail_json(msg="%s %s is %d bytes, more than the %d this module reads: is it really the "
                                 "configuration file? Nothing was changed." % (what, shown, size, MAX_BYTES),
                             changed=False)
        with open(target, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        module.fail_json(msg="Cannot read %s %s: %s. Nothing was changed." % (what, shown, _reason(exc)),
                         changed=False)
    try:
        return data.decode("utf-8", errors)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        module.fail_json(msg="%s %s is not UTF-8 text (byte 0x%02x at line %d): is it the right file? Convert it "
                             "to UTF-8 (iconv) if so. Nothing was changed." % (what, shown, data[exc.start], line),
                         changed=False)
    return None  # not reached


# --------------------------------------------------------------------------- writing

def _backup_name(target):
    return "%s.%s.%s" % (target, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S~", time.localtime()))


def _fs_args(module, target, args, skip_owner_mode):
    """Ansible's file-attribute dict for ``target`` from the task's options; mode, owner
    and group left out when they were set on the temporary file already."""
    fs = module.load_file_common_arguments(module.params, path=target)
    if args.get("mode") is not None and not skip_owner_mode:
        fs["mode"] = args["mode"] if isinstance(args["mode"], str) else "%04o" % args["mode"]
    if skip_owner_mode:
        fs["mode"] = fs["owner"] = fs["group"] = None
    return fs


def _prepare_temp(module, edit, args, new_mode):
    """Write ``edit.after`` to a temporary file next to the target, with the target's final
    mode, owner and SELinux context. Returns the temporary path."""
    folder = os.path.dirname(edit.target) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(edit.target).lstrip("."), suffix=_TMP_SUFFIX,
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(edit.after.encode("utf-8", edit.errors))
            handle.flush()
            os.fsync(handle.fileno())
        if os.path.exists(edit.target):
            st = os.stat(edit.target)
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError as exc:
                if exc.errno != errno.EPERM:  # not root: the file becomes ours, as with atomic_move
                    raise
        else:
            os.chmod(tmp, new_mode)
        mode = (args or {}).get("mode")
        if mode is not None:
            os.chmod(tmp, mode if isinstance(mode, int) else
                     module._symbolic_mode_to_octal(os.stat(tmp), mode))  # pylint: disable=protected-access
        owner, group = (args or {}).get("owner"), (args or {}).get("group")
        if owner is not None or group is not None:
            os.chown(tmp, _uid(owner) if owner is not None else -1, _gid(group) if group is not None else -1)
        if module.selinux_enabled():
            context = module.selinux_context(edit.target) if os.path.exists(edit.target) \
                else module.selinux_default_context(edit.target)
            module.set_context_if_different(tmp, context, False)
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _keep(target):
    """A second name for the current file (a hard link; a copy where links are refused),
    to put it back if a later file of the same edit cannot be written."""
    folder = os.path.dirname(target)
    fd, keep = tempfile.mkstemp(prefix=".%s." % os.path.basename(target).lstrip("."), suffix=_KEEP_SUFFIX,
                                dir=folder)
    os.close(fd)
    os.unlink(keep)
    try:
        os.link(target, keep)
    except OSError:
        shutil.copy2(target, keep)
    return keep


def commit(module, edits, backup=False, args=None, new_mode=0o644):
    """Write every changed :class:`Edit` of ``edits`` (all or none), behind the check-mode
    gate. ``args`` are the checked attributes of :func:`file_args` (None: keep them);
    ``new_mode`` is the mode of a file that does not exist yet.

    Returns ``dict(changed, diff, backup_files, files_changed)``; ``diff`` is one Ansible
    diff dict per file whose text changes. Fails the module (nothing changed, no stray
    file) when something cannot be written."""
    edits = list(edits)
    for edit in edits:
        if os.path.isdir(edit.target):
            module.fail_json(msg="%s is a directory, not a file: give the path of the file. Nothing was changed."
                             % edit.path, changed=False)
    text_changes = [edit for edit in edits if edit.changed]
    # The attributes of files whose text stays: Ansible's own code decides (and acts, but
    # not in check mode).
    attr_changes = []
    if args:
        for edit in edits:
            if not edit.changed and os.path.exists(edit.target):
                try:
                    if module.set_fs_attributes_if_different(_fs_args(module, edit.target, args, False), False):
                        attr_changes.append(edit)
                except (IOError, OSError) as exc:
                    module.fail_json(msg="Could not set the attributes of %s: %s." % (edit.path, _reason(exc)),
                                     changed=False)
    out = dict(
        changed=bool(text_changes or attr_changes),
        files_changed=[edit.path for edit in text_changes + attr_changes],
        backup_files=[],
        diff=[dict(before_header=edit.path, after_header=edit.path, before=edit.before or "", after=edit.after)
              for edit in text_changes],
    )
    if module.check_mode or not text_changes:
        return out

    made_dirs, temps, backups, keeps, replaced = [], {}, [], {}, []

    def give_up(edit, exc, step):
        # Put back what was replaced, remove every file of ours, then say it.
        restored, lost = [], []
        for done in reversed(replaced):
            try:
                if done.target in keeps:
                    os.rename(keeps.pop(done.target), done.target)
                else:
                    os.unlink(done.target)
                restored.append(done.path)
            except OSError:
                lost.append(done.path)
        for path in list(temps.values()) + list(keeps.values()) + backups:
            _unlink(path)
        for folder in reversed(made_dirs):
            try:
                os.rmdir(folder)
            except OSError:
                pass
        msg = "Could not %s %s: %s." % (step, edit.path, _reason(exc))
        if lost:
            msg += (" %s could not be put back as it was (see the backup files, if any); the edit is "
                    "incomplete." % ", ".join(lost))
        elif restored:
            msg += " %s, written before it, %s put back as %s was. Nothing was changed." % (
                ", ".join(restored), "was" if len(restored) == 1 else "were", "it" if len(restored) == 1 else "they")
        else:
            msg += " Nothing was changed."
        module.fail_json(msg=msg, changed=bool(lost), files_changed=lost)

    # 1. Stage every new text (folders made as needed, 0755).
    for edit in text_changes:
        folder = os.path.dirname(edit.target)
        try:
            missing = []
            while folder and not os.path.isdir(folder):
                missing.append(folder)
                folder = os.path.dirname(folder)
            for path in reversed(missing):
                os.mkdir(path, 0o755)
                made_dirs.append(path)
            temps[edit.target] = _prepare_temp(module, edit, args, new_mode)
        except (IOError, OSError, UnicodeError) as exc:
            give_up(edit, exc, "write a new version of")
    # 2. Back up the files about to change.
    if backup:
        for edit in text_changes:
            if os.path.exists(edit.target):
                try:
                    name = _backup_name(edit.target)
                    shutil.copy2(edit.target, name)
                    backups.append(name)
                except (IOError, OSError) as exc:
                    give_up(edit, exc, "back up")
    # 3. Replace them, keeping the old files to put back while another one may still fail.
    several = len(text_changes) > 1
    for edit in text_changes:
        try:
            if several and os.path.exists(edit.target):
                keeps[edit.target] = _keep(edit.target)
            os.rename(temps[edit.target], edit.target)
            del temps[edit.target]
            replaced.append(edit)
        except (IOError, OSError) as exc:
            give_up(edit, exc, "replace")
    for keep in keeps.values():
        _unlink(keep)
    # 4. SELinux and chattr attributes of the new files (mode, owner, group are set already).
    if args:
        for edit in text_changes:
            try:
                module.set_fs_attributes_if_different(_fs_args(module, edit.target, args, True), True)
            except (IOError, OSError) as exc:
                module.fail_json(msg="Wrote %s but could not set its attributes: %s." % (edit.path, _reason(exc)),
                                 changed=True, files_changed=out["files_changed"])
    out["backup_files"] = backups
    return out


def edit_one(module, path, before, after, backup=False, args=None, new_mode=0o644):
    """:func:`commit` for a module that edits one file, returning what such a module
    returns: ``changed``, ``path`` (the file written: the target of a symlink), ``diff``
    (when diff mode is on) and ``backup_file`` (when one was made). ``after`` None means
    the text stays."""
    edit = Edit(path, before, before if after is None else after)
    done = commit(module, [edit], backup=backup, args=args, new_mode=new_mode)
    out = dict(changed=done["changed"], path=edit.target)
    if module._diff:  # pylint: disable=protected-access
        out["diff"] = done["diff"][0] if done["diff"] else dict(before=before or "", after=before or "")
    if done["backup_files"]:
        out["backup_file"] = done["backup_files"][0]
    return out
