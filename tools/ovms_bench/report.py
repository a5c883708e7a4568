"""The result document (JSON), the console report (vLLM's block plus instance shares and the
configuration), and the comparison of several results (scaling ratio, PNG plot)."""

from __future__ import annotations

import json
import math
import os

from ovms_bench.stats import percentile_key

WIDTH = 50
RATIO_KEYS = ("request_throughput", "output_throughput", "total_token_throughput")


def _header(title: str, fill: str) -> str:
    return f"{title:{fill}^{WIDTH}}"


def _row(label: str, value, fmt: str = "") -> str:
    if isinstance(value, str) and fmt:
        try:
            value = float(value)
        except ValueError:
            fmt = ""
    if value is None:
        text = "n/a"
    elif isinstance(value, float) and math.isinf(value):
        text = "inf"
    else:
        text = format(value, fmt)
    return f"{label:<40} {text:<10}".rstrip()


def format_block(metrics: dict, max_concurrency=None, request_rate=None, percentiles=(99.0,)) -> str:
    """vLLM's ``Serving Benchmark Result`` block, same labels and layout (TTFT, TPOT, ITL; E2EL too
    when the metrics have it)."""
    lines = [_header(" Serving Benchmark Result ", "="),
             _row("Successful requests:", metrics.get("completed")),
             _row("Failed requests:", metrics.get("failed", 0))]
    if max_concurrency is not None:
        lines.append(_row("Maximum request concurrency:", max_concurrency))
    if isinstance(request_rate, str):
        request_rate = float(request_rate) if request_rate.replace(".", "", 1).isdigit() else None
    if request_rate is not None and not math.isinf(request_rate):
        lines.append(_row("Request rate configured (RPS):", request_rate, ".2f"))
    lines += [_row("Benchmark duration (s):", metrics.get("duration"), ".2f"),
              _row("Total input tokens:", metrics.get("total_input_tokens")),
              _row("Total generated tokens:", metrics.get("total_output_tokens")),
              _row("Request throughput (req/s):", metrics.get("request_throughput"), ".2f"),
              _row("Output token throughput (tok/s):", metrics.get("output_throughput"), ".2f"),
              _row("Total Token throughput (tok/s):", metrics.get("total_token_throughput"), ".2f")]
    sections = (("ttft", "TTFT", "Time to First Token"),
                ("tpot", "TPOT", "Time per Output Token (excl. 1st token)"),
                ("itl", "ITL", "Inter-token Latency"),
                ("e2el", "E2EL", "End-to-end Latency"))
    for key, name, title in sections:
        if f"mean_{key}_ms" not in metrics:
            continue
        lines.append(_header(title, "-"))
        lines.append(_row(f"Mean {name} (ms):", metrics.get(f"mean_{key}_ms"), ".2f"))
        lines.append(_row(f"Median {name} (ms):", metrics.get(f"median_{key}_ms"), ".2f"))
        for p in percentiles:
            pk = percentile_key(p)
            lines.append(_row(f"{pk.upper()} {name} (ms):", metrics.get(f"{pk}_{key}_ms"), ".2f"))
    lines.append("=" * WIDTH)
    return "\n".join(lines)


def format_shares(shares: dict | None) -> str:
    if not shares:
        return ""
    lines = [_header(" Requests per instance ", "-")]
    for address, info in shares["instances"].items():
        name = f"{info['instance']} ({address})" if info.get("instance") else address
        errors = f", {info['errors']} errors" if info.get("errors") else ""
        lines.append(_row(f"{name}:", f"{info['requests']} ({100 * info['share']:.1f}%{errors})"))
    unit = shares.get("unit", "requests")
    lines.append(_row(f"{unit.capitalize()} in the balancer log:", shares["requests"]))
    if unit != "requests":
        lines.append(_row("Note:", "stream (L4) balancer: shares of TCP connections"))
    if shares.get("retried"):
        lines.append(_row("Retried on another instance:", shares["retried"]))
    return "\n".join(lines)


def format_configuration(doc: dict) -> str:
    load, client, conf = doc.get("load", {}), doc.get("client", {}), doc.get("configuration", {})
    lines = [_header(" Configuration ", "-")]
    if doc.get("label"):
        lines.append(_row("Label:", doc["label"]))
    lines.append(_row("Target:", doc.get("target", {}).get("url")))
    lines.append(_row("Driver:", doc.get("driver")))
    for key in ("mode", "image", "balancer"):
        if conf.get(key) is not None:
            lines.append(_row(f"{key.capitalize()}:", conf[key]))
    for inst in conf.get("instances") or []:
        where = f"{inst.get('address', '')}:{inst.get('port', '')}".strip(":")
        lines.append(_row(f"Instance {inst.get('name', '?')}:",
                          f"cpus {inst.get('cpuset_cpus', 'unpinned') or 'unpinned'} "
                          f"mems {inst.get('cpuset_mems', '-') or '-'} {where}".rstrip()))
    for key, value in sorted(conf.items()):
        if key not in ("mode", "image", "balancer", "instances"):
            lines.append(_row(f"{key}:", value if not isinstance(value, (dict, list)) else json.dumps(value)))
    lines.append(_row("Max concurrency:", load.get("max_concurrency") or "unlimited"))
    lines.append(_row("Request rate (req/s):", load.get("request_rate")))
    counts = f"{load.get('num_prompts')} / {load.get('warmup_requests')} / {load.get('seed')}"
    lines.append(_row("Prompts / warm-up / seed:", counts))
    lines.append(_row("Dataset:", load.get("dataset")))
    if load.get("ttft_rule"):
        rules = {"content": "first chunk with text", "vllm": "first chunk with choices (vLLM)"}
        lines.append(_row("First token counted at:", rules.get(load["ttft_rule"], load["ttft_rule"])))
    cpus = client.get("cpus") or "?"
    pinned = "pinned" if client.get("pinned") else "not pinned"
    lines.append(_row("Client CPUs:", f"{cpus} ({pinned})"))
    if client.get("overlap"):
        lines.append(_row("WARNING client shares CPUs:", client["overlap"]))
    tok = doc.get("metrics", {}).get("output_tokens_source")
    if tok:
        lines.append(_row("Output tokens counted from:", tok))
    return "\n".join(lines)


