# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the output of ``mokutil --sb-state``: pure functions, no Ansible imports.

What mokutil prints (lcp/mokutil, src/mokutil.c, ``sb_state_internal``), one line each:

* ``SecureBoot enabled`` - the firmware's SecureBoot variable is 1 and SetupMode is 0;
  followed by ``SecureBoot validation is disabled in shim`` when shim's MokSBStateRT
  variable exists (``mokutil --disable-validation`` confirmed in MokManager). shim then
  loads anything, and the kernel reads the same variable and treats Secure Boot as
  disabled (Linux drivers/firmware/efi/libstub/secureboot.c): it loads unsigned modules.
* ``SecureBoot disabled``, and ``Platform is in Setup Mode`` when SetupMode is 1 (no
  platform key: the firmware enforces nothing).
* ``Cannot determine secure boot state.``; ``Failed to read "SecureBoot" variable: ...``
  (stderr) - mokutil could not tell.
* ``EFI variables are not supported on this system`` (older mokutil) or ``This system
  doesn't support Secure Boot`` (newer): booted in legacy BIOS/CSM mode, or efivarfs is not
  mounted (a container) - mokutil cannot see the firmware, so enforcement is unknown.

:func:`parse_secure_boot` models that: the firmware's state, shim's validation, and the
answer the nvidia_driver role needs - does the kernel refuse unsigned modules
(``enforcing`` true, false, or None for unknown).
"""

from __future__ import annotations

import re

# What mokutil prints, lower-cased, and the firmware state it means. "EFI variables are not
# supported on this system" is printed when the machine booted in legacy BIOS/CSM mode
# (or efivarfs is missing): there is no Secure Boot to speak of.
_STATES = (
    ("secureboot enabled", "enabled"),
    ("secureboot disabled", "disabled"),
    ("efi variables are not supported on this system", "not_supported"),
    ("this system doesn't support secure boot", "not_supported"),
    ("cannot determine secure boot state", "unknown"),
    ('failed to read "secureboot" variable', "unknown"),
)
# Lines that qualify the state rather than name it.
_SHIM_VALIDATION_OFF = "secureboot validation is disabled in shim"
_SETUP_MODE = "platform is in setup mode"
_STRANGE_SIZE = "strange data size"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _lines(text):
    if text is None:
        text = ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    for line in _ANSI.sub("", text).splitlines():
        lowered = " ".join(line.strip().lower().split())
        if lowered:
            yield line.strip(), lowered


def parse_secure_boot(text, warn=None):
    """``mokutil --sb-state`` output (stdout and stderr together) -> dict:

    * ``state``: the firmware's Secure Boot as mokutil reports it - ``enabled``,
      ``disabled``, ``not_supported`` or ``unknown`` (the first line that names one decides);
    * ``firmware``: True, False, or None when unknown / not supported;
    * ``setup_mode``: True when mokutil says ``Platform is in Setup Mode``;
    * ``shim_validation``: False when shim's validation is disabled, True when Secure Boot
      is enabled and it is not, None otherwise (shim's switch only matters under Secure Boot);
    * ``enforcing``: whether the kernel refuses unsigned modules - True (enabled, shim
      validating), False (disabled, or validation disabled in shim), None (unknown);
    * ``reason``: one sentence saying why.

    Lines not understood go to ``warn`` (a callable taking one sentence).
    """
    state = None
    shim_off = False
    setup_mode = False
    for line, lowered in _lines(text):
        if _SHIM_VALIDATION_OFF in lowered:
            shim_off = True
            continue
        if _SETUP_MODE in lowered:
            setup_mode = True
            continue
        if _STRANGE_SIZE in lowered:
            continue
        for needle, meaning in _STATES:
            if needle in lowered:
                state = state or meaning
                break
        else:
            if warn is not None:
                warn("mokutil --sb-state: line not understood: %r" % line)
    state = state or "unknown"
    firmware = {"enabled": True, "disabled": False}.get(state)
    shim_validation = None
    if firmware:
        shim_validation = not shim_off
    elif shim_off:
        shim_validation = False
    if state == "enabled" and not shim_off:
        enforcing = True
        reason = ("Secure Boot is enabled and shim validates: the kernel loads only modules signed with a key it "
                  "trusts")
    elif state == "enabled":
        enforcing = False
        reason = ("Secure Boot is enabled in the firmware but validation is disabled in shim (mokutil "
                  "--disable-validation): the kernel treats Secure Boot as off and loads unsigned modules")
    elif state == "disabled":
        enforcing = False
        reason = "Secure Boot is disabled%s: the kernel loads unsigned modules" % (
            " (the platform is in Setup Mode, no platform key)" if setup_mode else "")
    elif state == "not_supported":
        enforcing = None
        reason = ("mokutil cannot read the EFI variables (legacy BIOS/CSM boot, or efivarfs not mounted): whether "
                  "the kernel enforces module signatures is unknown")
    else:
        enforcing = None
        reason = "mokutil did not say whether Secure Boot is enabled (or is not installed)"
    return {"state": state, "firmware": firmware, "setup_mode": setup_mode, "shim_validation": shim_validation,
            "enforcing": enforcing, "reason": reason}


def parse_sb_state(text, warn=None):
    """Return ``enabled``, ``disabled``, ``not_supported`` or ``unknown``: the firmware's
    state only (see :func:`parse_secure_boot` for whether the kernel enforces it).

    ``text`` is mokutil's stdout and stderr together. The first line that names a state
    decides; lines not understood go to ``warn`` (a callable taking one sentence).
    """
    return parse_secure_boot(text, warn)["state"]
