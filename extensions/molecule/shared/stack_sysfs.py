"""Write a small simulated sysfs tree (a fixture for `numa_facts_sysfs_root`).

Used by the whole-stack Molecule scenarios' prepare.yml and by `make demo` when the machine has a
single NUMA node: it lets one real CPU per simulated node be planned as its own instance.

    python3 stack_sysfs.py DEST --node 0=0 --node 1=1 [--package 0=0 --package 1=1] [--memory-kb N]

`--node ID=CPULIST` gives the CPUs of node ID (kernel cpulist format); `--package CPU=PKG` sets a
CPU's physical_package_id (default: the node id, i.e. one socket per node); every CPU is its own core
(no SMT siblings). `--memory-kb` is the MemTotal written into each node's meminfo (default: this
machine's MemTotal split evenly). The tree is rewritten from scratch on each run (idempotent output).
Prints "changed" when anything was written differently, "ok" otherwise.
"""

import argparse
import os
import shutil
import sys
import tempfile

from ovms_testinfra import cpulist as parse_cpulist  # '0-2,5' -> [0, 1, 2, 5]


def format_cpulist(cpus):
    """[0, 1, 2, 5] -> '0-2,5' (the kernel's format)."""
    out = []
    cpus = sorted(cpus)
    i = 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else "%d-%d" % (cpus[i], cpus[j]))
        i = j + 1
    return ",".join(out)


def host_memtotal_kb():
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0


def build_tree(nodes, packages, memory_kb):
    """Return {relative path: content} of the simulated tree."""
    files = {}
    all_cpus = sorted(c for cpus in nodes.values() for c in cpus)
    ids = sorted(nodes)
    files["devices/system/node/online"] = format_cpulist(ids) + "\n"
    files["devices/system/node/possible"] = format_cpulist(ids) + "\n"
    files["devices/system/node/has_cpu"] = format_cpulist([n for n in ids if nodes[n]]) + "\n"
    files["devices/system/node/has_memory"] = format_cpulist(ids) + "\n"
    files["devices/system/cpu/online"] = format_cpulist(all_cpus) + "\n"
    files["devices/system/cpu/possible"] = format_cpulist(all_cpus) + "\n"
    files["devices/system/cpu/present"] = format_cpulist(all_cpus) + "\n"
    for node in ids:
        base = "devices/system/node/node%d/" % node
        files[base + "cpulist"] = format_cpulist(nodes[node]) + "\n"
        files[base + "distance"] = " ".join("10" if o == node else "21" for o in ids) + "\n"
        files[base + "meminfo"] = (
            "Node %d MemTotal:       %d kB\nNode %d MemFree:        %d kB\n"
            % (node, memory_kb, node, memory_kb // 2)
        )
        for cpu in nodes[node]:
            topo = "devices/system/cpu/cpu%d/topology/" % cpu
            pkg = packages.get(cpu, node)
            same_pkg = [c for c in all_cpus if packages.get(c, _node_of(nodes, c)) == pkg]
            files[topo + "physical_package_id"] = "%d\n" % pkg
            files[topo + "core_id"] = "%d\n" % cpu
            files[topo + "thread_siblings_list"] = "%d\n" % cpu
            files[topo + "core_siblings_list"] = format_cpulist(same_pkg) + "\n"
            if cpu != 0:
                files["devices/system/cpu/cpu%d/online" % cpu] = "1\n"
    return files


def _node_of(nodes, cpu):
    for node, cpus in nodes.items():
        if cpu in cpus:
            return node
    return -1


def read_tree(root):
    found = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, encoding="ascii") as fh:
                found[os.path.relpath(path, root)] = fh.read()
    return found


def write_tree(dest, files):
    """Replace DEST with exactly FILES; return True when something changed."""
    if os.path.isdir(dest) and read_tree(dest) == files:
        return False
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".sysfs-", dir=parent)
    for rel, content in files.items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="ascii") as fh:
            fh.write(content)
    for dirpath, dirs, names in os.walk(tmp):
        os.chmod(dirpath, 0o755)
        for name in names:
            os.chmod(os.path.join(dirpath, name), 0o644)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.rename(tmp, dest)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest")
    parser.add_argument("--node", action="append", required=True, metavar="ID=CPULIST")
    parser.add_argument("--package", action="append", default=[], metavar="CPU=PKG")
    parser.add_argument("--memory-kb", type=int, default=0)
    args = parser.parse_args(argv)
    nodes = {}
    for spec in args.node:
        node, dummy, cpus = spec.partition("=")
        nodes[int(node)] = parse_cpulist(cpus)
    packages = {}
    for spec in args.package:
        cpu, dummy, pkg = spec.partition("=")
        packages[int(cpu)] = int(pkg)
    memory_kb = args.memory_kb or max(host_memtotal_kb() // max(len(nodes), 1), 1)
    changed = write_tree(args.dest, build_tree(nodes, packages, memory_kb))
    print("changed" if changed else "ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
