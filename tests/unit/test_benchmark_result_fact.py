# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fact benchmark_result of the role numaserve.ovms.benchmark's main entry point, as a playbook of
one's own (numaserve.ovms.rolling_update's canary check) reads it: set from <label>.json after a run
against a tiny local streaming server, not set in --check."""

import json
import os
import re
import subprocess
import sys

import pytest

from test_benchmark_role import PLAYBOOK, ROOT, fake_server  # noqa: F401 pylint: disable=unused-import

PLAY = """---
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Benchmark
      ansible.builtin.include_role:
        name: numaserve.ovms.benchmark
    - name: Show the fact
      ansible.builtin.debug:
        msg: "RESULT={{ benchmark_result | default('undefined') | to_json }}"
"""


def run(tmp_path, extra, *args):
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                 "ansible_python_interpreter": sys.executable}}}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    (tmp_path / "play.yml").write_text(PLAY)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_RETRY_FILES_ENABLED="0")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    result = subprocess.run([PLAYBOOK, "-i", str(tmp_path / "inventory.json"), str(tmp_path / "play.yml"),
                             "-e", json.dumps(extra)] + list(args),
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:]
    found = re.search(r'"msg": "RESULT=(.*)"\n', result.stdout)
    assert found, result.stdout[-4000:]
    return json.loads(found.group(1).replace('\\"', '"'))


@pytest.mark.skipif(PLAYBOOK is None, reason="ansible-playbook not found")
def test_main_sets_benchmark_result_from_the_json(tmp_path, fake_server):  # noqa: F811 pylint: disable=redefined-outer-name
    out = tmp_path / "report"
    extra = {"benchmark_target_url": fake_server, "benchmark_num_prompts": 4, "benchmark_output_len": 4,
             "benchmark_max_concurrency": 2, "benchmark_output_dir": str(out), "benchmark_access_log_command": "",
             "benchmark_label": "canary-node0", "benchmark_warmup": 0}
    fact = run(tmp_path, extra)
    assert sorted(fact) == ["completed", "failed", "label", "output_throughput", "tpot_ms", "ttft_ms"]
    assert (fact["label"], fact["completed"], fact["failed"]) == ("canary-node0", 4, 0)
    metrics = json.loads((out / "canary-node0.json").read_text())["metrics"]
    assert fact["ttft_ms"] == {"mean": metrics["mean_ttft_ms"], "median": metrics["median_ttft_ms"],
                               "p99": metrics["p99_ttft_ms"]}
    assert fact["tpot_ms"]["median"] == metrics["median_tpot_ms"]
    assert fact["ttft_ms"]["median"] > 0 and fact["output_throughput"] > 0


@pytest.mark.skipif(PLAYBOOK is None, reason="ansible-playbook not found")
def test_check_mode_sets_no_benchmark_result(tmp_path, fake_server):  # noqa: F811 pylint: disable=redefined-outer-name
    extra = {"benchmark_target_url": fake_server, "benchmark_output_dir": str(tmp_path / "report"),
             "benchmark_access_log_command": ""}
    assert run(tmp_path, extra, "--check") == "undefined"
