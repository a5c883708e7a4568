# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters of plugins/filter/load_balancer.py (wrappers of module_utils/load_balancer*.py)."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.filter.load_balancer import FilterModule

F = FilterModule().filters()

HOLDER = {"port": 8080, "address": "0.0.0.0", "label": "load_balancer_listen_port", "held_address": "0.0.0.0",
          "inode": 7, "pid": 600, "comm": "nginx", "ancestors": [590, 1]}
WANTED = [{"port": 8080, "address": "0.0.0.0", "label": "load_balancer_listen_port"}]


def container(pid, running=True, ports=()):
    return {"name": "numaserve-lb", "id": "x", "running": running, "state": "running" if running else "exited",
            "labels": {}, "ports": [{"host_ip": "0.0.0.0", "host_port": p, "container_port": p} for p in ports],
            "pid": pid if running else 0}


def test_port_problems_own_container():
    assert F["load_balancer_port_problems"]([HOLDER], WANTED, [container(600)], "lb1") == []
    assert F["load_balancer_port_problems"]([dict(HOLDER, pid=4000, comm="docker-proxy", ancestors=[300, 1])],
                                            WANTED, [container(600, ports=[8080])], "lb1") == []


def test_port_problems_stopped_or_no_container():
    for own in ([container(600, running=False)], [], None):
        problems = F["load_balancer_port_problems"]([HOLDER], WANTED, own, "lb1")
        assert problems == ["load_balancer_listen_port: port 8080 on lb1 is already held by another process: nginx "
                            "(pid 600), listening on 0.0.0.0:8080. Stop that process or choose another "
                            "load_balancer_listen_port."]


def test_upstream_with_hostvars_mapping():
    hostvars = {"s2": {"model_server_endpoints": [{"host": "s2", "instance": "n0", "address": "10.0.0.2", "port": 8001}]}}
    out = F["load_balancer_upstream"](["s1", "s2"], "s1", [{"host": "s1", "instance": "n0", "address": "10.0.0.1",
                                                           "port": 8001}], hostvars)
    assert [e["key"] for e in out] == ["10.0.0.1:8001", "10.0.0.2:8001"]
    with pytest.raises(AnsibleFilterError, match="numaserve.ovms.load_balancer_upstream"):
        F["load_balancer_upstream"](["s1"], "s1", ["10.0.0.1:8001"], {})


def test_server_hosts_and_cpus():
    assert F["load_balancer_server_hosts"]({"ovms_load_balancers": ["lb"], "ovms_servers": ["a", "b"]}, "lb") == ["a", "b"]
    assert F["load_balancer_workers"]("auto", F["load_balancer_cpuset"]("auto", "0-3")) == 4
    with pytest.raises(AnsibleFilterError, match="load_balancer_workers"):
        F["load_balancer_workers"]("auto", "3-1")
