# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The placement planner: each policy, and each impossible request (the message names the option)."""

import pytest

from ansible_collections.numaserve.ovms.plugins.module_utils.planner import PlanError, plan_instances
from sysfs_fixture import cxl, dual_socket, epyc_nps4, many_nodes, smt_machine, snc2


def plan(machine, **options):
    return plan_instances(machine.topology(), **options)


def summary(instances):
    return [(i["name"], i["nodes"], i["cpuset_cpus"], i["cpuset_mems"], i["rest_port"], i["grpc_port"], i["cpus"])
            for i in instances]


def test_per_node_dual_socket_is_the_demo_layout():
    assert summary(plan(dual_socket())) == [
        ("node0", [0], "0-31,64-95", "0", 8003, None, 64),
        ("node1", [1], "32-63,96-127", "1", 8004, None, 64),
    ]


def test_per_node_is_the_default_and_keys_are_the_contract():
    instances = plan(dual_socket())
    assert instances == plan(dual_socket(), policy="per_node")
    assert all(set(i) == {"name", "nodes", "cpuset_cpus", "cpuset_mems", "rest_port", "grpc_port", "cpus"} for i in instances)


def test_per_node_many_nodes_in_numeric_order():
    instances = plan(many_nodes())
    assert [i["name"] for i in instances] == ["node%d" % n for n in range(12)]
    assert instances[1]["cpuset_cpus"] == "2-3" and instances[10]["cpuset_cpus"] == "20-21"
    assert [i["rest_port"] for i in instances] == list(range(8003, 8015))


def test_per_node_skips_cpuless_node():
    instances = plan(cxl())
    assert [i["name"] for i in instances] == ["node0", "node1"]
    assert all(2 not in i["nodes"] for i in instances)


def test_per_socket_snc2_groups_nodes_of_a_package():
    assert summary(plan(snc2(), policy="per_socket")) == [
        ("socket0", [0, 1], "0-31,64-95", "0-1", 8003, None, 64),
        ("socket1", [2, 3], "32-63,96-127", "2-3", 8004, None, 64),
    ]


def test_per_socket_epyc_nps4():
    instances = plan(epyc_nps4(), policy="per_socket", grpc_port_base=9000)
    assert [(i["name"], i["cpuset_mems"], i["cpus"], i["grpc_port"]) for i in instances] == [
        ("socket0", "0-3", 64, 9000), ("socket1", "4-7", 64, 9001)]


def test_per_node_epyc_nps4_eight_instances():
    instances = plan(epyc_nps4())
    assert len(instances) == 8
    assert instances[3]["cpuset_cpus"] == "24-31,88-95"


def test_instances_per_node_splits_whole_cores_evenly():
    instances = plan(dual_socket(), instances_per_node=3)
    assert [i["name"] for i in instances] == ["node0-0", "node0-1", "node0-2", "node1-0", "node1-1", "node1-2"]
    # 32 cores -> 11 + 11 + 10 cores, SMT pairs together
    assert [i["cpus"] for i in instances] == [22, 22, 20, 22, 22, 20]
    assert instances[0]["cpuset_cpus"] == "0-10,64-74"
    assert instances[2]["cpuset_cpus"] == "22-31,86-95"
    assert all(i["cpuset_mems"] == str(i["nodes"][0]) for i in instances)


def test_reserved_cpus_removes_whole_cores():
    # reserving CPU 0 reserves its sibling 64; CPU 96 reserves 32
    instances = plan(dual_socket(), reserved_cpus=[0, 96])
    assert [i["cpuset_cpus"] for i in instances] == ["1-31,65-95", "33-63,97-127"]
    assert [i["cpus"] for i in instances] == [62, 62]


def test_reserved_cpus_as_cpulist_string_and_with_split():
    assert plan(dual_socket(), reserved_cpus="0,32") == plan(dual_socket(), reserved_cpus=[64, 96])
    instances = plan(dual_socket(), reserved_cpus="0-1", instances_per_node=2)
    assert instances[0]["cpuset_cpus"] == "2-16,66-80"


def test_explicit_instances():
    instances = plan(cxl(), instances=[
        {"name": "big", "nodes": [0, 1]},
    ])
    assert summary(instances) == [("big", [0, 1], "0-31", "0-1", 8003, None, 32)]

    instances = plan(dual_socket(), instances=[
        {"name": "a", "nodes": 0, "cpus": "0-7,64-71", "rest_port": 9100, "grpc_port": 9200},
        {"name": "b", "nodes": [0], "cpus": [8, 72]},
        {"name": "c", "nodes": [1]},
    ], rest_port_base=8100)
    assert summary(instances) == [
        ("a", [0], "0-7,64-71", "0", 9100, 9200, 16),
        ("b", [0], "8,72", "0", 8101, None, 2),
        ("c", [1], "32-63,96-127", "1", 8102, None, 64),
    ]


def test_explicit_instances_honour_reserved_cpus():
    instances = plan(dual_socket(), instances=[{"name": "x", "nodes": [0, 1]}], reserved_cpus=[0])
    assert instances[0]["cpuset_cpus"] == "1-63,65-127"


def test_grpc_ports():
    instances = plan(snc2(), grpc_port_base=9000)
    assert [(i["rest_port"], i["grpc_port"]) for i in instances] == [(8003, 9000), (8004, 9001), (8005, 9002), (8006, 9003)]


def test_option_prefix_names_the_role_variable():
    with pytest.raises(PlanError, match="numa_facts_instances_per_node=40"):
        plan(dual_socket(), instances_per_node=40, option_prefix="numa_facts_")


