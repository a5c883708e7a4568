# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of numaserve.ovms.load_balancer: load_balancer_server_hosts, load_balancer_upstream,
load_balancer_cpuset, load_balancer_workers, load_balancer_container_spec, load_balancer_validate_command,
load_balancer_records, load_balancer_parse_upstream and load_balancer_port_problems.

Documentation: the .yml files of the same names next to this file. The logic lives in
plugins/module_utils/load_balancer.py and plugins/module_utils/load_balancer_ports.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.module_utils import containers, cpulist, fleet
from ansible_collections.numaserve.ovms.plugins.module_utils import load_balancer as lb
from ansible_collections.numaserve.ovms.plugins.module_utils import load_balancer_ports as ports


def _wrap(name, function):
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (lb.LoadBalancerError, containers.ContainerError, fleet.FleetError, cpulist.CpuListError,
                TypeError, ValueError) as exc:
            raise AnsibleFilterError("numaserve.ovms.%s: %s" % (name, exc))

    run.__name__ = name
    return run


def load_balancer_upstream(hosts, balancer, own_endpoints, hostvars, endpoints=None):
    """The upstream entries of balancer ``balancer`` (see module_utils/load_balancer.upstream)."""
    return lb.upstream(list(hosts or []), balancer, list(own_endpoints or []), hostvars, list(endpoints or []))


def load_balancer_container_spec(settings, host):
    """The engine-neutral container spec of the balancer of ``host``."""
    return lb.container_spec(dict(settings), host)


def load_balancer_port_problems(holders, wanted, own_containers=None, host="this host"):
    """Messages for the wanted ports ({port, variable}) that an unrelated process holds.

    ``own_containers``: the balancer's own containers in the _container schema (running ones count).
    """
    running = [c for c in (own_containers or []) if c.get("running")]
    own_pids = [c.get("pid", 0) for c in running]
    own_ports = [p["host_port"] for c in running for p in c.get("ports", [])]
    return ports.port_problems(list(holders or []), list(wanted or []), own_pids, own_ports, host)


class FilterModule(object):
    def filters(self):
        return {
            "load_balancer_server_hosts": _wrap("load_balancer_server_hosts", lb.server_hosts),
            "load_balancer_upstream": _wrap("load_balancer_upstream", load_balancer_upstream),
            "load_balancer_cpuset": _wrap("load_balancer_cpuset", lb.cpuset),
            "load_balancer_workers": _wrap("load_balancer_workers", lb.worker_processes),
            "load_balancer_container_spec": _wrap("load_balancer_container_spec", load_balancer_container_spec),
            "load_balancer_validate_command": _wrap("load_balancer_validate_command", lb.validate_command),
            "load_balancer_records": _wrap("load_balancer_records", lb.records),
            "load_balancer_parse_upstream": _wrap("load_balancer_parse_upstream", lb.parse_upstream),
            "load_balancer_port_problems": _wrap("load_balancer_port_problems", load_balancer_port_problems),
        }
