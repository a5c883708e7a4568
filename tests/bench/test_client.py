"""The load generator against a small in-process streaming server with a known per-token delay."""

import asyncio
import threading

import pytest

from ovms_bench import client, datasets
from ovms_bench.stats import calculate_metrics

DELAY = 0.02


def run(base_url, prompts, concurrency=4, rate=float("inf"), endpoint="/v3/chat/completions", warmups=1):
    spec = client.RequestSpec(url=base_url + endpoint, model="fake-model", kind=client.endpoint_kind(endpoint))
    return asyncio.run(client.run(spec, prompts, rate, concurrency, seed=1, warmups=warmups, progress=False))


def test_timings_follow_the_server_delay(fake_server):
    url, handler = fake_server
    handler.delay, handler.role_first = DELAY, True     # like OVMS's stand-in: role chunk, then tokens
    out = run(url, datasets.generate(12, seed=1, input_len=16, output_len=10))
    m = calculate_metrics(out.results, out.duration)
    assert (m["completed"], m["failed"]) == (12, 0)
    assert m["total_output_tokens"] == 120 and m["output_tokens_source"] == "usage"
    assert m["total_input_tokens"] == 12 * 7 and m["input_tokens_source"] == "usage"
    assert DELAY * 1000 - 1 <= m["mean_ttft_ms"] <= DELAY * 1000 + 30   # plus connection set-up
    # sleeps only overshoot, and a busy machine adds time: lower bounds tight, upper bounds looser
    assert DELAY * 1000 - 0.5 <= m["mean_tpot_ms"] <= DELAY * 1000 * 1.3
    assert DELAY * 1000 - 0.5 <= m["median_itl_ms"] <= DELAY * 1000 * 1.3
    assert 10 * DELAY * 1000 <= m["mean_e2el_ms"] <= 10 * DELAY * 1000 * 1.3 + 40
    # 12 requests of ~200 ms, 4 at a time: 3 waves
    assert 3 * 10 * DELAY <= out.duration <= 3 * 10 * DELAY * 1.6
    assert len(out.warmup) == 1 and out.warmup[0].success
    assert handler.counter == 13                      # the warm-up request was sent but is not in the figures


def test_fallback_counts_content_chunks_when_no_usage(fake_server):
    url, handler = fake_server
    handler.delay, handler.usage = 0.001, False
    out = run(url, datasets.generate(3, seed=1, input_len=8, output_len=6))
    for res in out.results:
        # the first chunk is a role chunk with content null: 5 of the 6 chunks carry text
        assert res.success and res.output_tokens == 5 and res.output_tokens_source == "chunks"
        assert res.prompt_len_source == "estimate" and len(res.itl) == 4


def test_completions_endpoint(fake_server):
    url, handler = fake_server
    handler.delay = 0.001
    out = run(url, datasets.generate(2, seed=1, input_len=8, output_len=4), endpoint="/v3/completions")
    assert all(r.success and r.output_tokens == 4 for r in out.results)


def test_failures_are_counted_not_fatal(fake_server):
    url, handler = fake_server
    handler.delay, handler.fail_every = 0.001, 3
    out = run(url, datasets.generate(9, seed=1, input_len=8, output_len=3), warmups=0)
    failed = [r for r in out.results if not r.success]
    assert len(failed) == 3
    assert all(r.error.startswith("HTTP 500") and r.status == 500 for r in failed)


def test_all_warmups_failing_stops_the_run(fake_server):
    url, handler = fake_server
    handler.fail_every = 1
    with pytest.raises(RuntimeError, match="warm-up"):
        run(url, datasets.generate(2, seed=1, input_len=8, output_len=3))


def test_unreachable_server_is_reported_per_request():
    out = run("http://127.0.0.1:9", datasets.generate(2, seed=1, input_len=8, output_len=3), warmups=0)
    assert [r.success for r in out.results] == [False, False]
    assert "Connect" in out.results[0].error


def test_concurrency_cap_is_respected(fake_server):
    url, handler = fake_server
    handler.delay = 0.005
    state = {"now": 0, "max": 0}
    lock = threading.Lock()
    original = handler.do_POST

    def counting(self):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            original(self)
        finally:
            with lock:
                state["now"] -= 1

    handler.do_POST = counting
    run(url, datasets.generate(12, seed=1, input_len=8, output_len=5), concurrency=3, warmups=0)
    assert state["max"] == 3


def test_poisson_rate_spreads_the_requests(fake_server):
    url, handler = fake_server
    handler.delay = 0.001
    prompts = datasets.generate(10, seed=1, input_len=8, output_len=2)
    out = run(url, prompts, concurrency=None, rate=20.0, warmups=0)
    last_send = client.poisson_schedule(10, 20.0, seed=1)[-1]
    starts = sorted(r.start_time for r in out.results)
    assert starts[-1] - starts[0] == pytest.approx(last_send, abs=0.05)


