"""End to end: the benchmark against the OVMS stand-in started as a local process (no Docker).

The stand-in streams OVMS 2026.3's empty handshake chunk, then one chunk per token every OVMS_STANDIN_TOKEN_DELAY_MS: the
measured TPOT and ITL must match that delay, TTFT one delay, and every request must succeed."""

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from ovms_bench import cli, parsers
from conftest import ROOT

sys.path.insert(0, ROOT)
from tools.test_models import layout  # noqa: E402  pylint: disable=wrong-import-position

STANDIN = os.path.join(ROOT, "images", "ovms-standin", "ovms_standin.py")
DELAY_MS = 20
TOKENS = 10
REQUESTS = 20
CONCURRENCY = 4


def standin_ready():
    try:
        with open(STANDIN, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return False
    return "placeholder" not in text[:200] and len(text.splitlines()) > 20


pytestmark = pytest.mark.skipif(not standin_ready(),
                                reason=f"{STANDIN} is still a placeholder: no server to benchmark")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    models = tmp_path_factory.mktemp("standin")
    layout.write_model_dir(models, "m")  # export_model.py's layout, no weights: the simulated engine
    port = free_port()
    env = dict(os.environ, OVMS_STANDIN_TOKEN_DELAY_MS=str(DELAY_MS), OVMS_STANDIN_ENGINE="simulated")
    # --rest_workers: one REST worker per concurrent completion plus the one drogon's loop holds
    # (src/drogon_http_server.cpp); the default on a 2-CPU machine would make requests queue.
    proc = subprocess.Popen([sys.executable, STANDIN, "--rest_port", str(port), "--rest_bind_address", "127.0.0.1",
                             "--config_path", str(models / "config.json"), "--rest_workers", str(CONCURRENCY + 1)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the stand-in exited with {proc.returncode}")
            try:
                if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the stand-in was not ready within 20 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_benchmark_matches_the_configured_token_delay(standin, tmp_path, capsys):
    result = tmp_path / "standin.json"
    code = cli.main(["run", "--base-url", standin, "--num-prompts", str(REQUESTS), "--max-concurrency",
                     str(CONCURRENCY), "--output-len", str(TOKENS), "--ignore-eos", "--seed", "10",
                     "--label", "stand-in", "--result-json", str(result), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    sys.stderr.write("\n" + out + "\n")          # the figures of this run, visible with pytest -s
    doc = json.loads(result.read_text())
    m = doc["metrics"]
    assert doc["target"]["model"] == "m"          # found through /v3/models
    assert (m["completed"], m["failed"]) == (REQUESTS, 0) and doc["errors"] == {}
    assert m["total_output_tokens"] == REQUESTS * TOKENS and m["output_tokens_source"] == "usage"
    assert m["input_tokens_source"] == "usage" and m["total_input_tokens"] > 0
    # per-token figures follow the configured delay (sleep overshoot and a busy host add a little)
    assert DELAY_MS - 0.5 <= m["mean_tpot_ms"] <= DELAY_MS * 1.25
    assert DELAY_MS - 0.5 <= m["median_itl_ms"] <= DELAY_MS * 1.25
    assert DELAY_MS - 0.5 <= m["mean_ttft_ms"] <= DELAY_MS + 40
    assert TOKENS * DELAY_MS <= m["mean_e2el_ms"] <= TOKENS * DELAY_MS * 1.25 + 40
    # 20 requests of ~200 ms, 4 at a time: 5 waves of ~200 ms
    waves = REQUESTS / CONCURRENCY
    assert waves * TOKENS * DELAY_MS / 1000 <= m["duration"] <= waves * TOKENS * DELAY_MS / 1000 * 1.6
    assert m["request_throughput"] == pytest.approx(REQUESTS / m["duration"])
    # the block users know, with the same figures
    block = parsers.parse_vllm_output(out)
    assert block["completed"] == REQUESTS and block["total_output_tokens"] == REQUESTS * TOKENS
    assert block["mean_tpot_ms"] == pytest.approx(m["mean_tpot_ms"], abs=0.006)
