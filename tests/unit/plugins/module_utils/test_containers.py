# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""containers: label scheme, engine parameter spellings, inspect parsing.

Expected spellings are those of the modules' argument specs (community.docker.docker_container 4.x,
containers.podman.podman_container 1.18) and of what roles/model_server/tasks/instance.yml and
roles/load_balancer/tasks/run.yml passed before the container layer existed.
"""

import json

import pytest

from ansible_collections.numaserve.ovms.plugins.module_utils import containers as c

MODEL_SERVER_SPEC = {
    "image": "openvino/model_server:2026.3", "pull": "missing",
    "command": ["--port", "9000", "--rest_port", "8003"],
    "cpuset_cpus": "0-3", "cpuset_mems": "0",
    "published_ports": ["127.0.0.1:8003:8003"], "volumes": ["/models:/models:ro"],
    "env": {"OMP_NUM_THREADS": 4}, "labels": {"io.numaserve.managed": "true"},
    "user": "", "security_opts": ["no-new-privileges"], "cap_drop": ["ALL"],
    "ulimits": {"nofile": 16384, "nproc": 0}, "log_driver": "json-file",
    "log_options": {"max-size": "10m"}, "restart_policy": "unless-stopped", "stop_timeout": "30",
    "network_mode": None,
}


def test_labels_scheme():
    assert c.container_labels("h1") == {"io.numaserve.managed": "true", "io.numaserve.host": "h1"}
    assert c.container_labels("h1", instance="node0", config_hash="abc") == {
        "io.numaserve.managed": "true", "io.numaserve.host": "h1", "io.numaserve.instance": "node0",
        "io.numaserve.config-hash": "abc"}
    assert c.container_labels("h1", component="load_balancer") == {
        "io.numaserve.managed": "true", "io.numaserve.host": "h1", "io.numaserve.component": "load_balancer"}
    with pytest.raises(c.ContainerError):
        c.container_labels("")


def test_label_filters():
    assert c.label_filters({"io.numaserve.managed": "true", "io.numaserve.instance": None}) == [
        "label=io.numaserve.managed=true", "label=io.numaserve.instance"]
    with pytest.raises(c.ContainerError):
        c.label_filters(["io.numaserve.managed"])


def test_docker_params():
    p = c.engine_params(MODEL_SERVER_SPEC, "docker")
    assert p == {
        "image": "openvino/model_server:2026.3", "pull": "missing",
        "command": ["--port", "9000", "--rest_port", "8003"], "cpuset_cpus": "0-3", "cpuset_mems": "0",
        "published_ports": ["127.0.0.1:8003:8003"], "volumes": ["/models:/models:ro"],
        "env": {"OMP_NUM_THREADS": "4"}, "labels": {"io.numaserve.managed": "true"},
        "security_opts": ["no-new-privileges"], "cap_drop": ["ALL"], "ulimits": ["nofile:16384:16384"],
        "log_driver": "json-file", "log_options": {"max-size": "10m"}, "restart_policy": "unless-stopped",
        "stop_timeout": 30}


def test_podman_params():
    p = c.engine_params(dict(MODEL_SERVER_SPEC, network_mode="host", ulimits={"nofile": 8192, "nproc": 4096}),
                        "podman")
    assert p["publish"] == ["127.0.0.1:8003:8003"]
    assert p["volume"] == ["/models:/models:ro"]
    assert p["label"] == {"io.numaserve.managed": "true"}
    assert p["security_opt"] == ["no-new-privileges"]
    assert p["ulimit"] == ["nofile=8192:8192", "nproc=4096:4096"]
    assert p["log_opt"] == {"max_size": "10m"}
    assert p["network"] == ["host"]
    for docker_only in ("published_ports", "volumes", "labels", "security_opts", "ulimits", "log_options",
                        "network_mode"):
        assert docker_only not in p


def test_load_balancer_spec_keeps_empty_port_list():
    spec = {"image": "nginx:1.28.0", "command": ["nginx", "-c", "/etc/numaserve/nginx/nginx.conf", "-g", "daemon off;"],
            "network_mode": "host", "cpuset_cpus": "", "published_ports": [], "volumes": ["/etc/x:/etc/numaserve/nginx:ro"],
            "labels": {"a": "b"}, "restart_policy": "unless-stopped", "pull": "missing", "log_options": {}}
    p = c.engine_params(spec, "docker")
    assert p["published_ports"] == []
    assert "cpuset_cpus" not in p and "log_options" not in p
    assert p["network_mode"] == "host"


@pytest.mark.parametrize("spec, message", [
    ({}, "no image"),
    ({"image": "x", "volume": []}, "unknown container spec key"),
    ({"image": "x", "pull": "sometimes"}, "pull"),
    ({"image": "x", "command": "nginx -g"}, "command must be a list"),
    ({"image": "x", "ulimits": {"nofile": "many"}}, "not an integer"),
    ({"image": "x", "env": ["A=1"]}, "env must be a dict"),
])
def test_bad_specs(spec, message):
    with pytest.raises(c.ContainerError, match=message):
        c.engine_params(spec, "docker")


def test_bad_engine():
    with pytest.raises(c.ContainerError, match="docker or podman"):
        c.engine_params({"image": "x"}, "lxc")


# Lines as `<engine> inspect --format INSPECT_FORMATS[engine]` prints them (recorded on docker 20.10 and podman 4.3).
DOCKER_RUNNING = json.dumps({
    "name": "/numaserve-lb", "id": "7ca5", "state": "running", "running": True, "pid": 18476,
    "labels": {"io.numaserve.managed": "true", "io.numaserve.host": "h1"},
    "ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18999"}, {"HostIp": "::", "HostPort": "18999"}],
              "443/tcp": None},
    "image": "localhost/numaserve/nginx:local", "cpuset_cpus": "0", "cpuset_mems": ""})
PODMAN_EXITED = json.dumps({
    "name": "ms-node0", "id": "ab12", "state": "exited", "running": False, "pid": 0,
    "labels": None, "ports": {}})


def test_parse_inspect():
    out = c.parse_inspect(DOCKER_RUNNING + "\n" + PODMAN_EXITED + "\n")
    assert out == [
        {"name": "numaserve-lb", "id": "7ca5", "running": True, "state": "running",
         "labels": {"io.numaserve.managed": "true", "io.numaserve.host": "h1"},
         "ports": [{"host_ip": "127.0.0.1", "host_port": 18999, "container_port": 80},
                   {"host_ip": "::", "host_port": 18999, "container_port": 80}],
         "pid": 18476, "image": "localhost/numaserve/nginx:local", "cpuset_cpus": "0", "cpuset_mems": ""},
        {"name": "ms-node0", "id": "ab12", "running": False, "state": "exited", "labels": {}, "ports": [], "pid": 0,
         "image": "", "cpuset_cpus": "", "cpuset_mems": ""},
    ]


def test_parse_inspect_order_and_missing():
    out = c.parse_inspect(DOCKER_RUNNING + "\n" + PODMAN_EXITED, names=["ms-node0", "gone", "numaserve-lb"])
    assert [r["name"] for r in out] == ["ms-node0", "numaserve-lb"]
    assert c.parse_inspect("") == []
    with pytest.raises(c.ContainerError):
        c.parse_inspect("Error: something")


def test_missing_only_and_engine_error():
    assert c.missing_only("Error: No such container: nope\nError: no such container x")
    assert c.missing_only("")
    assert not c.missing_only("Cannot connect to the Docker daemon at unix:///var/run/docker.sock")
    msg = c.engine_error("docker", "h1", "Cannot connect\n", "model_server_engine")
    assert msg == ("model_server_engine: docker does not answer on h1 (Cannot connect). Start the engine "
                   "(systemctl start docker), run the play with become: true, or set model_server_engine to the "
                   "engine this host has.")
    assert "podman.socket" in c.engine_error("podman", "h1", "", None)


@pytest.mark.parametrize("said", ["Error executing command.", "[Errno 2] No such file or directory: b'podman'"])
def test_engine_error_says_not_installed_when_the_executable_is_missing(said):
    msg = c.engine_error("podman", "h1", said, "load_balancer_engine")
    assert msg.startswith("load_balancer_engine: podman is not installed on h1 (")
    assert msg.endswith("install it (Debian: apt-get install podman) or set load_balancer_engine to the engine this host has.")
