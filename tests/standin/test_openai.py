"""The OpenAI-compatible API, driven by the `openai` package unchanged, and raw HTTP details."""

import http.client
import json
import time

import openai
import pytest


@pytest.fixture
def client(served):
    return openai.OpenAI(base_url=served.url + "/v3", api_key="unused", max_retries=0)


MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is NUMA?"}]


def test_chat_non_streaming(client):
    resp = client.chat.completions.create(model="m", messages=MESSAGES)
    assert resp.object == "chat.completion" and resp.model == "m"
    choice = resp.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "stop"
    assert resp.usage.completion_tokens == len(choice.message.content.split())
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    again = client.chat.completions.create(model="m", messages=MESSAGES)
    assert again.choices[0].message.content == choice.message.content  # deterministic
    other = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Something else"}])
    assert other.choices[0].message.content != choice.message.content


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_gives_finish_reason_length(client, limit):
    resp = client.chat.completions.create(model="m", messages=MESSAGES, **{limit: 3})
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage.completion_tokens == 3 == len(resp.choices[0].message.content.split())


def test_ignore_eos_generates_exactly_max_tokens(client):
    resp = client.completions.create(model="m", prompt="long", max_tokens=100, extra_body={"ignore_eos": True})
    assert resp.usage.completion_tokens == 100 and resp.choices[0].finish_reason == "length"


def test_chat_streaming_with_usage(client):
    full = client.chat.completions.create(model="m", messages=MESSAGES)
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    first = chunks[0].choices[0].delta
    assert first.role == "assistant" and first.content is None  # as OVMS's continuous batching servables
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_chat_streaming_without_usage_has_no_usage_chunk(client):
    chunks = list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True, max_tokens=4))
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "length"


def test_completions(client):
    resp = client.completions.create(model="m", prompt="Once upon a time", max_tokens=50)
    assert resp.object == "text_completion" and resp.choices[0].text
    stream = client.completions.create(model="m", prompt="Once upon a time", max_tokens=50, stream=True,
                                       stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == resp.choices[0].text
    assert chunks[-1].usage.total_tokens == resp.usage.total_tokens


@pytest.mark.parametrize("prefix", ["/v1", "/v3/v1"])
def test_other_prefixes(served, prefix):
    client = openai.OpenAI(base_url=served.url + prefix, api_key="unused", max_retries=0)
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content
    assert [m.id for m in client.models.list()] == ["m"]


def test_unknown_model_is_an_error(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nope", messages=MESSAGES)
    # mediapipefactory.cpp create: MEDIAPIPE_DEFINITION_NAME_MISSING (http_server.cpp: 404)
    assert err.value.response.json() == {"error": "Mediapipe graph definition with requested name is not found"}


def test_bad_requests(served):
    assert served.post("/v3/chat/completions", "{oops")[0] == 400
    assert served.post("/v3/chat/completions", {"messages": MESSAGES})[0] == 400
    assert served.post("/v3/chat/completions", {"model": "m"})[0] == 400
    assert served.post("/v3/chat/completions", {"model": "m", "messages": MESSAGES, "max_tokens": 0})[0] == 400
    status, body = served.post("/v3/completions", {"model": "m", "prompt": "x", "stream_options": {"include_usage": True}})
    assert status == 400 and "stream not set to true" in body


def test_sse_raw_format_ends_with_done(served):
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.request("POST", "/v3/chat/completions", headers={"Content-Type": "application/json"},
                 body=json.dumps({"model": "m", "stream": True, "messages": MESSAGES}))
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    raw = resp.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events[:-1])
    for event in events[:-2]:
        json.loads(event[len("data: "):])


def test_keep_alive_reuses_one_connection(served):
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.request("GET", "/v2/health/ready")
    resp = conn.getresponse()
    resp.read()
    sock = conn.sock
    assert sock is not None and resp.version == 11 and not resp.will_close
    requests = [("GET", "/v3/models", None),
                ("POST", "/v3/chat/completions", {"model": "m", "messages": MESSAGES}),
                ("POST", "/v3/chat/completions", {"model": "m", "messages": MESSAGES, "stream": True}),
                ("POST", "/v3/completions", {"model": "m", "prompt": "p", "stream": True}),
                ("POST", "/v3/completions", {"model": "nope", "prompt": "p"}),
                ("GET", "/metrics", None)]
    for method, path, body in requests * 3:
        conn.request(method, path, body=json.dumps(body) if body else None,
                     headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        resp.read()
        assert resp.status in (200, 404)
        assert conn.sock is sock, f"{method} {path} did not reuse the connection"


def test_token_delay_streams_first_chunk_early(standin, model_dir):
    root = model_dir(("m",))
    server = standin(["--config_path", str(root / "config.json")], env={"OVMS_STANDIN_TOKEN_DELAY_MS": "50"})
    client = openai.OpenAI(base_url=server.url + "/v3", api_key="unused", max_retries=0)
    start = time.monotonic()
    arrivals = [time.monotonic() - start for _chunk in client.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, max_tokens=20, extra_body={"ignore_eos": True})]
    assert len(arrivals) == 22  # handshake chunk + 20 tokens + the finish_reason chunk
    assert arrivals[-1] >= 1.0
    assert arrivals[0] < 0.4 and arrivals[1] < arrivals[-1] / 3
    start = time.monotonic()
    client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=10)
    assert time.monotonic() - start >= 0.5  # a unary request costs the whole generation


def test_api_key_file(standin, model_dir, tmp_path):
    root = model_dir(("m",))
    (tmp_path / "key").write_text("s3cret\nignored\n")
    server = standin(["--config_path", str(root / "config.json"), "--api_key_file", str(tmp_path / "key")])
    body = {"model": "m", "messages": MESSAGES}
    assert server.post("/v3/chat/completions", body)[0] == 401
    assert server.post("/v3/chat/completions", body, {"Authorization": "Bearer s3cret"})[0] == 200
    assert server.get("/v3/models")[0] == 200  # only the generative endpoints are guarded
