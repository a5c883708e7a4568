"""The command line: result document, console block, instance shares, pinning, compare and plot."""

import json
import os
import stat
import sys
from datetime import datetime, timedelta, timezone

import pytest

from ovms_bench import cli, parsers, report
from conftest import FIXTURES

ACCESS = '127.0.0.1 [{t}] "POST /v3/chat/completions HTTP/1.1" 200 upstream={up} rt=0.1 urt=0.1\n'


def write_access_log(path, upstreams, when=None):
    """Lines as nginx writes them; stamped a minute from now (the run reads entries since it started)."""
    stamp = (when or datetime.now(timezone.utc) + timedelta(seconds=60)).strftime("%d/%b/%Y:%H:%M:%S %z")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(ACCESS.format(t="01/Jan/2020:00:00:00 +0000", up="127.0.0.1:9999"))  # an old run
        for upstream in upstreams:
            handle.write(ACCESS.format(t=stamp, up=upstream))


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    return code, capsys.readouterr()


def test_run_writes_a_complete_report(fake_server, tmp_path, capsys):
    url, handler = fake_server
    handler.delay = 0.002
    conf = {"mode": "balanced", "image": "localhost/numaserve/ovms-standin:local", "balancer": "nginx least_conn",
            "instances": [{"name": "node0", "cpuset_cpus": "8-15", "cpuset_mems": "0", "address": "127.0.0.1", "port": 8003},
                          {"name": "node1", "cpuset_cpus": "16-23", "cpuset_mems": "1", "address": "127.0.0.1", "port": 8004}]}
    (tmp_path / "conf.json").write_text(json.dumps(conf))
    # one warm-up request first, then the 6 measured ones (3 + 3)
    write_access_log(tmp_path / "access.log", ["127.0.0.1:8003"] + ["127.0.0.1:8003", "127.0.0.1:8004"] * 3)
    result = tmp_path / "out" / "balanced.json"
    code, out = run_cli(capsys, "run", "--base-url", url, "--num-prompts", "6", "--output-len", "5",
                        "--max-concurrency", "2", "--config", str(tmp_path / "conf.json"), "--set", "note=ci",
                        "--label", "balanced", "--access-log", str(tmp_path / "access.log"),
                        "--result-json", str(result), "--no-progress")
    assert code == 0
    doc = json.loads(result.read_text())
    assert doc["label"] == "balanced" and doc["driver"] == "builtin"
    assert doc["target"]["model"] == "fake-model"            # discovered from /v3/models
    assert doc["load"]["max_concurrency"] == 2 and doc["load"]["request_rate"] == "inf"
    assert doc["configuration"]["note"] == "ci" and len(doc["configuration"]["instances"]) == 2
    assert doc["client"]["cpus"] and doc["client"]["pinned"] is False
    assert doc["warmup"] == {"requests": 1, "succeeded": 1} and doc["errors"] == {}
    m = doc["metrics"]
    for key in ("completed", "failed", "duration", "total_input_tokens", "total_output_tokens",
                "request_throughput", "output_throughput", "total_token_throughput"):
        assert key in m
    for metric in ("ttft", "tpot", "itl", "e2el"):
        for stat_name in ("mean", "median", "p99", "std"):
            assert f"{stat_name}_{metric}_ms" in m
    assert (m["completed"], m["total_output_tokens"]) == (6, 30)
    shares = doc["instances_share"]
    assert shares["requests"] == 6                           # the warm-up line is not counted
    assert {i["instance"]: i["requests"] for i in shares["instances"].values()} == {"node0": 3, "node1": 3}
    # the printed block is vLLM's: our own parser (and users' scripts) read the same figures back
    block = parsers.parse_vllm_output(out.out)
    assert block["completed"] == 6 and block["max_concurrency"] == 2
    assert block["total_output_tokens"] == 30
    assert block["mean_ttft_ms"] == pytest.approx(m["mean_ttft_ms"], abs=0.006)
    assert "Total Token throughput (tok/s):" in out.out
    assert "node0 (127.0.0.1:8003):" in out.out and "8-15" in out.out and "not pinned" in out.out


