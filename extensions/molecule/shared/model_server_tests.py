"""Testinfra checks of the model_server_* scenarios (imported by each scenario's tests/).

The expectations come from the scenario's inventory (host vars) and from the real system; the
plan itself is re-derived independently where the scenario fixes it (ms_expected_cpus).
"""

import json

import pytest

from ovms_testinfra import (
    Engine,
    bind_mounts,
    command,
    cpulist,
    cpuset,
    host_memory_nodes,
    labels,
    listening_sockets,
    proc_status,
    published_ports,
    testinfra_hosts as _hosts,
)

testinfra_hosts = _hosts()


@pytest.fixture(name="hv")
def fixture_hv(host):
    return host.ansible.get_variables()


@pytest.fixture(name="engine")
def fixture_engine(host, hv):
    return Engine(host, hv.get("model_server_engine", "docker"))


@pytest.fixture(name="instances")
def fixture_instances(engine, hv):
    found = engine.instances(hv["inventory_hostname"])
    assert found, "no managed container for %s" % hv["inventory_hostname"]
    return found


@pytest.fixture(name="endpoints")
def fixture_endpoints(host, hv):
    return json.loads(host.file(hv["ms_data_dir"] + "/endpoints.json").content_string)


def test_instances_run_named_by_prefix(instances, endpoints, hv):
    assert len(instances) >= 2 and len(instances) == len(endpoints)
    for name, info in instances.items():
        assert info["Name"].lstrip("/") == hv["model_server_container_prefix"] + name
        assert info["State"]["Running"] is True, info["State"]
        assert info["Config"]["Image"].endswith(hv["model_server_image"].split("/", 1)[-1])


def test_labels(instances, hv):
    for name, info in instances.items():
        found = labels(info)
        assert found["io.numaserve.managed"] == "true"
        assert found["io.numaserve.host"] == hv["inventory_hostname"]
        assert found["io.numaserve.instance"] == name
        assert len(found["io.numaserve.config-hash"]) == 16


def test_cpusets_are_disjoint_and_match_proc(host, engine, instances, hv):
    seen = set()
    for name, info in instances.items():
        cpus, mems = cpuset(info)
        status = proc_status(host, engine.main_pid(info["Name"].lstrip("/")))
        assert cpulist(status["Cpus_allowed_list"]) == cpulist(cpus), (name, status["Cpus_allowed_list"], cpus)
        assert not seen & set(cpulist(cpus)), "instances share CPUs"
        seen |= set(cpulist(cpus))
        if hv.get("model_server_bind_memory", True):
            assert mems != "", "memory binding on but no cpuset_mems"
            assert cpulist(status["Mems_allowed_list"]) == cpulist(mems)
        else:
            assert mems == ""
            assert cpulist(status["Mems_allowed_list"]) == host_memory_nodes(host)
    online = cpulist(host.file("/sys/devices/system/cpu/online").content_string)
    assert seen <= set(online)


def test_cpus_follow_the_fixture(instances, hv):
    """Where the scenario fixes the topology, each instance holds exactly its node's CPUs."""
    expected = hv.get("ms_expected_cpus")
    if not expected:
        pytest.skip("the real topology: no fixed expectation")
    assert {name: cpulist(cpuset(info)[0]) for name, info in instances.items()} == {
        name: cpulist(cpus) for name, cpus in expected.items()}


def _flag(info, flag):
    args = command(info)
    return args[args.index(flag) + 1] if flag in args else None


def test_ports_published_on_loopback_only(host, instances, endpoints, hv):
    by_instance = {e["instance"]: e for e in endpoints}
    for name, info in instances.items():
        ports = [by_instance[name]["port"]]
        assert _flag(info, "--rest_port") == str(ports[0])
        if hv.get("numa_facts_grpc_port_base"):
            ports.append(by_instance[name]["grpc_port"])
            assert _flag(info, "--port") == str(ports[1])
        else:
            assert by_instance[name]["grpc_port"] is None and _flag(info, "--port") is None
        assert published_ports(info) == sorted(("127.0.0.1", port, port) for port in ports)
        for port in ports:
            assert listening_sockets(host, port) == ["127.0.0.1:%d" % port]


def test_model_mount_read_only(instances, hv):
    for info in instances.values():
        mounts = bind_mounts(info)
        assert set(mounts) == {"/workspace"}
        assert mounts["/workspace"]["Source"] == hv["model_server_models_dir"]
        assert mounts["/workspace"]["RW"] is False


def test_non_root_without_privileges(host, engine, instances):
    for info in instances.values():
        status = proc_status(host, engine.main_pid(info["Name"].lstrip("/")))
        assert min(int(uid) for uid in status["Uid"].split()) == 5000
        assert status["NoNewPrivs"] == "1"
        assert int(status["CapEff"], 16) == 0
        assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"


def test_nofile_ulimit(host, engine, instances, hv):
    want = str(hv.get("model_server_ulimit_nofile", 16384))
    for info in instances.values():
        limits = host.file("/proc/%d/limits" % engine.main_pid(info["Name"].lstrip("/"))).content_string
        line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
        assert line.split()[3:5] == [want, want], line


def test_endpoints_answer_ready_with_model_available(host, instances, endpoints, hv):
    assert sorted(e["instance"] for e in endpoints) == sorted(instances)
    for endpoint in endpoints:
        info = instances[endpoint["instance"]]
        assert endpoint["host"] == hv["inventory_hostname"]
        assert endpoint["container"] == info["Name"].lstrip("/")
        assert endpoint["address"] == "127.0.0.1"
        assert endpoint["cpuset_cpus"] == cpuset(info)[0]
        assert endpoint["cpus"] == len(cpulist(endpoint["cpuset_cpus"]))
        ready = host.run("curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%s/v2/health/ready", str(endpoint["port"]))
        assert ready.stdout == "200"
        config = json.loads(host.check_output("curl -s http://127.0.0.1:%s/v1/config", str(endpoint["port"])))
        assert config["m"]["model_version_status"][0]["state"] == "AVAILABLE"
