# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""model_server_inspect: one ps and one inspect call, parsed; engine errors reported, not raised."""

import json
import os
import sys
from unittest import mock

import pytest
from ansible.module_utils import _internal
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.numaserve.ovms.plugins.modules import model_server_inspect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils"))
import test_model_server_spec as t  # noqa: E402  pylint: disable=wrong-import-position


def run(capsys, args, answers, installed=True):
    """answers: argv[1:3] tuple -> (rc, out, err); records the calls. installed: the engine's command is in the PATH."""
    calls = []

    def fake(self, argv, **kwargs):
        calls.append(argv)
        return answers[tuple(argv[1:3])]

    def bin_path(self, name, *args, **kwargs):
        return "/usr/bin/" + name if installed else None

    with mock.patch.object(_internal, "is_controller", False), mock.patch.object(AnsibleModule, "run_command", fake), \
            mock.patch.object(AnsibleModule, "get_bin_path", bin_path), \
            patch_module_args(dict(args, _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            model_server_inspect.main()
    return json.loads(capsys.readouterr().out), calls


def test_lists_inspects_and_reports(capsys):
    want = t.mss.instance_spec(t.ROLE, t.SOURCE, t.INSTANCE)
    doc = t.inspect_doc(want["spec"])
    answers = {("ps", "--all"): (0, "c0ffee\n", ""),
               ("container", "inspect"): (1, json.dumps([doc]), "Error: No such object: ovms-node1"),
               ("image", "inspect"): (0, "sha256:1111\n", "")}
    result, calls = run(capsys, {"engine": "podman", "host": "h1", "names": ["ovms-node0", "ovms-node1"],
                                 "image": want["spec"]["image"]}, answers)
    assert result["engine_error"] == "" and not result["changed"]
    assert [c["name"] for c in result["containers"]] == ["ovms-node0"]
    assert result["managed"] == ["ovms-node0"] and result["managed_ports"] == [18513, 18600]
    assert result["pids"] == [42, 0] and result["image_id"] == "1111"
    assert "s3" not in json.dumps(result)
    assert calls[0][:2] == ["podman", "ps"] and "label=io.numaserve.host=h1" in calls[0]
    assert calls[1] == ["podman", "container", "inspect", "c0ffee", "ovms-node0", "ovms-node1"]


def test_engine_that_does_not_answer(capsys):
    answers = {("ps", "--all"): (1, "", "Cannot connect to the Docker daemon\n")}
    result = run(capsys, {"engine": "docker", "host": "h1"}, answers)[0]
    assert result["engine_error"] == "Cannot connect to the Docker daemon"
    assert result["containers"] == [] and result["managed"] == []


def test_engine_that_is_not_installed_is_reported_without_running_it(capsys):
    result, calls = run(capsys, {"engine": "podman", "host": "h1", "names": ["ovms-node0"]}, {}, installed=False)
    assert result["engine_missing"] is True and result["engine_error"] == "podman: command not found"
    assert result["containers"] == [] and result["pids"] == [0]
    assert calls == []


def test_proc_status_of_the_running_named_containers(capsys, tmp_path):
    want = t.mss.instance_spec(t.ROLE, t.SOURCE, t.INSTANCE)
    doc = t.inspect_doc(want["spec"])
    answers = {("container", "inspect"): (1, json.dumps([doc]), "Error: No such object: ovms-node1")}
    real_open = open

    def fake_open(path, *args, **kwargs):
        if str(path) == "/proc/42/status":
            return real_open(tmp_path / "status", *args, **kwargs)
        return real_open(path, *args, **kwargs)

    (tmp_path / "status").write_text("Name:\tovms\nCpus_allowed_list:\t0-3\n")
    with mock.patch("builtins.open", fake_open):
        result, calls = run(capsys, {"engine": "docker", "names": ["ovms-node0", "ovms-node1"], "proc_status": True},
                            answers)
    assert result["pids"] == [42, 0]
    assert result["proc_status"] == ["Name:\tovms\nCpus_allowed_list:\t0-3\n", ""]
    assert len(calls) == 1  # one inspect call: no ps without a host, no other engine call


def test_no_proc_status_unless_asked(capsys):
    answers = {("container", "inspect"): (0, "[]", "")}
    result = run(capsys, {"engine": "docker", "names": ["ovms-node0"]}, answers)[0]
    assert result["proc_status"] == [] and result["pids"] == [0]


def test_a_main_process_that_exited_since_the_engine_reported_it_does_not_run(capsys):
    # A crash-looping container: the engine still reports the PID of a process that is gone.
    want = t.mss.instance_spec(t.ROLE, t.SOURCE, t.INSTANCE)
    doc = t.inspect_doc(want["spec"])
    answers = {("container", "inspect"): (0, json.dumps([doc]), "")}
    real_open = open

    def gone(path, *args, **kwargs):
        if str(path) == "/proc/42/status":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    with mock.patch("builtins.open", gone):
        result = run(capsys, {"engine": "docker", "names": ["ovms-node0"], "proc_status": True}, answers)[0]
    assert "failed" not in result
    assert result["pids"] == [0] and result["proc_status"] == [""]
