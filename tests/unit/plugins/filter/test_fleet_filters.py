# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Who balances whom: the one definition every role and playbook uses (plugins/module_utils/fleet.py)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.filter.fleet import FilterModule

F = FilterModule().filters()
DEMO = {"all": ["a", "b"], "ovms_servers": ["a", "b"], "ungrouped": []}
FLEET = {"all": ["a", "b", "lb1", "lb2"], "ovms_servers": ["a", "b"], "ovms_load_balancers": ["lb1", "lb2"]}


def test_without_balancer_group_each_server_balances_itself():
    assert F["balancer_hosts"](DEMO) == ["a", "b"]
    assert F["balancers_of"](DEMO, "b") == ["b"]
    assert F["servers_of"](DEMO, "a") == ["a"]


def test_an_empty_balancer_group_counts_as_absent():
    groups = dict(DEMO, ovms_load_balancers=[])
    assert F["balancer_hosts"](groups) == ["a", "b"]
    assert F["balancers_of"](groups, "a") == ["a"]


def test_balancer_group_routes_to_every_server():
    assert F["balancer_hosts"](FLEET) == ["lb1", "lb2"]
    assert F["balancers_of"](FLEET, "a") == ["lb1", "lb2"]
    assert F["servers_of"](FLEET, "lb2") == ["a", "b"]


def test_hosts_outside_the_groups_have_no_balancer_and_no_server():
    assert F["balancers_of"](DEMO, "stranger") == []
    assert F["servers_of"](FLEET, "a") == []
    assert F["servers_of"](DEMO, "stranger") == []


def test_a_server_that_also_balances_is_listed_once():
    groups = {"ovms_servers": ["a", "b"], "ovms_load_balancers": ["a"]}
    assert F["balancer_hosts"](groups) == ["a"]
    assert F["balancers_of"](groups, "b") == ["a"]


@pytest.mark.parametrize("endpoint, key", [
    ({"address": "127.0.0.1", "port": 8001}, "127.0.0.1:8001"),
    ({"address": "10.0.0.5", "port": "18103"}, "10.0.0.5:18103"),
    ({"address": "fd00::1", "port": 8001}, "[fd00::1]:8001"),
    ({"address": "[fd00::1]", "port": 8001}, "[fd00::1]:8001"),
])
def test_endpoint_key(endpoint, key):
    assert F["endpoint_key"](dict(endpoint, host="a", instance="node0")) == key


@pytest.mark.parametrize("bad", [None, "127.0.0.1:8001", {"address": "127.0.0.1"}, {"port": 1}])
def test_endpoint_key_refuses_what_is_not_an_endpoint(bad):
    with pytest.raises(AnsibleFilterError, match="endpoint_key"):
        F["endpoint_key"](bad)


def test_balancer_hosts_refuses_what_is_not_groups():
    with pytest.raises(AnsibleFilterError, match="balancer_hosts: expects the inventory's `groups`"):
        F["balancer_hosts"](["a"])