def test_client_pinning_is_applied_and_reported(fake_server, tmp_path, capsys):
    url, handler = fake_server
    handler.delay = 0.001
    before = os.sched_getaffinity(0)
    cpu = min(before)
    conf = {"instances": [{"name": "node0", "cpuset_cpus": str(cpu)}]}
    (tmp_path / "c.json").write_text(json.dumps(conf))
    try:
        code, out = run_cli(capsys, "run", "--base-url", url, "--model", "m", "--num-prompts", "2", "--output-len", "2",
                            "--client-cpus", str(cpu), "--config", str(tmp_path / "c.json"),
                            "--result-json", str(tmp_path / "r.json"), "--no-progress")
        assert os.sched_getaffinity(0) == {cpu}
    finally:
        os.sched_setaffinity(0, before)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["client"]["pinned"] is True and doc["client"]["cpus"] == str(cpu)
    assert doc["client"]["overlap"] == str(cpu)              # shares a CPU with an instance: said so
    assert "WARNING client shares CPUs" in out.out and "warning" in out.err


def test_pinning_to_a_missing_cpu_fails_clearly():
    with pytest.raises(SystemExit, match="--client-cpus 4095"):
        cli.pin_client("4095")


def test_cpulist_helpers():
    assert cli.parse_cpulist("0-3,8, 10") == {0, 1, 2, 3, 8, 10}
    assert cli.format_cpulist({0, 1, 2, 3, 8, 10, 11}) == "0-3,8,10-11"


def doc_with(label, req_s, out_tok_s, ttft):
    return {"label": label, "configuration": {}, "metrics": {
        "completed": 10, "failed": 0, "request_throughput": req_s, "output_throughput": out_tok_s,
        "total_token_throughput": out_tok_s * 2, "mean_ttft_ms": ttft, "median_ttft_ms": ttft * 0.9,
        "p99_ttft_ms": ttft * 2, "mean_tpot_ms": 20.0}}


def test_compare_ratio_and_plot(tmp_path, capsys):
    report.write_json(doc_with("baseline", 2.23, 443.65, 900.0), str(tmp_path / "base.json"))
    report.write_json(doc_with("balanced", 4.09, 752.18, 500.0), str(tmp_path / "bal.json"))
    png, comp_json = tmp_path / "plots" / "scaling.png", tmp_path / "comparison.json"
    code, out = run_cli(capsys, "compare", str(tmp_path / "base.json"), str(tmp_path / "bal.json"),
                        "--plot", str(png), "--output", str(comp_json))
    assert code == 0
    comp = json.loads(comp_json.read_text())
    assert comp["baseline"] == "baseline"
    balanced = comp["configurations"][1]
    assert balanced["request_throughput_ratio"] == pytest.approx(4.09 / 2.23)
    assert balanced["output_throughput_ratio"] == pytest.approx(752.18 / 443.65)
    assert "1.70x" in out.out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    # a different baseline by label
    code, out = run_cli(capsys, "compare", str(tmp_path / "base.json"), str(tmp_path / "bal.json"),
                        "--baseline", "balanced")
    assert "0.59x" in out.out


