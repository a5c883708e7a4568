# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters numaserve.ovms.k8s_node_reservation, k8s_kubelet_config, k8s_cluster_plan, k8s_ovms_args,
k8s_placement_report and k8s_plan_line.

Documentation: the .yml files of the same names next to this file. The logic lives in
plugins/module_utils (k8s_sizing, k8s_ovms, k8s_verify).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.module_utils.k8s_ovms import OvmsArgsError, ovms_args
from ansible_collections.numaserve.ovms.plugins.module_utils.k8s_sizing import (
    SizingError,
    cluster_plan,
    kubelet_config,
    node_reservation,
)
from ansible_collections.numaserve.ovms.plugins.module_utils.k8s_verify import placement_report


def k8s_node_reservation(topology, reserved_cores_per_node=1, kube_reserved_memory="1Gi",
                         system_reserved_memory="1Gi", eviction_hard_memory="100Mi", host="this worker"):
    """numa_topology -> the kubelet reservation and per-NUMA-node allocatable resources of a worker."""
    try:
        return node_reservation(topology, reserved_cores_per_node, kube_reserved_memory, system_reserved_memory,
                                eviction_hard_memory, host=host)
    except SizingError as exc:
        raise AnsibleFilterError("numaserve.ovms.k8s_node_reservation: %s" % exc)


def k8s_kubelet_config(reservation):
    """A worker's reservation -> its KubeletConfiguration drop-in (a dict)."""
    try:
        return kubelet_config(reservation)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("numaserve.ovms.k8s_kubelet_config expects the output of "
                                 "numaserve.ovms.k8s_node_reservation (missing %s)" % exc)


def k8s_cluster_plan(reservations, name="ovms", cpu_headroom_cores=0, memory_granularity="1Gi"):
    """[[k8s_node_reservation, inventory host], ...] -> size classes and pods of the cluster."""
    workers = []
    for item in reservations or []:
        if isinstance(item, dict):
            reservation, host = item, item.get("host")
        else:
            reservation, host = item[0], item[1]
        if not isinstance(reservation, dict) or "pod_cpus" not in reservation:
            raise AnsibleFilterError("numaserve.ovms.k8s_cluster_plan: worker %s has no k8s_node_reservation; run role "
                                     "numaserve.ovms.k8s_node (tasks_from: plan) on it after numaserve.ovms.numa_facts "
                                     "(playbook numaserve.ovms.k8s_render does)" % host)
        workers.append({"host": host, "node_name": reservation.get("node_name") or host, "reservation": reservation})
    try:
        return cluster_plan(workers, name=name, cpu_headroom_cores=cpu_headroom_cores,
                            memory_granularity=memory_granularity)
    except SizingError as exc:
        raise AnsibleFilterError("numaserve.ovms.k8s_cluster_plan: %s" % exc)


def k8s_ovms_args(models_mount, **options):
    """The OVMS container args for the pods."""
    try:
        return ovms_args(models_mount, **options)
    except OvmsArgsError as exc:
        raise AnsibleFilterError("numaserve.ovms.k8s_ovms_args: %s" % exc)


def k8s_placement_report(pods, statuses, topologies, container="ovms"):
    """k8s_info pods + /proc/1/status texts + worker topologies -> {ok, failures, pods}."""
    return placement_report(pods, statuses, topologies, container=container)


def k8s_plan_line(entry):
    """A worker or a size class of k8s_cluster_plan -> one line for the plan view."""
    if "replicas" in entry:
        return "class %s: %d pod(s) of %d CPUs and %s (StatefulSet %s) on %s" % (
            entry["size"], entry["replicas"], entry["cpus"], entry["memory"], entry["name"], ", ".join(entry["workers"]))
    return "k8s worker %s (node %s): %d pod(s), %d CPUs and %s each (class %s), NUMA nodes %s, reservedSystemCPUs %s" % (
        entry["host"], entry["node_name"], entry["pods"], entry["cpus"], entry["memory"], entry["size"],
        ",".join(str(n) for n in entry["numa_nodes"]), entry["reserved_system_cpus"])


class FilterModule(object):
    def filters(self):
        return {
            "k8s_node_reservation": k8s_node_reservation,
            "k8s_kubelet_config": k8s_kubelet_config,
            "k8s_cluster_plan": k8s_cluster_plan,
            "k8s_ovms_args": k8s_ovms_args,
            "k8s_placement_report": k8s_placement_report,
            "k8s_plan_line": k8s_plan_line,
        }
