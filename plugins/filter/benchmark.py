# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the benchmark role: numaserve.ovms.benchmark_instances, benchmark_problems,
benchmark_access_log_command, benchmark_command, benchmark_configuration,
benchmark_baseline_configuration, benchmark_baseline_url, benchmark_baseline_plan,
benchmark_baseline_settings and benchmark_result.

Documentation: the .yml files of the same names next to this file. The logic lives in
plugins/module_utils/benchmark.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.module_utils import benchmark
from ansible_collections.numaserve.ovms.plugins.module_utils.fleet import FleetError


def _wrap(name, function):
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (benchmark.BenchmarkError, FleetError, KeyError, TypeError, ValueError) as exc:
            raise AnsibleFilterError("numaserve.ovms.%s: %s" % (name, exc))

    run.__name__ = name
    return run


def _settings(function):
    def run(settings, *args, **kwargs):
        if not isinstance(settings, dict):
            raise TypeError("expects the benchmark settings as a dict, got %s" % type(settings).__name__)
        return function(dict(settings), *args, **kwargs)

    return run


FILTERS = {
    "benchmark_instances": benchmark.describe_instances,
    "benchmark_problems": _settings(benchmark.settings_problems),
    "benchmark_access_log_command": benchmark.access_log_command,
    "benchmark_command": _settings(benchmark.bench_command),
    "benchmark_configuration": benchmark.configuration,
    "benchmark_baseline_configuration": benchmark.baseline_configuration,
    "benchmark_baseline_url": benchmark.baseline_url,
    "benchmark_baseline_plan": benchmark.baseline_plan,
    "benchmark_baseline_settings": benchmark.baseline_settings,
    "benchmark_result": benchmark.result,
}


class FilterModule(object):
    def filters(self):
        return dict((name, _wrap(name, function)) for name, function in FILTERS.items())
