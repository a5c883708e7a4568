# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build fixture sysfs trees (``<root>/devices/system/{cpu,node}``) from a compact description.

Used by the unit tests, the benchmark and the docs. As a script it writes a named preset:

    python tests/unit/sysfs_fixture.py dual_socket /tmp/fixtures/dual-socket
    ansible-playbook numaserve.ovms.plan -e numa_facts_sysfs_root=/tmp/fixtures/dual-socket

A machine is a ``Machine(nodes, cores, packages, ...)``:

* ``nodes``: {node id: CPUs the node's cpulist names (offline ones included)}; a node with no CPUs
  is a CPU-less memory node;
* ``cores``: SMT sibling groups (every CPU in exactly one);
* ``packages``: {package id: CPUs};
* ``offline``: CPUs whose ``cpuN/online`` is 0 (they get no topology directory, as on real kernels).

``write_tree`` renders it the way a kernel does, with switches for the quirks real trees show
(NUL bytes, old-kernel masks only, no node directory, missing ``cpu/online``...).
"""

from __future__ import annotations

import os
import sys

PRESETS = {}


class Machine(object):
    def __init__(self, nodes, cores, packages, offline=(), memory_kb=None, distances=None):
        self.nodes = {int(k): sorted(v) for k, v in nodes.items()}
        self.cores = [sorted(c) for c in cores]
        self.packages = {int(k): sorted(v) for k, v in packages.items()}
        self.offline = set(offline)
        self.cpus = sorted(c for core in self.cores for c in core)
        self.memory_kb = memory_kb if memory_kb is not None else {n: 65843212 + n for n in self.nodes}
        if distances is None:
            ids = sorted(self.nodes)
            distances = {a: [10 if a == b else 21 for b in ids] for a in ids}
        self.distances = distances

    @property
    def online(self):
        return [c for c in self.cpus if c not in self.offline]

    def topology(self, node_dir=True):
        """The numa_topology DESIGN.md says a kernel describing this machine yields (computed here,
        independently of the module)."""
        online = set(self.online)
        if node_dir:
            nodes = []
            for node_id in sorted(self.nodes):
                cpus = [c for c in self.nodes[node_id] if c in online]
                nodes.append({"id": node_id, "cpus": cpus, "cpuset": cpulist(cpus),
                              "memory_kb": self.memory_kb[node_id],
                              "packages": sorted({self.package_of(c) for c in cpus}),
                              "distances": self.distances.get(node_id)})
        else:
            cpus = sorted(online)
            nodes = [{"id": 0, "cpus": cpus, "cpuset": cpulist(cpus), "memory_kb": None,
                      "packages": sorted({self.package_of(c) for c in cpus}), "distances": None}]
        cores = sorted([c for c in core if c in online] for core in self.cores if set(core) & online)
        packages = {}
        for cpu in sorted(online):
            packages.setdefault(self.package_of(cpu), []).append(cpu)
        return {"nodes": nodes, "online_cpus": sorted(online),
                "packages": {str(p): packages[p] for p in sorted(packages)},
                "cores": cores, "threads_per_core": max(len(c) for c in cores)}

    def package_of(self, cpu):
        for package, cpus in self.packages.items():
            if cpu in cpus:
                return package
        return -1


def cpulist(cpus):
    cpus = sorted(set(cpus))
    parts, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        parts.append(str(cpus[i]) if i == j else "%d-%d" % (cpus[i], cpus[j]))
        i = j + 1
    return ",".join(parts)


def cpumask(cpus, ncpus):
    value = 0
    for cpu in cpus:
        value |= 1 << cpu
    groups = max(1, (ncpus + 31) // 32)
    text = "%0*x" % (groups * 8, value)
    return ",".join(text[i:i + 8] for i in range(0, len(text), 8))


def write_tree(machine, root, nul=False, old_kernel=False, node_dir=True, cpu_online_file=True,
               cpu0_online_file=False, empty_files=(), overrides=None):
    """Write ``machine`` as a sysfs tree under ``root``; return ``root``.

    nul: end every value with a NUL byte after the newline (some firmware/kernels do).
    old_kernel: node ``cpumap`` and ``thread_siblings`` masks only, no ``*list`` files, no ``cpu/online``.
    node_dir: False for a kernel without NUMA (no ``devices/system/node``).
    cpu_online_file: write ``devices/system/cpu/online``.
    cpu0_online_file: write ``cpu0/online`` (real kernels usually do not).
    empty_files: relative paths to write empty.
    overrides: {relative path: text} written last, verbatim (None deletes the file).
    """
    root = str(root)
    ncpus = (max(machine.cpus) + 1) if machine.cpus else 1
    end = "\n\x00" if nul else "\n"

    def put(rel, text):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("" if rel in empty_files else text + end)

    cpu_base = "devices/system/cpu"
    if cpu_online_file and not old_kernel:
        put(cpu_base + "/online", cpulist(machine.online))
        put(cpu_base + "/possible", cpulist(machine.cpus))
        put(cpu_base + "/present", cpulist(machine.cpus))
    core_of = {c: core for core in machine.cores for c in core}
    for cpu in machine.cpus:
        base = "%s/cpu%d" % (cpu_base, cpu)
        os.makedirs(os.path.join(root, base), exist_ok=True)
        if cpu in machine.offline:
            put(base + "/online", "0")
            continue
        if cpu != 0 or cpu0_online_file:
            put(base + "/online", "1")
        siblings = core_of[cpu]
        put(base + "/topology/physical_package_id", str(machine.package_of(cpu)))
        put(base + "/topology/core_id", str(siblings[0]))
        if old_kernel:
            put(base + "/topology/thread_siblings", cpumask(siblings, ncpus))
        else:
            put(base + "/topology/thread_siblings_list", cpulist(siblings))
            put(base + "/topology/thread_siblings", cpumask(siblings, ncpus))
    if node_dir:
        for node, cpus in machine.nodes.items():
            base = "devices/system/node/node%d" % node
            if old_kernel:
                put(base + "/cpumap", cpumask(cpus, ncpus))
            else:
                put(base + "/cpulist", cpulist(cpus))
                put(base + "/cpumap", cpumask(cpus, ncpus))
            put(base + "/meminfo",
                "Node %d MemTotal:       %d kB\nNode %d MemFree:        %d kB"
                % (node, machine.memory_kb[node], node, machine.memory_kb[node] // 2))
            if machine.distances.get(node) is not None:
                put(base + "/distance", " ".join(str(d) for d in machine.distances[node]))
        put("devices/system/node/online", cpulist(machine.nodes))
        put("devices/system/node/possible", cpulist(machine.nodes))
    for rel, text in (overrides or {}).items():
        path = os.path.join(root, rel)
        if text is None:
            if os.path.exists(path):
                os.remove(path)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    return root


def smt_machine(sockets, nodes_per_socket, cores_per_node, threads=2, cpuless_nodes=0, node_ids=None,
                offline=()):
    """A Linux-numbered SMT machine: first threads of every core 0..C-1, then the siblings C..2C-1.

    dual socket, 32 cores each, SMT2 -> node0 0-31,64-95 and node1 32-63,96-127 (the OVMS demo host).
    """
    total_cores = sockets * nodes_per_socket * cores_per_node
    nodes, packages, cores = {}, {}, []
    ids = list(node_ids) if node_ids is not None else list(range(sockets * nodes_per_socket + cpuless_nodes))
    for socket in range(sockets):
        for local in range(nodes_per_socket):
            index = socket * nodes_per_socket + local
            first = index * cores_per_node
            node_cpus = []
            for core in range(first, first + cores_per_node):
                group = [core + t * total_cores for t in range(threads)]
                cores.append(group)
                node_cpus.extend(group)
            nodes[ids[index]] = node_cpus
            packages.setdefault(socket, []).extend(node_cpus)
    for extra in range(cpuless_nodes):
        nodes[ids[sockets * nodes_per_socket + extra]] = []
    return Machine(nodes, cores, packages, offline=offline)


def _preset(name):
    def register(func):
        PRESETS[name] = func
        return func
    return register


@_preset("dual_socket")
def dual_socket():
    """The OVMS demo host: 2 sockets x 32 cores x SMT2, node0 0-31,64-95, node1 32-63,96-127."""
    return smt_machine(2, 1, 32)


@_preset("snc2")
def snc2():
    """Dual-socket Xeon with SNC-2: 4 nodes, 2 per socket, 16 cores per node, SMT2."""
    return smt_machine(2, 2, 16)


@_preset("epyc_nps4")
def epyc_nps4():
    """Dual AMD EPYC with NPS4: 8 nodes, 4 per socket, 8 cores per node, SMT2."""
    return smt_machine(2, 4, 8)


@_preset("cxl")
def cxl():
    """Dual socket, 8 cores per node, SMT2, plus a CPU-less CXL memory node 2."""
    return smt_machine(2, 1, 8, cpuless_nodes=1)


@_preset("single")
def single():
    """One node, 4 cores, SMT2 (0-3,4-7): a small laptop-like host."""
    return smt_machine(1, 1, 4)


@_preset("many_nodes")
def many_nodes():
    """12 nodes (node1 vs node10 trap), 2 cores per node, no SMT."""
    return smt_machine(1, 12, 2, threads=1)


def main(argv):
    if len(argv) != 3 or argv[1] not in PRESETS:
        sys.stderr.write("usage: %s {%s} DIR\n" % (argv[0], ",".join(sorted(PRESETS))))
        return 2
    write_tree(PRESETS[argv[1]](), argv[2])
    print(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
