"""Command line and config.json: what OVMS accepts, refuses, and how it exits."""

import http.client
import json
import socket

import pytest

from conftest import free_port, graph_dir, run_standin

EX_USAGE = 64


@pytest.fixture
def cfg(model_dir):
    return str(model_dir(("m",)) / "config.json")


@pytest.mark.parametrize("args, message", [
    (["--rest_port", "8000", "--config_path", "{cfg}", "--bogus_flag", "1"],
     "error parsing options - unmatched arguments: --bogus_flag, 1,"),
    (["--rest_port", "8000", "--config_path", "{cfg}", "stray"], "unmatched arguments: stray,"),
    (["--config_path", "{cfg}"], "port and rest_port cannot both be unset"),
    (["--port", "9000", "--rest_port", "9000", "--config_path", "{cfg}"], "port and rest_port cannot have the same values"),
    (["--rest_port", "8000", "--config_path", "{cfg}", "--model_name", "m"],
     "Use either config_path or model_path with model_name"),
    (["--rest_port", "8000", "--model_name", "m"], "Use config_path or model_path with model_name"),
    (["--rest_port", "8000", "--config_path", "{cfg}", "--target_device", "CPU"],
     "Model parameters in CLI are exclusive with the config file"),
    (["--rest_port", "8000", "--config_path", "{cfg}", "--plugin_config", "{}"],
     "Model parameters in CLI are exclusive with the config file"),
    (["--rest_port", "eighty", "--config_path", "{cfg}"], "Argument 'eighty' failed to parse"),
    (["--rest_port", "70000", "--config_path", "{cfg}"], "rest_port number out of range from 0 to 65535"),
    (["--rest_port", "8000", "--config_path", "{cfg}", "--log_level", "VERBOSE"],
     "log_level should be one of: TRACE, DEBUG, INFO, WARNING, ERROR"),
    # config.cpp Config::validate on Config::restWorkers() = max(2, value): only the upper bound can fail
    (["--rest_port", "8000", "--config_path", "{cfg}", "--rest_workers", "10001"],
     "rest_workers count should be from 2 to 10000"),
    (["--port", "9000", "--config_path", "{cfg}", "--rest_workers", "4"], "rest_workers is set but rest_port is not set"),
    (["--port", "9000", "--config_path", "{cfg}", "--metrics_enable"], "rest_port setting is missing"),
    (["--rest_port", "8000", "--config_path", "{cfg}", "--rest_bind_address", "not an address"],
     "rest_bind_address has invalid format"),
    (["--rest_port", "8000", "--config_path", "{cfg}", "--rest_port"], "Option 'rest_port' is missing an argument"),
    (["--rest_port", "8000", "--config_path", "{cfg}", "--metrics_enable=maybe"], "Argument 'maybe' failed to parse"),
    (["--rest_port", "8000", "--pull", "--source_model", "OpenVINO/x"], "not implemented by the OVMS stand-in"),
    (["--rest_port", "8000", "--max_num_seqs", "8", "--config_path", "{cfg}"], "unmatched arguments: --max_num_seqs"),
    (["--rest_port", "8000", "--model_name", "m", "--model_path", "/x", "--task", "text_generation"],
     "not implemented by the OVMS stand-in"),
])
def test_usage_errors_exit_64_with_ovms_message(cfg, args, message):
    result = run_standin([a.replace("{cfg}", cfg) for a in args])
    assert result.returncode == EX_USAGE, result
    assert message in result.stderr
    assert result.stdout == ""  # nothing started, nothing logged


def test_help_and_no_arguments_print_usage_and_exit_0():
    for args in (["--help"], []):
        result = run_standin(args)
        assert result.returncode == 0
        assert "--rest_port" in result.stdout and "test double" in result.stdout


def test_version():
    result = run_standin(["--version"])
    assert result.returncode == 0 and "OpenVINO Model Server" in result.stdout


