"""Fidelity of the stand-in to OVMS v2026.3, case by case, each with the OVMS source it follows.

CASES is the table: (case id, citation "file: function", check). A case is added whenever a difference
from OVMS is found. Citations are paths in openvinotoolkit/model_server at tag v2026.3.
"""

import importlib.util
import json
import resource
import subprocess
import sys
import threading
import time

import pytest

from conftest import STANDIN, clean_env, free_port, graph_dir

EX_USAGE = 64


def load_module():
    spec = importlib.util.spec_from_file_location("ovms_standin_under_test", STANDIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args, env=None, nofile=None, timeout=15):
    def limit():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return subprocess.run([sys.executable, STANDIN, *args], env=clean_env(env), capture_output=True, text=True,
                          timeout=timeout, check=False, preexec_fn=limit)


def metric_value(server, family, **labels):
    text = server.get("/metrics")[1]
    for line in text.splitlines():
        if line.startswith(family + "{") or line.startswith(family + " "):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{family} {labels} not in /metrics:\n{text}")


def sse_events(server, path, body):
    import http.client  # pylint: disable=import-outside-toplevel
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    raw = resp.read().decode()
    conn.close()
    return [e[len("data: "):] for e in raw.split("\n\n") if e]


# ---- the cases ------------------------------------------------------------------------------------

def graph_single_model_refuses_target_device(ctx):
    path = graph_dir(ctx.tmp_path / "llm")
    server = ctx.standin(["--model_name", "m", "--model_path", str(path), "--target_device", "CPU", "--nireq", "2"],
                         wait=None)
    assert server.proc.wait(15) == EX_USAGE  # OPTIONS_USAGE_ERROR -> server.cpp statusToExitCode
    log = server.log()
    assert ("Starting mediapipe graph with unsupported model settings: nireq, target_device, "
            "The settings should be set in subconfig.json file.") in log
    assert "Couldn't start model manager" in log


def graph_single_model_accepts_name_path_plugin_config(ctx):
    path = graph_dir(ctx.tmp_path / "llm")
    server = ctx.standin(["--model_name", "m", "--model_path", str(path), "--plugin_config", "{}"])
    assert server.get("/v2/health/ready")[0] == 200


def metrics_flag_with_monitoring_section_exits_1(ctx):
    root = ctx.model_dir(("m",))
    doc = json.loads((root / "config.json").read_text())
    doc["monitoring"] = {"metrics": {"enable": True}}
    (root / "config.json").write_text(json.dumps(doc))
    server = ctx.standin(["--config_path", str(root / "config.json"), "--metrics_enable"], wait=None)
    assert server.proc.wait(15) == 1
    assert "Metrics configuration duplicated in configuration file and CLI parameters" in server.log()


def config_without_model_config_list_exits_1(ctx):
    root = ctx.model_dir(names=(), config={"mediapipe_config_list": [{"name": "g", "base_path": "g"}]})
    graph_dir(root / "g", "g")
    server = ctx.standin(["--config_path", str(root / "config.json")], wait=None)
    assert server.proc.wait(15) == 1
    assert "Couldn't start model manager" in server.log()


def rest_workers_below_2_is_raised_to_2(ctx):
    server = ctx.standin(["--config_path", str(ctx.model_dir(("m",)) / "config.json"), "--rest_workers", "1"])
    assert "Will start 2 REST workers" in server.log()


def rest_workers_above_open_files_bound_exit_64(ctx):
    cfg = str(ctx.model_dir(("m",)) / "config.json")
    result = run(["--rest_port", str(free_port()), "--config_path", cfg, "--rest_workers", "20"], nofile=100)
    assert result.returncode == EX_USAGE
    assert "rest_workers count cannot be larger than 14 due to open files limit. Current open files limit: 100" \
        in result.stderr


def default_rest_workers_from_cores_and_nofile(ctx):
    del ctx
    module = load_module()
    module.available_cores = lambda: 8
    module.open_files_limit = lambda: 50
    assert module.default_rest_workers() == 5  # min(8, (50 - 15) / 7)
    module.open_files_limit = lambda: 15
    assert module.default_rest_workers() == 0 and module.rest_workers({}) == 2  # Config::restWorkers max(2, ..)
    module.open_files_limit = lambda: 1 << 20
    assert module.default_rest_workers() == 8


