# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The waves of a rolling update (plugins/module_utils/rolling_waves.py): how many instances may be out
of the balancers at once, the canary, no host losing all its instances, the estimate and the preview."""

import re

import pytest

from ansible_collections.numaserve.ovms.plugins.module_utils import rolling_waves


def step(host, instance, port, address=None, kind="in_place"):
    address = address or "127.0.1.%s" % host.replace("server", "")
    leaving = {"host": host, "instance": instance, "container": "ovms-" + instance, "address": address, "port": port}
    return {"kind": kind, "host": host, "instance": instance, "container": "ovms-" + instance, "leaving": leaving,
            "reasons": ["image"], "image": "ovms:v1"}


def fleet(hosts=8, per_host=2):
    """Every server's steps in inventory order (server1/node0, server1/node1, server2/node0, ...) and
    how many instances serve on each."""
    steps = [step("server%d" % h, "node%d" % n, 19301 + n) for h in range(1, hosts + 1) for n in range(per_host)]
    serving = dict(("server%d" % h, per_host) for h in range(1, hosts + 1))
    return steps, serving


def names(wave):
    return ["%s/%s" % (s["host"], s["instance"]) for s in wave["steps"]]


def per_host(wave):
    counts = {}
    for s in wave["steps"]:
        counts[s["host"]] = counts.get(s["host"], 0) + 1
    return counts


# resolve_max_unavailable


@pytest.mark.parametrize("value, total, expected", [
    (1, 16, 1), (4, 16, 4), ("3", 16, 3), (20, 16, 20),
    ("25%", 16, 4), ("50%", 16, 8), ("100%", 16, 16),
    ("1%", 16, 1), ("10%", 16, 1), ("30%", 16, 4),  # rounded down (16 * 0.3 = 4.8), at least 1
    ("25%", 0, 1), ("99%", 3, 2),
])
def test_max_unavailable_counts_and_percentages(value, total, expected):
    assert rolling_waves.resolve_max_unavailable(value, total) == expected


@pytest.mark.parametrize("value", ["0", 0, "0%", "150%", "101%", "abc", "", -1, "-1", True, False, None, "25%%", 2.5])
def test_max_unavailable_bad_values_name_the_variable_and_the_fix(value):
    with pytest.raises(ValueError) as err:
        rolling_waves.resolve_max_unavailable(value, 16)
    text = str(err.value)
    assert text.startswith("rolling_update_max_unavailable: ")
    assert "count >= 1" in text and "25%" in text


# plan_waves


def test_eight_hosts_of_two_at_25_percent_make_a_canary_and_four_waves():
    steps, serving = fleet()
    limit = rolling_waves.resolve_max_unavailable("25%", len(steps))
    waves = rolling_waves.plan_waves(steps, serving, limit)
    assert [len(w["steps"]) for w in waves] == [1, 4, 4, 4, 3]
    assert [w["index"] for w in waves] == [1, 2, 3, 4, 5]
    assert [w["canary"] for w in waves] == [True, False, False, False, False]
    assert names(waves[0]) == ["server1/node0"]
    # greedy first fit in step order: server2/node1 does not fit beside server2/node0 and waits for wave 3
    assert names(waves[1]) == ["server1/node1", "server2/node0", "server3/node0", "server4/node0"]
    assert names(waves[2]) == ["server2/node1", "server3/node1", "server4/node1", "server5/node0"]
    assert names(waves[3]) == ["server5/node1", "server6/node0", "server7/node0", "server8/node0"]
    assert names(waves[4]) == ["server6/node1", "server7/node1", "server8/node1"]
    for wave in waves:
        assert max(per_host(wave).values()) == 1, "a host lost both its instances in wave %d" % wave["index"]
    planned = [s for w in waves for s in w["steps"]]
    assert sorted(id(s) for s in planned) == sorted(id(s) for s in steps)  # each step in exactly one wave


def test_order_inside_a_wave_is_step_order():
    steps, serving = fleet()
    waves = rolling_waves.plan_waves(steps, serving, 4)
    for wave in waves:
        positions = [steps.index(s) for s in wave["steps"]]
        assert positions == sorted(positions)


def test_one_at_a_time_makes_one_wave_per_instance():
    steps, serving = fleet()
    waves = rolling_waves.plan_waves(steps, serving, 1)
    assert len(waves) == 16
    assert [names(w) for w in waves] == [["%s/%s" % (s["host"], s["instance"])] for s in steps]
    assert [w["canary"] for w in waves] == [True] + [False] * 15


def test_half_of_the_fleet_at_once_still_keeps_one_instance_per_host():
    steps, serving = fleet()
    limit = rolling_waves.resolve_max_unavailable("50%", len(steps))
    assert limit == 8
    waves = rolling_waves.plan_waves(steps, serving, limit, canary=0)
    assert [len(w["steps"]) for w in waves] == [8, 8]
    assert [sorted(per_host(w)) for w in waves] == [sorted(serving)] * 2


def test_a_host_with_one_serving_instance_still_gets_its_step_alone_for_that_host():
    steps = [step("server1", "node0", 19301), step("server2", "node0", 19301), step("server2", "node1", 19302)]
    waves = rolling_waves.plan_waves(steps, {"server1": 1, "server2": 2}, 3, canary=0)
    assert [names(w) for w in waves] == [["server1/node0", "server2/node0"], ["server2/node1"]]


def test_a_host_with_three_serving_may_lose_two_at_once():
    steps = [step("server1", "node%d" % n, 19301 + n) for n in range(3)]
    waves = rolling_waves.plan_waves(steps, {"server1": 3}, 3, canary=0)
    assert [len(w["steps"]) for w in waves] == [2, 1]


def test_a_host_missing_from_serving_gets_one_step_per_wave():
    steps = [step("server1", "node0", 19301), step("server1", "node1", 19302)]
    waves = rolling_waves.plan_waves(steps, {}, 2, canary=0)
    assert [len(w["steps"]) for w in waves] == [1, 1]


def test_allow_host_unavailable_lets_both_instances_of_a_host_go_together():
    steps, serving = fleet()
    waves = rolling_waves.plan_waves(steps, serving, 4, allow_host_unavailable=True)
    assert [len(w["steps"]) for w in waves] == [1, 4, 4, 4, 3]
    assert names(waves[1]) == ["server1/node1", "server2/node0", "server2/node1", "server3/node0"]
    assert max(per_host(waves[1]).values()) == 2
    one_host = [step("server1", "node0", 19301), step("server1", "node1", 19302)]
    assert len(rolling_waves.plan_waves(one_host, {"server1": 2}, 2, canary=0, allow_host_unavailable=True)) == 1
    assert len(rolling_waves.plan_waves(one_host, {"server1": 2}, 2, canary=0)) == 2


def test_canary_zero_means_no_canary_wave():
    steps, serving = fleet()
    waves = rolling_waves.plan_waves(steps, serving, 4, canary=0)
    assert [len(w["steps"]) for w in waves] == [4, 4, 4, 4]
    assert not any(w["canary"] for w in waves)
    assert names(waves[0]) == ["server1/node0", "server2/node0", "server3/node0", "server4/node0"]


def test_a_larger_canary_is_clamped_to_max_unavailable():
    steps, serving = fleet()
    waves = rolling_waves.plan_waves(steps, serving, 4, canary=10)
    assert waves[0]["canary"] is True
    assert len(waves[0]["steps"]) == 4
    assert [len(w["steps"]) for w in waves] == [4, 4, 4, 4]
    two = rolling_waves.plan_waves(steps, serving, 4, canary=2)
    assert [len(w["steps"]) for w in two] == [2, 4, 4, 4, 2]


def test_no_steps_no_waves():
    assert rolling_waves.plan_waves([], {"server1": 2}, 4) == []
    assert rolling_waves.plan_waves(None, None, 1) == []


def test_a_step_without_endpoint_is_planned_and_previewed_as_not_serving():
    gone = dict(step("server1", "node0", 19301), leaving={})
    waves = rolling_waves.plan_waves([gone, step("server2", "node0", 19301)], {"server1": 0, "server2": 2}, 2,
                                     canary=0)
    assert [names(w) for w in waves] == [["server1/node0", "server2/node0"]]
    assert rolling_waves.preview_lines(waves, None)[0] == \
        "rolling_update: wave 1 of 1: server1/node0 (not serving), server2/node0 (127.0.1.2:19301)"


@pytest.mark.parametrize("canary", [-1, "1", True, 1.0])
def test_bad_canary_names_the_variable(canary):
    steps, serving = fleet()
    with pytest.raises(ValueError, match=r"^rolling_update_canary: "):
        rolling_waves.plan_waves(steps, serving, 4, canary=canary)


# estimate


TIMES = {"drain_seconds": 1.0, "replace_seconds": 4.0, "wave_overhead_seconds": 2.0}


def test_estimate_without_timings_is_unknown():
    steps, serving = fleet()
    waves = rolling_waves.plan_waves(steps, serving, 4)
    for timings in ({}, None, {"server1": {}}):
        result = rolling_waves.estimate(waves, timings)
        assert result == {"seconds": None, "waves": [None] * 5, "basis": "no update measured yet on these servers"}


def test_estimate_takes_the_slowest_step_of_each_wave_plus_the_overhead_and_the_canary_pause():
    steps, serving = fleet(hosts=2)  # waves: [server1/node0] [server1/node1, server2/node0] [server2/node1]
    waves = rolling_waves.plan_waves(steps, serving, 2)
    timings = {"server1": TIMES,
               "server2": {"drain_seconds": 3.0, "replace_seconds": 10.0, "wave_overhead_seconds": 4.0}}
    result = rolling_waves.estimate(waves, timings, pause_seconds=30)
    # overhead: mean 3.0; wave 1: 5 + 3 + 30 (pause); wave 2: max(5, 13) + 3; wave 3: 13 + 3
    assert result["waves"] == [38.0, 16.0, 16.0]
    assert result["seconds"] == 70.0
    assert result["basis"].startswith("from the last update")
    assert "2 of 2 servers" in result["basis"]
    assert "drain 2.0 s, replace 7.0 s, overhead 3.0 s per wave" in result["basis"]


def test_a_host_without_timings_counts_the_mean_of_the_known_ones():
    steps, serving = fleet(hosts=3)
    waves = rolling_waves.plan_waves(steps, serving, 1, canary=0)
    timings = {"server1": TIMES,
               "server2": {"drain_seconds": 3.0, "replace_seconds": 6.0, "wave_overhead_seconds": 0.0}}
    result = rolling_waves.estimate(waves, timings)
    # overhead mean 1.0; server3 (unknown): drain mean 2.0 + replace mean 5.0
    assert result["waves"] == [6.0, 6.0, 10.0, 10.0, 8.0, 8.0]
    assert result["seconds"] == 48.0
    assert "2 of 3 servers" in result["basis"]


def test_a_server_replaces_its_instances_of_a_wave_one_after_the_other():
    steps, serving = fleet(hosts=2)
    waves = rolling_waves.plan_waves(steps, serving, 4, canary=0, allow_host_unavailable=True)
    assert [names(w) for w in waves] == [["server1/node0", "server1/node1", "server2/node0", "server2/node1"]]
    timings = {"server1": TIMES}  # server2: the means (the same figures)
    # drain 1 + 2 x replace 4 + overhead 2, not drain + replace + overhead
    assert rolling_waves.estimate(waves, timings)["waves"] == [11.0]


# preview_lines


LINE = re.compile(r"^rolling_update: wave (\d+) of (\d+)( \(canary\))?: (.+)$")
LAST = re.compile(r"^rolling_update: (\d+) waves, (\d+) instances, at most (\d+) out of the balancers at once, "
                  r"(about (\d+) s|duration unknown) \((.+)\)$")


def test_preview_of_the_fleet_at_25_percent():
    steps, serving = fleet()
    waves = rolling_waves.plan_waves(steps, serving, 4)
    timings = dict(("server%d" % h, TIMES) for h in range(1, 9))
    estimated = rolling_waves.estimate(waves, timings)
    lines = rolling_waves.preview_lines(waves, estimated)
    assert len(lines) == 6
    assert lines[0] == "rolling_update: wave 1 of 5 (canary): server1/node0 (127.0.1.1:19301)"
    assert lines[1] == ("rolling_update: wave 2 of 5: server1/node1 (127.0.1.1:19302), server2/node0 (127.0.1.2:19301), "
                        "server3/node0 (127.0.1.3:19301), server4/node0 (127.0.1.4:19301)")
    for number, line in enumerate(lines[:-1], 1):
        match = LINE.match(line)
        assert match and int(match.group(1)) == number and match.group(2) == "5"
        assert bool(match.group(3)) == (number == 1)
        assert len(match.group(4).split(", ")) == len(waves[number - 1]["steps"])
    # 5 waves of 5 s (drain + replace) + 2 s overhead
    assert lines[-1] == ("rolling_update: 5 waves, 16 instances, at most 4 out of the balancers at once, about 35 s "
                         "(%s)" % estimated["basis"])
    assert "8 of 8 servers" in lines[-1]
    assert LAST.match(lines[-1]).group(5) == "35"


def test_preview_without_timings_says_duration_unknown():
    steps, serving = fleet(hosts=2)
    waves = rolling_waves.plan_waves(steps, serving, 1)
    lines = rolling_waves.preview_lines(waves, rolling_waves.estimate(waves, {}))
    assert lines[-1] == ("rolling_update: 4 waves, 4 instances, at most 1 out of the balancers at once, "
                         "duration unknown (no update measured yet on these servers)")
    assert LAST.match(lines[-1]).group(4) == "duration unknown"


def test_preview_brackets_ipv6_keys():
    waves = rolling_waves.plan_waves([step("server1", "node0", 8001, address="fd00::1")], {"server1": 2}, 1)
    assert rolling_waves.preview_lines(waves, None)[0] == \
        "rolling_update: wave 1 of 1 (canary): server1/node0 ([fd00::1]:8001)"


def test_summary_is_the_public_fact():
    gone = dict(step("server1", "node1", 19302, kind="moved"), leaving={})
    waves = rolling_waves.plan_waves([step("server1", "node0", 19301), gone], {"server1": 2}, 1)
    assert rolling_waves.summary(waves) == [
        {"index": 1, "canary": True,
         "steps": [{"host": "server1", "instance": "node0", "kind": "in_place", "key": "127.0.1.1:19301"}]},
        {"index": 2, "canary": False,
         "steps": [{"host": "server1", "instance": "node1", "kind": "moved", "key": ""}]},
    ]


def test_estimate_counts_one_replacement_per_instance_of_a_server_in_the_wave():
    # allow_host_unavailable: both instances of s1 in one wave; they drain together, then are replaced
    # one after the other.
    two = [{"host": "s1", "instance": "node%d" % i, "kind": "in_place",
            "leaving": {"address": "10.0.0.1", "port": 8001 + i}} for i in range(2)]
    waves = rolling_waves.plan_waves(two, {"s1": 2}, 2, canary=0, allow_host_unavailable=True)
    assert [w["width"] for w in waves] == [2]
    timings = {"s1": {"drain_seconds": 1.0, "replace_seconds": 4.0, "wave_overhead_seconds": 2.0}}
    assert rolling_waves.estimate(waves, timings)["waves"] == [1.0 + 2 * 4.0 + 2.0]
