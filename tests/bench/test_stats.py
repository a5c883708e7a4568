"""Statistics as vLLM defines them: percentiles, TTFT/TPOT/ITL/E2EL and throughputs."""

import random

import pytest

from ovms_bench.stats import RequestResult, calculate_metrics, mean, percentile, std


@pytest.mark.parametrize("values, p, expected", [
    ([1, 2, 3, 4], 50, 2.5),          # between the two middle values
    ([1, 2, 3, 4, 5], 50, 3),
    (list(range(1, 101)), 99, 99.01),  # rank 0.99 * 99 = 98.01 -> 99 + 0.01
    ([10, 20], 99, 19.9),
    ([5], 99, 5),
    ([3, 1, 2], 0, 1),
    ([3, 1, 2], 100, 3),
    ([], 99, 0.0),                     # vLLM: np.percentile(x or 0) -> 0 for no data
])
def test_percentile_known_values(values, p, expected):
    assert percentile(values, p) == pytest.approx(expected)


def test_percentile_matches_numpy_linear():
    numpy = pytest.importorskip("numpy")
    rng = random.Random(4)
    for size in (2, 7, 100, 1001):
        data = [rng.expovariate(1.0) for _index in range(size)]
        for p in (1, 25, 50, 90, 99, 99.9):
            assert percentile(data, p) == pytest.approx(float(numpy.percentile(data, p)))
        assert std(data) == pytest.approx(float(numpy.std(data)))


def test_percentile_rejects_out_of_range():
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


def timeline(start, chunk_times, tokens, prompt_len=10):
    """A request that started at ``start`` and received choice chunks at ``chunk_times``."""
    return RequestResult(success=True, prompt_len=prompt_len, output_tokens=tokens, start_time=start,
                         ttft=chunk_times[0] - start, latency=chunk_times[-1] - start,
                         itl=[b - a for a, b in zip(chunk_times, chunk_times[1:])])


def test_ttft_tpot_itl_definitions():
    # request A: first chunk after 100 ms, then 4 more every 20 ms -> 5 tokens, latency 180 ms
    a = timeline(0.0, [0.100, 0.120, 0.140, 0.160, 0.180], tokens=5)
    # request B: first chunk after 300 ms, 2 more at 50 ms gaps -> 3 tokens, latency 400 ms
    b = timeline(1.0, [1.300, 1.350, 1.400], tokens=3)
    m = calculate_metrics([a, b], duration=2.0)
    assert a.tpot == pytest.approx(0.020)                 # (0.180 - 0.100) / (5 - 1)
    assert b.tpot == pytest.approx(0.050)                 # (0.400 - 0.300) / (3 - 1)
    assert m["mean_ttft_ms"] == pytest.approx(200.0)
    assert m["median_ttft_ms"] == pytest.approx(200.0)
    assert m["p99_ttft_ms"] == pytest.approx(100 + 200 * 0.99)
    assert m["mean_tpot_ms"] == pytest.approx(35.0)       # mean of per-request TPOTs, not of ITLs
    # ITLs are pooled over requests: four 20 ms gaps and two 50 ms gaps
    assert m["mean_itl_ms"] == pytest.approx((4 * 20 + 2 * 50) / 6)
    assert m["median_itl_ms"] == pytest.approx(20.0)
    assert m["mean_e2el_ms"] == pytest.approx((180 + 400) / 2)
    assert m["total_output_tokens"] == 8
    assert m["output_throughput"] == pytest.approx(4.0)
    assert m["request_throughput"] == pytest.approx(1.0)
    assert m["total_token_throughput"] == pytest.approx((20 + 8) / 2.0)


def test_failed_requests_and_single_token_outputs():
    ok = timeline(0.0, [0.1, 0.2, 0.3], tokens=3)
    one = timeline(0.0, [0.5], tokens=1)                  # no TPOT for a single token
    failed = RequestResult(success=False, prompt_len=99, output_tokens=0, error="HTTP 500")
    m = calculate_metrics([ok, one, failed], duration=1.0, percentiles=(50, 99.9))
    assert (m["completed"], m["failed"]) == (2, 1)
    assert m["total_input_tokens"] == 20                  # failed requests' prompts do not count
    assert m["mean_tpot_ms"] == pytest.approx(100.0)      # only the 3-token request has a TPOT
    assert m["mean_ttft_ms"] == pytest.approx(300.0)
    assert "p99.9_ttft_ms" in m and "p50_itl_ms" in m


def test_no_successful_request_gives_zeros():
    m = calculate_metrics([RequestResult(success=False)], duration=1.0)
    assert m["completed"] == 0 and m["failed"] == 1
    assert m["mean_ttft_ms"] == 0.0 and m["p99_itl_ms"] == 0.0


def test_duration_must_be_positive():
    with pytest.raises(ValueError):
        calculate_metrics([], duration=0)


def test_mean_of_nothing_is_zero():
    assert mean([]) == 0.0
