"""benchmark: the report numaserve.ovms.benchmark wrote after running through the balancer of two
stand-in instances (20 ms per token) and against the unpinned baseline it deployed and removed.

Expectations come from the scenario's inventory (token delay, prompts, output length), never from
the code under test."""

import json
import os
import subprocess

import pytest

HOST = "bench-host"


@pytest.fixture(scope="module")
def settings():
    out = subprocess.run(["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--host", HOST],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def report(settings, name):
    with open(os.path.join(settings["benchmark_output_dir"], name), encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("label", ["balanced", "baseline"])
def test_report_is_complete_and_follows_the_token_delay(settings, label):
    doc = json.loads(report(settings, f"{label}.json"))
    m = doc["metrics"]
    prompts, tokens = settings["benchmark_num_prompts"], settings["benchmark_output_len"]
    delay = float(settings["model_server_env"]["OVMS_STANDIN_TOKEN_DELAY_MS"])
    assert (m["completed"], m["failed"]) == (prompts, 0)
    assert m["total_output_tokens"] == prompts * tokens and m["output_tokens_source"] == "usage"
    assert delay - 0.5 <= m["mean_tpot_ms"] <= delay * 1.3
    assert delay - 0.5 <= m["median_itl_ms"] <= delay * 1.3
    assert delay - 0.5 <= m["mean_ttft_ms"] <= delay + 60
    assert doc["load"]["max_concurrency"] == settings["benchmark_max_concurrency"]
    assert doc["client"]["cpus"]
    assert doc["configuration"]["image"] == settings["model_server_image"]
    text = report(settings, f"{label}.txt")
    assert "============ Serving Benchmark Result ============" in text and "Mean TPOT (ms):" in text
    with open(os.path.join(settings["benchmark_output_dir"], f"{label}.png"), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_every_instance_served_requests(settings):
    doc = json.loads(report(settings, "balanced.json"))
    instances = doc["configuration"]["instances"]
    assert sorted(i["name"] for i in instances) == ["node0", "node1"]
    assert sorted(i["cpuset_cpus"] for i in instances) == ["0", "1"]        # the fixture nodes
    shares = doc["instances_share"]
    assert shares["requests"] == settings["benchmark_num_prompts"]
    served = {info["instance"]: info["requests"] for info in shares["instances"].values()}
    assert set(served) == {"node0", "node1"} and all(n > 0 for n in served.values())


def test_baseline_was_unpinned_and_removed(settings, host):
    doc = json.loads(report(settings, "baseline.json"))
    [instance] = doc["configuration"]["instances"]
    assert instance["port"] == settings["benchmark_baseline_port"]
    online = host.file("/sys/devices/system/cpu/online").content_string.strip()
    assert instance["cpuset_cpus"] == online                                # every online CPU
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
