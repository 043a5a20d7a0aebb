# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module attributes the modules of this collection share.

``aiserver.gpu.attributes`` (a module that changes the host, with a diff),
``aiserver.gpu.attributes.no_diff`` (changes the host, no diff) and
``aiserver.gpu.attributes.read_only`` (reads, never changes anything). A module may add
``details`` to an attribute in its own DOCUMENTATION; its own keys win.
"""

from __future__ import annotations

_CHECK_MODE = r"""
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
"""
_DIFF_MODE = r"""
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode when in check mode).
    support: %s
"""
_PLATFORM = r"""
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""


class ModuleDocFragment(object):

    DOCUMENTATION = "options: {}\nattributes:" + _CHECK_MODE + _DIFF_MODE % "full" + _PLATFORM

    NO_DIFF = "options: {}\nattributes:" + _CHECK_MODE + _DIFF_MODE % "none" + _PLATFORM

    READ_ONLY = ("options: {}\nattributes:" + _CHECK_MODE
                 + "    details: The module changes nothing; it runs the same in check mode.\n"
                 + _DIFF_MODE % "none" + _PLATFORM)
