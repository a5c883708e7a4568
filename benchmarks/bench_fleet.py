# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A simulated fleet's rolling update: one at a time against 25% per wave, and site's re-run for 8 servers against 1.

One invocation builds a scratch inventory of 8 servers (each its own loopback address 127.0.2.1 ..
127.0.2.8 and a simulated two-node sysfs tree: two pinned stand-in instances each, 16 in all) behind
one http-mode balancer host, deploys it with numaserve.ovms.site, then times, as a user runs them
(wall clock of ansible-playbook, its start-up included), each under a steady client load through the
balancer (streaming and not) while nginx's worker generations are watched (shared/drain_checks
BalancerWatch: the upstream state each generation routed with):

* the idempotent re-run of `site` on the 8 servers (must report changed=0);
* numaserve.ovms.rolling_update to a new image tag with rolling_update_max_unavailable=1;
* the same to another tag with rolling_update_max_unavailable=25%;
* then, on a second scratch inventory of ONE such server (127.0.2.9) and its own balancer host, the
  first `site` and its idempotent re-run;

and prints them side by side: the updates' wall times and their ratio 25% / 1 against the goal of
issue 15 (<= 0.4x), the waves nginx went through, the most instances out of the balancer at once and
the fewest serving (from the generations), the client's failed requests, and the re-run time of 8
servers against 1 (how a run's cost grows with the fleet). It tears both stacks down
(numaserve.ovms.teardown) and removes the scratch directory and image tags unless --keep. It prints
figures; with --assert it exits 1 when the goal is missed, a re-run reports changes or a request failed.

    source scripts/env.sh && python benchmarks/bench_fleet.py [--assert] [--keep]

Ports 19401-19402 on 127.0.2.1 .. 127.0.2.9 (instances), 19480 and 19481 (balancers); scratch
directory /var/lib/numaserve-test/bench_fleet; image tags localhost/numaserve-test/ovms-standin:bench-fleet-v1..v3.
Not part of `make test`.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "extensions", "molecule", "shared"))
from tools.test_models import layout  # noqa: E402  pylint: disable=wrong-import-position
from drain_checks import BalancerWatch  # noqa: E402  pylint: disable=wrong-import-position
import fleet_checks  # noqa: E402  pylint: disable=wrong-import-position
from stack_checks import model_name  # noqa: E402  pylint: disable=wrong-import-position
from stack_load import Load  # noqa: E402  pylint: disable=wrong-import-position

WORKDIR = "/var/lib/numaserve-test/bench_fleet"
REPO = "localhost/numaserve-test/ovms-standin"
VERSIONS = ("bench-fleet-v1", "bench-fleet-v2", "bench-fleet-v3")
GOAL = 0.4
WORKERS = 8
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


