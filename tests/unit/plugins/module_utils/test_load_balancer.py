# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""load_balancer: upstream collection (what roles/load_balancer/templates/endpoints.j2 computed before),
CPUs, container spec, nginx -t command, and the live upstream read back."""

import pytest

from ansible_collections.numaserve.ovms.plugins.module_utils import load_balancer as lb


def ep(host, instance, address, port, cpus=2, **extra):
    return dict({"host": host, "instance": instance, "container": "ovms-" + instance, "address": address,
                 "port": port, "grpc_port": None, "nodes": [0], "cpuset_cpus": "0-1", "cpus": cpus}, **extra)


def test_server_hosts():
    both = {"ovms_servers": ["s1", "s2"], "ovms_load_balancers": ["lb1"], "other": ["x"]}
    assert lb.server_hosts(both, "lb1") == ["s1", "s2"]
    assert lb.server_hosts(both, "lb1", "other") == ["x"]
    # no balancer hosts of their own: each host balances itself, in ovms_servers or not
    assert lb.server_hosts({"ovms_servers": ["s1"], "ovms_load_balancers": []}, "s1") == ["s1"]
    assert lb.server_hosts({"ungrouped": ["lb-http"]}, "lb-http") == ["lb-http"]


def test_upstream_collects_in_order_once():
    hostvars = {"s1": {"model_server_endpoints": [ep("s1", "node0", "10.0.0.1", 8001), ep("s1", "node1", "10.0.0.1", 8002)]},
                "s2": {"model_server_endpoints": [ep("s2", "node0", "10.0.0.2", 8001, cpus=4),
                                                  ep("s2", "dup", "10.0.0.1", 8001)]},
                "s3": {}}
    out = lb.upstream(["s1", "s2", "s3", "missing"], "lb1", [], hostvars)
    assert out[2]["endpoint"] == hostvars["s2"]["model_server_endpoints"][0]
    for entry in out:
        entry.pop("endpoint")
    assert out == [
        {"key": "10.0.0.1:8001", "address": "10.0.0.1", "port": 8001, "host": "s1", "instance": "node0", "cpus": 2},
        {"key": "10.0.0.1:8002", "address": "10.0.0.1", "port": 8002, "host": "s1", "instance": "node1", "cpus": 2},
        {"key": "10.0.0.2:8001", "address": "10.0.0.2", "port": 8001, "host": "s2", "instance": "node0", "cpus": 4},
    ]


def test_upstream_own_endpoints_come_from_the_balancers_variables():
    hostvars = {"s1": {"model_server_endpoints": [ep("s1", "stale", "127.0.0.1", 9999)]}}
    out = lb.upstream(["s1"], "s1", [ep("s1", "node0", "127.0.0.1", 8001)], hostvars)
    assert [e["key"] for e in out] == ["127.0.0.1:8001"]


def test_upstream_ipv6_and_defaults():
    out = lb.upstream(["s1"], "lb", [], {"s1": {"model_server_endpoints": [
        {"address": "fd00::1", "port": "8001"}, {"address": "10.0.0.1", "port": 8002, "cpus": None}]}})
    for entry in out:
        entry.pop("endpoint")
    assert out == [
        {"key": "[fd00::1]:8001", "address": "fd00::1", "port": 8001, "host": "s1", "instance": "", "cpus": 0},
        {"key": "10.0.0.1:8002", "address": "10.0.0.1", "port": 8002, "host": "s1", "instance": "", "cpus": 0},
    ]


def test_upstream_given_endpoints_replace_the_collection():
    given = [ep("s2", "node0", "10.0.0.2", 8001), ep("s2", "node0", "10.0.0.2", 8001), ep("s1", "node1", "10.0.0.1", 8002)]
    out = lb.upstream(["s1"], "lb", [ep("s1", "node0", "10.0.0.1", 8001)], {}, given)
    assert [(e["key"], e["host"]) for e in out] == [("10.0.0.2:8001", "s2"), ("10.0.0.1:8002", "s1")]
    with pytest.raises(lb.LoadBalancerError):
        lb.upstream([], "lb", [], {}, ["10.0.0.1:8001"])


def test_records():
    given = [ep("s1", "node0", "10.0.0.1", 8001), ep("s1", "node1", "10.0.0.1", 8002)]
    out = lb.records(lb.upstream([], "lb", [], {}, given), ["10.0.0.1:8002"])
    assert out == [dict(given[0], key="10.0.0.1:8001", down=False), dict(given[1], key="10.0.0.1:8002", down=True)]


@pytest.mark.parametrize("setting, free, expected", [
    ("auto", "0,32,64,96", "0,32,64,96"), ("auto", "", ""), ("auto", None, ""), ("", "0,1", ""), ("64", "0,64", "64"),
])
def test_cpuset(setting, free, expected):
    assert lb.cpuset(setting, free) == expected


def test_worker_processes():
    assert lb.worker_processes("auto", "0,32,64,96") == 4
    assert lb.worker_processes("auto", "") == "auto"
    assert lb.worker_processes("2", "0-7") == "2"


SETTINGS = {"image": "nginx:1.28.0", "network_mode": "host", "config_dir": "/etc/numaserve/nginx",
            "listen_address": "0.0.0.0", "listen_port": 8080, "stub_status_port": 0, "cpuset": "",
            "ulimit_nofile": 0, "ulimit_nproc": 0}


def test_container_spec_host_network():
    # what roles/load_balancer/tasks/run.yml passed to docker_container before the container layer
    assert lb.container_spec(SETTINGS, "lb1") == {
        "image": "nginx:1.28.0", "command": ["nginx", "-c", "/etc/numaserve/nginx/nginx.conf", "-g", "daemon off;"],
        "pull": "missing", "network_mode": "host", "cpuset_cpus": "", "published_ports": [],
        "volumes": ["/etc/numaserve/nginx:/etc/numaserve/nginx:ro"],
        "labels": {"io.numaserve.managed": "true", "io.numaserve.host": "lb1", "io.numaserve.component": "load_balancer"},
        "restart_policy": "unless-stopped"}


def test_container_spec_bridge_with_status_and_limits():
    spec = lb.container_spec(dict(SETTINGS, network_mode="bridge", listen_address="10.0.0.9", stub_status_port=8081,
                                  cpuset="0,64", ulimit_nofile=8192, ulimit_nproc=4096), "lb1")
    assert spec["published_ports"] == ["10.0.0.9:8080:8080", "127.0.0.1:8081:8081"]
    assert spec["cpuset_cpus"] == "0,64"
    assert spec["ulimits"] == {"nofile": 8192, "nproc": 4096}
    with pytest.raises(lb.LoadBalancerError, match="image"):
        lb.container_spec({"network_mode": "host"}, "lb1")


def test_validate_command():
    spec = lb.container_spec(SETTINGS, "lb1")
    # the command the template's validate used before (no limits)
    assert lb.validate_command(spec, "docker") == (
        "docker run --rm --network host --entrypoint nginx -v /etc/numaserve/nginx:/etc/numaserve/nginx:ro "
        "-v %s:/etc/numaserve/candidate/nginx.conf:ro nginx:1.28.0 -q -t -c /etc/numaserve/candidate/nginx.conf")
    spec = lb.container_spec(dict(SETTINGS, ulimit_nofile=8192, ulimit_nproc=4096), "lb1")
    assert "--entrypoint nginx --ulimit nofile=8192:8192 --ulimit nproc=4096:4096 -v " in lb.validate_command(spec, "podman")


# As templates/nginx.conf.j2 renders the upstream (http mode, weights, one endpoint down).
LIVE = """
    upstream numaserve_ovms {
        least_conn;
        zone numaserve_ovms 64k;
        # s1/node0 (2 CPUs)
        server 10.0.0.1:8001 weight=1 max_fails=1 fail_timeout=10s;
        # s1/node1 (4 CPUs)
        server 10.0.0.1:8002 weight=2 max_fails=1 fail_timeout=10s down;
        # s2/node0
        server [fd00::2]:8001 max_fails=1 fail_timeout=10s max_conns=4;
        keepalive 32;
    }
    server {
        listen 0.0.0.0:8080;
        server_tokens off;
    }
"""


def test_parse_upstream():
    assert lb.parse_upstream(LIVE) == [
        {"key": "10.0.0.1:8001", "address": "10.0.0.1", "port": 8001, "host": "s1", "instance": "node0", "cpus": 2,
         "down": False},
        {"key": "10.0.0.1:8002", "address": "10.0.0.1", "port": 8002, "host": "s1", "instance": "node1", "cpus": 4,
         "down": True},
        {"key": "[fd00::2]:8001", "address": "fd00::2", "port": 8001, "host": "s2", "instance": "node0", "cpus": 0,
         "down": False},
    ]
    assert lb.parse_upstream("") == []
