# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A balancer port held by an unrelated process is refused in preflight, naming the process.

numaserve.ovms.load_balancer on this machine (host `it-lb-port-taken`, local connection, Docker) while
a plain Python HTTP server started by the test holds the port: the run fails with the one-line
message naming the variable (load_balancer_listen_port or load_balancer_stub_status_port), the
process (python3 and the test's own pid) and the fix, and nothing was created (no nginx.conf, no
container). Ports 18683-18684 (the load_balancer family's range).

    source scripts/env.sh && python -m pytest -q tests/integration/test_lb_port_taken.py
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "it-lb-port-taken"
HELD_PORT = 18683
FREE_PORT = 18684
CONTAINER = "it-lb-port-taken-nginx"
PLAYBOOK = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def _engine_answers():
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30).returncode == 0


pytestmark = [
    pytest.mark.skipif(PLAYBOOK is None, reason="ansible-playbook not found"),
    pytest.mark.skipif(not _engine_answers(), reason="no Docker Engine answers (run `make engine`)"),
]


@pytest.fixture(scope="module")
def squatter():
    """A process unrelated to the balancer listening on 127.0.0.1:HELD_PORT."""
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(HELD_PORT), "--bind", "127.0.0.1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", HELD_PORT), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_role(tmp_path, **host_vars):
    config_dir = tmp_path / "nginx"
    hvars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "model_server_endpoints": [{"host": HOST, "instance": "node0", "container": "none", "address": "127.0.0.1",
                                    "port": 18686, "grpc_port": None, "nodes": [0], "cpuset_cpus": "0", "cpus": 1}],
        "load_balancer_image": "localhost/numaserve/nginx:local",
        "load_balancer_container_name": CONTAINER,
        "load_balancer_config_dir": str(config_dir),
        "load_balancer_listen_port": FREE_PORT,
    }
    hvars.update(host_vars)
    (tmp_path / "inventory.json").write_text(json.dumps({"all": {"hosts": {HOST: hvars}}}))
    (tmp_path / "play.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  roles: [numaserve.ovms.load_balancer]\n")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_RETRY_FILES_ENABLED="0")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    result = subprocess.run([PLAYBOOK, "-i", str(tmp_path / "inventory.json"), str(tmp_path / "play.yml")],
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300, check=False)
    return result, config_dir


def assert_nothing_created(config_dir):
    assert not (config_dir / "nginx.conf").exists()
    inspect = subprocess.run(["docker", "container", "inspect", CONTAINER], capture_output=True, check=False)
    assert inspect.returncode != 0, "the balancer container was created"


def expected(variable, pid):
    return re.compile(r"%s: port %d on %s is already held by another process: python[0-9.]* \(pid %d\), "
                      r"listening on 127\.0\.0\.1:%d\. Stop that process or choose another %s\."
                      % (variable, HELD_PORT, HOST, pid, HELD_PORT, variable))


def test_listen_port_held(tmp_path, squatter):
    result, config_dir = run_role(tmp_path, load_balancer_listen_port=HELD_PORT)
    assert result.returncode != 0, result.stdout
    assert expected("load_balancer_listen_port", squatter.pid).search(result.stdout), result.stdout
    assert_nothing_created(config_dir)


def test_stub_status_port_held(tmp_path, squatter):
    result, config_dir = run_role(tmp_path, load_balancer_stub_status_port=HELD_PORT)
    assert result.returncode != 0, result.stdout
    assert expected("load_balancer_stub_status_port", squatter.pid).search(result.stdout), result.stdout
    assert_nothing_created(config_dir)
