# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Playbook numaserve.ovms.k8s_render against fixture sysfs trees of five topologies (the demo's dual
socket, SNC with six nodes, SMT off, a CPU-less memory node, two worker sizes), no cluster: the rendered
objects are checked by the rules the kubelet and the API server enforce, and by the strict schemas of
two Kubernetes minor versions (kubernetes-validate)."""

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

import sysfs_fixture
from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import parse_cpulist
from ansible_collections.numaserve.ovms.plugins.module_utils.k8s_sizing import parse_quantity

kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
pytestmark = pytest.mark.skipif(PLAYBOOK is None, reason="ansible-playbook not found")
K8S_VERSIONS = ("1.30.0", "1.37.0")

MACHINES = {
    "k8s-dual-a": sysfs_fixture.dual_socket,                               # 2 x 32 cores SMT2 (the OVMS demo host)
    "k8s-dual-b": sysfs_fixture.dual_socket,
    "k8s-snc6": lambda: sysfs_fixture.smt_machine(2, 3, 10),               # SNC: six NUMA nodes
    "k8s-smtoff": lambda: sysfs_fixture.smt_machine(2, 1, 16, threads=1),  # SMT off
    "k8s-cxl": sysfs_fixture.cxl,                                           # node 2 has memory, no CPU
}


def render(tmp_path, out, machines, *extra):
    hosts = {}
    for name, factory in machines.items():
        tree = str(tmp_path / "sys" / name)
        if not os.path.isdir(tree):
            sysfs_fixture.write_tree(factory(), tree)
        hosts[name] = {"numa_facts_sysfs_root": tree, "ansible_connection": "local"}
    inventory = {"all": {"vars": {"ansible_python_interpreter": sys.executable}},
                 "ovms_k8s_workers": {"hosts": hosts}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_RETRY_FILES_ENABLED="0")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    result = subprocess.run([PLAYBOOK, "-i", str(tmp_path / "inventory.json"), "numaserve.ovms.k8s_render",
                             "-e", "k8s_manifests_dir=%s" % out, "-e", "ansible_connection=local"] + list(extra),
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout
    return result.stdout


def load(out):
    objects = {}
    with open(os.path.join(out, "kustomization.yaml")) as handle:
        kustomization = yaml.safe_load(handle)
    for name in kustomization["resources"]:
        with open(os.path.join(out, name)) as handle:
            for obj in yaml.safe_load_all(handle):
                objects[(obj["kind"], obj["metadata"]["name"])] = obj
    return kustomization, objects


def qos_class(pod_spec):
    """The QoS class the API server gives the pod (pkg/apis/core/helper/qos): Guaranteed when every
    container sets cpu and memory limits and its requests equal them."""
    for container in pod_spec.get("initContainers", []) + pod_spec["containers"]:
        res = container.get("resources", {})
        limits = res.get("limits", {})
        requests = res.get("requests", limits)
        if set(limits) < {"cpu", "memory"} or any(requests.get(k, limits[k]) != limits[k] for k in ("cpu", "memory")):
            return "Burstable"
    return "Guaranteed"


def reserved_cores(topology, per_node=1):
    """Independent of k8s_sizing: whole cores per node so every node keeps the smallest node's count minus per_node."""
    nodes = [n for n in topology["nodes"] if n["cpus"]]
    cores = {n["id"]: sorted(c for c in topology["cores"] if set(c) <= set(n["cpus"])) for n in nodes}
    keep = min(len(c) for c in cores.values()) - per_node
    return {nid: c[:len(c) - keep] for nid, c in cores.items()}, keep


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("k8s-render")
    out = str(tmp / "manifests")
    first = render(tmp, out, MACHINES)
    second = render(tmp, out, MACHINES)
    # The same directory re-rendered for one worker in single-model mode (test_single_model_mode_and_stale_classes).
    single = str(tmp / "single")
    shutil.copytree(out, single)
    render(tmp, single, {"k8s-dual-a": sysfs_fixture.dual_socket}, "-e",
           json.dumps({"k8s_manifests_model_name": "llm", "k8s_manifests_model_path": "models/llm",
                       "k8s_manifests_grpc_port": 9000, "k8s_manifests_lb_enabled": False,
                       "k8s_manifests_create_namespace": False, "k8s_manifests_cpu_headroom_cores": 1}))
    return tmp, out, first, second, single


