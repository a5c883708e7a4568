"""Drive ``vllm bench serve`` (or ``benchmark_serving.py``) or ``guidellm`` when installed, and turn
their results into ours. Their own output goes to stderr as it comes (progress stays visible)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from ovms_bench import parsers


def _run(cmd: list[str]) -> str:
    sys.stderr.write("+ " + " ".join(shlex.quote(c) for c in cmd) + "\n")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stderr.write(line)
        out.append(line)
    if proc.wait() != 0:
        raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}")
    return "".join(out)


def _command(explicit: str | None, default: list[str], name: str) -> list[str]:
    if explicit:
        return shlex.split(explicit)
    if shutil.which(default[0]) is None:
        raise RuntimeError(f"--driver {name}: {default[0]} is not on PATH (install it, or give --driver-command)")
    return list(default)


def run_vllm(args, model: str, base_url: str) -> dict:
    """``vllm bench serve`` with the same load; metrics from its --save-result JSON, else its console block."""
    cmd = _command(args.driver_command, ["vllm", "bench", "serve"], "vllm")
    with tempfile.TemporaryDirectory(prefix="ovms-bench-vllm-") as tmp:
        cmd += ["--backend", "openai-chat" if args.endpoint.endswith("chat/completions") else "openai",
                "--base-url", base_url, "--endpoint", args.endpoint, "--model", model,
                "--num-prompts", str(args.num_prompts), "--request-rate", str(args.request_rate),
                "--seed", str(args.seed), "--percentile-metrics", "ttft,tpot,itl,e2el",
                "--save-result", "--result-dir", tmp, "--result-filename", "result.json"]
        if args.max_concurrency:
            cmd += ["--max-concurrency", str(args.max_concurrency)]
        if args.dataset_path:
            cmd += ["--dataset-name", "sharegpt", "--dataset-path", args.dataset_path]
            if args.output_len:
                cmd += ["--sharegpt-output-len", str(args.output_len)]
        else:
            cmd += ["--dataset-name", "random", "--random-input-len", str(args.input_len),
                    "--random-output-len", str(args.output_len or 128)]
        if args.ignore_eos:
            cmd.append("--ignore-eos")
        cmd += shlex.split(args.driver_args or "")
        text = _run(cmd)
        saved = os.path.join(tmp, "result.json")
        if os.path.exists(saved):
            metrics = parsers.parse_vllm_json(parsers.load_json(saved))
            block = parsers.parse_vllm_blocks(text)
            if block and not metrics.get("failed"):
                metrics["failed"] = block[-1].get("failed", 0)
            return metrics
        return parsers.parse_vllm_output(text)


def run_guidellm(args, model: str, base_url: str) -> dict:
    """``guidellm benchmark`` with a matching profile: poisson at --request-rate, concurrent at
    --max-concurrency, or throughput; synthetic data of --input-len/--output-len unless a dataset is given."""
    cmd = _command(args.driver_command, ["guidellm"], "guidellm") + ["benchmark"]
    help_text = subprocess.run(cmd + ["--help"], capture_output=True, text=True, check=False).stdout
    profile_flag = "--profile" if "--profile" in help_text else "--rate-type"
    if args.request_rate != float("inf"):
        profile = ["poisson", "--rate", str(args.request_rate)]
    elif args.max_concurrency:
        profile = ["concurrent", "--rate", str(args.max_concurrency)]
    else:
        profile = ["throughput"]
    data = args.dataset_path or f"prompt_tokens={args.input_len},output_tokens={args.output_len or 128}"
    with tempfile.TemporaryDirectory(prefix="ovms-bench-guidellm-") as tmp:
        out = os.path.join(tmp, "benchmarks.json")
        cmd += ["--target", base_url, "--model", model, profile_flag] + profile + [
            "--max-requests", str(args.num_prompts), "--data", data, "--output-path", out]
        cmd += shlex.split(args.driver_args or "")
        _run(cmd)
        with open(out, encoding="utf-8") as handle:
            return parsers.parse_guidellm_json(json.load(handle))[-1]
