#!/usr/bin/python
# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_server_inspect
author: numaserve.ovms developers (@numaserve)
version_added: 1.1.0
short_description: Read the model server containers of a host as the engine reports them
description:
  - Lists the managed model server containers of a host (labels C(io.numaserve.managed=true),
    C(io.numaserve.host=<host>), C(io.numaserve.instance)) and/or the named containers, and returns the
    parts of C(<engine> container inspect) the model server role compares with its plan (image, command,
    cpusets, ports, mounts, user, limits, labels, state).
  - Environment values are returned only as digests of C(NAME=value); secrets never leave the module.
  - Only reads; runs in check mode too. Used by the role M(numaserve.ovms.model_server) (entry points
    C(probe), C(replace), C(remove) and the run phase).
options:
  engine:
    description: Container engine.
    type: str
    choices: [docker, podman]
    default: docker
  host:
    description: List the managed containers labelled for this host (empty - do not list).
    type: str
    default: ""
  names:
    description: Containers to inspect as well (those that do not exist are left out).
    type: list
    elements: str
    default: []
  image:
    description: An image whose local ID is returned as RV(image_id) (empty - none).
    type: str
    default: ""
  proc_status:
    description:
      - Also read C(/proc/<pid>/status) of the main process of each container of O(names) that runs, on the host
        the module runs on (RV(proc_status)), in the same call as its process ID.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Read the model server containers of this host
  numaserve.ovms.model_server_inspect:
    engine: docker
    host: "{{ inventory_hostname }}"
    names: [ovms-node0, ovms-node1]
    image: openvino/model_server:2026.3
  register: observed
"""

RETURN = r"""
containers:
  description:
    - One entry per existing container, sorted by name - C(name), C(id), C(running), C(state), C(pid),
      C(labels), C(image), C(image_id), C(command), C(cpuset_cpus), C(cpuset_mems), C(ports) (list of
      C(host_ip), C(host_port), C(container_port)), C(rest_port) and C(grpc_port) (host ports of
      C(--rest_port) and C(--port), null when not published), C(mounts), C(env) (digests), C(user),
      C(ulimits), C(restart_policy), C(log_driver).
  returned: success
  type: list
  elements: dict
managed:
  description: Names of the managed containers of O(host), sorted.
  returned: success
  type: list
  elements: str
managed_ports:
  description: Host ports published by the running managed containers of O(host), sorted.
  returned: success
  type: list
  elements: int
pids:
  description:
    - Main process ID of each container of O(names), in that order (0 when it does not run or does not exist, or,
      with O(proc_status), when its process exited since the engine reported it).
  returned: success
  type: list
  elements: int
proc_status:
  description:
    - With O(proc_status), the text of C(/proc/<pid>/status) of each container of O(names), in that order (empty
      when it does not run); else empty.
  returned: success
  type: list
  elements: str
image_id:
  description: Local ID of O(image) without C(sha256:), empty when the image is not there.
  returned: success
  type: str
engine_error:
  description: Empty when the engine answered, else what it said (the caller fails with its own message).
  returned: always
  type: str
engine_missing:
  description: The engine's command is not installed (not in the PATH); RV(engine_error) says so.
  returned: when the command is not installed
  type: bool
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.numaserve.ovms.plugins.module_utils.model_server_spec import (
    LABEL_HOST, LABEL_INSTANCE, LABEL_MANAGED, discovered, observe)


def main():
    module = AnsibleModule(
        argument_spec={
            "engine": {"type": "str", "choices": ["docker", "podman"], "default": "docker"},
            "host": {"type": "str", "default": ""},
            "names": {"type": "list", "elements": "str", "default": []},
            "image": {"type": "str", "default": ""},
            "proc_status": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    engine, host = module.params["engine"], module.params["host"]
    wanted = list(module.params["names"])
    ids = []
    nothing = {"changed": False, "containers": [], "managed": [], "managed_ports": [], "pids": [0] * len(wanted),
               "image_id": "", "proc_status": []}
    if module.get_bin_path(engine) is None:
        module.exit_json(engine_missing=True, engine_error="%s: command not found" % engine, **nothing)
    if host:
        rc, out, err = module.run_command([engine, "ps", "--all", "--no-trunc", "--quiet",
                                           "--filter", "label=%s=true" % LABEL_MANAGED,
                                           "--filter", "label=%s=%s" % (LABEL_HOST, host),
                                           "--filter", "label=%s" % LABEL_INSTANCE])
        if rc != 0:
            module.exit_json(engine_error=(err or out).strip() or "%s ps exited %d" % (engine, rc), **nothing)
        ids = out.split()
    containers = []
    targets = ids + wanted
    if targets:
        # Non-existing names make inspect exit 1 but it still prints the others.
        rc, out, err = module.run_command([engine, "container", "inspect"] + targets)
        try:
            docs = json.loads(out) if out.strip() else []
        except ValueError:
            module.exit_json(engine_error=(err or out).strip()[:500], **nothing)
        seen = set()
        for doc in docs or []:
            item = observe(doc)
            if item["id"] not in seen:
                seen.add(item["id"])
                containers.append(item)
    containers.sort(key=lambda c: c["name"])
    image_id = ""
    if module.params["image"]:
        rc, out = module.run_command([engine, "image", "inspect", "--format", "{{.Id}}", module.params["image"]])[:2]
        if rc == 0:
            image_id = out.strip().split(":", 1)[-1]
    managed = discovered(containers, host) if host else []
    ports = sorted(set(p["host_port"] for c in managed if c["running"] for p in c["ports"]))
    by_name = dict((c["name"], c) for c in containers)
    pids = [by_name[n]["pid"] if n in by_name and by_name[n]["running"] else 0 for n in wanted]
    status = []
    if module.params["proc_status"]:
        status = [read_proc_status(module, pid) if pid else "" for pid in pids]
        # A main process that exited after the engine reported it (a crash loop) does not run: pid 0.
        pids = [pid if text is not None else 0 for pid, text in zip(pids, status)]
        status = [text or "" for text in status]
    module.exit_json(changed=False, containers=containers, managed=[c["name"] for c in managed], managed_ports=ports,
                     pids=pids, image_id=image_id, proc_status=status, engine_error="")


def read_proc_status(module, pid):
    """/proc/<pid>/status of a running container's main process, None when the process is gone; fails as
    ansible.builtin.slurp would when it cannot be read."""
    path = "/proc/%d/status" % int(pid)
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except PermissionError:
        module.fail_json(msg="file is not readable: %s" % path)
    except OSError as exc:
        module.fail_json(msg="unable to read %s: %s" % (path, exc))
    return ""


if __name__ == "__main__":
    main()
