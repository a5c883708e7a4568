"""Start-up order, readiness, /v1/config states, failing models, SIGTERM."""

import http.client
import json
import re
import signal
import threading
import time

import pytest

from conftest import graph_dir


def states(server):
    status, config = server.get_json("/v1/config")
    assert status == 200
    return {name: (v["model_version_status"][0]["state"], v["model_version_status"][0]["status"]["error_code"])
            for name, v in config.items()}


def test_port_opens_before_models_are_ready(standin, model_dir):
    root = model_dir(("m", "org/other"))
    start = time.monotonic()
    server = standin(["--config_path", str(root / "config.json")], env={"OVMS_STANDIN_LOAD_DELAY": "2.5"},
                     wait="live")
    assert time.monotonic() - start < 2.0, "REST port must open before the load delay ends"
    assert server.get("/v2/health/live")[0] == 200
    assert server.get("/v2/health/ready")[0] == 503
    assert server.get("/v2/models/m/ready")[0] == 404
    assert states(server) == {"m": ("LOADING", "OK"), "org/other": ("LOADING", "OK")}
    assert server.get_json("/v3/models")[1] == {"data": [], "object": "list"}
    status, body = server.post("/v3/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert status == 503 and "not loaded yet" in json.loads(body)["error"]
    # ... and it stays 503 until the delay is over, then turns 200
    while time.monotonic() - start < 2.2:
        assert server.get("/v2/health/ready")[0] == 503
        time.sleep(0.1)
    server.wait_ready(timeout=5)
    assert time.monotonic() - start >= 2.5
    assert states(server) == {"m": ("AVAILABLE", "OK"), "org/other": ("AVAILABLE", "OK")}
    assert server.get("/v2/models/m/ready")[0] == 200
    assert server.get("/v2/models/m/versions/1/ready")[0] == 200
    assert sorted(m["id"] for m in server.get_json("/v3/models")[1]["data"]) == ["m", "org/other"]
    log = server.log()
    assert "Mediapipe: m state changed to: AVAILABLE after handling: ValidationPassedEvent:" in log
    assert log.index(f"Started REST server at 0.0.0.0:{server.port}") < log.index("ServableManagerModule started")


def test_failing_model_reports_failed_precondition_and_server_stays_up(standin, model_dir):
    root = model_dir(("good", "bad"))
    server = standin(["--config_path", str(root / "config.json")],
                     env={"OVMS_STANDIN_FAIL_MODELS": "bad", "OVMS_STANDIN_LOAD_DELAY": "0.3"})
    # OVMS semantics with --config_path: initial load finished => ready, although one graph failed
    assert server.get("/v2/health/ready")[0] == 200
    assert states(server) == {"good": ("AVAILABLE", "OK"), "bad": ("LOADING", "FAILED_PRECONDITION")}
    for prefix in ("/v3", "/v1", "/v3/v1"):
        assert [m["id"] for m in server.get_json(prefix + "/models")[1]["data"]] == ["good"]
    assert server.get("/v3/models/bad") == (500, '{"error":"Model not found"}')
    assert server.get("/v2/models/bad/ready")[0] == 404
    assert server.post("/v3/completions", {"model": "bad", "prompt": "x"})[0] == 503
    log = server.log()
    assert "Mediapipe: bad state changed to: LOADING_PRECONDITION_FAILED after handling: ValidationFailedEvent:" in log
    assert "][modelmanager][error][" in log


def test_failing_single_model_exits_1(standin, tmp_path):
    graph_dir(tmp_path / "m")
    server = standin(["--model_name", "m", "--model_path", str(tmp_path / "m")],
                     env={"OVMS_STANDIN_FAIL_MODELS": "m", "OVMS_STANDIN_LOAD_DELAY": "0.5"}, wait="live")
    assert server.get("/v2/health/ready")[0] == 503
    assert server.proc.wait(10) == 1
    assert "Couldn't start model manager" in server.log()


def test_v2_metadata_and_unknown_urls(served):
    assert served.get_json("/v2") == (200, {"name": "OpenVINO Model Server", "version": "2026.3.0-standin"})
    assert served.get("/v2/models/nope/ready")[0] == 404
    assert served.get("/no/such/url")[0] == 400
    assert served.post("/v3/embeddings", {"model": "m"})[0] == 400


def test_log_format_is_ovms_like(served):
    first = served.log().splitlines()[0]
    # [2026-08-14 14:13:23.115][31452][serving][info][file.py:60] message
    assert re.match(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]\[\d+\]\[serving\]\[info\]\[[\w.]+:\d+\] ", first), first


def stream_request(port, body, events, done):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/v3/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    while True:
        line = resp.readline()
        if not line:
            break
        if line.startswith(b"data: "):
            events.append((time.monotonic(), line[6:].strip()))
    done.set()


def test_sigterm_drains_in_flight_stream_then_exits_0(standin, model_dir):
    root = model_dir(("m",))
    server = standin(["--config_path", str(root / "config.json")], env={"OVMS_STANDIN_TOKEN_DELAY_MS": "100"})
    events, done = [], threading.Event()
    body = {"model": "m", "stream": True, "max_tokens": 20, "ignore_eos": True, "messages": [{"role": "user", "content": "drain me"}]}
    threading.Thread(target=stream_request, args=(server.port, body, events, done), daemon=True).start()
    idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)  # an idle keep-alive connection
    idle.request("GET", "/v2/health/ready")
    idle.getresponse().read()
    while len(events) < 2:
        time.sleep(0.01)
    server.signal(signal.SIGTERM)
    time.sleep(0.5)  # the listening socket is closed: new connections are refused while draining
    with pytest.raises(ConnectionRefusedError):
        server.get("/v2/health/live")
    idle.request("GET", "/v2/health/ready")  # a new request on an open connection is turned away
    resp = idle.getresponse()
    assert (resp.status, resp.getheader("Connection")) == (503, "close")
    assert done.wait(10), "stream did not finish"
    assert events[-1][1] == b"[DONE]"
    assert sum(1 for _arrival, e in events if b'"content":"' in e or b'"content": "' in e) == 20
    assert server.proc.wait(10) == 0
    assert "Received SIGTERM" in server.log() and "Server shutdown" in server.log()


def test_grace_period_bounds_the_drain(standin, model_dir):
    root = model_dir(("m",))
    server = standin(["--config_path", str(root / "config.json")],
                     env={"OVMS_STANDIN_TOKEN_DELAY_MS": "1000", "OVMS_STANDIN_GRACE_SECONDS": "1"})
    events, done = [], threading.Event()
    body = {"model": "m", "stream": True, "max_tokens": 30, "messages": [{"role": "user", "content": "slow"}]}
    threading.Thread(target=stream_request, args=(server.port, body, events, done), daemon=True).start()
    while not events:
        time.sleep(0.01)
    start = time.monotonic()
    server.signal(signal.SIGINT)
    assert server.proc.wait(10) == 0
    assert 0.9 <= time.monotonic() - start < 5
    assert "Grace period of 1s over with 1 request(s) still in progress" in server.log()


def test_idle_server_stops_at_once(served):
    start = time.monotonic()
    served.signal(signal.SIGTERM)
    assert served.proc.wait(10) == 0
    assert time.monotonic() - start < 2
