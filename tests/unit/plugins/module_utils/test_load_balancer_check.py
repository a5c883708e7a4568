# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""load_balancer_check: the verify phase's polling, with a fake fetch, clock and sleep (no network)."""

import socket
import urllib.error

import pytest

from ansible_collections.numaserve.ovms.plugins.module_utils import load_balancer_check as lc

LB = "https://127.0.0.1:8080"
PATH = "/v2/health/ready"
ENDPOINTS = [{"key": "127.0.0.1:8003", "address": "127.0.0.1", "port": 8003, "host": "s1", "instance": "node0"},
             {"key": "127.0.0.1:8004", "address": "127.0.0.1", "port": 8004, "host": "s1", "instance": "node1"}]


class Clock:
    """A clock that only sleep() moves."""

    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class Fetch:
    """Answers per URL from a script: a list of outcomes (int status or exception), the last one repeated."""

    def __init__(self, clock, script=None, default=200, cost=0.0):
        self.clock, self.script, self.default, self.cost = clock, dict(script or {}), default, cost
        self.calls = []

    def __call__(self, url, headers, timeout):
        self.calls.append((url, dict(headers), timeout, self.clock.now))
        self.clock.now += self.cost
        outcomes = self.script.get(url)
        if outcomes is None:
            outcome = self.default
        else:
            outcome = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def urls(self):
        return [c[0] for c in self.calls]


def refused():
    return urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))


def run(fetch, clock, steps=None, retries=10, **kwargs):
    steps = steps if steps is not None else lc.build_steps(LB, PATH, ENDPOINTS, **kwargs)
    return lc.run_steps(steps, fetch, retries, 1.0, 30.0, clock=clock, sleep=clock.sleep)


def test_all_answer_in_order_one_attempt_each():
    clock = Clock()
    fetch = Fetch(clock)
    results, messages = run(fetch, clock)
    assert messages == []
    assert fetch.urls() == [LB + "/healthz", "http://127.0.0.1:8003" + PATH, "http://127.0.0.1:8004" + PATH, LB + PATH]
    assert [r["name"] for r in results] == ["healthz", "endpoint 127.0.0.1:8003", "endpoint 127.0.0.1:8004",
                                            "through the balancer"]
    assert all(r["ok"] and r["status"] == 200 and r["attempts"] == 1 and r["error"] == "" for r in results)
    assert clock.sleeps == []


def test_stream_mode_has_no_healthz():
    clock = Clock()
    fetch = Fetch(clock)
    results, messages = run(fetch, clock, healthz=False)
    assert messages == [] and fetch.urls()[0] == "http://127.0.0.1:8003" + PATH and len(results) == 3


def test_refused_then_200_is_quiet_and_ok():
    clock = Clock()
    url = LB + "/healthz"
    fetch = Fetch(clock, {url: [refused(), ConnectionRefusedError(111, "refused"), refused(), 200]})
    results, messages = run(fetch, clock)
    assert messages == []
    assert results[0] == {"name": "healthz", "url": url, "ok": True, "status": 200, "seconds": 3.0, "attempts": 4,
                          "error": ""}


def test_a_503_that_never_recovers_fails_naming_the_url_and_stops_before_the_balancer():
    clock = Clock()
    bad = "http://127.0.0.1:8004" + PATH
    fetch = Fetch(clock, {bad: [503]})
    results, messages = run(fetch, clock, retries=3)
    assert len(messages) == 1
    message = messages[0]
    assert bad in message and "HTTP 503" in message and "127.0.0.1:8004 (s1/node1)" in message
    assert "load_balancer_verify_path" in message and "load_balancer_verify_retries" in message
    assert results[-1]["name"] == "endpoint 127.0.0.1:8004" and not results[-1]["ok"]
    assert results[-1]["status"] == 503 and results[-1]["attempts"] == 4
    # every endpoint was checked, the request through the balancer was not sent
    assert LB + PATH not in fetch.urls()
    assert [r["ok"] for r in results] == [True, True, False]


def test_every_failed_endpoint_gets_its_message():
    clock = Clock()
    fetch = Fetch(clock, {"http://127.0.0.1:8003" + PATH: [502], "http://127.0.0.1:8004" + PATH: [503]})
    messages = run(fetch, clock, retries=1)[1]
    assert len(messages) == 2 and "HTTP 502" in messages[0] and "HTTP 503" in messages[1]


def test_a_failed_healthz_stops_at_once():
    clock = Clock()
    fetch = Fetch(clock, {LB + "/healthz": [404]})
    results, messages = run(fetch, clock, retries=2)
    assert fetch.urls() == [LB + "/healthz"] * 3
    assert len(results) == 1 and "/healthz at " + LB + "/healthz" in messages[0] and "HTTP 404" in messages[0]