def test_compare_rejects_foreign_json(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(SystemExit, match="ovms-bench parse"):
        cli.main(["compare", str(tmp_path / "x.json")])


@pytest.mark.parametrize("name, completed", [("vllm-0.7.3-benchmark_serving.txt", 2000),
                                             ("vllm-result.json", 48), ("guidellm-benchmarks.json", 118)])
def test_parse_command(tmp_path, capsys, name, completed):
    code, out = run_cli(capsys, "parse", os.path.join(FIXTURES, name), "--label", "x",
                        "--result-json", str(tmp_path / "r.json"))
    assert code == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["metrics"]["completed"] == completed
    assert parsers.parse_vllm_output(out.out)["completed"] == completed


def test_vllm_driver_builds_the_command_and_reads_its_result(fake_server, tmp_path, capsys):
    """A stand-in `vllm` executable records its arguments and answers like vllm bench serve."""
    url = fake_server[0]
    fake = tmp_path / "vllm"
    fake.write_text(f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
open({str(tmp_path / 'argv.json')!r}, 'w').write(json.dumps(args))
print(open({os.path.join(FIXTURES, 'vllm-bench-serve-0.11.txt')!r}).read())
d = args[args.index('--result-dir') + 1]
data = json.load(open({os.path.join(FIXTURES, 'vllm-result.json')!r}))
json.dump(data, open(os.path.join(d, args[args.index('--result-filename') + 1]), 'w'))
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    code, out = run_cli(capsys, "run", "--driver", "vllm", "--driver-command", f"{fake} bench serve",
                        "--base-url", url, "--model", "meta-llama/Meta-Llama-3-8B-Instruct", "--num-prompts", "50",
                        "--max-concurrency", "8", "--seed", "10", "--result-json", str(tmp_path / "r.json"),
                        "--driver-args", "--tokenizer /models/llama")
    assert code == 0
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv[:2] == ["bench", "serve"]
    for flag, value in (("--backend", "openai-chat"), ("--base-url", url), ("--endpoint", "/v3/chat/completions"),
                        ("--num-prompts", "50"), ("--max-concurrency", "8"), ("--seed", "10"),
                        ("--dataset-name", "random"), ("--tokenizer", "/models/llama")):
        assert argv[argv.index(flag) + 1] == value
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["driver"] == "vllm" and doc["metrics"]["completed"] == 48 and doc["metrics"]["failed"] == 2


def test_missing_driver_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SystemExit, match="guidellm is not on PATH"):
        cli.main(["run", "--driver", "guidellm", "--model", "m", "--base-url", "http://127.0.0.1:9"])


def test_entry_points(tmp_path):
    """tools/ovms-bench and `python -m ovms_bench` (what the playbook runs) both start the CLI."""
    import subprocess  # pylint: disable=import-outside-toplevel
    from conftest import ROOT  # pylint: disable=import-outside-toplevel
    script = os.path.join(ROOT, "tools", "ovms-bench")
    out = subprocess.run([sys.executable, script, "parse", os.path.join(FIXTURES, "vllm-0.7.3-benchmark_serving.txt")],
                         capture_output=True, text=True, check=True).stdout
    assert "Request throughput (req/s):              4.09" in out
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tools"))
    res = subprocess.run([sys.executable, "-m", "ovms_bench", "run", "--help"], capture_output=True, text=True,
                         env=env, cwd=str(tmp_path), check=True)
    assert "--max-concurrency" in res.stdout and "--client-cpus" in res.stdout


def test_guidellm_driver_builds_the_command_and_reads_its_report(fake_server, tmp_path, capsys):
    """A stand-in `guidellm` executable: --help names --profile (new versions), the report is its JSON."""
    url = fake_server[0]
    fake = tmp_path / "guidellm"
    fake.write_text(f"""#!{sys.executable}
import json, shutil, sys
args = sys.argv[1:]
if "--help" in args:
    print("Usage: guidellm benchmark [OPTIONS]\\n  --target TEXT\\n  --profile TEXT\\n  --rate FLOAT")
    sys.exit(0)
open({str(tmp_path / 'argv.json')!r}, 'w').write(json.dumps(args))
shutil.copy({os.path.join(FIXTURES, 'guidellm-benchmarks.json')!r}, args[args.index('--output-path') + 1])
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    code, _out = run_cli(capsys, "run", "--driver", "guidellm", "--driver-command", str(fake), "--base-url", url,
                         "--model", "m", "--num-prompts", "120", "--request-rate", "2", "--input-len", "256",
                         "--output-len", "128", "--result-json", str(tmp_path / "r.json"))
    assert code == 0
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv[0] == "benchmark"
    for flag, value in (("--target", url), ("--profile", "poisson"), ("--rate", "2.0"), ("--max-requests", "120"),
                        ("--data", "prompt_tokens=256,output_tokens=128")):
        assert argv[argv.index(flag) + 1] == value
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["driver"] == "guidellm" and doc["metrics"]["completed"] == 118
