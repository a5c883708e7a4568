"""model_server_two_node: OVMS's own model layouts converge, with the command line OVMS v2026.3 accepts.

Model directories are written by tools/test_models/layout.py (export_model.py's layout):
* config.json with model_config_list (the scenario's converged fixture);
* single-model mode on a directory with graph.pbtxt (the scaling demo's way): no --target_device;
* config.json with the legacy mediapipe_config_list;
* config.json with a `monitoring` section: no --metrics_enable, and /metrics still answers (the drain).
The scenario's own fixture is converged again at the end.
"""

import json
import os
import sys

import httpx
import pytest

from model_server_run import fixture_hv, fixture_plan, fixture_restore, fixture_scratch, run_role  # noqa: F401  pylint: disable=unused-import
from ovms_testinfra import Engine, command, testinfra_hosts as _hosts

sys.path.insert(0, os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."), "tools", "test_models"))
import layout  # noqa: E402  pylint: disable=wrong-import-position,import-error

testinfra_hosts = _hosts()


@pytest.fixture(name="engine", scope="module")
def fixture_engine(host, hv):
    return Engine(host, hv.get("model_server_engine", "docker"))


def commands(engine, hv):
    return {name: command(info) for name, info in engine.instances(hv["inventory_hostname"]).items()}


def converge(hv, plan, **overrides):
    result, out = run_role(hv, plan, **overrides)
    assert not result["failed"], result["msg"][-3000:] or out[-3000:]
    assert sorted(e["instance"] for e in result["endpoints"]) == sorted(p["name"] for p in plan)
    return result


def flag(args, name):
    return args[args.index(name) + 1] if name in args else None


def test_config_json_with_model_config_list(engine, hv):
    # The converged fixture: config.json + models/m/graph.pbtxt (max_num_seqs 256).
    for args in commands(engine, hv).values():
        assert flag(args, "--config_path") == "/workspace/config.json"
        assert "--target_device" not in args
        assert flag(args, "--file_system_poll_wait_seconds") == "0"
        assert flag(args, "--rest_workers") == "257"  # 256 sequences + drogon's event-loop thread
        assert "--metrics_enable" in args


@pytest.mark.usefixtures("restore")
def test_single_model_mode_on_a_graph_directory(engine, hv, plan, scratch):
    model_dir = layout.write_model_dir(os.path.join(scratch, "single"), "m", layout="single", max_num_seqs=4)
    converge(hv, plan, model_server_model_name="m", model_server_model_path=str(model_dir))
    for args in commands(engine, hv).values():
        assert args[:4] == ["--model_name", "m", "--model_path", "/model"]
        assert "--target_device" not in args and "--config_path" not in args
        assert flag(args, "--rest_workers") == "5"


@pytest.mark.usefixtures("restore")
def test_config_json_with_mediapipe_config_list(engine, hv, plan, scratch):
    models = os.path.join(scratch, "mediapipe")
    graph_dir = os.path.join(models, "chat")
    os.makedirs(graph_dir)
    with open(os.path.join(graph_dir, "graph.pbtxt"), "w", encoding="utf-8") as fh:
        fh.write(layout.graph_pbtxt(max_num_seqs=6))
    with open(os.path.join(models, "config.json"), "w", encoding="utf-8") as fh:
        json.dump({"model_config_list": [], "mediapipe_config_list": [{"name": "chat", "base_path": "chat"}]}, fh)
    converge(hv, plan, model_server_models_dir=models)
    for args in commands(engine, hv).values():
        assert flag(args, "--rest_workers") == "7"


@pytest.mark.usefixtures("restore")
def test_config_json_with_monitoring(engine, hv, plan, scratch):
    models = os.path.join(scratch, "monitoring")
    layout.write_model_dir(models, "m")
    config = os.path.join(models, "config.json")
    with open(config, encoding="utf-8") as fh:
        doc = json.load(fh)
    doc["monitoring"] = {"metrics": {"enable": True}}
    with open(config, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    result = converge(hv, plan, model_server_models_dir=models)
    for args in commands(engine, hv).values():
        assert "--metrics_enable" not in args  # OVMS exits on both ("Metrics configuration duplicated")
    for endpoint in result["endpoints"]:
        metrics = httpx.get("http://127.0.0.1:%d/metrics" % endpoint["port"], timeout=5)
        assert metrics.status_code == 200 and "ovms_current_graphs" in metrics.text


def test_monitoring_without_what_the_drain_reads_is_refused(host, engine, hv, plan, scratch):
    models = os.path.join(scratch, "monitoring-off")
    layout.write_model_dir(models, "m")
    config = os.path.join(models, "config.json")
    with open(config, encoding="utf-8") as fh:
        doc = json.load(fh)
    doc["monitoring"] = {"metrics": {"enable": False}}
    with open(config, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    before = commands(engine, hv)
    result = run_role(hv, plan, model_server_models_dir=models)[0]
    assert result["failed"]
    assert "model_server_metrics_enable: " in result["msg"] and "does not set metrics.enable: true" in result["msg"]
    assert commands(engine, hv) == before
