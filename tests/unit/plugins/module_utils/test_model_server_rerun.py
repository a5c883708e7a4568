# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""model_server_rerun: listing key, probe basis and the re-run fast path's verdict (issue 14)."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.filter import model_server_rerun as filters
from ansible_collections.numaserve.ovms.plugins.module_utils import model_server_rerun as rerun

NAMES = ["ovms-node0", "ovms-node1"]
WANTED = [{"container": "ovms-node0", "config_hash": "a" * 64, "endpoint": {"port": 19203}},
          {"container": "ovms-node1", "config_hash": "b" * 64, "endpoint": {"port": 19204}}]


def _instance(name, **over):
    entry = {"instance": name, "container": "ovms-" + name, "running": True, "replace": False, "reasons": [],
             "port_moved": False, "image": "img:1", "endpoint": {"host": "h", "instance": name, "port": 19203}}
    entry.update(over)
    return entry


def _probe(*instances, stale=()):
    return {"host": "h", "instances": list(instances) or [_instance("node0"), _instance("node1")],
            "stale": list(stale)}


def test_listing_key_is_stable_and_depends_on_every_input():
    key = rerun.listing_key("docker", "h", NAMES, "img:1", 0)
    assert key == rerun.listing_key("docker", "h", list(NAMES), "img:1", "0")
    assert len(key) == 64
    others = [rerun.listing_key("podman", "h", NAMES, "img:1", 0), rerun.listing_key("docker", "h2", NAMES, "img:1", 0),
              rerun.listing_key("docker", "h", NAMES[:1], "img:1", 0), rerun.listing_key("docker", "h", NAMES, "img:2", 0),
              rerun.listing_key("docker", "h", NAMES, "img:1", 1)]
    assert key not in others
    assert len(set(others)) == len(others)


def test_listing_key_none_counts_as_zero_changes_and_rejects_garbage():
    assert rerun.listing_key("docker", "h", NAMES, "", None) == rerun.listing_key("docker", "h", NAMES, "", 0)
    with pytest.raises(ValueError, match="changes"):
        rerun.listing_key("docker", "h", NAMES, "", "many")


def test_basis_depends_on_wanted_and_listing():
    key = rerun.listing_key("docker", "h", NAMES, "img:1", 0)
    basis = rerun.probe_basis(WANTED, key)
    assert basis == rerun.probe_basis([dict(w) for w in WANTED], key)
    changed = [dict(WANTED[0], config_hash="c" * 64), WANTED[1]]
    assert rerun.probe_basis(changed, key) != basis
    assert rerun.probe_basis(WANTED, rerun.listing_key("docker", "h", NAMES, "img:1", 1)) != basis
    assert rerun.probe_basis(WANTED[:1], key) != basis


def test_basis_is_empty_without_a_listing_or_wanted():
    assert rerun.probe_basis(WANTED, "") == ""
    assert rerun.probe_basis(None, "k") == ""
    with pytest.raises(ValueError, match="wanted"):
        rerun.probe_basis({"a": 1}, "k")


def test_unchanged_when_every_instance_runs_serves_and_stays():
    assert rerun.unchanged(_probe(), "b", "b") is True
    assert rerun.unchanged(_probe(), "b", "b", remove_stale=True) is True


@pytest.mark.parametrize("instance", [
    _instance("node1", running=False, endpoint={}),                      # stopped
    _instance("node1", replace=True, reasons=["image"]),                 # would be replaced
    _instance("node1", running=False, replace=True, reasons=["absent"]),  # does not exist
    _instance("node1", endpoint={}),                                     # failed the probe's readiness gate
    {"instance": "node1", "container": "ovms-node1"},                    # incomplete entry: not trusted
])
def test_changed_when_an_instance_does_not_simply_stay(instance):
    assert rerun.unchanged(_probe(_instance("node0"), instance), "b", "b") is False


def test_changed_when_the_basis_moved_or_is_missing():
    assert rerun.unchanged(_probe(), "b", "c") is False
    assert rerun.unchanged(_probe(), "", "") is False
    assert rerun.unchanged(None, "b", "b") is False
    assert rerun.unchanged({}, "b", "b") is False
    assert rerun.unchanged(_probe(stale=()) | {"instances": []}, "b", "b") is False


def test_stale_containers_count_only_when_the_run_removes_them():
    stale = [{"container": "ovms-old", "endpoint": {}, "image": "img:0"}]
    assert rerun.unchanged(_probe(stale=stale), "b", "b", remove_stale=False) is True
    assert rerun.unchanged(_probe(stale=stale), "b", "b", remove_stale=True) is False


def test_filters():
    key = filters.model_server_listing_key("docker", "h", NAMES, "img:1", 2)
    assert key == rerun.listing_key("docker", "h", NAMES, "img:1", 2)
    assert filters.model_server_rerun_basis(WANTED, key) == rerun.probe_basis(WANTED, key)
    assert filters.model_server_rerun_basis(None, key) == ""
    assert filters.model_server_rerun_unchanged(_probe(), "b", "b", False) is True
    assert filters.model_server_rerun_unchanged(None, "b", "b") is False
    with pytest.raises(AnsibleFilterError, match="model_server_listing_key"):
        filters.model_server_listing_key("docker", "h", NAMES, "", "x")
    with pytest.raises(AnsibleFilterError, match="model_server_rerun_basis"):
        filters.model_server_rerun_basis({"a": 1}, key)
    with pytest.raises(AnsibleFilterError, match="model_server_rerun_unchanged"):
        filters.model_server_rerun_unchanged(["x"], "b", "b")
    assert set(filters.FilterModule().filters()) == {
        "model_server_listing_key", "model_server_rerun_basis", "model_server_rerun_unchanged", "model_server_grep_files"}


def test_grep_files():
    out = ("/sys/devices/system/cpu/online:0-3\n"
           "/sys/devices/system/node/online:0-1\n"
           "/tmp/two:a\n/tmp/two:b:c\n"
           "/tmp/empty-line:\n"
           "grep: /sys/devices/system/node/has_memory: No such file or directory\n")
    assert rerun.grep_files(out) == {"/sys/devices/system/cpu/online": "0-3", "/sys/devices/system/node/online": "0-1",
                                     "/tmp/two": "a\nb:c", "/tmp/empty-line": ""}
    assert rerun.grep_files("") == {} and rerun.grep_files(None) == {}
    assert filters.model_server_grep_files("/a:1") == {"/a": "1"}
