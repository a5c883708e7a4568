# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the http-mode balancer costs: direct to an instance vs through numaserve.ovms.load_balancer.

Starts N OVMS stand-in instances (no per-token delay) and, with the role itself (ansible-playbook),
two balancers: one in front of instance 0 alone ("lb x1") and one in front of all N ("lb xN").
Then, with ONE openai client object (keep-alive pool of --concurrency connections) and the same
request, it alternates short phases -- direct to instance 0, lb x1, lb xN -- for --rounds rounds:

* throughput: non-streaming chat completions from --concurrency threads; requests/s, p50/p99 latency.
  The goal (>= 0.9x) compares "lb x1" with "direct": the same single instance with and without the
  proxy, so the ratio is the balancer's cost. "lb xN" shows what spreading over N instances gives on
  this machine (the stand-in is CPU-bound Python, so N instances on 2 cores do not scale N-fold).
* time to first streamed chunk (TTFC): one streaming request at a time, alternating direct / lb x1;
  p50 of each and the p50 added by the balancer (goal <= 2 ms).

It prints figures; it asserts nothing.

    source scripts/env.sh && python benchmarks/bench_balancer.py [--instances 2] [--concurrency 8]
        [--duration 2] [--rounds 6] [--stream-requests 200] [--keep]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import openai

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.test_models import layout  # noqa: E402  pylint: disable=wrong-import-position
PREFIX = "bench-lb-ovms-"
LB1, LBN = "bench-lb-nginx-x1", "bench-lb-nginx-xn"
WORKDIR = "/var/lib/numaserve-test/bench_balancer"


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def start_instances(args):
    layout.write_model_dir(os.path.join(WORKDIR, "models"), "m")  # export_model.py's layout, no weights
    ports = [args.base_port + i for i in range(args.instances)]
    for port in ports:
        subprocess.run(["docker", "rm", "-f", PREFIX + str(port)], capture_output=True, check=False)
        sh("docker", "run", "-d", "--name", PREFIX + str(port), "--network", "host",
           "-v", WORKDIR + "/models:/workspace:ro", "-e", "OVMS_STANDIN_TOKEN_DELAY_MS=0",
           "-e", "OVMS_STANDIN_ENGINE=simulated", args.standin_image,
           "--rest_port", str(port), "--rest_bind_address", "127.0.0.1", "--config_path", "/workspace/config.json",
           # one REST worker per client thread + the one drogon's loop holds (src/drogon_http_server.cpp)
           "--rest_workers", str(args.concurrency + 1))
    for port in ports:
        deadline = time.time() + 30
        while True:
            try:
                if httpx.get("http://127.0.0.1:%d/v2/health/ready" % port).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                sys.exit("instance on port %d not ready after 30 s" % port)
            time.sleep(0.3)
    return ports


def start_balancers(args, ports):
    """Deploy both balancers with numaserve.ovms.load_balancer, exactly as users get them."""
    endpoints = [{"host": "bench", "instance": "i%d" % i, "container": PREFIX + str(p), "address": "127.0.0.1",
                  "port": p, "cpus": 1} for i, p in enumerate(ports)]
    tmp = tempfile.mkdtemp(prefix="bench-lb-")
    plays = []
    for name, port, eps in ((LB1, args.lb_port, endpoints[:1]), (LBN, args.lb_port + 1, endpoints)):
        plays.append({"name": "Balancer " + name, "hosts": "bench-lb", "gather_facts": False,
                      "roles": [{"role": "numaserve.ovms.load_balancer", "vars": {
                          "model_server_endpoints": eps, "load_balancer_image": args.nginx_image,
                          "load_balancer_container_name": name, "load_balancer_listen_port": port,
                          "load_balancer_config_dir": WORKDIR + "/" + name,
                          "load_balancer_worker_rlimit_nofile": 0}}]})
    with open(os.path.join(tmp, "play.yml"), "w", encoding="utf-8") as fh:
        json.dump(plays, fh)
    with open(os.path.join(tmp, "hosts"), "w", encoding="utf-8") as fh:
        fh.write("bench-lb ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    proc = subprocess.run(["ansible-playbook", "-i", os.path.join(tmp, "hosts"), os.path.join(tmp, "play.yml")],
                          capture_output=True, text=True, check=False)
    shutil.rmtree(tmp)
    if proc.returncode != 0:
        sys.exit("deploying the balancers failed:\n" + proc.stdout[-3000:])


