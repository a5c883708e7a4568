"""Helpers of the load_balancer_* scenarios (and benchmarks/bench_balancer.py's log format).

They look at the real system: nginx's access log (`docker logs`), `docker inspect` (from stack_checks), and requests
sent with the `openai` package, the client users point at the balancer.
"""

import re
import time
from collections import Counter

import httpx
import openai

# The engine helpers exist once, in stack_checks; sh (CompletedProcess) and inspect keep their names here.
from stack_checks import inspect, nginx_test  # noqa: F401  pylint: disable=unused-import
from stack_checks import run as sh

# log_format numaserve '$remote_addr [$time_local] "$request" $status upstream=$upstream_addr
#                       rt=$request_time urt=$upstream_response_time';
ACCESS_LOG = re.compile(
    r'^(?P<remote>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r'upstream=(?P<upstream>.+?) rt=(?P<rt>\S+) urt=(?P<urt>.+)$')
# The stream-mode format: '... $protocol $status upstream=$upstream_addr sent=... received=... st=...'
STREAM_LOG = re.compile(
    r'^(?P<remote>\S+) \[(?P<time>[^\]]+)\] (?P<protocol>TCP|UDP) (?P<status>\d{3}) upstream=(?P<upstream>.+?) '
    r'sent=(?P<sent>\d+) received=(?P<received>\d+) st=(?P<st>\S+)$')


def container_logs(container, since=None):
    """(stdout, stderr) of the container; nginx writes its access log to stdout."""
    cmd = ["docker", "logs"] + (["--since", "%.3f" % since] if since else []) + [container]
    proc = sh(*cmd)
    return proc.stdout, proc.stderr


def parse(text, pattern=ACCESS_LOG):
    """Access-log entries (dicts) of TEXT; lines in other formats are skipped."""
    return [m.groupdict() for m in map(pattern.match, text.splitlines()) if m]


def upstreams(entry):
    """The instances a request tried ($upstream_addr lists every attempt, comma-separated)."""
    return [a.strip() for a in re.split(r"\s*[,:]\s+", entry["upstream"]) if a.strip() and a.strip() != "-"]


def served_by(entries, marker=None):
    """Counter {upstream address: requests it answered} of the entries whose request line has MARKER."""
    counts = Counter()
    for entry in entries:
        if marker is None or marker in entry["request"]:
            counts[upstreams(entry)[-1]] += 1
    return counts


def nginx_t(container, config):
    """`nginx -t -c CONFIG` inside the running balancer; returns nginx's output, raises when it fails."""
    return nginx_test(container, config=config)


def client(base_url, api_key="unused", connections=1, timeout=60.0, verify=True):
    """ONE openai client whose httpx pool holds CONNECTIONS keep-alive connection(s)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    http_client = httpx.Client(timeout=timeout, verify=verify, limits=limits)
    return openai.OpenAI(base_url=base_url.rstrip("/") + "/v3", api_key=api_key, max_retries=0,
                         http_client=http_client)


def stream_timing(oai, model, max_tokens, **extra):
    """Stream one chat completion; return (seconds to the first content chunk, to the last, chunk count)."""
    start = time.perf_counter()
    first = last = None
    chunks = 0
    stream = oai.chat.completions.create(
        model=model, stream=True, max_tokens=max_tokens,
        messages=[{"role": "user", "content": "count for me"}],
        extra_body={"ignore_eos": True}, **extra)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            now = time.perf_counter() - start
            first = now if first is None else first
            last = now
            chunks += 1
    assert first is not None, "the stream carried no content"
    return first, last, chunks