class Fleet:
    """One scratch inventory: SERVERS servers (addresses 127.0.2.FIRST ...), each 2 instances, and a balancer host."""

    def __init__(self, name, servers, first_address, lb_port, args):
        self.name, self.servers, self.args = name, servers, args
        self.dir = os.path.join(WORKDIR, name)
        self.hosts = ["%s-server%d" % (name, n) for n in range(1, servers + 1)] if servers > 1 else [name]
        self.addresses = ["127.0.2.%d" % (first_address + n) for n in range(servers)]
        self.lb_host, self.lb_port = name + "-lb", lb_port
        self.nginx = name + "-nginx"
        self.conf = os.path.join(self.dir, "nginx", "nginx.conf")
        self.inventory = os.path.join(self.dir, "inventory.json")

    def write(self):
        os.makedirs(self.dir)
        layout.write_model_dir(os.path.join(self.dir, "models"), self.args.model)  # export_model.py's layout, no weights
        common = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "model_server_image": "%s:%s" % (REPO, VERSIONS[0]),
            "model_server_pull": "never",
            "model_server_models_dir": os.path.join(self.dir, "models"),
            "model_server_bind_memory": False,
            "model_server_ready_poll_interval": 1,
            "model_server_env": {"OVMS_STANDIN_ENGINE": "simulated", "OVMS_STANDIN_TOKEN_DELAY_MS": "30",
                                 "OVMS_STANDIN_LOAD_DELAY": str(self.args.load_delay)},
            "numa_facts_rest_port_base": self.args.base_port,
        }
        servers = {}
        for n, (host, address) in enumerate(zip(self.hosts, self.addresses), 1):
            sysfs = os.path.join(self.dir, "sysfs-%d" % n)
            sh(sys.executable, os.path.join(ROOT, "extensions/molecule/shared/stack_sysfs.py"), sysfs,
               "--node=0=0", "--node=1=%d" % (1 % max(1, os.cpu_count() or 1)))
            servers[host] = {
                "numa_facts_sysfs_root": sysfs,
                "model_server_container_prefix": "%s%d-ovms-" % (self.name, n),
                "model_server_bind_address": address,
                "model_server_advertise_address": address,
                "rolling_update_timings_dir": os.path.join(self.dir, "timings-%d" % n),
            }
        balancer = {
            "load_balancer_mode": "http",
            "load_balancer_image": self.args.nginx_image,
            "load_balancer_listen_port": self.lb_port,
            "load_balancer_config_dir": os.path.join(self.dir, "nginx"),
            "load_balancer_container_name": self.nginx,
        }
        inventory = {"all": {"vars": common, "children": {
            "ovms_servers": {"hosts": servers},
            "ovms_load_balancers": {"hosts": {self.lb_host: balancer}}}}}
        with open(self.inventory, "w", encoding="utf-8") as fh:
            json.dump(inventory, fh, indent=2)

    def playbook(self, name, *extra, check=True):
        """Run `ansible-playbook -i INVENTORY numaserve.ovms.NAME EXTRA...`; return (seconds, changed, output)."""
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
                   ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_RETRY_FILES_ENABLED="0",
                   ANSIBLE_FORKS=str(max(10, self.servers + 2)))
        start = time.monotonic()
        proc = subprocess.run(["ansible-playbook", "-i", self.inventory, "numaserve.ovms." + name, *extra],
                              capture_output=True, text=True, check=False, env=env)
        seconds = time.monotonic() - start
        if check and proc.returncode != 0:
            sys.exit("ansible-playbook -i %s numaserve.ovms.%s %s failed (%d):\n%s"
                     % (self.inventory, name, " ".join(extra), proc.returncode, (proc.stdout + proc.stderr)[-4000:]))
        changed = sum(int(m.group(3)) for m in RECAP.finditer(proc.stdout))
        return seconds, changed, proc.stdout

    def remove_leftovers(self):
        """Containers of an earlier run that died half-way (labelled for this fleet's hosts)."""
        for host in self.hosts + [self.lb_host]:
            names = sh("docker", "ps", "-aq", "--filter", "label=io.numaserve.managed=true",
                       "--filter", "label=io.numaserve.host=" + host).split()
            if names:
                sh("docker", "rm", "-f", *names)


