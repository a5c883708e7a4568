"""What users rely on from the http-mode balancer, checked on the running nginx and stand-ins."""

import os
import re
import stat
import threading
import time
import uuid

import httpx
import pytest

import lb_checks

CONTAINER = os.environ["LB_CONTAINER"]
URL = os.environ["LB_URL"]
STATUS_URL = os.environ["LB_STATUS_URL"]
CONFIG = os.environ["LB_CONFIG"]
BACKENDS = os.environ["LB_BACKENDS"].split(",")
API_KEY = os.environ["LB_API_KEY"]
TOKEN_DELAY = int(os.environ["LB_TOKEN_DELAY_MS"]) / 1000.0
CONTAINER_CONFIG = "/etc/numaserve/nginx/nginx.conf"
LOG_FORMAT = ("log_format numaserve '$remote_addr [$time_local] \"$request\" $status upstream=$upstream_addr "
              "rt=$request_time urt=$upstream_response_time';")


@pytest.fixture(scope="module")
def config_text():
    with open(CONFIG, encoding="utf-8") as fh:
        return fh.read()


def test_upstream_holds_exactly_the_ready_endpoints(config_text):
    servers = re.findall(r"^\s*server (\S+) ", config_text, re.M)
    assert servers == BACKENDS


def test_http_mode_directives(config_text):
    for directive in ("least_conn;", "zone numaserve_ovms ", "keepalive 32;", "proxy_http_version 1.1;",
                      'proxy_set_header Connection "";', "proxy_buffering off;", "proxy_read_timeout 600s;",
                      "proxy_send_timeout 600s;", "proxy_next_upstream error timeout;", "server_tokens off;",
                      LOG_FORMAT):
        assert directive in config_text, directive
    assert "non_idempotent" not in config_text


def test_api_key_kept_out_of_the_config_and_logs(config_text):
    assert API_KEY not in config_text
    key_file = os.path.join(os.path.dirname(CONFIG), "api_key.conf")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    out, err = lb_checks.container_logs(CONTAINER)
    assert API_KEY not in out + err


def test_nginx_accepts_the_live_config():
    assert "test is successful" in lb_checks.nginx_t(CONTAINER, CONTAINER_CONFIG)


def test_config_directory_is_mounted_read_only():
    info = lb_checks.inspect(CONTAINER)
    mounts = [(m["Source"], m["Destination"], m["RW"]) for m in info["Mounts"]]
    assert mounts == [(os.path.dirname(CONFIG), os.path.dirname(CONTAINER_CONFIG), False)]
    assert info["Config"]["Cmd"][:3] == ["nginx", "-c", CONTAINER_CONFIG]


def test_healthz_tls_and_server_tokens():
    assert URL.startswith("https://")
    resp = httpx.get(verify=False, url=URL + "/healthz")
    assert resp.status_code == 200 and resp.text == "ok\n"
    assert resp.headers["server"] == "nginx"
    assert resp.http_version == "HTTP/1.1"


def test_requests_without_the_key_are_refused():
    assert httpx.get(verify=False, url=URL + "/v3/models").status_code == 401
    assert httpx.get(verify=False, url=URL + "/v3/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(verify=False, url=URL + "/v3/models", headers={"Authorization": "Bearer " + API_KEY}).status_code == 200


def test_one_keepalive_client_reaches_every_instance():
    """45 requests over ONE keep-alive connection of ONE openai client: L7 balances each request."""
    marker = uuid.uuid4().hex
    since = time.time() - 1
    oai = lb_checks.client(URL, verify=False, api_key=API_KEY, connections=1)
    for _request in range(45):
        answer = oai.chat.completions.create(model="m", max_tokens=1, extra_query={"probe": marker},
                                             messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
    oai.close()
    time.sleep(0.5)
    counts = lb_checks.served_by(lb_checks.parse(lb_checks.container_logs(CONTAINER, since)[0]), marker)
    assert sum(counts.values()) == 45, counts
    assert set(counts) == set(BACKENDS), counts
    assert min(counts.values()) >= 45 // len(BACKENDS) // 3, counts


def test_streamed_chunks_arrive_as_produced():
    """20 tokens at TOKEN_DELAY each: the first chunk arrives long before the last (no proxy buffering)."""
    oai = lb_checks.client(URL, verify=False, api_key=API_KEY)
    first, last, chunks = lb_checks.stream_timing(oai, "m", 20)
    assert chunks >= 10
    assert last >= 15 * TOKEN_DELAY, (first, last)
    assert first <= last / 4, (first, last)


def test_stub_status_on_loopback_only():
    resp = httpx.get(STATUS_URL)
    assert resp.status_code == 200 and "Active connections" in resp.text
    port = STATUS_URL.split(":")[2].split("/")[0]
    listeners = lb_checks.sh("ss", "-Hltn", "sport = :" + port).stdout.split("\n")
    assert [line.split()[3] for line in listeners if line.strip()] == ["127.0.0.1:" + port]


def test_reload_keeps_running_streams_and_the_container():
    """`nginx -s reload` mid-stream: the stream completes, the container is not restarted."""
    started = lb_checks.inspect(CONTAINER)["State"]["StartedAt"]
    result = {}

    def run():
        try:
            result["timing"] = lb_checks.stream_timing(lb_checks.client(URL, verify=False, api_key=API_KEY), "m", 20)
        except Exception as exc:  # pylint: disable=broad-except
            result["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(5 * TOKEN_DELAY)
    lb_checks.sh("docker", "exec", CONTAINER, "nginx", "-c", CONTAINER_CONFIG, "-s", "reload")
    worker.join(30)
    assert "error" not in result, result
    assert result["timing"][2] >= 10
    assert lb_checks.inspect(CONTAINER)["State"]["StartedAt"] == started
