"""Preflight of role numaserve.ovms.model_server: wrong input fails before anything changes, with a
message naming the variable and the fix. Runs ansible-playbook (shared/model_server_apply.yml) on
the converged scenario host with one thing wrong at a time.
"""

import json
import os
import shutil
import socket
import subprocess

import pytest

from ovms_testinfra import Engine, testinfra_hosts as _hosts

testinfra_hosts = _hosts()
APPLY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_server_apply.yml")


@pytest.fixture(name="hv")
def fixture_hv(host):
    return host.ansible.get_variables()


@pytest.fixture(name="plan")
def fixture_plan(host, hv):
    """The converged plan, rebuilt from the endpoints converge kept."""
    endpoints = json.loads(host.file(hv["ms_data_dir"] + "/endpoints.json").content_string)
    return [{"name": e["instance"], "nodes": e["nodes"], "cpuset_cpus": e["cpuset_cpus"],
             "cpuset_mems": ",".join(str(n) for n in e["nodes"]), "rest_port": e["port"],
             "grpc_port": e["grpc_port"], "cpus": e["cpus"]} for e in endpoints]


@pytest.fixture(name="untouched")
def fixture_untouched(host, hv):
    """Asserts, after the test, that no managed container of the host was recreated or removed."""
    engine = Engine(host, hv.get("model_server_engine", "docker"))

    def ids():
        return {name: engine.inspect(name)["Id"] for name in engine.managed(hv["inventory_hostname"])}

    before = ids()
    yield
    assert ids() == before


def apply(hv, plan, **overrides):
    """Run the role on PLAN with OVERRIDES (extra vars); return (rc, output)."""
    extra = dict(overrides, ms_plan=plan)
    proc = subprocess.run(
        [shutil.which("ansible-playbook"), "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--limit",
         hv["inventory_hostname"], "-e", json.dumps(extra), APPLY],
        capture_output=True, text=True, check=False, timeout=300,
        env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default"))
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


@pytest.mark.usefixtures("untouched")
def test_unpinned_image_is_refused(hv, plan):
    rc, out = apply(hv, plan, model_server_image="openvino/model_server:latest")
    assert rc != 0
    assert "model_server_image: 'openvino/model_server:latest' is not pinned" in out


@pytest.mark.usefixtures("untouched")
def test_memory_binding_to_a_node_the_host_lacks_is_refused(hv, plan):
    rc, out = apply(hv, plan, model_server_bind_memory=True)
    assert rc != 0
    assert "model_server_bind_memory: the plan binds memory to NUMA node(s) 1" in out
    assert "set model_server_bind_memory: false" in out


@pytest.mark.usefixtures("untouched")
def test_port_held_by_a_foreign_process_is_refused(hv, plan):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        moved = [plan[0], dict(plan[1], rest_port=port)]
        rc, out = apply(hv, moved)
    assert rc != 0
    assert "port(s) %d on 127.0.0.1" % port in out
    assert "not a container of this role" in out


@pytest.mark.usefixtures("untouched")
def test_invalid_config_json_is_refused(hv, plan, tmp_path):
    (tmp_path / "config.json").write_text('{"model_config_list": [')
    rc, out = apply(hv, plan, model_server_models_dir=str(tmp_path))
    assert rc != 0
    assert "model_server_config_file: %s/config.json on %s is not a valid OVMS config" % (tmp_path, hv["inventory_hostname"]) in out


@pytest.mark.usefixtures("untouched")
def test_role_owned_flags_in_extra_args_are_refused(hv, plan):
    rc, out = apply(hv, plan, model_server_extra_args=["--rest_port=9000"])
    assert rc != 0
    assert "model_server_extra_args: --rest_port is set by the role" in out


@pytest.mark.usefixtures("untouched")
def test_missing_plan_is_explained(hv):
    rc, out = apply(hv, [])
    assert rc != 0
    assert "ovms_instances: no instance plan for %s; run role numaserve.ovms.numa_facts" % hv["inventory_hostname"] in out


@pytest.mark.usefixtures("untouched")
def test_absent_image_that_may_not_be_pulled_is_refused(hv, plan):
    rc, out = apply(hv, plan, model_server_image="localhost/numaserve-test/absent:1", model_server_pull="never")
    assert rc != 0
    assert "model_server_image: localhost/numaserve-test/absent:1 is not in" in out
    assert "model_server_pull is never" in out
