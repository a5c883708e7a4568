# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Molecule-free check of playbook numaserve.ovms.plan: ansible-playbook against fixture trees on
localhost (local connection); the table is printed per host and nothing changes."""

import json
import os
import shutil
import subprocess
import sys

import pytest

import sysfs_fixture

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))

pytestmark = pytest.mark.skipif(PLAYBOOK is None, reason="ansible-playbook not found")


def run_plan(tmp_path, hosts, *extra):
    inventory = {"ovms_servers": {"hosts": {
        name: dict(vars, ansible_connection="local", ansible_python_interpreter=sys.executable)
        for name, vars in hosts.items()}}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_RETRY_FILES_ENABLED="0")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    return subprocess.run([PLAYBOOK, "-i", str(tmp_path / "inventory.json"), "numaserve.ovms.plan"] + list(extra),
                          cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)


def test_plan_prints_the_table_and_changes_nothing(tmp_path):
    dual = sysfs_fixture.write_tree(sysfs_fixture.dual_socket(), str(tmp_path / "dual"))
    snc = sysfs_fixture.write_tree(sysfs_fixture.snc2(), str(tmp_path / "snc"))
    result = run_plan(tmp_path, {
        "it-plan-dual": {"numa_facts_sysfs_root": dual},
        "it-plan-snc": {"numa_facts_sysfs_root": snc, "numa_facts_policy": "per_socket",
                        "numa_facts_reserved_cpus": "0", "numa_facts_grpc_port_base": 9000},
        # a topology given as data (numa_facts_topology) is planned without reading sysfs
        "it-plan-injected": {"numa_facts_sysfs_root": "/nonexistent", "numa_facts_topology": sysfs_fixture.cxl().topology(),
                             "numa_facts_rest_port_base": 19003},
    })
    out = result.stdout
    assert result.returncode == 0, out
    for line in (
        '"it-plan-dual: 2 instance(s) on 2 NUMA node(s), 128 online CPUs, 2 package(s), 2 thread(s) per core"',
        '"instance  nodes  cpuset_cpus   cpuset_mems  rest_port  grpc_port  cpus"',
        '"node0     0      0-31,64-95    0            8003       -          64"',
        '"node1     1      32-63,96-127  1            8004       -          64"',
        '"socket0   0,1    1-31,65-95    0-1          8003       9000       62"',
        '"socket1   2,3    32-63,96-127  2-3          8004       9001       64"',
        ", CPUs in no instance: 0,64",
        '"it-plan-injected: 2 instance(s) on 3 NUMA node(s), 32 online CPUs, 2 package(s), 2 thread(s) per core"',
        '"node1     1      8-15,24-31   1            19004      -          16"',
    ):
        assert line in out, out
    recap = [l for l in out.splitlines() if l.startswith("it-plan-")]
    assert len(recap) == 3 and all("changed=0" in l and "failed=0" in l for l in recap), recap


def test_plan_refuses_an_impossible_request_naming_the_variable(tmp_path):
    dual = sysfs_fixture.write_tree(sysfs_fixture.dual_socket(), str(tmp_path / "dual"))
    result = run_plan(tmp_path, {"it-plan-bad": {"numa_facts_sysfs_root": dual}},
                      "-e", '{"numa_facts_reserved_cpus": "32-63"}', "--check")
    assert result.returncode != 0
    assert "numa_facts_reserved_cpus leaves node 1 without CPUs" in result.stdout, result.stdout
