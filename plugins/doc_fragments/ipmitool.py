# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ipmitool options ipmi_info and ipmi_bmc share (module_utils/_ipmitool.CONNECTION_SPEC)."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  port:
    description: UDP port of the BMC.
    type: int
    default: 623
  executable:
    description: Name or path of ipmitool.
    type: str
    default: ipmitool
  timeout:
    description: Seconds one ipmitool run may take before it is killed.
    type: int
    default: 30
  retries:
    description: ipmitool's own retries (C(-R)) for each request.
    type: int
    default: 2
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""
