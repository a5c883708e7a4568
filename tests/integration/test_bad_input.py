# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad-input matrix against a real engine: a wrong variable costs nothing.

One module-scoped fixture converges a small stack with numaserve.ovms.site (host `it-badinput`, a
simulated two-node sysfs, two stand-in instances on 19003/19004, the balancer on 19080) and takes a
snapshot of what the user relies on: the managed containers of the host (image, command, env,
labels, pinning, start time), the balancer's nginx.conf and the listening ports. Each case re-runs
the site playbook with ONE bad variable and asserts that the run fails, that the output carries the
one-line message naming the variable and the fix, and that the snapshot did not change.

    source scripts/env.sh && python -m pytest -q tests/integration/test_bad_input.py
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT_FOR_TOOLS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT_FOR_TOOLS)
from tools.test_models import layout  # noqa: E402  pylint: disable=wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "it-badinput"
DATA = "/var/lib/numaserve-test/badinput"
MODELS = DATA + "/models"
NGINX_DIR = DATA + "/nginx"
SYSFS = DATA + "/sysfs"
REST_BASE = 19003
LB_PORT = 19080
# The ports of this test: instances 19003+, a free probe port, the balancer.
OUR_PORTS = set(range(REST_BASE, REST_BASE + 20)) | {LB_PORT}
MODEL = "test/llm"
PLAYBOOK_TIMEOUT = 300

HOST_VARS = {
    "ansible_connection": "local",
    "ansible_python_interpreter": sys.executable,
    "numa_facts_sysfs_root": SYSFS,
    "numa_facts_rest_port_base": REST_BASE,
    "model_server_image": "localhost/numaserve/ovms-standin:local",
    "model_server_pull": "never",
    "model_server_models_dir": MODELS,
    "model_server_container_prefix": "it-badinput-ovms-",
    "model_server_bind_memory": False,
    "model_server_ready_timeout": 60,
    "model_server_env": {"OVMS_STANDIN_ENGINE": "simulated"},  # the model directory has no weights
    "load_balancer_image": "localhost/numaserve/nginx:local",
    "load_balancer_listen_port": LB_PORT,
    "load_balancer_config_dir": NGINX_DIR,
    "load_balancer_container_name": "it-badinput-nginx",
}


def _engine_answers():
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30).returncode == 0


pytestmark = pytest.mark.skipif(not _engine_answers(), reason="no Docker Engine answers (run `make engine`)")


def write_inventory(path, servers=True, host_vars=None):
    """An inventory with HOST in ovms_servers (or an empty ovms_servers group)."""
    hvars = dict(HOST_VARS, **(host_vars or {}))
    if servers:
        inventory = {"all": {"children": {"ovms_servers": {"hosts": {HOST: hvars}}}}}
    else:
        # The host exists (with its variables) but the group that runs the instances is empty.
        inventory = {"all": {"hosts": {HOST: hvars}, "children": {"ovms_servers": {"hosts": {}}}}}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(inventory, fh, indent=1)  # JSON is YAML: the yaml inventory plugin reads it
    return path


def run_site(inventory, extra_vars=None, env=None):
    """ansible-playbook numaserve.ovms.site; returns (rc, stdout + stderr)."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, "numaserve.ovms.site"]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    full_env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0",
                    ANSIBLE_STDOUT_CALLBACK="default")
    full_env.update(env or {})
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT,
                          check=False)
    return proc.returncode, proc.stdout + proc.stderr


def _docker_json(*args):
    out = subprocess.run(["docker"] + list(args), capture_output=True, text=True, check=True, timeout=60).stdout
    return json.loads(out) if out.strip() else []


def listening_ports():
    """TCP ports of this test that something listens on (from /proc/net/tcp{,6})."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name, encoding="ascii") as fh:
                next(fh)
                for line in fh:
                    fields = line.split()
                    if fields[3] == "0A":  # LISTEN
                        port = int(fields[1].rsplit(":", 1)[1], 16)
                        if port in OUR_PORTS:
                            ports.add(port)
        except FileNotFoundError:
            continue
    return sorted(ports)


def snapshot():
    """What a failed run must leave exactly as it was."""
    ids = subprocess.run(
        ["docker", "ps", "-a", "-q", "--no-trunc", "--filter", "label=io.numaserve.managed=true",
         "--filter", "label=io.numaserve.host=" + HOST],
        capture_output=True, text=True, check=True, timeout=60).stdout.split()
    containers = {}
    for info in (_docker_json("inspect", *ids) if ids else []):
        containers[info["Name"]] = {
            "Id": info["Id"],
            "Image": info["Config"]["Image"],
            "Cmd": info["Config"]["Cmd"],
            "Env": sorted(info["Config"]["Env"] or []),
            "Labels": info["Config"]["Labels"],
            "CpusetCpus": info["HostConfig"]["CpusetCpus"],
            "CpusetMems": info["HostConfig"]["CpusetMems"],
            "StartedAt": info["State"]["StartedAt"],
            "Running": info["State"]["Running"],
        }
    nginx_conf = None
    if os.path.exists(NGINX_DIR + "/nginx.conf"):
        with open(NGINX_DIR + "/nginx.conf", encoding="utf-8") as fh:
            nginx_conf = fh.read()
    return {"containers": containers, "nginx_conf": nginx_conf, "ports": listening_ports()}


