# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet (issue 15): rolling updates in waves on a simulated fleet of 8 servers x 2 instances.

On one deployment (16 stand-in instances on fleet-v1 behind fleet-lb), in order, each update under a
steady load through fleet-lb (8 workers: 4 streaming, 4 not, each request ~0.5 s):
  1. numaserve.ovms.rolling_update --check to fleet-v2 with rolling_update_max_unavailable=25%: the
     preview prints 5 waves (the canary of 1, then 4, 4, 4, 3; no wave holds two instances of one
     server; every instance once) and changes nothing (containers, nginx.conf, no reload);
  2. the same without --check: 0 failed requests; the waves nginx routed through (shared/fleet_checks:
     the keys whose time out of the balancer began in the same worker generation) are the preview's,
     in order; never more than 4 instances out at once; every instance runs fleet-v2 (docker inspect);
     every replaced container was marked down before it stopped and had nothing in flight (the drain
     judge, shared/drain_checks); then numaserve.ovms.plan -e plan_rolling_update=true prints the same
     waves for the next update, with a duration estimate from the update just measured;
  3. rolling_update_max_unavailable=1 to fleet-v3: 16 waves of one, the preview's; 0 failed; never
     more than 1 out at once;
  4. fleet-v4 everywhere but fleet-server3 (fleet-broken: its models fail to load; its node0 is in
     wave 2) with rolling_update_rollback_on_failure=true: the run fails with ONE halt line naming
     wave 2 and fleet-server3/node0; every instance ends on fleet-v3, running and up in the balancer;
     0 failed requests;
  5. the same without rollback: the halt line again; the instances of waves 3-5 still run fleet-v3 and
     are up; fleet-server3/node0 is not up in the last generation; the canary and the rest of wave 2
     run fleet-v4 and are up; 0 failed requests;
  6. back to fleet-v1 with rolling_update_canary_max_ttft_ms=1: the canary (measured with the benchmark
     role) is too slow, the run halts after wave 1, naming the median; only the canary changed.
Update 2 runs both canary checks (the URL and a TTFT bound a healthy canary meets) end to end.
Evidence comes from nginx (BalancerWatch: worker generations and the upstream state each loaded) and
the engine; of the playbook's output only the preview and the halt line are read (what users read).
Updates 1-3 change the image with -e, as a user would; 4-5 give per-server images through an inventory
overlay (a second inventory source whose host_vars win over Molecule's). Figures: terminal and
/var/lib/numaserve-test/reports/fleet.json.
"""

import json
import os
import subprocess
import time

import pytest

from drain_checks import BalancerWatch, access_log, instances, judge
import fleet_checks as fc
from stack_checks import model_name
from stack_load import Load
from stack_verify import balancer_url, load_inventory

BALANCER = "fleet-lb"
BROKEN_SERVER = "fleet-server3"
REPO = "localhost/numaserve-test/ovms-standin"
REPORT = "/var/lib/numaserve-test/reports/fleet.json"
WORKERS = 8
WARMUP = 2.0
FOUND = {}  # what one test leaves for the next: the preview's waves


@pytest.fixture(scope="module")
def stack():
    inv = load_inventory()
    hv = inv["hostvars"]
    lb = hv[BALANCER]
    servers = inv["servers"]
    return {
        "inv": inv,
        "servers": servers,
        "url": balancer_url(lb),
        "model": model_name(hv[servers[0]]["model_server_models_dir"]),
        "lb": lb["load_balancer_container_name"],
        "conf": lb["load_balancer_config_dir"].rstrip("/") + "/nginx.conf",
        "overlay": hv[servers[0]]["stack_data_dir"].rstrip("/") + "/overlay",
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
        writer.write_line("\nfleet figures: " + json.dumps(figures, indent=2))


def image(name):
    return "%s:%s" % (REPO, name)


def ours(stack):
    """{instance id: {name, host, instance, keys, running, image}} of the fleet's model server containers."""
    found = {cid: i for cid, i in instances().items() if i.host in stack["servers"]}
    if not found:
        return {}
    out = subprocess.run(["docker", "inspect", "--type", "container", "--format", "{{.Id}} {{.Config.Image}}",
                          *found], capture_output=True, text=True, check=True).stdout
    images = dict(line.split(" ", 1) for line in out.splitlines() if line.strip())
    return {cid: dict(i.as_dict(), id=cid, image=images.get(cid, "")) for cid, i in found.items()}


def by_key(found):
    return {k: i for i in found.values() for k in i["keys"]}


def write_overlay(directory, host_vars):
    """A second inventory source with HOST_VARS ({host: {var: value}}): they win over Molecule's."""
    os.makedirs(os.path.join(directory, "host_vars"), exist_ok=True)
    for old in os.listdir(os.path.join(directory, "host_vars")):
        os.remove(os.path.join(directory, "host_vars", old))
    with open(os.path.join(directory, "inventory.yml"), "w", encoding="utf-8") as fh:
        json.dump({"all": {"hosts": {host: {} for host in host_vars}}}, fh)
    for host, values in host_vars.items():
        with open(os.path.join(directory, "host_vars", host + ".yml"), "w", encoding="utf-8") as fh:
            json.dump(values, fh)
    return os.path.join(directory, "inventory.yml")


def playbook(stack, name, *extra, host_vars=None):
    overlay = write_overlay(stack["overlay"], host_vars or {})
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-i", overlay, name, *extra]
    # The preview and halt lines are read from the default callback's JSON results.
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_FORKS="12")
    started = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    return proc, round(time.time() - started, 1)