def test_pods_follow_the_kubelet_and_scheduler_rules(rendered):
    out = rendered[1]
    objects = load(out)[1]
    with open(os.path.join(out, "numaserve-plan.json")) as handle:
        plan = json.load(handle)
    sets = [o for key, o in objects.items() if key[0] == "StatefulSet"]
    # five topologies, four pod sizes (the two dual-socket workers share a class)
    assert sorted(s["metadata"]["name"] for s in sets) == ["ovms-c14", "ovms-c15", "ovms-c18", "ovms-c62"]
    covered = []
    for sts in sets:
        size = sts["metadata"]["labels"]["numaserve.io/size"]
        workers = [w for w in plan["workers"] if w["size"] == size]
        pod = sts["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        res = container["resources"]
        assert qos_class(pod) == "Guaranteed" and res["requests"] == res["limits"]
        cpus = res["limits"]["cpu"]
        assert isinstance(cpus, str) and cpus.isdigit(), cpus  # integer CPUs: exclusive cores from the static policy
        cpus, memory = int(cpus), parse_quantity(res["limits"]["memory"], "memory")
        assert pod["nodeSelector"] == {"numaserve.io/ovms-size": size}
        assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
        assert pod["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "DoNotSchedule"
        replicas = 0
        for worker in workers:
            machine = MACHINES[worker["host"]]()
            topology = machine.topology()
            reserved, keep = reserved_cores(topology)
            tpc = topology["threads_per_core"]
            cpu_nodes = [n for n in topology["nodes"] if n["cpus"]]
            replicas += len(cpu_nodes)
            assert cpus % tpc == 0, "full-pcpus-only needs whole cores"
            assert cpus == keep * tpc, "exactly one NUMA node's allocatable CPUs"
            reserved_cpus = {c for cores in reserved.values() for core in cores for c in core}
            assert set(parse_cpulist(worker["reserved_system_cpus"])) == reserved_cpus
            allocatable = len(topology["online_cpus"]) - len(reserved_cpus)
            assert len(cpu_nodes) * cpus <= allocatable < (len(cpu_nodes) + 1) * cpus
            share = (parse_quantity("1Gi", "") * 2 + parse_quantity("100Mi", "")) // len(cpu_nodes)
            for node in cpu_nodes:
                assert memory <= machine.memory_kb[node["id"]] * 1024 - share - len(cpu_nodes)
            covered.append(worker["host"])
        assert sts["spec"]["replicas"] == replicas
    assert sorted(covered) == sorted(MACHINES)
    # CPU-less node 2 of k8s-cxl gets no pod: 2 replicas for 3 NUMA nodes
    assert objects[("StatefulSet", "ovms-c14")]["spec"]["replicas"] == 2


def test_container_args_probes_volume_and_drain(rendered):
    out = rendered[1]
    objects = load(out)[1]
    pod = objects[("StatefulSet", "ovms-c62")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["--config_path", "/models/config.json", "--rest_port", "8000", "--rest_workers", "128",
                                 "--file_system_poll_wait_seconds", "0", "--metrics_enable"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in container["volumeMounts"]
    assert container["startupProbe"]["exec"]["command"] == ["/bin/bash", "/numaserve/probe.sh"]
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 600
    assert container["readinessProbe"]["exec"] == container["startupProbe"]["exec"]
    assert "livenessProbe" not in container
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["/bin/bash", "/numaserve/drain.sh"]
    env = {e["name"]: e["value"] for e in container["env"]}
    grace = pod["terminationGracePeriodSeconds"]
    assert int(env["OVMS_DRAIN_DELAY"]) + int(env["OVMS_DRAIN_TIMEOUT"]) < grace == 900
    scripts = objects[("ConfigMap", pod["volumes"][1]["configMap"]["name"])]
    assert "ovms_current_(requests|graphs)" in scripts["data"]["drain.sh"] and "AVAILABLE" in scripts["data"]["probe.sh"]
    service = objects[("Service", "ovms")]["spec"]
    assert service["clusterIP"] == "None" and service["publishNotReadyAddresses"] is False
    pdb = objects[("PodDisruptionBudget", "ovms-c62")]["spec"]
    assert pdb["maxUnavailable"] == 1 and pdb["selector"]["matchLabels"]["numaserve.io/size"] == "c62"


def test_balancer_lists_every_pod_by_its_stable_name(rendered):
    out = rendered[1]
    objects = load(out)[1]
    config_map = [o for (kind, name), o in objects.items() if kind == "ConfigMap" and name.startswith("ovms-lb-")]
    conf = config_map[0]["data"]["nginx.conf"]
    names = ["%s-%d.ovms.numaserve-ovms.svc.cluster.local:8000" % (s["metadata"]["name"], i)
             for key, s in objects.items() if key[0] == "StatefulSet" for i in range(s["spec"]["replicas"])]
    servers = [line.split()[1] for line in conf.splitlines() if line.strip().startswith("server ") and " resolve" in line]
    assert sorted(servers) == sorted(names) and len(names) == 4 + 6 + 2 + 2
    for directive in ("least_conn;", "proxy_buffering off;", "proxy_http_version 1.1;", "proxy_next_upstream error timeout;",
                      "resolver kube-dns.kube-system.svc.cluster.local valid=5s"):
        assert directive in conf
    assert " resolve weight=4 " in conf  # classes of unequal size are weighted by CPUs (62 vs 14)
    lb = objects[("Deployment", "ovms-lb")]["spec"]["template"]["spec"]
    expr = lb["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert expr["matchExpressions"] == [{"key": "numaserve.io/ovms-size", "operator": "DoesNotExist"}]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_passes_the_strict_schema(rendered, version):
    out = rendered[1]
    objects = load(out)[1]
    assert len(objects) >= 13
    for obj in objects.values():
        kubernetes_validate.validate(obj, version, strict=True)
    # the check can fail: a misspelled field is refused
    broken = json.loads(json.dumps(objects[("StatefulSet", "ovms-c62")]))
    broken["spec"]["template"]["spec"]["containers"][0]["readOnly"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_second_render_changes_nothing_and_prints_the_plan(rendered):
    first, second = rendered[2], rendered[3]
    assert "k8s worker k8s-cxl (node k8s-cxl): 2 pod(s), 14 CPUs and 61Gi each (class c14), NUMA nodes 0,1" in first
    assert "class c62: 4 pod(s) of 62 CPUs and 61Gi (StatefulSet ovms-c62) on k8s-dual-a, k8s-dual-b" in first
    recap = [line for line in second.splitlines() if line.startswith("localhost ")]
    assert recap and "changed=0" in recap[0], second


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl with kustomize on this machine")
def test_kubectl_kustomize_accepts_the_directory(rendered):
    out = rendered[1]
    built = subprocess.run(["kubectl", "kustomize", out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=60, check=False)
    assert built.returncode == 0, built.stdout
    kinds = sorted(o["kind"] for o in yaml.safe_load_all(built.stdout))
    assert kinds.count("StatefulSet") == 4 and kinds.count("PodDisruptionBudget") == 4


def test_single_model_mode_and_stale_classes(rendered):
    out = rendered[4]
    assert sorted(os.path.basename(p) for p in glob.glob(out + "/*.yaml")) == [
        "kustomization.yaml", "pdb-c60.yaml", "scripts-configmap.yaml", "service.yaml", "statefulset-c60.yaml"]
    objects = load(out)[1]
    (container,) = objects[("StatefulSet", "ovms-c60")]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["--model_name", "llm", "--model_path", "/models/models/llm", "--rest_port", "8000",
                                 "--port", "9000", "--rest_workers", "128", "--file_system_poll_wait_seconds", "0",
                                 "--metrics_enable"]
    assert [p["name"] for p in container["ports"]] == ["http", "grpc"]


def test_plan_playbook_prints_the_pods_of_the_cluster(tmp_path):
    machines = {"k8s-plan-dual": sysfs_fixture.dual_socket, "k8s-plan-snc6": MACHINES["k8s-snc6"]}
    hosts = {name: {"numa_facts_sysfs_root": sysfs_fixture.write_tree(f(), str(tmp_path / name)),
                    "ansible_connection": "local"} for name, f in machines.items()}
    inventory = {"all": {"vars": {"ansible_python_interpreter": sys.executable}}, "ovms_k8s_workers": {"hosts": hosts}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               PWD=str(tmp_path))  # k8s_manifests_dir's default is under $PWD: the plan must write nothing there
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    result = subprocess.run([PLAYBOOK, "-i", str(tmp_path / "inventory.json"), "numaserve.ovms.plan"], cwd=str(tmp_path),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout
    for line in ('"k8s worker k8s-plan-dual (node k8s-plan-dual): 2 pod(s), 62 CPUs and 61Gi each (class c62), NUMA nodes 0,1, '
                 'reservedSystemCPUs 0,32,64,96"',
                 '"k8s worker k8s-plan-snc6 (node k8s-plan-snc6): 6 pod(s), 18 CPUs and 62Gi each (class c18), '
                 'NUMA nodes 0,1,2,3,4,5, reservedSystemCPUs 0,10,20,30,40,50,60,70,80,90,100,110"',
                 '"class c18: 6 pod(s) of 18 CPUs and 62Gi (StatefulSet ovms-c18) on k8s-plan-snc6"'):
        assert line in result.stdout, result.stdout
    recap = [l for l in result.stdout.splitlines() if l.startswith(("k8s-plan-", "localhost "))]
    assert len(recap) == 3 and all("changed=0" in l and "failed=0" in l for l in recap), recap
    assert not os.path.exists(str(tmp_path / "numaserve-ovms-k8s"))
