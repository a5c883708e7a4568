# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""model_server_config: OVMS v2026.3's rules for model sources, command lines and readiness.

Model directories come from tools/test_models/layout.py (export_model.py's layout); expected values
come from OVMS's source (cited in the module), never from the code under test.
"""

import json
import os
import sys

import pytest

from ansible_collections.numaserve.ovms.plugins.module_utils import model_server_config as msc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, "tools", "test_models"))
import layout  # noqa: E402  pylint: disable=wrong-import-position

INSTANCE = {"name": "node0", "rest_port": 8003, "grpc_port": None, "cpus": 2}
SETTINGS = {"model_name": "m", "config_file": "config.json", "target_device": "CPU", "plugin_config": {},
            "metrics_enable": True, "extra_args": [], "rest_workers": 0, "nofile": 16384}


def settings(**overrides):
    return dict(SETTINGS, **overrides)


def write_config(models_dir, doc):
    (models_dir / "config.json").write_text(json.dumps(doc))


def test_export_model_config_layout(tmp_path):
    layout.write_model_dir(tmp_path, "test/llm", max_num_seqs=8)
    source = msc.read_source(str(tmp_path))
    assert source["mode"] == "config" and source["problems"] == []
    [servable] = source["servables"]
    assert servable["name"] == "test/llm" and servable["kind"] == "graph"
    assert servable["container_path"] == "/workspace/models/test/llm"
    assert servable["host_path"] == str(tmp_path / "models/test/llm")
    assert servable["llm"] == 1 and servable["max_num_seqs"] == 8
    args = msc.ovms_command(source, settings(), INSTANCE)
    assert args[:2] == ["--config_path", "/workspace/config.json"]
    assert "--target_device" not in args


def test_single_model_mode_on_a_graph_passes_only_what_ovms_accepts(tmp_path):
    layout.write_model_dir(tmp_path, "m", layout="single")
    source = msc.read_source(str(tmp_path), model_path=str(tmp_path), model_name="m")
    assert source["mode"] == "single" and source["graph"] is True and source["problems"] == []
    args = msc.ovms_command(source, settings(), INSTANCE)
    model_flags = [a[2:] for a in args if a.startswith("--") and a[2:] in msc.SINGLE_MODEL_SETTINGS + msc.SINGLE_GRAPH_ALLOWED]
    assert model_flags == ["model_name", "model_path"]
    assert args[:4] == ["--model_name", "m", "--model_path", "/model"]
    with_plugin = msc.ovms_command(source, settings(plugin_config={"NUM_STREAMS": "2"}), INSTANCE)
    assert with_plugin[4:6] == ["--plugin_config", '{"NUM_STREAMS": "2"}']


def test_single_model_mode_on_a_graph_in_version_1(tmp_path):
    # ModelManager::CheckStartFromGraph also looks in <model_path>/1/.
    layout.write_model_dir(tmp_path / "1", "m", layout="single")
    assert msc.read_source(str(tmp_path), model_path=str(tmp_path), model_name="m")["graph"] is True


def test_single_model_mode_on_an_ir_directory_keeps_target_device(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "model.xml").write_text("<net/>")
    source = msc.read_source(str(tmp_path), model_path=str(tmp_path), model_name="resnet")
    assert source["graph"] is False and source["problems"] == []
    args = msc.ovms_command(source, settings(model_name="resnet", target_device="CPU"), INSTANCE)
    assert args[:6] == ["--model_name", "resnet", "--model_path", "/model", "--target_device", "CPU"]


def test_single_model_graph_refuses_model_settings_in_extra_args(tmp_path):
    layout.write_model_dir(tmp_path, "m", layout="single")
    source = msc.read_source(str(tmp_path), model_path=str(tmp_path), model_name="m")
    problems = msc.check_settings(source, settings(extra_args=["--nireq", "4", "--log_level", "DEBUG"]))
    assert len(problems) == 1
    assert problems[0].startswith("model_server_extra_args: --nireq cannot be used in single-model mode")


def test_mediapipe_config_list(tmp_path):
    graph = tmp_path / "chat"
    graph.mkdir()
    (graph / "graph.pbtxt").write_text(layout.graph_pbtxt(max_num_seqs=4))
    write_config(tmp_path, {"mediapipe_config_list": [
        {"name": "chat"}, {"name": "other", "base_path": "x", "graph_path": "g.pbtxt"}]})
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "g.pbtxt").write_text(layout.graph_pbtxt())
    source = msc.read_source(str(tmp_path))
    assert source["problems"] == []
    assert [(s["name"], s["kind"], s["container_path"], s["max_num_seqs"]) for s in source["servables"]] == [
        ("chat", "graph", "/workspace/chat/", 4), ("other", "graph", "/workspace/x", 256)]


def test_missing_base_path_names_model_and_paths(tmp_path):
    layout.write_model_dir(tmp_path, "m")
    doc = json.loads((tmp_path / "config.json").read_text())
    doc["model_config_list"].append({"config": {"name": "gone", "base_path": "models/gone"}})
    write_config(tmp_path, doc)
    problems = msc.read_source(str(tmp_path))["problems"]
    assert problems == ["model gone: base_path 'models/gone' (/workspace/models/gone in the container) does not "
                        "exist on the host (%s/models/gone)" % tmp_path]


@pytest.mark.parametrize("base_path, expected", [
    ("/opt/models/m", "is an absolute path outside the mounted directory /workspace"),
    ("models/../models/m", "contains '..'"),
])
def test_base_path_outside_the_mount(tmp_path, base_path, expected):
    layout.write_model_dir(tmp_path, "m")
    write_config(tmp_path, {"model_config_list": [{"config": {"name": "m", "base_path": base_path}}]})
    [problem] = msc.read_source(str(tmp_path))["problems"]
    assert problem.startswith("model m: base_path '%s'" % base_path) and expected in problem


def test_absolute_base_path_inside_the_mount(tmp_path):
    layout.write_model_dir(tmp_path, "m")
    write_config(tmp_path, {"model_config_list": [{"config": {"name": "m", "base_path": "/workspace/models/m"}}]})
    source = msc.read_source(str(tmp_path))
    assert source["problems"] == [] and source["servables"][0]["host_path"] == str(tmp_path / "models/m")


def test_symlink_out_of_the_mount(tmp_path):
    outside = tmp_path / "outside"
    layout.write_model_dir(outside, "m", layout="single")
    models = tmp_path / "models"
    models.mkdir()
    os.symlink(str(outside), str(models / "m"))
    write_config(models, {"model_config_list": [{"config": {"name": "m", "base_path": "m"}}]})
    [problem] = msc.read_source(str(models))["problems"]
    assert "outside the mounted directory" in problem and "symlink" in problem


def test_config_in_a_subdirectory_resolves_relative_to_it(tmp_path):
    # export_model.py --config_file_path models/config.json writes base_path relative to models/.
    layout.write_model_dir(tmp_path / "models", "m")
    source = msc.read_source(str(tmp_path), config_file="models/config.json")
    assert source["problems"] == []
    assert source["servables"][0]["container_path"] == "/workspace/models/models/m"
    assert msc.ovms_command(source, settings(config_file="models/config.json"), INSTANCE)[1] == \
        "/workspace/models/config.json"


def test_classic_model_without_version_directory(tmp_path):
    (tmp_path / "resnet").mkdir()
    write_config(tmp_path, {"model_config_list": [{"config": {"name": "resnet", "base_path": "resnet"}}]})
    [problem] = msc.read_source(str(tmp_path))["problems"]
    assert problem.startswith("model resnet: base_path 'resnet'") and "version directory" in problem
    (tmp_path / "resnet" / "1").mkdir()
    source = msc.read_source(str(tmp_path))
    assert source["problems"] == [] and source["servables"][0]["kind"] == "model"


def test_entries_without_name_or_base_path(tmp_path):
    write_config(tmp_path, {"model_config_list": [{"config": {"base_path": "x"}}, {"config": {"name": "y"}}]})
    assert msc.read_source(str(tmp_path))["problems"] == [
        "model_config_list[0] has no config.name", "model y: has no config.base_path"]


@pytest.mark.parametrize("text, message", [("{", "is not valid JSON"), ("[]", "is not a JSON object")])
def test_unreadable_config(tmp_path, text, message):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(msc.SourceError, match=message):
        msc.read_source(str(tmp_path))


def test_content_hash_follows_config_graph_and_weights(tmp_path):
    layout.write_model_dir(tmp_path, "m")
    first = msc.read_source(str(tmp_path))["content_hash"]
    layout.write_model_dir(tmp_path, "m")  # same content: layout.py leaves the files alone
    assert msc.read_source(str(tmp_path))["content_hash"] == first
    layout.write_model_dir(tmp_path, "m", max_num_seqs=16)  # graph.pbtxt changes
    second = msc.read_source(str(tmp_path))["content_hash"]
    assert second != first
    weights = tmp_path / "models" / "m" / "openvino_model.bin"
    weights.write_bytes(b"0" * 10)
    third = msc.read_source(str(tmp_path))["content_hash"]
    assert third != second
    os.utime(str(weights), ns=(1, 1))  # same size, other mtime: a rewritten file
    assert msc.read_source(str(tmp_path))["content_hash"] != third
    doc = json.loads((tmp_path / "config.json").read_text())
    doc["monitoring"] = {"metrics": {"enable": True}}
    write_config(tmp_path, doc)
    assert msc.read_source(str(tmp_path))["content_hash"] not in (first, second, third)


def test_content_hash_ignores_files_outside_the_servables(tmp_path):
    layout.write_model_dir(tmp_path, "m")
    first = msc.read_source(str(tmp_path))["content_hash"]
    (tmp_path / "notes.txt").write_text("unrelated")
    assert msc.read_source(str(tmp_path))["content_hash"] == first


def monitoring_source(tmp_path, monitoring):
    layout.write_model_dir(tmp_path, "m")
    doc = json.loads((tmp_path / "config.json").read_text())
    doc["monitoring"] = monitoring
    write_config(tmp_path, doc)
    return msc.read_source(str(tmp_path))


def test_metrics_flag_without_monitoring(tmp_path):
    layout.write_model_dir(tmp_path, "m")
    source = msc.read_source(str(tmp_path))
    assert msc.metrics_flag(source, True) == (True, None)
    assert msc.metrics_flag(source, False) == (False, None)
    assert "--metrics_enable" in msc.ovms_command(source, settings(), INSTANCE)


def test_monitoring_in_config_json_drops_the_flag(tmp_path):
    # loadMetricsConfig: --metrics_enable + a monitoring object = "Metrics configuration duplicated".
    source = monitoring_source(tmp_path, {"metrics": {"enable": True}})
    assert msc.metrics_flag(source, True) == (False, None)
    assert "--metrics_enable" not in msc.ovms_command(source, settings(), INSTANCE)
    assert msc.check_settings(source, settings()) == []


@pytest.mark.parametrize("monitoring, why", [
    ({"metrics": {"enable": False}}, "does not set metrics.enable: true"),
    ({}, "does not set metrics.enable: true"),
    ({"metrics": {"enable": True, "endpoint_path": "/prom"}}, "moves the endpoint to /prom"),
    ({"metrics": {"enable": True, "metrics_list": ["ovms_requests_success"]}}, "lacks ovms_current_graphs"),
])
def test_monitoring_that_hides_what_the_drain_reads_is_refused(tmp_path, monitoring, why):
    source = monitoring_source(tmp_path, monitoring)
    flag, problem = msc.metrics_flag(source, True)
    assert flag is False
    assert problem.startswith("model_server_metrics_enable: ") and why in problem
    assert msc.metrics_flag(source, False) == (False, None)


def test_monitoring_with_the_drain_metrics_listed(tmp_path):
    source = monitoring_source(tmp_path, {"metrics": {"enable": True,
                                                      "metrics_list": ["ovms_current_graphs", "ovms_requests_success"]}})
    assert msc.metrics_flag(source, True) == (False, None)


def test_default_rest_workers_is_ovms_formula():
    # getDefaultRestWorkers: min(cores, (nofile - 15) / 7), at least 2 (Config::restWorkers).
    assert msc.default_rest_workers(64, 16384) == 64
    assert msc.default_rest_workers(64, 100) == 12
    assert msc.default_rest_workers(1, 16384) == 2


def test_rest_workers_cover_what_the_graph_batches(tmp_path):
    layout.write_model_dir(tmp_path, "m", max_num_seqs=8)
    source = msc.read_source(str(tmp_path))
    # One thread of the streaming pool runs drogon's event loop: 8 generations need 9 workers.
    assert msc.rest_workers(source, 2, 16384) == (9, None)
    assert msc.rest_workers(source, 32, 16384) == (32, None)
    assert msc.rest_workers(source, 2, 45) == (5, None)  # capped at (nofile - 15) / 6
    args = msc.ovms_command(source, settings(), INSTANCE)
    assert args[args.index("--rest_workers") + 1] == "9"


def test_rest_workers_default_graph_batches_256(tmp_path):
    layout.write_model_dir(tmp_path, "m")
    assert msc.rest_workers(msc.read_source(str(tmp_path)), 4, 16384) == (257, None)


def test_explicit_rest_workers(tmp_path):
    layout.write_model_dir(tmp_path, "m")
    source = msc.read_source(str(tmp_path))
    assert msc.rest_workers(source, 2, 16384, 3) == (3, None)
    assert "outside 2..10000" in msc.rest_workers(source, 2, 16384, 1)[1]
    problem = msc.rest_workers(source, 2, 300, 64)[1]
    assert problem.startswith("model_server_rest_workers: 64 needs model_server_ulimit_nofile >= 399")
    assert msc.check_settings(source, settings(rest_workers=64, nofile=300)) == [problem]


def test_command_turns_the_config_watcher_off_and_publishes_grpc(tmp_path):
    layout.write_model_dir(tmp_path, "m")
    source = msc.read_source(str(tmp_path))
    args = msc.ovms_command(source, settings(extra_args=["--log_level", "DEBUG"]), dict(INSTANCE, grpc_port=9003))
    assert args[args.index("--file_system_poll_wait_seconds") + 1] == "0"
    assert args[args.index("--port") + 1] == "9003"
    assert args[-2:] == ["--log_level", "DEBUG"]


@pytest.mark.parametrize("flag", ["--rest_workers=4", "--file_system_poll_wait_seconds", "--rest_port"])
def test_owned_flags_are_refused(tmp_path, flag):
    layout.write_model_dir(tmp_path, "m")
    [problem] = msc.check_settings(msc.read_source(str(tmp_path)), settings(extra_args=[flag, "1"]))
    assert problem.startswith("model_server_extra_args: %s is set by the role" % flag.split("=")[0])


def test_plugin_config_only_in_single_mode(tmp_path):
    layout.write_model_dir(tmp_path, "m")
    [problem] = msc.check_settings(msc.read_source(str(tmp_path)), settings(plugin_config={"A": "1"}))
    assert problem.startswith("model_server_plugin_config: only for single-model mode")


def test_parse_graph_counts_llm_nodes():
    text = layout.graph_pbtxt(max_num_seqs=12)
    facts = msc.parse_graph(text)
    assert facts["calculators"] == ["HttpLLMCalculator"] and facts["llm"] == 1
    assert facts["max_num_seqs"] == 12 and facts["models_paths"] == ["./"]
    assert msc.parse_graph('node { calculator: "EmbeddingsCalculatorOV" }')["max_num_seqs"] is None
    assert msc.parse_graph("# max_num_seqs: 3\n" + text.replace("max_num_seqs: 12,", ""))["max_num_seqs"] == 256


def test_readiness_states():
    status = {"a": {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK"}}]},
              "b": {"model_version_status": [{"version": "1", "state": "LOADING",
                                              "status": {"error_code": "FAILED_PRECONDITION"}}]},
              "c": {"model_version_status": []}}
    got = msc.readiness(status, ["a", "b", "c", "d"])
    assert got["available"] == ["a"] and got["failed"] == {"b": "LOADING/FAILED_PRECONDITION"}
    assert got["empty"] == ["c"] and got["unreported"] == ["d"] and got["not_ready"] == ["b", "c", "d"]
    assert got["states"] == "a=AVAILABLE/OK, b=LOADING/FAILED_PRECONDITION, c=no version, d=not reported"


class FakeInstance:
    """A scripted instance: per poll, the container state and the HTTP answers; a fake clock."""

    def __init__(self, polls, interval=1.0):
        self.polls = polls
        self.index = 0
        self.now = 0.0
        self.interval = interval

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.index = min(self.index + 1, len(self.polls) - 1)

    def inspect(self):
        running = {"status": "running", "running": True, "exit_code": 0, "restarts": 0}
        return self.polls[self.index].get("container", running)

    def http_get(self, path):
        poll = self.polls[self.index]
        if path == "/v2/health/ready":
            return poll.get("health", (None, None))
        return poll.get("config", (None, None))


AVAILABLE = {"m": {"model_version_status": [{"state": "AVAILABLE", "status": {"error_code": "OK"}}]}}
EMPTY = {"m": {"model_version_status": []}}


def wait(polls, **kw):
    fake = FakeInstance(polls)
    options = dict(timeout=30, interval=1, empty_grace=3, clock=fake.clock, sleep=fake.sleep)
    options.update(kw)
    return msc.wait_ready(fake.http_get, fake.inspect, ["m"], **options)


FAILED = {"m": {"model_version_status": [{"state": "LOADING", "status": {"error_code": "FAILED_PRECONDITION"}}]}}


def test_wait_ready_on_the_models_the_instance_lists():
    """expected None: every model the instance lists must be AVAILABLE (an instance on an older config)."""
    fake = FakeInstance([{"health": (200, None), "config": (200, AVAILABLE)}])
    out = msc.wait_ready(fake.http_get, fake.inspect, None, 0, 1, clock=fake.clock, sleep=fake.sleep)
    assert out["ready"] is True and out["states"]["states"] == "m=AVAILABLE/OK"
    fake = FakeInstance([{"health": (200, None), "config": (200, FAILED)}])
    out = msc.wait_ready(fake.http_get, fake.inspect, None, 0, 1, clock=fake.clock, sleep=fake.sleep)
    assert out["ready"] is False and out["reason"] == "failed" and out["states"]["failed"] == {
        "m": "LOADING/FAILED_PRECONDITION"}


def test_wait_ready_after_loading():
    out = wait([{}, {"health": (503, None)}, {"health": (200, None), "config": (200, AVAILABLE)}])
    assert out["ready"] is True and out["reason"] == "ready" and out["seconds"] == 2.0


def test_wait_fails_at_the_first_restart():
    crashed = {"status": "running", "running": True, "exit_code": 0, "restarts": 1}
    out = wait([{}, {"container": crashed}], restarts_baseline=0)
    assert out["reason"] == "crash" and out["seconds"] == 1.0


def test_wait_takes_the_restart_baseline_of_a_running_container():
    # An unchanged container restarted before this run: only a new restart counts.
    old = {"status": "running", "running": True, "exit_code": 0, "restarts": 3}
    out = wait([{"container": old, "health": (200, None), "config": (200, AVAILABLE)}])
    assert out["ready"] is True


def test_wait_fails_when_the_container_stopped():
    exited = {"status": "exited", "running": False, "exit_code": 64, "restarts": 0}
    out = wait([{"container": exited}])
    assert out["reason"] == "crash" and out["container"]["exit_code"] == 64


def test_wait_fails_when_a_model_fails_to_load():
    failed = {"m": {"model_version_status": [{"state": "LOADING", "status": {"error_code": "FAILED_PRECONDITION"}}]}}
    out = wait([{"health": (200, None), "config": (200, failed)}])
    assert out["reason"] == "failed" and out["seconds"] == 0.0


def test_wait_fails_after_the_grace_when_a_model_has_no_version():
    out = wait([{"health": (200, None), "config": (200, EMPTY)}])
    assert out["reason"] == "empty" and out["seconds"] == 3.0


def test_wait_times_out():
    out = wait([{"health": (503, None)}], timeout=5)
    assert out["reason"] == "timeout" and out["seconds"] == 5.0 and out["health"] == 503


def test_gate_message_names_instance_cause_and_log():
    out = wait([{"health": (200, None), "config": (200, EMPTY)}])
    msg = msc.gate_message(out, "node0", "ovms-node0", "http://127.0.0.1:8003", 600, ["line 1", "line 2"], 40,
                           {"m": "/workspace/models/m"})
    assert msg.startswith("model_server: instance node0 (container ovms-node0, http://127.0.0.1:8003) failed the "
                          "readiness gate after 3.0 s: /v2/health/ready answered 200, but /v1/config reports m=no "
                          "version: OVMS found no model version at m base_path /workspace/models/m (the directory does not exist in "
                          "the container, or its user cannot read it).")
    assert "Container state: running (exit code 0, restarts 0). Last 40 log lines:\nline 1\nline 2" in msg
    crash = wait([{"container": {"status": "restarting", "running": False, "exit_code": 1, "restarts": 1}}])
    assert "the container crashed while starting. Container state: restarting (exit code 1, restarts 1)" in \
        msc.gate_message(crash, "node0", "ovms-node0", "u", 600, [], 40)
    again = wait([{"container": {"status": "running", "running": True, "exit_code": 0, "restarts": 2}}],
                 restarts_baseline=0)
    assert "Container state: running again after 2 restart(s)." in \
        msc.gate_message(again, "node0", "ovms-node0", "u", 600, [], 40)


def test_a_source_that_is_not_there_is_missing_and_a_broken_one_is_not(tmp_path):
    with pytest.raises(msc.MissingSourceError, match="does not exist"):
        msc.read_source(str(tmp_path))  # no config.json
    (tmp_path / "config.json").mkdir()
    with pytest.raises(msc.MissingSourceError):
        msc.read_source(str(tmp_path))  # a directory named config.json is no config file
    with pytest.raises(msc.MissingSourceError, match="is not a directory"):
        msc.read_source(str(tmp_path), model_path=str(tmp_path / "absent"), model_name="m")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(msc.SourceError, match="is not valid JSON") as raised:
        msc.read_source(str(broken))
    assert not isinstance(raised.value, msc.MissingSourceError)