def test_equals_form_and_other_ovms_flags_are_accepted(standin, cfg):
    port = free_port()
    server = standin(["--rest_port={port}", f"--config_path={cfg}", f"--port={port}", "--rest_workers=4",
                      "--log_level", "DEBUG", "--file_system_poll_wait_seconds", "0", "--metrics_enable",
                      "--grpc_workers", "1", "--cache_dir", "/tmp", "--allowed_origins", "*",
                      "--rest_bind_address", "127.0.0.1,127.0.0.2", "--grpc_bind_address=127.0.0.1"])
    log = server.log()
    assert f"Started gRPC server on port {port}" in log
    assert "Will start 4 REST workers" in log
    assert f"Started REST server at 127.0.0.2:{server.port}" in log
    conn = http.client.HTTPConnection("127.0.0.2", server.port, timeout=5)
    conn.request("GET", "/v2/health/ready")
    assert conn.getresponse().status == 200
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # the gRPC port is held open


def test_single_model_graph_directory(standin, tmp_path):
    # modelmanager.cpp startFromConfig: a --model_path holding graph.pbtxt is served as a MediaPipe graph
    graph_dir(tmp_path / "llm", "meta-llama/Llama-3")
    server = standin(["--model_name", "meta-llama/Llama-3", "--model_path", str(tmp_path / "llm"),
                      "--plugin_config", '{"NUM_STREAMS": 1}'])
    assert "Port was not set. GRPC server will not be started." in server.log()
    status, body = server.get_json("/v3/models/meta-llama/Llama-3")
    assert status == 200 and body["id"] == "meta-llama/Llama-3"


# ---- config.json errors abort the start; per-model errors do not ----------------------------------

@pytest.mark.parametrize("content, message", [
    (None, "Configuration file is invalid"),
    ("{not json", "Configuration file is not a valid JSON file"),
    ({"model_config_list": [{"config": {"name": "m"}}]}, "Configuration file is not in valid configuration format"),
    ({"model_config_list": {"config": {"name": "m", "base_path": "m"}}},
     "Configuration file is not in valid configuration format"),
])
def test_config_file_errors_exit_nonzero(standin, tmp_path, content, message):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    server = standin(["--config_path", str(path)], wait=None)
    assert server.proc.wait(10) == 1
    log = server.log()
    assert message in log
    assert "][modelmanager][error][" in log and "Couldn't start model manager" in log


def test_missing_base_path_is_a_model_error_not_a_server_error(standin, model_dir):
    # modelmanager.cpp loadModels: no graph.pbtxt under base_path -> a classic model; a directory that does
    # not exist leaves it registered with an EMPTY model_version_status (neither AVAILABLE nor an error)
    root = model_dir(("m",), extra_entries=[{"config": {"name": "ghost", "base_path": "nowhere"}}])
    server = standin(["--config_path", str(root)])  # a directory holding config.json works too
    status, config = server.get_json("/v1/config")
    assert config["m"]["model_version_status"][0]["state"] == "AVAILABLE"
    assert config["ghost"] == {"model_version_status": []}
    assert server.get("/v2/health/ready")[0] == 200
    assert server.proc.poll() is None


def test_single_model_missing_path_exits_1(standin, tmp_path):
    server = standin(["--model_name", "m", "--model_path", str(tmp_path / "absent")], wait=None)
    assert server.proc.wait(10) == 1
    assert "Couldn't start model manager" in server.log()


def test_legacy_mediapipe_config_list(standin, model_dir):
    root = model_dir(names=(), config={"model_config_list": [],
                                       "mediapipe_config_list": [{"name": "org/llm", "base_path": "llm"}]})
    graph_dir(root / "llm", "org/llm")
    server = standin(["--config_path", str(root / "config.json")])
    assert [m["id"] for m in server.get_json("/v3/models")[1]["data"]] == ["org/llm"]


def test_monitoring_section_enables_metrics(standin, model_dir):
    root = model_dir(config={"model_config_list": [{"config": {"name": "m", "base_path": "models/m"}}],
                             "monitoring": {"metrics": {"enable": True}}})
    server = standin(["--config_path", str(root / "config.json")])
    assert server.get("/metrics")[0] == 200


def test_rest_port_in_use_exits_1(standin, served):
    second = standin(["--rest_port", str(served.port), "--config_path", "/nonexistent.json"], wait=None)
    assert second.proc.wait(10) == 1
    assert "Address already in use" in second.log()
    assert served.get("/v2/health/ready")[0] == 200
