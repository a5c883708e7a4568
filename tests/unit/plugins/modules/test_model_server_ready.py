# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""model_server_ready: one instance, or several in one call (option instances, the probe's gate)."""

import io
import json
from unittest import mock

import pytest
from ansible.module_utils import _internal
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.numaserve.ovms.plugins.modules import model_server_ready

CONFIG = {"m": {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": "OK"}}]}}


class Response(io.BytesIO):
    def getcode(self):
        return 200


def run(capsys, args, ready_ports=(), running=("ovms-node0", "ovms-node1")):
    """Instances on ready_ports answer ready; containers in running run; records the engine calls."""
    calls = []

    def fake_run(self, argv, **kwargs):
        calls.append(argv)
        if argv[1] == "logs":
            return 0, "log line\n", ""
        return (0, "running|true|0|0\n", "") if argv[-1] in running else (1, "", "No such container")

    def fake_open(url, **kwargs):
        port = int(url.split(":")[2].split("/")[0])
        if port not in ready_ports:
            raise OSError("refused")
        return Response(json.dumps(CONFIG if url.endswith("/v1/config") else {}).encode())

    with mock.patch.object(_internal, "is_controller", False), \
            mock.patch.object(AnsibleModule, "run_command", fake_run), \
            mock.patch.object(model_server_ready, "open_url", fake_open), \
            patch_module_args(dict(args, _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            model_server_ready.main()
    return json.loads(capsys.readouterr().out), calls


def test_one_instance(capsys):
    result = run(capsys, {"url": "http://127.0.0.1:8003", "container": "ovms-node0", "models": ["m"]},
                 ready_ports=[8003])[0]
    assert result["ready"] and result["reason"] == "ready" and result["failure"] == ""
    assert "results" not in result


def test_several_instances_in_one_call(capsys):
    instances = [{"url": "http://127.0.0.1:8003", "container": "ovms-node0", "instance": "node0", "extra": [1]},
                 {"url": "http://127.0.0.1:8004", "container": "ovms-node1", "instance": "node1"}]
    result = run(capsys, {"instances": instances, "models": ["m"], "timeout": 0, "poll_interval": 0.01},
                 ready_ports=[8003])[0]
    assert [(r["instance"], r["container"], r["ready"]) for r in result["results"]] == [
        ("node0", "ovms-node0", True), ("node1", "ovms-node1", False)]
    assert result["results"][1]["reason"] == "timeout" and "node1" in result["results"][1]["failure"]
    assert result["ready"] is False
    assert result["failure"] == result["results"][1]["failure"]


def test_several_all_ready(capsys):
    instances = [{"url": "http://127.0.0.1:8003", "container": "ovms-node0", "instance": "node0"},
                 {"url": "http://127.0.0.1:8004", "container": "ovms-node1", "instance": "node1"}]
    result = run(capsys, {"instances": instances, "models": ["m"]}, ready_ports=[8003, 8004])[0]
    assert result["ready"] is True and [r["ready"] for r in result["results"]] == [True, True]


def test_an_entry_without_url(capsys):
    result = run(capsys, {"instances": [{"container": "ovms-node0"}], "models": ["m"]})[0]
    assert result["failed"] and result["msg"] == "instances[0]: each entry needs a url and a container"


def test_url_and_instances_exclude_each_other(capsys):
    result = run(capsys, {"url": "http://127.0.0.1:8003", "container": "c",
                          "instances": [{"url": "http://127.0.0.1:8003", "container": "c"}], "models": ["m"]})[0]
    assert result["failed"] and "mutually exclusive" in result["msg"]


def test_an_entry_of_an_older_configuration_is_judged_by_its_own_models(capsys):
    """own_models: an instance that still runs its old configuration (model m) serves although O(models)
    names a model it does not have; timeout 0 polls once, so a refused one is judged at once."""
    instances = [{"url": "http://127.0.0.1:8003", "container": "ovms-node0", "instance": "node0",
                  "own_models": True, "timeout": 0},
                 {"url": "http://127.0.0.1:8004", "container": "ovms-node1", "instance": "node1"}]
    result = run(capsys, {"instances": instances, "models": ["new-model"], "timeout": 0, "poll_interval": 0.01},
                 ready_ports=[8003, 8004])[0]
    assert [(r["instance"], r["ready"]) for r in result["results"]] == [("node0", True), ("node1", False)]
    assert result["results"][1]["reason"] == "timeout" and "new-model=not reported" in result["results"][1]["failure"]
    refused = run(capsys, {"instances": [dict(instances[0])], "models": ["m"], "timeout": 600, "poll_interval": 5})[0]
    assert refused["results"][0]["ready"] is False and refused["results"][0]["seconds"] < 5


def test_an_entry_with_a_bad_timeout(capsys):
    result = run(capsys, {"instances": [{"url": "http://127.0.0.1:8003", "container": "ovms-node0", "timeout": "soon"}],
                          "models": ["m"]})[0]
    assert result["failed"] and "restarts_baseline and timeout must be integers" in result["msg"]
