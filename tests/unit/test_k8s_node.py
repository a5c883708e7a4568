# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Role numaserve.ovms.k8s_node through playbook numaserve.ovms.k8s_site --tags k8s_node, with kubectl
and systemctl replaced by recording stubs and the kubelet's directories under tmp_path: the drop-in
follows the kubelet's rules and the project's KubeletConfiguration schema; drain, stop, state removal,
start, wait and uncordon happen only on change, one worker at a time; --check runs nothing."""

import json
import os
import shutil
import subprocess
import sys

import jsonschema
import pytest
import yaml

import sysfs_fixture
from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import parse_cpulist
from ansible_collections.numaserve.ovms.plugins.module_utils.k8s_sizing import parse_quantity

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
SCHEMA = os.path.join(ROOT, "tests", "k8s", "kubeletconfiguration-v1beta1.schema.json")
pytestmark = pytest.mark.skipif(PLAYBOOK is None, reason="ansible-playbook not found")

MACHINES = {"k8s-node-snc6": lambda: sysfs_fixture.smt_machine(2, 3, 10), "k8s-node-cxl": sysfs_fixture.cxl}
STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "%s"
"""


def setup(tmp_path):
    log = tmp_path / "calls.log"
    log.write_text("")
    for name in ("kubectl-stub", "systemctl-stub"):
        (tmp_path / name).write_text(STUB % log)
        (tmp_path / name).chmod(0o755)
    hosts = {}
    for name, factory in MACHINES.items():
        base = tmp_path / name
        root = base / "var-lib-kubelet"
        root.mkdir(parents=True)
        for state in ("cpu_manager_state", "memory_manager_state"):
            (root / state).write_text('{"policyName":"none"}')
        hosts[name] = {"numa_facts_sysfs_root": sysfs_fixture.write_tree(factory(), str(base / "sys")),
                       "k8s_node_config_dir": str(base / "kubelet.conf.d"), "k8s_node_kubelet_root_dir": str(root),
                       "k8s_node_kubectl": [str(tmp_path / "kubectl-stub")],
                       "k8s_node_systemctl": [str(tmp_path / "systemctl-stub"), "--host=" + name],
                       "ansible_connection": "local"}
    return log, hosts


def run(tmp_path, hosts, *extra):
    inventory = {"all": {"vars": {"ansible_python_interpreter": sys.executable}}, "ovms_k8s_workers": {"hosts": hosts}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_RETRY_FILES_ENABLED="0")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    result = subprocess.run([PLAYBOOK, "-i", str(tmp_path / "inventory.json"), "numaserve.ovms.k8s_site",
                             "--tags", "k8s_node", "-e", "k8s_manifests_dir=%s" % (tmp_path / "manifests")] + list(extra),
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout
    recap = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith(("k8s-node-", "localhost "))}
    return result.stdout, recap


def sequence(name):
    return ["kubectl-stub drain %s --ignore-daemonsets --delete-emptydir-data --timeout=600s" % name,
            "systemctl-stub --host=%s stop kubelet" % name, "systemctl-stub --host=%s start kubelet" % name,
            "kubectl-stub wait --for=condition=Ready node/%s --timeout=300s" % name, "kubectl-stub uncordon %s" % name]


def check_dropin(path, machine):
    with open(path) as handle:
        text = handle.read()
    config = yaml.safe_load(text)
    with open(SCHEMA) as handle:
        jsonschema.validate(config, json.load(handle))
    assert config["cpuManagerPolicy"] == "static" and config["cpuManagerPolicyOptions"] == {"full-pcpus-only": "true"}
    assert config["topologyManagerPolicy"] == "single-numa-node" and config["topologyManagerScope"] == "pod"
    assert config["memoryManagerPolicy"] == "Static"
    total = sum(parse_quantity(r["limits"]["memory"], "") for r in config["reservedMemory"])
    assert total == sum(parse_quantity(q, "") for q in (config["kubeReserved"]["memory"], config["systemReserved"]["memory"],
                                                        config["evictionHard"]["memory.available"]))
    reserved = set(parse_cpulist(config["reservedSystemCPUs"]))
    topology = machine.topology()
    assert all(set(core) <= reserved or not set(core) & reserved for core in topology["cores"])
    kept = {len(set(n["cpus"]) - reserved) for n in topology["nodes"] if n["cpus"]}
    assert len(kept) == 1
    return text


