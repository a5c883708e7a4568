# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""numaserve.ovms.numa_facts on fixture sysfs trees the tests write (tests/unit/sysfs_fixture.py).

Expected values come from the machine description (what the fixture says the kernel reports),
never from the module's own output.
"""

import json
import os

from unittest import mock

import pytest
from ansible.module_utils import _internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.numaserve.ovms.plugins.modules import numa_facts
from sysfs_fixture import Machine, dual_socket, epyc_nps4, many_nodes, smt_machine, snc2, cxl


def run_module(capsys, sysfs_root, check_mode=False):
    """Run the module's main(); return (exit code, parsed JSON result).

    Importing controller code (ansible.errors, by the filter tests) flags the process as the
    controller, and then module warnings go to the display instead of the result: run as a module.
    """
    with mock.patch.object(_internal, "is_controller", False), \
            patch_module_args({"sysfs_root": sysfs_root, "_ansible_check_mode": check_mode}):
        with pytest.raises(SystemExit) as exc:
            numa_facts.main()
    return exc.value.code, json.loads(capsys.readouterr().out)


def topology_of(capsys, sysfs_root, check_mode=False):
    code, result = run_module(capsys, sysfs_root, check_mode)
    assert code == 0, result
    assert result["changed"] is False
    return result["ansible_facts"]["numa_topology"]


def expected_topology(machine, node_dir=True):
    return machine.topology(node_dir=node_dir)


def test_dual_socket_demo_host(capsys, make_tree):
    topo = topology_of(capsys, make_tree(dual_socket()))
    assert [(n["id"], n["cpuset"], n["packages"]) for n in topo["nodes"]] == [
        (0, "0-31,64-95", [0]), (1, "32-63,96-127", [1])]
    assert topo["nodes"][0]["cpus"] == list(range(32)) + list(range(64, 96))
    assert topo["nodes"][0]["distances"] == [10, 21]
    assert topo["nodes"][1]["distances"] == [21, 10]
    assert topo["nodes"][0]["memory_kb"] == 65843212
    assert topo["online_cpus"] == list(range(128))
    assert topo["packages"] == {"0": list(range(32)) + list(range(64, 96)), "1": list(range(32, 64)) + list(range(96, 128))}
    assert topo["cores"][:2] == [[0, 64], [1, 65]]
    assert len(topo["cores"]) == 64
    assert topo["threads_per_core"] == 2
    assert set(topo) == {"nodes", "online_cpus", "packages", "cores", "threads_per_core"}
    assert set(topo["nodes"][0]) == {"id", "cpus", "cpuset", "memory_kb", "packages", "distances"}


@pytest.mark.parametrize("machine", [snc2(), epyc_nps4(), cxl(), many_nodes()], ids=["snc2", "epyc_nps4", "cxl", "many_nodes"])
def test_presets_match_description(capsys, make_tree, machine):
    assert topology_of(capsys, make_tree(machine)) == expected_topology(machine)


def test_snc2_has_two_nodes_per_package(capsys, make_tree):
    topo = topology_of(capsys, make_tree(snc2()))
    assert [n["packages"] for n in topo["nodes"]] == [[0], [0], [1], [1]]
    assert [n["cpuset"] for n in topo["nodes"]] == ["0-15,64-79", "16-31,80-95", "32-47,96-111", "48-63,112-127"]


def test_epyc_nps4(capsys, make_tree):
    topo = topology_of(capsys, make_tree(epyc_nps4()))
    assert len(topo["nodes"]) == 8
    assert topo["nodes"][5]["cpuset"] == "40-47,104-111"
    assert sorted(topo["packages"]) == ["0", "1"]


def test_cpuless_cxl_node(capsys, make_tree):
    topo = topology_of(capsys, make_tree(cxl()))
    node2 = topo["nodes"][2]
    assert node2 == {"id": 2, "cpus": [], "cpuset": "", "memory_kb": 65843214, "packages": [],
                     "distances": [21, 21, 10]}


def test_offline_cpus_are_left_out(capsys, make_tree):
    # CPU 5 and its sibling 69 offline (whole core), CPU 40 offline (its sibling 104 stays).
    machine = smt_machine(2, 1, 32, offline=[5, 69, 40])
    topo = topology_of(capsys, make_tree(machine))
    assert topo == expected_topology(machine)
    assert topo["nodes"][0]["cpuset"] == "0-4,6-31,64-68,70-95"
    assert topo["nodes"][1]["cpuset"] == "32-39,41-63,96-127"
    assert [104] in topo["cores"] and [5, 69] not in topo["cores"]
    assert 40 not in topo["online_cpus"]
    assert topo["threads_per_core"] == 2


def test_offline_cpus_without_cpu_online_file(capsys, make_tree):
    """No devices/system/cpu/online: cpuN directories count, cpuN/online=0 excludes, no file = online."""
    machine = smt_machine(1, 1, 4, offline=[2, 6])
    topo = topology_of(capsys, make_tree(machine, cpu_online_file=False))
    assert topo["online_cpus"] == [0, 1, 3, 4, 5, 7]
    assert topo == expected_topology(machine)


def test_missing_cpu0_online_file_means_online(capsys, make_tree):
    machine = smt_machine(1, 1, 2)
    root = make_tree(machine, cpu_online_file=False)
    assert not os.path.exists(os.path.join(root, "devices/system/cpu/cpu0/online"))
    assert 0 in topology_of(capsys, root)["online_cpus"]


def test_sparse_node_ids_sorted_numerically(capsys, make_tree):
    machine = smt_machine(2, 2, 2, node_ids=[33, 4, 250, 17])
    topo = topology_of(capsys, make_tree(machine))
    assert [n["id"] for n in topo["nodes"]] == [4, 17, 33, 250]
    # node 33 was given the first CPUs: ids need not follow CPU order
    assert topo["nodes"][2]["cpuset"] == "0-1,8-9"
    assert topo == expected_topology(machine)


def test_ten_or_more_nodes_node1_is_not_node10(capsys, make_tree):
    machine = many_nodes()
    topo = topology_of(capsys, make_tree(machine))
    assert [n["id"] for n in topo["nodes"]] == list(range(12))
    assert topo["nodes"][1]["cpus"] == [2, 3]
    assert topo["nodes"][10]["cpus"] == [20, 21]
    assert topo["nodes"][11]["cpus"] == [22, 23]


def test_no_node_directory_gives_one_node_with_every_online_cpu(capsys, make_tree):
    machine = smt_machine(1, 1, 4, offline=[3])
    topo = topology_of(capsys, make_tree(machine, node_dir=False))
    assert topo["nodes"] == [{"id": 0, "cpus": [0, 1, 2, 4, 5, 6, 7], "cpuset": "0-2,4-7", "memory_kb": None,
                              "packages": [0], "distances": None}]
    assert topo == expected_topology(machine, node_dir=False)


def test_nul_terminated_files(capsys, make_tree):
    machine = snc2()
    root = make_tree(machine, nul=True)
    with open(os.path.join(root, "devices/system/node/node1/cpulist"), "rb") as handle:
        assert handle.read().endswith(b"\n\x00")
    assert topology_of(capsys, root) == expected_topology(machine)


def test_old_kernel_cpumap_only(capsys, make_tree):
    machine = smt_machine(2, 1, 32, offline=[7])
    root = make_tree(machine, old_kernel=True)
    assert not os.path.exists(os.path.join(root, "devices/system/node/node0/cpulist"))
    with open(os.path.join(root, "devices/system/node/node1/cpumap")) as handle:
        assert handle.read().strip() == "ffffffff,00000000,ffffffff,00000000"
    assert topology_of(capsys, root) == expected_topology(machine)


def test_empty_files(capsys, make_tree):
    """Empty cpu/online (derive from cpuN), empty distance (null), empty thread_siblings_list (mask used)."""
    machine = smt_machine(1, 2, 2)
    root = make_tree(machine, empty_files=("devices/system/cpu/online", "devices/system/node/node1/distance",
                                           "devices/system/cpu/cpu1/topology/thread_siblings_list"))
    topo = topology_of(capsys, root)
    assert topo["online_cpus"] == list(range(8))
    assert topo["nodes"][1]["distances"] is None
    assert [1, 5] in topo["cores"]


@pytest.mark.parametrize("package", [-1, 65535])
def test_unusual_physical_package_id(capsys, make_tree, package):
    machine = smt_machine(1, 1, 2)
    overrides = {"devices/system/cpu/cpu%d/topology/physical_package_id" % c: "%d\n" % package for c in machine.cpus}
    topo = topology_of(capsys, make_tree(machine, overrides=overrides))
    assert topo["packages"] == {str(package): [0, 1, 2, 3]}
    assert topo["nodes"][0]["packages"] == [package]


def test_cpu_in_two_nodes_reported_and_warned(capsys, make_tree):
    machine = smt_machine(2, 1, 2)  # node0 0-1,4-5  node1 2-3,6-7
    code, result = run_module(capsys, make_tree(machine, overrides={"devices/system/node/node1/cpulist": "0,2-3,6-7\n"}))
    assert code == 0
    nodes = result["ansible_facts"]["numa_topology"]["nodes"]
    assert nodes[0]["cpus"] == [0, 1, 4, 5]
    assert nodes[1]["cpus"] == [0, 2, 3, 6, 7]
    # 2.19 returns warnings as structured summaries: look for the text anywhere in them
    warnings = json.dumps(result["warnings"])
    assert "CPU 0 is listed in more than one NUMA node (nodes 0, 1)" in warnings


def test_node_cpulist_with_unknown_cpus(capsys, make_tree):
    """A node cpulist naming CPUs that have no cpuN directory (possible but not present) keeps online ones only."""
    machine = smt_machine(1, 1, 2)
    topo = topology_of(capsys, make_tree(machine, overrides={"devices/system/node/node0/cpulist": "0-87\n"}))
    assert topo["nodes"][0]["cpus"] == [0, 1, 2, 3]


def test_check_mode_returns_the_same_facts(capsys, make_tree):
    root = make_tree(dual_socket())
    assert topology_of(capsys, root, check_mode=True) == topology_of(capsys, root)


def test_unreadable_file_fails_naming_it(capsys, make_tree):
    root = make_tree(smt_machine(1, 2, 2), overrides={"devices/system/node/node1/cpulist": None})
    bad = os.path.join(root, "devices/system/node/node1/cpulist")
    os.makedirs(bad)  # reading a directory fails even as root (EISDIR)
    code, result = run_module(capsys, root)
    assert code == 1 and result["failed"] is True
    assert bad in result["msg"] and result["path"] == bad


@pytest.mark.parametrize("rel, text, reason", [
    ("devices/system/node/node0/cpulist", "0-3,zz\n", "malformed"),
    ("devices/system/cpu/cpu2/online", "2\n", "expected 0 or 1"),
    ("devices/system/cpu/cpu1/topology/physical_package_id", "x\n", "expected an integer"),
    ("devices/system/node/node0/distance", "10 a\n", "integers"),
    ("devices/system/node/node0/cpulist", "\xff\n", "not text"),
])
def test_malformed_file_fails_naming_it(capsys, make_tree, rel, text, reason):
    root = make_tree(smt_machine(1, 1, 2))
    with open(os.path.join(root, rel), "w", encoding="latin-1") as handle:
        handle.write(text)
    code, result = run_module(capsys, root)
    assert code == 1
    assert os.path.join(root, rel) in result["msg"] and reason in result["msg"]


def test_node_without_cpulist_or_cpumap_fails(capsys, make_tree):
    root = make_tree(smt_machine(1, 1, 2), overrides={"devices/system/node/node0/cpulist": None,
                                                      "devices/system/node/node0/cpumap": None})
    code, result = run_module(capsys, root)
    assert code == 1 and "node0/cpulist" in result["msg"]


def test_not_a_sysfs_tree_fails(capsys, tmp_path):
    code, result = run_module(capsys, str(tmp_path))
    assert code == 1
    assert str(tmp_path / "devices/system/cpu") in result["msg"]


def test_machine_description_is_consistent():
    """Guard for the fixture builder itself: every CPU in exactly one core and one package."""
    for machine in (dual_socket(), snc2(), epyc_nps4(), cxl(), many_nodes()):
        flat = [c for core in machine.cores for c in core]
        assert len(flat) == len(set(flat))
        assert sorted(c for cpus in machine.packages.values() for c in cpus) == sorted(flat)
        assert isinstance(machine, Machine)