def write_model_dir(path, config_text=""):
    """export_model.py's layout (tools/test_models/layout.py); config_text replaces config.json
    (None: no config.json at all)."""
    if os.path.exists(os.path.join(path, "config.json")):
        os.remove(os.path.join(path, "config.json"))  # a leftover (bad JSON) would stop the writer
    layout.write_model_dir(path, MODEL)
    if config_text is None:
        os.remove(os.path.join(path, "config.json"))
    elif config_text:
        with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as fh:
            fh.write(config_text)


def teardown_stack(inventory):
    """The teardown playbook, then whatever it left: every container labelled with this host."""
    subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, "numaserve.ovms.teardown"],
        cwd=ROOT, capture_output=True, check=False, timeout=PLAYBOOK_TIMEOUT)
    ids = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", "label=io.numaserve.host=" + HOST],
        capture_output=True, text=True, check=False, timeout=60).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f"] + ids, capture_output=True, check=False, timeout=120)


@pytest.fixture(scope="module")
def stack():
    """The converged stack: {'inventory', 'tmp', 'snapshot'}; torn down at the end of the module."""
    tmp = tempfile.mkdtemp(prefix="numaserve-badinput-")
    inventory = write_inventory(os.path.join(tmp, "inventory.yml"))
    os.makedirs(DATA, exist_ok=True)
    write_model_dir(MODELS)
    os.chmod(DATA, 0o755)
    subprocess.run([sys.executable, os.path.join(ROOT, "extensions/molecule/shared/stack_sysfs.py"), SYSFS,
                    "--node", "0=0", "--node", "1=1"], check=True, capture_output=True, timeout=60)
    # Model directories for the config.json cases.
    write_model_dir(DATA + "/models-noconfig", None)
    write_model_dir(DATA + "/models-badjson", '{"model_config_list": [{"config": {"name": "m",, }}\n')
    try:
        rc, out = run_site(inventory)
        assert rc == 0, "the site playbook did not converge the reference stack:\n" + out[-6000:]
        before = snapshot()
        assert len(before["containers"]) == 3, before  # two instances and the balancer
        assert before["nginx_conf"] and "%d" % REST_BASE in before["nginx_conf"], before["nginx_conf"]
        assert LB_PORT in before["ports"] and REST_BASE in before["ports"], before["ports"]
        yield {"inventory": inventory, "tmp": tmp, "snapshot": before}
    finally:
        teardown_stack(inventory)
        shutil.rmtree(DATA, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _path_without(program, shadow_dir):
    """A PATH that finds every command of the current PATH except `program`: one directory of links."""
    os.makedirs(shadow_dir, exist_ok=True)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            link = os.path.join(shadow_dir, name)
            if name != program and not os.path.lexists(link):
                os.symlink(os.path.join(directory, name), link)
    return shadow_dir


def _two_instances(port_a, port_b):
    return [{"name": "a", "nodes": [0], "rest_port": port_a}, {"name": "b", "nodes": [1], "rest_port": port_b}]


# id -> (extra vars, inventory variant, extra environment, regexes the output must match).
# Every message must name the variable; the second pattern is the word of the fix.
CASES = {
    "rest-port-zero": ({"numa_facts_rest_port_base": 0}, None, None,
                       [r"numa_facts_rest_port_base", r"1-65535"]),
    "rest-port-70000": ({"numa_facts_rest_port_base": 70000}, None, None,
                        [r"numa_facts_rest_port_base", r"1-65535"]),
    "instance-ports-collide": ({"numa_facts_instances": _two_instances(REST_BASE + 10, REST_BASE + 10)}, None, None,
                               [r"numa_facts_instances|ovms_instances", r"unique|collide|twice|same port"]),
    "instance-port-is-balancer-port": ({"numa_facts_rest_port_base": LB_PORT}, None, None,
                                       [r"load_balancer_listen_port|numa_facts_rest_port_base",
                                        r"load_balancer_listen_port"]),
    "balancer-port-is-instance-port": ({"load_balancer_listen_port": REST_BASE}, None, None,
                                       [r"load_balancer_listen_port", r"numa_facts_rest_port_base|instance"]),
    "port-held-by-another-process": ({"numa_facts_rest_port_base": REST_BASE + 15}, None, "listen",
                                     [r"numa_facts_rest_port_base", r"in use"]),
    "unknown-policy": ({"numa_facts_policy": "per_core"}, None, None,
                       [r"numa_facts_policy", r"per_node"]),
    "reserved-cpus-empty-a-node": ({"numa_facts_reserved_cpus": [1]}, None, None,
                                   [r"numa_facts_reserved_cpus", r"node"]),
    "models-dir-missing": ({"model_server_models_dir": DATA + "/no-such-dir"}, None, None,
                           [r"model_server_models_dir", r"does not exist|not a directory"]),
    "config-json-missing": ({"model_server_models_dir": DATA + "/models-noconfig"}, None, None,
                            [r"model_server_config_file", r"does not exist"]),
    "config-json-invalid": ({"model_server_models_dir": DATA + "/models-badjson"}, None, None,
                            [r"model_server_config_file", r"not a valid OVMS config|not valid JSON"]),
    "empty-ovms-servers": ({}, "no-servers", None,
                           [r"ovms_servers", r"add the servers"]),
    "image-upper-case": ({"model_server_image": "UPPER CASE:tag"}, None, None,
                         [r"model_server_image", r"not a valid image reference"]),
    "image-empty-tag": ({"model_server_image": "localhost/numaserve/ovms-standin:"}, None, None,
                        [r"model_server_image", r"not a valid image reference"]),
    "lb-image-malformed": ({"load_balancer_image": "nginx:"}, None, None,
                           [r"load_balancer_image", r"not a valid image reference"]),
    "engine-not-installed": ({"model_server_engine": "podman", "load_balancer_engine": "podman"}, None, "no-podman",
                             # the balancer hosts are checked first (site step 2): either variable names it
                             [r"model_server_engine|load_balancer_engine", r"install|not installed|not found"]),
    "engine-unknown": ({"model_server_engine": "containerd"}, None, None,
                       [r"model_server_engine", r"docker or podman|docker, podman"]),
    "lb-mode-unknown": ({"load_balancer_mode": "tcp"}, None, None,
                        [r"load_balancer_mode", r"http.*or stream|http, stream"]),
    "lb-port-zero": ({"load_balancer_listen_port": 0}, None, None,
                     [r"load_balancer_listen_port", r"1-65535|65535"]),
    "lb-port-70000": ({"load_balancer_listen_port": 70000}, None, None,
                      [r"load_balancer_listen_port", r"1-65535|65535"]),
}


def _held_port(port):
    """A listener of another process (not a container of ours) on port."""
    return subprocess.Popen(
        [sys.executable, "-c",
         "import socket,sys,time\n"
         "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "s.bind(('127.0.0.1', %d)); s.listen(8); print('ready', flush=True); time.sleep(600)\n" % port],
        stdout=subprocess.PIPE, text=True)


def _failure_lines(output):
    """The lines of the output that report a failure (where the one-line message must be)."""
    return [line for line in output.splitlines()
            if re.search(r"fatal:|failed:|ERROR!|\"msg\":|Validation of arguments failed", line)]


def _diff(before, after):
    lines = []
    for name in sorted(set(before["containers"]) | set(after["containers"])):
        old, new = before["containers"].get(name), after["containers"].get(name)
        if old is None or new is None:
            lines.append("container %s: %s" % (name, "added" if old is None else "removed"))
            continue
        lines += ["container %s %s: %r -> %r" % (name, key, old[key], new[key]) for key in old if old[key] != new[key]]
    if before["nginx_conf"] != after["nginx_conf"]:
        lines.append("nginx.conf changed")
    if before["ports"] != after["ports"]:
        lines.append("listening ports %s -> %s" % (before["ports"], after["ports"]))
    return "; ".join(lines)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_early_and_changes_nothing(stack, case):
    extra_vars, inventory_variant, special, patterns = CASES[case]
    inventory = stack["inventory"]
    if inventory_variant == "no-servers":
        inventory = write_inventory(os.path.join(stack["tmp"], "inventory-no-servers.yml"), servers=False)
    env = {}
    holder = None
    if special == "no-podman":
        env["PATH"] = _path_without("podman", os.path.join(stack["tmp"], "bin-without-podman"))
        assert shutil.which("podman", path=env["PATH"]) is None
    if special == "listen":
        holder = _held_port(extra_vars["numa_facts_rest_port_base"])
        assert holder.stdout.readline().strip() == "ready"
    try:
        rc, out = run_site(inventory, extra_vars, env)
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
    problems = []
    if rc == 0:
        problems.append("the run succeeded")
    failures = _failure_lines(out)
    matched = [line for line in failures if all(re.search(p, line) for p in patterns)]
    print("%s: %s" % (case, matched[0].strip() if matched else None))  # shown by pytest -rP
    if not matched:
        problems.append("no failure line matches %s; failure lines:\n%s" % (patterns, "\n".join(failures)[-3000:]))
    after = snapshot()
    if after != stack["snapshot"]:
        problems.append("the run changed the host: " + _diff(stack["snapshot"], after))
        # Converge again so that the next cases start from a known stack.
        run_site(stack["inventory"])
        stack["snapshot"] = snapshot()
    assert not problems, "%s:\n%s\n--- output tail:\n%s" % (case, "\n".join(problems), out[-3000:])
