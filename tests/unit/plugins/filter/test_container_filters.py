# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters of plugins/filter/containers.py (thin wrappers of module_utils/containers.py)."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.filter.containers import FilterModule
from ansible_collections.numaserve.ovms.plugins.module_utils import containers

F = FilterModule().filters()


def test_container_labels_filter():
    assert F["container_labels"]("h1", component="load_balancer") == {
        "io.numaserve.managed": "true", "io.numaserve.host": "h1", "io.numaserve.component": "load_balancer"}
    with pytest.raises(AnsibleFilterError, match="numaserve.ovms.container_labels"):
        F["container_labels"]("")


def test_argv_filters():
    labels = {"io.numaserve.managed": "true", "io.numaserve.instance": None}
    assert F["container_label_filters"](labels) == ["io.numaserve.managed=true", "io.numaserve.instance"]
    assert F["container_ps_argv"](labels, "podman") == [
        "podman", "ps", "--all", "--no-trunc", "--filter", "label=io.numaserve.managed=true",
        "--filter", "label=io.numaserve.instance", "--format", "{{.Names}}"]
    assert F["container_inspect_argv"](["a", "b"], "docker") == [
        "docker", "inspect", "--type", "container", "--format", containers.INSPECT_FORMATS["docker"], "a", "b"]
    assert ".ID}}" in F["container_inspect_argv"](["a"], "podman")[5]
    with pytest.raises(AnsibleFilterError):
        F["container_inspect_argv"](["a"], "lxc")


def test_parse_inspect_result():
    line = '{"name":"/a","id":"1","state":"running","running":true,"pid":5,"labels":{},"ports":{}}'
    ok = {"rc": 1, "stdout": line, "stderr": "Error: No such container: b", "cmd": ["docker"]}
    assert [r["name"] for r in F["container_parse_inspect"](ok, ["b", "a"])] == ["a"]
    assert F["container_parse_inspect"]({"skipped": True, "changed": False}) == []
    down = {"rc": 1, "stdout": "", "stderr": "Cannot connect to the Docker daemon", "cmd": ["docker", "inspect"]}
    with pytest.raises(AnsibleFilterError, match="docker does not answer on h1"):
        F["container_parse_inspect"](down, None, "h1", "load_balancer_engine")


def test_engine_params_filter():
    assert F["container_engine_params"]({"image": "x", "labels": {"a": "b"}}, "podman") == {
        "image": "x", "label": {"a": "b"}}
    with pytest.raises(AnsibleFilterError, match="container_engine_params"):
        F["container_engine_params"]({"image": "x", "bogus": 1}, "docker")
