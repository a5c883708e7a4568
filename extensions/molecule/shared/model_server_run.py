"""Run role numaserve.ovms.model_server from a test (shared/model_server_timed.yml) and read back what
happened: (result dict, ansible-playbook output). Used by the failure and layout tests, which also take
their fixtures from here (import them by name: hv, plan, restore, scratch)."""

import json
import os
import shutil
import subprocess
import tempfile

import pytest

TIMED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_server_timed.yml")


def plan_of(host, hv):
    """The converged plan, rebuilt from the endpoints converge kept."""
    endpoints = json.loads(host.file(hv["ms_data_dir"] + "/endpoints.json").content_string)
    return [{"name": e["instance"], "nodes": e["nodes"], "cpuset_cpus": e["cpuset_cpus"],
             "cpuset_mems": ",".join(str(n) for n in e["nodes"]), "rest_port": e["port"],
             "grpc_port": e["grpc_port"], "cpus": e["cpus"]} for e in endpoints]


def run_role(hv, plan, **overrides):
    """The role on PLAN with OVERRIDES (extra vars); returns ({failed, seconds, msg, endpoints}, output)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_file = fh.name
    try:
        extra = dict(overrides, ms_plan=plan, ms_result_file=result_file)
        proc = subprocess.run(
            [shutil.which("ansible-playbook"), "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--limit",
             hv["inventory_hostname"], "-e", json.dumps(extra), TIMED],
            capture_output=True, text=True, check=False, timeout=300,
            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default"))
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-3000:]
        with open(result_file, encoding="utf-8") as fh:
            result = json.load(fh)
        result["seconds"] = float(result["seconds"])
        return result, output
    finally:
        os.unlink(result_file)


@pytest.fixture(name="hv", scope="module")
def fixture_hv(host):
    return host.ansible.get_variables()


@pytest.fixture(name="plan", scope="module")
def fixture_plan(host, hv):
    return plan_of(host, hv)


@pytest.fixture(name="restore", scope="module")
def fixture_restore(hv, plan):
    """After the module: converge again with the scenario's own variables."""
    yield
    result, out = run_role(hv, plan)
    assert not result["failed"], out[-3000:]


@pytest.fixture(name="scratch")
def fixture_scratch(hv):
    """A models directory under the scenario's data directory (readable by the container user)."""
    path = os.path.join(hv["ms_data_dir"], "scratch")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
