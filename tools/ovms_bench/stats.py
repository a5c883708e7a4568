"""Benchmark statistics, defined as vLLM's ``benchmark_serving.py`` / ``vllm bench serve`` defines them.

Per successful request (times in seconds, measured by the client):
  ttft     time from sending the request to the first token's chunk: vLLM takes the first streamed
           chunk that carries ``choices``; the client's default takes the first one with text, so a
           role-only chunk sent before any token exists is not mistaken for a token (``client.time_chunks``)
  itl      the gaps between consecutive chunks from there on (one list per request, all pooled)
  latency  time from sending the request to the last chunk with ``choices`` (end-to-end latency, E2EL)
  tpot     (latency - ttft) / (output_tokens - 1), only when output_tokens > 1
Aggregates: mean, median and percentiles use linear interpolation between closest ranks (numpy's
default ``np.percentile``); an empty sample gives 0, as in vLLM. Throughputs divide by the
benchmark duration (first request sent .. last request finished, warm-up excluded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

METRICS = ("ttft", "tpot", "itl", "e2el")
DEFAULT_PERCENTILES = (99.0,)


@dataclass
class RequestResult:
    """What one request produced (the client fills it; parsers and tests build it directly)."""

    success: bool = False
    prompt_len: int = 0
    output_tokens: int = 0
    ttft: float = 0.0
    latency: float = 0.0
    itl: list[float] = field(default_factory=list)
    start_time: float = 0.0
    error: str = ""
    output_tokens_source: str = "none"  # "usage" (server's count) or "chunks" (counted by the client)
    prompt_len_source: str = "estimate"  # "usage" or "estimate"
    status: int | None = None

    @property
    def tpot(self) -> float | None:
        """vLLM's TPOT of one request, or None when it produced fewer than two tokens."""
        if self.output_tokens > 1:
            return (self.latency - self.ttft) / (self.output_tokens - 1)
        return None


def percentile(values, p: float) -> float:
    """The p-th percentile (0..100) with linear interpolation, like ``numpy.percentile``; 0 if empty."""
    data = sorted(values)
    if not data:
        return 0.0
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    rank = (len(data) - 1) * p / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(data[low])
    return data[low] + (data[high] - data[low]) * (rank - low)


def mean(values) -> float:
    data = list(values)
    return sum(data) / len(data) if data else 0.0


def std(values) -> float:
    """Population standard deviation (numpy's default ddof=0); 0 if empty."""
    data = list(values)
    if not data:
        return 0.0
    m = mean(data)
    return math.sqrt(sum((x - m) ** 2 for x in data) / len(data))


def percentile_key(p: float) -> str:
    """vLLM's name for a percentile: 99 -> 'p99', 99.9 -> 'p99.9'."""
    return f"p{int(p)}" if float(p).is_integer() else f"p{p}"


def calculate_metrics(results: list[RequestResult], duration: float,
                      percentiles=DEFAULT_PERCENTILES) -> dict:
    """Aggregate the per-request results into vLLM's metric names (``*_ms`` are milliseconds)."""
    if duration <= 0:
        raise ValueError("benchmark duration must be positive")
    ok = [r for r in results if r.success]
    samples = {
        "ttft": [r.ttft for r in ok],
        "tpot": [r.tpot for r in ok if r.tpot is not None],
        "itl": [gap for r in ok for gap in r.itl],
        "e2el": [r.latency for r in ok],
    }
    total_input = sum(r.prompt_len for r in ok)
    total_output = sum(r.output_tokens for r in ok)
    metrics = {
        "completed": len(ok),
        "failed": len(results) - len(ok),
        "duration": duration,
        "total_input_tokens": total_input,
        "total_output_tokens": total_output,
        "request_throughput": len(ok) / duration,
        "output_throughput": total_output / duration,
        "total_token_throughput": (total_input + total_output) / duration,
    }
    for name in METRICS:
        values = samples[name]
        metrics[f"mean_{name}_ms"] = mean(values) * 1000
        metrics[f"median_{name}_ms"] = percentile(values, 50) * 1000
        metrics[f"std_{name}_ms"] = std(values) * 1000
        for p in percentiles:
            metrics[f"{percentile_key(p)}_{name}_ms"] = percentile(values, p) * 1000
    metrics["output_tokens_source"] = _sources(r.output_tokens_source for r in ok)
    metrics["input_tokens_source"] = _sources(r.prompt_len_source for r in ok)
    return metrics


def _sources(values) -> str:
    found = sorted(set(values))
    return found[0] if len(found) == 1 else ("mixed:" + ",".join(found) if found else "none")
