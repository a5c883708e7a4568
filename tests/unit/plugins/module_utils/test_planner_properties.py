# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests: on generated topologies the planner either returns a plan that keeps every
invariant of DESIGN.md, or refuses exactly the requests that cannot be met."""

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import format_cpulist, parse_cpulist
from ansible_collections.numaserve.ovms.plugins.module_utils.planner import PlanError, plan_instances
from sysfs_fixture import Machine

PACKAGE_IDS = [0, 1, 2, 3, 7, 255, 65535, -1]


@st.composite
def machines(draw):
    """Random sparse node ids, CPU-less nodes, SMT 1-4, shuffled CPU numbering, offline CPUs."""
    n_nodes = draw(st.integers(1, 6))
    node_ids = draw(st.lists(st.integers(0, 300), min_size=n_nodes, max_size=n_nodes, unique=True))
    cores_per_node = draw(st.lists(st.integers(0, 5), min_size=n_nodes, max_size=n_nodes))
    assume(sum(cores_per_node) > 0)
    threads = draw(st.integers(1, 4))
    n_packages = draw(st.integers(1, n_nodes))
    package_ids = draw(st.lists(st.sampled_from(PACKAGE_IDS), min_size=n_packages, max_size=n_packages, unique=True))
    node_package = [package_ids[draw(st.integers(0, n_packages - 1))] for dummy in range(n_nodes)]
    total = sum(cores_per_node) * threads
    numbering = draw(st.permutations(range(total)))
    nodes, cores, packages = {}, [], {}
    index = 0
    for node_id, count, package in zip(node_ids, cores_per_node, node_package):
        nodes[node_id] = []
        for dummy in range(count):
            core = [numbering[index + t] for t in range(threads)]
            index += threads
            cores.append(core)
            nodes[node_id].extend(core)
            packages.setdefault(package, []).extend(core)
    offline = draw(st.sets(st.sampled_from(range(total)), max_size=max(0, total // 4)))
    assume(len(offline) < total)
    return Machine(nodes, cores, packages, offline=offline)


def check_invariants(topology, plan, reserved):
    node_cpus = {n["id"]: set(n["cpus"]) for n in topology["nodes"]}
    core_of = {c: tuple(core) for core in topology["cores"] for c in core}
    owner = {}
    ports = []
    for instance in plan:
        cpus = parse_cpulist(instance["cpuset_cpus"])
        assert cpus, instance
        assert instance["cpus"] == len(cpus)
        assert format_cpulist(cpus) == instance["cpuset_cpus"]            # canonical
        assert instance["cpuset_mems"] == format_cpulist(instance["nodes"])
        allowed = set().union(*(node_cpus[n] for n in instance["nodes"]))
        assert set(cpus) <= allowed                                       # CPUs from its nodes
        assert all(node_cpus[n] for n in instance["nodes"])               # no CPU-less node
        for cpu in cpus:
            assert cpu not in owner, "CPU %d in %s and %s" % (cpu, owner.get(cpu), instance["name"])
            owner[cpu] = instance["name"]
        ports.append(instance["rest_port"])
        if instance["grpc_port"] is not None:
            ports.append(instance["grpc_port"])
    for core in set(core_of.values()):                                   # siblings never split
        assert len({owner.get(c) for c in core}) == 1, core
    assert not set(owner) & reserved                                       # reserved CPUs unused
    assert len(ports) == len(set(ports))                                  # ports unique
    assert len({i["name"] for i in plan}) == len(plan)


def reserved_whole_cores(topology, reserved):
    out = set()
    for core in topology["cores"]:
        if set(core) & reserved:
            out.update(core)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machine=machines(), data=st.data())
def test_per_node_keeps_invariants_or_refuses(machine, data):
    topology = machine.topology()
    online = topology["online_cpus"]
    reserved = set(data.draw(st.sets(st.sampled_from(online), max_size=3)))
    per_node = data.draw(st.integers(1, 3))
    grpc = data.draw(st.sampled_from([None, 9000]))
    blocked = reserved_whole_cores(topology, reserved)
    possible = True
    for node in topology["nodes"]:
        if not node["cpus"]:
            continue
        free_cores = {tuple(core) for core in topology["cores"] if set(core) <= set(node["cpus"]) and not set(core) & blocked}
        if not free_cores or per_node > len(free_cores):
            possible = False
    try:
        plan = plan_instances(topology, instances_per_node=per_node, reserved_cpus=sorted(reserved), grpc_port_base=grpc)
    except PlanError as exc:
        assert not possible, "refused a possible request: %s" % exc
        assert "reserved_cpus" in str(exc) or "instances_per_node" in str(exc)
        return
    assert possible, "planned an impossible request"
    check_invariants(topology, plan, blocked)
    with_cpus = [n["id"] for n in topology["nodes"] if n["cpus"]]
    assert [i["nodes"][0] for i in plan] == [n for n in with_cpus for dummy in range(per_node)]
    # every usable CPU is placed
    placed = {c for i in plan for c in parse_cpulist(i["cpuset_cpus"])}
    assert placed == set(online) - blocked
    # whole cores split evenly inside a node
    for node_id in with_cpus:
        sizes = [len({core_key(topology, c) for c in parse_cpulist(i["cpuset_cpus"])}) for i in plan if i["nodes"] == [node_id]]
        assert max(sizes) - min(sizes) <= 1


def core_key(topology, cpu):
    for core in topology["cores"]:
        if cpu in core:
            return tuple(core)
    raise AssertionError(cpu)


@settings(max_examples=100, deadline=None)
@given(machine=machines(), data=st.data())
def test_per_socket_keeps_invariants_or_refuses(machine, data):
    topology = machine.topology()
    reserved = set(data.draw(st.sets(st.sampled_from(topology["online_cpus"]), max_size=3)))
    blocked = reserved_whole_cores(topology, reserved)
    possible = all(set(cpus) - blocked for cpus in topology["packages"].values())
    try:
        plan = plan_instances(topology, policy="per_socket", reserved_cpus=sorted(reserved))
    except PlanError as exc:
        assert not possible, "refused a possible request: %s" % exc
        assert "reserved_cpus" in str(exc)
        return
    assert possible
    check_invariants(topology, plan, blocked)
    assert [i["name"] for i in plan] == ["socket%s" % p for p in sorted(topology["packages"], key=int)]
    placed = {c for i in plan for c in parse_cpulist(i["cpuset_cpus"])}
    assert placed == set(topology["online_cpus"]) - blocked


@settings(max_examples=100, deadline=None)
@given(machine=machines(), data=st.data())
def test_explicit_partition_of_nodes(machine, data):
    topology = machine.topology()
    with_cpus = [n["id"] for n in topology["nodes"] if n["cpus"]]
    assume(with_cpus)
    groups = data.draw(st.lists(st.integers(0, 2), min_size=len(with_cpus), max_size=len(with_cpus)))
    instances = []
    for g in sorted(set(groups)):
        instances.append({"name": "g%d" % g, "nodes": [n for n, k in zip(with_cpus, groups) if k == g]})
    plan = plan_instances(topology, instances=instances, grpc_port_base=9100)
    check_invariants(topology, plan, set())
    assert [i["name"] for i in plan] == [i["name"] for i in instances]
    assert sum(i["cpus"] for i in plan) == len(topology["online_cpus"])
