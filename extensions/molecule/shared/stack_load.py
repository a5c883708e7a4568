"""A steady client load for the rolling-update and crash tests.

`Load(base_url, model, workers=4)` runs WORKERS threads, each with its own keep-alive connection,
each sending one request after the other (even workers stream, odd ones do not), so WORKERS
requests are in flight through the balancer at any time. Every request is recorded with its start
and end time, whether it streamed, and how it ended (ok, or the error).
"""

import threading
import time
from dataclasses import dataclass, field

import httpx

from stack_checks import chat


@dataclass
class Result:
    worker: int
    stream: bool
    start: float
    end: float
    ok: bool
    error: str = ""


@dataclass
class Load:
    base_url: str
    model: str
    workers: int = 4
    max_tokens: int = 16
    timeout: float = 60.0
    results: list = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = []

    def _run(self, worker):
        stream = worker % 2 == 0
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(timeout=self.timeout, limits=limits) as client:
            while not self._stop.is_set():
                start = time.time()
                try:
                    chat(client, self.base_url, self.model, stream=stream, max_tokens=self.max_tokens,
                         content="worker %d request at %.3f" % (worker, start))
                    result = Result(worker, stream, start, time.time(), True)
                except Exception as exc:  # noqa: BLE001 - every failure is counted, whatever its kind
                    result = Result(worker, stream, start, time.time(), False, "%s: %s" % (type(exc).__name__, exc))
                with self._lock:
                    self.results.append(result)

    def start(self):
        for worker in range(self.workers):
            thread = threading.Thread(target=self._run, args=(worker,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        return self

    def between(self, start, end):
        """Results of requests that ended within [START, END]."""
        with self._lock:
            return [r for r in self.results if start <= r.end <= end]

    def failures(self):
        with self._lock:
            return [r for r in self.results if not r.ok]

    def summary(self, start=None, end=None):
        chosen = self.between(start, end) if start is not None else list(self.results)
        ok = [r for r in chosen if r.ok]
        return {
            "requests": len(chosen),
            "ok": len(ok),
            "failed": len(chosen) - len(ok),
            "streamed_ok": sum(1 for r in ok if r.stream),
            "errors": sorted({r.error for r in chosen if not r.ok})[:5],
        }