def format_report(doc: dict) -> str:
    load = doc.get("load", {})
    parts = [format_block(doc["metrics"], load.get("max_concurrency"), load.get("request_rate"),
                          load.get("percentiles", (99.0,))),
             format_shares(doc.get("instances_share")),
             format_configuration(doc)]
    return "\n".join(p for p in parts if p)


def _json_safe(value):
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return "inf" if value > 0 else ("-inf" if value < 0 else None)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(doc: dict, path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(_json_safe(doc), handle, indent=2, sort_keys=False)
        handle.write("\n")


# ------------------------------------------------------------------ comparison

def _label(doc: dict, path: str) -> str:
    return doc.get("label") or os.path.splitext(os.path.basename(path))[0]


def compare(docs: list[tuple[str, dict]], baseline: int = 0) -> dict:
    """Ratios of every configuration's throughput to the baseline's (the first one by default)."""
    if not docs:
        raise ValueError("nothing to compare")
    base = docs[baseline][1]["metrics"]
    rows = []
    for path, doc in docs:
        m = doc["metrics"]
        row = {"label": _label(doc, path), "file": path,
               "instances": len((doc.get("configuration") or {}).get("instances") or []) or None}
        for key in RATIO_KEYS + ("mean_ttft_ms", "median_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "completed", "failed"):
            row[key] = m.get(key)
        for key in RATIO_KEYS:
            row[f"{key}_ratio"] = (m[key] / base[key]) if base.get(key) and m.get(key) is not None else None
        rows.append(row)
    return {"baseline": rows[baseline]["label"], "configurations": rows}


def format_comparison(comp: dict) -> str:
    lines = [_header(" Scaling (vs %s) " % comp["baseline"], "="),
             f"{'configuration':<22}{'req/s':>9}{'out tok/s':>11}{'ratio':>8}{'TTFT mean':>11}{'TTFT p99':>11}"]
    for row in comp["configurations"]:
        ratio = row["output_throughput_ratio"]
        lines.append(f"{row['label'][:21]:<22}{row['request_throughput'] or 0:>9.2f}{row['output_throughput'] or 0:>11.2f}"
                     f"{(f'{ratio:.2f}x' if ratio else 'n/a'):>8}{row['mean_ttft_ms'] or 0:>11.1f}"
                     f"{row['p99_ttft_ms'] or 0:>11.1f}")
    lines.append("=" * WIDTH)
    return "\n".join(lines)


def plot(comp: dict, path: str, title: str = "numaserve.ovms benchmark") -> None:
    """A PNG with throughput (output tok/s, ratio to the baseline on top) and TTFT (mean, median,
    p99) per configuration."""
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise RuntimeError("the plot needs matplotlib (pip install matplotlib, or apt install python3-matplotlib)") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    rows = comp["configurations"]
    labels = [r["label"] for r in rows]
    x = list(range(len(rows)))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(8, 2.2 * len(rows) + 4), 4.5))
    out = [r["output_throughput"] or 0 for r in rows]
    bars = ax1.bar(x, out, color="#3b75af")
    for rect, row in zip(bars, rows):
        ratio = row["output_throughput_ratio"]
        note = f"{row['request_throughput'] or 0:.2f} req/s" + (f"\n{ratio:.2f}x" if ratio else "")
        ax1.annotate(note, (rect.get_x() + rect.get_width() / 2, rect.get_height()), ha="center", va="bottom",
                     fontsize=8)
    ax1.set_xticks(x, labels)
    ax1.set_ylabel("output tokens/s")
    ax1.set_title("Throughput")
    ax1.set_ylim(0, max(out + [1]) * 1.25)
    width = 0.27
    for offset, (key, name) in enumerate((("mean_ttft_ms", "mean"), ("median_ttft_ms", "median"),
                                          ("p99_ttft_ms", "p99"))):
        ax2.bar([i + (offset - 1) * width for i in x], [r[key] or 0 for r in rows], width, label=name)
    ax2.set_xticks(x, labels)
    ax2.set_ylabel("ms")
    ax2.set_title("Time to first token")
    ax2.legend(fontsize=8)
    fig.suptitle(f"{title} (baseline: {comp['baseline']})")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
