"""Fixtures of the OVMS stand-in's tests: start the stand-in as a subprocess on a free port.

The tests run inside the localhost/numaserve/ovms-standin-tests container (tests/standin/run.sh),
where the stand-in is /ovms/bin/ovms_standin.py as in the real image; $OVMS_STANDIN overrides the
path, and without it the copy in this repository is used (handy on a development machine).
Model directories come from tools/test_models/layout.py (export_model.py's layout); run.sh copies it
next to this file in the container. The stand-in runs with OVMS_STANDIN_ENGINE=simulated unless a test
sets the variable (the fixtures hold no weights).
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REPO_STANDIN = REPO / "images" / "ovms-standin" / "ovms_standin.py"
STANDIN = os.environ.get("OVMS_STANDIN") or str(REPO_STANDIN)
KNOBS = ("OVMS_STANDIN_LOAD_DELAY", "OVMS_STANDIN_TOKEN_DELAY_MS", "OVMS_STANDIN_CPU_WORK_PER_TOKEN",
         "OVMS_STANDIN_FAIL_MODELS", "OVMS_STANDIN_GRACE_SECONDS", "OVMS_STANDIN_ENGINE", "API_KEY")
if (REPO / "tools" / "test_models" / "layout.py").is_file():
    sys.path.insert(0, str(REPO / "tools" / "test_models"))
import layout  # noqa: E402  pylint: disable=wrong-import-position  # tools/test_models/layout.py


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_standin(args, env=None, timeout=10):
    """Run the stand-in to completion (for arguments that make it exit)."""
    return subprocess.run([sys.executable, STANDIN, *args], env=clean_env(env), capture_output=True, text=True,
                          timeout=timeout, check=False)


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in KNOBS}
    env["OVMS_STANDIN_ENGINE"] = "simulated"
    env.update(extra or {})
    return {k: v for k, v in env.items() if v is not None}  # a test passes None to unset a variable


class StandIn:
    """A running stand-in: .port, .url, .get()/.post() helpers, .log(), .stop()."""

    def __init__(self, args, env, log_file):
        self.port = free_port()
        self.log_file = log_file
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        if not any(a.startswith("--rest_port") for a in self.args):
            self.args = ["--rest_port", str(self.port), *self.args]
        self.url = f"http://127.0.0.1:{self.port}"
        with open(log_file, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, STANDIN, *self.args], env=clean_env(env), stdout=out,
                                         stderr=subprocess.STDOUT)

    def wait_live(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.get("/v2/health/live")[0] == 200:
                    return True
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"stand-in did not answer in {timeout}s; log:\n{self.log()}")

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get("/v2/health/ready")[0] == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"stand-in not ready in {timeout}s; log:\n{self.log()}")

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = json.dumps(body) if isinstance(body, (dict, list)) else body
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read().decode(), resp
        finally:
            conn.close()

    def get(self, path):
        status, text = self.request("GET", path)[:2]
        return status, text

    def get_json(self, path):
        status, text = self.get(path)
        return status, json.loads(text)

    def post_json(self, path, body):
        status, text = self.post(path, body)
        assert status == 200, text
        return json.loads(text)

    def post(self, path, body, headers=None):
        status, text = self.request("POST", path, body, {"Content-Type": "application/json", **(headers or {})})[:2]
        return status, text

    def log(self):
        return Path(self.log_file).read_text(errors="replace")

    def signal(self, signum=signal.SIGTERM):
        self.proc.send_signal(signum)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def model_dir(tmp_path):
    """make(names, extra_entries, config) -> a models directory in export_model.py's text-generation layout:
    config.json + models/<name>/graph.pbtxt per name (no weights). extra_entries are appended to
    model_config_list as given; config replaces config.json's content (a dict, or a str written as is)."""
    def make(names=("m",), extra_entries=(), config=None):
        root = tmp_path / "models"
        root.mkdir(exist_ok=True)
        for name in names:
            layout.write_model_dir(root, name)
        if config is not None or extra_entries or not names:
            doc = config if config is not None else (
                json.loads((root / "config.json").read_text()) if names else {"model_config_list": []})
            if extra_entries:
                doc["model_config_list"] += list(extra_entries)
            (root / "config.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
        return root
    return make


def graph_dir(path, name="m", **options):
    """A single-model directory (graph.pbtxt at its top) for --model_path."""
    return layout.write_model_dir(path, name, layout="single", **options)


@pytest.fixture
def standin(tmp_path):
    """Factory: standin(args, env=None, wait="ready"|"live"|None) -> StandIn; stopped at the end."""
    started = []

    def start(args, env=None, wait="ready"):
        server = StandIn(args, env, tmp_path / f"standin-{len(started)}.log")
        started.append(server)
        if wait:
            assert server.wait_live(), f"stand-in exited with {server.proc.returncode}:\n{server.log()}"
        if wait == "ready":
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def served(standin, model_dir):
    """A ready stand-in serving model "m" with metrics on."""
    root = model_dir(("m",))
    return standin(["--config_path", str(root / "config.json"), "--metrics_enable"])
