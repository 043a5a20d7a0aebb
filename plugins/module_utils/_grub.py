# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic behind ``aiserver.gpu.kernel_cmdline``: edit the kernel command line that
grub-mkconfig builds from ``/etc/default/grub`` and ``/etc/default/grub.d/*.cfg``.

No Ansible imports here: the module is a thin wrapper and the unit tests drive this file
directly.

How it works
============

grub-mkconfig (``update-grub``) runs under ``/bin/sh`` with ``set -e``; it sources the main
file, then every ``grub.d/*.cfg`` in glob order, and boots normal entries with
``"${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}"`` (recovery entries only get
``GRUB_CMDLINE_LINUX``).  Those files are shell scripts, so the only trustworthy answer to
"what is the effective command line" is to run the same shell snippet.  This module does:

1. Parse every file and find the *simple* assignments to ``GRUB_CMDLINE_LINUX`` and
   ``GRUB_CMDLINE_LINUX_DEFAULT`` (``VAR="..."``, ``VAR='...'``, ``VAR=word``, concatenations,
   optional ``export``, ``$VAR`` / ``${VAR}`` references to the two variables, a trailing
   ``;`` or ``# comment``).  Comment lines are never assignments.
2. Run ``/bin/sh`` on the real files exactly like grub-mkconfig (the ground truth), and once
   more on a temporary copy where each simple assignment is wrapped in trace calls that
   record both variables before and after it runs.  The trace says which assignments really
   ran (an assignment inside ``if false`` never does) and in which order, and it shows every
   change made by shell code the parser does not understand.
3. Replay the trace to learn where each effective token comes from (file, assignment, word).
   Tokens produced by shell logic that cannot be followed (command substitution, ``if``
   one-liners, ``case``...) are kept but marked as not editable.
4. Plan the edit (see ``compute``), render the new file contents, then run ``/bin/sh`` again
   on a temporary copy of the proposed files and check that the result holds each asked
   parameter exactly once with the asked value (or not at all for ``absent``) and that every
   other token is unchanged and in the same order.  Any disagreement raises ``GrubError``
   with a message naming the file and line to fix; nothing is written by this module.
"""

import os
import re
import shutil
import tempfile
from collections import namedtuple

from ansible_collections.aiserver.gpu.plugins.module_utils import _kernel_params
from ansible_collections.aiserver.gpu.plugins.module_utils._grub_shell import DEFAULT, LINUX, VARS, parse
from ansible_collections.aiserver.gpu.plugins.module_utils._grub_shell import _line_of  # noqa: F401 (used below)
from ansible_collections.aiserver.gpu.plugins.module_utils._runner import run

SH = '/bin/sh'
SH_TIMEOUT = 60
SH_ENV = {
    'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'LANG': 'C',
    'LC_ALL': 'C',
}
# What the kernel (isspace) and grub treat as separators between parameters.
WS = _kernel_params.WS
# Characters that are safe outside quotes on the right-hand side of an assignment.
_UNQUOTED_SAFE_RE = re.compile(r'[A-Za-z0-9_.,:/@%+=^\-]+\Z')


class GrubError(Exception):
    """A problem the user has to fix; the message says what and how."""


Param = namedtuple('Param', 'name value text')
"""An asked kernel parameter: ``value`` is None for a bare ``name``."""

FileChange = namedtuple('FileChange', 'path before after')
Result = namedtuple('Result', 'changes cmdline_before cmdline_after warnings')

_Token = namedtuple('_Token', 'text origin note')
# origin: (assignment id, word index) when the token can be edited in place, else None and
# note says where it comes from.


class GrubFile(object):
    def __init__(self, path, text, is_main):
        self.path = path
        self.text = text
        self.is_main = is_main
        self.assignments, self.mentions = parse(text)

    def where(self, line):
        return '%s:%d' % (self.path, line)


# ---------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------

param_key = _kernel_params.key
token_key = _kernel_params.token_key


def parse_params(items, state='present'):
    """Validate the ``params`` option (the collection's one definition of a kernel
    parameter, ``_kernel_params``) and return a list of ``Param``.

    Same parameter listed twice with the same text is merged; with two different values it
    is an error.
    """
    if state not in ('present', 'absent'):
        raise GrubError("state must be 'present' or 'absent', got %r" % (state,))
    if items is None:
        items = []
    if isinstance(items, str) or not isinstance(items, (list, tuple)):
        raise GrubError('params must be a list of kernel parameters such as [intel_iommu=on, iommu=pt]')
    result = []
    seen = {}
    for item in items:
        why = _kernel_params.problem(item)
        if why:
            raise GrubError('params item %s' % why)
        name, sep, value = item.partition('=')
        param = Param(name, value if sep else None, item)
        key = param_key(name)
        if key in seen:
            if seen[key].text == param.text:
                continue
            raise GrubError(
                'params lists %r and %r: the kernel would see the same parameter twice; keep only one of them'
                % (seen[key].text, param.text))
        seen[key] = param
        result.append(param)
    return result


def _matches(param, token, state):
    if token_key(token) != param_key(param.name):
        return False
    if state == 'absent' and param.value is not None:
        return token.split('=', 1)[1:] == [param.value]
    return True


def _same(param, token):
    """True when ``token`` is exactly the asked parameter (modulo '-'/'_' in the name)."""
    if token_key(token) != param_key(param.name):
        return False
    value = token.split('=', 1)[1] if '=' in token else None
    return value == param.value


split_cmdline = _kernel_params.split


def running_differs(proc_cmdline, params, state='present'):
    """What the running kernel's command line (text of /proc/cmdline) lacks of the ask: the
    asked parameters missing from it (``present``: no token is exactly ``NAME=VALUE`` or the
    bare ``NAME``, names compared as the kernel does, ``-`` = ``_``), or the tokens of it
    still matching an asked item (``absent``: ``NAME`` any value, ``NAME=VALUE`` exact)."""
    if params and isinstance(params[0], str):
        params = parse_params(params, state)
    tokens = split_cmdline(proc_cmdline)
    if state == 'present':
        return [p.text for p in params if not any(_same(p, t) for t in tokens)]
    return [t for t in tokens if any(_matches(p, t, 'absent') for p in params)]


def reboot_required(proc_cmdline, params, state='present'):
    """True when the running kernel's command line lacks the ask (see :func:`running_differs`)."""
    return bool(running_differs(proc_cmdline, params, state))


# ---------------------------------------------------------------------------------------
# Running /bin/sh like grub-mkconfig
# ---------------------------------------------------------------------------------------

# Same statements as grub-mkconfig (set -e, test -f, the grub.d loop with [ -e ]), with
# the results written to a side file so that the sourced files may print what they like.
_SH_SCRIPT = r'''__kc_out=$1
__kc_main=$2
__kc_dir=$3
__kc_mark() {
  printf '%s\0%s\0%s\0' "$1" "${GRUB_CMDLINE_LINUX-}" "${GRUB_CMDLINE_LINUX_DEFAULT-}" >>"$__kc_out"
}
set -e
if test -f "$__kc_main" ; then
  . "$__kc_main"
fi
for x in "$__kc_dir"/*.cfg ; do
  if [ -e "${x}" ]; then
    . "${x}"
  fi
done
__kc_mark E
'''


def _run_sh(main, dropin_dir, sh, timeout, display=None):
    """Source ``main`` then ``dropin_dir/*.cfg``; return the list of (tag, linux, default)."""
    display = display or {}
    fd, out = tempfile.mkstemp(prefix='kernel_cmdline.', suffix='.trace')
    os.close(fd)
    try:
        # The collection's runner: a command in the files that hangs is killed after the
        # timeout with every process it started (a subprocess timeout kills only /bin/sh).
        proc = run([sh, '-c', _SH_SCRIPT, 'grub-mkconfig', out, main, dropin_dir], timeout, env=dict(SH_ENV),
                   cwd='/')
        if proc['timed_out']:
            raise GrubError(
                'sourcing %s and %s/*.cfg with %s did not finish within %d seconds; a command in '
                'those files hangs, and update-grub would hang too: fix that file first'
                % (display.get(main, main), display.get(dropin_dir, dropin_dir), sh, timeout))
        if proc['error']:
            raise GrubError('cannot run %s to evaluate the GRUB files: %s' % (sh, proc['error']))
        with open(out, 'rb') as f:
            raw = f.read().decode('utf-8', 'surrogateescape')
    finally:
        os.unlink(out)
    fields = raw.split('\0')[:-1]
    records = [tuple(fields[k:k + 3]) for k in range(0, len(fields) - len(fields) % 3, 3)]
    if proc['rc'] != 0 or not records or records[-1][0] != 'E':
        err = proc['stderr'].strip()
        for tmp, real in display.items():
            err = err.replace(tmp, real)
        if proc['rc'] == 0:
            raise GrubError(
                'sourcing %s and %s/*.cfg with %s the way grub-mkconfig (update-grub) does stopped before the '
                'end without an error: one of the files calls exit, and update-grub would stop there too; '
                'remove the exit' % (display.get(main, main), display.get(dropin_dir, dropin_dir), sh))
        raise GrubError(
            'sourcing %s and %s/*.cfg with %s the way grub-mkconfig (update-grub) does, with set -e, '
            'failed (exit status %d)%s; update-grub would fail the same way: fix that error in the file first'
            % (display.get(main, main), display.get(dropin_dir, dropin_dir), sh, proc['rc'],
               (': ' + err[-800:]) if err else ''))
    return records


def _read(path):
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except (IOError, OSError) as exc:
        raise GrubError('cannot read %s: %s' % (path, exc.strerror or exc))
    return data.decode('utf-8', 'surrogateescape')


def dropin_dir(path):
    return os.path.join(os.path.dirname(path), 'grub.d')


def load_files(path):
    """The main file then the grub.d/*.cfg drop-ins that exist, in C-locale glob order."""
    if not os.path.exists(path):
        raise GrubError(
            '%s does not exist; is GRUB installed (package grub2-common / grub-pc / grub-efi)? '
            'If the GRUB defaults file lives elsewhere, pass path=/that/file' % path)
    if not os.path.isfile(path):
        raise GrubError('%s is not a regular file; pass path= the GRUB defaults file (usually /etc/default/grub)' % path)
    files = [GrubFile(path, _read(path), True)]
    ddir = dropin_dir(path)
    if os.path.isdir(ddir):
        names = sorted((n for n in os.listdir(ddir) if n.endswith('.cfg') and not n.startswith('.')),
                       key=lambda s: s.encode('utf-8', 'surrogateescape'))
        for name in names:
            full = os.path.join(ddir, name)
            if not os.path.exists(full):
                continue  # dangling symlink: grub-mkconfig's [ -e ] skips it too
            if not os.path.isfile(full):
                raise GrubError('%s is not a regular file, but grub-mkconfig sources every grub.d/*.cfg; '
                                'remove or rename it' % full)
            files.append(GrubFile(full, _read(full), False))
    for f in files:
        pos = f.text.find('\r\n')
        if pos >= 0:
            raise GrubError(
                '%s has Windows (CRLF) line endings (first at line %d); grub-mkconfig runs it with /bin/sh, '
                'which takes the carriage returns as part of commands and values. Convert it first '
                '(dos2unix %s or sed -i "s/\\r$//" %s)' % (f.path, _line_of(f.text, pos), f.path, f.path))
    aid = 0
    for fi, f in enumerate(files):
        for a in f.assignments:
            a.id = aid
            a.file = fi
            aid += 1
    return files


def _write_tree(tmpdir, files, texts):
    """Copy ``texts`` (one per file) to tmpdir/<main> and tmpdir/grub.d/<name>."""
    main = os.path.join(tmpdir, os.path.basename(files[0].path))
    ddir = os.path.join(tmpdir, 'grub.d')
    os.mkdir(ddir)
    for f, text in zip(files, texts):
        dest = main if f.is_main else os.path.join(ddir, os.path.basename(f.path))
        with open(dest, 'wb') as out:
            out.write(text.encode('utf-8', 'surrogateescape'))
    return main, ddir


def _instrument(f):
    text = f.text
    for a in reversed(f.assignments):
        text = (text[:a.stmt_start] + '__kc_mark P%d; ' % a.id + text[a.stmt_start:a.value_end]
                + ';__kc_mark A%d' % a.id + text[a.value_end:])
    return text


def evaluate(path, sh=SH, timeout=SH_TIMEOUT):
    """(GRUB_CMDLINE_LINUX, GRUB_CMDLINE_LINUX_DEFAULT) as grub-mkconfig computes them."""
    path = os.path.abspath(path)
    rec = _run_sh(path, dropin_dir(path), sh, timeout)[-1]
    return rec[1], rec[2]


def effective_cmdline(linux, default):
    """Tokens of "${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}"."""
    return split_cmdline(linux) + split_cmdline(default)


# ---------------------------------------------------------------------------------------
# Tracing: where does each effective token come from?
# ---------------------------------------------------------------------------------------

def _texts(tokens):
    return [t.text for t in tokens]


class _Trace(object):
    def __init__(self, files, records):
        self.files = files
        self.by_id = {}
        for f in files:
            for a in f.assignments:
                self.by_id[a.id] = a
        self.state = {LINUX: [], DEFAULT: []}
        self.executed = []  # assignment ids in execution order
        self.last_assign = {LINUX: None, DEFAULT: None}
        self._where = None  # (file index, line) of the last trace point
        for tag, linux, default in records:
            if tag == 'E':
                self._sync({LINUX: linux, DEFAULT: default}, None)
            elif tag[0] == 'P':
                self._sync({LINUX: linux, DEFAULT: default}, self.by_id[int(tag[1:])])
            else:
                a = self.by_id[int(tag[1:])]
                self._apply(a, {LINUX: linux, DEFAULT: default})

    def loc(self, a):
        return self.files[a.file].where(a.line)

    def _mentions_between(self, start, end):
        out = []
        for fi, f in enumerate(self.files):
            for line, _code in f.mentions:
                pos = (fi, line)
                if (start is None or pos > start) and (end is None or pos < end):
                    out.append(f.where(line))
        return out

    def _sync(self, values, next_assignment):
        """Before an assignment (or at the end): adopt changes the parser could not follow."""
        end = (next_assignment.file, next_assignment.line) if next_assignment else None
        for var in VARS:
            actual = split_cmdline(values[var])
            if _texts(self.state[var]) == actual:
                continue
            hints = self._mentions_between(self._where, end)
            if self._where is None:
                span = 'before %s' % (self.loc(next_assignment) if next_assignment else 'the end of the files')
            else:
                prev = self.files[self._where[0]].where(self._where[1])
                span = ('between %s and %s' % (prev, self.loc(next_assignment)) if next_assignment
                        else 'after %s' % prev)
            note = 'shell code the module cannot follow, run %s%s' % (
                span, (' (see %s)' % ', '.join(hints)) if hints else '')
            self.state[var] = [_Token(t, None, note) for t in actual]

    def _apply(self, a, values):
        self.executed.append(a.id)
        self.last_assign[a.var] = a.id
        self._where = (a.file, a.line)
        actual = split_cmdline(values[a.var])
        where = self.loc(a)
        pred = []
        for wi, w in enumerate(a.words):
            if w.kind == 'lit':
                if w.seg is not None:
                    pred.append(_Token(w.text, (a.id, wi), None))
                else:
                    pred.append(_Token(w.text, None, '%s, in a word made of several quoted parts or lines' % where))
            elif w.kind == 'ref':
                pred.extend(self.state[w.var])
            else:
                pred.append(None)
        opaque_note = '%s, where %s is built with a shell expansion' % (where, a.var)
        if None not in pred:
            if _texts(pred) == actual:
                self.state[a.var] = pred
            else:
                self.state[a.var] = [_Token(t, None, '%s, whose value differs from what the module parsed' % where)
                                     for t in actual]
        else:
            first = pred.index(None)
            last = len(pred) - 1 - pred[::-1].index(None)
            head, tail = pred[:first], pred[last + 1:]
            ok = (len(actual) >= len(head) + len(tail) and _texts(head) == actual[:len(head)]
                  and _texts(tail) == actual[len(actual) - len(tail):])
            if ok:
                middle = actual[len(head):len(actual) - len(tail)]
                self.state[a.var] = head + [_Token(t, None, opaque_note) for t in middle] + tail
            else:
                self.state[a.var] = [_Token(t, None, opaque_note) for t in actual]
        other = DEFAULT if a.var == LINUX else LINUX
        if _texts(self.state[other]) != split_cmdline(values[other]):
            self.state[other] = [_Token(t, None, '%s, changed while assigning %s' % (where, a.var))
                                 for t in split_cmdline(values[other])]

    def effective(self):
        return self.state[LINUX] + self.state[DEFAULT]


def trace(files, sh=SH, timeout=SH_TIMEOUT):
    """Run the instrumented copy of ``files``; return a ``_Trace`` and the final values."""
    tmpdir = tempfile.mkdtemp(prefix='kernel_cmdline.')
    try:
        main, ddir = _write_tree(tmpdir, files, [_instrument(f) for f in files])
        display = {main: files[0].path, ddir: dropin_dir(files[0].path), tmpdir: os.path.dirname(files[0].path)}
        records = _run_sh(main, ddir, sh, timeout, display)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return _Trace(files, records), records[-1]


def _evaluate_texts(files, texts, sh, timeout):
    tmpdir = tempfile.mkdtemp(prefix='kernel_cmdline.')
    try:
        main, ddir = _write_tree(tmpdir, files, texts)
        display = {main: files[0].path, ddir: dropin_dir(files[0].path), tmpdir: os.path.dirname(files[0].path)}
        rec = _run_sh(main, ddir, sh, timeout, display)[-1]
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return rec[1], rec[2]


# ---------------------------------------------------------------------------------------
# Rendering edits
# ---------------------------------------------------------------------------------------

def _quote_for(seg_kind, text):
    if seg_kind in ('dq', 'sq') or _UNQUOTED_SAFE_RE.match(text):
        return text
    return '"%s"' % text


def _convertible_to_dq(a, text):
    """A lone unquoted word that means the same inside double quotes."""
    if len(a.segments) != 1 or a.segments[0].kind != 'uq':
        return False
    raw = text[a.value_start:a.value_end]
    return not any(c in raw for c in '"\'\\`') and not raw.startswith('~')


def _render(a, text, rewrite, remove, append):
    """New raw text for the value of assignment ``a`` (the part after 'VAR=')."""
    convert = bool(append) and _convertible_to_dq(a, text)
    # pieces per segment: [kind, start, end, word index]
    removed_atoms = set()
    out = []
    word_end = []
    for si, seg in enumerate(a.segments):
        idx = [k for k, at in enumerate(a.atoms) if at.seg == si]
        pieces = []
        pos = seg.cstart
        for k in idx:
            at = a.atoms[k]
            wi = a.atom_word[k]
            kind = 'ws' if wi is None else 'word'
            if at.start > pos:
                pieces.append(['gap', pos, at.start, None, []])
            if pieces and pieces[-1][0] == kind and pieces[-1][3] == wi and pieces[-1][2] == at.start:
                pieces[-1][2] = at.end
                pieces[-1][4].append(k)
            else:
                pieces.append([kind, at.start, at.end, wi, [k]])
            pos = at.end
        if pos < seg.cend:
            pieces.append(['gap', pos, seg.cend, None, []])
        dropped = set()
        for pi, piece in enumerate(pieces):
            if piece[0] != 'word' or piece[3] not in remove:
                continue
            dropped.add(pi)
            before = [q for q in range(pi - 1, -1, -1) if pieces[q][0] != 'gap'][:1]
            after = [q for q in range(pi + 1, len(pieces)) if pieces[q][0] != 'gap'][:1]
            if before and pieces[before[0]][0] == 'ws' and before[0] not in dropped:
                dropped.add(before[0])
            elif after and pieces[after[0]][0] == 'ws' and after[0] not in dropped:
                dropped.add(after[0])
        context = 'dq' if convert else seg.kind
        content = []
        end_of_word = None  # length of content up to the end of its last word
        for pi, piece in enumerate(pieces):
            if pi in dropped:
                removed_atoms.update(piece[4])
                continue
            if piece[0] == 'word' and piece[3] in rewrite:
                content.append(_quote_for(context, rewrite[piece[3]]))
            else:
                content.append(text[piece[1]:piece[2]])
            if piece[0] == 'word':
                end_of_word = len(''.join(content))
        word_end.append(end_of_word)
        if convert:
            out.append(['dq', '"', ''.join(content), '"'])
        else:
            out.append([seg.kind, text[seg.start:seg.cstart], ''.join(content), text[seg.cend:seg.end]])
    if append:
        added = ' '.join(append)
        remaining = [at for k, at in enumerate(a.atoms) if k not in removed_atoms]
        if out and out[-1][0] in ('dq', 'sq') and word_end[-1] is not None:
            # right after the last word, before any trailing whitespace: "a b " -> "a b new "
            content = out[-1][2]
            out[-1][2] = content[:word_end[-1]] + ' ' + added + content[word_end[-1]:]
        else:
            sep = ' ' if remaining and remaining[-1].kind != 'ws' else ''
            if out and out[-1][0] in ('dq', 'sq'):
                out[-1][2] += sep + added
            else:
                out.append(['dq', '"', sep + added, '"'])
    return ''.join(o[1] + o[2] + o[3] for o in out)


# ---------------------------------------------------------------------------------------
# The whole operation
# ---------------------------------------------------------------------------------------

def _cannot_edit(token, why):
    return GrubError(
        '%s: %r on the effective kernel command line comes from %s, which the module cannot edit. '
        'Move that parameter into a plain assignment such as GRUB_CMDLINE_LINUX="... %s" (no $(...), '
        'backticks, if or && around it) and run again' % (why, token.text, token.note, token.text))


def compute(path, params, state='present', sh=SH, timeout=SH_TIMEOUT):
    """Plan the edit of ``path`` (and its grub.d drop-ins) so that the effective kernel
    command line holds the asked ``params`` exactly once (``present``) or not at all
    (``absent``).  Nothing is written; returns ``Result(changes, cmdline_before,
    cmdline_after, warnings)`` where ``changes`` lists ``FileChange(path, before, after)``
    for the files whose text must change.  Raises ``GrubError``.

    Placement rules (``present``):
    * the parameter (any value) already on the effective command line: the first occurrence
      (GRUB_CMDLINE_LINUX before GRUB_CMDLINE_LINUX_DEFAULT) is rewritten in place, every
      other effective occurrence is removed;
    * otherwise it is appended to the assignment of GRUB_CMDLINE_LINUX that runs last (so it
      also reaches recovery entries); when no file assigns GRUB_CMDLINE_LINUX, a line
      ``GRUB_CMDLINE_LINUX="..."`` is appended to ``path``.
    Assignments that do not reach the effective command line (overridden later, or inside a
    branch that does not run) are never edited; a warning names those holding a conflicting
    value.  ``absent`` removes matching tokens from the effective assignments only.
    """
    path = os.path.abspath(path)
    asked = parse_params(params, state)
    files = load_files(path)
    linux, default = _run_sh(path, dropin_dir(path), sh, timeout)[-1][1:]
    before = effective_cmdline(linux, default)
    tr, last = trace(files, sh, timeout)
    if (last[1], last[2]) != (linux, default):
        raise GrubError(
            'the GRUB files give a different kernel command line when the module traces them (%r) than when '
            'they are sourced as they are (%r); some shell logic there depends on the exact file text. '
            'Lines involved: %s. Use plain GRUB_CMDLINE_LINUX="..." assignments'
            % (' '.join(effective_cmdline(last[1], last[2])), ' '.join(before),
               ', '.join(f.where(a.line) for f in files for a in f.assignments) or 'none found'))
    eff = tr.effective()  # same texts as ``before``: the trace adopts what sh computed

    rewrite, remove, append = {}, {}, {}  # assignment id -> {word: text} / set(word) / [text]
    new_line = []

    def _remove(token, why):
        if token.origin is None:
            raise _cannot_edit(token, why)
        remove.setdefault(token.origin[0], set()).add(token.origin[1])

    for p in asked:
        if state == 'present':
            occ = [t for t in eff if token_key(t.text) == param_key(p.name)]
            why = 'cannot set %s' % p.text
            if not occ:
                target = tr.last_assign[LINUX]
                if target is None:
                    new_line.append(p.text)
                else:
                    append.setdefault(target, []).append(p.text)
                continue
            first = occ[0]
            if not _same(p, first.text):
                if first.origin is None:
                    raise _cannot_edit(first, why)
                rewrite.setdefault(first.origin[0], {})[first.origin[1]] = p.text
            for t in occ[1:]:
                if first.origin is not None and t.origin == first.origin:
                    a = tr.by_id[t.origin[0]]
                    raise GrubError(
                        'cannot set %s exactly once: the assignment at %s reaches the command line more than '
                        'once (it runs twice, or its value is copied through $%s / $%s references); remove the '
                        'repetition, then run again' % (p.text, tr.loc(a), LINUX, DEFAULT))
                _remove(t, why)
        else:
            for t in eff:
                if _matches(p, t.text, 'absent'):
                    _remove(t, 'cannot remove %s' % p.text)

    warnings = _dead_warnings(files, tr, asked, state)

    new_texts = []
    for f in files:
        text = f.text
        for a in reversed(f.assignments):
            if a.id in rewrite or a.id in remove or a.id in append:
                value = _render(a, f.text, rewrite.get(a.id, {}), remove.get(a.id, set()), append.get(a.id, []))
                text = text[:a.value_start] + value + text[a.value_end:]
        if f.is_main and new_line:
            if text and not text.endswith('\n'):
                text += '\n'
            # keep a value set by shell code the module did not parse (the check below tells
            # whether that code runs after this line and drops the new parameters)
            keep = '$%s ' % LINUX if tr.state[LINUX] else ''
            text += '%s="%s%s"\n' % (LINUX, keep, ' '.join(new_line))
        new_texts.append(text)

    changes = [FileChange(f.path, f.text, t) for f, t in zip(files, new_texts) if t != f.text]
    if not changes:
        return Result([], before, before, warnings)

    linux2, default2 = _evaluate_texts(files, new_texts, sh, timeout)
    after = effective_cmdline(linux2, default2)
    problem = _check(before, after, asked, state)
    if problem:
        hints = ['%s: %s' % (f.where(line), code) for f in files for line, code in f.mentions]
        raise GrubError(
            'refusing to change anything: with the edit of %s, grub-mkconfig would compute the kernel command '
            'line %r, in which %s. Shell logic the module cannot follow overrides the edit%s; put the kernel '
            'parameters in plain GRUB_CMDLINE_LINUX="..." assignments and run again'
            % (', '.join(c.path for c in changes), ' '.join(after), problem,
               (' (look at %s)' % '; '.join(hints)) if hints else ''))
    return Result(changes, before, after, warnings)


def _check(before, after, asked, state):
    """Why ``after`` is not ``before`` with the ask applied, or None when it is."""
    for p in asked:
        if state == 'present':
            occ = [t for t in after if token_key(t) == param_key(p.name)]
            if not (len(occ) == 1 and _same(p, occ[0])):
                return '%s appears as %r instead of exactly once' % (p.text, occ)
        else:
            left = [t for t in after if _matches(p, t, 'absent')]
            if left:
                return '%s is still there (%s)' % (p.text, ' '.join(left))

    def kept(tokens):
        if state == 'present':
            keys = set(param_key(p.name) for p in asked)
            return [t for t in tokens if token_key(t) not in keys]
        return [t for t in tokens if not any(_matches(p, t, 'absent') for p in asked)]

    if kept(before) != kept(after):
        return 'the other parameters changed from %r to %r' % (' '.join(kept(before)), ' '.join(kept(after)))
    return None


def _dead_warnings(files, tr, asked, state):
    live = set(t.origin[0] for t in tr.effective() if t.origin is not None)
    executed = set(tr.executed)
    out = []
    for f in files:
        for a in f.assignments:
            if a.id in live:
                continue
            for w in a.literal_words():
                for p in asked:
                    if state == 'present':
                        hit = token_key(w.text) == param_key(p.name) and not _same(p, w.text)
                    else:
                        hit = _matches(p, w.text, 'absent')
                    if hit:
                        out.append(
                            '%s: %s contains %r, but this assignment %s, so it does not reach the kernel '
                            'command line; it was left unchanged' % (
                                f.where(a.line), a.var, w.text,
                                'is overridden by a later one' if a.id in executed else 'never runs'))
    return out
