"""Whole-stack checks shared by the end-to-end scenarios (default, dual_socket, multi_host,
stream_mode, rolling_update) and tests/integration.

Everything here looks at the real system: the engine (`docker inspect` or `podman inspect`: every
helper that asks the engine takes `engine`, default docker), the kernel
(`/proc/<pid>/status`, `ss`), nginx itself (`nginx -t`, its access log) and HTTP answers.
"""

import json
import re
import subprocess
import time

import httpx

from ovms_testinfra import cpulist
from sse import stream_text

MANAGED = "io.numaserve.managed=true"


def run(*cmd, check=True):
    """Run a command, return the CompletedProcess (text); raise AssertionError with stderr when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), proc.returncode, proc.stderr.strip()))
    return proc


def sh(*cmd, check=True):
    """Run a command, return stdout (text)."""
    return run(*cmd, check=check).stdout


def managed_containers(inventory_host, include_stopped=True, engine="docker"):
    """Names of the managed containers labelled for INVENTORY_HOST, sorted (ENGINE: docker or podman)."""
    args = [engine, "ps", "--filter", "label=" + MANAGED,
            "--filter", "label=io.numaserve.host=" + inventory_host, "--format", "{{.Names}}"]
    if include_stopped:
        args.insert(2, "-a")
    return sorted(n for n in sh(*args).split() if n)


def inspect(name, engine="docker"):
    return json.loads(sh(engine, "inspect", "--type", "container", name))[0]


def instance_containers(inventory_host, engine="docker"):
    """{instance label: inspect()} of the model server containers of INVENTORY_HOST."""
    found = {}
    for name in managed_containers(inventory_host, engine=engine):
        info = inspect(name, engine)
        labels = info["Config"]["Labels"] or {}
        if labels.get("io.numaserve.instance"):
            found[labels["io.numaserve.instance"]] = info
    return found


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid, encoding="ascii") as fh:
        for line in fh:
            key, dummy, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def pinning(container, engine="docker"):
    """(cpus, mems) the kernel enforces on the container's main process (from /proc)."""
    pid = inspect(container, engine)["State"]["Pid"]
    assert pid > 0, "%s is not running" % container
    status = proc_status(pid)
    return cpulist(status["Cpus_allowed_list"]), cpulist(status["Mems_allowed_list"])


def listening(address, port):
    """True when something listens on ADDRESS:PORT (TCP), from `ss`."""
    out = sh("ss", "-Hltn", "sport = :%d" % port)
    for line in out.splitlines():
        local = line.split()[3]
        host = local.rpartition(":")[0]
        if host.strip("[]") in (address, "0.0.0.0", "*", "::"):
            return True
    return False


def listeners(port):
    """Local addresses listening on PORT."""
    out = sh("ss", "-Hltn", "sport = :%d" % port)
    return sorted(line.split()[3].rpartition(":")[0].strip("[]") for line in out.splitlines() if line.strip())


def nginx_test(container, engine="docker", config="/etc/numaserve/nginx/nginx.conf"):
    """Run `nginx -t -c CONFIG` inside the running balancer container; return nginx's output (raises when it fails)."""
    proc = run(engine, "exec", container, "nginx", "-t", "-c", config, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def chat(client, base_url, model, stream=False, max_tokens=8, content="Say hello"):
    """One chat completion; return the assembled text. Raises on any protocol error."""
    body = {"model": model, "max_tokens": max_tokens, "stream": stream,
            "messages": [{"role": "user", "content": content}]}
    url = base_url.rstrip("/") + "/v3/chat/completions"
    if not stream:
        resp = client.post(url, json=body)
        resp.raise_for_status()
        return resp.json()["choices"][0]["message"]["content"]
    with client.stream("POST", url, json=body) as resp:
        resp.raise_for_status()
        return stream_text(resp)


def model_name(models_dir):
    """First servable name of MODELS_DIR/config.json (model_config_list or mediapipe_config_list)."""
    with open(models_dir.rstrip("/") + "/config.json", encoding="utf-8") as fh:
        config = json.load(fh)
    names = [m["config"]["name"] for m in config.get("model_config_list", [])]
    names += [m["name"] for m in config.get("mediapipe_config_list", [])]
    return names[0]


def upstreams_in_log(container, since, engine="docker"):
    """Upstream addresses (host:port) that nginx logged since SINCE (unix time), from `<engine> logs`."""
    out = run(engine, "logs", "--since", str(int(since)), container, check=False)
    return set(re.findall(r"\b(\d{1,3}(?:\.\d{1,3}){3}:\d+)\b", out.stdout + out.stderr))


def wait_for(predicate, timeout, interval=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def keepalive_spread(base_url, model, requests=12, connections=1):
    """Send REQUESTS completions over CONNECTIONS keep-alive connections, all open at once, taking
    turns; return the answers. An L7 balancer spreads the requests of one connection; an L4
    (stream) balancer keeps each connection on one instance, so it needs several."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.Client(timeout=60, limits=limits) for dummy in range(connections)]
    try:
        return [chat(clients[i % connections], base_url, model) for i in range(requests)]
    finally:
        for client in clients:
            client.close()