def test_drain_restart_only_on_change_one_worker_at_a_time(tmp_path):
    log, hosts = setup(tmp_path)
    out, recap = run(tmp_path, hosts)
    calls = log.read_text().splitlines()
    # serial: each worker's whole sequence before the next worker's drain, in inventory order
    assert calls == sequence("k8s-node-snc6") + sequence("k8s-node-cxl"), out
    for name, factory in MACHINES.items():
        settings = hosts[name]
        text = check_dropin(os.path.join(settings["k8s_node_config_dir"], "90-numaserve-ovms.conf"), factory())
        root = settings["k8s_node_kubelet_root_dir"]
        assert not os.path.exists(os.path.join(root, "cpu_manager_state"))
        assert not os.path.exists(os.path.join(root, "memory_manager_state"))
        with open(os.path.join(root, "numaserve-ovms-applied.conf")) as handle:
            assert handle.read() == text
        assert "changed=0" not in recap[name]
    with open(os.path.join(hosts["k8s-node-cxl"]["k8s_node_config_dir"], "90-numaserve-ovms.conf")) as handle:
        assert "reservedSystemCPUs: 0,8,16,24" in handle.read()

    # Second run: nothing changes, nothing runs, except on a worker whose last apply stopped half way
    # (its marker is missing): that one is drained and restarted again.
    os.remove(os.path.join(hosts["k8s-node-cxl"]["k8s_node_kubelet_root_dir"], "numaserve-ovms-applied.conf"))
    log.write_text("")
    out, recap = run(tmp_path, hosts)
    assert log.read_text().splitlines() == sequence("k8s-node-cxl"), out
    assert "changed=0" in recap["k8s-node-snc6"], recap

    # --check with a new reservation on one worker: reports the change there only, runs no command,
    # writes nothing.
    dropin = os.path.join(hosts["k8s-node-snc6"]["k8s_node_config_dir"], "90-numaserve-ovms.conf")
    before = open(dropin).read()
    hosts["k8s-node-snc6"]["k8s_node_reserved_cores_per_node"] = 2
    log.write_text("")
    out, recap = run(tmp_path, hosts, "--check", "--diff")
    assert log.read_text() == "" and open(dropin).read() == before
    assert "changed=0" in recap["k8s-node-cxl"], recap
    assert "changed=0" not in recap["k8s-node-snc6"], recap
    assert "+reservedSystemCPUs: 0-1,10-11,20-21,30-31,40-41,50-51,60-61,70-71,80-81,90-91,100-101,110-111" in out


def test_bad_variables_fail_before_any_change(tmp_path):
    log, hosts = setup(tmp_path)
    for name in hosts:
        hosts[name]["k8s_node_reserved_cores_per_node"] = 8
    inventory = {"all": {"vars": {"ansible_python_interpreter": sys.executable}}, "ovms_k8s_workers": {"hosts": hosts}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    result = subprocess.run([PLAYBOOK, "-i", str(tmp_path / "inventory.json"), "numaserve.ovms.k8s_site", "--tags", "k8s_node",
                             "-l", "k8s-node-cxl"], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False)
    result_out = result.stdout
    assert result.returncode != 0
    assert "k8s_node_reserved_cores_per_node=8 leaves NUMA node 0 (8 cores) without a core for pods" in result_out, result_out
    assert log.read_text() == ""
    assert not os.path.exists(hosts["k8s-node-cxl"]["k8s_node_config_dir"])
