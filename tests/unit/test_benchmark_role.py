# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role numaserve.ovms.benchmark without Molecule: its defaults, argument specs and docs agree, the
playbook calls only entry points, and the playbook benchmarks a tiny local streaming server (no
container engine: no ovms_servers, no baseline) and writes the report files; bad settings stop it in
preflight with a message naming the variable."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(ROOT, "roles", "benchmark")
PLAYBOOK = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def load(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def read(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as handle:
        return handle.read()


DEFAULTS = load(ROLE, "defaults", "main.yml")
SPECS = load(ROLE, "meta", "argument_specs.yml")["argument_specs"]


def test_main_options_are_the_defaults_with_the_same_values():
    options = SPECS["main"]["options"]
    assert set(options) == set(DEFAULTS)
    assert all(key.startswith("benchmark_") for key in DEFAULTS)
    for key, value in DEFAULTS.items():
        assert options[key].get("default") == value, key


def test_every_entry_point_has_its_tasks_file_and_the_playbook_calls_only_entry_points():
    for name in SPECS:
        assert os.path.isfile(os.path.join(ROLE, "tasks", name + ".yml")), name
    called = []
    for play in load(ROOT, "playbooks", "benchmark.yml"):
        for task in play.get("tasks", []):
            include = task.get("ansible.builtin.include_role")
            if include and include["name"] == "numaserve.ovms.benchmark":
                called.append(include.get("tasks_from", "main.yml")[:-len(".yml")])
    assert called == ["describe", "main", "baseline_deploy", "baseline_run", "baseline_remove", "finish"]
    assert set(called) == set(SPECS)


def test_entry_point_options_are_main_options():
    for name, spec in SPECS.items():
        for key in spec.get("options") or {}:
            assert key in SPECS["main"]["options"] or spec["options"][key].get("required"), (name, key)


@pytest.mark.parametrize("doc", [("roles", "benchmark", "README.md"), ("docs", "benchmark.md")])
def test_every_variable_is_documented(doc):
    text = read(ROOT, *doc)
    for key in DEFAULTS:
        assert re.search(r"`%s`" % key, text), (doc, key)


# --- the playbook against a local streaming server --------------------------------------------------------

@pytest.fixture
def fake_server():
    """The base URL of tests/bench's tiny streaming server (1 ms per token), in a thread."""
    spec = importlib.util.spec_from_file_location("benchmark_role_fake_server",
                                                  os.path.join(ROOT, "tests", "bench", "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = type("Handler", (module._Handler,), {"counter": 0, "lock": threading.Lock(), "delay": 0.001})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def run_benchmark(tmp_path, *extra):
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                 "ansible_python_interpreter": sys.executable}}}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_RETRY_FILES_ENABLED="0")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    args = [PLAYBOOK, "-i", str(tmp_path / "inventory.json"), "numaserve.ovms.benchmark"]
    for item in extra:
        args += ["-e", json.dumps(item)]
    return subprocess.run(args, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)


pytestmark_playbook = pytest.mark.skipif(PLAYBOOK is None, reason="ansible-playbook not found")


@pytestmark_playbook
def test_playbook_writes_the_report(tmp_path, fake_server):
    out = tmp_path / "report"
    result = run_benchmark(tmp_path, {"benchmark_target_url": fake_server, "benchmark_num_prompts": 6,
                                      "benchmark_output_len": 4, "benchmark_max_concurrency": 2,
                                      "benchmark_output_dir": str(out), "benchmark_access_log_command": "",
                                      "benchmark_label": "local"})
    assert result.returncode == 0, result.stdout[-4000:]
    assert sorted(os.listdir(str(out))) == ["local.json", "local.png", "local.txt"]
    doc = json.loads((out / "local.json").read_text())
    assert (doc["metrics"]["completed"], doc["metrics"]["failed"]) == (6, 0)
    assert doc["configuration"]["balancer"] == fake_server and doc["configuration"]["instances"] == []
    assert doc["load"]["max_concurrency"] == 2
    text = (out / "local.txt").read_text()
    assert "============ Serving Benchmark Result ============" in text
    assert "Report in %s on localhost: local.json/.png/.txt" % out in result.stdout
    assert "[ERROR]" not in result.stdout


@pytestmark_playbook
def test_bad_settings_stop_in_preflight_naming_the_variable(tmp_path):
    result = run_benchmark(tmp_path, {"benchmark_label": "baseline", "benchmark_request_rate": 0,
                                      "benchmark_output_dir": str(tmp_path / "report")})
    assert result.returncode != 0
    assert "benchmark: invalid settings: benchmark_request_rate must be a number > 0 or 'inf'" in result.stdout
    assert "benchmark_label must be a file-name-safe word" in result.stdout
    assert not (tmp_path / "report").exists()
