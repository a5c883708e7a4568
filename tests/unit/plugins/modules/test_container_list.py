# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""container_list: one ps by label, one inspect of the ids it printed (none without ids), the _container_list
schema, the engine's failure as container_engine_error's one line."""

import json
import os
import sys
from unittest import mock

import pytest
from ansible.module_utils import _internal
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.numaserve.ovms.plugins.module_utils import containers
from ansible_collections.numaserve.ovms.plugins.modules import container_list

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils"))
import test_containers as tc  # noqa: E402  pylint: disable=wrong-import-position

DOCKER_ID = "41778dfff2fa9bb654963a7e3c30119faa030765ebbd3fe8cf79ccba8ba166bf"
# `podman container inspect --format INSPECT_FORMATS["podman"]` of a running container (recorded on podman 4.3.1).
PODMAN_RUNNING = json.dumps({
    "name": "cltest-run", "id": "b0ef79106d8b865f8f8d1628fd07ea75cee00744503596c4b475a74339e058ba",
    "state": "running", "running": True, "pid": 2567,
    "labels": {"io.numaserve.component": "load_balancer", "io.numaserve.host": "h1", "io.numaserve.managed": "true",
               "io.numaserve.recipe": "7d799eab5708"},
    "ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18997"}]},
    "image": "localhost/numaserve/nginx:local", "cpuset_cpus": "0", "cpuset_mems": ""}, separators=(",", ":"))
LABELS = {"io.numaserve.managed": "true", "io.numaserve.host": "h1", "io.numaserve.component": None}


def run(capsys, args, answers):
    """answers: list of (rc, out, err) or an exception, one per engine call in order; records the calls."""
    calls = []
    answers = list(answers)

    def fake(self, argv, **kwargs):
        calls.append(list(argv))
        assert kwargs.get("handle_exceptions") is False
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with mock.patch.object(_internal, "is_controller", False), mock.patch.object(AnsibleModule, "run_command", fake), \
            patch_module_args(dict(args, _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            container_list.main()
    assert not answers, "engine calls expected but not made: %r" % (answers,)
    return json.loads(capsys.readouterr().out), calls


def test_docker_lists_by_label_and_inspects_the_ids_once(capsys):
    answers = [(0, DOCKER_ID + "\n" + "ab12\n", ""), (0, tc.DOCKER_RUNNING + "\n" + tc.PODMAN_EXITED + "\n", "")]
    result, calls = run(capsys, {"engine": "docker", "labels": LABELS, "host": "h1"}, answers)
    assert calls == [
        ["docker", "ps", "--all", "--no-trunc", "--quiet", "--filter", "label=io.numaserve.managed=true",
         "--filter", "label=io.numaserve.host=h1", "--filter", "label=io.numaserve.component"],
        ["docker", "container", "inspect", "--format", containers.INSPECT_FORMATS["docker"], DOCKER_ID, "ab12"],
    ]
    assert ".Id}}" in calls[1][4] and "Env" not in calls[1][4]
    assert result["changed"] is False and not result.get("failed")
    # The _container_list schema (README.md), in the order the engine listed them.
    assert result["containers"] == [
        {"name": "numaserve-lb", "id": "7ca5", "running": True, "state": "running",
         "labels": {"io.numaserve.managed": "true", "io.numaserve.host": "h1"},
         "ports": [{"host_ip": "127.0.0.1", "host_port": 18999, "container_port": 80},
                   {"host_ip": "::", "host_port": 18999, "container_port": 80}],
         "pid": 18476, "image": "localhost/numaserve/nginx:local", "cpuset_cpus": "0", "cpuset_mems": ""},
        {"name": "ms-node0", "id": "ab12", "running": False, "state": "exited", "labels": {}, "ports": [], "pid": 0,
         "image": "", "cpuset_cpus": "", "cpuset_mems": ""},
    ]


def test_podman_same_calls_and_schema(capsys):
    podman_id = json.loads(PODMAN_RUNNING)["id"]
    answers = [(0, podman_id + "\n", ""), (0, PODMAN_RUNNING + "\n", "")]
    result, calls = run(capsys, {"engine": "podman", "labels": LABELS, "host": "h1"}, answers)
    assert calls[0][:5] == ["podman", "ps", "--all", "--no-trunc", "--quiet"]
    assert calls[1] == ["podman", "container", "inspect", "--format", containers.INSPECT_FORMATS["podman"], podman_id]
    assert ".ID}}" in calls[1][4]
    assert result["containers"] == [{
        "name": "cltest-run", "id": podman_id, "running": True, "state": "running",
        "labels": {"io.numaserve.component": "load_balancer", "io.numaserve.host": "h1",
                   "io.numaserve.managed": "true", "io.numaserve.recipe": "7d799eab5708"},
        "ports": [{"host_ip": "127.0.0.1", "host_port": 18997, "container_port": 80}],
        "pid": 2567, "image": "localhost/numaserve/nginx:local", "cpuset_cpus": "0", "cpuset_mems": ""}]


def test_no_container_no_inspect_call(capsys):
    result, calls = run(capsys, {"engine": "podman", "labels": {"io.numaserve.instance": None}}, [(0, "\n", "")])
    assert result["containers"] == [] and not result.get("failed")
    assert calls == [["podman", "ps", "--all", "--no-trunc", "--quiet", "--filter", "label=io.numaserve.instance"]]


def test_a_container_removed_between_the_calls_is_left_out(capsys):
    answers = [(0, "7ca5\ngone\n", ""),
               (1, tc.DOCKER_RUNNING + "\n", "Error response from daemon: No such container: gone\n")]
    result = run(capsys, {"engine": "docker", "labels": LABELS}, answers)[0]
    assert [c["name"] for c in result["containers"]] == ["numaserve-lb"] and not result.get("failed")


def test_engine_that_does_not_answer(capsys):
    said = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
    result, calls = run(capsys, {"engine": "docker", "labels": LABELS, "host": "h1",
                                 "engine_variable": "load_balancer_engine"}, [(1, "", said)])
    assert result["failed"] and len(calls) == 1
    assert result["msg"] == containers.engine_error("docker", "h1", said, "load_balancer_engine")
    assert result["msg"] == (
        "load_balancer_engine: docker does not answer on h1 (Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is the docker daemon running?). Start the engine (systemctl start docker), "
        "run the play with become: true, or set load_balancer_engine to the engine this host has.")
    assert "containers" not in result


def test_engine_that_is_not_installed(capsys):
    missing = FileNotFoundError(2, "No such file or directory")
    missing.filename = b"podman"
    result = run(capsys, {"engine": "podman", "labels": {}, "host": "h1", "engine_variable": "model_server_engine"},
                 [missing])[0]
    assert result["failed"]
    assert result["msg"].startswith("model_server_engine: podman is not installed on h1 ([Errno 2] ")
    assert result["msg"].endswith("install it (Debian: apt-get install podman) or set model_server_engine to the "
                                  "engine this host has.")


def test_engine_that_fails_on_inspect(capsys):
    answers = [(0, "7ca5\n", ""), (125, "", "Error: cannot connect to Podman socket\n")]
    result = run(capsys, {"engine": "podman", "labels": LABELS}, answers)[0]
    assert result["failed"]
    assert result["msg"].startswith("the container engine: podman does not answer on this host (Error: cannot "
                                    "connect to Podman socket). Start the engine (systemctl start podman.socket)")


def test_list_containers_dedups_ids_and_checks_the_engine():
    calls = []

    def fake(argv):
        calls.append(argv)
        return (0, "7ca5\n7ca5\n", "") if argv[1] == "ps" else (0, tc.DOCKER_RUNNING, "")

    assert [c["id"] for c in containers.list_containers(fake, "docker", {})] == ["7ca5"]
    assert calls[1][5:] == ["7ca5"]
    with pytest.raises(containers.ContainerError, match="docker or podman"):
        containers.list_containers(fake, "lxc", {})
    with pytest.raises(containers.ContainerError, match="labels must be a dict"):
        containers.list_containers(fake, "docker", ["io.numaserve.managed"])