def teardown(ports):
    for name in [LB1, LBN] + [PREFIX + str(p) for p in ports]:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    shutil.rmtree(WORKDIR, ignore_errors=True)


def client_for(url, connections):
    pool = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=connections,
                                                        max_keepalive_connections=connections))
    return openai.OpenAI(base_url=url + "/v3", api_key="unused", max_retries=0, http_client=pool)


MESSAGES = [{"role": "user", "content": "Describe a load balancer in one sentence."}]


def throughput_phase(oai, duration, concurrency, max_tokens):
    """(requests, seconds, latencies) of CONCURRENCY threads sharing OAI for DURATION seconds."""
    latencies, errors = [], []
    lock = threading.Lock()
    stop = time.perf_counter() + duration

    def work():
        mine = []
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                oai.chat.completions.create(model="m", messages=MESSAGES, max_tokens=max_tokens)
            except openai.OpenAIError as exc:
                errors.append(exc)
                continue
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    threads = [threading.Thread(target=work) for _thread in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        print("  %d errors, first: %s" % (len(errors), errors[0]))
    return len(latencies), time.perf_counter() - start, latencies


def ttfc(oai, max_tokens):
    t0 = time.perf_counter()
    first = None
    for chunk in oai.chat.completions.create(model="m", messages=MESSAGES, max_tokens=max_tokens, stream=True):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - t0
    return first


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100.0 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per throughput phase")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--stream-requests", type=int, default=200, help="per target")
    parser.add_argument("--base-port", type=int, default=18620)
    parser.add_argument("--lb-port", type=int, default=18685)
    parser.add_argument("--standin-image", default="localhost/numaserve/ovms-standin:local")
    parser.add_argument("--nginx-image", default="localhost/numaserve/nginx:local")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    args = parser.parse_args()

    ports = start_instances(args)
    try:
        start_balancers(args, ports)
        targets = {"direct": "http://127.0.0.1:%d" % ports[0],
                   "lb x1": "http://127.0.0.1:%d" % args.lb_port,
                   "lb x%d" % args.instances: "http://127.0.0.1:%d" % (args.lb_port + 1)}
        clients = {name: client_for(url, args.concurrency) for name, url in targets.items()}
        for oai in clients.values():  # warm up every connection pool
            throughput_phase(oai, 0.5, args.concurrency, args.max_tokens)
        totals = {name: [0, 0.0, []] for name in targets}
        for _round in range(args.rounds):
            for name, oai in clients.items():
                count, secs, lat = throughput_phase(oai, args.duration, args.concurrency, args.max_tokens)
                totals[name][0] += count
                totals[name][1] += secs
                totals[name][2].extend(lat)
        first = {"direct": [], "lb x1": []}
        for _request in range(args.stream_requests):
            for name in first:
                first[name].append(ttfc(clients[name], 16))
    finally:
        if not args.keep:
            teardown(ports)

    print("bench_balancer: %d stand-in instance(s), no token delay, %d concurrent keep-alive requests, "
          "max_tokens %d, %d x %.0f s per target, openai %s"
          % (args.instances, args.concurrency, args.max_tokens, args.rounds, args.duration, openai.__version__))
    direct_rps = totals["direct"][0] / totals["direct"][1]
    print("%-8s %10s %8s %8s %8s" % ("target", "req/s", "x direct", "p50 ms", "p99 ms"))
    for name, (count, secs, lat) in totals.items():
        rps = count / secs
        print("%-8s %10.1f %8.2f %8.2f %8.2f"
              % (name, rps, rps / direct_rps, 1000 * pct(lat, 50), 1000 * pct(lat, 99)))
    d50, l50 = statistics.median(first["direct"]), statistics.median(first["lb x1"])
    paired = statistics.median(b - a for a, b in zip(first["direct"], first["lb x1"]))
    print("time to first streamed chunk (%d requests each, one at a time, alternating): direct p50 %.2f ms, "
          "lb x1 p50 %.2f ms, added at p50 %.2f ms; median of the paired differences %.2f ms; "
          "p10 direct %.2f ms / lb x1 %.2f ms"
          % (args.stream_requests, 1000 * d50, 1000 * l50, 1000 * (l50 - d50), 1000 * paired,
             1000 * pct(first["direct"], 10), 1000 * pct(first["lb x1"], 10)))


if __name__ == "__main__":
    main()