def missing_base_path_has_empty_version_status(ctx):
    root = ctx.model_dir(("m",), extra_entries=[{"config": {"name": "ghost", "base_path": "nowhere"}}])
    server = ctx.standin(["--config_path", str(root / "config.json")])
    assert server.get_json("/v1/config")[1]["ghost"] == {"model_version_status": []}
    assert server.get("/v2/health/ready")[0] == 200  # the server starts and stays ready


def classic_model_does_not_serve_v3(ctx):
    root = ctx.model_dir(("m",), extra_entries=[{"config": {"name": "ir", "base_path": "ir"}}])
    (root / "ir" / "1").mkdir(parents=True)
    server = ctx.standin(["--config_path", str(root / "config.json")])
    assert server.get_json("/v1/config")[1]["ir"]["model_version_status"][0]["state"] == "AVAILABLE"
    status, body = server.post("/v3/chat/completions", {"model": "ir", "messages": [{"role": "user", "content": "x"}]})
    assert (status, json.loads(body)) == (404, {"error": "Mediapipe graph definition with requested name is not found"})
    assert [m["id"] for m in server.get_json("/v3/models")[1]["data"]] == ["m"]


def models_path_resolved_against_graph_dir(ctx):
    root = ctx.model_dir(("m",))
    graph = root / "models" / "m" / "graph.pbtxt"
    graph.write_text(graph.read_text().replace('models_path: "./"', 'models_path: "./weights"'))
    server = ctx.standin(["--config_path", str(root / "config.json")])
    status = server.get_json("/v1/config")[1]["m"]["model_version_status"][0]
    assert (status["state"], status["status"]["error_code"]) == ("LOADING", "FAILED_PRECONDITION")
    # (graph directory / models_path), not normalised, as std::filesystem::path's operator/ joins them
    assert f"LLM node models_path: {root / 'models' / 'm'}/./weights does not exist." in server.log()


def no_weights_without_simulated_engine_fails_the_graph(ctx):
    root = ctx.model_dir(("m",))
    server = ctx.standin(["--config_path", str(root / "config.json")], env={"OVMS_STANDIN_ENGINE": None})
    status = server.get_json("/v1/config")[1]["m"]["model_version_status"][0]
    assert status["status"]["error_code"] == "FAILED_PRECONDITION"
    assert "no openvino_model.xml" in server.log()


def graph_options_reach_the_engine(ctx):
    root = ctx.tmp_path / "models"
    from conftest import layout  # pylint: disable=import-outside-toplevel
    layout.write_model_dir(root, "m", max_num_seqs=8, cache_size=1, enable_prefix_caching=False,
                           plugin_config={"NUM_STREAMS": 1})
    server = ctx.standin(["--config_path", str(root / "config.json")])
    line = next(ln for ln in server.log().splitlines() if "Engine for m: engine=simulated" in ln)
    options = json.loads(line.split("graph_options=", 1)[1])
    assert {k: options[k] for k in ("max_num_seqs", "cache_size", "enable_prefix_caching", "plugin_config")} == \
        {"max_num_seqs": 8, "cache_size": 1, "enable_prefix_caching": False, "plugin_config": {"NUM_STREAMS": 1}}
    assert f"models_path={root / 'models' / 'm'}" in line


def handshake_chunk_then_tokens(ctx):
    server = ctx.standin(["--config_path", str(ctx.model_dir(("m",)) / "config.json")])
    chat_body = {"model": "m", "stream": True, "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}
    chat = sse_events(server, "/v3/chat/completions", chat_body)
    first = json.loads(chat[0])
    assert first["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": None}, "finish_reason": None}]
    assert first["object"] == "chat.completion.chunk" and "usage" not in first
    assert chat[-1] == "[DONE]"
    comp_body = {"model": "m", "stream": True, "max_tokens": 3, "prompt": "hi", "stream_options": {"include_usage": True}}
    comp = sse_events(server, "/v3/completions", comp_body)
    chunks = [json.loads(e) for e in comp[:-1]]
    assert chunks[0]["choices"] == [{"index": 0, "text": "", "finish_reason": None}]
    assert {c["object"] for c in chunks} == {"text_completion.chunk"}
    assert all(c["usage"] is None for c in chunks[1:-1])  # "usage": null on every chunk but the handshake
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3
    assert "".join(c["choices"][0]["text"] for c in chunks[:-1]) == \
        server.post_json("/v3/completions", {"model": "m", "max_tokens": 3, "prompt": "hi"})["choices"][0]["text"]


