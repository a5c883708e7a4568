# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The load_balancer role's verify phase: poll the balancer and its endpoints until each answers 200.

Pure Python (no Ansible imports); the module numaserve.ovms.load_balancer_check runs it on the balancer
host with a fetch built on open_url, the unit tests with a fake fetch, clock and sleep.

The checks come in steps, run in this order, each step only when the one before passed (as the role's
tasks did): the balancer's own /healthz (http mode), every endpoint in service from the balancer host
(all of them, a failed one does not stop the others), then one request through the balancer.

Each check polls quietly, in two phases that give it the budget the wait_for and uri tasks it replaces had:

1. while the connection is refused (the port is not open yet), until the port accepts connections, for up
   to ``retries * interval`` seconds (wait_for with timeout load_balancer_verify_retries); only for a check
   with ``wait``;
2. until it answers 200, one attempt every ``interval`` seconds for ``retries * interval`` seconds
   (``retries + 1`` attempts, as uri with until/retries/delay 1).

``fetch(url, headers, timeout)`` returns the HTTP status (any status, 4xx/5xx included) or raises: a
refused connection (ConnectionRefusedError, also as the ``reason`` of a urllib URLError) means "not
listening yet", anything else is a failed attempt described by its message.
"""

from __future__ import annotations

import socket
import time

__all__ = ["build_steps", "describe_error", "failure_message", "is_refused", "poll", "run_steps"]


def build_steps(balancer_url, path, endpoints, healthz=True, headers=None, wait_for_listen=True):
    """The verify steps: [[/healthz]] (when healthz), [one check per endpoint], [through the balancer].

    endpoints: dicts with ``key`` ("address:port"; ``address`` and ``port`` make it when absent) and
    optionally ``host`` and ``instance`` (for the message), already without the drained ones.
    headers: sent with the request through the balancer only (the API key).
    wait_for_listen: whether the first check on the balancer port first waits for it to open.
    Each check: name, kind (healthz, endpoint, through), url, headers, wait, and for an endpoint its key
    and label.
    """
    base = balancer_url.rstrip("/")
    steps = []
    balancer_wait = bool(wait_for_listen)
    if healthz:
        steps.append([{"name": "healthz", "kind": "healthz", "url": base + "/healthz", "headers": {},
                       "wait": balancer_wait}])
        balancer_wait = False
    checks = []
    for endpoint in endpoints:
        key = str(endpoint.get("key") or "%s:%s" % (endpoint.get("address", ""), endpoint.get("port", "")))
        who = "/".join(str(endpoint[k]) for k in ("host", "instance") if endpoint.get(k))
        checks.append({"name": "endpoint " + key, "kind": "endpoint", "key": key, "label": who,
                       "url": "http://" + key + path, "headers": {}, "wait": True})
    if checks:
        steps.append(checks)
    steps.append([{"name": "through the balancer", "kind": "through", "url": base + path,
                   "headers": dict(headers or {}), "wait": balancer_wait}])
    return steps


def is_refused(exc):
    """Whether a fetch error means the port does not accept connections (yet)."""
    return isinstance(exc, ConnectionRefusedError) or isinstance(getattr(exc, "reason", None), ConnectionRefusedError)


def describe_error(exc, timeout):
    """One short phrase for a failed attempt."""
    if is_refused(exc):
        return "connection refused"
    reason = getattr(exc, "reason", None)
    cause = reason if isinstance(reason, BaseException) else exc
    if isinstance(cause, (socket.timeout, TimeoutError)):
        return "no answer within %g s" % timeout
    text = str(reason if reason is not None else exc).strip() or type(cause).__name__
    return text


def poll(check, fetch, retries, interval=1.0, timeout=30.0, clock=time.monotonic, sleep=time.sleep):
    """Poll one check; returns {name, url, ok, status, seconds, attempts, error} (headers never included)."""
    budget = max(0, int(retries)) * float(interval)
    start = clock()
    state = {"attempts": 0, "status": None, "error": "", "refused": False}

    def attempt():
        state["attempts"] += 1
        try:
            status = fetch(check["url"], check.get("headers") or {}, timeout)
        except Exception as exc:  # pylint: disable=broad-except
            state.update(status=None, error=describe_error(exc, timeout), refused=is_refused(exc))
            return False
        state.update(status=int(status), error="" if int(status) == 200 else "HTTP %d" % int(status),
                     refused=False)
        return state["status"] == 200

    def wait_until(deadline):
        sleep(max(0.0, min(float(interval), deadline - clock())))

    ok = attempt()
    if not ok and check.get("wait"):
        deadline = start + budget
        while not ok and state["refused"] and clock() < deadline:
            wait_until(deadline)
            ok = attempt()
    deadline = clock() + budget
    while not ok and clock() < deadline:
        wait_until(deadline)
        ok = attempt()
    return {"name": check["name"], "url": check["url"], "ok": ok, "status": state["status"],
            "seconds": round(clock() - start, 3), "attempts": state["attempts"], "error": state["error"]}


def failure_message(check, result):
    """One line for a failed check: what, the URL, the last status or error, and where to look."""
    last = "last answer HTTP %d" % result["status"] if result["status"] is not None else \
        "last error: %s" % result["error"]
    tried = "%d attempts in %.0f s" % (result["attempts"], result["seconds"])
    if check["kind"] == "healthz":
        return ("load_balancer: the balancer's own /healthz at %s did not answer 200 (%s; %s); look at the nginx "
                "container (its state and logs) and load_balancer_listen_address / load_balancer_listen_port, or "
                "raise load_balancer_verify_retries." % (check["url"], last, tried))
    if check["kind"] == "endpoint":
        who = " (%s)" % check["label"] if check.get("label") else ""
        return ("load_balancer: endpoint %s%s did not answer 200 at %s from the balancer host (%s; %s); check that "
                "instance, load_balancer_verify_path (it must answer 200 on every instance) or "
                "load_balancer_verify_retries, or drain it with load_balancer_down_endpoints."
                % (check["key"], who, check["url"], last, tried))
    key_hint = " (401: load_balancer_api_key)" if result["status"] == 401 else ""
    return ("load_balancer: a request through the balancer to %s did not answer 200 (%s; %s) although every "
            "endpoint in service answered from the balancer host; look at the nginx container's logs, "
            "load_balancer_verify_path, load_balancer_api_key%s or load_balancer_verify_retries."
            % (check["url"], last, tried, key_hint))


def run_steps(steps, fetch, retries, interval=1.0, timeout=30.0, clock=time.monotonic, sleep=time.sleep):
    """Run the steps in order; a step with a failed check is the last one run.

    Returns (results, messages): one result per check run (see poll), one message per failed check.
    """
    results, messages = [], []
    for step in steps:
        for check in step:
            result = poll(check, fetch, retries, interval, timeout, clock, sleep)
            results.append(result)
            if not result["ok"]:
                messages.append(failure_message(check, result))
        if messages:
            break
    return results, messages
