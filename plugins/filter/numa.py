# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters numaserve.ovms.cpuset, numaserve.ovms.cpulist and numaserve.ovms.instance_plan.

Documentation: cpuset.yml, cpulist.yml and instance_plan.yml next to this file
(``ansible-doc -t filter numaserve.ovms.cpuset``). The logic lives in plugins/module_utils.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import (
    CpuListError,
    format_cpulist,
    to_cpu_list,
)
from ansible_collections.numaserve.ovms.plugins.module_utils.planner import PlanError, plan_instances


def cpuset(value):
    """CPU numbers (list, int, or a cpulist string) -> canonical kernel cpulist ``"0-3,8,10-11"``."""
    try:
        return format_cpulist(to_cpu_list(value, "numaserve.ovms.cpuset input"))
    except CpuListError as exc:
        raise AnsibleFilterError(str(exc))


def cpulist(value):
    """Kernel cpulist string (``"0-3,8"``) -> sorted list of unique CPU numbers."""
    if not isinstance(value, (str, list, tuple, int)) or isinstance(value, bool):
        raise AnsibleFilterError("numaserve.ovms.cpulist expects a CPU list string such as \"0-3,8\", got %r" % (value,))
    try:
        return to_cpu_list(value, "numaserve.ovms.cpulist input")
    except CpuListError as exc:
        raise AnsibleFilterError(str(exc))


def instance_plan(topology, policy="per_node", instances_per_node=1, reserved_cpus=None, instances=None,
                  rest_port_base=8003, grpc_port_base=None, option_prefix=""):
    """numa_topology + placement options -> the ovms_instances list (see instance_plan.yml)."""
    try:
        return plan_instances(
            topology,
            policy=policy,
            instances_per_node=instances_per_node,
            reserved_cpus=reserved_cpus,
            instances=instances,
            rest_port_base=rest_port_base,
            grpc_port_base=grpc_port_base,
            option_prefix=option_prefix,
        )
    except PlanError as exc:
        raise AnsibleFilterError("numaserve.ovms.instance_plan: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {
            "cpuset": cpuset,
            "cpulist": cpulist,
            "instance_plan": instance_plan,
        }
