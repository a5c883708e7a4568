# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The model_server_spec filters: argument checks and the shapes the role reads."""

import os
import sys

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.filter import model_server_spec as f

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils"))
import test_model_server_spec as t  # noqa: E402  pylint: disable=wrong-import-position

FILTER_DIR = os.path.dirname(f.__file__)


def test_every_filter_has_its_documentation():
    for name in f.FilterModule().filters():
        with open(os.path.join(FILTER_DIR, name + ".yml")) as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["RETURN"]["_value"]["description"]


def test_instances_needs_a_model_source():
    with pytest.raises(AnsibleFilterError, match="model_server_source"):
        f.model_server_instances([t.INSTANCE], {"content_hash": "x"}, t.ROLE)
    with pytest.raises(AnsibleFilterError, match="has no rest_port"):
        f.model_server_instances([{"name": "n", "cpuset_cpus": "0"}], t.SOURCE, t.ROLE)


def test_probe_chain_with_no_plan_lists_everything_as_stale():
    want = f.model_server_instances([t.INSTANCE], t.SOURCE, t.ROLE)
    seen = [t.mss.observe(t.inspect_doc(want[0]["spec"]))]
    probe = f.model_server_probe_result([], seen, "h1", "", "10.0.0.5")
    assert probe["instances"] == []
    assert [s["container"] for s in probe["stale"]] == ["ovms-node0"]
    assert probe["stale"][0]["endpoint"]["address"] == "10.0.0.5"
    gated = f.model_server_probe_gated(f.model_server_probe_result(want, seen, "h1"), ["node0"])
    assert gated["instances"][0]["endpoint"]["port"] == 18513 and gated["stale"] == []


def test_proc_status_and_image_checks():
    got = f.model_server_proc_status(t.STATUS, "0-1", [0])
    assert got["problems"] == [] and got["status"]["Uid"].startswith("5000")
    assert f.model_server_proc_status(t.STATUS)["problems"] == []
    assert f.model_server_image_checks("openvino/model_server:latest") == {"valid": True, "pinned": False}
    assert f.model_server_addresses(True, "0.0.0.0", "a")["publish"] == "127.0.0.1"
