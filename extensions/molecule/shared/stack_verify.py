"""The whole-stack verification every end-to-end scenario runs (imported by its tests/test_stack.py).

Expectations come from the scenario's own inventory (`ansible-inventory --list` on
MOLECULE_INVENTORY_FILE) and from the topology the servers were given (the fixture sysfs tree of
`numa_facts_sysfs_root`, or the real /sys): never from the code under test. Containers are looked up
with each host's engine (model_server_engine, load_balancer_engine).
"""

import json
import os
import subprocess
import time

import httpx
import pytest

from stack_checks import (
    chat,
    cpulist,
    inspect,
    instance_containers,
    keepalive_spread,
    listeners,
    model_name,
    nginx_test,
    pinning,
    upstreams_in_log,
)


def load_inventory():
    out = subprocess.run(["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--list"],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    hostvars = data.get("_meta", {}).get("hostvars", {})

    def group(name):
        return sorted(data.get(name, {}).get("hosts", []))

    servers = group("ovms_servers")
    balancers = group("ovms_load_balancers") or servers
    return {"hostvars": hostvars, "servers": servers, "balancers": balancers,
            "separate": bool(group("ovms_load_balancers"))}


def read_nodes(sysfs_root):
    """{node id: [online cpus]} of a sysfs tree (nodes without CPUs left out)."""
    base = os.path.join(sysfs_root, "devices/system/node")
    with open(os.path.join(sysfs_root, "devices/system/cpu/online"), encoding="ascii") as fh:
        online = set(cpulist(fh.read()))
    nodes = {}
    for entry in sorted(os.listdir(base)):
        if entry.startswith("node") and entry[4:].isdigit():
            with open(os.path.join(base, entry, "cpulist"), encoding="ascii") as fh:
                cpus = [c for c in cpulist(fh.read()) if c in online]
            if cpus:
                nodes[int(entry[4:])] = cpus
    return nodes


@pytest.fixture(scope="module")
def inventory():
    return load_inventory()


def balancer_url(hostvars):
    address = hostvars.get("load_balancer_listen_address", "0.0.0.0")
    if address in ("0.0.0.0", "::", "[::]"):
        address = "127.0.0.1"
    return "http://%s:%s" % (address, hostvars["load_balancer_listen_port"])


def published(info):
    """[(host ip, host port)] of a container's published ports."""
    out = []
    for bindings in (info["HostConfig"].get("PortBindings") or {}).values():
        for binding in bindings or []:
            out.append((binding.get("HostIp") or "0.0.0.0", int(binding["HostPort"])))
    return out


def ms_engine(inv, server):
    """The container engine of SERVER's model server instances (its model_server_engine)."""
    return inv["hostvars"][server].get("model_server_engine", "docker")


def lb_engine(inv, balancer):
    """The container engine of BALANCER's nginx (its load_balancer_engine)."""
    return inv["hostvars"][balancer].get("load_balancer_engine", "docker")


def expected_bind_address(inv, server):
    if not inv["separate"] or server in inv["balancers"]:
        return "127.0.0.1"
    return inv["hostvars"][server].get("model_server_bind_address", "0.0.0.0")


def endpoints(inv, server):
    """['address:port'] the balancer must reach for SERVER's instances."""
    found = []
    for info in instance_containers(server, ms_engine(inv, server)).values():
        for address, port in published(info):
            found.append("%s:%d" % (address, port))
    return sorted(found)


def all_endpoints(inv, balancer):
    servers = inv["servers"] if inv["separate"] else [balancer]
    return sorted(e for s in servers for e in endpoints(inv, s))


def test_one_pinned_instance_per_node(inventory):
    """Every node with CPUs has a running instance; the kernel enforces exactly that node's CPUs."""
    for server in inventory["servers"]:
        hv = inventory["hostvars"][server]
        nodes = read_nodes(hv.get("numa_facts_sysfs_root", "/sys"))
        containers = instance_containers(server, ms_engine(inventory, server))
        assert sorted(containers) == sorted("node%d" % n for n in nodes), (server, sorted(containers))
        for node, cpus in nodes.items():
            info = containers["node%d" % node]
            assert info["State"]["Running"], info["Name"]
            got_cpus, got_mems = pinning(info["Name"].lstrip("/"), ms_engine(inventory, server))
            assert got_cpus == cpus, (server, node, got_cpus)
            if hv.get("model_server_bind_memory", True):
                assert got_mems == [node], (server, node, got_mems)


def test_ports_bound_where_they_should_be(inventory):
    """Instance ports are published on the address the balancer uses, and only there; the balancer listens."""
    for server in inventory["servers"]:
        want = expected_bind_address(inventory, server)
        for info in instance_containers(server, ms_engine(inventory, server)).values():
            binds = published(info)
            assert binds, "%s publishes no port" % info["Name"]
            for address, port in binds:
                assert address == want, (info["Name"], address, want)
                assert listeners(port) == [want] or (want == "0.0.0.0" and listeners(port)), (port, listeners(port))
    for balancer in inventory["balancers"]:
        hv = inventory["hostvars"][balancer]
        assert listeners(int(hv["load_balancer_listen_port"])), "nothing listens on the balancer port"


def test_nginx_config_is_valid(inventory):
    for balancer in inventory["balancers"]:
        out = nginx_test(inventory["hostvars"][balancer]["load_balancer_container_name"], lb_engine(inventory, balancer))
        assert "test is successful" in out


def test_keepalive_client_reaches_every_instance(inventory):
    """Keep-alive clients: the balancer's log shows every instance answering. http mode: ONE
    connection carries all requests (L7 balances each request); stream mode: one connection per
    request slot (L4 balances connections, a connection stays on its instance)."""
    for balancer in inventory["balancers"]:
        hv = inventory["hostvars"][balancer]
        want = set(all_endpoints(inventory, balancer))
        assert len(want) >= 1
        model = model_name(inventory["hostvars"][inventory["servers"][0]]["model_server_models_dir"])
        since = time.time() - 1
        stream_mode = hv.get("load_balancer_mode", "http") == "stream"
        answers = keepalive_spread(balancer_url(hv), model, requests=6 * len(want),
                                   connections=2 * len(want) if stream_mode else 1)
        assert all(isinstance(a, str) and a for a in answers)
        time.sleep(1)
        seen = upstreams_in_log(hv["load_balancer_container_name"], since, lb_engine(inventory, balancer)) & want
        assert seen == want, "instances never reached: %s" % sorted(want - seen)


def test_streaming_through_balancer(inventory):
    for balancer in inventory["balancers"]:
        hv = inventory["hostvars"][balancer]
        model = model_name(inventory["hostvars"][inventory["servers"][0]]["model_server_models_dir"])
        with httpx.Client(timeout=60) as client:
            text = chat(client, balancer_url(hv), model, stream=True, max_tokens=12)
        assert text


def test_balancer_container_is_managed(inventory):
    for balancer in inventory["balancers"]:
        info = inspect(inventory["hostvars"][balancer]["load_balancer_container_name"], lb_engine(inventory, balancer))
        labels = info["Config"]["Labels"] or {}
        assert labels.get("io.numaserve.managed") == "true"
        assert labels.get("io.numaserve.host") == balancer
