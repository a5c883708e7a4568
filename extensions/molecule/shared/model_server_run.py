"""Run role numaserve.ovms.model_server from a test (shared/model_server_timed.yml) and read back what
happened: (result dict, ansible-playbook output). Used by the failure and layout tests."""

import json
import os
import shutil
import subprocess
import tempfile

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
