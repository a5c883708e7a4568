"""/metrics: Prometheus text, counters with OVMS labels, in-flight gauge; CPU work knob."""

import os
import re
import threading
import time

import openai


def metric(server, family, **labels):
    status, text = server.get("/metrics")
    assert status == 200
    for line in text.splitlines():
        match = re.match(r"^(\w+)\{(.*)\} (\S+)$", line)
        if match and match.group(1) == family:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(match.group(3))
    raise AssertionError(f"{family}{labels} not in /metrics:\n{text}")


def test_metrics_disabled_is_400(standin, model_dir):
    server = standin(["--config_path", str(model_dir(("m",)) / "config.json")])
    assert server.get("/metrics")[0] == 400


def test_metrics_format_and_counters(served):
    status, text = served.get("/metrics")
    assert "# TYPE ovms_requests_success counter" in text and "# TYPE ovms_current_graphs gauge" in text
    # model_metric_reporter.cpp: a MediaPipe graph has no ovms_current_requests (a model/DAG family)
    assert 'ovms_current_requests{' not in text
    # the stand-in's own engine facts, named so they cannot be taken for OVMS metrics
    assert metric(served, "numaserve_standin_engine_threads", name="m", engine="simulated") == 1
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    info = [line for line in text.splitlines() if line.startswith("numaserve_standin_engine_info{")]
    assert len(info) == 1 and 'engine="simulated"' in info[0] and info[0].endswith(" 1"), info
    listed = re.search(r'cpus="([^"]*)"', info[0]).group(1)
    expanded = []
    for part in listed.split(","):
        low, _dash, high = part.partition("-")
        expanded += range(int(low), int(high or low) + 1)
    assert ",".join(map(str, expanded)) == cpus
    labels = {"api": "V3", "interface": "REST", "name": "m"}
    before_ok = metric(served, "ovms_requests_success", method="Unary", **labels)
    before_stream = metric(served, "ovms_requests_success", method="Stream", **labels)
    before_fail = metric(served, "ovms_requests_fail", method="Unary", **labels)
    client = openai.OpenAI(base_url=served.url + "/v3", api_key="unused", max_retries=0)
    for _request in range(3):
        client.completions.create(model="m", prompt="count me")
    list(client.completions.create(model="m", prompt="count me", stream=True))
    assert served.post("/v3/completions", {"model": "m", "prompt": "x", "max_tokens": -1})[0] == 400
    assert metric(served, "ovms_requests_success", method="Unary", **labels) == before_ok + 3
    assert metric(served, "ovms_requests_success", method="Stream", **labels) == before_stream + 1
    assert metric(served, "ovms_requests_fail", method="Unary", **labels) == before_fail + 1


def test_current_graphs_counts_in_flight(standin, model_dir):
    # mediapipegraphexecutor.hpp: ovms_current_graphs is held while a request runs in the graph.
    # --rest_workers 4: 3 completion requests run at once (drogon_http_server.cpp, see test_fidelity.py)
    server = standin(["--config_path", str(model_dir(("m",)) / "config.json"), "--metrics_enable",
                      "--rest_workers", "4"], env={"OVMS_STANDIN_TOKEN_DELAY_MS": "100"})
    client = openai.OpenAI(base_url=server.url + "/v3", api_key="unused", max_retries=0)
    assert metric(server, "ovms_current_graphs", name="m") == 0

    def stream():
        list(client.chat.completions.create(model="m", stream=True, max_tokens=10, extra_body={"ignore_eos": True},
                                            messages=[{"role": "user", "content": "hold"}]))

    def unary():
        client.completions.create(model="m", prompt="hold", max_tokens=10, extra_body={"ignore_eos": True})

    threads = [threading.Thread(target=f) for f in (stream, stream, unary)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 0.9  # the requests take 10 x 100 ms
    while metric(server, "ovms_current_graphs", name="m") < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert metric(server, "ovms_current_graphs", name="m") == 3
    for t in threads:
        t.join(10)
    assert metric(server, "ovms_current_graphs", name="m") == 0


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_cpu_work_per_token_burns_cpu(standin, model_dir):
    root = model_dir(("m",))
    idle = standin(["--config_path", str(root / "config.json")])
    busy = standin(["--config_path", str(root / "config.json")], env={"OVMS_STANDIN_CPU_WORK_PER_TOKEN": "100000"})
    used = {}
    for name, server in (("idle", idle), ("busy", busy)):
        before = cpu_seconds(server.proc.pid)
        client = openai.OpenAI(base_url=server.url + "/v3", api_key="unused", max_retries=0)
        client.completions.create(model="m", prompt="burn", max_tokens=20, extra_body={"ignore_eos": True})
        used[name] = cpu_seconds(server.proc.pid) - before
    # 20 tokens x 100k iterations is about 0.1 s of CPU; without the knob a request costs ~nothing
    assert used["busy"] >= 0.05 and used["busy"] > 5 * max(used["idle"], 0.01), used
