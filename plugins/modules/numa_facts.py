#!/usr/bin/python
# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: numa_facts
short_description: Gather the NUMA and CPU topology of a Linux host from sysfs
version_added: 1.0.0
description:
  - Reads C(<sysfs_root>/devices/system/node) and C(<sysfs_root>/devices/system/cpu) and returns
    the host's NUMA topology as the fact RV(ansible_facts.numa_topology).
  - Reports only B(online) CPUs. Nodes are sorted by numeric id (C(node10) comes after C(node9)),
    CPU-less memory nodes (CXL, HBM, GPU memory) are included with an empty CPU list.
  - Copes with what real kernels write, trailing newlines and NUL bytes, empty files, a missing
    C(cpuN/online) (that CPU is online), C(cpumap)/C(thread_siblings) hex masks on old kernels, and
    C(physical_package_id) values of -1.
  - A kernel without C(devices/system/node) is reported as one node 0 holding every online CPU.
  - When firmware lists one CPU in two nodes, the CPU is reported in both, as sysfs says, and the
    module returns a warning.
  - The module never changes anything on the host.
author:
  - numaserve.ovms developers (@numaserve)
options:
  sysfs_root:
    description:
      - Path of the sysfs mount to read.
      - Point it at a fixture tree (a directory holding C(devices/system/{cpu,node})) to plan for
        a topology other than the host's, for example in tests.
    type: path
    default: /sys
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads files; check mode returns the same facts.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Can be used as a fact gathering module, C(ansible_facts_modules=[setup, numaserve.ovms.numa_facts]).
  - The role M(numaserve.ovms.numa_facts) runs this module and turns its result into a placement
    plan with the P(numaserve.ovms.instance_plan#filter) filter.
seealso:
  - plugin: numaserve.ovms.instance_plan
    plugin_type: filter
  - plugin: numaserve.ovms.cpuset
    plugin_type: filter
  - name: Linux kernel documentation of devices/system/node
    description: The sysfs ABI this module reads.
    link: https://www.kernel.org/doc/Documentation/ABI/stable/sysfs-devices-node
"""

EXAMPLES = r"""
- name: Gather the NUMA topology
  numaserve.ovms.numa_facts:

- name: Show the CPUs of each node
  ansible.builtin.debug:
    msg: "node{{ item.id }}: {{ item.cpuset }}"
  loop: "{{ ansible_facts.numa_topology.nodes }}"
  loop_control:
    label: "node{{ item.id }}"

- name: Read a fixture tree instead of /sys (tests, planning for another machine)
  numaserve.ovms.numa_facts:
    sysfs_root: /srv/fixtures/dual-socket/sys
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: dict
  contains:
    numa_topology:
      description: The NUMA and CPU topology of the host.
      returned: always
      type: dict
      contains:
        nodes:
          description:
            - One entry per C(devices/system/node/nodeN), sorted by id; CPU-less nodes included.
            - Without a node directory, one node 0 holding every online CPU.
          type: list
          elements: dict
          returned: always
          contains:
            id:
              description: The node number N of C(nodeN).
              type: int
              returned: always
            cpus:
              description: The node's online CPUs, sorted (offline CPUs of the node's cpulist are left out).
              type: list
              elements: int
              returned: always
            cpuset:
              description: The same CPUs in the kernel's cpulist format (C(0-3,16-19)); empty for a CPU-less node.
              type: str
              returned: always
            memory_kb:
              description: C(MemTotal) of C(nodeN/meminfo) in kB; null when unknown.
              type: int
              returned: always
            packages:
              description: The C(physical_package_id) values of the node's online CPUs, sorted (may be -1 or large).
              type: list
              elements: int
              returned: always
            distances:
              description: The node's row of the distance table (C(nodeN/distance)); null when absent.
              type: list
              elements: int
              returned: always
        online_cpus:
          description: Every online CPU, sorted.
          type: list
          elements: int
          returned: always
        packages:
          description: Physical package (socket) id, as a string, to its online CPUs.
          type: dict
          returned: always
        cores:
          description: SMT sibling groups (C(thread_siblings_list) intersected with the online CPUs), sorted.
          type: list
          elements: list
          returned: always
        threads_per_core:
          description: The size of the largest sibling group.
          type: int
          returned: always
      sample:
        nodes:
          - id: 0
            cpus: [0, 1, 2, 3, 16, 17, 18, 19]
            cpuset: "0-3,16-19"
            memory_kb: 65843212
            packages: [0]
            distances: [10, 21]
          - id: 1
            cpus: [4, 5, 6, 7, 20, 21, 22, 23]
            cpuset: "4-7,20-23"
            memory_kb: 66022348
            packages: [1]
            distances: [21, 10]
        online_cpus: [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]
        packages: {"0": [0, 1, 2, 3, 16, 17, 18, 19], "1": [4, 5, 6, 7, 20, 21, 22, 23]}
        cores: [[0, 16], [1, 17], [2, 18], [3, 19], [4, 20], [5, 21], [6, 22], [7, 23]]
        threads_per_core: 2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.numaserve.ovms.plugins.module_utils.sysfs_topology import TopologyError, discover


def main():
    module = AnsibleModule(
        argument_spec=dict(sysfs_root=dict(type="path", default="/sys")),
        supports_check_mode=True,
    )
    try:
        topology, warnings = discover(module.params["sysfs_root"])
    except TopologyError as exc:
        module.fail_json(msg="numa_facts: %s" % exc, path=exc.path)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, ansible_facts={"numa_topology": topology})


if __name__ == "__main__":
    main()
