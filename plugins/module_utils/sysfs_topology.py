# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read the NUMA/CPU topology of a Linux host from sysfs (``/sys`` or a fixture tree).

Pure Python, no Ansible imports. ``discover(sysfs_root)`` returns ``(numa_topology, warnings)`` in
the shape DESIGN.md fixes, or raises TopologyError naming the file it could not use.

What real kernels write, and how it is handled:

* values end with newlines and sometimes NUL bytes; some files are empty -> stripped, empty = no value;
* ``cpuN/online`` is often absent for CPU 0 -> a CPU without that file is online;
* old kernels have ``nodeN/cpumap`` / ``thread_siblings`` (hex masks) instead of the ``*list`` files;
* node ids may be sparse or out of CPU order -> nodes are sorted numerically (node10 after node9);
* ``physical_package_id`` may be -1 or large -> kept as reported (-1 also when the file is absent);
* node cpulists may name offline CPUs -> only online CPUs are reported;
* CPU-less (CXL/HBM/GPU memory) nodes -> reported with ``cpus: []``;
* no ``node`` directory (kernel without NUMA) -> one node 0 holding every online CPU;
* firmware listing a CPU in two nodes -> reported as sysfs says, plus a warning.
"""

from __future__ import annotations

import errno
import os
import re

from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import (
    CpuListError,
    clean,
    format_cpulist,
    parse_cpulist,
    parse_cpumask,
)

__all__ = ["TopologyError", "discover"]

_CPU_DIR = re.compile(r"^cpu([0-9]+)$")
_NODE_DIR = re.compile(r"^node([0-9]+)$")
_MEMTOTAL = re.compile(r"MemTotal:\s*([0-9]+)\s*kB")


class TopologyError(Exception):
    """The sysfs tree cannot be used; ``path`` names the file or directory at fault."""

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super().__init__("%s: %s" % (path, reason))


def _read(path):
    """Text of a sysfs file, or None when it does not exist. Other errors raise TopologyError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise TopologyError(path, "cannot read it (%s)" % (exc.strerror or exc))
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise TopologyError(path, "is not text (unexpected binary content)")


def _parse(path, text, parser):
    try:
        return parser(text)
    except CpuListError as exc:
        raise TopologyError(path, str(exc))


def _numbered_dirs(directory, pattern):
    """{number: path} of the subdirectories of ``directory`` named like ``pattern``."""
    try:
        names = os.listdir(directory)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise TopologyError(directory, "cannot list it (%s)" % (exc.strerror or exc))
    found = {}
    for name in names:
        match = pattern.match(name)
        if match:
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                found[int(match.group(1))] = path
    return found


def _int_value(path, text):
    value = clean(text)
    try:
        return int(value)
    except ValueError:
        raise TopologyError(path, "expected an integer, found %r" % value)


def _online_cpus(cpu_dir, cpu_dirs):
    online_path = os.path.join(cpu_dir, "online")
    text = _read(online_path)
    if text is not None and clean(text):
        online = set(_parse(online_path, text, parse_cpulist))
    else:
        # No cpu/online (old kernels, some dumps): every cpuN directory is a candidate.
        online = set(cpu_dirs)
    for cpu, path in cpu_dirs.items():
        flag_path = os.path.join(path, "online")
        flag = _read(flag_path)
        if flag is None:
            continue  # absent (CPU 0 usually): online
        value = clean(flag)
        if value == "0":
            online.discard(cpu)
        elif value not in ("1", ""):
            raise TopologyError(flag_path, "expected 0 or 1, found %r" % value)
    return online


def _cpu_details(cpu_dirs, online):
    """{cpu: package id} and {cpu: set of online SMT siblings incl. itself} for online CPUs."""
    packages = {}
    siblings = {}
    for cpu in sorted(online):
        topo = os.path.join(cpu_dirs[cpu], "topology") if cpu in cpu_dirs else None
        package = -1
        group = {cpu}
        if topo is not None:
            pkg_path = os.path.join(topo, "physical_package_id")
            text = _read(pkg_path)
            if text is not None and clean(text):
                package = _int_value(pkg_path, text)
            for name, parser in (("thread_siblings_list", parse_cpulist), ("thread_siblings", parse_cpumask)):
                path = os.path.join(topo, name)
                text = _read(path)
                if text is not None and clean(text):
                    group.update(c for c in _parse(path, text, parser) if c in online)
                    break
        packages[cpu] = package
        siblings[cpu] = group
    return packages, siblings


