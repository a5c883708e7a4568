# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""numa_facts against real sysfs trees: every $NUMASERVE_SHARED/numa-samples/*/ with its expected.json.

The samples (hwloc and util-linux regression data) are not part of the project; this test skips
when they are absent. See numa-samples/README.md for the fields of expected.json.
"""

import glob
import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.numaserve.ovms.plugins.module_utils.planner import plan_instances
from ansible_collections.numaserve.ovms.plugins.modules import numa_facts

SHARED = os.environ.get("NUMASERVE_SHARED", "/work/shared")
SAMPLES = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(SHARED, "numa-samples", "*", "expected.json")))


@pytest.fixture(params=SAMPLES or [None], ids=[os.path.basename(s) for s in SAMPLES] or ["absent"])
def sample(request):
    if request.param is None:
        pytest.skip("no numa samples under %s/numa-samples (set NUMASERVE_SHARED)" % SHARED)
    with open(os.path.join(request.param, "expected.json")) as handle:
        return request.param, json.load(handle)


def run(capsys, sysfs_root):
    with patch_module_args({"sysfs_root": sysfs_root}):
        with pytest.raises(SystemExit) as exc:
            numa_facts.main()
    result = json.loads(capsys.readouterr().out)
    assert exc.value.code == 0, result
    return result


def test_sample_matches_expected(capsys, sample):
    path, expected = sample
    result = run(capsys, os.path.join(path, "sysfs"))
    topo = result["ansible_facts"]["numa_topology"]
    nodes = {str(n["id"]): n for n in topo["nodes"]}

    assert sorted(nodes, key=int) == sorted(expected["nodes"], key=int)
    assert [n["id"] for n in topo["nodes"]] == sorted(int(i) for i in expected["nodes"])
    for node_id, want in expected["nodes"].items():
        assert nodes[node_id]["cpus"] == want["cpus"], "node %s" % node_id
        assert nodes[node_id]["memory_kb"] == want["memory_kb"], "node %s" % node_id
        assert nodes[node_id]["packages"] == want["packages"], "node %s" % node_id
        assert nodes[node_id]["distances"] == expected.get("distances", {}).get(node_id), "node %s" % node_id
    assert topo["online_cpus"] == expected["online_cpus"]
    assert topo["packages"] == expected["packages"]
    assert topo["threads_per_core"] == expected["threads_per_core"]
    assert sorted(c for core in topo["cores"] for c in core) == expected["online_cpus"]
    warned = json.dumps(result.get("warnings", []))
    for cpu in expected.get("cpus_in_multiple_nodes") or []:
        assert "CPU %s is listed in more than one NUMA node" % (cpu if not isinstance(cpu, dict) else cpu.get("cpu")) in warned


def test_sample_plans_per_node(capsys, sample):
    """The default plan of every real topology: one instance per node with CPUs, all CPUs placed once."""
    path, expected = sample
    topo = run(capsys, os.path.join(path, "sysfs"))["ansible_facts"]["numa_topology"]
    plan = plan_instances(topo)
    with_cpus = sorted(int(i) for i, n in expected["nodes"].items() if n["cpus"])
    assert [i["nodes"] for i in plan] == [[n] for n in with_cpus]
    placed = sorted(c for i in plan for c in _expand(i["cpuset_cpus"]))
    assert placed == sorted(c for n in expected["nodes"].values() for c in n["cpus"])


def _expand(cpuset):
    out = []
    for part in filter(None, cpuset.split(",")):
        a, dummy, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out
