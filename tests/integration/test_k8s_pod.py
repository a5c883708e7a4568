# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The OVMS pod template numaserve.ovms.k8s_render writes, run for real with `podman kube play` and the
stand-in image (no cluster can run here): the container gets the rendered arguments, user, port, the
read-only model volume and the scripts; the probe the kubelet would run reports ready once the model
is AVAILABLE; the preStop drain returns only after a streaming generation in flight has finished.

What podman does not do and this test therefore does itself: podman 4.3 runs neither startup/readiness
probes nor preStop hooks, so the test runs the rendered probe and preStop commands with `podman exec`;
it applies no cpusets from resources (placement is verified by numaserve.ovms.k8s_site on a cluster).
Host name k8s-pod, REST port 19550 on 127.0.0.1.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))
sys.path.insert(0, ROOT)
import sysfs_fixture  # noqa: E402
from tools.test_models.layout import write_model_dir  # noqa: E402

IMAGE = "localhost/numaserve/ovms-standin:local"
PORT = 19550
POD = "k8s-pod"
CONTAINER = POD + "-ovms"
BASE = "/var/lib/numaserve-test/k8s_pod"

pytestmark = pytest.mark.skipif(shutil.which("podman") is None or shutil.which("docker") is None,
                                reason="podman and docker needed")


def sh(*argv, check=True, timeout=120, **kwargs):
    result = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            timeout=timeout, check=False, **kwargs)
    if check:
        assert result.returncode == 0, (argv, result.stdout[:3000])
    return result


def ensure_image():
    """The stand-in image in podman's storage, the same image ID as docker's (images/build.sh builds it there)."""
    wanted = sh("docker", "image", "inspect", "--format", "{{.Id}}", IMAGE, check=False)
    if wanted.returncode != 0:
        pytest.skip("%s not built (bash images/build.sh)" % IMAGE)
    have = sh("podman", "image", "inspect", "--format", "{{.Id}}", IMAGE, check=False)
    if have.returncode != 0 or have.stdout.strip().replace("sha256:", "") != wanted.stdout.strip().replace("sha256:", ""):
        sh("bash", "-c", "docker save %s | podman load" % IMAGE, timeout=600)


