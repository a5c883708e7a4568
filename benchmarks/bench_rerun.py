# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How long numaserve.ovms.site takes when nothing changes: first deployment vs idempotent re-run vs --check.

One invocation deploys the stand-in stack on a scratch inventory (one server on a simulated two-node
sysfs tree, so two pinned stand-in instances, and an http-mode balancer on the same host: the
OVMS scaling demo's layout), then times, as a user runs them (`ansible-playbook ... numaserve.ovms.site`,
wall clock, ansible-playbook's own start-up included):

* the first `site` run (nothing deployed);
* the idempotent re-run (everything deployed, nothing to change; must report changed=0);
* `site --check` on the deployed stack;

and prints them side by side with the ratio re-run / first deployment against the goal of issue 14
(<= 0.6x), then tears the stack down (numaserve.ovms.teardown) and removes the scratch directory.
--rounds N does all of it N times (first deployment, re-run, check, teardown: each round's runs close
together in time, these machines are noisy) and prints the medians and each round's ratio.
--reruns N times N re-runs and checks per round. It prints figures; with --assert it exits 1 when
the median ratio misses the goal or a re-run reports changes.

The instances run real inference by default: the stand-in's OpenVINO GenAI engine on the random-weight
test model of tools/test_models/build.py (--size 32m, the benchmark scenario's model, cached; tiny is
the wiring model), so the first deployment loads and compiles a model as OVMS does. --engine simulated
runs the stand-in's sleeping generator on a model folder without weights instead: no model load at
all, the worst case for the ratio (a re-run costs the same either way, the first deployment less).

    source scripts/env.sh && python benchmarks/bench_rerun.py [--rounds 1] [--reruns 1] [--nodes 2]
        [--engine openvino|simulated] [--size 32m|tiny] [--assert] [--keep]

Ports 19203-19210 (instances) and 19280 (balancer); scratch directory /var/lib/numaserve-test/bench_rerun.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.test_models import layout  # noqa: E402  pylint: disable=wrong-import-position

HOST = "bench-rerun"
WORKDIR = "/var/lib/numaserve-test/bench_rerun"
PREFIX = "bench-rerun-ovms-"
NGINX = "bench-rerun-nginx"
GOAL = 0.6
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


def write_inventory(args):
    """The scratch inventory: one server that balances its own instances, on a simulated sysfs tree."""
    shutil.rmtree(WORKDIR, ignore_errors=True)
    os.makedirs(WORKDIR)
    models = os.path.join(WORKDIR, "models")
    if args.engine == "openvino":
        sh(sys.executable, os.path.join(ROOT, "tools/test_models/build.py"), models, "--name", args.model,
           "--size", args.size)
    else:
        layout.write_model_dir(models, args.model)  # export_model.py's layout, no weights
    nodes = ["--node=%d=%d" % (n, n % max(1, os.cpu_count() or 1)) for n in range(args.nodes)]
    sh(sys.executable, os.path.join(ROOT, "extensions/molecule/shared/stack_sysfs.py"), WORKDIR + "/sysfs", *nodes)
    # The scenario's own tag of the stand-in: a rebuild of :local during the run does not look like a change.
    sh("docker", "tag", args.standin_image, args.image)
    host_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "numa_facts_sysfs_root": WORKDIR + "/sysfs",
        "numa_facts_rest_port_base": args.base_port,
        "model_server_image": args.image,
        "model_server_pull": "never",
        "model_server_models_dir": models,
        "model_server_container_prefix": PREFIX,
        "model_server_bind_memory": False,
        "model_server_env": {"OVMS_STANDIN_ENGINE": args.engine},
        "load_balancer_mode": "http",
        "load_balancer_image": args.nginx_image,
        "load_balancer_listen_port": args.lb_port,
        "load_balancer_config_dir": WORKDIR + "/nginx",
        "load_balancer_container_name": NGINX,
    }
    inventory = {"all": {"children": {"ovms_servers": {"hosts": {HOST: host_vars}}}}}
    path = os.path.join(WORKDIR, "inventory.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(inventory, fh, indent=2)
    return path


def playbook(inventory, name, *extra):
    """Run `ansible-playbook -i INVENTORY numaserve.ovms.NAME EXTRA...`; return (seconds, changed, output)."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_RETRY_FILES_ENABLED="0")
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", inventory, "numaserve.ovms." + name, *extra],
                          capture_output=True, text=True, check=False, env=env)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("ansible-playbook numaserve.ovms.%s %s failed (%d):\n%s"
                 % (name, " ".join(extra), proc.returncode, (proc.stdout + proc.stderr)[-4000:]))
    changed = sum(int(m.group(3)) for m in RECAP.finditer(proc.stdout))
    return seconds, changed, proc.stdout


def remove_leftovers():
    """Containers of an earlier run that died half-way (labelled for this scratch host)."""
    names = sh("docker", "ps", "-aq", "--filter", "label=io.numaserve.managed=true",
               "--filter", "label=io.numaserve.host=" + HOST).split()
    if names:
        sh("docker", "rm", "-f", *names)


def one_round(args, inventory):
    """First deployment, re-runs, checks, then teardown: [(seconds, changed)] of each kind."""
    remove_leftovers()
    try:
        first = playbook(inventory, "site")[:2]
        reruns = [playbook(inventory, "site")[:2] for _run in range(args.reruns)]
        checks = [playbook(inventory, "site", "--check")[:2] for _run in range(args.reruns)]
    finally:
        if not args.keep:
            playbook(inventory, "teardown")
    return first, reruns, checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of first deployment, re-runs, checks and teardown (medians are printed)")
    parser.add_argument("--reruns", type=int, default=1, help="re-runs and check runs per round")
    parser.add_argument("--nodes", type=int, default=2, help="simulated NUMA nodes (one instance each)")
    parser.add_argument("--model", default="test/llm")
    parser.add_argument("--engine", choices=["openvino", "simulated"], default="openvino",
                        help="the stand-in's engine: OpenVINO GenAI on the built test model, or the sleeping generator")
    parser.add_argument("--size", choices=["tiny", "32m"], default="32m",
                        help="test model size (--engine openvino; 32m is the benchmark scenario's model)")
    parser.add_argument("--base-port", type=int, default=19203)
    parser.add_argument("--lb-port", type=int, default=19280)
    parser.add_argument("--standin-image", default="localhost/numaserve/ovms-standin:local")
    parser.add_argument("--image", default="localhost/numaserve-test/ovms-standin:bench-rerun",
                        help="the tag the stack runs (made from --standin-image)")
    parser.add_argument("--nginx-image", default="localhost/numaserve/nginx:local")
    parser.add_argument("--assert", dest="check_goal", action="store_true",
                        help="exit 1 when the median re-run/first > %.1f or a re-run reports changes" % GOAL)
    parser.add_argument("--keep", action="store_true", help="leave the stack of the last round running")
    args = parser.parse_args()
    if args.keep and args.rounds > 1:
        parser.error("--keep leaves the stack running, so only with --rounds 1")

    inventory = write_inventory(args)
    rounds = []
    try:
        for _round in range(args.rounds):
            rounds.append(one_round(args, inventory))
    finally:
        if not args.keep:
            shutil.rmtree(WORKDIR, ignore_errors=True)
            subprocess.run(["docker", "image", "rm", args.image], capture_output=True, check=False)

    firsts = [first for first, _reruns, _checks in rounds]
    reruns = [run for _first, runs, _checks in rounds for run in runs]
    checks = [run for _first, _runs, runs in rounds for run in runs]
    first_s = statistics.median(seconds for seconds, _changed in firsts)
    rerun_s = statistics.median(seconds for seconds, _changed in reruns)
    check_s = statistics.median(seconds for seconds, _changed in checks)
    ratio = rerun_s / first_s
    ansible_version = sh("ansible", "--version").splitlines()[0]
    engine = ("OpenVINO GenAI engine, %s test model" % args.size) if args.engine == "openvino" else "simulated engine"
    print("bench_rerun: numaserve.ovms.site on a scratch inventory (1 server balancing itself, %d simulated NUMA "
          "nodes -> %d stand-in instances (%s), http balancer), %s, %d CPU(s); wall clock of ansible-playbook, "
          "median of %d round(s) x %d re-run(s)"
          % (args.nodes, args.nodes, engine, ansible_version, os.cpu_count(), args.rounds, args.reruns))
    print("%-26s %9s %9s %9s" % ("run", "seconds", "changed", "x first"))
    for label, seconds, runs in (("first deployment", first_s, firsts), ("idempotent re-run", rerun_s, reruns),
                                 ("site --check", check_s, checks)):
        print("%-26s %9.1f %9d %9.2f" % (label, seconds, max(changed for _seconds, changed in runs), seconds / first_s))
    if args.rounds > 1:
        print("each round's re-run / first: %s" % ", ".join(
            "%.2f" % (statistics.median(s for s, _c in runs) / first[0]) for first, runs, _checks in rounds))
    met = ratio <= GOAL
    print("re-run / first = %.2f; goal <= %.2f: %s" % (ratio, GOAL, "met" if met else "NOT met"))
    rerun_changes = [changed for _seconds, changed in reruns if changed]
    if rerun_changes:
        print("the re-run reported changed=%d: it is not idempotent" % rerun_changes[0])
    if args.check_goal and (not met or rerun_changes):
        sys.exit(1)


if __name__ == "__main__":
    main()