def worker_pool_queues_requests_beyond_rest_workers(ctx):
    # --rest_workers 3: one pool thread runs drogon's loop, two completions run at once, the rest wait
    server = ctx.standin(["--config_path", str(ctx.model_dir(("m",)) / "config.json"), "--metrics_enable",
                          "--rest_workers", "3"], env={"OVMS_STANDIN_TOKEN_DELAY_MS": "100"})
    results, peak_graphs, peak_queue = [], [0], [0]
    body = {"model": "m", "max_tokens": 5, "ignore_eos": True, "messages": [{"role": "user", "content": "q"}]}

    def request(stream):
        results.append(server.post("/v3/chat/completions", dict(body, stream=stream))[0])

    threads = [threading.Thread(target=request, args=(i % 2 == 0,)) for i in range(6)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        peak_graphs[0] = max(peak_graphs[0], metric_value(server, "ovms_current_graphs", name="m"))
        peak_queue[0] = max(peak_queue[0], metric_value(server, "numaserve_standin_rest_queue"))
        assert server.get("/v2/health/ready")[0] == 200  # health runs on drogon's own threads
        time.sleep(0.03)
    elapsed = time.monotonic() - start
    assert results == [200] * 6  # none fails: they wait
    assert peak_graphs[0] == 2  # ovms_current_graphs never shows the waiting ones
    assert peak_queue[0] >= 1
    assert elapsed >= 1.4  # three rounds of 5 x 100 ms


def watcher_reloads_on_content_change(ctx):
    root = ctx.model_dir(("m", "n"))
    server = ctx.standin(["--config_path", str(root / "config.json")])
    from conftest import layout  # pylint: disable=import-outside-toplevel
    layout.write_model_dir(root, "o")
    doc = json.loads((root / "config.json").read_text())
    doc["model_config_list"] = [e for e in doc["model_config_list"] if e["config"]["name"] != "n"]
    (root / "config.json").write_text(json.dumps(doc))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        config = server.get_json("/v1/config")[1]
        if "o" in config and config["o"]["model_version_status"][0]["state"] == "AVAILABLE":
            break
        time.sleep(0.1)
    config = server.get_json("/v1/config")[1]
    assert config["o"]["model_version_status"][0]["state"] == "AVAILABLE"
    assert config["n"]["model_version_status"][0]["state"] == "END"  # retired (RETIRED -> END)
    status, body = server.post("/v3/completions", {"model": "n", "prompt": "x"})
    assert (status, json.loads(body)) == (404, {"error": "Mediapipe is retired"})
    assert server.post("/v3/completions", {"model": "m", "prompt": "x"})[0] == 200  # unchanged: not reloaded
    assert "Reloading mediapipe graph: m" not in server.log()


def watcher_off_with_zero(ctx):
    root = ctx.model_dir(("m",))
    server = ctx.standin(["--config_path", str(root / "config.json"), "--file_system_poll_wait_seconds", "0"])
    from conftest import layout  # pylint: disable=import-outside-toplevel
    layout.write_model_dir(root, "o")
    time.sleep(2.5)
    assert "o" not in server.get_json("/v1/config")[1]
    assert "Started model manager thread" not in server.log()


def graph_file_change_alone_reloads_nothing(ctx):
    root = ctx.model_dir(("m",))
    server = ctx.standin(["--config_path", str(root / "config.json")])
    graph = root / "models" / "m" / "graph.pbtxt"
    graph.write_text(graph.read_text().replace("max_num_seqs: 256", "max_num_seqs: 4"))
    time.sleep(2.5)
    assert "Reloading mediapipe graph: m" not in server.log()
    config = root / "config.json"
    config.write_text(config.read_text() + "\n")  # config.json's MD5 changes: graphs are compared now
    deadline = time.monotonic() + 5
    while "Reloading mediapipe graph: m" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Reloading mediapipe graph: m" in server.log()


CASES = [
    ("graph-single-model-refuses-target_device",
     "src/modelmanager.cpp: startFromConfig -> validateUserSettingsInSingleModelCliGraphStart; "
     "src/cli_parser.cpp: prepareModel (userSetSingleModelArguments); src/server.cpp: statusToExitCode",
     graph_single_model_refuses_target_device),
    ("graph-single-model-accepts-plugin_config",
     "src/modelmanager.cpp: validateUserSettingsInSingleModelCliGraphStart (allowedUserSettings)",
     graph_single_model_accepts_name_path_plugin_config),
    ("metrics-duplicated", "src/modelmanager.cpp: ConfigLoader::loadMetricsConfig, startFromFile",
     metrics_flag_with_monitoring_section_exits_1),
    ("no-model_config_list", "src/modelmanager.cpp: ConfigLoader::loadModelsConfig (JSON_INVALID), startFromFile",
     config_without_model_config_list_exits_1),
    ("rest_workers-min-2", "src/config.cpp: Config::restWorkers, Config::validate", rest_workers_below_2_is_raised_to_2),
    ("rest_workers-nofile-bound", "src/config.cpp: Config::validate (open files limit / 6)",
     rest_workers_above_open_files_bound_exit_64),
    ("rest_workers-default", "src/config.cpp: getDefaultRestWorkers; src/systeminfo.cpp: getCoreCount",
     default_rest_workers_from_cores_and_nofile),
    ("missing-base_path-empty-status", "src/modelmanager.cpp: ConfigLoader::loadModels; src/config_status_utils.cpp",
     missing_base_path_has_empty_version_status),
    ("classic-model-not-on-v3", "src/http_rest_api_handler.cpp: processV3 -> modelmanager.cpp createPipeline -> "
     "mediapipe_internal/mediapipefactory.cpp: create (MEDIAPIPE_DEFINITION_NAME_MISSING)",
     classic_model_does_not_serve_v3),
    ("models_path-relative-to-graph", "src/llm/servable_initializer.cpp: parseModelsPath",
     models_path_resolved_against_graph_dir),
    ("no-weights-fails-graph", "src/llm/language_model/continuous_batching/servable_initializer.cpp: initialize",
     no_weights_without_simulated_engine_fails_the_graph),
    ("graph-options-parsed", "src/llm/servable_initializer.cpp (LLMCalculatorOptions fields)",
     graph_options_reach_the_engine),
    ("handshake-and-chunk-objects", "src/llm/apis/openai_completions.cpp: serializeStreamingHandshakeChunk, "
     "serializeStreamingChunk, serializeStreamingUsageChunk; src/llm/servable.cpp: preparePartialResponse",
     handshake_chunk_then_tokens),
    ("rest-worker-pool-queues", "src/drogon_http_server.cpp: DrogonHttpServer ctor, startAcceptingRequests; "
     "src/mediapipe_internal/mediapipegraphexecutor.hpp (currentGraphs guard)",
     worker_pool_queues_requests_beyond_rest_workers),
    ("watcher-md5-reload", "src/modelmanager.cpp: watcher, configFileReloadNeeded, loadMediapipeGraphsConfig "
     "(retireOtherThan); src/dags/pipelinedefinitionstatus.cpp: convertToModelStatus",
     watcher_reloads_on_content_change),
    ("watcher-off", "src/modelmanager.cpp: startWatcher (watcherIntervalMillisec > 0); src/cli_parser.cpp",
     watcher_off_with_zero),
    ("graph-change-needs-config-change", "src/modelmanager.cpp: watcher (graphs only in loadConfig); "
     "src/mediapipe_internal/mediapipegraphconfig.cpp: isReloadRequired (graph.pbtxt MD5)",
     graph_file_change_alone_reloads_nothing),
]


class Context:  # pylint: disable=too-few-public-methods
    def __init__(self, standin, model_dir, tmp_path):
        self.standin, self.model_dir, self.tmp_path = standin, model_dir, tmp_path


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fidelity(case, standin, model_dir, tmp_path):
    _case_id, citation, check = case
    assert citation  # every case names the OVMS source it reproduces
    check(Context(standin, model_dir, tmp_path))
