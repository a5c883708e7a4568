# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The wave filters (plugins/filter/rolling_waves.py) as the role numaserve.ovms.rolling_update calls them:
the variable's value as given (an int or a str such as "25%"), errors as AnsibleFilterError."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.filter.rolling_waves import FilterModule

F = FilterModule().filters()


def step(host, instance, port):
    address = "127.0.1.%s" % host.replace("server", "")
    return {"kind": "in_place", "host": host, "instance": instance, "container": "ovms-" + instance,
            "leaving": {"host": host, "instance": instance, "address": address, "port": port}, "reasons": []}


STEPS = [step("server%d" % h, "node%d" % n, 19301 + n) for h in range(1, 9) for n in range(2)]
SERVING = dict(("server%d" % h, 2) for h in range(1, 9))


def test_the_filters_are_there():
    assert set(F) >= {"rolling_update_waves", "rolling_update_max_unavailable", "rolling_update_wave_estimate",
                      "rolling_update_preview", "rolling_update_wave_summary"}


def test_waves_resolve_the_percentage_of_all_planned_instances():
    waves = F["rolling_update_waves"](STEPS, SERVING, "25%", 16)
    assert [len(w["steps"]) for w in waves] == [1, 4, 4, 4, 3]
    assert waves[0]["canary"] is True
    # the percentage is of ``total`` (all planned instances), not of the steps: 25% of 40 is 10
    assert [len(w["steps"]) for w in F["rolling_update_waves"](STEPS, SERVING, "25%", 40, canary=0)] == [8, 8]


def test_waves_keyword_arguments():
    waves = F["rolling_update_waves"](STEPS[:2], {"server1": 2}, 2, 16, canary=0, allow_host_unavailable=True)
    assert len(waves) == 1 and waves[0]["canary"] is False


def test_max_unavailable():
    assert F["rolling_update_max_unavailable"]("50%", 16) == 8
    assert F["rolling_update_max_unavailable"]("1%", 16) == 1
    assert F["rolling_update_max_unavailable"]("3", 16) == 3
    assert F["rolling_update_max_unavailable"](2, 16) == 2


@pytest.mark.parametrize("value", ["0", "0%", "150%", "abc", -1, True])
def test_bad_max_unavailable_is_a_filter_error_naming_the_variable(value):
    for call in (lambda: F["rolling_update_max_unavailable"](value, 16),
                 lambda: F["rolling_update_waves"](STEPS, SERVING, value, 16)):
        with pytest.raises(AnsibleFilterError, match="rolling_update_max_unavailable: .*25%"):
            call()


def test_bad_canary_is_a_filter_error_naming_the_variable():
    with pytest.raises(AnsibleFilterError, match="rolling_update_canary: "):
        F["rolling_update_waves"](STEPS, SERVING, 1, 16, canary=-1)


def test_estimate_and_preview_chain_as_in_the_role():
    waves = F["rolling_update_waves"](STEPS, SERVING, "25%", 16)
    timings = {"server1": {"drain_seconds": 1.5, "replace_seconds": 4.5, "wave_overhead_seconds": 4.0}}
    estimated = F["rolling_update_wave_estimate"](waves, timings, 10)
    assert estimated["waves"] == [20.0, 10.0, 10.0, 10.0, 10.0]
    assert estimated["seconds"] == 60.0
    lines = F["rolling_update_preview"](waves, estimated)
    assert lines[0] == "rolling_update: wave 1 of 5 (canary): server1/node0 (127.0.1.1:19301)"
    assert lines[-1].startswith("rolling_update: 5 waves, 16 instances, at most 4 out of the balancers at once, "
                                "about 60 s (from the last update")
    unknown = F["rolling_update_preview"](waves, F["rolling_update_wave_estimate"](waves, {}))
    assert unknown[-1].endswith("duration unknown (no update measured yet on these servers)")


def test_summary_keys():
    waves = F["rolling_update_waves"](STEPS[:1], SERVING, 1, 16)
    assert F["rolling_update_wave_summary"](waves) == [
        {"index": 1, "canary": True,
         "steps": [{"host": "server1", "instance": "node0", "kind": "in_place", "key": "127.0.1.1:19301"}]}]


def test_malformed_input_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="numaserve.ovms.rolling_update_waves"):
        F["rolling_update_waves"](["not a step"], SERVING, 1, 16)
    with pytest.raises(AnsibleFilterError, match="numaserve.ovms.rolling_update_wave_estimate"):
        F["rolling_update_wave_estimate"]([{"index": 1, "steps": [STEPS[0]]}],
                                          {"server1": {"drain_seconds": "slow"}})
