# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Just enough of a POSIX sh lexer to find the assignments to GRUB_CMDLINE_LINUX and
GRUB_CMDLINE_LINUX_DEFAULT in the GRUB defaults files, for ``_grub.py``.

:func:`parse` returns every *simple* assignment (``VAR="..."``, ``VAR='...'``,
``VAR=word``, concatenations, ``export``, ``$VAR``/``${VAR}`` references to the two
variables, a trailing ``;`` or comment) with the exact character positions of its value,
split into quoted segments and atoms, so that ``_grub.py`` can rewrite one word without
touching any other byte; and the other logical lines that mention the variables (shell
logic the editor does not follow, quoted in its error messages). Comment lines are never
assignments. Pure standard library.
"""

import re
from collections import namedtuple

from ansible_collections.aiserver.gpu.plugins.module_utils._kernel_params import WS

LINUX = 'GRUB_CMDLINE_LINUX'
DEFAULT = 'GRUB_CMDLINE_LINUX_DEFAULT'
VARS = (LINUX, DEFAULT)
_ASSIGN_RE = re.compile(r'([ \t]*)((?:export[ \t]+)?)(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=')
_TRAILER_RE = re.compile(r'[ \t]*(?:;[ \t]*)?(?:#[^\n]*)?(?:\n|\Z)')
_SHELL_NAME_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
_Atom = namedtuple('_Atom', 'kind text start end seg')
# kind: 'c' literal character, 'ws' literal whitespace character, 'ref' reference to one of
# the two variables (text = variable name), 'op' any other expansion (opaque).
_Segment = namedtuple('_Segment', 'kind start end cstart cend')
# kind: 'dq' "...", 'sq' '...', 'uq' unquoted; start/end include the quotes, cstart/cend
# delimit the content.


class _Word(object):
    __slots__ = ('atoms', 'kind', 'text', 'var', 'seg', 'start', 'end')

    def __init__(self, atoms):
        self.atoms = atoms
        kinds = set(a.kind for a in atoms)
        segs = set(a.seg for a in atoms)
        self.start = atoms[0].start
        self.end = atoms[-1].end
        self.var = None
        self.text = None
        self.seg = None
        if kinds == {'c'}:
            self.kind = 'lit'
            self.text = ''.join(a.text for a in atoms)
            contiguous = all(x.end == y.start for x, y in zip(atoms, atoms[1:]))
            if len(segs) == 1 and contiguous:
                self.seg = atoms[0].seg
        elif len(atoms) == 1 and atoms[0].kind == 'ref':
            self.kind = 'ref'
            self.var = atoms[0].text
        else:
            self.kind = 'opaque'


class Assignment(object):
    """One simple assignment to GRUB_CMDLINE_LINUX or GRUB_CMDLINE_LINUX_DEFAULT."""

    def __init__(self, var, line, stmt_start, value_start, value_end, segments, atoms):
        self.var = var
        self.line = line
        self.stmt_start = stmt_start  # after the leading indentation
        self.value_start = value_start
        self.value_end = value_end
        self.segments = segments
        self.atoms = atoms
        self.words = []
        self.atom_word = []  # word index for each atom, None for whitespace atoms
        current = []
        for atom in atoms:
            if atom.kind == 'ws':
                if current:
                    self.words.append(_Word(current))
                    current = []
                self.atom_word.append(None)
            else:
                current.append(atom)
                self.atom_word.append(len(self.words))
        if current:
            self.words.append(_Word(current))
        # filled in by _load
        self.id = None
        self.file = None

    def literal_words(self):
        return [w for w in self.words if w.kind == 'lit']

    def __repr__(self):
        return 'Assignment(%s line %d)' % (self.var, self.line)


# ---------------------------------------------------------------------------------------
# Shell parsing (just enough of POSIX sh for assignments)
# ---------------------------------------------------------------------------------------

class _Unparsable(Exception):
    pass


def _kind(ch):
    return 'ws' if ch in WS else 'c'


def _skip_quoted(text, i, quote):
    """Index just past the quote closing the one at text[i] ("..." or `...`)."""
    n = len(text)
    j = i + 1
    while j < n:
        ch = text[j]
        if ch == '\\':
            j += 2
            continue
        if ch == quote:
            return j + 1
        j += 1
    raise _Unparsable('unterminated %s' % quote)


def _skip_parens(text, i):
    """text[i:i+2] == '$(': index just past the matching ')'."""
    n = len(text)
    depth = 0
    j = i + 1
    while j < n:
        ch = text[j]
        if ch == '\\':
            j += 2
            continue
        if ch == "'":
            k = text.find("'", j + 1)
            if k < 0:
                break
            j = k + 1
            continue
        if ch in '"`':
            j = _skip_quoted(text, j, ch)
            continue
        if ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise _Unparsable('unterminated $(')


def _scan_dollar(text, j, seg, atoms):
    n = len(text)
    nxt = text[j + 1] if j + 1 < n else ''
    if nxt == '{':
        k = text.find('}', j + 2)
        if k < 0:
            raise _Unparsable('unterminated ${')
        inner = text[j + 2:k]
        atoms.append(_Atom('ref' if inner in VARS else 'op', inner, j, k + 1, seg))
        return k + 1
    if nxt == '(':
        k = _skip_parens(text, j)
        atoms.append(_Atom('op', text[j:k], j, k, seg))
        return k
    m = _SHELL_NAME_RE.match(text, j + 1)
    if m:
        name = m.group(0)
        atoms.append(_Atom('ref' if name in VARS else 'op', name, j, m.end(), seg))
        return m.end()
    if nxt and (nxt.isdigit() or nxt in '@*#?-$!'):
        atoms.append(_Atom('op', text[j:j + 2], j, j + 2, seg))
        return j + 2
    atoms.append(_Atom('c', '$', j, j + 1, seg))
    return j + 1


def _scan_value(text, i):
    """Parse the shell word starting at text[i] (right after 'VAR=')."""
    n = len(text)
    segments, atoms = [], []
    while i < n:
        ch = text[i]
        seg = len(segments)
        if ch == '"':
            j = i + 1
            while True:
                if j >= n:
                    raise _Unparsable('unterminated "')
                c = text[j]
                if c == '"':
                    break
                if c == '\\' and j + 1 < n:
                    nx = text[j + 1]
                    if nx == '\n':
                        j += 2  # line continuation: vanishes
                    elif nx in '$`"\\':
                        atoms.append(_Atom(_kind(nx), nx, j, j + 2, seg))
                        j += 2
                    else:
                        atoms.append(_Atom('c', '\\', j, j + 1, seg))
                        j += 1
                elif c == '$':
                    j = _scan_dollar(text, j, seg, atoms)
                elif c == '`':
                    k = _skip_quoted(text, j, '`')
                    atoms.append(_Atom('op', text[j:k], j, k, seg))
                    j = k
                else:
                    atoms.append(_Atom(_kind(c), c, j, j + 1, seg))
                    j += 1
            segments.append(_Segment('dq', i, j + 1, i + 1, j))
            i = j + 1
        elif ch == "'":
            k = text.find("'", i + 1)
            if k < 0:
                raise _Unparsable("unterminated '")
            for p in range(i + 1, k):
                atoms.append(_Atom(_kind(text[p]), text[p], p, p + 1, seg))
            segments.append(_Segment('sq', i, k + 1, i + 1, k))
            i = k + 1
        elif ch in ' \t\n;&|<>()':
            break
        else:
            j = i
            while j < n and text[j] not in ' \t\n;&|<>()"\'':
                c = text[j]
                if c == '\\':
                    if j + 1 >= n:
                        raise _Unparsable('backslash at end of file')
                    nx = text[j + 1]
                    if nx != '\n':
                        atoms.append(_Atom(_kind(nx), nx, j, j + 2, seg))
                    j += 2
                elif c == '$':
                    j = _scan_dollar(text, j, seg, atoms)
                elif c == '`':
                    k = _skip_quoted(text, j, '`')
                    atoms.append(_Atom('op', text[j:k], j, k, seg))
                    j = k
                elif c == '~' and j == i and not segments:
                    atoms.append(_Atom('op', '~', j, j + 1, seg))  # tilde expansion
                    j += 1
                else:
                    atoms.append(_Atom('c', c, j, j + 1, seg))
                    j += 1
            segments.append(_Segment('uq', i, j, i, j))
            i = j
    return segments, atoms, i


def _skip_logical_line(text, i):
    """Skip one logical line that is not a simple assignment.

    Returns (index after the line, code text without comments, continues) where ``continues``
    says the command goes on on the next line (it ends with && || |).
    """
    n = len(text)
    word_start = True
    code = []
    while i < n:
        ch = text[i]
        if ch == '\n':
            i += 1
            break
        if ch == '#' and word_start:
            k = text.find('\n', i)
            i = n if k < 0 else k
            continue
        if ch == '\\':
            code.append(text[i:i + 2])
            i += 2
            word_start = False
            continue
        if ch in '"`':
            try:
                k = _skip_quoted(text, i, ch)
            except _Unparsable:
                k = n
            code.append(text[i:k])
            i = k
            word_start = False
            continue
        if ch == "'":
            k = text.find("'", i + 1)
            k = n if k < 0 else k + 1
            code.append(text[i:k])
            i = k
            word_start = False
            continue
        code.append(ch)
        word_start = ch in ' \t;&|()<>'
        i += 1
    code = ''.join(code)
    stripped = code.rstrip(' \t\r')
    continues = stripped.endswith(('&&', '||', '|'))
    return i, code, continues


def _line_of(text, pos):
    return text.count('\n', 0, pos) + 1


def parse(text):
    """Find the simple assignments to the two variables in a file.

    Returns (assignments, mentions): ``mentions`` are (line, code) for the other logical
    lines whose code (comments excluded) names GRUB_CMDLINE_LINUX: shell logic the module
    does not edit, quoted in error messages.
    """
    assignments, mentions = [], []
    n = len(text)
    i = 0
    continued = False
    while i < n:
        m = None if continued else _ASSIGN_RE.match(text, i)
        if m:
            try:
                segments, atoms, end = _scan_value(text, m.end())
            except _Unparsable:
                segments = None
            if segments is not None:
                t = _TRAILER_RE.match(text, end)
                if t:
                    assignments.append(Assignment(
                        m.group(3), _line_of(text, i), m.end(1), m.end(), end, segments, atoms))
                    i = t.end()
                    continued = False
                    continue
        start = i
        i, code, continued = _skip_logical_line(text, i)
        if LINUX in code:
            mentions.append((_line_of(text, start), code.strip()))
    return assignments, mentions
