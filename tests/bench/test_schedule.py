"""Poisson arrivals: reproducible from the seed, with the asked-for mean rate."""

import pytest

from ovms_bench.client import endpoint_kind, poisson_schedule


def test_same_seed_same_schedule_other_seed_other_schedule():
    assert poisson_schedule(50, 4.0, seed=10) == poisson_schedule(50, 4.0, seed=10)
    assert poisson_schedule(50, 4.0, seed=10) != poisson_schedule(50, 4.0, seed=11)


@pytest.mark.parametrize("rate", [0.5, 4.0, 20.0])
def test_mean_rate(rate):
    times = poisson_schedule(20001, rate, seed=3)
    assert times[0] == 0.0
    assert all(b >= a for a, b in zip(times, times[1:]))
    measured = (len(times) - 1) / times[-1]
    assert measured == pytest.approx(rate, rel=0.03)
    gaps = [b - a for a, b in zip(times, times[1:])]
    # exponential gaps: standard deviation equals the mean (not a fixed interval)
    mean_gap = sum(gaps) / len(gaps)
    std_gap = (sum((g - mean_gap) ** 2 for g in gaps) / len(gaps)) ** 0.5
    assert std_gap == pytest.approx(mean_gap, rel=0.05)


def test_infinite_rate_sends_everything_at_once():
    assert poisson_schedule(5, float("inf"), seed=0) == [0.0] * 5


@pytest.mark.parametrize("rate", [0, -1.0])
def test_rate_must_be_positive(rate):
    with pytest.raises(ValueError):
        poisson_schedule(3, rate, seed=0)


def test_endpoint_kind():
    assert endpoint_kind("/v3/chat/completions") == "chat"
    assert endpoint_kind("/v3/completions") == "completions"
    with pytest.raises(ValueError, match="/v3/chat/completions"):
        endpoint_kind("/v2/health/ready")
