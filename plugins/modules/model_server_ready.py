#!/usr/bin/python
# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_server_ready
short_description: Wait until an OVMS container is ready, and fail at once when it crashes or cannot load a model
version_added: 1.1.0
description:
  - Polls one OpenVINO Model Server instance until C(/v2/health/ready) answers 200 B(and) every model of
    O(models) is C(AVAILABLE) in C(/v1/config) (OVMS answers ready while a failed LLM graph stays
    C(LOADING) with C(FAILED_PRECONDITION)).
  - Each poll also reads the container's state, exit code and restart count from the engine; a restart
    above O(restarts_baseline), or a container that stopped, ends the wait at once (a crash loop).
  - A model that fails to load, or that stays listed without any version (a C(base_path) OVMS finds
    empty or cannot read) for O(empty_grace) seconds after the server is ready, ends the wait too.
  - On failure returns RV(failure), one message naming the instance, the cause, the container's state and
    its log tail. The module itself does not fail; the caller decides.
  - Only reads; runs in check mode too.
author:
  - numaserve.ovms developers (@numaserve)
options:
  url:
    description:
      - Base URL of the instance's REST port, e.g. C(http://127.0.0.1:8003).
      - Required unless O(instances) is given.
    type: str
  container:
    description:
      - Container name.
      - Required with O(url).
    type: str
  instances:
    description:
      - Gate several instances in one call, one after another, instead of O(url), O(container), O(instance) and
        O(restarts_baseline) - each a dict with C(url), C(container) and optionally C(instance),
        C(restarts_baseline), C(timeout) (this entry's O(timeout); C(0) polls once) and C(own_models) (when true,
        the models this instance itself lists in C(/v1/config) must be C(AVAILABLE), not O(models) - an
        instance still running an earlier configuration); other keys are ignored. The result of each is in
        RV(results); RV(ready) is true when all passed.
    type: list
    elements: dict
  engine:
    description: Container engine command.
    type: str
    choices: [docker, podman]
    default: docker
  models:
    description: Model names that must be C(AVAILABLE).
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds to wait at most.
    type: int
    default: 600
  poll_interval:
    description: Seconds between polls.
    type: float
    default: 2
  empty_grace:
    description: Seconds a model may be listed without a version (or not listed) after the server is ready.
    type: float
    default: 2
  restarts_baseline:
    description: Restart count the container may have; -1 takes the count at the first poll.
    type: int
    default: -1
  instance:
    description: Instance name, for the message.
    type: str
    default: ""
  paths:
    description: Model name to base_path (as the container sees it), for the message.
    type: dict
    default: {}
  log_tail_lines:
    description: Log lines in RV(failure).
    type: int
    default: 40
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
  - Used by the role M(numaserve.ovms.model_server) as its readiness gate.
"""

EXAMPLES = r"""
- name: Gate two running instances in one call
  numaserve.ovms.model_server_ready:
    instances:
      - {url: "http://127.0.0.1:8003", container: ovms-node0, instance: node0}
      - {url: "http://127.0.0.1:8004", container: ovms-node1, instance: node1}
    models: [meta-llama/Llama-3.1-8B-Instruct]
  register: gates

- name: Gate an instance
  numaserve.ovms.model_server_ready:
    url: http://127.0.0.1:8003
    container: ovms-node0
    models: [meta-llama/Llama-3.1-8B-Instruct]
    timeout: 600
  register: gate

- name: Stop when it is not ready
  ansible.builtin.fail:
    msg: "{{ gate.failure }}"
  when: not gate.ready
"""

RETURN = r"""
ready:
  description: Whether the instance passed the gate.
  returned: always
  type: bool
reason:
  description: C(ready), C(crash), C(gone), C(failed) (a model failed to load), C(empty) (a model without version) or C(timeout).
  returned: always
  type: str
seconds:
  description: Seconds the wait took.
  returned: always
  type: float
states:
  description: The models' states from the last C(/v1/config), e.g. C(m=AVAILABLE/OK).
  returned: always
  type: str
container_state:
  description: Status, running, exit code and restart count at the last poll (null when the container is gone).
  returned: always
  type: dict
failure:
  description: Empty when ready, else the message (instance, cause, container state, log tail).
  returned: always
  type: str
