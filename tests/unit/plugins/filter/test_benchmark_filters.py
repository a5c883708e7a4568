# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmark filters as Ansible calls them: registered, documented, errors as AnsibleFilterError."""

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.filter.benchmark import FilterModule

HERE = os.path.dirname(os.path.abspath(__file__))
FILTER_DIR = os.path.join(HERE, "..", "..", "..", "..", "plugins", "filter")
NAMES = {"benchmark_instances", "benchmark_problems", "benchmark_access_log_command", "benchmark_command",
         "benchmark_configuration", "benchmark_baseline_configuration", "benchmark_baseline_url",
         "benchmark_baseline_plan", "benchmark_baseline_settings", "benchmark_result"}


def test_filters_are_registered():
    assert set(FilterModule().filters()) == NAMES


@pytest.mark.parametrize("name", sorted(NAMES))
def test_every_filter_is_documented(name):
    with open(os.path.join(FILTER_DIR, name + ".yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert doc["DOCUMENTATION"]["name"] == name
    assert "_input" in doc["DOCUMENTATION"]["options"] and doc["EXAMPLES"] and doc["RETURN"]["_value"]


def test_errors_are_filter_errors():
    filters = FilterModule().filters()
    with pytest.raises(AnsibleFilterError, match="numaserve.ovms.benchmark_baseline_plan: .*leaves no online CPU"):
        filters["benchmark_baseline_plan"]("0", "0", 8100)
    with pytest.raises(AnsibleFilterError, match="numaserve.ovms.benchmark_problems: expects the benchmark settings"):
        filters["benchmark_problems"]("x")
    with pytest.raises(AnsibleFilterError, match="numaserve.ovms.benchmark_command"):
        filters["benchmark_command"]({}, "u", "l", "/w", "/o")


def test_problems_filter():
    assert FilterModule().filters()["benchmark_problems"]({
        "target_url": "nope", "driver": "builtin", "ttft_rule": "content", "num_prompts": 1, "request_rate": "inf",
        "label": "x", "max_concurrency": 0, "input_len": 1, "output_len": 0, "warmup": 0, "seed": 0,
        "request_timeout": 1, "timeout": 1, "baseline_port": 1, "client_cpus": ""}) == [
        "benchmark_target_url must be an http(s) URL (got 'nope')"]


def test_result_reads_the_json_text_and_fails_as_a_filter_error():
    filters = FilterModule().filters()
    text = '{"label": "l", "metrics": {"completed": 2, "failed": 0, "median_ttft_ms": 12.5}}'
    out = filters["benchmark_result"](text, "l")
    assert out["completed"] == 2 and out["ttft_ms"]["median"] == 12.5 and out["ttft_ms"]["p99"] is None
    with pytest.raises(AnsibleFilterError, match="numaserve.ovms.benchmark_result: canary-node0.json is not JSON"):
        filters["benchmark_result"]("", "canary-node0")
