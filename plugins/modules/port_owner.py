#!/usr/bin/python
# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: port_owner
short_description: Tell which processes hold TCP ports on the host
version_added: 1.1.0
description:
  - Reads C(/proc/net/tcp) and C(/proc/net/tcp6) for the listening sockets that would keep a bind to each of
    O(ports) from succeeding (same port; the same address, or a wildcard on either side), and maps each socket's
    inode to the processes holding it through C(/proc/<pid>/fd) (as C(ss -ltnp) does).
  - Changes nothing. Without root, processes of other users are not readable; their sockets are returned with
    RV(holders[].pid) 0.
  - Sockets in other network namespaces (a bridged container's own) are not seen; the process that publishes
    them on the host (C(docker-proxy), C(conmon)) is.
author:
  - numaserve.ovms developers (@numaserve)
options:
  ports:
    description: The ports wanted.
    type: list
    elements: dict
    required: true
    suboptions:
      port:
        description: TCP port.
        type: int
        required: true
      address:
        description: Address the port is to be bound on.
        type: str
        default: 0.0.0.0
      label:
        description: A name returned with the holders of this port (e.g. the variable that sets it).
        type: str
        default: ""
  proc_root:
    description: Where procfs is mounted (a fixture tree in tests).
    type: path
    default: /proc
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads files.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Used by the role M(numaserve.ovms.load_balancer) in its preflight to refuse a port held by an unrelated process.
"""

EXAMPLES = r"""
- name: Who holds port 8080
  numaserve.ovms.port_owner:
    ports:
      - port: 8080
  register: port_8080

- name: Say it
  ansible.builtin.debug:
    msg: "{{ port_8080.holders | map(attribute='comm') | list }}"
"""

RETURN = r"""
holders:
  description: One entry per process holding a socket in the way (one with pid 0 when none is readable).
  returned: always
  type: list
  elements: dict
  contains:
    port:
      description: The wanted port.
      type: int
    address:
      description: The wanted address.
      type: str
    label:
      description: The O(ports[].label) of the wanted port.
      type: str
    held_address:
      description: Address the socket listens on.
      type: str
    inode:
      description: Inode of the socket.
      type: int
    pid:
      description: Process holding it (0 when unknown).
      type: int
    comm:
      description: Its command name (C(/proc/<pid>/comm)), empty when unknown.
      type: str
    ancestors:
      description: Its parent, grandparent, ... process ids.
      type: list
      elements: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.numaserve.ovms.plugins.module_utils.load_balancer_ports import find_holders


def main():
    module = AnsibleModule(
        argument_spec={
            "ports": {"type": "list", "elements": "dict", "required": True,
                      "options": {"port": {"type": "int", "required": True},
                                  "address": {"type": "str", "default": "0.0.0.0"},
                                  "label": {"type": "str", "default": ""}}},
            "proc_root": {"type": "path", "default": "/proc"},
        },
        supports_check_mode=True,
    )
    holders = find_holders(module.params["ports"], module.params["proc_root"])
    module.exit_json(changed=False, holders=holders)


if __name__ == "__main__":
    main()
