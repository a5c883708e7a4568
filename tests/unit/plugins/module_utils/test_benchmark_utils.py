# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/benchmark.py: what the benchmark role computes (instances, settings, the command line,
the descriptions, the baseline plan and settings)."""

import pytest

from ansible_collections.numaserve.ovms.plugins.module_utils import benchmark as bm


def inspect_doc(name, instance, ip="127.0.0.1", port="18803", cpus="0", mems="", running=True, image="img:1",
                extra_ports=None):
    bindings = {"%s/tcp" % port: [{"HostIp": ip, "HostPort": port}]} if port else {}
    bindings.update(extra_ports or {})
    labels = {"io.numaserve.managed": "true"}
    if instance:
        labels["io.numaserve.instance"] = instance
    return {"Name": "/" + name, "Config": {"Image": image, "Labels": labels},
            "HostConfig": {"CpusetCpus": cpus, "CpusetMems": mems, "PortBindings": bindings},
            "State": {"Running": running}}


SETTINGS = {
    "python": "/usr/bin/python3", "target_url": "http://127.0.0.1:8080", "endpoint": "/v3/chat/completions",
    "model": "", "num_prompts": 200, "request_rate": "inf", "max_concurrency": 0, "dataset_path": "",
    "input_len": 128, "output_len": 128, "ignore_eos": False, "ttft_rule": "content", "seed": 0, "warmup": 1,
    "client_cpus": "", "label": "balanced", "driver": "builtin", "driver_args": "", "driver_command": "",
    "request_timeout": 3600, "timeout": 7200, "baseline_port": 8100,
}


# --- describe_instances -----------------------------------------------------------------------------------

def test_instances_from_docker_inspect_sorted_by_name():
    docs = [inspect_doc("bench-ovms-node1", "node1", port="18804", cpus="1", mems="1"),
            inspect_doc("bench-ovms-node0", "node0", cpus="0", mems="0")]
    got = bm.describe_instances(docs, "h1", "10.0.0.5", False)
    assert got == [
        {"host": "h1", "name": "node0", "container": "bench-ovms-node0", "image": "img:1", "cpuset_cpus": "0",
         "cpuset_mems": "0", "address": "127.0.0.1", "port": 18803},
        {"host": "h1", "name": "node1", "container": "bench-ovms-node1", "image": "img:1", "cpuset_cpus": "1",
         "cpuset_mems": "1", "address": "127.0.0.1", "port": 18804},
    ]


@pytest.mark.parametrize("ip, elsewhere, address", [
    ("10.1.2.3", True, "10.1.2.3"),       # published on one address: that one
    ("10.1.2.3", False, "10.1.2.3"),
    ("0.0.0.0", True, "srv1.example"),    # wildcard, remote balancer: the host's address
    ("0.0.0.0", False, "127.0.0.1"),      # wildcard, local balancer: loopback
    ("", True, "srv1.example"),
    ("::", False, "127.0.0.1"),
])
def test_instance_address(ip, elsewhere, address):
    [got] = bm.describe_instances([inspect_doc("c", "node0", ip=ip)], "h", "srv1.example", elsewhere)
    assert got["address"] == address


def test_instance_without_label_ports_or_cpusets():
    doc = inspect_doc("ovms-x", None, port=None, cpus="", mems="")
    doc["HostConfig"]["CpusetCpus"] = None
    [got] = bm.describe_instances([doc], "h", "a", False)
    assert (got["name"], got["port"], got["cpuset_cpus"], got["address"]) == ("ovms-x", None, "", "127.0.0.1")


def test_first_port_in_container_port_order_and_stopped_skipped():
    doc = inspect_doc("c", "node0", port="8003", extra_ports={"9000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9000"}]})
    stopped = inspect_doc("d", "node1", running=False)
    assert [i["port"] for i in bm.describe_instances([doc, stopped], "h", "a", False)] == [8003]


def test_instances_from_the_container_layer_schema():
    record = {"name": "ovms-node0", "id": "abc", "running": True, "state": "running",
              "labels": {"io.numaserve.instance": "node0"}, "pid": 7, "image": "img:2", "cpuset_cpus": "0-3",
              "cpuset_mems": "0",
              "ports": [{"host_ip": "127.0.0.1", "host_port": 9001, "container_port": 9001},
                        {"host_ip": "127.0.0.1", "host_port": 8003, "container_port": 8003}]}
    [got] = bm.describe_instances([record], "h", "a", True)
    assert got == {"host": "h", "name": "node0", "container": "ovms-node0", "image": "img:2", "cpuset_cpus": "0-3",
                   "cpuset_mems": "0", "address": "127.0.0.1", "port": 8003}


def test_instances_reject_non_dicts():
    with pytest.raises(bm.BenchmarkError, match="expects container records"):
        bm.describe_instances(["x"], "h", "a", False)


# --- settings -----------------------------------------------------------------------------------------------

def test_default_settings_have_no_problem():
    assert bm.settings_problems(SETTINGS) == []


@pytest.mark.parametrize("key, value, fragment", [
    ("target_url", "127.0.0.1:8080", "benchmark_target_url must be an http(s) URL"),
    ("target_url", "ftp://x", "benchmark_target_url"),
    ("driver", "locust", "benchmark_driver must be one of builtin, vllm, guidellm"),
    ("ttft_rule", "first", "benchmark_ttft_rule"),
    ("num_prompts", 0, "benchmark_num_prompts must be an integer > 0"),
    ("num_prompts", "many", "benchmark_num_prompts"),
    ("request_rate", 0, "benchmark_request_rate must be a number > 0 or 'inf'"),
    ("request_rate", "fast", "benchmark_request_rate"),
    ("label", "baseline", "benchmark_label must be a file-name-safe word"),
    ("label", "a/b", "benchmark_label"),
    ("label", "", "benchmark_label"),
    ("max_concurrency", -1, "benchmark_max_concurrency"),
    ("output_len", -1, "benchmark_output_len"),
    ("baseline_port", 70000, "benchmark_baseline_port must be a TCP port"),
    ("client_cpus", "0-x", "benchmark_client_cpus"),
])
def test_settings_problems_name_the_variable(key, value, fragment):
    problems = bm.settings_problems(dict(SETTINGS, **{key: value}))
    assert len(problems) == 1 and fragment in problems[0], problems


@pytest.mark.parametrize("rate", ["inf", 8, 0.5, "2.5"])
def test_request_rates_accepted(rate):
    assert bm.settings_problems(dict(SETTINGS, request_rate=rate)) == []


@pytest.mark.parametrize("value, text", [(None, ""), ("", ""), (" 0,64 ", "0,64"), (3, "3"), ([1, 0, 2], "0-2"),
                                         ("0-1", "0-1")])
def test_client_cpus(value, text):
    assert bm.client_cpus(value) == text


@pytest.mark.parametrize("url, command", [
    ("http://127.0.0.1:8080", "docker logs --since {since} numaserve-lb"),
    ("http://localhost:18880/", "docker logs --since {since} numaserve-lb"),
    ("http://[::1]:8080", "docker logs --since {since} numaserve-lb"),
    ("http://10.0.0.1:8080", ""),
])
def test_access_log_command_derived_for_loopback_targets(url, command):
    assert bm.access_log_command(url, "docker", "numaserve-lb") == command


def test_access_log_command_given_wins():
    assert bm.access_log_command("http://127.0.0.1:1", "podman", "lb", "") == ""
    assert bm.access_log_command("http://10.0.0.1:1", "podman", "lb", " cat /x ") == "cat /x"
    assert bm.access_log_command("http://127.0.0.1:1", "podman", "lb") == "podman logs --since {since} lb"


# --- the command line ---------------------------------------------------------------------------------------

def test_command_with_the_defaults():
    argv = bm.bench_command(SETTINGS, "http://127.0.0.1:8080", "balanced", "/tmp/w", "/out",
                            "docker logs --since {since} numaserve-lb")
    assert argv == [
        "/usr/bin/python3", "-m", "ovms_bench", "run", "--base-url", "http://127.0.0.1:8080", "--label", "balanced",
        "--config", "/tmp/w/configuration.json", "--result-json", "/out/balanced.json", "--plot", "/out/balanced.png",
        "--endpoint", "/v3/chat/completions", "--num-prompts", "200", "--request-rate", "inf", "--seed", "0",
        "--warmup", "1", "--timeout", "3600", "--driver", "builtin", "--ttft-rule", "content", "--no-progress",
        "--input-len", "128", "--output-len", "128",
        "--access-log-command", "docker logs --since {since} numaserve-lb"]


def test_command_with_every_option():
    settings = dict(SETTINGS, max_concurrency=8, model="m", dataset_path="/d.json", output_len=0, ignore_eos=True,
                    client_cpus=[0, 1], driver="vllm", driver_args="--tokenizer t", driver_command="vllm bench",
                    request_rate=2.5)
    argv = bm.bench_command(settings, "http://10.0.0.1:8100", "baseline", "/w", "/o")
    assert argv[:13] == ["/usr/bin/python3", "-m", "ovms_bench", "run", "--base-url", "http://10.0.0.1:8100",
                         "--label", "baseline", "--config", "/w/baseline.json", "--result-json", "/o/baseline.json",
                         "--plot"]
    tail = argv[argv.index("--no-progress") + 1:]
    assert tail == ["--max-concurrency", "8", "--model", "m", "--dataset-path", "/d.json", "--ignore-eos",
                    "--client-cpus", "0-1", "--driver-args", "--tokenizer t", "--driver-command", "vllm bench"]
    assert argv[argv.index("--request-rate") + 1] == "2.5" and "--access-log-command" not in argv


# --- descriptions -------------------------------------------------------------------------------------------

def test_configuration_flattens_hosts_and_joins_images():
    a = {"name": "node0", "image": "img:1"}
    b = {"name": "node1", "image": "img:2"}
    c = {"name": "node0", "image": "img:1"}
    doc = bm.configuration([[a, b], [c]], "http", "http://127.0.0.1:8080")
    assert doc == {"mode": "balanced (http, least_conn)", "image": "img:1, img:2", "balancer": "http://127.0.0.1:8080",
                   "instances": [a, b, c]}
    assert bm.configuration([], "stream", "u")["image"] is None


def test_baseline_configuration_and_url():
    endpoint = {"host": "h-baseline", "instance": "baseline", "container": "ovms-baseline", "address": "127.0.0.1",
                "port": 8100, "cpuset_cpus": "0-1", "cpus": 2}
    doc = bm.baseline_configuration(endpoint, "h", "img:1")
    assert doc == {"mode": "baseline: one unpinned instance, no memory binding, no balancer", "image": "img:1",
                   "instances": [{"name": "baseline", "host": "h", "container": "ovms-baseline", "cpuset_cpus": "0-1",
                                  "cpuset_mems": "", "address": "127.0.0.1", "port": 8100}]}
    assert bm.baseline_url(endpoint) == "http://127.0.0.1:8100"
    assert bm.baseline_url(dict(endpoint, address="fd00::1")) == "http://[fd00::1]:8100"
    with pytest.raises(bm.BenchmarkError, match="no endpoint"):
        bm.baseline_url({})


# --- baseline -----------------------------------------------------------------------------------------------

def test_baseline_plan_every_online_cpu_but_the_clients():
    assert bm.baseline_plan("0-7\n", "0,4", "8100") == [
        {"name": "baseline", "nodes": [], "cpuset_cpus": "1-3,5-7", "cpuset_mems": "", "rest_port": 8100,
         "grpc_port": None, "cpus": 6}]
    assert bm.baseline_plan("0-1", "", 18810)[0]["cpuset_cpus"] == "0-1"
    assert bm.baseline_plan("0-1", None, 18810)[0]["cpus"] == 2


def test_baseline_plan_refuses_an_empty_cpuset():
    with pytest.raises(bm.BenchmarkError, match="leaves no online CPU"):
        bm.baseline_plan("0-1", "0-1", 8100)


def test_baseline_settings_take_inputs_not_outputs_then_overrides():
    source = {"model_server_image": "img:1", "model_server_env": {"A": "1"}, "model_server_endpoints": [{}],
              "model_server_instance_changed": True, "model_server_probe": {}, "ansible_host": "x",
              "numa_facts_policy": "per_node"}
    got = bm.baseline_settings(source, {"model_server_env": {"B": "2"}})
    assert got == {"model_server_image": "img:1", "model_server_env": {"B": "2"}}
    with pytest.raises(bm.BenchmarkError, match="not a model_server_"):
        bm.baseline_settings(source, {"image": "x"})


# --- result (the fact benchmark_result) -------------------------------------------------------------------

def result_doc(**metrics):
    """A result document as ``ovms_bench run --result-json`` writes it (the keys the fact reads)."""
    base = {"completed": 4, "failed": 0, "duration": 2.0, "output_throughput": 256.5, "request_throughput": 2.0,
            "mean_ttft_ms": 41.5, "median_ttft_ms": 40.0, "std_ttft_ms": 3.0, "p99_ttft_ms": 47.25,
            "mean_tpot_ms": 7.5, "median_tpot_ms": 7.0, "std_tpot_ms": 1.0, "p99_tpot_ms": 9.75,
            "mean_itl_ms": 7.5, "median_itl_ms": 7.0}
    base.update(metrics)
    return {"tool": "ovms_bench", "label": "canary-node0", "target": {"url": "http://127.0.0.1:19301/v3/chat"},
            "metrics": base, "instances_share": None}


def test_result_from_the_json_text():
    import json
    assert bm.result(json.dumps(result_doc()), "canary-node0") == {
        "label": "canary-node0", "completed": 4, "failed": 0,
        "ttft_ms": {"mean": 41.5, "median": 40.0, "p99": 47.25},
        "tpot_ms": {"mean": 7.5, "median": 7.0, "p99": 9.75},
        "output_throughput": 256.5}


def test_result_types_counts_int_figures_float():
    out = bm.result(result_doc(completed=3, failed=1, median_ttft_ms=40, output_throughput=100))
    assert (out["completed"], out["failed"]) == (3, 1)
    assert isinstance(out["ttft_ms"]["median"], float) and out["ttft_ms"]["median"] == 40.0
    assert isinstance(out["output_throughput"], float)


def test_result_without_a_completed_request_has_no_times():
    # the load generator writes 0 ms when nothing completed: that is no measurement (a TTFT limit must not pass)
    out = bm.result(result_doc(completed=0, failed=4, mean_ttft_ms=0.0, median_ttft_ms=0.0, p99_ttft_ms=0.0))
    assert (out["completed"], out["failed"]) == (0, 4)
    assert out["ttft_ms"] == {"mean": None, "median": None, "p99": None}
    assert out["tpot_ms"] == {"mean": None, "median": None, "p99": None}


def test_result_missing_or_not_finite_figures_are_none():
    doc = result_doc(p99_ttft_ms="inf", output_throughput=None)
    del doc["metrics"]["p99_tpot_ms"]  # --percentiles without 99
    del doc["metrics"]["failed"]
    del doc["label"]
    out = bm.result(doc, "fallback")
    assert out["label"] == "fallback" and out["failed"] == 0
    assert out["ttft_ms"]["p99"] is None and out["tpot_ms"]["p99"] is None and out["output_throughput"] is None
    assert out["ttft_ms"]["median"] == 40.0
    assert bm.result(result_doc(median_ttft_ms=float("nan")))["ttft_ms"]["median"] is None


@pytest.mark.parametrize("text, fragment", [("not json", "canary.json is not JSON"),
                                            ("[]", "canary.json has no metrics"),
                                            ('{"label": "x"}', "canary.json has no metrics")])
def test_result_of_something_else_names_the_file(text, fragment):
    with pytest.raises(bm.BenchmarkError, match=fragment):
        bm.result(text, "canary")


def test_result_of_what_ovms_bench_writes(tmp_path):
    """Round trip through the load generator's own metrics and JSON writer (tools/ovms_bench)."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "tools"))
    try:
        from ovms_bench import report, stats
    finally:
        sys.path.pop(0)
    results = [stats.RequestResult(success=True, prompt_len=8, output_tokens=5, ttft=0.010 * (i + 1),
                                   latency=0.010 * (i + 1) + 0.04) for i in range(3)]
    results.append(stats.RequestResult(success=False, error="boom"))
    doc = {"label": "local", "metrics": stats.calculate_metrics(results, 1.0, [99.0])}
    path = str(tmp_path / "local.json")
    report.write_json(doc, path)
    with open(path, encoding="utf-8") as handle:
        out = bm.result(handle.read(), "local")
    assert (out["label"], out["completed"], out["failed"]) == ("local", 3, 1)
    assert out["ttft_ms"]["median"] == pytest.approx(20.0)
    assert out["ttft_ms"]["mean"] == pytest.approx(20.0)
    assert out["ttft_ms"]["p99"] == pytest.approx(29.8)
    assert out["tpot_ms"]["median"] == pytest.approx(10.0)
    assert out["output_throughput"] == pytest.approx(15.0)
