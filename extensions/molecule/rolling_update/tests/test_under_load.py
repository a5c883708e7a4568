"""rolling_update: updates and failures under a steady client load, through the balancer.

1. numaserve.ovms.rolling_update changes the image from ovms-standin:local to :local-b while 4
   workers (2 streaming, 2 not) keep requests in flight: zero failed requests, never fewer than N-1
   instances ready, every instance on the new image afterwards.
2. One instance's main process is killed (SIGKILL) under the same load: only requests in flight
   on the killed instance may fail (see DISPATCH_WINDOW); the engine restarts it and the balancer
   uses it again within the restart time; re-running numaserve.ovms.site afterwards converges.
3. A config.json change reloads nothing by itself; numaserve.ovms.site then replaces the instances one
   at a time under the same load, with no failed request.
4. More requests in flight than REST workers: none fails, least_conn spreads them evenly.
Figures go to the terminal and to /var/lib/numaserve-test/reports/rolling_update.json.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx
import pytest

from stack_checks import chat, inspect, instance_containers, model_name, upstreams_in_log, wait_for
from stack_load import Load
from stack_verify import balancer_url, load_inventory, published

HOST = "rolling-host"
NEW_IMAGE = "localhost/numaserve/ovms-standin:local-b"
REPORT = "/var/lib/numaserve-test/reports/rolling_update.json"
# A request nginx dispatches to the instance in the first moments after SIGKILL is in flight on the
# killed instance too: the engine's port proxy still accepts the connection, nginx sends the POST,
# the proxy then finds no backend, and a POST already sent is never retried elsewhere (no duplicate
# generation), so the client gets a 502. Such requests may fail; any failure that started later, or
# that is not the balancer's 5xx answer, is a real loss.
DISPATCH_WINDOW = 1.0
BALANCER_5XX = re.compile(r"HTTPStatusError: Server error '50[0-9] ")


@pytest.fixture(scope="module")
def stack():
    inv = load_inventory()
    hv = inv["hostvars"][HOST]
    return {"hv": hv, "url": balancer_url(hv), "model": model_name(hv["model_server_models_dir"])}


@pytest.fixture(scope="module")
def report(request):
    figures = {}
    yield figures
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w", encoding="utf-8") as fh:
        json.dump(figures, fh, indent=2)
    writer = request.config.pluginmanager.get_plugin("terminalreporter")
    if writer:
        writer.write_line("\nrolling_update figures: " + json.dumps(figures, indent=2))


def playbook(name, *extra):
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], name, *extra]
    started = time.time()
    # Molecule exports ANSIBLE_FORCE_COLOR=1; the recap is parsed below, so no colour codes.
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    return proc, round(time.time() - started, 1)


def instance_endpoints():
    return {name: "127.0.0.1:%d" % published(info)[0][1] for name, info in instance_containers(HOST).items()}


def ready(endpoint):
    try:
        return httpx.get("http://%s/v2/health/ready" % endpoint, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class ReadyMonitor:
    """Polls every instance's readiness; remembers the fewest ready at once."""

    def __init__(self, endpoints):
        self.endpoints = endpoints
        self.fewest = len(endpoints)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.fewest = min(self.fewest, sum(ready(e) for e in self.endpoints))
            time.sleep(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


def test_rolling_update_under_load_drops_nothing(stack, report):
    new_id = json.loads(subprocess.run(["docker", "image", "inspect", NEW_IMAGE], capture_output=True,
                                       text=True, check=True).stdout)[0]["Id"]
    before = instance_containers(HOST)
    assert len(before) == 2 and all(info["Image"] != new_id for info in before.values())
    endpoints = instance_endpoints()
    load = Load(stack["url"], stack["model"], workers=4).start()
    time.sleep(2)
    with ReadyMonitor(list(endpoints.values())) as monitor:
        start = time.time()
        proc, seconds = playbook("numaserve.ovms.rolling_update", "-e", "model_server_image=" + NEW_IMAGE)
        end = time.time()
    time.sleep(2)
    load.stop()
    during = load.summary(start, end)
    report["rolling_update"] = dict(during, seconds=seconds, fewest_ready=monitor.fewest,
                                    instances=len(endpoints), total=load.summary())
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    after = instance_containers(HOST)
    assert sorted(after) == sorted(before)
    assert all(info["Image"] == new_id for info in after.values()), "an instance still runs the old image"
    assert all(after[n]["Id"] != before[n]["Id"] for n in after), "an instance was not recreated"
    assert load.failures() == [], load.summary()
    assert during["ok"] >= 4 and during["streamed_ok"] >= 1, during
    assert monitor.fewest >= len(endpoints) - 1, "fewer than N-1 instances were ready at some point"


def test_crash_under_load_fails_only_in_flight_requests(stack, report):
    hv = stack["hv"]
    containers = instance_containers(HOST)
    victim = containers["node1"]
    name = victim["Name"].lstrip("/")
    endpoint = "127.0.0.1:%d" % published(victim)[0][1]
    restarts = victim["RestartCount"]
    load = Load(stack["url"], stack["model"], workers=4).start()
    time.sleep(3)
    killed_at = time.time()
    os.kill(victim["State"]["Pid"], signal.SIGKILL)
    wait_for(lambda: inspect(name)["RestartCount"] > restarts and inspect(name)["State"]["Running"],
             60, what="the engine to restart %s" % name)
    wait_for(lambda: ready(endpoint), 60, what="%s to be ready again" % name)
    ready_at = time.time()
    # Whole again: the balancer sends requests to the restarted instance.
    back_at = wait_for(lambda: endpoint in upstreams_in_log(hv["load_balancer_container_name"], ready_at)
                       and time.time(), 60, what="the balancer to use %s again" % name)
    time.sleep(2)
    load.stop()
    failures = load.failures()
    in_flight = [r for r in load.results if r.start <= killed_at <= r.end]
    after_kill = [r for r in failures if r.start > killed_at]
    dispatched_to_dying = [r for r in after_kill
                           if r.start - killed_at <= DISPATCH_WINDOW and BALANCER_5XX.match(r.error)]
    report["crash"] = {
        "requests": len(load.results), "failed": len(failures), "in_flight_at_kill": len(in_flight),
        "failed_started_after_kill": len(after_kill), "failed_dispatched_to_dying": len(dispatched_to_dying),
        "restart_seconds": round(ready_at - killed_at, 1), "whole_again_seconds": round(back_at - killed_at, 1),
        "errors": sorted({r.error for r in failures})[:5],
    }
    assert len(failures) - len(dispatched_to_dying) <= len(in_flight), report["crash"]
    assert len(after_kill) == len(dispatched_to_dying), report["crash"]
    assert len(dispatched_to_dying) <= load.workers, report["crash"]
    assert ready_at - killed_at < 60


def test_site_converges_after_the_crash(report):
    proc, seconds = playbook("numaserve.ovms.site", "-e", "model_server_image=" + NEW_IMAGE)
    report["site_rerun_after_crash_seconds"] = seconds
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    recap = re.search(r"^%s\s*:.*$" % re.escape(HOST), proc.stdout, re.M).group(0)
    # The engine already restarted the killed instance: nothing is left to change.
    assert "failed=0" in recap and "changed=0" in recap, recap


def served_models(endpoint):
    return sorted(httpx.get("http://%s/v1/config" % endpoint, timeout=5).json())


def test_config_change_rolls_through_site_only(stack, report):
    """Editing config.json changes nothing by itself (OVMS's config watcher is off); numaserve.ovms.site
    then replaces the instances one at a time, drain first, under load, with no failed request."""
    sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "tools", "test_models"))
    import layout  # pylint: disable=import-outside-toplevel,import-error

    models_dir = stack["hv"]["model_server_models_dir"]
    before = instance_containers(HOST)
    endpoints = instance_endpoints()
    models_before = {name: served_models(e) for name, e in endpoints.items()}
    assert all("test/second" not in m for m in models_before.values()), models_before
    layout.write_model_dir(models_dir, "test/second")
    # OVMS polls config.json every second by default: three seconds later it would have reloaded.
    time.sleep(3)
    assert {name: served_models(e) for name, e in endpoints.items()} == models_before, "an instance reloaded by itself"
    assert {n: i["Id"] for n, i in instance_containers(HOST).items()} == {n: i["Id"] for n, i in before.items()}

    load = Load(stack["url"], stack["model"], workers=4).start()
    time.sleep(2)
    with ReadyMonitor(list(endpoints.values())) as monitor:
        start = time.time()
        proc, seconds = playbook("numaserve.ovms.site", "-e", "model_server_image=" + NEW_IMAGE)
        end = time.time()
    time.sleep(2)
    load.stop()
    during = load.summary(start, end)
    failed_at = sorted(round(r.start - start) for r in load.failures())
    report["config_change"] = dict(during, seconds=seconds, fewest_ready=monitor.fewest, total=load.summary(),
                                   failed_seconds_after_start=sorted(set(failed_at))[:40])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    after = instance_containers(HOST)
    assert all(after[n]["Id"] != before[n]["Id"] for n in after), "an instance was not replaced"
    assert all("test/second" in served_models(e) for e in instance_endpoints().values())
    assert load.failures() == [], load.summary()
    assert during["ok"] >= 4, during
    assert monitor.fewest >= len(endpoints) - 1, "fewer than N-1 instances were ready at some point"