def tail(proc):
    return "\n--- playbook stdout (tail) ---\n" + proc.stdout[-3000:] + "\n--- stderr ---\n" + proc.stderr[-1500:]


def under_load(stack, report, name, playbook_name, *extra, host_vars=None, expect_rc=0):
    """Run the playbook under the steady load, nginx and the engine watched; the step's evidence and problems."""
    before = ours(stack)
    events = fc.EventStream().start()
    watch = BalancerWatch(stack["lb"], stack["conf"]).start()
    planned = fc.up_keys(watch.generations[-1].state) if watch.generations else []
    load = Load(stack["url"], stack["model"], workers=WORKERS).start()
    lo = time.time()
    time.sleep(WARMUP)
    proc, seconds = playbook(stack, playbook_name, *extra, host_vars=host_vars)
    time.sleep(WARMUP)
    load.stop()
    hi = time.time()
    watch.stop()
    after = ours(stack)
    window = (lo, hi)
    gens = watch.generations
    problems = []
    if expect_rc == 0 and proc.returncode != 0:
        problems.append("%s exited %d" % (playbook_name, proc.returncode))
    if expect_rc != 0 and proc.returncode == 0:
        problems.append("%s succeeded; it had to fail" % playbook_name)
    total = load.summary()
    failures = load.failures()
    if failures:
        problems.append("%d of %d client requests failed (%s), first %.3f s after the step began"
                        % (len(failures), total["requests"], total["errors"], failures[0].start - lo))
    ok = [r for r in load.results if r.ok]
    if not any(r.stream for r in ok) or all(r.stream for r in ok):
        problems.append("the load did not complete both streaming and non-streaming requests: %s" % total)
    problems += ["balancer watch: " + e for e in watch.errors[:3]]
    # The drain judge on the replaced containers (its own end check is the step's: a halted run leaves
    # a running instance out on purpose).
    judged = {cid: _Inst(i) for cid, i in before.items()}
    judged_after = {cid: _Inst(i) for cid, i in after.items()}
    events = events.stop()
    entries = access_log(stack["lb"], lo - 1)
    drain_problems, drain = judge(judged, judged_after, events, gens, entries, window)
    problems += [p for p in drain_problems if not p.startswith("at the end the balancer routes to")]
    waves = fc.observed_waves(gens, planned, window)
    figures = {
        "seconds": seconds, "rc": proc.returncode,
        "load": dict(total, streamed_ok=sum(1 for r in ok if r.stream)),
        "observed_waves": [len(w) for w in waves],
        "max_out": fc.max_out(gens, planned, window),
        "lowest_serving": fc.lowest_serving(gens, window, planned),
        "reloads": fc.reloads(gens, window),
        "replaced": len(drain["departed"]),
        "handover_seconds_max": max(drain["handover_seconds"], default=None),
    }
    report[name] = figures
    return {"proc": proc, "before": before, "after": after, "problems": problems, "planned": planned,
            "waves": waves, "generations": gens, "window": window, "figures": figures,
            "previews": fc.parse_previews(proc.stdout), "preview": fc.parse_preview(proc.stdout),
            "halt": fc.halt_lines(proc.stdout + proc.stderr)}


