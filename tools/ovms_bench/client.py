"""The asynchronous load generator: one shared ``httpx.AsyncClient`` (keep-alive like vLLM's aiohttp
session), Poisson arrivals from a seed, an optional concurrency cap, streamed responses timed chunk
by chunk with vLLM's rules (see ``stats``)."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field

import httpx

from ovms_bench.datasets import Prompt
from ovms_bench.stats import RequestResult

CHAT = "chat"
COMPLETIONS = "completions"


def poisson_schedule(count: int, rate: float, seed: int) -> list[float]:
    """Send times (seconds after the start) of ``count`` requests: a Poisson process of ``rate``
    requests per second (exponential gaps, first request at 0); ``inf`` sends everything at 0."""
    if count < 0:
        raise ValueError("count must not be negative")
    if not rate > 0:
        raise ValueError(f"request rate must be positive or inf, got {rate}")
    if rate == float("inf"):
        return [0.0] * count
    rng = random.Random(seed)
    times, now = [], 0.0
    for _index in range(count):
        times.append(now)
        now += rng.expovariate(rate)
    return times


def endpoint_kind(endpoint: str) -> str:
    if endpoint.rstrip("/").endswith("chat/completions"):
        return CHAT
    if endpoint.rstrip("/").endswith("completions"):
        return COMPLETIONS
    raise ValueError(f"endpoint {endpoint!r} is not an OpenAI chat/completions or completions path "
                     "(e.g. /v3/chat/completions)")


@dataclass
class RequestSpec:
    url: str
    model: str
    kind: str = CHAT
    max_tokens_field: str = "max_tokens"
    ignore_eos: bool = False
    ttft_rule: str = "content"
    extra_body: dict = field(default_factory=dict)

    def payload(self, prompt: Prompt) -> dict:
        body: dict = {"model": self.model, "stream": True, "stream_options": {"include_usage": True},
                      self.max_tokens_field: prompt.output_len}
        if self.kind == CHAT:
            body["messages"] = [{"role": "user", "content": prompt.text}]
        else:
            body["prompt"] = prompt.text
        if self.ignore_eos:
            body["ignore_eos"] = True
        body.update(self.extra_body)
        return body


def chunk_text(kind: str, choice: dict) -> str:
    if kind == CHAT:
        delta = choice.get("delta") or {}
        return delta.get("content") or ""
    return choice.get("text") or ""


TTFT_RULES = ("content", "vllm")


def time_chunks(start: float, stamps: list[tuple[float, bool]], rule: str = "content"):
    """(ttft, itl, latency) from the arrival times of the chunks that carry ``choices`` and whether
    each carried text. ``vllm``: the first such chunk is the first token (vLLM's code), so against OVMS
    2026.3 it times the empty "handshake" chunk. ``content`` (default): the first chunk with text is the
    first token; chunks without text are not tokens, neither before it (OVMS 2026.3's handshake chunk,
    role + ``content: null`` on chat, ``text: ""`` on completions, src/llm/apis/openai_completions.cpp
    serializeStreamingHandshakeChunk) nor after it (a finish_reason-only chunk): the inter-token
    latencies are between text chunks. When no chunk has text, the first chunk is used."""
    if rule not in TTFT_RULES:
        raise ValueError(f"unknown TTFT rule {rule!r} (choose from {', '.join(TTFT_RULES)})")
    times = [when for when, _text in stamps]
    if rule == "content":
        text_times = [when for when, text in stamps if text]
        times = text_times or times[:1]
    return times[0] - start, [b - a for a, b in zip(times, times[1:])], stamps[-1][0] - start


async def send_request(client: httpx.AsyncClient, spec: RequestSpec, prompt: Prompt) -> RequestResult:
    """Send one streamed request and time it as vLLM does (see ``time_chunks`` for the first token):
    ITL between chunks carrying ``choices``, latency at the last one; the trailing usage chunk gives
    the token counts but no timestamp."""
    result = RequestResult(prompt_len=prompt.prompt_len)
    stamps: list[tuple[float, bool]] = []
    usage_out = None
    start = time.perf_counter()
    result.start_time = start
    try:
        async with client.stream("POST", spec.url, json=spec.payload(prompt)) as response:
            result.status = response.status_code
            if response.status_code != 200:
                body = (await response.aread()).decode("utf-8", "replace")
                result.error = f"HTTP {response.status_code}: {body[:200]}"
                return result
            async for line in response.aiter_lines():
                line = line.strip()
                if not line or line.startswith(":") or not line.startswith("data:"):
                    continue
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    break
                now = time.perf_counter()
                chunk = json.loads(data)
                if chunk.get("error"):
                    result.error = f"error chunk: {json.dumps(chunk['error'])[:200]}"
                    return result
                choices = chunk.get("choices")
                if choices:
                    stamps.append((now, bool(chunk_text(spec.kind, choices[0]))))
                elif chunk.get("usage"):
                    usage_out = chunk["usage"]
    except (httpx.HTTPError, ValueError, OSError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    if not stamps:
        result.error = "no chunk with choices received (cannot time the first token)"
        return result
    result.ttft, result.itl, result.latency = time_chunks(start, stamps, spec.ttft_rule)
    if usage_out and usage_out.get("completion_tokens") is not None:
        result.output_tokens = int(usage_out["completion_tokens"])
        result.output_tokens_source = "usage"
    else:
        result.output_tokens = sum(1 for _when, text in stamps if text)
        result.output_tokens_source = "chunks"
    if usage_out and usage_out.get("prompt_tokens") is not None:
        result.prompt_len = int(usage_out["prompt_tokens"])
        result.prompt_len_source = "usage"
    result.success = True
    return result


class Progress:
    """A dependency-free progress bar on stderr (redrawn in place on a terminal, every 10% otherwise)."""

    def __init__(self, total: int, label: str = "", stream=None, enabled: bool = True):
        self.total, self.label, self.done, self.failed = total, label, 0, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._next_pct = 10

    def update(self, ok: bool = True) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        if not self.enabled:
            return
        pct = 100 * self.done // self.total
        if self.tty or pct >= self._next_pct or self.done == self.total:
            while self._next_pct <= pct:
                self._next_pct += 10
            self.stream.write(("\r" if self.tty else "") + self.line() + ("" if self.tty else "\n"))
            if self.tty and self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()

    def line(self) -> str:
        width = 30
        filled = width * self.done // self.total
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        failed = f" {self.failed} failed" if self.failed else ""
        return (f"{self.label}{100 * self.done // self.total:3d}%|{'#' * filled}{' ' * (width - filled)}| "
                f"{self.done}/{self.total} [{elapsed:.0f}s, {rate:.2f} req/s]{failed}")


@dataclass
class RunOutput:
    results: list[RequestResult]
    duration: float
    warmup: list[RequestResult]
    started_at: float   # wall clock (epoch seconds) of the first measured request
    finished_at: float


async def _gather_limited(coros_factory, count: int, limit: int | None):
    semaphore = asyncio.Semaphore(limit) if limit else None

    async def one(i):
        if semaphore is None:
            return await coros_factory(i)
        async with semaphore:
            return await coros_factory(i)

    return await asyncio.gather(*(one(i) for i in range(count)))


async def run(spec: RequestSpec, prompts: list[Prompt], request_rate: float, max_concurrency: int | None,
              seed: int, warmups: int = 1, timeout: float = 3600.0, progress: bool = True) -> RunOutput:
    """Warm up (not measured), then send ``prompts`` on a Poisson schedule under the concurrency cap."""
    limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency or 100)
    timeouts = httpx.Timeout(timeout, connect=min(timeout, 30.0), pool=None)
    async with httpx.AsyncClient(limits=limits, timeout=timeouts) as client:
        warm: list[RequestResult] = []
        if warmups > 0 and prompts:
            warm = await _gather_limited(lambda i: send_request(client, spec, prompts[i % len(prompts)]),
                                         warmups, max_concurrency)
            if not any(r.success for r in warm):
                raise RuntimeError(f"every warm-up request to {spec.url} failed: {warm[0].error} "
                                   "(check the URL, --endpoint and --model)")
        schedule = poisson_schedule(len(prompts), request_rate, seed)
        progress_bar = Progress(len(prompts), enabled=progress)
        semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency else None

        async def limited(prompt: Prompt) -> RequestResult:
            if semaphore is None:
                res = await send_request(client, spec, prompt)
            else:
                async with semaphore:
                    res = await send_request(client, spec, prompt)
            progress_bar.update(res.success)
            return res

        wall_start = time.time()
        start = time.perf_counter()
        tasks = []
        for prompt, offset in zip(prompts, schedule):
            delay = start + offset - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(limited(prompt)))
        results = list(await asyncio.gather(*tasks))
        duration = time.perf_counter() - start
        return RunOutput(results, duration, list(warm), wall_start, time.time())