def test_generated_prompts_are_seeded():
    a = datasets.generate(5, seed=3, input_len=40, output_len=8, range_ratio=0.5)
    assert a == datasets.generate(5, seed=3, input_len=40, output_len=8, range_ratio=0.5)
    assert a != datasets.generate(5, seed=4, input_len=40, output_len=8, range_ratio=0.5)
    assert all(20 <= p.prompt_len <= 70 and 4 <= p.output_len <= 12 for p in a)


def test_sharegpt_sampling(tmp_path):
    convs = [{"conversations": [{"from": "human", "value": f"question {i} " + "word " * (5 + i)},
                                {"from": "gpt", "value": "answer " * (10 + i)}]} for i in range(30)]
    convs.append({"conversations": [{"from": "human", "value": "single turn only"}]})
    path = tmp_path / "sharegpt.json"
    path.write_text(__import__("json").dumps(convs))
    first = datasets.load_sharegpt(str(path), 10, seed=10)
    assert first == datasets.load_sharegpt(str(path), 10, seed=10)
    assert len(first) == 10 and all(p.text.startswith("question") for p in first)
    assert all(p.output_len == datasets.estimate_tokens("answer " * int(p.text.split()[1]) + "answer " * 10)
               for p in first)
    assert all(p.output_len == 16 for p in datasets.load_sharegpt(str(path), 5, seed=1, output_len=16))
    with pytest.raises(ValueError, match="only 30 usable"):
        datasets.load_sharegpt(str(path), 40, seed=1)


def test_time_chunks_rules():
    # a role-only chunk at 1 ms, then text at 100, 120, 140 ms
    stamps = [(0.001, False), (0.100, True), (0.120, True), (0.140, True)]
    ttft, itl, latency = client.time_chunks(0.0, stamps, "content")
    assert ttft == pytest.approx(0.100) and itl == pytest.approx([0.02, 0.02]) and latency == pytest.approx(0.140)
    ttft, itl, latency = client.time_chunks(0.0, stamps, "vllm")
    assert ttft == pytest.approx(0.001) and itl == pytest.approx([0.099, 0.02, 0.02])
    assert client.time_chunks(0.0, [(0.5, False), (0.7, False)], "content")[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="TTFT rule"):
        client.time_chunks(0.0, stamps, "fastest")


@pytest.mark.parametrize("rule", ["content", "vllm"])
def test_role_chunk_before_the_first_token(fake_server, rule):
    """A server that sends the role chunk at once: only the content rule sees the real first token."""
    delay_ms = 50.0
    url, handler = fake_server
    handler.delay, handler.role_first = delay_ms / 1000, True
    spec = client.RequestSpec(url=url + "/v3/chat/completions", model="m", ttft_rule=rule)
    prompts = datasets.generate(4, seed=1, input_len=8, output_len=8)
    out = asyncio.run(client.run(spec, prompts, float("inf"), 2, seed=1, warmups=0, progress=False))
    m = calculate_metrics(out.results, out.duration)
    assert m["completed"] == 4 and m["total_output_tokens"] == 32
    # connection set-up on a busy machine only adds time: bounds are one-sided where it matters
    if rule == "content":
        assert delay_ms - 1 <= m["mean_ttft_ms"] <= delay_ms + 60
        assert delay_ms - 0.5 <= m["mean_tpot_ms"] <= delay_ms * 1.2
    else:
        assert m["mean_ttft_ms"] < delay_ms * 0.8
        assert delay_ms * 8 / 7 - 0.5 <= m["mean_tpot_ms"] <= delay_ms * 8 / 7 * 1.2   # 8 gaps over 7 tokens


@pytest.mark.parametrize("endpoint", ["/v3/chat/completions", "/v3/completions"])
def test_ovms_2026_3_handshake_chunk_is_not_the_first_token(fake_server, endpoint):
    """OVMS 2026.3 sends an empty handshake chunk first on every streaming endpoint (and may end with a
    finish-only chunk): the default rule times the first text, and ITL runs between text chunks."""
    delay_ms = 50.0
    url, handler = fake_server
    handler.delay, handler.handshake = delay_ms / 1000, True
    spec = client.RequestSpec(url=url + endpoint, model="m", kind=client.endpoint_kind(endpoint))
    prompts = datasets.generate(4, seed=1, input_len=8, output_len=8)
    out = asyncio.run(client.run(spec, prompts, float("inf"), 2, seed=1, warmups=0, progress=False))
    m = calculate_metrics(out.results, out.duration)
    assert (m["completed"], m["total_output_tokens"]) == (4, 32)
    assert delay_ms - 1 <= m["mean_ttft_ms"] <= delay_ms + 60       # not the handshake's ~0 ms
    assert delay_ms - 0.5 <= m["median_itl_ms"] <= delay_ms * 1.3   # no ~0 ms gap to the finish chunk
    assert delay_ms - 0.5 <= m["mean_tpot_ms"] <= delay_ms * 1.3