class _Inst:  # pylint: disable=too-few-public-methods
    """The attributes drain_checks.judge reads, from an ours() entry."""

    def __init__(self, entry):
        self.id, self.name, self.host = entry["id"], entry["name"], entry["host"]
        self.instance, self.keys, self.running = entry["instance"], entry["keys"], entry["running"]


def step_ok(step):
    assert not step["problems"], "\n".join(step["problems"]) + tail(step["proc"])


def wave_keys(preview):
    return [sorted(w["keys"]) for w in preview["waves"]]


def last_up(step):
    return set(fc.up_keys(step["generations"][-1].state))


def test_deployment_as_planned(stack):
    """16 instances, two per server, each on its server's own address, on fleet-v1, all up in fleet-lb."""
    found = ours(stack)
    assert len(found) == 16 and all(i["running"] for i in found.values()), sorted(i["name"] for i in found.values())
    for n, server in enumerate(stack["servers"], 1):
        mine = sorted(k for i in found.values() if i["host"] == server for k in i["keys"])
        address = stack["inv"]["hostvars"][server]["model_server_advertise_address"]
        assert mine == ["%s:19301" % address, "%s:19302" % address], (server, mine)
    assert {i["image"] for i in found.values()} == {image("fleet-v1")}
    watch = BalancerWatch(stack["lb"], stack["conf"]).start().stop()
    assert fc.up_keys(watch.generations[-1].state) == sorted(by_key(found)), watch.generations[-1].as_dict()


def test_preview_in_check_mode(stack, report):
    """--check, 25%: 5 waves (canary 1, then 4, 4, 4, 3), no wave with two of one server, each instance once; no change."""
    before = ours(stack)
    with open(stack["conf"], encoding="utf-8") as fh:
        conf = fh.read()
    watch = BalancerWatch(stack["lb"], stack["conf"]).start()
    proc, seconds = playbook(stack, "numaserve.ovms.rolling_update", "--check",
                             "-e", "model_server_image=" + image("fleet-v2"), "-e", "rolling_update_max_unavailable=25%")
    watch.stop()
    assert proc.returncode == 0, tail(proc)
    preview = fc.parse_preview(proc.stdout)
    report["preview_check"] = {"seconds": seconds, "waves": [len(w["keys"]) for w in preview["waves"]],
                               "summary": preview["summary"]}
    sizes = [len(w["keys"]) for w in preview["waves"]]
    assert sizes == [1, 4, 4, 4, 3], "preview waves %s%s" % (sizes, tail(proc))
    assert [w["canary"] for w in preview["waves"]] == [True, False, False, False, False]
    for wave in preview["waves"]:
        hosts = [s["host"] for s in wave["steps"]]
        assert len(set(hosts)) == len(hosts), "a wave holds two instances of one server: %s" % wave
    keys = [k for w in preview["waves"] for k in w["keys"]]
    assert sorted(keys) == sorted(by_key(before)), "the preview does not name every instance once: %s" % keys
    summary = preview["summary"]
    assert summary and (summary["waves"], summary["instances"], summary["max_out"]) == (5, 16, 4), summary
    assert ours(stack) == before, "--check changed containers"
    with open(stack["conf"], encoding="utf-8") as fh:
        assert fh.read() == conf, "--check rewrote nginx.conf"
    assert len(watch.generations) == 1, "--check reloaded nginx: %s" % [g.as_dict() for g in watch.generations]
    FOUND["preview_25"] = wave_keys(preview)
    assert BROKEN_SERVER + "/node0" in [s["host"] + "/" + s["instance"] for s in preview["waves"][1]["steps"]], \
        "the halt tests expect %s/node0 in wave 2" % BROKEN_SERVER


