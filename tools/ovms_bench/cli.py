"""Command line: ``ovms-bench run | compare | parse`` (``PYTHONPATH=tools python -m ovms_bench``)."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import shlex
import socket
import subprocess
import sys
from collections import Counter

import httpx

from ovms_bench import __version__, client, datasets, parsers, report
from ovms_bench.stats import calculate_metrics


def parse_cpulist(text: str) -> set[int]:
    """'0-3,8' -> {0, 1, 2, 3, 8} (kernel cpulist format)."""
    cpus: set[int] = set()
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            if int(lo) > int(hi):
                raise ValueError(f"bad CPU range {part!r}")
            cpus.update(range(int(lo), int(hi) + 1))
        else:
            cpus.add(int(part))
    return cpus


def format_cpulist(cpus) -> str:
    ordered, ranges = sorted(cpus), []
    for cpu in ordered:
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def _rate(text: str) -> float:
    value = float(text)
    if math.isnan(value) or value <= 0:
        raise argparse.ArgumentTypeError("the request rate must be > 0 or inf")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ovms-bench", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a benchmark and write the report")
    run.add_argument("--base-url", default="http://127.0.0.1:8080", help="balancer or instance (default %(default)s)")
    run.add_argument("--endpoint", default="/v3/chat/completions", help="default %(default)s")
    run.add_argument("--model", help="served model name (default: the first one /v3/models lists)")
    run.add_argument("--dataset-path", help="ShareGPT-format JSON; default: generated prompts")
    run.add_argument("--num-prompts", type=int, default=100)
    run.add_argument("--input-len", type=int, default=128, help="generated prompts: about this many tokens")
    run.add_argument("--output-len", type=int,
                     help="max tokens per request (default: ShareGPT's answer length, 128 for generated prompts)")
    run.add_argument("--range-ratio", type=float, default=0.0, help="generated prompts: length spread")
    run.add_argument("--request-rate", type=_rate, default=float("inf"),
                     help="Poisson arrivals per second; inf sends all at once (default)")
    run.add_argument("--max-concurrency", type=int, help="at most this many requests in flight")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--warmup", type=int, default=1, help="warm-up requests, not measured (default 1)")
    run.add_argument("--ignore-eos", action="store_true", help="send ignore_eos (OVMS supports it)")
    run.add_argument("--ttft-rule", choices=client.TTFT_RULES, default="content",
                     help="first token = first chunk with text (content, default) or first chunk with "
                          "choices (vllm: vLLM's exact bookkeeping)")
    run.add_argument("--max-tokens-field", default="max_tokens", choices=("max_tokens", "max_completion_tokens"))
    run.add_argument("--timeout", type=float, default=3600.0, help="per request, seconds")
    run.add_argument("--percentiles", default="99", help="comma-separated, default 99")
    run.add_argument("--client-cpus", help="pin this process to these CPUs (e.g. 0 or 0-1) before the run")
    run.add_argument("--config", help="JSON describing the deployment (instances, cpusets, mode, image ...)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="add to the configuration")
    run.add_argument("--label", help="name of this configuration in reports and plots (e.g. baseline)")
    run.add_argument("--access-log", help="balancer access log (file or saved `docker logs` output) for shares")
    run.add_argument("--access-log-command", help="command printing the access log after the run, e.g. "
                                                  "'docker logs ovms-lb'; {since} becomes the start epoch")
    run.add_argument("--result-json", help="write the result document here")
    run.add_argument("--plot", help="write a PNG of this run (or use compare for several)")
    run.add_argument("--save-detailed", action="store_true", help="keep per-request timings in the JSON")
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--driver", choices=("builtin", "vllm", "guidellm"), default="builtin")
    run.add_argument("--driver-command", help="executable for --driver (e.g. 'python benchmark_serving.py')")
    run.add_argument("--driver-args", help="extra arguments for the driver, one string")

    comp = sub.add_parser("compare", help="compare result JSON files: scaling ratio and plot")
    comp.add_argument("results", nargs="+")
    comp.add_argument("--baseline", help="file or label of the baseline (default: the first)")
    comp.add_argument("--plot", help="PNG to write")
    comp.add_argument("--output", help="comparison JSON to write")

    parse = sub.add_parser("parse", help="turn vllm/guidellm output into a result JSON")
    parse.add_argument("file")
    parse.add_argument("--format", choices=("auto", "vllm", "vllm-json", "guidellm"), default="auto")
    parse.add_argument("--label")
    parse.add_argument("--result-json")
    return parser


# ------------------------------------------------------------------ run

def pin_client(cpus_text: str | None) -> dict:
    info = {"pinned": False}
    if cpus_text:
        wanted = parse_cpulist(cpus_text)
        try:
            os.sched_setaffinity(0, wanted)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"--client-cpus {cpus_text}: cannot pin to those CPUs ({exc}); "
                             f"this host allows {format_cpulist(os.sched_getaffinity(0))}") from exc
        info["pinned"] = True
    info["cpus"] = format_cpulist(os.sched_getaffinity(0))
    return info


def load_configuration(path: str | None, sets: list[str]) -> dict:
    conf: dict = {}
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                conf = json.load(handle)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"--config {path}: {exc}") from exc
        if not isinstance(conf, dict):
            raise SystemExit(f"--config {path}: expected a JSON object")
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        try:
            conf[key] = json.loads(value)
        except ValueError:
            conf[key] = value
    return conf


def instance_names(conf: dict) -> dict:
    names = {}
    for inst in conf.get("instances") or []:
        if inst.get("address") and inst.get("port"):
            names[f"{inst['address']}:{inst['port']}"] = inst.get("name", "")
    return names


def client_overlap(client_info: dict, conf: dict) -> str:
    mine = parse_cpulist(client_info["cpus"])
    used: set[int] = set()
    for inst in conf.get("instances") or []:
        if inst.get("cpuset_cpus"):
            used |= parse_cpulist(inst["cpuset_cpus"])
    return format_cpulist(mine & used)


def discover_model(base_url: str, endpoint: str) -> str:
    prefix = endpoint.split("/chat/")[0] if "/chat/" in endpoint else endpoint.rsplit("/", 1)[0]
    url = base_url.rstrip("/") + prefix + "/models"
    try:
        data = httpx.get(url, timeout=30).json()
        return data["data"][0]["id"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise SystemExit(f"no --model given and {url} did not list one ({exc}); pass --model NAME") from exc


def read_access_log(args, since: float) -> list[str] | None:
    if args.access_log:
        with open(args.access_log, encoding="utf-8", errors="replace") as handle:
            return handle.readlines()
    if args.access_log_command:
        cmd = [part.replace("{since}", str(int(since))) for part in shlex.split(args.access_log_command)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, errors="replace")
        if proc.returncode != 0:
            sys.stderr.write(f"warning: {args.access_log_command!r} failed: {proc.stderr.strip()[:200]}\n")
            return None
        return (proc.stdout + proc.stderr).splitlines()
    return None


def cmd_run(args) -> int:
    client_info = pin_client(args.client_cpus)
    conf = load_configuration(args.config, args.set)
    overlap = client_overlap(client_info, conf)
    if overlap:
        client_info["overlap"] = overlap
        sys.stderr.write(f"warning: the client runs on CPUs {overlap} that instances use; figures are pessimistic\n")
    client_info["host"] = socket.gethostname()
    percentiles = [float(p) for p in args.percentiles.split(",") if p.strip()]
    kind = client.endpoint_kind(args.endpoint)
    model = args.model or discover_model(args.base_url, args.endpoint)
    url = args.base_url.rstrip("/") + args.endpoint
    output_len = args.output_len if args.output_len or args.dataset_path else 128
    try:
        if args.dataset_path:
            prompts = datasets.load_sharegpt(args.dataset_path, args.num_prompts, args.seed, args.output_len)
            dataset = f"sharegpt:{os.path.basename(args.dataset_path)}"
        else:
            prompts = datasets.generate(args.num_prompts, args.seed, args.input_len, output_len, args.range_ratio)
            dataset = f"generated:{args.input_len}in/{output_len}out"
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc

    doc: dict = {
        "tool": "ovms_bench", "version": __version__, "label": args.label, "driver": args.driver,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "target": {"url": url, "base_url": args.base_url, "endpoint": args.endpoint, "model": model},
        "load": {"num_prompts": args.num_prompts, "request_rate": args.request_rate,
                 "max_concurrency": args.max_concurrency, "seed": args.seed, "warmup_requests": args.warmup,
                 "dataset": dataset, "output_len": args.output_len if args.dataset_path else output_len,
                 "input_len": None if args.dataset_path else args.input_len, "ignore_eos": args.ignore_eos,
                 "percentiles": percentiles, "ttft_rule": args.ttft_rule if args.driver == "builtin" else args.driver},
        "client": client_info, "configuration": conf,
    }
    since = datetime.datetime.now().timestamp()
    expected = None
    if args.driver == "builtin":
        spec = client.RequestSpec(url=url, model=model, kind=kind, max_tokens_field=args.max_tokens_field,
                                  ignore_eos=args.ignore_eos, ttft_rule=args.ttft_rule)
        try:
            out = asyncio.run(client.run(spec, prompts, args.request_rate, args.max_concurrency, args.seed,
                                         warmups=args.warmup, timeout=args.timeout, progress=not args.no_progress))
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from exc
        doc["metrics"] = calculate_metrics(out.results, out.duration, percentiles)
        doc["errors"] = dict(Counter(r.error.splitlines()[0][:160] for r in out.results if not r.success))
        doc["warmup"] = {"requests": len(out.warmup), "succeeded": sum(r.success for r in out.warmup)}
        expected = len(out.results)
        if args.save_detailed:
            doc["requests"] = [{"success": r.success, "ttft": r.ttft, "latency": r.latency, "itl": r.itl,
                                "output_tokens": r.output_tokens, "prompt_len": r.prompt_len, "error": r.error}
                               for r in out.results]
    else:
        from ovms_bench import drivers  # pylint: disable=import-outside-toplevel
        runner = drivers.run_vllm if args.driver == "vllm" else drivers.run_guidellm
        try:
            doc["metrics"] = runner(args, model, args.base_url)
        except (RuntimeError, OSError, ValueError) as exc:
            raise SystemExit(f"--driver {args.driver}: {exc}") from exc
        if doc["metrics"].get("completed") is not None:
            expected = doc["metrics"]["completed"] + doc["metrics"].get("failed", 0)
    log_lines = read_access_log(args, since)
    if log_lines is not None:
        entries = parsers.parse_access_log(log_lines, endpoint=args.endpoint, since=since)
        doc["instances_share"] = parsers.upstream_shares(entries, expected, instance_names(conf))
    else:
        doc["instances_share"] = None
    print(report.format_report(doc))
    if args.result_json:
        report.write_json(doc, args.result_json)
        sys.stderr.write(f"result written to {args.result_json}\n")
    if args.plot:
        _plot(report.compare([(args.result_json or "run", doc)]), args.plot)
    return 0 if doc["metrics"].get("completed") else 1


def _plot(comp: dict, path: str) -> None:
    try:
        report.plot(comp, path)
    except RuntimeError as exc:  # no matplotlib on this host: the JSON and the text are the report
        sys.stderr.write(f"warning: no plot written: {exc}\n")
        return
    sys.stderr.write(f"plot written to {path}\n")


# ------------------------------------------------------------------ compare / parse

def cmd_compare(args) -> int:
    docs = []
    for path in args.results:
        try:
            doc = parsers.load_json(path)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"{path}: {exc}") from exc
        if "metrics" not in doc:
            raise SystemExit(f"{path}: not an ovms-bench result (no 'metrics'); convert it with `ovms-bench parse`")
        docs.append((path, doc))
    base = 0
    if args.baseline:
        matches = [i for i, (p, d) in enumerate(docs) if args.baseline in (p, d.get("label"))]
        if not matches:
            raise SystemExit(f"--baseline {args.baseline}: no such file or label among the results")
        base = matches[0]
    comp = report.compare(docs, base)
    print(report.format_comparison(comp))
    if args.output:
        report.write_json(comp, args.output)
    if args.plot:
        _plot(comp, args.plot)
    return 0


def cmd_parse(args) -> int:
    with open(args.file, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    fmt = args.format
    data = None
    if fmt in ("auto", "vllm-json", "guidellm"):
        try:
            data = json.loads(text)
        except ValueError:
            if fmt != "auto":
                raise SystemExit(f"{args.file}: not JSON")
    if data is not None and (fmt == "guidellm" or (fmt == "auto" and isinstance(data, dict) and "benchmarks" in data)):
        metrics, driver = parsers.parse_guidellm_json(data)[-1], "guidellm"
    elif data is not None:
        metrics, driver = parsers.parse_vllm_json(data), "vllm"
    else:
        try:
            metrics, driver = parsers.parse_vllm_output(text), "vllm"
        except ValueError as exc:
            raise SystemExit(f"{args.file}: {exc}") from exc
    doc = {"tool": "ovms_bench", "version": __version__, "label": args.label, "driver": driver,
           "source": os.path.abspath(args.file), "metrics": metrics,
           "load": {"max_concurrency": metrics.get("max_concurrency"), "request_rate": metrics.get("request_rate")}}
    print(report.format_block(metrics, metrics.get("max_concurrency"), metrics.get("request_rate")))
    if args.result_json:
        report.write_json(doc, args.result_json)
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return {"run": cmd_run, "compare": cmd_compare, "parse": cmd_parse}[args.command](args)
