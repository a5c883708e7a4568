# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""numa_facts_free_cpus (numaserve.ovms.numa_facts) and how load_balancer pins a co-located nginx to it:
the role on fixture trees (localhost, local connection), then the filters load_balancer's vars use
(numaserve.ovms.load_balancer_cpuset / load_balancer_workers) applied to that fact. Nothing on the host
changes."""

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


def run(tmp_path, hosts):
    inventory = {"ovms_servers": {"hosts": {
        name: dict(vars, ansible_connection="local", ansible_python_interpreter=sys.executable)
        for name, vars in hosts.items()}}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    # the filters roles/load_balancer/vars/main.yml pins the nginx container and sizes its workers with
    (tmp_path / "play.yml").write_text(
        "- hosts: ovms_servers\n  gather_facts: false\n  roles: [numaserve.ovms.numa_facts]\n"
        "  vars:\n    lb_setting: \"{{ lb_cpuset | default('auto') }}\"\n"
        "    lb_pinned: \"{{ lb_setting | numaserve.ovms.load_balancer_cpuset(numa_facts_free_cpus | default('')) }}\"\n"
        "  tasks:\n    - ansible.builtin.debug:\n        msg: \"RESULT {{ {'free': numa_facts_free_cpus, "
        "'cpuset': lb_pinned, 'workers': 'auto' | numaserve.ovms.load_balancer_workers(lb_pinned) | string} "
        "| to_json }}\"\n")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_RETRY_FILES_ENABLED="0")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    result = subprocess.run([PLAYBOOK, "-i", str(tmp_path / "inventory.json"), str(tmp_path / "play.yml")],
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout
    found = {}
    for line in result.stdout.splitlines():
        if '"msg": "RESULT ' in line:
            found = json.loads(json.loads(line.split('"msg": ', 1)[1])[len("RESULT "):])
    return found, result.stdout


def test_reserved_cpus_are_free_and_pin_the_balancer(tmp_path):
    dual = sysfs_fixture.write_tree(sysfs_fixture.dual_socket(), str(tmp_path / "dual"))
    found, out = run(tmp_path, {"it-free": {"numa_facts_sysfs_root": dual, "numa_facts_reserved_cpus": "0,32"}})
    # CPUs 0 and 32 with their SMT siblings 64 and 96 (whole cores)
    assert found == {"free": "0,32,64,96", "cpuset": "0,32,64,96", "workers": "4"}, out
    assert "WARNING: numa_facts_reserved_cpus leaves no CPU" not in out


def test_nothing_reserved_warns_and_leaves_nginx_unpinned(tmp_path):
    dual = sysfs_fixture.write_tree(sysfs_fixture.dual_socket(), str(tmp_path / "dual"))
    found, out = run(tmp_path, {"it-nofree": {"numa_facts_sysfs_root": dual}})
    assert found == {"free": "", "cpuset": "", "workers": "auto"}, out
    assert "WARNING: numa_facts_reserved_cpus leaves no CPU of it-nofree outside the model server instances" in out


def test_explicit_cpuset_wins(tmp_path):
    dual = sysfs_fixture.write_tree(sysfs_fixture.dual_socket(), str(tmp_path / "dual"))
    found, out = run(tmp_path, {"it-explicit": {"numa_facts_sysfs_root": dual, "numa_facts_reserved_cpus": "0",
                                                "lb_cpuset": "64"}})
    assert found == {"free": "0,64", "cpuset": "64", "workers": "1"}, out