def _cores(siblings):
    """Partition online CPUs into SMT sibling groups (union of overlapping sibling sets)."""
    parent = {}

    def find(cpu):
        root = cpu
        while parent[root] != root:
            root = parent[root]
        while parent[cpu] != root:
            parent[cpu], cpu = root, parent[cpu]
        return root

    for cpu in siblings:
        parent[cpu] = cpu
    for cpu, group in siblings.items():
        for other in group:
            if other in parent:
                a, b = find(cpu), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups = {}
    for cpu in sorted(siblings):
        groups.setdefault(find(cpu), []).append(cpu)
    return sorted(groups.values())


def _node(node_id, path, online, packages):
    cpulist_path = os.path.join(path, "cpulist")
    text = _read(cpulist_path)
    if text is not None:
        listed = _parse(cpulist_path, text, parse_cpulist)
    else:
        cpumap_path = os.path.join(path, "cpumap")
        text = _read(cpumap_path)
        if text is None:
            raise TopologyError(cpulist_path, "missing, and no cpumap either: cannot tell the CPUs of node%d" % node_id)
        listed = _parse(cpumap_path, text, parse_cpumask)
    cpus = [c for c in listed if c in online]

    memory_kb = None
    meminfo_path = os.path.join(path, "meminfo")
    text = _read(meminfo_path)
    if text is not None:
        match = _MEMTOTAL.search(text)
        if match:
            memory_kb = int(match.group(1))

    distances = None
    distance_path = os.path.join(path, "distance")
    text = _read(distance_path)
    if text is not None and clean(text):
        try:
            distances = [int(v) for v in clean(text).split()]
        except ValueError:
            raise TopologyError(distance_path, "expected integers separated by spaces, found %r" % clean(text))

    return {
        "id": node_id,
        "cpus": cpus,
        "cpuset": format_cpulist(cpus),
        "memory_kb": memory_kb,
        "packages": sorted({packages[c] for c in cpus}),
        "distances": distances,
    }


def discover(sysfs_root="/sys"):
    """Return ``(numa_topology, warnings)`` for the sysfs tree at ``sysfs_root``."""
    cpu_dir = os.path.join(sysfs_root, "devices", "system", "cpu")
    node_dir = os.path.join(sysfs_root, "devices", "system", "node")
    warnings = []

    cpu_dirs = _numbered_dirs(cpu_dir, _CPU_DIR)
    if cpu_dirs is None:
        raise TopologyError(cpu_dir, "no such directory (is sysfs_root a sysfs tree?)")
    online = _online_cpus(cpu_dir, cpu_dirs)
    if not online:
        raise TopologyError(cpu_dir, "no online CPU found (neither cpu/online nor cpuN directories)")
    packages, siblings = _cpu_details(cpu_dirs, online)
    online_cpus = sorted(online)

    node_dirs = _numbered_dirs(node_dir, _NODE_DIR)
    if not node_dirs:
        nodes = [{
            "id": 0,
            "cpus": online_cpus,
            "cpuset": format_cpulist(online_cpus),
            "memory_kb": None,
            "packages": sorted(set(packages.values())),
            "distances": None,
        }]
    else:
        nodes = [_node(node_id, node_dirs[node_id], online, packages) for node_id in sorted(node_dirs)]
        owners = {}
        for node in nodes:
            for cpu in node["cpus"]:
                owners.setdefault(cpu, []).append(node["id"])
        shared = {cpu: ids for cpu, ids in owners.items() if len(ids) > 1}
        for cpu in sorted(shared):
            warnings.append(
                "CPU %d is listed in more than one NUMA node (nodes %s) by %s: reported as sysfs says; "
                "per-node placement of those nodes needs reserved_cpus or an explicit instance list"
                % (cpu, ", ".join(str(i) for i in shared[cpu]), node_dir)
            )
        orphans = sorted(online - set(owners))
        if orphans:
            warnings.append("online CPUs %s belong to no NUMA node in %s: they are in online_cpus only"
                            % (format_cpulist(orphans), node_dir))

    by_package = {}
    for cpu in online_cpus:
        by_package.setdefault(packages[cpu], []).append(cpu)
    cores = _cores(siblings)
    topology = {
        "nodes": nodes,
        "online_cpus": online_cpus,
        "packages": dict((str(pkg), by_package[pkg]) for pkg in sorted(by_package)),
        "cores": cores,
        "threads_per_core": max(len(core) for core in cores),
    }
    return topology, warnings
