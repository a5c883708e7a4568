# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s_sizing: kubelet reservation per worker and the pods of the cluster, checked by the rules the
kubelet and the scheduler apply, on the fixture machines of tests/unit/sysfs_fixture.py."""

import pytest

import sysfs_fixture
from ansible_collections.numaserve.ovms.plugins.module_utils import k8s_sizing
from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import parse_cpulist

MACHINES = {
    "dual_socket": sysfs_fixture.dual_socket,                                   # the OVMS demo host, 2 x 32 cores SMT2
    "snc6": lambda: sysfs_fixture.smt_machine(2, 3, 10),                        # SNC-3 on two sockets: six nodes
    "smt_off": lambda: sysfs_fixture.smt_machine(2, 1, 16, threads=1),
    "cxl": sysfs_fixture.cxl,                                                   # node 2: memory only
    "single": sysfs_fixture.single,
}


def quantity(text):
    return k8s_sizing.parse_quantity(text, "test")


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_reservation_follows_the_kubelet_rules(name):
    machine = MACHINES[name]()
    topology = machine.topology()
    res = k8s_sizing.node_reservation(topology, 1, "1Gi", "512Mi", "100Mi")
    config = k8s_sizing.kubelet_config(res)
    cpu_nodes = {n["id"]: set(n["cpus"]) for n in topology["nodes"] if n["cpus"]}
    reserved = set(parse_cpulist(config["reservedSystemCPUs"]))
    tpc = topology["threads_per_core"]
    # whole cores only
    for core in topology["cores"]:
        assert set(core) <= reserved or not set(core) & reserved, core
    # every NUMA node with CPUs keeps the same number of CPUs, and a pod is exactly that (a multiple of tpc)
    kept = {n: len(cpus - reserved) for n, cpus in cpu_nodes.items()}
    assert len(set(kept.values())) == 1, kept
    assert res["pod_cpus"] == min(kept.values()) and res["pod_cpus"] % tpc == 0
    assert all(reserved & cpus for cpus in cpu_nodes.values()), "every node reserves at least one core"
    # reservedMemory sums exactly to kube-reserved + system-reserved + evictionHard memory.available
    total = sum(quantity(r["limits"]["memory"]) for r in config["reservedMemory"])
    assert total == quantity(config["kubeReserved"]["memory"]) + quantity(config["systemReserved"]["memory"]) \
        + quantity(config["evictionHard"]["memory.available"]) == quantity("1636Mi")
    assert {r["numaNode"] for r in config["reservedMemory"]} <= set(cpu_nodes)
    # a pod fits the memory a NUMA node keeps
    for r in config["reservedMemory"]:
        node_bytes = machine.memory_kb[r["numaNode"]] * 1024
        assert res["pod_memory_bytes"] <= node_bytes - quantity(r["limits"]["memory"])
    for key, value in k8s_sizing.KUBELET_POLICIES.items():
        assert config[key] == value
    assert config["evictionHard"]["nodefs.available"] == "10%"  # the other defaults are kept
    # the scheduler cannot put one pod more than NUMA nodes on the worker
    allocatable = len(topology["online_cpus"]) - len(reserved)
    assert res["allocatable_cpus"] == allocatable
    assert len(cpu_nodes) * res["pod_cpus"] <= allocatable < (len(cpu_nodes) + 1) * res["pod_cpus"]


def test_dual_socket_figures():
    res = k8s_sizing.node_reservation(sysfs_fixture.dual_socket().topology())
    assert res["reserved_system_cpus"] == "0,32,64,96"
    assert res["pod_cpus"] == 62 and res["allocatable_cpus"] == 124
    assert res["reserved_memory"] == [{"numaNode": 0, "limits": {"memory": "1074Mi"}},
                                      {"numaNode": 1, "limits": {"memory": "1074Mi"}}]


def test_unequal_nodes_reserve_more_on_the_bigger_one():
    # node 0: 4 cores, node 1: 6 cores (no SMT): node 1 gives up 3 cores so both keep 3
    machine = sysfs_fixture.Machine({0: [0, 1, 2, 3], 1: [4, 5, 6, 7, 8, 9]}, [[c] for c in range(10)],
                                    {0: list(range(10))})
    res = k8s_sizing.node_reservation(machine.topology(), reserved_cores_per_node=1)
    assert res["reserved_system_cpus"] == "0,4-6"
    assert res["numa_allocatable_cpus"] == {0: 3, 1: 3} and res["pod_cpus"] == 3


def test_odd_reservation_is_spread_exactly():
    res = k8s_sizing.node_reservation(sysfs_fixture.smt_machine(2, 3, 10).topology(), 1, "1000Mi", "1Mi", "0")
    amounts = [quantity(r["limits"]["memory"]) for r in res["reserved_memory"]]
    assert sum(amounts) == quantity("1001Mi") and max(amounts) - min(amounts) <= quantity("1Mi")


@pytest.mark.parametrize("kwargs, message", [
    ({"reserved_cores_per_node": 4}, "k8s_node_reserved_cores_per_node=4 leaves NUMA node 0 (4 cores)"),
    ({"reserved_cores_per_node": 0}, "k8s_node_reserved_cores_per_node must be an integer >= 1"),
    ({"kube_reserved_memory": "1GB"}, "k8s_node_kube_reserved_memory must be a memory quantity"),
    ({"kube_reserved_memory": "0", "system_reserved_memory": "0", "eviction_hard_memory": "0"}, "needs a reservation"),
    ({"kube_reserved_memory": "100Gi"}, "is larger than the node"),
])
def test_impossible_reservations_name_the_variable(kwargs, message):
    with pytest.raises(k8s_sizing.SizingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        k8s_sizing.node_reservation(sysfs_fixture.single().topology(), **kwargs)


def test_unknown_node_memory_is_refused():
    topology = sysfs_fixture.dual_socket().topology()
    topology["nodes"][1]["memory_kb"] = None
    with pytest.raises(k8s_sizing.SizingError, match="memory of NUMA node 1 is unknown"):
        k8s_sizing.node_reservation(topology)


def _workers(*names):
    return [{"host": "w%d-%s" % (i, n), "reservation": k8s_sizing.node_reservation(MACHINES[n]().topology())}
            for i, n in enumerate(names)]


def test_cluster_plan_classes_replicas_and_memory():
    plan = k8s_sizing.cluster_plan(_workers("dual_socket", "dual_socket", "cxl"))
    assert [(c["name"], c["cpus"], c["replicas"], c["workers"]) for c in plan["classes"]] == [
        ("ovms-c62", 62, 4, ["w0-dual_socket", "w1-dual_socket"]), ("ovms-c14", 14, 2, ["w2-cxl"])]
    for cls in plan["classes"]:
        assert cls["memory_bytes"] % (1 << 30) == 0 and cls["max_skew"] == 1
    assert [w["pods"] for w in plan["workers"]] == [2, 2, 2]


def test_same_cpus_different_node_counts_get_a_larger_skew():
    two = sysfs_fixture.smt_machine(1, 2, 8)
    four = sysfs_fixture.smt_machine(2, 2, 8)
    plan = k8s_sizing.cluster_plan([{"host": "a", "reservation": k8s_sizing.node_reservation(two.topology())},
                                    {"host": "b", "reservation": k8s_sizing.node_reservation(four.topology())}])
    (cls,) = plan["classes"]
    assert cls["replicas"] == 6 and cls["max_skew"] == 2


def test_headroom_and_its_limit():
    plan = k8s_sizing.cluster_plan(_workers("dual_socket"), cpu_headroom_cores=1)
    assert plan["classes"][0]["cpus"] == 60
    with pytest.raises(k8s_sizing.SizingError, match="would let the scheduler put 3 pods"):
        k8s_sizing.cluster_plan(_workers("dual_socket"), cpu_headroom_cores=11)
    with pytest.raises(k8s_sizing.SizingError, match="ovms_k8s_workers"):
        k8s_sizing.cluster_plan([])


def test_quantities():
    assert k8s_sizing.format_quantity(1178599424) == "1124Mi"
    assert k8s_sizing.format_quantity(1 << 30) == "1Gi" and k8s_sizing.format_quantity(1000) == "1000"
    assert quantity("100M") == 10 ** 8 and quantity(5) == 5