results:
  description:
    - With O(instances), one dict per instance in that order - C(instance), C(container) and the keys above
      (C(ready), C(reason), C(seconds), C(states), C(container_state), C(failure)). The top-level keys other than
      RV(ready) are those of the last instance.
  returned: when O(instances) is given
  type: list
  elements: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.numaserve.ovms.plugins.module_utils.model_server_config import gate_message, wait_ready

STATE_FORMAT = "{{.State.Status}}|{{.State.Running}}|{{.State.ExitCode}}|{{.RestartCount}}"


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str"},
            "container": {"type": "str"},
            "instances": {"type": "list", "elements": "dict"},
            "engine": {"type": "str", "choices": ["docker", "podman"], "default": "docker"},
            "models": {"type": "list", "elements": "str", "required": True},
            "timeout": {"type": "int", "default": 600},
            "poll_interval": {"type": "float", "default": 2},
            "empty_grace": {"type": "float", "default": 2},
            "restarts_baseline": {"type": "int", "default": -1},
            "instance": {"type": "str", "default": ""},
            "paths": {"type": "dict", "default": {}},
            "log_tail_lines": {"type": "int", "default": 40},
        },
        required_one_of=[["url", "instances"]],
        mutually_exclusive=[["url", "instances"]],
        required_together=[["url", "container"]],
        supports_check_mode=True,
    )
    p = module.params
    if p["instances"] is None:
        outcome = gate(module, p, p["url"], p["container"], p["instance"], p["restarts_baseline"])
        module.exit_json(changed=False, **outcome)
    results = []
    for number, entry in enumerate(p["instances"]):
        if not isinstance(entry, dict) or not entry.get("url") or not entry.get("container"):
            module.fail_json(msg="instances[%d]: each entry needs a url and a container" % number)
        try:
            baseline = int(entry.get("restarts_baseline", -1))
            timeout = int(entry.get("timeout", p["timeout"]))
        except (TypeError, ValueError):
            module.fail_json(msg="instances[%d]: restarts_baseline and timeout must be integers" % number)
        own = module.boolean(entry.get("own_models", False))
        outcome = gate(module, dict(p, timeout=timeout, models=None if own else p["models"]), str(entry["url"]),
                       str(entry["container"]), str(entry.get("instance") or ""), baseline)
        results.append(dict(outcome, instance=str(entry.get("instance") or ""), container=str(entry["container"])))
    empty = {"reason": "", "seconds": 0.0, "states": "", "container_state": None, "failure": ""}
    last = dict(results[-1]) if results else empty
    last.pop("instance", None)
    last.pop("container", None)
    last["ready"] = all(r["ready"] for r in results)
    module.exit_json(changed=False, results=results, **last)


def gate(module, p, url, container, instance, restarts_baseline):
    """The gate of one instance: the module's result keys (ready, reason, seconds, states, container_state, failure)."""
    url = url.rstrip("/")

    def http_get(path):
        try:
            resp = open_url(url + path, timeout=5, validate_certs=False)
            body = resp.read()
            code = resp.getcode()
        # HTTPError, refused, reset: all mean "not yet".
        except Exception as exc:  # pylint: disable=broad-except
            code, body = getattr(exc, "code", None), b""
        try:
            return code, json.loads(body) if body else None
        except ValueError:
            return code, None

    def inspect():
        rc, out = module.run_command([p["engine"], "inspect", "--type", "container", "--format", STATE_FORMAT,
                                      container])[:2]
        if rc != 0:
            return None
        status, running, exit_code, restarts = (out.strip().split("|") + ["", "", "", ""])[:4]
        return {"status": status, "running": running == "true", "exit_code": int(exit_code or 0),
                "restarts": int(restarts or 0)}

    outcome = wait_ready(http_get, inspect, p["models"], p["timeout"], p["poll_interval"], p["empty_grace"],
                         None if restarts_baseline < 0 else restarts_baseline)
    failure = ""
    if not outcome["ready"]:
        out, err = module.run_command([p["engine"], "logs", "--tail", str(p["log_tail_lines"]), container])[1:]
        lines = (out + err).splitlines()[-p["log_tail_lines"]:]
        failure = gate_message(outcome, instance or container, container, url, p["timeout"], lines,
                               p["log_tail_lines"], p["paths"])
    return {"ready": outcome["ready"], "reason": outcome["reason"], "seconds": outcome["seconds"],
            "states": outcome["states"]["states"], "container_state": outcome["container"], "failure": failure}


if __name__ == "__main__":
    main()