def test_update_in_waves_of_25_percent(stack, report):
    """The preview's waves, in order, as nginx routed them; at most 4 out; 0 failed; every instance on fleet-v2."""
    # Both canary checks, with bounds a healthy canary meets: a check that cannot measure or answer halts.
    step = under_load(stack, report, "update_25_percent", "numaserve.ovms.rolling_update",
                      "-e", "model_server_image=" + image("fleet-v2"), "-e", "rolling_update_max_unavailable=25%",
                      "-e", "rolling_update_canary_check_url=%s/v2/health/ready" % stack["url"],
                      "-e", "rolling_update_canary_max_ttft_ms=20000")
    step_ok(step)
    assert len(step["planned"]) == 16, step["planned"]
    if "preview_25" in FOUND:
        assert step["waves"] == FOUND["preview_25"], "nginx saw waves %s, the --check preview printed %s" % (
            step["waves"], FOUND["preview_25"])
    assert wave_keys(step["preview"]) == step["waves"], "the run's own preview differs from what it did"
    assert step["figures"]["max_out"] <= 4, step["figures"]
    assert step["figures"]["lowest_serving"] >= 12, step["figures"]
    found = step["after"]
    assert len(found) == 16 and all(i["running"] for i in found.values())
    assert {i["image"] for i in found.values()} == {image("fleet-v2")}, sorted((i["name"], i["image"]) for i in found.values())
    assert last_up(step) == set(step["planned"])


def test_plan_playbook_prints_the_same_waves(stack, report):
    """numaserve.ovms.plan -e plan_rolling_update=true (to fleet-v3, 25%): the same 5 waves, an estimate from the
    update just measured; changes nothing."""
    before = ours(stack)
    proc, seconds = playbook(stack, "numaserve.ovms.plan", "-e", "plan_rolling_update=true",
                             "-e", "model_server_image=" + image("fleet-v3"), "-e", "rolling_update_max_unavailable=25%")
    assert proc.returncode == 0, tail(proc)
    preview = fc.parse_preview(proc.stdout)
    report["plan"] = {"seconds": seconds, "summary": preview["summary"]}
    assert wave_keys(preview) == FOUND.get("preview_25", wave_keys(preview)) and len(preview["waves"]) == 5, \
        "plan printed %s%s" % (wave_keys(preview), tail(proc))
    assert preview["summary"]["seconds"] is not None, "no estimate after a measured update: %s" % preview["summary"]
    assert ours(stack) == before, "plan changed containers"


def test_update_one_at_a_time(stack, report):
    """max_unavailable 1 to fleet-v3: 16 waves of one (the preview's), 0 failed, never more than 1 out."""
    step = under_load(stack, report, "update_one_at_a_time", "numaserve.ovms.rolling_update",
                      "-e", "model_server_image=" + image("fleet-v3"), "-e", "rolling_update_max_unavailable=1")
    step_ok(step)
    assert [len(w) for w in step["waves"]] == [1] * 16, step["waves"]
    assert wave_keys(step["preview"]) == step["waves"], "the run's preview %s, nginx saw %s" % (
        wave_keys(step["preview"]), step["waves"])
    assert step["figures"]["max_out"] == 1, step["figures"]
    assert {i["image"] for i in step["after"].values()} == {image("fleet-v3")}
    assert len(step["after"]) == 16 and last_up(step) == set(step["planned"])


def broken_wave_vars(stack):
    return {s: {"model_server_image": image("fleet-broken" if s == BROKEN_SERVER else "fleet-v4")}
            for s in stack["servers"]}


def halt_ok(step):
    """The run failed with one halt line naming wave 2 and the broken instance."""
    assert step["proc"].returncode != 0, "the update with a broken image succeeded" + tail(step["proc"])
    assert len(step["halt"]) == 1, "halt lines: %s%s" % (step["halt"], tail(step["proc"]))
    line = step["halt"][0]
    assert line.startswith("rolling_update: halted in wave 2 of 5: %s/node0 (" % BROKEN_SERVER), line
    assert "failed its readiness gate: " in line, line