def test_socket_with_package_minus_one():
    machine = smt_machine(1, 1, 2)
    topo = machine.topology()
    topo["packages"] = {"-1": topo["packages"]["0"]}
    assert [i["name"] for i in plan_instances(topo, policy="per_socket")] == ["socket-1"]


# --- impossible requests: each message names the option to change -----------------------------

@pytest.mark.parametrize("machine, options, option, text", [
    (dual_socket(), {"reserved_cpus": "0-31"}, "reserved_cpus", "leaves node 0 without CPUs"),
    (snc2(), {"policy": "per_socket", "reserved_cpus": "32-63"}, "reserved_cpus", "leaves socket 1 without CPUs"),
    (dual_socket(), {"reserved_cpus": "200"}, "reserved_cpus", "not online"),
    (dual_socket(), {"reserved_cpus": "0-"}, "reserved_cpus", "malformed"),
    (dual_socket(), {"instances_per_node": 33}, "instances_per_node", "only 32 whole cores"),
    (dual_socket(), {"instances_per_node": 32, "reserved_cpus": [0]}, "instances_per_node", "at most 31"),
    (dual_socket(), {"instances_per_node": 0}, "instances_per_node", ">= 1"),
    (dual_socket(), {"instances_per_node": "two"}, "instances_per_node", "integer"),
    (snc2(), {"policy": "per_socket", "instances_per_node": 2}, "instances_per_node", "per_node only"),
    (dual_socket(), {"policy": "per_numa"}, "policy", "per_node, per_socket"),
    (dual_socket(), {"grpc_port_base": 8004}, "grpc_port_base", "port 8004 is used twice"),
    (dual_socket(), {"rest_port_base": 65535}, "rest_port_base", "past port 65535"),
    (dual_socket(), {"rest_port_base": 0}, "rest_port_base", "between 1 and 65535"),
    (dual_socket(), {"instances": [{"name": "a", "nodes": [7]}]}, "instances", "node 7, which this host does not have"),
    (cxl(), {"instances": [{"name": "a", "nodes": [0, 2]}]}, "instances", "node 2, which has no online CPU"),
    (dual_socket(), {"instances": [{"name": "a", "nodes": [0]}, {"name": "b", "nodes": [0]}]}, "instances", "CPU 0 would be in two"),
    (dual_socket(), {"instances": [{"name": "a", "nodes": [0]}, {"name": "a", "nodes": [1]}]}, "instances", "used twice"),
    (dual_socket(), {"instances": [{"name": "Big One", "nodes": [0]}]}, "instances", "lowercase name"),
    (dual_socket(), {"instances": [{"name": "a", "nodes": []}]}, "instances", "non-empty list"),
    (dual_socket(), {"instances": [{"name": "a", "node": [0]}]}, "instances", "unknown keys node"),
    (dual_socket(), {"instances": [{"name": "a", "nodes": [0], "cpus": "32"}]}, "instances", "not online CPUs of its nodes"),
    (dual_socket(), {"instances": [{"name": "a", "nodes": [0], "cpus": "0"}]}, "reserved_cpus", "split the SMT siblings 0,64"),
    (dual_socket(), {"instances": [{"name": "a", "nodes": [0], "cpus": "1,65"}], "reserved_cpus": "1"}, "reserved_cpus", "reserves"),
    (dual_socket(), {"instances": [{"name": "a", "nodes": [0]}], "policy": "per_socket"}, "instances", "replaces the policy"),
    (dual_socket(), {"instances": [{"name": "a", "nodes": [0], "rest_port": 8004},
                                   {"name": "b", "nodes": [1]}]}, "rest_port_base", "port 8004 is used twice"),
])
def test_impossible_requests_name_the_option(machine, options, option, text):
    with pytest.raises(PlanError) as exc:
        plan(machine, **options)
    message = str(exc.value)
    assert option in message, message
    assert text in message, message


def test_cpu_in_two_nodes_is_refused_per_node_and_fixed_by_reserving_it():
    topo = smt_machine(2, 1, 2).topology()   # node0 0-1,4-5  node1 2-3,6-7
    topo["nodes"][1]["cpus"] = sorted(topo["nodes"][1]["cpus"] + [0])
    with pytest.raises(PlanError) as exc:
        plan_instances(topo)
    assert "CPU 0 would be in two instances (node0 and node1)" in str(exc.value)
    assert "reserved_cpus" in str(exc.value)
    # reserving CPU 0 (and its sibling 4) resolves it
    assert [i["cpuset_cpus"] for i in plan_instances(topo, reserved_cpus=[0])] == ["1,5", "2-3,6-7"]


def test_core_spanning_two_nodes_is_refused_per_node():
    topo = smt_machine(2, 1, 2).topology()
    topo["cores"] = [[0, 2], [1, 5], [4], [3, 7], [6]]   # firmware pairs 0 (node0) with 2 (node1)
    with pytest.raises(PlanError, match="split the SMT siblings 0,2"):
        plan_instances(topo)
    # one instance over both nodes keeps the pair together
    assert plan_instances(topo, instances=[{"name": "all", "nodes": [0, 1]}])[0]["cpus"] == 8


def test_no_cpu_at_all():
    topo = {"nodes": [{"id": 0, "cpus": []}], "online_cpus": [], "packages": {}, "cores": []}
    with pytest.raises(PlanError, match="no NUMA node"):
        plan_instances(topo)


@pytest.mark.parametrize("topology", [None, [], {"nodes": "x"}, {"nodes": [{"cpus": [1]}]}])
def test_not_a_topology(topology):
    with pytest.raises(PlanError, match="numa_topology|nodes"):
        plan_instances(topology)
