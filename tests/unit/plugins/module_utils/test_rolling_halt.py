# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A halted rolling update (plugins/module_utils/rolling_halt.py and plugins/filter/rolling_halt.py):
the rollback's steps, the canary's problems, the halt line, the times kept of the waves."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.filter.rolling_halt import FilterModule
from ansible_collections.numaserve.ovms.plugins.module_utils import rolling_halt

F = FilterModule().filters()


def endpoint(host, instance, port):
    return {"host": host, "instance": instance, "container": "%s-ovms-%s" % (host, instance), "address": "10.0.0.1",
            "port": port}


def failure(host, instance, wave=2, phase="update", image="ovms:v3", text="not ready after 600 s:\n  model failed"):
    return {"host": host, "instance": instance, "container": "%s-ovms-%s" % (host, instance), "image": image,
            "failure": text, "wave": wave, "phase": phase, "canary": False}


def test_rollback_puts_the_replaced_then_the_failed_back_on_their_previous_image():
    replaced = [{"host": "s1", "instance": "node0", "image": "ovms:v3", "endpoint": endpoint("s1", "node0", 8001)},
                {"host": "s1", "instance": "node1", "image": "ovms:v3", "endpoint": endpoint("s1", "node1", 8002)}]
    steps = rolling_halt.rollback_steps(replaced, [failure("s2", "node0")])
    assert [(s["host"], s["instance"], s["rollback_image"], s["kind"]) for s in steps] == [
        ("s1", "node0", "ovms:v3", "in_place"), ("s1", "node1", "ovms:v3", "in_place"), ("s2", "node0", "ovms:v3", "in_place")]
    # The replaced ones are drained from where they serve now; the failed one serves nothing.
    assert steps[0]["leaving"] == endpoint("s1", "node0", 8001)
    assert steps[2]["leaving"] == {} and steps[2]["container"] == "s2-ovms-node0"


def test_rollback_skips_new_instances_canary_checks_and_repeats():
    replaced = [{"host": "s1", "instance": "node0", "image": "", "endpoint": endpoint("s1", "node0", 8001)}]
    canary = {"host": "", "instance": "", "image": "", "failure": "the canary check ...", "canary": True}
    twice = failure("s2", "node0")
    assert rolling_halt.rollback_steps(replaced, [canary, twice, dict(twice)]) == [
        {"kind": "in_place", "host": "s2", "instance": "node0", "container": "s2-ovms-node0", "leaving": {},
         "reasons": ["rollback"], "image": "ovms:v3", "rollback_image": "ovms:v3"}]
    assert rolling_halt.rollback_steps(None, None) == []


def test_canary_url_problem_names_the_url_and_the_last_answer():
    assert rolling_halt.canary_problems("http://lb/health", {"status": 200}, 60) == []
    assert rolling_halt.canary_problems("http://lb/health", {"status": 503}, 60) == [
        "the canary check http://lb/health did not answer HTTP 200 within 60 s (last answer: HTTP 503)"]
    assert rolling_halt.canary_problems("http://lb/health", {"status": -1, "msg": "Status code was -1 and not\n[200]"},
                                        60) == ["the canary check http://lb/health did not answer HTTP 200 within 60 s "
                                                "(last answer: Status code was -1 and not [200])"]
    # No URL named: nothing checked, whatever was registered.
    assert rolling_halt.canary_problems("", {"status": 500}, 60) == []


def test_canary_ttft_bound():
    fast = {"key": "10.0.0.1:8001", "median_ms": 120.0, "failed": 0}
    slow = {"key": "10.0.0.1:8002", "median_ms": 900.4, "failed": 0}
    broken = {"key": "10.0.0.1:8003", "median_ms": 100.0, "failed": 2}
    unmeasured = {"key": "10.0.0.1:8004", "median_ms": None, "failed": 0}
    assert rolling_halt.canary_problems(ttft=[fast], max_ttft_ms=500) == []
    assert rolling_halt.canary_problems(ttft=[fast, slow, broken, unmeasured], max_ttft_ms=500) == [
        "the canary 10.0.0.1:8002 had a median time to first token of 900 ms with 0 failed request(s) "
        "(rolling_update_canary_max_ttft_ms: 500)",
        "the canary 10.0.0.1:8003 had a median time to first token of 100 ms with 2 failed request(s) "
        "(rolling_update_canary_max_ttft_ms: 500)",
        "the canary 10.0.0.1:8004 could not be measured"]
    # A bound of 0 checks nothing.
    assert rolling_halt.canary_problems(ttft=[slow], max_ttft_ms=0) == []


