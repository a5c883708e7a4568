# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes sizing: ``numa_topology`` of a worker -> its kubelet reservation, and the workers'
reservations -> the OVMS pods of the cluster.

Pure Python, no Ansible imports (the ``k8s_node_reservation`` and ``k8s_cluster_plan`` filters wrap it).

Per worker (``node_reservation``):

* ``reservedSystemCPUs`` are whole cores, taken from every NUMA node that has CPUs so that each such
  node keeps the same number of whole cores (the kubelet's static CPU manager never gives a reserved
  CPU to a Guaranteed container);
* ``reservedMemory`` is spread over those nodes and sums exactly to kube-reserved + system-reserved
  + the hard eviction threshold ``memory.available`` (the kubelet refuses to start otherwise);
* a pod gets the CPUs one NUMA node keeps (a multiple of the threads per core, as
  ``full-pcpus-only`` demands) and the memory one NUMA node keeps.

Per cluster (``cluster_plan``): workers whose pods have the same CPU count form a size class (one
StatefulSet each); a class's pod memory is the smallest of its workers', rounded down. A pod of a
class fits one NUMA node of every worker of the class and one more pod than the worker has NUMA nodes
never fits the worker's allocatable CPUs, so the default scheduler cannot over-pack a worker and the
Topology Manager has no pod to reject.
"""

from __future__ import annotations

import re

from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import format_cpulist

__all__ = ["SizingError", "parse_quantity", "format_quantity", "node_reservation", "kubelet_config",
           "cluster_plan", "KUBELET_POLICIES", "EVICTION_HARD_DEFAULTS"]

# What the drop-in sets; tests and docs read these.
KUBELET_POLICIES = {
    "cpuManagerPolicy": "static",
    "cpuManagerPolicyOptions": {"full-pcpus-only": "true"},
    "topologyManagerPolicy": "single-numa-node",
    "topologyManagerScope": "pod",
    "memoryManagerPolicy": "Static",
}
# The kubelet's evictionHard defaults (KubeletConfiguration v1beta1). Setting one signal without
# mergeDefaultEvictionSettings zeroes the others, so the drop-in writes all of them.
EVICTION_HARD_DEFAULTS = {"memory.available": "100Mi", "nodefs.available": "10%",
                          "nodefs.inodesFree": "5%", "imagefs.available": "15%"}

_QUANTITY = re.compile(r"^([0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_FACTORS = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50,
            "Ei": 1 << 60, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15,
            "E": 10 ** 18}
_BINARY = (("Ei", 1 << 60), ("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10))


class SizingError(ValueError):
    """The request cannot be sized; the message names the variable to change."""


def parse_quantity(value, what):
    """A Kubernetes memory quantity (``"512Mi"``, ``"1Gi"``, ``"100M"``, bytes as int) -> bytes."""
    if isinstance(value, bool):
        raise SizingError("%s must be a memory quantity such as \"1Gi\" or \"512Mi\", got %r" % (what, value))
    if isinstance(value, int):
        if value < 0:
            raise SizingError("%s must not be negative, got %d" % (what, value))
        return value
    match = _QUANTITY.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise SizingError("%s must be a memory quantity such as \"1Gi\" or \"512Mi\" (an integer with an "
                          "optional Ki/Mi/Gi/Ti or k/M/G/T suffix), got %r" % (what, value))
    return int(match.group(1)) * _FACTORS[match.group(2)]


def format_quantity(size):
    """Bytes -> the largest binary unit that divides them exactly (``1178599424`` -> ``"1124Mi"``)."""
    for suffix, factor in _BINARY:
        if size and size % factor == 0:
            return "%d%s" % (size // factor, suffix)
    return str(size)


def _int_option(value, what, minimum):
    if isinstance(value, str) and re.match(r"^[0-9]+$", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SizingError("%s must be an integer >= %d, got %r" % (what, minimum, value))
    return value


def _cores_by_node(topology, host):
    nodes = topology.get("nodes") if isinstance(topology, dict) else None
    if not isinstance(nodes, list) or not nodes:
        raise SizingError("%s: numa_topology is missing or has no nodes; run numaserve.ovms.numa_facts on the "
                          "worker (or give numa_facts_topology)" % host)
    core_of = {}
    for core in topology.get("cores") or []:
        group = tuple(sorted(int(c) for c in core))
        for cpu in group:
            core_of[cpu] = group
    result = {}
    for node in nodes:
        cpus = set(int(c) for c in node.get("cpus") or [])
        if not cpus:
            continue  # a CPU-less memory node: no pod, no reservation
        cores = sorted(set(core_of.get(cpu, (cpu,)) for cpu in cpus))
        split = [core for core in cores if not set(core) <= cpus]
        if split:
            raise SizingError("%s: core %s has SMT siblings in two NUMA nodes; the kubelet cannot give such a "
                              "host single-node pods" % (host, format_cpulist(split[0])))
        result[int(node["id"])] = {"cores": cores, "memory_kb": node.get("memory_kb")}
    if not result:
        raise SizingError("%s: no NUMA node has an online CPU" % host)
    return result


def node_reservation(topology, reserved_cores_per_node=1, kube_reserved_memory="1Gi",
                     system_reserved_memory="1Gi", eviction_hard_memory="100Mi", host="this worker",
                     option_prefix="k8s_node_"):
    """The kubelet reservation and per-NUMA-node allocatable resources of one worker.

    Returns a dict: ``threads_per_core``, ``numa_nodes`` (ids with CPUs), ``reserved_system_cpus``
    (canonical cpulist), ``reserved_cpus_count``, ``allocatable_cpus`` (the node's, for the scheduler),
    ``numa_allocatable_cpus`` {id: n}, ``pod_cpus``, ``reserved_memory`` (the kubelet's list),
    ``reserved_memory_total``, ``numa_allocatable_memory`` {id: bytes}, ``pod_memory_bytes``,
    ``kube_reserved_memory``, ``system_reserved_memory``, ``eviction_hard_memory`` (canonical quantities).
    """
    opt = option_prefix
    per_node = _int_option(reserved_cores_per_node, opt + "reserved_cores_per_node", 1)
    kube = parse_quantity(kube_reserved_memory, opt + "kube_reserved_memory")
    system = parse_quantity(system_reserved_memory, opt + "system_reserved_memory")
    eviction = parse_quantity(eviction_hard_memory, opt + "eviction_hard_memory")
    total = kube + system + eviction
    if total == 0:
        raise SizingError("%skube_reserved_memory + %ssystem_reserved_memory + %seviction_hard_memory is 0: the "
                          "Static memory manager needs a reservation; set at least one of them" % (opt, opt, opt))
    nodes = _cores_by_node(topology, host)
    tpc = int(topology.get("threads_per_core") or max(len(c) for n in nodes.values() for c in n["cores"]))

    # Every node keeps as many whole cores as the smallest node keeps after its own reservation.
    keep = min(len(n["cores"]) for n in nodes.values()) - per_node
    if keep < 1:
        smallest = min(nodes, key=lambda i: len(nodes[i]["cores"]))
        raise SizingError("%s: %sreserved_cores_per_node=%d leaves NUMA node %d (%d cores) without a core for "
                          "pods; set it to at most %d" % (host, opt, per_node, smallest,
                                                          len(nodes[smallest]["cores"]),
                                                          len(nodes[smallest]["cores"]) - 1))
    reserved, numa_cpus = set(), {}
    for node_id, node in sorted(nodes.items()):
        # Reserve cores with missing (offline) siblings first, then the lowest-numbered ones.
        order = sorted(node["cores"], key=lambda core: (len(core) == tpc, core))
        count = len(order) - keep
        for core in order[:count]:
            reserved.update(core)
        numa_cpus[node_id] = sum(len(core) for core in order[count:])
    pod_cpus = (min(numa_cpus.values()) // tpc) * tpc
    if pod_cpus < tpc:
        raise SizingError("%s: after the reservation no NUMA node keeps a whole core of %d threads; lower "
                          "%sreserved_cores_per_node" % (host, tpc, opt))

    missing = [i for i, n in sorted(nodes.items()) if not n["memory_kb"]]
    if missing:
        raise SizingError("%s: the memory of NUMA node %d is unknown (no MemTotal in node%d/meminfo); the memory "
                          "manager cannot be sized without it" % (host, missing[0], missing[0]))
    ids = sorted(nodes)
    # Spread the reservation in whole MiB where possible, so the quantities stay readable.
    unit = (1 << 20) if total % (1 << 20) == 0 else 1
    share, extra = divmod(total // unit, len(ids))
    reserved_memory, numa_memory = [], {}
    for index, node_id in enumerate(ids):
        amount = (share + (1 if index < extra else 0)) * unit
        node_bytes = int(nodes[node_id]["memory_kb"]) * 1024
        if amount >= node_bytes:
            raise SizingError("%s: the memory reservation (%s on NUMA node %d) is larger than the node (%s); lower "
                              "%skube_reserved_memory/%ssystem_reserved_memory"
                              % (host, format_quantity(amount), node_id, format_quantity(node_bytes), opt, opt))
        if amount:
            reserved_memory.append({"numaNode": node_id, "limits": {"memory": format_quantity(amount)}})
        numa_memory[node_id] = node_bytes - amount
    online = set(int(c) for c in topology.get("online_cpus") or [])
    for node in nodes.values():
        online.update(c for core in node["cores"] for c in core)
    return {
        "host": host,
        "threads_per_core": tpc,
        "numa_nodes": ids,
        "reserved_system_cpus": format_cpulist(reserved),
        "reserved_cpus_count": len(reserved),
        "allocatable_cpus": len(online) - len(reserved),
        "numa_allocatable_cpus": numa_cpus,
        "pod_cpus": pod_cpus,
        "reserved_memory": reserved_memory,
        "reserved_memory_total": format_quantity(total),
        "numa_allocatable_memory": numa_memory,
        "pod_memory_bytes": min(numa_memory.values()),
        "kube_reserved_memory": format_quantity(kube) if kube else "0",
        "system_reserved_memory": format_quantity(system) if system else "0",
        "eviction_hard_memory": format_quantity(eviction) if eviction else "0",
    }


def kubelet_config(reservation):
    """The KubeletConfiguration drop-in (a dict) for a worker's ``node_reservation``."""
    config = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration"}
    config.update({k: (dict(v) if isinstance(v, dict) else v) for k, v in KUBELET_POLICIES.items()})
    config["reservedSystemCPUs"] = reservation["reserved_system_cpus"]
    config["kubeReserved"] = {"memory": reservation["kube_reserved_memory"]}
    config["systemReserved"] = {"memory": reservation["system_reserved_memory"]}
    config["evictionHard"] = dict(EVICTION_HARD_DEFAULTS, **{"memory.available": reservation["eviction_hard_memory"]})
    config["reservedMemory"] = [{"numaNode": r["numaNode"], "limits": dict(r["limits"])}
                                for r in reservation["reserved_memory"]]
    return config


def cluster_plan(reservations, name="ovms", cpu_headroom_cores=0, memory_granularity="1Gi",
                 option_prefix="k8s_manifests_"):
    """Size classes and pods for the workers.

    ``reservations``: list of ``{"host", "node_name", "reservation"}`` (the reservation of
    ``node_reservation``), in inventory order. Returns ``{"classes": [...], "workers": [...]}``:
    a class is ``{name, size, cpus, memory, memory_bytes, replicas, max_skew, workers (node names),
    hosts}``; a worker is ``{host, node_name, class, pods, cpus, memory, numa_nodes, allocatable_cpus}``.
    """
    opt = option_prefix
    headroom = _int_option(cpu_headroom_cores, opt + "cpu_headroom_cores", 0)
    granularity = parse_quantity(memory_granularity, opt + "memory_granularity")
    if granularity < 1:
        raise SizingError("%smemory_granularity must be at least 1 byte" % opt)
    if not isinstance(name, str) or not re.match(r"^[a-z]([a-z0-9-]{0,40}[a-z0-9])?$", name):
        raise SizingError("%sname must be a DNS label of at most 42 characters (a-z, 0-9, '-'), got %r" % (opt, name))
    if not reservations:
        raise SizingError("no worker to size: put the Kubernetes worker nodes in the inventory group "
                          "ovms_k8s_workers")
    classes, seen_names = {}, {}
    for worker in reservations:
        res = worker["reservation"]
        node_name = worker.get("node_name") or worker["host"]
        if node_name in seen_names:
            raise SizingError("workers %s and %s have the same Kubernetes node name %s; set k8s_node_name"
                              % (seen_names[node_name], worker["host"], node_name))
        seen_names[node_name] = worker["host"]
        cpus = res["pod_cpus"] - headroom * res["threads_per_core"]
        if cpus < res["threads_per_core"]:
            raise SizingError("%s: %scpu_headroom_cores=%d leaves its pods no whole core (a NUMA node keeps %d CPUs)"
                              % (worker["host"], opt, headroom, res["pod_cpus"]))
        numa = len(res["numa_nodes"])
        if (numa + 1) * cpus <= res["allocatable_cpus"]:
            raise SizingError("%s: pods of %d CPUs would let the scheduler put %d pods on a worker with %d NUMA nodes "
                              "(%d allocatable CPUs); lower %scpu_headroom_cores"
                              % (worker["host"], cpus, numa + 1, numa, res["allocatable_cpus"], opt))
        size = "c%d" % cpus
        entry = classes.setdefault(size, {"size": size, "cpus": cpus, "memory_bytes": None, "replicas": 0,
                                          "numa_counts": [], "workers": [], "hosts": []})
        entry["memory_bytes"] = min(x for x in (entry["memory_bytes"], res["pod_memory_bytes"]) if x is not None)
        entry["replicas"] += numa
        entry["numa_counts"].append(numa)
        entry["workers"].append(node_name)
        entry["hosts"].append(worker["host"])
    result = {"classes": [], "workers": []}
    for size in sorted(classes, key=lambda s: -classes[s]["cpus"]):
        entry = classes[size]
        memory = (entry["memory_bytes"] // granularity) * granularity
        if memory < granularity:
            raise SizingError("workers %s: a NUMA node keeps less memory than %smemory_granularity (%s)"
                              % (", ".join(entry["hosts"]), opt, format_quantity(granularity)))
        counts = entry.pop("numa_counts")
        entry.update(name="%s-%s" % (name, size), memory=format_quantity(memory), memory_bytes=memory,
                     # With DoNotSchedule, a worker with more NUMA nodes than another of its class must be
                     # able to hold that many more pods.
                     max_skew=max(1, max(counts) - min(counts)))
        result["classes"].append(entry)
    by_host = {h: c for c in result["classes"] for h in c["hosts"]}
    for worker in reservations:
        res, cls = worker["reservation"], by_host[worker["host"]]
        result["workers"].append({"host": worker["host"], "node_name": worker.get("node_name") or worker["host"],
                                  "class": cls["name"], "size": cls["size"], "pods": len(res["numa_nodes"]),
                                  "cpus": cls["cpus"], "memory": cls["memory"], "numa_nodes": res["numa_nodes"],
                                  "allocatable_cpus": res["allocatable_cpus"],
                                  "reserved_system_cpus": res["reserved_system_cpus"]})
    return result
