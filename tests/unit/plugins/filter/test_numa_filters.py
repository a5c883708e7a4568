# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filter plugins cpuset, cpulist and instance_plan as Ansible calls them."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.filter.numa import FilterModule, cpulist, cpuset, instance_plan
from sysfs_fixture import cxl, dual_socket


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"cpuset", "cpulist", "instance_plan"}


@pytest.mark.parametrize("value, text", [
    ([3, 1, 0, 2, 8, 10, 11], "0-3,8,10-11"),
    ([], ""),
    ("3,0-2", "0-3"),
    (7, "7"),
    (["4", "5"], "4-5"),
])
def test_cpuset(value, text):
    assert cpuset(value) == text


@pytest.mark.parametrize("value", [[-1], ["a"], [1.5], "1--2", [None], True])
def test_cpuset_rejects(value):
    with pytest.raises(AnsibleFilterError, match="numaserve.ovms.cpuset"):
        cpuset(value)


@pytest.mark.parametrize("value, cpus", [
    ("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]),
    ("0-3\n\x00", [0, 1, 2, 3]),
    ("", []),
    ([5, 1, 1], [1, 5]),
])
def test_cpulist(value, cpus):
    assert cpulist(value) == cpus


@pytest.mark.parametrize("value, fragment", [
    ("3-1", "ends before it starts"),
    ("a,1", "'a' is not N or N-M"),
    ("1,,2", "'' is not N or N-M"),
    ("-4", "'-4' is not N or N-M"),
    (None, "expects a CPU list string"),
    ({"a": 1}, "expects a CPU list string"),
])
def test_cpulist_rejects_malformed_clearly(value, fragment):
    with pytest.raises(AnsibleFilterError) as exc:
        cpulist(value)
    assert fragment in str(exc.value)
    assert "numaserve.ovms.cpulist" in str(exc.value)


def test_instance_plan_defaults():
    plan = instance_plan(dual_socket().topology())
    assert [(i["name"], i["cpuset_cpus"], i["cpuset_mems"], i["rest_port"]) for i in plan] == [
        ("node0", "0-31,64-95", "0", 8003), ("node1", "32-63,96-127", "1", 8004)]


def test_instance_plan_error_is_a_filter_error_naming_the_option():
    with pytest.raises(AnsibleFilterError) as exc:
        instance_plan(cxl().topology(), instances=[{"name": "m", "nodes": [2]}], option_prefix="numa_facts_")
    assert "numa_facts_instances[0] (m) names node 2" in str(exc.value)
