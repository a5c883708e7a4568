"""The real image, run the way the model_server role runs it (from the host: needs a Docker Engine).

tests/standin/run.sh runs this file on the host with NUMASERVE_REQUIRE_DOCKER=1 (a missing engine
is then a failure, not a skip); inside the tests container it is not collected.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import layout

IMAGE = os.environ.get("OVMS_STANDIN_IMAGE", "localhost/numaserve/ovms-standin:local")

if shutil.which("docker") is None or subprocess.run(["docker", "version"], capture_output=True, check=False).returncode:
    if os.environ.get("NUMASERVE_REQUIRE_DOCKER"):
        raise RuntimeError("test_image.py needs a Docker Engine: run `make engine`")
    pytest.skip("no Docker Engine", allow_module_level=True)


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=True).stdout.strip()


@pytest.fixture
def container():
    models = tempfile.mkdtemp(prefix="numaserve-standin-image-")
    os.chmod(models, 0o755)  # readable by UID 5000, as model files must be for OVMS
    layout.write_model_dir(models, "m")  # export_model.py's layout, no weights: the simulated engine
    for root, dirs, files in os.walk(models):
        for entry in dirs:
            os.chmod(os.path.join(root, entry), 0o755)
        for entry in files:
            os.chmod(os.path.join(root, entry), 0o644)
    name = f"numaserve-standin-image-test-{os.getpid()}"
    cid = docker("run", "-d", "--name", name, "--label", "io.numaserve.test=standin", "-p", "127.0.0.1::8000",
                 "-v", f"{models}:/models:ro", "-e", "OVMS_STANDIN_LOAD_DELAY=0.5",
                 "-e", "OVMS_STANDIN_ENGINE=simulated", IMAGE,
                 "--rest_port", "8000", "--config_path", "/models/config.json")
    try:
        yield cid
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=False)
        shutil.rmtree(models, ignore_errors=True)


def test_image_runs_as_uid_5000_and_serves(container):
    port = docker("port", container, "8000/tcp").splitlines()[0].rsplit(":", 1)[1]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url + "/v2/health/ready", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, docker("logs", container)
        time.sleep(0.2)
    assert docker("inspect", "-f", "{{.Config.User}}", container) == "ovms"
    processes = docker("exec", container, "ps", "-eo", "uid=,args=")
    server = [line for line in processes.splitlines() if "ovms_standin.py" in line and "tini" not in line]
    assert server and all(line.split()[0] == "5000" for line in server), processes
    assert docker("exec", container, "id", "-u") == "5000"
    request = urllib.request.Request(url + "/v3/chat/completions", method="POST",
                                     data=json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
                                     .encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert json.load(resp)["object"] == "chat.completion"
    docker("stop", "-t", "20", container)  # SIGTERM through tini: a clean exit
    assert docker("inspect", "-f", "{{.State.ExitCode}}", container) == "0"
    assert "Started REST server at 0.0.0.0:8000" in docker("logs", container)
