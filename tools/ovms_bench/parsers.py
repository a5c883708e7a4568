"""Tolerant parsers: ``vllm bench serve`` / ``benchmark_serving.py`` console blocks and JSON
results of several versions, GuideLLM JSON reports, and nginx access logs with ``upstream=``.

The console block's field names changed over the years ("Total generated tokens" / "Total output
tokens", "Total Token throughput" / "Total token throughput", optional "Failed requests",
"Maximum request concurrency", "Peak ..." lines, "Pxx" lines for any percentile): labels are
matched case-insensitively after collapsing spaces, unknown lines are kept under ``extra``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, OrderedDict
from datetime import datetime

# normalised label -> result key (vLLM's JSON names where vLLM has one)
_VLLM_LABELS = {
    "successful requests": "completed",
    "failed requests": "failed",
    "maximum request concurrency": "max_concurrency",
    "request rate configured (rps)": "request_rate",
    "traffic request rate": "request_rate",
    "benchmark duration (s)": "duration",
    "total input tokens": "total_input_tokens",
    "total generated tokens": "total_output_tokens",
    "total output tokens": "total_output_tokens",
    "request throughput (req/s)": "request_throughput",
    "request goodput (req/s)": "request_goodput",
    "input token throughput (tok/s)": "input_throughput",
    "output token throughput (tok/s)": "output_throughput",
    "peak output token throughput (tok/s)": "max_output_tokens_per_s",
    "peak concurrent requests": "max_concurrent_requests",
    "total token throughput (tok/s)": "total_token_throughput",
    "total throughput (tok/s)": "total_token_throughput",
}
_STAT_LABEL = re.compile(r"^(mean|median|std|p\d+(?:\.\d+)?) (ttft|tpot|itl|e2el|e2e latency) \(ms\)$")
_LINE = re.compile(r"^\s*(?:#\s*)?([A-Za-z][^:]*?)\s*:\s*(\S+)\s*$")
_HEADER = re.compile(r"=+\s*Serving Benchmark Result\s*=+", re.IGNORECASE)
_FOOTER = re.compile(r"^\s*(?:#\s*)?={20,}\s*$")
_INT_KEYS = {"completed", "failed", "total_input_tokens", "total_output_tokens", "max_concurrency",
             "max_concurrent_requests"}


def _number(text: str):
    low = text.lower()
    if low in ("inf", "infinity"):
        return float("inf")
    if low in ("none", "n/a", "-"):
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text


def _label_key(label: str) -> str | None:
    norm = re.sub(r"\s+", " ", label.strip().lower())
    if norm in _VLLM_LABELS:
        return _VLLM_LABELS[norm]
    match = _STAT_LABEL.match(norm)
    if match:
        stat, metric = match.groups()
        metric = "e2el" if metric.startswith("e2e") else metric
        return f"{stat}_{metric}_ms"
    return None


def parse_vllm_blocks(text: str) -> list[dict]:
    """Every ``Serving Benchmark Result`` block in ``text`` (console output), oldest first.

    Each block is a dict with vLLM's JSON key names (``completed``, ``duration``,
    ``request_throughput``, ``mean_ttft_ms``, ``p99_itl_ms`` ...), ``failed`` (0 when the version did
    not print it), and ``extra`` for lines it did not recognise. Lines before the header such as
    ``Maximum request concurrency: 4`` or ``Traffic request rate: inf`` are attached to the next block.
    """
    blocks: list[dict] = []
    preamble: dict = {}
    current: dict | None = None
    for raw in text.splitlines():
        line = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", raw).rstrip()
        if _HEADER.search(line):
            current = {"extra": {}}
            current.update(preamble)
            preamble = {}
            continue
        if current is not None and _FOOTER.match(line):
            blocks.append(_finish(current))
            current = None
            continue
        match = _LINE.match(line)
        if not match:
            continue
        label, value = match.groups()
        key = _label_key(label)
        target = current if current is not None else preamble
        if key:
            target[key] = _number(value)
        elif current is not None:
            current["extra"][label.strip()] = _number(value)
    if current is not None and "completed" in current:  # truncated output: keep what was printed
        blocks.append(_finish(current))
    return blocks


def _finish(block: dict) -> dict:
    for key in _INT_KEYS:
        if isinstance(block.get(key), float) and block[key] != float("inf"):
            block[key] = int(block[key])
    block.setdefault("failed", 0)
    return block


def parse_vllm_output(text: str) -> dict:
    """The last result block of a ``vllm bench serve`` run; ValueError when there is none."""
    blocks = parse_vllm_blocks(text)
    if not blocks:
        raise ValueError("no '============ Serving Benchmark Result ============' block found in the output")
    return blocks[-1]


def parse_vllm_json(data: dict) -> dict:
    """A ``--save-result`` JSON of vLLM: keep the metric keys (same names as ours), drop per-request lists."""
    out = {}
    for key, value in data.items():
        if isinstance(value, (list, dict)):
            continue
        out[key] = value
    if "completed" in out and "failed" not in out and "num_prompts" in out:
        out["failed"] = int(out["num_prompts"]) - int(out["completed"])
    out.setdefault("failed", 0)
    return out


# ---------------------------------------------------------------- GuideLLM

_GUIDELLM_METRICS = {
    "time_to_first_token_ms": ("ttft", 1.0),
    "time_per_output_token_ms": ("tpot", 1.0),
    "inter_token_latency_ms": ("itl", 1.0),
    "request_latency": ("e2el", 1000.0),   # seconds in GuideLLM
}


def _stat_block(metric: dict | None) -> dict | None:
    if not isinstance(metric, dict):
        return None
    for status in ("successful", "total"):
        if isinstance(metric.get(status), dict):
            return metric[status]
    return metric if "mean" in metric else None


def parse_guidellm_json(data: dict) -> list[dict]:
    """Each benchmark of a GuideLLM JSON report (``benchmarks[].metrics.<name>.successful.{mean,
    median, percentiles.p99}``, ``request_totals``) as a dict with vLLM's key names; fields a
    version does not have are left out."""
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benchmarks, list) or not benchmarks:
        raise ValueError("not a GuideLLM report: no 'benchmarks' list")
    results = []
    for bench in benchmarks:
        metrics = bench.get("metrics") or {}
        out: dict = {"extra": {}}
        totals = bench.get("request_totals") or {}
        if "successful" in totals:
            out["completed"] = int(totals["successful"])
            out["failed"] = int(totals.get("errored", 0)) + int(totals.get("incomplete", 0))
        start, end = bench.get("start_time"), bench.get("end_time")
        if isinstance(start, (int, float)) and isinstance(end, (int, float)) and end > start:
            out["duration"] = float(end - start)
        for name, key in (("requests_per_second", "request_throughput"),
                          ("output_tokens_per_second", "output_throughput"),
                          ("tokens_per_second", "total_token_throughput")):
            stats = _stat_block(metrics.get(name))
            if stats and stats.get("mean") is not None:
                out[key] = float(stats["mean"])
        for name, (metric, scale) in _GUIDELLM_METRICS.items():
            stats = _stat_block(metrics.get(name))
            if not stats:
                continue
            for stat in ("mean", "median", "std_dev"):
                if stats.get(stat) is not None:
                    out[f"{'std' if stat == 'std_dev' else stat}_{metric}_ms"] = float(stats[stat]) * scale
            p99 = (stats.get("percentiles") or {}).get("p99")
            if p99 is not None:
                out[f"p99_{metric}_ms"] = float(p99) * scale
        for name, key in (("prompt_token_count", "total_input_tokens"), ("output_token_count", "total_output_tokens")):
            stats = _stat_block(metrics.get(name))
            if stats and stats.get("total_sum") is not None:
                out[key] = int(stats["total_sum"])
        profile = bench.get("config", {}).get("strategy") if isinstance(bench.get("config"), dict) else None
        if profile is not None:
            out["extra"]["strategy"] = profile
        out.setdefault("failed", 0)
        results.append(out)
    return results


# ---------------------------------------------------------------- nginx access log

# `$remote_addr [$time_local] "$request" $status upstream=$upstream_addr rt=$request_time urt=$upstream_response_time`
_ACCESS = re.compile(
    r'(?P<remote>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r'upstream=(?P<upstream>.*?) rt=(?P<rt>\S+)(?: urt=(?P<urt>.*?))?\s*$')
# stream (L4) mode: `$remote_addr [$time_local] $protocol $status upstream=$upstream_addr sent=... st=...`
_STREAM = re.compile(
    r'(?P<remote>\S+) \[(?P<time>[^\]]+)\] (?P<protocol>TCP|UDP) (?P<status>\d{3}) '
    r'upstream=(?P<upstream>.*?) sent=')
_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


def parse_access_log(lines, endpoint: str | None = None, since: float | None = None,
                     until: float | None = None) -> list[dict]:
    """Access-log entries (``docker logs`` output or a log file; other lines are ignored), optionally
    only requests to ``endpoint`` and within [since, until] (epoch seconds, the log has 1 s resolution).

    ``upstream`` is the instance that answered: the last address when nginx tried several
    (``"a:1, b:2"``, or ``"a:1 : b:2"`` after an internal redirect). Lines of the balancer's stream
    (L4) mode are TCP sessions, not requests (``unit`` says which): a keep-alive connection carries
    many requests, so their shares are shares of connections and ``endpoint`` cannot filter them."""
    entries = []
    for line in lines:
        line = line.rstrip("\n")
        match = _ACCESS.search(line)
        unit = "requests"
        if match:
            request = match["request"].split()
            path = request[1] if len(request) >= 2 else match["request"]
            if endpoint and path.split("?", 1)[0].rstrip("/") != endpoint.rstrip("/"):
                continue
        else:
            match = _STREAM.search(line)
            if not match:
                continue
            path, unit = None, "sessions"
        try:
            when = datetime.strptime(match["time"], _TIME_FORMAT).timestamp()
        except ValueError:
            when = None
        if when is not None and since is not None and when < int(since):
            continue
        if when is not None and until is not None and when > until + 1:
            continue
        tried = [a.strip() for a in re.split(r"[,:]\s+|\s+:\s+", match["upstream"]) if a.strip()]
        entries.append({"time": when, "path": path, "status": int(match["status"]), "unit": unit,
                        "upstream": tried[-1] if tried else "-", "tried": tried})
    return entries


def upstream_shares(entries: list[dict], expected: int | None = None, names: dict | None = None) -> dict:
    """Requests per instance: counts and fractions by upstream address (named from ``names``,
    address -> instance name, when known). With ``expected``, only the last ``expected`` entries
    count (the measured requests finish after the warm-up ones); not for stream-mode sessions."""
    units = sorted({e.get("unit", "requests") for e in entries}) or ["requests"]
    if expected is not None and expected >= 0 and units == ["requests"]:
        entries = entries[-expected:] if expected else []
    counts = Counter(e["upstream"] for e in entries)
    total = sum(counts.values())
    instances = OrderedDict()
    for address, count in sorted(counts.items()):
        instances[address] = {"instance": (names or {}).get(address, ""), "requests": count,
                              "share": count / total if total else 0.0,
                              "errors": sum(1 for e in entries if e["upstream"] == address and e["status"] >= 400)}
    return {"requests": total, "unit": ",".join(units), "retried": sum(1 for e in entries if len(e["tried"]) > 1), "instances": instances}


def load_json(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
