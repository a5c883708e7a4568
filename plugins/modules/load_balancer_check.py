#!/usr/bin/python
# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: load_balancer_check
short_description: Check that the nginx balancer, every endpoint in service and a request through it answer 200
version_added: 1.1.0
description:
  - The verify phase of the role M(numaserve.ovms.load_balancer) in one call, run on the balancer host.
  - In this order, each step only when the one before passed - the balancer's own C(/healthz) (when
    O(healthz) is true, http mode), then every endpoint of O(endpoints) at C(http://<address:port><path>)
    (all of them), then one request through the balancer at O(balancer_url) followed by O(path), with
    C(Authorization) set to C(Bearer) and O(api_key) when one is given.
  - Each check polls until it answers 200, one attempt every O(interval) seconds for O(retries) times
    O(interval) seconds (O(retries) + 1 attempts). Before that, while its connection is refused (a port that
    is not open yet), it waits up to as long again for the port to accept connections (the first check on the
    balancer port only with O(wait_for_listen)). The attempts are not reported one by one, so an nginx or an
    instance that is still starting prints no failed attempts.
  - Fails with one message per failed check naming the URL, the last HTTP status or error, and the role
    variables to look at; RV(checks) holds every check that ran.
  - TLS certificates are not validated (the balancer's certificate is often self-signed).
author:
  - numaserve.ovms developers (@numaserve)
options:
  balancer_url:
    description: Base URL of the balancer as seen from its host, e.g. C(https://127.0.0.1:8080).
    type: str
    required: true
  path:
    description: Path requested on every endpoint and through the balancer; it must answer 200 on every instance.
    type: str
    default: /v2/health/ready
  healthz:
    description: Check the balancer's own C(/healthz) first (http mode; the stream mode has none).
    type: bool
    default: true
  endpoints:
    description:
      - The endpoints in service (without the drained ones), each a dict with C(key) (C(address:port)) or
        C(address) and C(port); C(host) and C(instance), when present, name the endpoint in a message.
    type: list
    elements: dict
    default: []
  api_key:
    description: Key sent as C(Authorization) C(Bearer) with the request through the balancer; empty sends none.
    type: str
    default: ""
  retries:
    description: Attempts after the first of each check, O(interval) seconds apart; also the seconds a refused port is waited for.
    type: int
    default: 10
  interval:
    description: Seconds between two attempts of a check.
    type: float
    default: 1
  timeout:
    description: Seconds one request may take.
    type: float
    default: 30
  wait_for_listen:
    description:
      - Whether the first check on the balancer port waits for the port to accept connections while it is refused.
      - False when the balancer has been listening all along (its container was left as it was); the endpoints
        are always waited for.
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: none
    details:
      - The module only reads, but in check mode it is skipped, as the M(ansible.builtin.uri) and
        M(ansible.builtin.wait_for) tasks it replaces were - a balancer that check mode did not start cannot answer.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Used by the role M(numaserve.ovms.load_balancer) as its verify phase.
"""

EXAMPLES = r"""
- name: Check the balancer, its endpoints and a request through it
  numaserve.ovms.load_balancer_check:
    balancer_url: https://127.0.0.1:8080
    path: /v2/health/ready
    endpoints:
      - {key: "127.0.0.1:8003", host: server1, instance: node0}
      - {key: "127.0.0.1:8004", host: server1, instance: node1}
    api_key: "{{ my_api_key }}"
    retries: 10

- name: Check a stream-mode balancer (no /healthz), its port open for a while already
  numaserve.ovms.load_balancer_check:
    balancer_url: http://127.0.0.1:8080
    healthz: false
    endpoints: [{address: 127.0.0.1, port: 8003}]
    wait_for_listen: false
"""

RETURN = r"""
checks:
  description:
    - One dict per check that ran, in order - C(name) (C(healthz), C(endpoint <address:port>) or
      C(through the balancer)), C(url), C(ok) (answered 200), C(status) (the last HTTP status, null when no answer
      came), C(seconds), C(attempts) and C(error) (the last failure, empty when ok).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: healthz, url: "https://127.0.0.1:8080/healthz", ok: true, status: 200, seconds: 0.004, attempts: 1, error: ""}
seconds:
  description: Seconds all checks took.
  returned: always
  type: float
msg:
  description: The failure messages, one a line, when a check failed; else a summary.
  returned: always
  type: str
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.numaserve.ovms.plugins.module_utils.load_balancer_check import build_steps, run_steps


def fetch(url, headers, timeout):
    """The HTTP status of one GET (4xx/5xx included); connection errors raise (see module_utils)."""
    try:
        resp = open_url(url, headers=headers, timeout=timeout, validate_certs=False)
    except Exception as exc:  # pylint: disable=broad-except
        code = getattr(exc, "code", None)
        if isinstance(code, int):  # HTTPError: an answer
            return code
        raise
    try:
        resp.read()
    finally:
        resp.close()
    return resp.getcode()


def main():
    module = AnsibleModule(
        argument_spec={
            "balancer_url": {"type": "str", "required": True},
            "path": {"type": "str", "default": "/v2/health/ready"},
            "healthz": {"type": "bool", "default": True},
            "endpoints": {"type": "list", "elements": "dict", "default": []},
            "api_key": {"type": "str", "default": "", "no_log": True},
            "retries": {"type": "int", "default": 10},
            "interval": {"type": "float", "default": 1},
            "timeout": {"type": "float", "default": 30},
            "wait_for_listen": {"type": "bool", "default": True},
        },
        supports_check_mode=False,
    )
    p = module.params
    for number, endpoint in enumerate(p["endpoints"]):
        if not endpoint.get("key") and not (endpoint.get("address") and endpoint.get("port")):
            module.fail_json(msg="endpoints[%d]: each endpoint needs a key (address:port) or an address and a port"
                             % number)
    headers = {"Authorization": "Bearer " + p["api_key"]} if p["api_key"] else {}
    steps = build_steps(p["balancer_url"], p["path"], p["endpoints"], healthz=p["healthz"], headers=headers,
                        wait_for_listen=p["wait_for_listen"])
    start = time.monotonic()
    checks, messages = run_steps(steps, fetch, p["retries"], p["interval"], p["timeout"])
    seconds = round(time.monotonic() - start, 3)
    if messages:
        module.fail_json(msg=" ".join(messages), checks=checks, seconds=seconds)
    module.exit_json(changed=False, checks=checks, seconds=seconds,
                     msg="%d checks answered 200 in %.1f s" % (len(checks), seconds))


if __name__ == "__main__":
    main()
