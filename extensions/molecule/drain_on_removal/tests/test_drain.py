# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""drain_on_removal (issue 16): every change that removes or moves an instance drains it first.

On one deployment, in order, each under a steady load through drain-lb (4 workers: 2 streaming, 2
not, each request ~0.7 s):
  1. --check of a scale-down lists what it would drain and remove, and changes nothing;
  2. scale-down of drain-server1 from two instances per node to one (numaserve.ovms.site);
  3. a moved REST port on drain-server1 (numa_facts_rest_port_base 19101 -> 19121; site): the host
     never has fewer instances up in the balancer than before;
  4. a changed container prefix on drain-server1 (drain1-ovms- -> drain1b-ovms-; site);
  5. numaserve.ovms.teardown --limit drain-server2 alone refuses (drain-lb, outside the run, could not
     mark it down) and changes nothing; --limit drain-server2,drain-lb drains and removes it while
     drain-lb keeps serving drain-server1.
Each step: 0 failed requests, and from nginx's own evidence (shared/drain_checks.py: the access log,
the worker generations and the nginx.conf each loaded) and the engine's events: every instance that
left was marked down before it stopped, got no request after that, and had none in flight when it
stopped; no request needed a second instance; at the end the balancer routes to exactly the running
instances. The changes reach drain-server1 through an inventory overlay (a second inventory source
whose host_vars win over Molecule's). Figures: terminal and /var/lib/numaserve-test/reports/drain_on_removal.json.
"""

import json
import os
import subprocess
import time

import pytest

from drain_checks import BalancerWatch, Generation, Instance, access_log, engine_events, fewest_up, instances, judge
from stack_checks import model_name
from stack_load import Load
from stack_verify import balancer_url, load_inventory

SERVER1, SERVER2, BALANCER = "drain-server1", "drain-server2", "drain-lb"
HOSTS = (SERVER1, SERVER2)
REPORT = "/var/lib/numaserve-test/reports/drain_on_removal.json"
WORKERS = 4
WARMUP = 2.0
# What the steps change on drain-server1, cumulatively (each step keeps the earlier ones).
CHANGES = {}


@pytest.fixture(scope="module")
def stack():
    inv = load_inventory()
    hv = inv["hostvars"]
    lb = hv[BALANCER]
    return {
        "inv": inv,
        "url": balancer_url(lb),
        "model": model_name(hv[SERVER1]["model_server_models_dir"]),
        "lb": lb["load_balancer_container_name"],
        "conf": lb["load_balancer_config_dir"].rstrip("/") + "/nginx.conf",
        "address1": hv[SERVER1]["model_server_advertise_address"],
        "address2": hv[SERVER2]["model_server_advertise_address"],
        "overlay": hv[SERVER1]["stack_data_dir"].rstrip("/") + "/overlay",
    }


@pytest.fixture(scope="module")
def report(request):
    figures = {}
    yield figures
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w", encoding="utf-8") as fh:
        json.dump(figures, fh, indent=2)
    writer = request.config.pluginmanager.get_plugin("terminalreporter")
    if writer:
        writer.write_line("\ndrain_on_removal figures: " + json.dumps(figures, indent=2))


def ours():
    """The model server containers of this scenario's servers: {id: Instance}."""
    return {cid: inst for cid, inst in instances().items() if inst.host in HOSTS}


def names(found, host=None):
    return sorted(i.name for i in found.values() if host is None or i.host == host)


def write_overlay(directory, changes):
    """A second inventory source: drain-server1 with CHANGES as host_vars (they win over Molecule's)."""
    os.makedirs(os.path.join(directory, "host_vars"), exist_ok=True)
    with open(os.path.join(directory, "inventory.yml"), "w", encoding="utf-8") as fh:
        json.dump({"all": {"hosts": {SERVER1: {}}}}, fh)
    with open(os.path.join(directory, "host_vars", SERVER1 + ".yml"), "w", encoding="utf-8") as fh:
        json.dump(changes, fh)
    return os.path.join(directory, "inventory.yml")


def playbook(stack, name, *extra):
    overlay = write_overlay(stack["overlay"], CHANGES)
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-i", overlay, name, *extra]
    started = time.time()
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    return proc, round(time.time() - started, 1)


def tail(proc):
    return "\n--- playbook stdout (tail) ---\n" + proc.stdout[-3000:] + "\n--- stderr ---\n" + proc.stderr[-1500:]


def under_load(stack, report, name, playbook_name, *extra):
    """Run PLAYBOOK_NAME under the steady load while the balancer and the engine are watched; judge the step."""
    before = ours()
    watch = BalancerWatch(stack["lb"], stack["conf"]).start()
    load = Load(stack["url"], stack["model"], workers=WORKERS).start()
    lo = time.time()
    time.sleep(WARMUP)
    proc, seconds = playbook(stack, playbook_name, *extra)
    time.sleep(WARMUP)
    load.stop()
    hi = time.time()
    watch.stop()
    after = ours()
    events = engine_events(lo - 1, time.time())
    entries = access_log(stack["lb"], lo - 1)
    problems, figures = judge(before, after, events, watch.generations, entries, (lo, hi))
    problems += ["balancer watch: " + e for e in watch.errors[:3]]
    total = load.summary()
    failures = load.failures()
    if proc.returncode != 0:
        problems.insert(0, "%s exited %d" % (playbook_name, proc.returncode))
    if failures:
        problems.insert(0, "%d of %d client requests failed (%s), first %.3f s after the step began"
                        % (len(failures), total["requests"], total["errors"], failures[0].start - lo))
    ok = [r for r in load.results if r.ok]
    if not any(r.stream for r in ok) or all(r.stream for r in ok):
        problems.append("the load did not complete both streaming and non-streaming requests: %s" % total)
    for gone in figures["departed"]:
        if gone.get("requests_before_down", 0) < 1:
            problems.append("%s (%s) got no request before it left: the step proves nothing for it"
                            % (gone["container"], gone["key"]))
    report[name] = {"seconds": seconds, "load": dict(total, streamed_ok=sum(1 for r in ok if r.stream)),
                    "before": names(before), "after": names(after), **figures}
    return {"proc": proc, "before": before, "after": after, "problems": problems, "window": (lo, hi),
            "generations": watch.generations}


def step_ok(step):
    assert not step["problems"], "\n".join(step["problems"]) + tail(step["proc"])


def test_judge_flags_what_it_must():
    """The judge itself (no playbook): a drained instance passes; one stopped while routed, one sent a
    request after it was marked down, and one stopped with a request in flight fail."""
    old = Instance("a" * 64, "x-node0", SERVER1, "node0", ["127.0.0.2:1"])
    other = Instance("b" * 64, "x-node1", SERVER1, "node1", ["127.0.0.2:2"])
    both_up = Generation(100.0, 100.0, [1], {"127.0.0.2:1": "up", "127.0.0.2:2": "up"}, 9, quit=110.1)
    one_down = Generation(110.0, 110.0, [2], {"127.0.0.2:1": "down", "127.0.0.2:2": "up"}, 9)

    def entry(start, end, key):
        return {"start": start, "end": end, "status": 200, "upstreams": [key], "request": "POST", "line": key}

    clean = [entry(105, 106, "127.0.0.2:1"), entry(110.05, 111, "127.0.0.2:1"), entry(112, 113, "127.0.0.2:2")]
    stopped = [{"id": old.id, "action": "kill", "time": 115.0, "name": old.name}]
    before, after = {old.id: old, other.id: other}, {other.id: other}
    problems, figures = judge(before, after, stopped, [both_up, one_down], clean, (100, 120))
    assert problems == [] and figures["departed"][0]["requests_before_down"] == 2, (problems, figures)

    def flagged(what, entries, generations=(both_up, one_down)):
        found = judge(before, after, stopped, list(generations), entries, (100, 120))[0]
        return any(what in p for p in found)

    assert flagged("after it was marked down", clean + [entry(111.0, 112, "127.0.0.2:1")])
    assert flagged("in flight", clean + [entry(110.08, 116, "127.0.0.2:1")])
    never_down = Generation(100.0, 100.0, [1], {"127.0.0.2:1": "up", "127.0.0.2:2": "up"}, 9)
    assert flagged("still routed", clean, [never_down])
    assert flagged("more than one instance",
                   clean + [dict(entry(112, 113, "127.0.0.2:2"), upstreams=["127.0.0.2:1", "127.0.0.2:2"])])


def test_deployment_as_planned(stack):
    found = ours()
    assert names(found, SERVER1) == ["drain1-ovms-node0-0", "drain1-ovms-node0-1"], names(found)
    assert names(found, SERVER2) == ["drain2-ovms-node0"], names(found)
    assert sorted(k for i in found.values() for k in i.keys) == [
        "%s:19101" % stack["address1"], "%s:19102" % stack["address1"], "%s:19111" % stack["address2"]]


def test_check_mode_lists_what_a_scale_down_would_drain(stack, report):
    """site --check with one instance per node: lists both drain1-ovms-node0-* as to drain and remove; changes nothing."""
    before = ours()
    with open(stack["conf"], encoding="utf-8") as fh:
        conf = fh.read()
    watch = BalancerWatch(stack["lb"], stack["conf"]).start()
    CHANGES["numa_facts_instances_per_node"] = 1
    proc, seconds = playbook(stack, "numaserve.ovms.site", "--check")
    watch.stop()
    report["check_scale_down"] = {"seconds": seconds}
    lines = [line for line in proc.stdout.splitlines() if "would drain and remove" in line]
    assert proc.returncode == 0, tail(proc)
    for name in ("drain1-ovms-node0-0", "drain1-ovms-node0-1"):
        assert any(name in line for line in lines), "--check does not say it would drain %s%s" % (name, tail(proc))
    assert not any("drain2-ovms-" in line for line in lines), lines
    assert {c: i.name for c, i in ours().items()} == {c: i.name for c, i in before.items()}, "--check changed containers"
    with open(stack["conf"], encoding="utf-8") as fh:
        assert fh.read() == conf, "--check rewrote nginx.conf"
    assert len(watch.generations) == 1, "--check reloaded nginx: %s" % [g.as_dict() for g in watch.generations]


def test_scale_down_drains_the_instances_that_leave(stack, report):
    CHANGES["numa_facts_instances_per_node"] = 1
    step = under_load(stack, report, "scale_down", "numaserve.ovms.site")
    step_ok(step)
    assert names(step["after"], SERVER1) == ["drain1-ovms-node0"]
    assert names(step["after"], SERVER2) == names(step["before"], SERVER2)


def test_moved_rest_port_drains_the_old_port_after_the_new_one_serves(stack, report):
    CHANGES["numa_facts_rest_port_base"] = 19121
    step = under_load(stack, report, "moved_port", "numaserve.ovms.site")
    serving = fewest_up(step["generations"], step["window"], stack["address1"])
    report["moved_port"]["fewest_up_on_server1"] = serving
    step_ok(step)
    keys = sorted(k for i in step["after"].values() if i.host == SERVER1 for k in i.keys)
    assert keys == ["%s:19121" % stack["address1"]], keys
    assert serving >= 1, "drain-server1 had no instance up in the balancer during the port move"


def test_changed_prefix_drains_the_old_containers(stack, report):
    CHANGES["model_server_container_prefix"] = "drain1b-ovms-"
    step = under_load(stack, report, "changed_prefix", "numaserve.ovms.site")
    step_ok(step)
    assert names(step["after"], SERVER1) == ["drain1b-ovms-node0"], names(step["after"])


def test_teardown_limited_to_a_server_without_its_balancer_refuses_and_changes_nothing(stack, report):
    """teardown --limit drain-server2: drain-lb, which routes to it, is outside the run, so nothing could
    mark it down: the run fails before changing anything, naming the balancer."""
    before = {c: i.name for c, i in ours().items() if i.running}
    watch = BalancerWatch(stack["lb"], stack["conf"]).start()
    proc, seconds = playbook(stack, "numaserve.ovms.teardown", "--limit", SERVER2)
    watch.stop()
    report["teardown_server2_without_balancer"] = {"seconds": seconds, "rc": proc.returncode}
    assert proc.returncode != 0, "teardown of a server whose balancer is outside --limit ran" + tail(proc)
    assert BALANCER in proc.stdout + proc.stderr, "the failure does not name %s%s" % (BALANCER, tail(proc))
    assert {c: i.name for c, i in ours().items() if i.running} == before, "the refused teardown changed containers"
    assert len(watch.generations) == 1, "the refused teardown reloaded nginx"


def test_teardown_of_one_server_drains_it_while_the_other_serves(stack, report):
    """teardown --limit drain-server2,drain-lb: drain-server2's instance is drained out of drain-lb and
    removed; drain-lb stays and keeps serving drain-server1's instance."""
    step = under_load(stack, report, "teardown_server2", "numaserve.ovms.teardown", "--limit",
                      "%s,%s" % (SERVER2, BALANCER))
    step_ok(step)
    assert names(step["after"], SERVER2) == [], names(step["after"])
    assert {c for c, i in step["after"].items() if i.host == SERVER1} == \
        {c for c, i in step["before"].items() if i.host == SERVER1}, "drain-server1's instance was touched"
