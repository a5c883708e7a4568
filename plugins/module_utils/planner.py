# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Placement planner: ``numa_topology`` + options -> the ``ovms_instances`` list of DESIGN.md.

Pure Python, no Ansible imports (the ``instance_plan`` filter wraps it). Invariants of every plan
it returns:

* no CPU is in two instances;
* SMT siblings (``topology.cores``) are never split between instances, nor between an instance
  and the reserved CPUs (reserving one thread reserves its whole core);
* an instance's CPUs come from the nodes it names, and ``cpuset_mems`` is exactly those nodes;
* CPU-less nodes get no instance;
* REST and gRPC ports are unique on the host.

Requests that cannot be met raise PlanError with a message naming the option to change.
"""

from __future__ import annotations

import re

from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import (
    CpuListError,
    format_cpulist,
    to_cpu_list,
)

__all__ = ["PlanError", "POLICIES", "plan_instances"]

POLICIES = ("per_node", "per_socket")
INSTANCE_KEYS = ("name", "nodes", "cpus", "rest_port", "grpc_port")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class PlanError(ValueError):
    """The requested placement is impossible; the message says which option to change."""


class _Opts(object):
    """Option names as the caller knows them (``reserved_cpus`` or ``numa_facts_reserved_cpus``)."""

    def __init__(self, prefix):
        self.prefix = prefix or ""

    def __getattr__(self, name):
        return self.prefix + name


def _int_option(value, name, minimum, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and re.match(r"^[0-9]+$", value.strip()):
            value = int(value.strip())
        else:
            raise PlanError("%s must be an integer, got %r" % (name, value))
    if value < minimum or (maximum is not None and value > maximum):
        bounds = ">= %d" % minimum if maximum is None else "between %d and %d" % (minimum, maximum)
        raise PlanError("%s must be %s, got %d" % (name, bounds, value))
    return value


def _check_topology(topology):
    if not isinstance(topology, dict) or not isinstance(topology.get("nodes"), list):
        raise PlanError("the topology must be the numa_topology fact of numaserve.ovms.numa_facts "
                        "(a dict with nodes, online_cpus, packages, cores), got %r" % (type(topology).__name__,))
    nodes = {}
    for node in topology["nodes"]:
        try:
            nodes[int(node["id"])] = set(int(c) for c in node.get("cpus") or [])
        except (KeyError, TypeError, ValueError):
            raise PlanError("numa_topology.nodes entries need an integer id and a cpus list, got %r" % (node,))
    online = set(int(c) for c in topology.get("online_cpus") or [])
    for cpus in nodes.values():
        online |= cpus
    cores = topology.get("cores")
    if not cores:
        cores = [[cpu] for cpu in sorted(online)]
    core_of = {}
    for core in cores:
        group = tuple(sorted(int(c) for c in core))
        for cpu in group:
            core_of[cpu] = group
    for cpu in online:
        core_of.setdefault(cpu, (cpu,))
    packages = {}
    for key, cpus in (topology.get("packages") or {}).items():
        packages[int(key)] = set(int(c) for c in cpus)
    return nodes, online, core_of, packages


def _whole_cores(cpus, core_of):
    """The cores (sorted tuples) covering ``cpus``; those only partly inside are returned apart."""
    whole, partial = set(), set()
    for cpu in cpus:
        core = core_of.get(cpu, (cpu,))
        (whole if set(core) <= cpus else partial).add(core)
    return sorted(whole), sorted(partial)


def _split_evenly(cores, parts):
    """Split a sorted list of cores into ``parts`` contiguous chunks whose sizes differ by at most one."""
    size, extra = divmod(len(cores), parts)
    chunks, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(cores[start:end])
        start = end
    return chunks


def _groups_per_node(nodes, reserved, opt):
    groups = []
    for node_id in sorted(nodes):
        if not nodes[node_id]:
            continue  # CPU-less (memory-only) node, or every CPU offline
        cpus = nodes[node_id] - reserved
        if not cpus:
            raise PlanError(
                "%s leaves node %d without CPUs (node %d has CPUs %s): reserve fewer CPUs on node %d"
                % (opt.reserved_cpus, node_id, node_id, format_cpulist(nodes[node_id]), node_id))
        groups.append({"name": "node%d" % node_id, "nodes": [node_id], "cpus": cpus})
    return groups


def _groups_per_socket(nodes, packages, reserved, opt):
    groups = []
    for package in sorted(packages):
        members = [n for n in sorted(nodes) if nodes[n] & packages[package]]
        node_cpus = set().union(*(nodes[n] for n in members)) if members else set()
        cpus = (packages[package] & node_cpus) - reserved
        if not packages[package] & node_cpus:
            continue
        if not cpus:
            raise PlanError("%s leaves socket %d without CPUs (it has CPUs %s): reserve fewer CPUs on it"
                            % (opt.reserved_cpus, package, format_cpulist(packages[package] & node_cpus)))
        groups.append({"name": "socket%d" % package, "nodes": members, "cpus": cpus})
    return groups


def _groups_explicit(instances, nodes, reserved, opt):
    if not isinstance(instances, list):
        raise PlanError("%s must be a list of {name, nodes} dicts, got %r" % (opt.instances, instances))
    groups, names = [], set()
    for index, item in enumerate(instances):
        where = "%s[%d]" % (opt.instances, index)
        if not isinstance(item, dict):
            raise PlanError("%s must be a dict with name and nodes, got %r" % (where, item))
        unknown = sorted(set(item) - set(INSTANCE_KEYS))
        if unknown:
            raise PlanError("%s has unknown keys %s; allowed: %s" % (where, ", ".join(unknown), ", ".join(INSTANCE_KEYS)))
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise PlanError("%s.name must be a lowercase name (a-z, 0-9, '.', '_', '-', at most 63 characters), got %r"
                            % (where, name))
        if name in names:
            raise PlanError("%s: the name %r is used twice; give every instance its own name" % (where, name))
        names.add(name)
        wanted = item.get("nodes")
        if isinstance(wanted, int) and not isinstance(wanted, bool):
            wanted = [wanted]
        if not isinstance(wanted, list) or not wanted or any(isinstance(n, bool) or not isinstance(n, int) for n in wanted):
            raise PlanError("%s (%s).nodes must be a non-empty list of NUMA node ids, got %r" % (where, name, item.get("nodes")))
        for node_id in wanted:
            if node_id not in nodes:
                raise PlanError("%s (%s) names node %d, which this host does not have (nodes: %s); fix its nodes"
                                % (where, name, node_id, ", ".join(str(n) for n in sorted(nodes))))
            if not nodes[node_id]:
                raise PlanError("%s (%s) names node %d, which has no online CPU (a memory-only node); "
                                "remove it from its nodes" % (where, name, node_id))
        wanted = sorted(set(wanted))
        node_cpus = set().union(*(nodes[n] for n in wanted))
        if item.get("cpus") is not None:
            try:
                cpus = set(to_cpu_list(item["cpus"], "%s (%s).cpus" % (where, name)))
            except CpuListError as exc:
                raise PlanError(str(exc))
            outside = cpus - node_cpus
            if outside:
                raise PlanError("%s (%s).cpus names CPUs %s that are not online CPUs of its nodes %s (%s); fix its cpus or nodes"
                                % (where, name, format_cpulist(outside), wanted, format_cpulist(node_cpus)))
            clash = cpus & reserved
            if clash:
                raise PlanError("%s (%s).cpus names CPUs %s that %s reserves (with their SMT siblings); "
                                "remove them from one of the two" % (where, name, format_cpulist(clash), opt.reserved_cpus))
        else:
            cpus = node_cpus - reserved
            if not cpus:
                raise PlanError("%s leaves instance %s (nodes %s) without CPUs: reserve fewer CPUs on those nodes"
                                % (opt.reserved_cpus, name, wanted))
        groups.append({"name": name, "nodes": wanted, "cpus": cpus,
                       "rest_port": item.get("rest_port"), "grpc_port": item.get("grpc_port"), "where": where})
    if not groups:
        raise PlanError("%s is empty" % opt.instances)
    return groups


def _assign_ports(groups, rest_port_base, grpc_port_base, opt):
    used = {}
    for index, group in enumerate(groups):
        for kind, base, base_name in (("rest_port", rest_port_base, opt.rest_port_base),
                                      ("grpc_port", grpc_port_base, opt.grpc_port_base)):
            explicit = group.get(kind)
            if explicit is not None:
                port = _int_option(explicit, "%s.%s" % (group.get("where", group["name"]), kind), 1, 65535)
                source = "%s.%s" % (group.get("where", group["name"]), kind)
            elif base is not None:
                port = base + index
                source = base_name
                if port > 65535:
                    raise PlanError("%s %d + %d instances goes past port 65535; lower %s" % (base_name, base, len(groups), base_name))
            else:
                group[kind] = None
                continue
            if port in used:
                raise PlanError("port %d is used twice on this host (%s of %s and %s of %s); change %s or %s so the "
                                "REST and gRPC port ranges do not overlap"
                                % (port, used[port][0], used[port][1], kind, group["name"], used[port][2], source))
            used[port] = (kind, group["name"], source)
            group[kind] = port


def plan_instances(topology, policy="per_node", instances_per_node=1, reserved_cpus=None, instances=None,
                   rest_port_base=8003, grpc_port_base=None, option_prefix=""):
    """Return the list of model server instances for ``topology`` (see the module docstring).

    ``option_prefix`` is prepended to option names in error messages (the role passes
    ``numa_facts_`` so a message names the variable the user sets).
    """
    opt = _Opts(option_prefix)
    nodes, online, core_of, packages = _check_topology(topology)
    if policy not in POLICIES:
        raise PlanError("%s must be one of %s, got %r" % (opt.policy, ", ".join(POLICIES), policy))
    per_node = _int_option(instances_per_node, opt.instances_per_node, 1)
    rest_port_base = _int_option(rest_port_base, opt.rest_port_base, 1, 65535)
    if grpc_port_base is not None and grpc_port_base != "":
        grpc_port_base = _int_option(grpc_port_base, opt.grpc_port_base, 1, 65535)
    else:
        grpc_port_base = None

    try:
        reserved_request = set(to_cpu_list(reserved_cpus, opt.reserved_cpus))
    except CpuListError as exc:
        raise PlanError(str(exc))
    not_online = reserved_request - online
    if not_online:
        raise PlanError("%s names CPUs %s that are not online on this host (online CPUs: %s); remove them"
                        % (opt.reserved_cpus, format_cpulist(not_online), format_cpulist(online)))
    reserved = set()
    for cpu in reserved_request:
        reserved.update(core_of[cpu])

    if instances:
        if policy != "per_node" or per_node != 1:
            raise PlanError("%s is given together with %s=%s/%s=%d; an explicit list replaces the policy: "
                            "leave %s and %s at their defaults"
                            % (opt.instances, opt.policy, policy, opt.instances_per_node, per_node,
                               opt.policy, opt.instances_per_node))
        groups = _groups_explicit(instances, nodes, reserved, opt)
    elif policy == "per_socket":
        if per_node != 1:
            raise PlanError("%s=%d applies to policy per_node only; set %s to per_node or %s to 1"
                            % (opt.instances_per_node, per_node, opt.policy, opt.instances_per_node))
        if not packages:
            raise PlanError("the topology has no packages, so %s=per_socket cannot place anything; use per_node" % opt.policy)
        groups = _groups_per_socket(nodes, packages, reserved, opt)
    else:
        groups = _groups_per_node(nodes, reserved, opt)
    if not groups:
        raise PlanError("no NUMA node of this host has an online CPU: nothing to place")

    # Instances must not share CPUs (firmware listing a CPU in two nodes, explicit lists).
    owner = {}
    for group in groups:
        for cpu in sorted(group["cpus"]):
            if cpu in owner:
                if opt.instances in group.get("where", ""):
                    fix = "give them disjoint cpus or nodes in %s" % opt.instances
                else:
                    fix = ("the firmware lists the CPU in more than one node; reserve it with %s or place the "
                           "instances with %s" % (opt.reserved_cpus, opt.instances))
                raise PlanError("CPU %d would be in two instances (%s and %s): %s"
                                % (cpu, owner[cpu], group["name"], fix))
            owner[cpu] = group["name"]

    # Whole cores only: a core partly inside an instance would split SMT siblings.
    planned = []
    for group in groups:
        cores, partial = _whole_cores(group["cpus"], core_of)
        if partial:
            core = partial[0]
            raise PlanError(
                "instance %s would split the SMT siblings %s (a core reaching outside its nodes %s or its cpus); "
                "give it whole cores (%s or an explicit instance list covering both nodes)"
                % (group["name"], format_cpulist(core), group["nodes"], opt.reserved_cpus))
        if per_node > 1:
            if per_node > len(cores):
                after = " after %s" % opt.reserved_cpus if reserved else ""
                raise PlanError("%s=%d but node %s has only %d whole cores (CPUs %s)%s; set %s to at most %d"
                                % (opt.instances_per_node, per_node, group["nodes"][0], len(cores),
                                   format_cpulist(group["cpus"]), after, opt.instances_per_node, len(cores)))
            for k, chunk in enumerate(_split_evenly(cores, per_node)):
                planned.append({"name": "%s-%d" % (group["name"], k), "nodes": group["nodes"],
                                "cpus": set(c for core in chunk for c in core)})
        else:
            planned.append(dict(group, cpus=set(c for core in cores for c in core)))

    _assign_ports(planned, rest_port_base, grpc_port_base, opt)
    return [{
        "name": group["name"],
        "nodes": list(group["nodes"]),
        "cpuset_cpus": format_cpulist(group["cpus"]),
        "cpuset_mems": format_cpulist(group["nodes"]),
        "rest_port": group["rest_port"],
        "grpc_port": group["grpc_port"],
        "cpus": len(group["cpus"]),
    } for group in planned]
