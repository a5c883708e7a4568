# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan of a rolling update (plugins/module_utils/rolling_plan.py) and its filters
(plugins/filter/rolling_update.py): in_place, moved and takeover steps, what serves, what is dead."""

import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.filter.rolling_update import FilterModule
from ansible_collections.numaserve.ovms.plugins.module_utils import rolling_plan

F = FilterModule().filters()


def endpoint(instance, port, grpc_port=None, address="10.0.0.1"):
    return {"host": "srv1", "instance": instance, "container": "ovms-" + instance, "address": address,
            "port": port, "grpc_port": grpc_port, "nodes": [0], "cpuset_cpus": "0-3", "cpus": 4}


def probed(instance, port=None, grpc_port=None, replace=False, reasons=(), port_moved=False):
    """A probe entry: running and serving on ``port``, or not running when ``port`` is None."""
    return {"instance": instance, "container": "ovms-" + instance, "running": port is not None,
            "image": "ovms:old-" + instance if port is not None else "",
            "endpoint": endpoint(instance, port, grpc_port) if port is not None else {},
            "replace": replace, "reasons": list(reasons), "port_moved": port_moved}


def planned(name, rest_port, grpc_port=None):
    return {"name": name, "rest_port": rest_port, "grpc_port": grpc_port, "numa_node": 0}


def stale(container, ep):
    return {"container": container, "endpoint": ep, "image": "ovms:stale"}


def kinds(steps):
    return [(s["kind"], s["instance"], s["container"]) for s in steps]


PLAN = [planned("node0", 8001, 9001), planned("node1", 8002, 9002)]


def test_nothing_to_do():
    probe = {"host": "srv1", "instances": [probed("node0", 8001, 9001), probed("node1", 8002, 9002)], "stale": []}
    assert rolling_plan.steps(probe, PLAN, "srv1") == []
    assert rolling_plan.steps(probe, PLAN, "srv1", apply_plan=True) == []
    assert rolling_plan.serving(probe) == [endpoint("node0", 8001, 9001), endpoint("node1", 8002, 9002)]
    assert rolling_plan.dead_stale(probe) == []


def test_one_in_place_step_keeps_the_probe_reasons_and_leaving_endpoint():
    probe = {"instances": [probed("node0", 8001, 9001, replace=True, reasons=["image"]), probed("node1", 8002)]}
    assert rolling_plan.steps(probe, PLAN, "srv1") == [{
        "kind": "in_place", "host": "srv1", "instance": "node0", "container": "ovms-node0",
        "leaving": endpoint("node0", 8001, 9001), "reasons": ["image"], "image": "ovms:old-node0"}]


def test_force_replaces_every_running_serving_instance_in_probe_order():
    probe = {"instances": [probed("node1", 8002), probed("node0", 8001), probed("down")]}
    steps = rolling_plan.steps(probe, PLAN, "srv1", force=True)
    assert kinds(steps) == [("in_place", "node1", "ovms-node1"), ("in_place", "node0", "ovms-node0")]
    assert [s["reasons"] for s in steps] == [[], []]


def test_an_instance_that_runs_but_does_not_serve_gets_no_step():
    probe = {"instances": [dict(probed("node0"), running=True, replace=True)]}
    assert rolling_plan.steps(probe, PLAN, "srv1", force=True, apply_plan=True) == []
    assert rolling_plan.serving(probe) == []


def test_a_moved_port_is_a_step_only_with_apply_plan():
    probe = {"instances": [probed("node0", 8101, replace=True, reasons=["ports"], port_moved=True),
                           probed("node1", 8002, replace=True, reasons=["command"])]}
    assert kinds(rolling_plan.steps(probe, PLAN, "srv1")) == [("in_place", "node1", "ovms-node1")]
    assert kinds(rolling_plan.steps(probe, PLAN, "srv1", apply_plan=True)) == [
        ("moved", "node0", "ovms-node0"), ("in_place", "node1", "ovms-node1")]


def test_takeover_of_a_stale_holder_of_the_rest_port():
    holder = endpoint("old0", 8001, 9101)
    probe = {"instances": [probed("node0"), probed("node1", 8002)], "stale": [stale("old-ovms-node0", holder)]}
    assert rolling_plan.steps(probe, PLAN, "srv1") == []
    assert rolling_plan.steps(probe, PLAN, "srv1", apply_plan=True) == [{
        "kind": "takeover", "host": "srv1", "instance": "node0", "container": "old-ovms-node0",
        "leaving": holder, "reasons": ["port held by old-ovms-node0"], "image": "ovms:stale"}]
    assert rolling_plan.serving(probe) == [endpoint("node1", 8002), holder]


def test_takeover_through_the_grpc_port_and_string_ports():
    probe = {"instances": [probed("node0")], "stale": [stale("old", endpoint("old", "7000", "9001"))]}
    plan = [planned("node0", "8001", "9001")]
    assert kinds(rolling_plan.steps(probe, plan, "srv1", apply_plan=True)) == [("takeover", "node0", "old")]


@pytest.mark.parametrize("grpc_port", [None, 0, ""])
def test_an_absent_grpc_port_holds_nothing(grpc_port):
    probe = {"instances": [probed("a")], "stale": [stale("s", endpoint("s", 7000, grpc_port))]}
    assert rolling_plan.steps(probe, [planned("a", 7001, grpc_port)], "srv1", apply_plan=True) == []


def test_a_stale_container_that_does_not_serve_is_dead_not_a_takeover():
    probe = {"instances": [probed("node0"), probed("node1", 8002)],
             "stale": [stale("dead1", {}), stale("old", endpoint("old", 8009)), stale("dead2", {})]}
    assert rolling_plan.steps(probe, PLAN, "srv1", apply_plan=True) == []
    assert rolling_plan.dead_stale(probe) == ["dead1", "dead2"]
    assert rolling_plan.serving(probe) == [endpoint("node1", 8002), endpoint("old", 8009)]


def test_nothing_runs():
    probe = {"instances": [probed("node0"), probed("node1")], "stale": []}
    assert rolling_plan.steps(probe, PLAN, "srv1", force=True, apply_plan=True) == []
    assert rolling_plan.serving(probe) == []


def test_several_instances_scale_down_and_prefix_change_in_plan_order():
    probe = {"instances": [probed("new-node0"), probed("new-node1"), probed("node2", 8003, replace=True, reasons=["cpuset"])],
             "stale": [stale("ovms-node0", endpoint("node0", 8001, 9001)), stale("ovms-node1", endpoint("node1", 8002, 9002)),
                       stale("ovms-dead", {})]}
    plan = [planned("new-node0", 8001, 9001), planned("new-node1", 9002), planned("node2", 8003), planned("unprobed", 8002)]
    steps = rolling_plan.steps(probe, plan, "srv1", apply_plan=True)
    assert kinds(steps) == [("in_place", "node2", "ovms-node2"), ("takeover", "new-node0", "ovms-node0"),
                            ("takeover", "new-node1", "ovms-node1")]


def test_a_planned_instance_is_taken_over_once_and_one_stale_may_free_two():
    two_holders = {"instances": [probed("a")], "stale": [stale("s1", endpoint("s1", 8001)), stale("s2", endpoint("s2", 9001))]}
    assert kinds(rolling_plan.steps(two_holders, [planned("a", 8001, 9001)], "srv1", apply_plan=True)) == [("takeover", "a", "s1")]
    one_holder = {"instances": [probed("a"), probed("b")], "stale": [stale("big", endpoint("big", 8001, 8002))]}
    plan = [planned("a", 8001), planned("b", 8002)]
    assert kinds(rolling_plan.steps(one_holder, plan, "srv1", apply_plan=True)) == [("takeover", "a", "big"), ("takeover", "b", "big")]


def test_a_running_planned_instance_is_not_taken_over():
    probe = {"instances": [probed("a", 8001)], "stale": [stale("s", endpoint("s", 8001))]}
    assert rolling_plan.steps(probe, [planned("a", 8001)], "srv1", apply_plan=True) == []


@pytest.mark.parametrize("probe", [None, {}, {"host": "srv1"}, {"instances": None, "stale": None}])
def test_an_empty_probe_has_no_steps(probe):
    assert rolling_plan.steps(probe, PLAN, "srv1", force=True, apply_plan=True) == []
    assert rolling_plan.serving(probe) == []
    assert rolling_plan.dead_stale(probe) == []


def test_steps_share_nothing_with_the_probe():
    probe = {"instances": [probed("node0", 8001, replace=True, reasons=["image"])]}
    before = copy.deepcopy(probe)
    steps = rolling_plan.steps(probe, PLAN, "srv1")
    steps[0]["leaving"]["port"] = 1
    steps[0]["reasons"].append("x")
    assert probe == before


def test_filters_wrap_the_functions_and_name_themselves_on_bad_input():
    probe = {"instances": [probed("node0", 8001, replace=True)], "stale": [stale("d", {})]}
    assert F["rolling_update_steps"](probe, PLAN, "srv1", force=False, apply_plan=False) == rolling_plan.steps(probe, PLAN, "srv1")
    assert F["rolling_update_serving"](probe) == [endpoint("node0", 8001)]
    assert F["rolling_update_dead_stale"](probe) == ["d"]
    with pytest.raises(AnsibleFilterError, match="rolling_update_steps"):
        F["rolling_update_steps"]("not a probe", PLAN, "srv1")
    with pytest.raises(AnsibleFilterError, match="rolling_update_steps: expects ovms_instances"):
        F["rolling_update_steps"]({}, "node0", "srv1")
    with pytest.raises(AnsibleFilterError, match="rolling_update_serving"):
        F["rolling_update_serving"]({"instances": ["x"]})