def test_halt_line_without_rollback_says_how_to_resume_and_roll_back():
    line = rolling_halt.halt_line([failure("s2", "node0"), failure("s3", "node0")], 5, replaced=3)
    assert line == (
        "rolling_update: halted in wave 2 of 5: s2/node0 (s2-ovms-node0) failed its readiness gate: not ready after 600 s:"
        " model failed; also failed: s3/node0; 3 instance(s) were replaced before the halt, the instances of later waves"
        " still serve their old version, the failed one stays out of the balancers. To resume, fix the cause and run"
        " again (only what still differs is replaced); to roll back, run again with the previous model_server_image"
        " (ovms:v3) or with rolling_update_rollback_on_failure: true.")
    assert "\n" not in line


def test_halt_line_keeps_the_cause_and_leaves_the_log_lines_out():
    gate = ("model_server: instance node0 (container s2-ovms-node0, http://10.0.0.2:8001) failed the readiness gate "
            "after 0.8 s: /v1/config reports test/llm=LOADING/FAILED_PRECONDITION. Container state: running (exit code 0)."
            " Last 40 log lines:\n[2026-12-02 14:18:33.200][7][serving][info] starting\n...")
    line = rolling_halt.halt_line([failure("s2", "node0", text=gate)], 5, replaced=3)
    assert ("failed its readiness gate: model_server: instance node0 (container s2-ovms-node0, http://10.0.0.2:8001) "
            "failed the readiness gate after 0.8 s: /v1/config reports test/llm=LOADING/FAILED_PRECONDITION.; 3 instance(s)"
            ) in line
    assert "log lines" not in line and "\n" not in line


def test_halt_line_after_a_rollback():
    line = rolling_halt.halt_line([failure("s2", "node0")], 5, replaced=3, rollback=True, rolled_back=4)
    assert line.endswith("; rolled back 4 instance(s) to the image each ran before: every instance serves its old version.")
    broken = rolling_halt.halt_line([failure("s2", "node0"), failure("s2", "node0", wave=1, phase="rollback")], 5,
                                    replaced=3, rollback=True, rolled_back=4)
    assert "but the rollback failed on s2/node0: fix them and run again." in broken


def test_halt_line_of_a_canary_check_and_of_no_failure():
    canary = {"host": "", "instance": "", "image": "", "failure": "the canary check http://x did not answer", "wave": 1,
              "phase": "update", "canary": True}
    assert rolling_halt.halt_line([canary], 5).startswith(
        "rolling_update: halted in wave 1 of 5: the canary check http://x did not answer; 0 instance(s) were replaced")
    assert rolling_halt.halt_line([], 5) == ""


def test_timings_are_the_means_of_the_waves():
    measured = [{"drain_seconds": 1.0, "replace_seconds": 4.0, "instances": 1, "wave_seconds": 8.0},
                {"drain_seconds": 2.0, "replace_seconds": 3.0, "instances": 2, "wave_seconds": 10.0}]
    assert rolling_halt.timings(measured) == {"drain_seconds": 1.5, "replace_seconds": 3.5,
                                              "wave_overhead_seconds": 2.5, "waves": 2}
    assert rolling_halt.timings([]) == {}


def test_filters_wrap_errors():
    assert F["rolling_update_timings"]([]) == {}
    with pytest.raises(AnsibleFilterError, match="numaserve.ovms.rolling_update_timings"):
        F["rolling_update_timings"]([{"drain_seconds": 1}])
