# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time NUMA discovery + placement planning on a large generated host.

Writes a 1024-CPU, 32-node, SMT2 sysfs tree (2 sockets x 16 nodes x 16 cores x 2 threads) in a
temporary directory, then times, over several runs, the same code the numa_facts module and the
instance_plan filter run: sysfs discovery, and planning per_node, per_socket, 4 instances per node
with reserved CPUs. Prints the median and the spread of each. Goal: discovery + planning < 0.5 s.

    source scripts/env.sh && python benchmarks/bench_planning.py [--runs 7]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))
if os.path.isdir(os.path.join(ROOT, ".venv", "collections")):
    sys.path.append(os.path.join(ROOT, ".venv", "collections"))

from sysfs_fixture import smt_machine, write_tree  # noqa: E402

from ansible_collections.numaserve.ovms.plugins.module_utils.planner import plan_instances  # noqa: E402
from ansible_collections.numaserve.ovms.plugins.module_utils.sysfs_topology import discover  # noqa: E402

GOAL = 0.5


def timed(func, runs):
    samples, result = [], None
    for dummy in range(runs):
        start = time.perf_counter()
        result = func()
        samples.append(time.perf_counter() - start)
    return samples, result


def fmt(samples):
    return "median %7.1f ms  min %7.1f ms  max %7.1f ms" % (
        statistics.median(samples) * 1000, min(samples) * 1000, max(samples) * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement (default 7)")
    args = parser.parse_args()

    machine = smt_machine(sockets=2, nodes_per_socket=16, cores_per_node=16, threads=2)
    with tempfile.TemporaryDirectory(prefix="numaserve-bench-") as tmp:
        start = time.perf_counter()
        root = write_tree(machine, os.path.join(tmp, "sys"))
        written = time.perf_counter() - start
        files = sum(len(names) for dummy, dummy2, names in os.walk(root))
        print("tree: %d CPUs, %d nodes, %d threads/core, %d files (written in %.2f s)"
              % (len(machine.cpus), len(machine.nodes), 2, files, written))

        disc, (topology, dummy) = timed(lambda: discover(root), args.runs)
        assert len(topology["online_cpus"]) == 1024 and len(topology["nodes"]) == 32
        cases = [
            ("plan per_node", dict()),
            ("plan per_socket", dict(policy="per_socket")),
            ("plan 4/node + reserved", dict(instances_per_node=4, reserved_cpus="0,256", grpc_port_base=9000)),
        ]
        print("%-28s %s" % ("discovery (numa_facts)", fmt(disc)))
        for label, options in cases:
            samples, plan = timed(lambda: plan_instances(topology, **options), args.runs)
            print("%-28s %s  (%d instances)" % (label, fmt(samples), len(plan)))
        both, dummy = timed(lambda: plan_instances(discover(root)[0]), args.runs)
        total = statistics.median(both)
        print("%-28s %s" % ("discovery + plan per_node", fmt(both)))
        print("result: discovery + planning median %.1f ms (goal < %d ms): %s"
              % (total * 1000, GOAL * 1000, "OK" if total < GOAL else "TOO SLOW"))
        return 0 if total < GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
