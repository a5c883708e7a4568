"""Parsers of other tools' output, written by hand from their documented formats."""

import json
import os

import pytest

from ovms_bench import parsers
from conftest import FIXTURES


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def test_vllm_0_6_block():
    m = parsers.parse_vllm_output(fixture("vllm-0.6.0-benchmark_serving.txt"))
    assert m["completed"] == 1000 and m["failed"] == 0       # no "Failed requests" line in 0.6
    assert m["request_rate"] == float("inf")                 # from "Traffic request rate" above the block
    assert m["duration"] == pytest.approx(447.62)
    assert m["total_output_tokens"] == 198588                 # "Total generated tokens"
    assert m["request_throughput"] == pytest.approx(2.23)
    assert m["output_throughput"] == pytest.approx(443.65)
    assert m["total_token_throughput"] == pytest.approx(924.41)  # "Total Token throughput"
    assert m["mean_ttft_ms"] == pytest.approx(171999.94)
    assert m["p99_itl_ms"] == pytest.approx(327.80)
    assert "mean_e2el_ms" not in m


def test_vllm_0_7_3_block_with_concurrency_before_the_block():
    m = parsers.parse_vllm_output(fixture("vllm-0.7.3-benchmark_serving.txt"))
    assert m["max_concurrency"] == 4
    assert m["completed"] == 2000 and m["total_input_tokens"] == 443650
    assert m["median_tpot_ms"] == pytest.approx(252.55)
    assert m["p99_ttft_ms"] == pytest.approx(404661.83)


def test_vllm_bench_serve_new_fields():
    m = parsers.parse_vllm_output(fixture("vllm-bench-serve-0.11.txt"))
    assert (m["completed"], m["failed"], m["max_concurrency"]) == (198, 2, 16)
    assert m["request_rate"] == pytest.approx(8.0)
    assert m["max_output_tokens_per_s"] == pytest.approx(1088.0)
    assert m["max_concurrent_requests"] == 16
    assert m["total_token_throughput"] == pytest.approx(1987.51)   # lower-case "token" now
    assert m["p90_ttft_ms"] == pytest.approx(1502.33)
    assert m["p99_e2el_ms"] == pytest.approx(8944.20)
    assert m["mean_itl_ms"] == pytest.approx(14.73)


def test_ovms_2024_block_with_input_throughput_and_missing_sections():
    m = parsers.parse_vllm_output(fixture("ovms-2024-benchmark_serving.txt"))
    assert m["input_throughput"] == pytest.approx(480.76)
    assert "total_token_throughput" not in m and "mean_itl_ms" not in m
    assert m["mean_tpot_ms"] == pytest.approx(211.31)


def test_several_blocks_and_unknown_lines():
    text = (fixture("vllm-0.6.0-benchmark_serving.txt")
            + fixture("vllm-bench-serve-0.11.txt").replace("Peak concurrent requests", "Brand new metric (x)"))
    blocks = parsers.parse_vllm_blocks(text)
    assert [b["completed"] for b in blocks] == [1000, 198]
    assert blocks[1]["extra"] == {"Brand new metric (x)": 16.0}
    assert parsers.parse_vllm_output(text)["completed"] == 198


def test_no_block_is_an_error():
    with pytest.raises(ValueError, match="Serving Benchmark Result"):
        parsers.parse_vllm_output("Traceback (most recent call last):\n  boom\n")


def test_truncated_block_keeps_what_was_printed():
    text = fixture("vllm-0.7.3-benchmark_serving.txt").split("---------------Inter-token")[0]
    m = parsers.parse_vllm_output(text)
    assert m["completed"] == 2000 and m["mean_tpot_ms"] == pytest.approx(253.62)


def test_vllm_saved_json():
    m = parsers.parse_vllm_json(json.loads(fixture("vllm-result.json")))
    assert m["completed"] == 48 and m["failed"] == 2           # num_prompts - completed
    assert m["p99_itl_ms"] == pytest.approx(40.0)
    assert "ttfts" not in m and "itls" not in m


def test_guidellm_json():
    [m] = parsers.parse_guidellm_json(json.loads(fixture("guidellm-benchmarks.json")))
    assert (m["completed"], m["failed"]) == (118, 2)
    assert m["duration"] == pytest.approx(60.0)
    assert m["request_throughput"] == pytest.approx(1.97)
    assert m["output_throughput"] == pytest.approx(251.3)
    assert m["p99_ttft_ms"] == pytest.approx(190.25)
    assert m["std_ttft_ms"] == pytest.approx(20.0)
    assert m["mean_e2el_ms"] == pytest.approx(2790.0)          # seconds -> ms
    assert m["total_output_tokens"] == 15104


def test_guidellm_rejects_other_json():
    with pytest.raises(ValueError, match="GuideLLM"):
        parsers.parse_guidellm_json({"completed": 3})