def test_the_retries_budget_with_a_fake_clock():
    """retries 10: 11 attempts one second apart (uri until/retries/delay 1), 10 s, then the failure."""
    clock = Clock()
    url = LB + "/healthz"
    fetch = Fetch(clock, {url: [503]})
    result = lc.poll({"name": "healthz", "url": url, "wait": True}, fetch, 10, 1.0, 30.0, clock=clock,
                     sleep=clock.sleep)
    assert not result["ok"] and result["attempts"] == 11 and result["seconds"] == 10.0
    assert [c[3] - 100.0 for c in fetch.calls] == [float(n) for n in range(11)]
    assert clock.sleeps == [1.0] * 10


def test_a_port_that_never_opens_gets_the_wait_and_then_the_retries():
    """wait_for (retries s) then uri (retries s), as the tasks did; without the wait only the retries."""
    clock = Clock()
    url = LB + "/healthz"
    waited = lc.poll({"name": "healthz", "url": url, "wait": True}, Fetch(clock, {url: [refused()]}), 5, 1.0, 30.0,
                     clock=clock, sleep=clock.sleep)
    assert not waited["ok"] and waited["seconds"] == 10.0 and waited["error"] == "connection refused"
    clock = Clock()
    unwaited = lc.poll({"name": "healthz", "url": url, "wait": False}, Fetch(clock, {url: [refused()]}), 5, 1.0,
                       30.0, clock=clock, sleep=clock.sleep)
    assert not unwaited["ok"] and unwaited["seconds"] == 5.0 and unwaited["attempts"] == 6


def test_the_port_opens_late_then_the_answer_has_its_own_budget():
    """Refused for 4 s, then 503 for 3 attempts, then 200: within budget (5) since the port opened."""
    clock = Clock()
    url = "http://127.0.0.1:8003" + PATH
    fetch = Fetch(clock, {url: [refused()] * 4 + [503, 503, 503, 503, 503, 200]})
    result = lc.poll({"name": "e", "url": url, "wait": True}, fetch, 5, 1.0, 30.0, clock=clock, sleep=clock.sleep)
    assert result["ok"] and result["attempts"] == 10


def test_slow_attempts_do_not_extend_the_budget():
    clock = Clock()
    url = LB + "/healthz"
    fetch = Fetch(clock, {url: [socket.timeout("timed out")]}, cost=4.0)
    result = lc.poll({"name": "healthz", "url": url, "wait": False}, fetch, 10, 1.0, 4.0, clock=clock,
                     sleep=clock.sleep)
    assert not result["ok"] and result["error"] == "no answer within 4 s"
    assert result["seconds"] <= 10.0 + 4.0 and result["attempts"] == 3


def test_headers_go_with_the_request_through_the_balancer_only():
    clock = Clock()
    fetch = Fetch(clock)
    results, messages = run(fetch, clock, headers={"Authorization": "Bearer k3y"})
    assert messages == []
    sent = {c[0]: c[1] for c in fetch.calls}
    assert sent[LB + PATH] == {"Authorization": "Bearer k3y"}
    assert all(h == {} for u, h in sent.items() if u != LB + PATH)
    assert "k3y" not in repr(results)


def test_a_401_through_the_balancer_names_the_api_key():
    clock = Clock()
    fetch = Fetch(clock, {LB + PATH: [401]})
    messages = run(fetch, clock, retries=0, headers={"Authorization": "Bearer wrong"})[1]
    assert len(messages) == 1 and LB + PATH in messages[0] and "401: load_balancer_api_key" in messages[0]
    assert "wrong" not in messages[0]


def test_wait_for_listen_applies_to_the_first_balancer_check():
    http = lc.build_steps(LB + "/", PATH, ENDPOINTS, healthz=True, wait_for_listen=True)
    assert [c["wait"] for s in http for c in s] == [True, True, True, False]
    assert http[0][0]["url"] == LB + "/healthz"
    stream = lc.build_steps(LB, PATH, ENDPOINTS, healthz=False, wait_for_listen=True)
    assert [c["wait"] for s in stream for c in s] == [True, True, True]
    unchanged = lc.build_steps(LB, PATH, ENDPOINTS, healthz=True, wait_for_listen=False)
    assert [c["wait"] for s in unchanged for c in s] == [False, True, True, False]


def test_an_endpoint_without_key_is_named_by_address_and_port():
    steps = lc.build_steps(LB, PATH, [{"address": "10.0.0.5", "port": 9001}], healthz=False)
    assert steps[0][0]["url"] == "http://10.0.0.5:9001" + PATH and steps[0][0]["label"] == ""


@pytest.mark.parametrize("exc, text", [
    (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
    (urllib.error.URLError(ConnectionRefusedError(111, "x")), "connection refused"),
    (urllib.error.URLError(socket.timeout("timed out")), "no answer within 30 s"),
    (urllib.error.URLError("[SSL: WRONG_VERSION_NUMBER] wrong version number"), "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
    (ConnectionResetError(104, "Connection reset by peer"), "[Errno 104] Connection reset by peer"),
])
def test_describe_error(exc, text):
    assert lc.describe_error(exc, 30.0) == text
