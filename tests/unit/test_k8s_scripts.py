# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The probe and preStop scripts of the OVMS pods (roles/k8s_manifests/files) against a loopback HTTP
server answering as OVMS v2026.3 does: /v2/health/ready, /v1/config (pretty-printed, states and error
codes as src/config_status_utils.cpp writes them), /metrics."""

import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = os.path.join(ROOT, "roles", "k8s_manifests", "files")


def version(state, code="OK"):
    return {"version": "1", "state": state, "status": {"error_code": code, "error_message": code}}


class Fake(object):
    def __init__(self):
        self.ready = 200
        self.config = {}
        self.in_flight = []  # values /metrics reports, one per request (the last one repeats)

    def handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/v2/health/ready":
                    status, body = fake.ready, b""
                elif self.path == "/v1/config":
                    status, body = 200, json.dumps(fake.config, indent=4).replace('": {', '" : {').encode()
                elif self.path == "/metrics":
                    value = fake.in_flight.pop(0) if len(fake.in_flight) > 1 else fake.in_flight[0]
                    status = 200
                    body = ("# TYPE ovms_current_graphs gauge\novms_current_graphs{name=\"llm\"} %d\n"
                            "ovms_current_requests{api=\"V3\",interface=\"REST\",name=\"llm\"} 0\n"
                            "ovms_requests_success{name=\"llm\"} 12\n" % value).encode()
                else:
                    status, body = 404, b""
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        return Handler


@pytest.fixture
def ovms():
    fake = Fake()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.port = server.server_address[1]
    yield fake
    server.shutdown()


def script(name, fake, tmp_path, **env):
    environ = dict(os.environ, OVMS_REST_PORT=str(fake.port), OVMS_DRAIN_LOG=str(tmp_path / "log"), **env)
    result = subprocess.run(["bash", os.path.join(FILES, name)], env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=30, check=False)
    return result.returncode, result.stdout


def test_probe_ready_only_when_every_servable_is_available(ovms, tmp_path):
    ovms.config = {"llm": {"model_version_status": [version("AVAILABLE")]},
                   "embed": {"model_version_status": [version("AVAILABLE")]}}
    assert script("probe.sh", ovms, tmp_path) == (0, "ready: 2 servable(s) AVAILABLE\n")
    ovms.config["embed"] = {"model_version_status": [version("LOADING", "FAILED_PRECONDITION")]}
    rc, out = script("probe.sh", ovms, tmp_path)
    assert rc == 1 and out.startswith("not ready: servable embed is not AVAILABLE") and "FAILED_PRECONDITION" in out
    ovms.config["embed"] = {"model_version_status": []}  # a classic model whose base_path does not exist
    rc, out = script("probe.sh", ovms, tmp_path)
    assert rc == 1 and "servable embed is not AVAILABLE: []" in out
    ovms.config = {}
    assert script("probe.sh", ovms, tmp_path) == (1, "not ready: /v1/config lists no servable\n")
    ovms.ready = 503
    ovms.config = {"llm": {"model_version_status": [version("AVAILABLE")]}}
    rc, out = script("probe.sh", ovms, tmp_path)
    assert rc == 1 and "/v2/health/ready did not answer 200" in out


def test_drain_waits_for_requests_and_graphs_in_flight(ovms, tmp_path):
    ovms.in_flight = [2, 1, 1, 0]
    start = time.monotonic()
    rc = script("drain.sh", ovms, tmp_path, OVMS_DRAIN_DELAY="0", OVMS_DRAIN_TIMEOUT="20")[0]
    took = time.monotonic() - start
    log = (tmp_path / "log").read_text()
    assert rc == 0 and "drain: nothing in flight, stopping" in log, log
    assert took >= 3, "it polled once a second until the count reached 0"


def test_drain_gives_up_at_its_timeout(ovms, tmp_path):
    ovms.in_flight = [1]
    rc = script("drain.sh", ovms, tmp_path, OVMS_DRAIN_DELAY="0", OVMS_DRAIN_TIMEOUT="2")[0]
    assert rc == 0 and "drain: 1 still in flight after 2s, stopping anyway" in (tmp_path / "log").read_text()
