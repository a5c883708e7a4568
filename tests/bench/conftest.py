"""Shared fixtures of the benchmark tool's tests: the tool on sys.path and a tiny streaming server
whose per-token delay is known (the tests of the client measure against it)."""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    delay = 0.02          # seconds per token
    usage = True          # send the usage chunk when asked for it
    fail_every = 0        # every n-th request answers 500
    role_first = False    # True: a role-only chunk before any token (like the stand-in), then max_tokens tokens
    handshake = False     # True: OVMS 2026.3's format: empty handshake chunk, tokens, a finish-only chunk
    counter = 0
    lock = threading.Lock()

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        if self.path == "/v3/models":
            body = json.dumps({"object": "list", "data": [{"id": "fake-model", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            type(self).counter += 1
            number = type(self).counter
        if self.fail_every and number % self.fail_every == 0:
            self.send_error(500, "injected failure")
            return
        tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 16
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        def send(obj):
            self.wfile.write(b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n")
            self.wfile.flush()

        chat = self.path.endswith("chat/completions")
        if self.handshake:  # src/llm/apis/openai_completions.cpp (v2026.3) chunk shapes
            obj = "chat.completion.chunk" if chat else "text_completion.chunk"
            send({"object": obj, "choices": [{"index": 0, "delta": {"role": "assistant", "content": None},
                                              "finish_reason": None} if chat else
                                             {"index": 0, "text": "", "finish_reason": None}]})
            for i in range(tokens):
                time.sleep(self.delay)
                send({"object": obj, "choices": [{"index": 0, "logprobs": None, "finish_reason": None,
                                                  **({"delta": {"content": f" t{i}"}} if chat else {"text": f" t{i}"})}]})
            send({"object": obj, "choices": [{"index": 0, "logprobs": None, "finish_reason": "length",
                                              **({"delta": {}} if chat else {"text": ""})}]})
            tokens_iter = ()
        elif chat and self.role_first:
            send({"object": "chat.completion.chunk",
                  "choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]})
            for i in range(tokens):
                time.sleep(self.delay)
                send({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": f" t{i}"}}]})
            tokens_iter = ()
        else:
            tokens_iter = range(tokens)
        for i in tokens_iter:
            time.sleep(self.delay)
            if chat:
                delta = {"role": "assistant", "content": None} if i == 0 else {"content": f" t{i}"}
                send({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            else:
                send({"object": "text_completion", "choices": [{"index": 0, "text": f" t{i}"}]})
        if self.usage and (body.get("stream_options") or {}).get("include_usage"):
            send({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": tokens, "total_tokens": 7 + tokens}})
        send(b"[DONE]")


@pytest.fixture
def fake_server():
    """Yields (base_url, handler class); set class attributes to change behaviour."""
    handler = type("Handler", (_Handler,), {"counter": 0, "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
