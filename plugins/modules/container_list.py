#!/usr/bin/python
# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: container_list
author: numaserve.ovms developers (@numaserve)
version_added: 1.1.0
short_description: List the containers carrying labels on Docker or Podman, in the container layer's schema
description:
  - Runs C(<engine> ps --all --no-trunc --quiet) with one C(--filter label=...) per label, then one
    C(<engine> container inspect) of the containers it printed (none when it printed none), and returns them in the
    schema of the fact C(_container_list) of the internal role C(numaserve.ovms._container).
  - Reads only the fields of that schema; the environment of a container, which may hold secrets, is never read.
  - Only reads; runs in check mode too. Used by the entry point C(list) of C(numaserve.ovms._container).
options:
  engine:
    description: Container engine.
    type: str
    choices: [docker, podman]
    required: true
  labels:
    description:
      - Labels a container must carry, label name to value.
      - A null value only asks for the label (any value). An empty dict lists every container.
    type: dict
    required: true
  host:
    description: Name of the host, used in the failure message (empty - V(this host)).
    type: str
    default: ""
  engine_variable:
    description:
      - Name of the caller's engine variable, used in the failure message (for example V(model_server_engine)).
      - Unset - the message says V(the container engine).
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Fails with one line naming the engine, O(host), O(engine_variable) and the fix (start the engine, become, or
    another engine; install it when its executable is missing) when the engine does not answer.
  - A container removed between the two calls is left out.
"""

EXAMPLES = r"""
- name: The managed model server containers of this host
  numaserve.ovms.container_list:
    engine: podman
    labels:
      io.numaserve.managed: "true"
      io.numaserve.host: "{{ inventory_hostname }}"
      io.numaserve.instance: null
    host: "{{ inventory_hostname }}"
    engine_variable: model_server_engine
  register: listed

- name: The names of those that run
  ansible.builtin.debug:
    msg: "{{ listed.containers | selectattr('running') | map(attribute='name') | list }}"
"""

RETURN = r"""
containers:
  description:
    - The containers, running or not, in the order the engine lists them.
    - Ports are the published ones only. C(pid) is 0 unless the container runs; C(image) is the reference it was
      created from; C(cpuset_cpus) and C(cpuset_mems) are empty when unset.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Container name (without a leading slash).
      type: str
    id:
      description: Full container ID.
      type: str
    running:
      description: Whether the container runs.
      type: bool
    state:
      description: State as the engine says it (for example V(running), V(exited), V(created)).
      type: str
    labels:
      description: Labels of the container.
      type: dict
    ports:
      description: Published ports, each with C(host_ip) (str), C(host_port) (int) and C(container_port) (int).
      type: list
      elements: dict
    pid:
      description: Process ID of the main process, 0 unless running.
      type: int
    image:
      description: The image reference the container was created from.
      type: str
    cpuset_cpus:
      description: CPUs the container is pinned to, empty when unset.
      type: str
    cpuset_mems:
      description: Memory nodes the container is pinned to, empty when unset.
      type: str
  sample:
    - name: numaserve-lb
      id: 7ca5f0c1d2e3
      running: true
      state: running
      labels:
        io.numaserve.managed: "true"
        io.numaserve.host: h1
        io.numaserve.component: load_balancer
      ports: []
      pid: 18476
      image: nginx:1.28.0
      cpuset_cpus: "0"
      cpuset_mems: ""
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.numaserve.ovms.plugins.module_utils.containers import ContainerError, list_containers


def main():
    module = AnsibleModule(
        argument_spec={
            "engine": {"type": "str", "choices": ["docker", "podman"], "required": True},
            "labels": {"type": "dict", "required": True},
            "host": {"type": "str", "default": ""},
            "engine_variable": {"type": "str"},
        },
        supports_check_mode=True,
    )

    def run(argv):
        try:
            return module.run_command(argv, handle_exceptions=False)
        except OSError as exc:
            # The executable is missing or cannot be run ("[Errno 2] No such file or directory: b'podman'"):
            # engine_error() then says "not installed".
            return 127, "", str(exc)

    try:
        containers = list_containers(run, module.params["engine"], module.params["labels"],
                                     module.params["host"], module.params["engine_variable"])
    except ContainerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, containers=containers)


if __name__ == "__main__":
    main()
