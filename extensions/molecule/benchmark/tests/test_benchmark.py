"""benchmark: the report numaserve.ovms.benchmark wrote after running through the balancer of two
stand-in instances pinned to one CPU each, generating for real (openvino engine, the 32m random-weight
test model), and against the unpinned baseline it deployed and removed; then what users rely on with a
real engine: every instance's inference threads and CPUs are its plan's, greedy answers do not depend on
the instance, streaming through the balancer streams, and a re-plan changes the thread count.

Expectations come from the scenario's inventory and the plan (container cpusets), never from the code
under test. The re-plan test changes the deployment, so it runs last."""

import json
import os
import re
import subprocess
import time

import httpx
import pytest

from sse import delta_text, sse_chunks
from stack_checks import chat, cpulist, instance_containers, pinning

HOST = "bench-host"
LB = "http://127.0.0.1:18880"


@pytest.fixture(scope="module")
def settings():
    out = subprocess.run(["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--host", HOST],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def report(settings, name):
    with open(os.path.join(settings["benchmark_output_dir"], name), encoding="utf-8") as handle:
        return handle.read()


def instances():
    """{instance: (cpuset_cpus, rest port)} of the running model server containers of the host."""
    found = {}
    for name, info in instance_containers(HOST).items():
        if info["State"]["Running"]:
            port = int([b for v in info["HostConfig"]["PortBindings"].values() for b in v][0]["HostPort"])
            found[name] = (info["HostConfig"]["CpusetCpus"], port, info["Name"].lstrip("/"))
    return found


def engine_gauges(port):
    """(threads, cpus, engine) from the stand-in's /metrics gauges numaserve_standin_engine_*."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    threads = cpus = engine = None
    for line in text.splitlines():
        if line.startswith("numaserve_standin_engine_threads{"):
            threads = int(float(line.rsplit(" ", 1)[1]))
        if line.startswith("numaserve_standin_engine_info{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            cpus, engine = labels["cpus"], labels["engine"]
    return threads, cpus, engine


@pytest.mark.parametrize("label", ["balanced", "baseline"])
def test_report_is_complete(settings, label):
    doc = json.loads(report(settings, f"{label}.json"))
    m = doc["metrics"]
    prompts, tokens = settings["benchmark_num_prompts"], settings["benchmark_output_len"]
    assert (m["completed"], m["failed"]) == (prompts, 0)
    assert m["total_output_tokens"] == prompts * tokens and m["output_tokens_source"] == "usage"
    for key in ("request_throughput", "output_throughput", "mean_ttft_ms", "mean_tpot_ms"):
        assert m[key] > 0, key
    assert m["mean_ttft_ms"] < m["mean_e2el_ms"]
    assert doc["load"]["max_concurrency"] == settings["benchmark_max_concurrency"]
    assert doc["client"]["cpus"]
    assert doc["configuration"]["image"] == settings["model_server_image"]
    text = report(settings, f"{label}.txt")
    assert "============ Serving Benchmark Result ============" in text and "Mean TPOT (ms):" in text
    with open(os.path.join(settings["benchmark_output_dir"], f"{label}.png"), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_every_instance_served_requests(settings):
    doc = json.loads(report(settings, "balanced.json"))
    configured = doc["configuration"]["instances"]
    assert sorted(i["name"] for i in configured) == ["node0", "node1"]
    assert sorted(i["cpuset_cpus"] for i in configured) == ["0", "1"]        # the fixture nodes
    shares = doc["instances_share"]
    assert shares["requests"] == settings["benchmark_num_prompts"]
    served = {info["instance"]: info["requests"] for info in shares["instances"].values()}
    assert set(served) == {"node0", "node1"} and all(n > 0 for n in served.values())


def test_baseline_was_unpinned_and_removed(settings, host):
    doc = json.loads(report(settings, "baseline.json"))
    [instance] = doc["configuration"]["instances"]
    assert instance["port"] == settings["benchmark_baseline_port"]
    online = host.file("/sys/devices/system/cpu/online").content_string.strip()
    assert cpulist(instance["cpuset_cpus"]) == cpulist(online)              # every online CPU
    assert doc["instances_share"] is None                                   # no balancer in front
    left = host.run(f"docker ps -a --filter label=io.numaserve.host={HOST}-baseline --format '{{{{.Names}}}}'")
    assert left.rc == 0 and left.stdout.strip() == ""


def test_scaling_comparison(settings):
    comp = json.loads(report(settings, "scaling.json"))
    assert comp["baseline"] == "baseline"
    base, balanced = comp["configurations"]
    assert base["output_throughput_ratio"] == pytest.approx(1.0)
    assert balanced["output_throughput_ratio"] == pytest.approx(
        balanced["output_throughput"] / base["output_throughput"])
    assert balanced["instances"] == 2 and base["instances"] == 1
    with open(os.path.join(settings["benchmark_output_dir"], "scaling.png"), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_engine_threads_and_cpus_are_the_plans_for_every_instance():
    found = instances()
    assert sorted(found) == ["node0", "node1"]
    for name, (cpuset, port, container) in found.items():
        threads, cpus, engine = engine_gauges(port)
        assert engine == "openvino", name
        assert threads == len(cpulist(cpuset)), (name, threads, cpuset)
        assert cpulist(cpus) == cpulist(cpuset), (name, cpus, cpuset)
        assert pinning(container)[0] == cpulist(cpuset)
        logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=True)
        assert f"engine=openvino threads={threads} cpus={cpus}" in logs.stdout + logs.stderr


def greedy(client, base_url, settings, content="Which instance answers?"):
    body = {"model": settings["stack_model_name"], "max_tokens": 24, "temperature": 0,
            "messages": [{"role": "user", "content": content}]}
    resp = client.post(base_url + "/v3/chat/completions", json=body)
    resp.raise_for_status()
    return resp.json()


def test_same_greedy_answer_whichever_instance_serves(settings):
    with httpx.Client(timeout=60) as client:
        direct = {name: greedy(client, f"http://127.0.0.1:{port}", settings)["choices"][0]["message"]["content"]
                  for name, (dummy, port, dummy2) in instances().items()}
        through = [greedy(client, LB, settings)["choices"][0]["message"]["content"] for dummy in range(6)]
    answers = set(direct.values()) | set(through)
    assert len(direct) == 2 and len(answers) == 1 and answers != {""}, (direct, through)


def test_streaming_through_the_balancer(settings):
    model, tokens = settings["stack_model_name"], 256
    body = {"model": model, "max_tokens": tokens, "ignore_eos": True, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "messages": [{"role": "user", "content": "Stream"}]}
    start, first, last, text, usage = time.monotonic(), None, None, [], None
    with httpx.Client(timeout=120) as client:
        with client.stream("POST", LB + "/v3/chat/completions", json=body) as resp:
            resp.raise_for_status()
            for chunk in sse_chunks(resp):            # fails unless the stream ends with data: [DONE]
                usage = chunk.get("usage") or usage
                piece = delta_text(chunk)
                if piece:
                    first = first or time.monotonic() - start
                    last = time.monotonic() - start
                    text.append(piece)
        unary = client.post(LB + "/v3/chat/completions", json=dict(body, stream=False, stream_options=None))
    assert len(text) > 10
    # 256 tokens take far longer than the first few: the first chunk left before the last token existed.
    assert first < last / 4, (first, last)
    assert usage["completion_tokens"] == tokens
    unary_doc = unary.json()
    assert unary_doc["usage"]["completion_tokens"] == tokens
    assert unary_doc["usage"]["prompt_tokens"] == usage["prompt_tokens"]
    assert "".join(text) == unary_doc["choices"][0]["message"]["content"]


def test_zz_replan_changes_the_thread_count(settings):
    """Re-plan to one instance over both nodes (numa_facts_instances): its engine then runs 2 threads."""
    plan = json.dumps({"numa_facts_instances": [{"name": "both", "nodes": [0, 1]}]})
    run = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "numaserve.ovms.site",
                          "-e", plan], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    found = instances()
    assert sorted(found) == ["both"]
    cpuset, port, dummy = found["both"]
    threads, cpus, dummy = engine_gauges(port)
    assert cpulist(cpuset) == [0, 1] and threads == 2 and cpulist(cpus) == [0, 1]
    with httpx.Client(timeout=60) as client:
        assert chat(client, LB, settings["stack_model_name"], max_tokens=4)
