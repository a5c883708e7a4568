"""Failures of role numaserve.ovms.model_server that must be reported fast (issue 11): a missing
base_path (preflight, before anything changes), a base_path the container cannot read (the readiness
gate: listed without a version), a crash-looping container (the gate watches the restart count).
Each instance fails within 15 s of its container's start (the gate's own time, in the message), the
preflight case within 15 s of the role's start, always with a message naming the instance and the
cause; with model_server_ready_timeout 600 the whole role run stays far below one timeout. Figures
go to /var/lib/numaserve-test/reports/model_server_failures-<host>.json. The converged instances are
restored afterwards. Imported by the model_server_two_node and
model_server_podman scenarios.
"""

import json
import os
import re
import sys

import pytest

from model_server_run import fixture_hv, fixture_plan, fixture_restore, fixture_scratch, run_role  # noqa: F401  pylint: disable=unused-import
from ovms_testinfra import Engine, testinfra_hosts as _hosts

sys.path.insert(0, os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."), "tools", "test_models"))
import layout  # noqa: E402  pylint: disable=wrong-import-position,import-error

testinfra_hosts = _hosts()
BOUND = 15.0
TIMEOUT = 600
REPORT = "/var/lib/numaserve-test/reports/model_server_failures-%s.json"
FIGURES = {}


@pytest.fixture(name="report", scope="module", autouse=True)
def fixture_report(hv):
    yield FIGURES
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT % hv["inventory_hostname"], "w", encoding="utf-8") as fh:
        json.dump(FIGURES, fh, indent=2)


def gate_seconds(msg, plan):
    """{instance: seconds its readiness gate took}, from the failure message."""
    found = dict(re.findall(r"model_server: instance (\S+) \(container [^)]*\) failed the readiness gate after "
                            r"([0-9.]+) s", msg))
    assert sorted(found) == sorted(p["name"] for p in plan), msg[:2000]
    return {name: float(v) for name, v in found.items()}


def ids(host, hv):
    engine = Engine(host, hv.get("model_server_engine", "docker"))
    return {n: engine.inspect(n)["Id"] for n in engine.managed(hv["inventory_hostname"])}


def test_missing_base_path_fails_in_preflight(host, hv, plan, scratch):
    layout.write_model_dir(scratch, "m")
    config = os.path.join(scratch, "config.json")
    with open(config, encoding="utf-8") as fh:
        doc = json.load(fh)
    doc["model_config_list"].append({"config": {"name": "gone", "base_path": "models/gone"}})
    with open(config, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    before = ids(host, hv)
    result = run_role(hv, plan, model_server_models_dir=scratch)[0]
    FIGURES["missing_base_path"] = {"role_seconds": round(result["seconds"], 1)}
    assert result["failed"], result
    assert result["seconds"] < BOUND, result
    msg = " ".join(result["msg"].split())
    assert "model gone: base_path 'models/gone' (/workspace/models/gone in the container) does not exist" in msg
    assert "instance(s) %s" % ", ".join(p["name"] for p in plan) in msg
    assert ids(host, hv) == before, "preflight changed a container"


@pytest.mark.usefixtures("restore")
def test_unreadable_base_path_fails_at_the_gate(hv, plan, scratch):
    # Root (preflight) sees the directory; the container user (UID 5000) cannot list it: OVMS lists the
    # model with an empty model_version_status (readAvailableVersions fails) and never loads it.
    model_dir = layout.write_model_dir(scratch, "m")
    os.chmod(str(model_dir), 0o700)
    result = run_role(hv, plan, model_server_models_dir=scratch, model_server_ready_timeout=TIMEOUT)[0]
    assert result["failed"], result
    gates = gate_seconds(result["msg"], plan)
    FIGURES["unreadable_base_path"] = {"gate_seconds": gates, "role_seconds": round(result["seconds"], 1)}
    assert max(gates.values()) < BOUND and result["seconds"] < TIMEOUT / 10, FIGURES
    msg = result["msg"]
    first = plan[0]["name"]
    assert "model_server: instance %s (container %s%s," % (first, hv["model_server_container_prefix"], first) in msg
    assert "/v1/config reports m=" in msg and "OVMS found no model version at m base_path /workspace/models/m" in msg
    assert result["endpoints"] == []


@pytest.mark.usefixtures("restore")
def test_crash_loop_fails_at_the_first_crash(hv, plan):
    # A flag value OVMS rejects at start-up (exit 64 before anything listens): the engine restarts
    # the container again and again.
    result = run_role(hv, plan, model_server_extra_args=["--log_level", "NOISY"],
                      model_server_ready_timeout=TIMEOUT)[0]
    assert result["failed"], result
    gates = gate_seconds(result["msg"], plan)
    FIGURES["crash_loop"] = {"gate_seconds": gates, "role_seconds": round(result["seconds"], 1)}
    assert max(gates.values()) < BOUND and result["seconds"] < TIMEOUT / 10, FIGURES
    msg = result["msg"]
    for instance in plan:
        assert "model_server: instance %s (container %s%s," % (
            instance["name"], hv["model_server_container_prefix"], instance["name"]) in msg
    assert "the container crashed while starting" in msg
    assert "log_level should be one of" in msg, "the log tail does not show why: " + msg