def test_more_requests_than_rest_workers_queue_and_spread_evenly(stack, report):
    """With model_server_rest_workers 3 (2 generations at once per instance), 12 requests in flight at
    once: the instances queue what they cannot run (none fails), and least_conn still gives each
    instance about half (nginx counts the queued requests as open connections)."""
    workers = int(stack["hv"]["model_server_rest_workers"])
    endpoints = instance_endpoints()
    for args in (inspect(info["Name"].lstrip("/"))["Config"]["Cmd"] for info in instance_containers(HOST).values()):
        assert args[args.index("--rest_workers") + 1] == str(workers)
    in_flight = 3 * (workers - 1) * len(endpoints)
    since = time.time()
    durations, errors = [], []
    lock = threading.Lock()

    def one(index):
        started = time.time()
        try:
            with httpx.Client(timeout=120) as client:
                chat(client, stack["url"], stack["model"], max_tokens=16, content="queued request %d" % index)
            with lock:
                durations.append(time.time() - started)
        except Exception as exc:  # noqa: BLE001 - every failure counts
            with lock:
                errors.append("%s: %s" % (type(exc).__name__, exc))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    time.sleep(1)
    log = subprocess.run(["docker", "logs", "--since", "%.6f" % since, stack["hv"]["load_balancer_container_name"]],
                         capture_output=True, text=True, check=False)
    counts = Counter(re.findall(r'"POST /v3/chat/completions [^"]*" 200 upstream=(\S+)', log.stdout + log.stderr))
    report["queueing"] = {"in_flight": in_flight, "rest_workers": workers, "errors": errors[:5],
                          "fastest_s": round(min(durations or [0]), 2), "slowest_s": round(max(durations or [0]), 2),
                          "per_instance": dict(counts)}
    assert errors == [], report["queueing"]
    assert sorted(counts) == sorted(endpoints.values()), report["queueing"]
    assert sum(counts.values()) == in_flight, report["queueing"]
    assert min(counts.values()) >= in_flight // len(endpoints) - 2, report["queueing"]
    # Three times the capacity in flight: the last ones waited for a worker about twice as long.
    assert max(durations) >= 2 * min(durations), report["queueing"]