def render(tmp_path, models):
    # One NUMA node of 3 cores without SMT, 4 GiB: the pod gets 2 CPUs (one core reserved) and 1Gi.
    machine = sysfs_fixture.Machine({0: [0, 1, 2]}, [[0], [1], [2]], {0: [0, 1, 2]}, memory_kb={0: 4 * 1024 * 1024})
    inventory = {"all": {"vars": {"ansible_python_interpreter": sys.executable}},
                 "ovms_k8s_workers": {"hosts": {POD: {"ansible_connection": "local",
                                                      "numa_facts_topology": machine.topology()}}}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    extra = {"k8s_manifests_image": IMAGE, "k8s_manifests_image_pull_policy": "Never",
             "k8s_manifests_models_volume": {"hostPath": {"path": models, "type": "Directory"}},
             "k8s_manifests_rest_port": PORT, "k8s_manifests_startup_timeout": 60, "k8s_manifests_prestop_delay": 1,
             "k8s_manifests_termination_grace_period": 60, "k8s_manifests_lb_enabled": False,
             "k8s_manifests_env": {"OVMS_STANDIN_ENGINE": "simulated", "OVMS_STANDIN_LOAD_DELAY": 2,
                                   "OVMS_STANDIN_TOKEN_DELAY_MS": 100}}
    out = tmp_path / "manifests"
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    sh("ansible-playbook", "-i", str(tmp_path / "inventory.json"), "numaserve.ovms.k8s_render",
       "-e", "k8s_manifests_dir=%s" % out, "-e", json.dumps(extra), cwd=str(tmp_path), env=env, timeout=300)
    with open(out / "statefulset-c2.yaml") as handle:
        sts = yaml.safe_load(handle)
    with open(out / "scripts-configmap.yaml") as handle:
        scripts = yaml.safe_load(handle)
    return sts, scripts


@pytest.fixture(scope="module")
def pod(tmp_path_factory):
    ensure_image()
    tmp = tmp_path_factory.mktemp("k8s-pod")
    models = os.path.join(BASE, "models")
    shutil.rmtree(BASE, ignore_errors=True)
    write_model_dir(models, "m")
    sh("chmod", "-R", "a+rX", BASE)
    sts, scripts = render(tmp, models)
    spec = json.loads(json.dumps(sts["spec"]["template"]["spec"]))
    # What only the scheduler reads, and the host port a Service would give (podman has no Service).
    for key in ("nodeSelector", "topologySpreadConstraints"):
        spec.pop(key)
    spec["containers"][0]["ports"][0].update(hostPort=PORT, hostIP="127.0.0.1")
    # Debian's podman 4.3 asks for rlimits above this machine's hard limits unless told (as the
    # model_server_podman scenario sets model_server_ulimit_*): a containers.conf for the pod's containers.
    conf = tmp / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]\n')
    old_conf = os.environ.get("CONTAINERS_CONF")
    os.environ["CONTAINERS_CONF"] = str(conf)
    manifest = tmp / "pod.yaml"
    manifest.write_text(yaml.safe_dump_all([scripts, {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": POD, "labels": sts["spec"]["template"]["metadata"]["labels"]}, "spec": spec}]))
    sh("podman", "pod", "rm", "-f", "--ignore", POD, check=False)
    sh("podman", "kube", "play", str(manifest), timeout=300)
    try:
        yield sts["spec"]["template"]["spec"]["containers"][0]
    finally:
        sh("podman", "kube", "down", str(manifest), check=False)
        shutil.rmtree(BASE, ignore_errors=True)
        if old_conf is None:
            os.environ.pop("CONTAINERS_CONF", None)
        else:
            os.environ["CONTAINERS_CONF"] = old_conf


def probe():
    return sh("podman", "exec", CONTAINER, "/bin/bash", "/numaserve/probe.sh", check=False)


def test_the_container_runs_as_rendered(pod):
    inspect = json.loads(sh("podman", "inspect", CONTAINER).stdout)[0]
    assert inspect["Config"]["Cmd"][-len(pod["args"]):] == pod["args"]
    assert pod["args"][:2] == ["--config_path", "/models/config.json"]
    assert sh("podman", "exec", CONTAINER, "id", "-u").stdout.strip() == "5000"
    env = dict(e.split("=", 1) for e in inspect["Config"]["Env"])
    assert env["OVMS_REST_PORT"] == str(PORT) and env["OVMS_STANDIN_ENGINE"] == "simulated"
    touch = sh("podman", "exec", CONTAINER, "touch", "/models/written-by-test", check=False)
    assert touch.returncode != 0 and "Read-only file system" in touch.stdout, touch.stdout
    assert sh("podman", "exec", CONTAINER, "test", "-r", "/numaserve/drain.sh", check=False).returncode == 0


def test_probe_turns_ready_when_the_model_is_available(pod):
    deadline = time.monotonic() + 60
    result = probe()
    while result.returncode != 0 and time.monotonic() < deadline:
        assert result.stdout.startswith("not ready: "), result.stdout
        time.sleep(1)
        result = probe()
    assert result.returncode == 0 and result.stdout == "ready: 1 servable(s) AVAILABLE\n", result.stdout
    with urllib.request.urlopen("http://127.0.0.1:%d/v2/health/ready" % PORT, timeout=5) as answer:
        assert answer.status == 200


def test_prestop_drain_waits_for_the_generation_in_flight(pod):
    assert probe().returncode == 0
    body = json.dumps({"model": "m", "stream": True, "max_tokens": 30,
                       "messages": [{"role": "user", "content": "count"}]}).encode()
    request = urllib.request.Request("http://127.0.0.1:%d/v3/chat/completions" % PORT, data=body,
                                     headers={"Content-Type": "application/json"})
    times = {}

    def stream():
        with urllib.request.urlopen(request, timeout=60) as answer:
            for line in answer:
                times.setdefault("first", time.monotonic())
                if line.strip() == b"data: [DONE]":
                    times["done"] = time.monotonic()

    thread = threading.Thread(target=stream)
    thread.start()
    while "first" not in times and thread.is_alive():
        time.sleep(0.05)
    start = time.monotonic()
    drain = sh("podman", "exec", CONTAINER, "/bin/bash", "/numaserve/drain.sh", timeout=120)
    end = time.monotonic()
    thread.join(60)
    assert "done" in times, "the stream ended with [DONE]"
    assert end >= times["done"] - 0.2 and end - start >= 1.5, (start, end, times)
    logs = sh("podman", "logs", CONTAINER).stdout
    assert "drain: preStop, waiting 1s" in logs and "drain: nothing in flight, stopping" in logs, logs[-2000:]
    # with nothing in flight it returns after its delay
    start = time.monotonic()
    sh("podman", "exec", CONTAINER, "/bin/bash", "/numaserve/drain.sh")
    assert time.monotonic() - start < 10