def update(fleet, version, max_unavailable):
    """rolling_update to VERSION under load, nginx watched: {seconds, waves, max_out, lowest_serving, failed, ...}."""
    watch = BalancerWatch(fleet.nginx, fleet.conf).start()
    planned = fleet_checks.up_keys(watch.generations[-1].state) if watch.generations else []
    load = Load("http://127.0.0.1:%d" % fleet.lb_port, model_name(os.path.join(fleet.dir, "models")),
                workers=WORKERS).start()
    time.sleep(1)
    lo = time.time()
    seconds, dummy, out = fleet.playbook("rolling_update", "-e", "model_server_image=%s:%s" % (REPO, version),
                                         "-e", "rolling_update_max_unavailable=%s" % max_unavailable)
    hi = time.time()
    time.sleep(1)
    load.stop()
    watch.stop()
    window = (lo, hi)
    waves = fleet_checks.observed_waves(watch.generations, planned, window)
    preview = fleet_checks.parse_preview(out)
    summary = load.summary()
    return {"max_unavailable": max_unavailable, "seconds": seconds, "planned": len(planned),
            "waves": [len(w) for w in waves],
            "preview_matches": [sorted(w["keys"]) for w in preview["waves"]] == waves,
            "estimate": (preview["summary"] or {}).get("seconds"),
            "max_out": fleet_checks.max_out(watch.generations, planned, window),
            "lowest_serving": fleet_checks.lowest_serving(watch.generations, window, planned),
            "reloads": fleet_checks.reloads(watch.generations, window),
            "requests": summary["requests"], "failed": summary["failed"], "errors": summary["errors"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="test/llm")
    parser.add_argument("--base-port", type=int, default=19401)
    parser.add_argument("--lb-port", type=int, default=19480, help="the fleet's balancer; the one-server stack's is +1")
    parser.add_argument("--load-delay", type=int, default=1, help="the stand-in's model load time (seconds)")
    parser.add_argument("--standin-image", default="localhost/numaserve/ovms-standin:local")
    parser.add_argument("--nginx-image", default="localhost/numaserve/nginx:local")
    parser.add_argument("--assert", dest="check_goal", action="store_true",
                        help="exit 1 when the 25 percent update takes more than %.1fx the one at a time, a re-run reports changes or a request failed" % GOAL)
    parser.add_argument("--keep", action="store_true", help="leave both stacks running")
    args = parser.parse_args()

    fleet = Fleet("bench-fleet", 8, 1, args.lb_port, args)
    one = Fleet("bench-fleet-one", 1, 9, args.lb_port + 1, args)
    for stack in (fleet, one):
        stack.remove_leftovers()
    shutil.rmtree(WORKDIR, ignore_errors=True)
    # The benchmark's own tags of the stand-in: a rebuild of :local during the run does not look like a change.
    for version in VERSIONS:
        sh("docker", "tag", args.standin_image, "%s:%s" % (REPO, version))
    started = time.monotonic()
    try:
        fleet.write()
        one.write()
        fleet_first = fleet.playbook("site")
        fleet_rerun = fleet.playbook("site")
        one_at_a_time = update(fleet, VERSIONS[1], 1)
        quarter = update(fleet, VERSIONS[2], "25%")
        one_first = one.playbook("site")
        one_rerun = one.playbook("site")
    finally:
        if not args.keep:
            for stack in (fleet, one):
                if os.path.exists(stack.inventory):
                    stack.playbook("teardown", check=False)
            shutil.rmtree(WORKDIR, ignore_errors=True)
            for version in VERSIONS:
                subprocess.run(["docker", "image", "rm", "%s:%s" % (REPO, version)], capture_output=True, check=False)

    ansible_version = sh("ansible", "--version").splitlines()[0]
    print("bench_fleet: a simulated fleet of 8 servers x 2 stand-in instances (own loopback address and 2-node "
          "fixture sysfs each) behind one http balancer; %s, %d CPU(s); wall clock of ansible-playbook; "
          "updates under a steady load of %d clients; waves and serving counts from nginx's worker generations "
          "(%.0f s in all)" % (ansible_version, os.cpu_count(), WORKERS, time.monotonic() - started))
    print("%-34s %12s %12s" % ("rolling_update", "max_unav. 1", "25%"))
    rows = (("wall time (s)", "%.1f", "seconds"), ("waves seen in nginx", "%s", "waves"),
            ("matches the run's preview", "%s", "preview_matches"),
            ("most out of the balancer at once", "%s", "max_out"),
            ("fewest serving (of %d)" % one_at_a_time["planned"], "%s", "lowest_serving"),
            ("nginx reloads", "%s", "reloads"), ("preview's estimate (s)", "%s", "estimate"),
            ("client requests", "%s", "requests"), ("failed requests", "%s", "failed"))
    for label, fmt, name in rows:
        a, b = one_at_a_time[name], quarter[name]
        if name == "waves":
            a, b = len(a), len(b)
        print("%-34s %12s %12s" % (label, fmt % a if a is not None else "-", fmt % b if b is not None else "-"))
    ratio = quarter["seconds"] / one_at_a_time["seconds"]
    met = ratio <= GOAL
    print("25%% / 1 = %.2f; goal <= %.2f: %s" % (ratio, GOAL, "met" if met else "NOT met"))
    lowest = min(one_at_a_time["lowest_serving"], quarter["lowest_serving"])
    print("lowest number of serving instances observed: %d of %d" % (lowest, one_at_a_time["planned"]))
    print("%-34s %12s %12s %9s" % ("site", "8 servers", "1 server", "8 / 1"))
    for label, eight, single in (("first deployment (s)", fleet_first[0], one_first[0]),
                                 ("idempotent re-run (s)", fleet_rerun[0], one_rerun[0])):
        print("%-34s %12.1f %12.1f %9.2f" % (label, eight, single, eight / single))
    print("%-34s %12d %12d" % ("re-run changed", fleet_rerun[1], one_rerun[1]))
    problems = []
    if fleet_rerun[1] or one_rerun[1]:
        problems.append("a re-run of site reported changes: it is not idempotent")
    for result in (one_at_a_time, quarter):
        if result["failed"]:
            problems.append("%s: %d client request(s) failed: %s"
                            % (result["max_unavailable"], result["failed"], result["errors"]))
    for problem in problems:
        print(problem)
    if args.check_goal and (not met or problems):
        sys.exit(1)


if __name__ == "__main__":
    main()