def test_broken_image_in_wave_2_halts_and_rolls_back(stack, report):
    """fleet-server3 on fleet-broken, rollback on: halted in wave 2; every instance back on fleet-v3 and up; 0 failed."""
    step = under_load(stack, report, "halt_with_rollback", "numaserve.ovms.rolling_update",
                      "-e", "rolling_update_max_unavailable=25%", "-e", "rolling_update_rollback_on_failure=true",
                      host_vars=broken_wave_vars(stack), expect_rc=1)
    report["halt_with_rollback"]["halt"] = step["halt"]
    step_ok(step)
    halt_ok(step)
    assert step["figures"]["max_out"] <= 4, step["figures"]
    found = step["after"]
    assert len(found) == 16 and all(i["running"] for i in found.values()), sorted(
        (i["name"], i["running"]) for i in found.values())
    assert {i["image"] for i in found.values()} == {image("fleet-v3")}, sorted(
        (i["name"], i["image"]) for i in found.values())
    assert last_up(step) == set(step["planned"]), "not every instance is back in the balancer: %s" % sorted(
        set(step["planned"]) - last_up(step))


def test_broken_image_in_wave_2_halts_without_rollback(stack, report):
    """Halted in wave 2: waves 3-5 still on fleet-v3 and up, fleet-server3/node0 out, canary and the rest of wave 2 on fleet-v4."""
    step = under_load(stack, report, "halt_without_rollback", "numaserve.ovms.rolling_update",
                      "-e", "rolling_update_max_unavailable=25%", host_vars=broken_wave_vars(stack), expect_rc=1)
    report["halt_without_rollback"]["halt"] = step["halt"]
    step_ok(step)
    halt_ok(step)
    assert step["figures"]["max_out"] <= 4, step["figures"]
    waves = FOUND.get("preview_25") or wave_keys(step["preview"])
    keyed = by_key(step["after"])
    up = last_up(step)
    failed = [k for k in waves[1] if keyed.get(k, {}).get("host") == BROKEN_SERVER]
    assert len(failed) == 1, (waves[1], failed)
    assert failed[0] not in up, "the failed instance %s is still up in the balancer" % failed[0]
    for key in waves[0] + [k for k in waves[1] if k not in failed]:
        assert keyed[key]["image"] == image("fleet-v4") and key in up, (key, keyed[key], sorted(up))
    for key in [k for w in waves[2:] for k in w]:
        assert keyed[key]["image"] == image("fleet-v3") and keyed[key]["running"] and key in up, (key, keyed[key])


def test_slow_canary_halts_after_the_first_wave(stack, report):
    """rolling_update_canary_max_ttft_ms=1 (no instance answers that fast): the canary is measured with the
    benchmark role, found too slow, and the run halts after wave 1 with one line naming the measured median;
    no later wave starts; 0 failed requests."""
    step = under_load(stack, report, "slow_canary", "numaserve.ovms.rolling_update",
                      "-e", "model_server_image=" + image("fleet-v1"), "-e", "rolling_update_max_unavailable=25%",
                      "-e", "rolling_update_canary_max_ttft_ms=1", expect_rc=1)
    report["slow_canary"]["halt"] = step["halt"]
    step_ok(step)
    assert len(step["halt"]) == 1, "halt lines: %s%s" % (step["halt"], tail(step["proc"]))
    line = step["halt"][0]
    assert line.startswith("rolling_update: halted in wave 1 of "), line
    assert "had a median time to first token of " in line and "rolling_update_canary_max_ttft_ms: 1)" in line, line
    canary = step["preview"]["waves"][0]["keys"]
    keyed = by_key(step["after"])
    on_v1 = sorted(k for k, i in keyed.items() if i["image"] == image("fleet-v1"))
    assert on_v1 == sorted(canary), "only the canary %s may be on fleet-v1, found %s" % (canary, on_v1)
    assert step["figures"]["observed_waves"] == [1], step["figures"]
