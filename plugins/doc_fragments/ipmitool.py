# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ipmitool options ipmi_info and ipmi_bmc share (module_utils/_ipmitool.CONNECTION_SPEC).

Only options that are the same in both modules are here. C(host), C(password) and
C(interface) differ (required in ipmi_bmc, not in ipmi_info; ipmi_bmc has no in-band
C(open) interface) and stay in each module's own DOCUMENTATION. Both modules form the
action group C(aiserver.gpu.ipmi) (meta/runtime.yml), so a play or block can set these
once with C(module_defaults: {group/aiserver.gpu.ipmi: ...}).
"""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  user:
    description:
      - BMC user to log in as. M(aiserver.gpu.ipmi_bmc) needs an administrator, whose password it
        replaces when only the default password opens a session.
    type: str
    default: ADMIN
  cipher_suite:
    description: RMCP+ cipher suite (C(-C)); ipmitool's default when not set (17 on 1.8.19, 3 before).
    type: int
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
  action_group:
    description: Use C(group/aiserver.gpu.ipmi) in C(module_defaults) to set the connection options once for both modules.
    support: full
    membership:
      - aiserver.gpu.ipmi
"""
