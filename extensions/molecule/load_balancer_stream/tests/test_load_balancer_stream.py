"""The stream (L4) balancer: the demo's mode, kept for parity and gRPC."""

import os
import re
import time

import httpx

import lb_checks

CONTAINER = os.environ["LB_CONTAINER"]
URL = os.environ["LB_URL"]
CONFIG = os.environ["LB_CONFIG"]
BACKENDS = os.environ["LB_BACKENDS"].split(",")
TOKEN_DELAY = int(os.environ["LB_TOKEN_DELAY_MS"]) / 1000.0
CONTAINER_CONFIG = "/etc/numaserve/nginx/nginx.conf"


def config_text():
    with open(CONFIG, encoding="utf-8") as fh:
        return fh.read()


def test_stream_block_with_the_ready_endpoints():
    text = config_text()
    assert re.search(r"^stream \{", text, re.M) and not re.search(r"^http \{", text, re.M)
    assert re.findall(r"^\s*server (\S+) ", text, re.M) == BACKENDS
    for directive in ("least_conn;", "zone numaserve_ovms ", "proxy_pass numaserve_ovms;", "proxy_timeout 600s;"):
        assert directive in text, directive


def test_nginx_accepts_the_live_config():
    assert "test is successful" in lb_checks.nginx_t(CONTAINER, CONTAINER_CONFIG)


def test_openai_requests_and_sse_pass_through():
    oai = lb_checks.client(URL)
    answer = oai.chat.completions.create(model="m", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    first, last, chunks = lb_checks.stream_timing(oai, "m", 20)
    assert chunks >= 10 and last >= 15 * TOKEN_DELAY and first <= last / 4, (first, last, chunks)
    oai.close()


def test_l4_pins_a_keepalive_connection_to_one_instance():
    """Why http is the default: 12 requests on one kept-alive connection form ONE session on ONE instance,
    while 12 fresh connections are spread over the instances."""
    time.sleep(0.5)  # sessions of earlier tests are logged when they close
    since = time.time()
    with httpx.Client(limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)) as client:
        for _request in range(12):
            assert client.get(URL + "/v2/health/ready").status_code == 200
    for _request in range(12):
        with httpx.Client() as client:
            assert client.get(URL + "/v2/health/ready").status_code == 200
    time.sleep(0.5)
    sessions = lb_checks.parse(lb_checks.container_logs(CONTAINER, since)[0], lb_checks.STREAM_LOG)
    assert len(sessions) == 13, sessions
    pinned = max(sessions, key=lambda s: int(s["received"]))
    assert int(pinned["received"]) > 6 * min(int(s["received"]) for s in sessions)
    fresh = [lb_checks.upstreams(s)[-1] for s in sessions if s is not pinned]
    assert set(fresh) == set(BACKENDS), fresh
