# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check where the kubelet put the OVMS pods, from what kubernetes.core returns.

Pure Python, no Ansible imports (the ``k8s_placement_report`` filter wraps it). Inputs:

* ``pods``: the ``resources`` of ``kubernetes.core.k8s_info`` for the OVMS pods (Pod objects);
* ``statuses``: {pod name: stdout of ``cat /proc/1/status`` run with ``kubernetes.core.k8s_exec``
  in the OVMS container} (PID 1 is OVMS: its image's entrypoint execs it);
* ``topologies``: {Kubernetes node name: ``numa_topology`` of that worker}.

For every pod: QoS class Guaranteed; ``Cpus_allowed_list`` inside the CPUs of one NUMA node of its
worker and exactly as many CPUs as its container's CPU limit; ``Mems_allowed_list`` that one node;
and no CPU shared with another OVMS pod of the same worker. Every failure names the pod and what
it got.
"""

from __future__ import annotations

from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import (
    CpuListError,
    format_cpulist,
    parse_cpulist,
)

__all__ = ["parse_proc_status", "cpu_quantity", "placement_report"]


def parse_proc_status(text):
    """``/proc/<pid>/status`` text -> {"cpus": [...], "mems": [...]} (None where a line is missing)."""
    found = {"cpus": None, "mems": None}
    for line in (text or "").splitlines():
        key, value = (line.split(":", 1) + [""])[:2]
        key = key.strip()
        try:
            if key == "Cpus_allowed_list":
                found["cpus"] = parse_cpulist(value)
            elif key == "Mems_allowed_list":
                found["mems"] = parse_cpulist(value)
        except CpuListError:
            pass  # reported as missing
    return found


def cpu_quantity(value):
    """A CPU quantity (``4``, ``"4"``, ``"4000m"``, ``"500m"``) -> float number of CPUs, None if unparsable."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        if text.endswith("m"):
            return int(text[:-1]) / 1000.0
        return float(text)
    except ValueError:
        return None


def _container(pod, name):
    containers = (pod.get("spec") or {}).get("containers") or []
    for container in containers:
        if container.get("name") == name:
            return container
    return containers[0] if containers else {}


def placement_report(pods, statuses, topologies, container="ovms"):
    """Return ``{"ok": bool, "failures": [str], "pods": [{name, node, numa_node, cpus, mems, qos}]}``."""
    failures, rows = [], []
    owners = {}  # (node name, cpu) -> pod
    if not pods:
        failures.append("no OVMS pod found: nothing was verified")
    for pod in sorted(pods or [], key=lambda p: (p.get("metadata") or {}).get("name", "")):
        name = (pod.get("metadata") or {}).get("name", "?")
        node = (pod.get("spec") or {}).get("nodeName")
        status = pod.get("status") or {}
        qos = status.get("qosClass")
        row = {"name": name, "node": node, "qos": qos, "numa_node": None, "cpus": None, "mems": None}
        rows.append(row)
        if qos != "Guaranteed":
            failures.append("pod %s: QoS class %s, not Guaranteed (every container needs requests = limits with an "
                            "integer CPU count)" % (name, qos))
        if not node:
            failures.append("pod %s: not scheduled (phase %s)" % (name, status.get("phase")))
            continue
        topology = topologies.get(node)
        if not topology:
            failures.append("pod %s: runs on node %s, which is not a worker of ovms_k8s_workers (known: %s)"
                            % (name, node, ", ".join(sorted(topologies)) or "none"))
            continue
        found = parse_proc_status(statuses.get(name))
        if found["cpus"] is None or found["mems"] is None:
            failures.append("pod %s: /proc/1/status of container %s has no Cpus_allowed_list/Mems_allowed_list "
                            "(got %r)" % (name, container, (statuses.get(name) or "")[:200]))
            continue
        cpus, mems = set(found["cpus"]), set(found["mems"])
        row.update(cpus=format_cpulist(cpus), mems=format_cpulist(mems))
        homes = [n for n in topology.get("nodes") or [] if n.get("cpus") and cpus <= set(n["cpus"])]
        if not homes:
            spans = ["%d (%s)" % (n["id"], format_cpulist(cpus & set(n["cpus"])))
                     for n in topology.get("nodes") or [] if cpus & set(n.get("cpus") or [])]
            failures.append("pod %s on %s: Cpus_allowed_list %s is not inside one NUMA node (it spans nodes %s); "
                            "the kubelet needs cpuManagerPolicy static and topologyManagerPolicy single-numa-node"
                            % (name, node, format_cpulist(cpus), ", ".join(spans) or "none"))
        else:
            home = homes[0]["id"]
            row["numa_node"] = home
            if mems != {home}:
                failures.append("pod %s on %s: Mems_allowed_list %s, not its CPUs' NUMA node %d (the kubelet needs "
                                "memoryManagerPolicy Static)" % (name, node, format_cpulist(mems) or "empty", home))
        limit = cpu_quantity(((_container(pod, container).get("resources") or {}).get("limits") or {}).get("cpu"))
        if limit is not None and len(cpus) != limit:
            failures.append("pod %s on %s: %d CPUs in Cpus_allowed_list %s, but its CPU limit is %g (exclusive CPUs "
                            "are given only by the static CPU manager)"
                            % (name, node, len(cpus), format_cpulist(cpus), limit))
        shared = {}
        for cpu in sorted(cpus):
            other = owners.get((node, cpu))
            if other:
                shared.setdefault(other, []).append(cpu)
            else:
                owners[(node, cpu)] = name
        for other, common in sorted(shared.items()):
            failures.append("pod %s on %s: shares CPUs %s with pod %s" % (name, node, format_cpulist(common), other))
    return {"ok": not failures, "failures": failures, "pods": rows}
