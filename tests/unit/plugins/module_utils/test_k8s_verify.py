# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s_verify on k8s_info/k8s_exec outputs of good and bad placements (k8s_recorded/*.json)."""

import json
import os

import sysfs_fixture
from ansible_collections.numaserve.ovms.plugins.module_utils.k8s_verify import (
    cpu_quantity,
    parse_proc_status,
    placement_report,
)

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "k8s_recorded")
TOPOLOGIES = {"k8s-w1": sysfs_fixture.dual_socket().topology(), "k8s-w2": sysfs_fixture.dual_socket().topology()}


def report(name, **changes):
    with open(os.path.join(HERE, name)) as handle:
        recorded = json.load(handle)
    statuses = {pod: result["stdout"] for pod, result in recorded["k8s_exec"].items()}
    statuses.update(changes)
    return placement_report(recorded["k8s_info"]["resources"], statuses, TOPOLOGIES)


def test_good_placement_passes():
    result = report("good_placement.json")
    assert result["ok"], result["failures"]
    assert [(p["name"], p["node"], p["numa_node"], p["cpus"], p["mems"]) for p in result["pods"]] == [
        ("ovms-c62-0", "k8s-w1", 0, "1-31,65-95", "0"), ("ovms-c62-1", "k8s-w1", 1, "33-63,97-127", "1"),
        ("ovms-c62-2", "k8s-w2", 1, "33-63,97-127", "1"), ("ovms-c62-3", "k8s-w2", 0, "1-31,65-95", "0")]


def test_bad_placement_names_each_pod_and_what_it_got():
    result = report("bad_placement.json")
    assert not result["ok"]
    failures = result["failures"]
    expected = [
        "pod ovms-c62-1: QoS class Burstable, not Guaranteed",
        "pod ovms-c62-1 on k8s-w1: shares CPUs 1-31,65-95 with pod ovms-c62-0",
        "pod ovms-c62-2 on k8s-w2: Cpus_allowed_list 1-31,33-63,65-95,97-127 is not inside one NUMA node "
        "(it spans nodes 0 (1-31,65-95), 1 (33-63,97-127))",
        "pod ovms-c62-2 on k8s-w2: 124 CPUs in Cpus_allowed_list 1-31,33-63,65-95,97-127, but its CPU limit is 62",
        "pod ovms-c62-3 on k8s-w2: shares CPUs 1-31,65-95 with pod ovms-c62-2",
        "pod ovms-c62-4: not scheduled (phase Pending)",
    ]
    for text in expected:
        assert any(f.startswith(text) for f in failures), (text, failures)
    assert len(failures) == len(expected), failures


def test_memory_of_another_node_and_unknown_workers_fail():
    status = "Cpus_allowed_list:\t1-31,65-95\nMems_allowed_list:\t0-1\n"
    result = report("good_placement.json", **{"ovms-c62-0": status})
    assert result["failures"] == ["pod ovms-c62-0 on k8s-w1: Mems_allowed_list 0-1, not its CPUs' NUMA node 0 "
                                  "(the kubelet needs memoryManagerPolicy Static)"]
    with open(os.path.join(HERE, "good_placement.json")) as handle:
        pods = json.load(handle)["k8s_info"]["resources"]
    result = placement_report(pods, {}, {"k8s-w1": TOPOLOGIES["k8s-w1"]})
    assert any("runs on node k8s-w2, which is not a worker of ovms_k8s_workers" in f for f in result["failures"])
    assert any("ovms-c62-0: /proc/1/status of container ovms has no Cpus_allowed_list" in f for f in result["failures"])
    assert placement_report([], {}, TOPOLOGIES)["failures"] == ["no OVMS pod found: nothing was verified"]


def test_parsers():
    assert parse_proc_status("Cpus_allowed_list:\t0-1,4\nMems_allowed_list:\t1\n") == {"cpus": [0, 1, 4], "mems": [1]}
    assert parse_proc_status("garbage") == {"cpus": None, "mems": None}
    assert cpu_quantity("62") == 62 and cpu_quantity("500m") == 0.5 and cpu_quantity(4) == 4 and cpu_quantity("x") is None
