# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the output of ``mokutil --sb-state``: a pure function, no Ansible imports."""

from __future__ import annotations

# What mokutil prints, lower-cased, and the state it means. "EFI variables are not
# supported on this system" is printed when the machine booted in legacy BIOS/CSM mode
# (or efivarfs is missing): there is no Secure Boot to speak of.
_STATES = (
    ("secureboot enabled", "enabled"),
    ("secureboot disabled", "disabled"),
    ("efi variables are not supported on this system", "not_supported"),
    ("this system doesn't support secure boot", "not_supported"),
)


def parse_sb_state(text, warn=None):
    """Return ``enabled``, ``disabled``, ``not_supported`` or ``unknown``.

    ``text`` is mokutil's stdout and stderr together. The first line that names a state
    decides; lines not understood go to ``warn`` (a callable taking one sentence).
    """
    if text is None:
        text = ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    state = None
    for line in text.splitlines():
        lowered = " ".join(line.strip().lower().split())
        if not lowered:
            continue
        for needle, meaning in _STATES:
            if needle in lowered:
                state = state or meaning
                break
        else:
            if warn is not None:
                warn("mokutil --sb-state: line not understood: %r" % line.strip())
    return state or "unknown"
