# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the benchmark role computes: pure Python, no Ansible imports, unit-tested directly.

Used by the role numaserve.ovms.benchmark through the filters of plugins/filter/benchmark.py:

* describe_instances(): the running model server instances of a host, from ``<engine> inspect``
  output or the container layer's common schema (name, cpusets, image, the address the balancer uses);
* settings_problems(): the benchmark settings that cannot work, one sentence each naming the variable;
* client_cpus(): ``benchmark_client_cpus`` as the cpulist string the load generator takes;
* access_log_command(): the command that prints the balancer's access log (loopback targets only);
* bench_command(): the argv of ``python -m ovms_bench run`` for one configuration;
* configuration() / baseline_configuration(): the deployment descriptions written next to the run;
* baseline_plan(): the one unpinned instance of the baseline (every online CPU but the client's);
* baseline_settings(): the model_server_* settings the baseline takes from its server;
* result(): the fact ``benchmark_result``, the figures of ``<label>.json`` (the load generator's result).
"""

from __future__ import annotations

import json
import math
import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by the collection
    from urlparse import urlsplit  # type: ignore

from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import (
    CpuListError, format_cpulist, parse_cpulist, to_cpu_list)
from ansible_collections.numaserve.ovms.plugins.module_utils.fleet import host_port

__all__ = [
    "BenchmarkError", "DRIVERS", "TTFT_RULES", "access_log_command", "baseline_configuration", "baseline_plan",
    "baseline_settings", "bench_command", "client_cpus", "configuration", "describe_instances",
    "result", "settings_problems",
]

INSTANCE_LABEL = "io.numaserve.instance"
DRIVERS = ("builtin", "vllm", "guidellm")
TTFT_RULES = ("content", "vllm")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("", "0.0.0.0", "::")
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
BASELINE_LABEL = "baseline"
# Facts the model_server role sets (its outputs): not settings, never copied to the baseline host.
MODEL_SERVER_OUTPUTS = re.compile(
    r"^model_server_(endpoints|instance_.*|probe|replaced|removed)$")


class BenchmarkError(ValueError):
    pass


# ---------------------------------------------------------------------------------------------
# Instances


def _record(container):
    """(name, labels, image, cpuset_cpus, cpuset_mems, running, bindings) of one container.

    ``container`` is either one document of ``docker|podman inspect`` (keys Name, Config, HostConfig,
    State) or one record of the container layer's common schema (name, labels, ports, running, and
    image/cpuset_cpus/cpuset_mems when the layer reports them). bindings: [(host_ip, host_port)] in
    container port order.
    """
    if not isinstance(container, dict):
        raise BenchmarkError("expects container records (dicts), got %s" % type(container).__name__)
    if "Config" in container or "HostConfig" in container:
        config = container.get("Config") or {}
        host_config = container.get("HostConfig") or {}
        state = container.get("State") or {}
        bindings = []
        ports = host_config.get("PortBindings") or {}
        for key in sorted(ports):
            for binding in ports[key] or []:
                host_port_text = str((binding or {}).get("HostPort") or "")
                if host_port_text.isdigit():
                    bindings.append((str(binding.get("HostIp") or ""), int(host_port_text)))
        running = state.get("Running", True) if isinstance(state, dict) else True
        return (str(container.get("Name") or "").lstrip("/"), dict(config.get("Labels") or {}),
                config.get("Image"), host_config.get("CpusetCpus") or "", host_config.get("CpusetMems") or "",
                bool(running), bindings)
    ports = sorted(container.get("ports") or [], key=lambda p: int(p.get("container_port") or 0))
    bindings = [(str(p.get("host_ip") or ""), int(p["host_port"])) for p in ports if p.get("host_port")]
    return (str(container.get("name") or "").lstrip("/"), dict(container.get("labels") or {}),
            container.get("image"), container.get("cpuset_cpus") or "", container.get("cpuset_mems") or "",
            bool(container.get("running", True)), bindings)


def describe_instances(containers, host, remote_address, balancer_elsewhere):
    """The running model server instances of ``host``, sorted by instance name.

    Each is ``{host, name, container, image, cpuset_cpus, cpuset_mems, address, port}``: name from the
    io.numaserve.instance label (else the container name); address = the IP the first port is
    published on, or, for a wildcard binding, ``remote_address`` when the balancer runs on another host
    (``balancer_elsewhere``) and 127.0.0.1 when it runs here; port = that published port (None: none).
    """
    out = []
    for container in containers or []:
        name, labels, image, cpus, mems, running, bindings = _record(container)
        if not running:
            continue
        ip = bindings[0][0] if bindings else ""
        if ip in WILDCARD:
            address = str(remote_address) if balancer_elsewhere else "127.0.0.1"
        else:
            address = ip
        out.append({
            "host": host,
            "name": labels.get(INSTANCE_LABEL) or name,
            "container": name,
            "image": image,
            "cpuset_cpus": cpus,
            "cpuset_mems": mems,
            "address": address,
            "port": bindings[0][1] if bindings else None,
        })
    return sorted(out, key=lambda i: i["name"])


# ---------------------------------------------------------------------------------------------
# Settings


def _int(value):
    if isinstance(value, bool):
        raise ValueError(value)
    return int(str(value).strip())


def _rate_ok(value):
    if str(value).strip() == "inf":
        return True
    try:
        return float(value) > 0 and not isinstance(value, bool)
    except (TypeError, ValueError):
        return False


def client_cpus(value):
    """``benchmark_client_cpus`` as a cpulist string ("" = not pinned): text as given, numbers and lists
    formatted. Raises BenchmarkError on anything that is no CPU list."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
        try:
            parse_cpulist(text)
        except CpuListError as exc:
            raise BenchmarkError("benchmark_client_cpus: %s" % exc)
        return text
    try:
        return format_cpulist(to_cpu_list(value, "benchmark_client_cpus"))
    except CpuListError as exc:
        raise BenchmarkError(str(exc))


def settings_problems(settings):
    """Problems of the benchmark settings (keys = the benchmark_* variables without the prefix), one
    sentence each naming the variable; [] when they can work."""
    problems = []

    def need_int(key, minimum, what):
        try:
            if _int(settings[key]) < minimum:
                raise ValueError(settings[key])
        except (TypeError, ValueError):
            problems.append("benchmark_%s must be %s (got %r)" % (key, what, settings[key]))

    target = str(settings.get("target_url") or "")
    if not re.match(r"^https?://[^/]", target):
        problems.append("benchmark_target_url must be an http(s) URL (got %r)" % target)
    if settings.get("driver") not in DRIVERS:
        problems.append("benchmark_driver must be one of %s (got %r)" % (", ".join(DRIVERS), settings.get("driver")))
    if settings.get("ttft_rule") not in TTFT_RULES:
        problems.append("benchmark_ttft_rule must be content or vllm (got %r)" % settings.get("ttft_rule"))
    need_int("num_prompts", 1, "an integer > 0")
    if not _rate_ok(settings.get("request_rate")):
        problems.append("benchmark_request_rate must be a number > 0 or 'inf' (got %r)" % settings.get("request_rate"))
    label = str(settings.get("label") or "")
    if not LABEL.match(label) or label == BASELINE_LABEL:
        problems.append("benchmark_label must be a file-name-safe word (letters, digits, _ . -) other than "
                        "'baseline' (got %r)" % label)
    need_int("max_concurrency", 0, "an integer >= 0 (0: no cap)")
    need_int("input_len", 1, "an integer > 0")
    need_int("output_len", 0, "an integer >= 0 (0: the dataset's answer length)")
    need_int("warmup", 0, "an integer >= 0")
    need_int("seed", 0, "an integer >= 0")
    need_int("request_timeout", 1, "a number of seconds > 0")
    need_int("timeout", 1, "a number of seconds > 0")
    need_int("baseline_port", 1, "a TCP port (1-65535)")
    try:
        if _int(settings["baseline_port"]) > 65535:
            problems.append("benchmark_baseline_port must be a TCP port (1-65535) (got %r)" % settings["baseline_port"])
    except (TypeError, ValueError):
        pass
    try:
        client_cpus(settings.get("client_cpus"))
    except BenchmarkError as exc:
        problems.append(str(exc))
    return problems


def access_log_command(target_url, engine, container, command=None):
    """The command printing the balancer's access log: ``command`` when given (None = derive; "" = no
    shares), else ``<engine> logs --since {since} <container>`` when the target is a loopback URL (the
    balancer runs on the benchmark host), else ""."""
    if command is not None:
        return str(command).strip()
    if (urlsplit(str(target_url)).hostname or "") in LOOPBACK:
        return "%s logs --since {since} %s" % (engine, container)
    return ""


def _common_args(settings):
    s = settings
    args = ["--endpoint", str(s["endpoint"]),
            "--num-prompts", str(s["num_prompts"]),
            "--request-rate", str(s["request_rate"]),
            "--seed", str(s["seed"]),
            "--warmup", str(s["warmup"]),
            "--timeout", str(s["request_timeout"]),
            "--driver", str(s["driver"]),
            "--ttft-rule", str(s["ttft_rule"]),
            "--no-progress"]
    if _int(s.get("max_concurrency") or 0) > 0:
        args += ["--max-concurrency", str(s["max_concurrency"])]
    if s.get("model"):
        args += ["--model", str(s["model"])]
    if s.get("dataset_path"):
        args += ["--dataset-path", str(s["dataset_path"])]
    else:
        args += ["--input-len", str(s["input_len"])]
    if _int(s.get("output_len") or 0) > 0:
        args += ["--output-len", str(s["output_len"])]
    if s.get("ignore_eos") in (True, "true", "True", "yes", 1, "1"):
        args += ["--ignore-eos"]
    cpus = client_cpus(s.get("client_cpus"))
    if cpus:
        args += ["--client-cpus", cpus]
    if s.get("driver_args"):
        args += ["--driver-args", str(s["driver_args"])]
    if s.get("driver_command"):
        args += ["--driver-command", str(s["driver_command"])]
    return args


def bench_command(settings, base_url, label, workdir, output_dir, access_log=""):
    """argv of ``<python> -m ovms_bench run`` for one configuration: the deployment description is
    ``<workdir>/<configuration file>`` (configuration.json, baseline.json for the baseline), the result
    ``<output_dir>/<label>.json`` and ``.png``; ``access_log`` (a command) adds the per-instance shares."""
    config = "baseline.json" if label == BASELINE_LABEL else "configuration.json"
    argv = [str(settings["python"]), "-m", "ovms_bench", "run", "--base-url", str(base_url), "--label", str(label),
            "--config", "%s/%s" % (workdir, config),
            "--result-json", "%s/%s.json" % (output_dir, label),
            "--plot", "%s/%s.png" % (output_dir, label)]
    argv += _common_args(settings)
    if access_log and str(access_log).strip():
        argv += ["--access-log-command", str(access_log).strip()]
    return argv


# ---------------------------------------------------------------------------------------------
# Descriptions


def configuration(instances, mode, balancer):
    """The balanced deployment as the report prints it: mode, image(s), balancer URL, instances."""
    flat = []
    for item in instances or []:
        flat.extend(item if isinstance(item, list) else [item])
    images = []
    for instance in flat:
        if instance.get("image") and instance["image"] not in images:
            images.append(instance["image"])
    return {"mode": "balanced (%s, least_conn)" % mode, "image": ", ".join(images) or None,
            "balancer": balancer, "instances": flat}


def baseline_url(endpoint):
    if not endpoint or "address" not in endpoint or "port" not in endpoint:
        raise BenchmarkError("the baseline has no endpoint (model_server_endpoints of the baseline host is empty)")
    return "http://" + host_port(endpoint["address"], endpoint["port"])


def baseline_configuration(endpoint, source, image):
    """The baseline as the report prints it: one unpinned instance on ``source``, no balancer."""
    endpoint = endpoint or {}
    return {"mode": "baseline: one unpinned instance, no memory binding, no balancer",
            "image": image,
            "instances": [{"name": "baseline", "host": source, "container": endpoint.get("container", ""),
                           "cpuset_cpus": endpoint.get("cpuset_cpus", ""), "cpuset_mems": "",
                           "address": endpoint.get("address", ""), "port": endpoint.get("port")}]}


# ---------------------------------------------------------------------------------------------
# Baseline


def baseline_plan(online, client, port):
    """The baseline's ovms_instances: one instance named baseline on every online CPU (``online``: the
    text of /sys/devices/system/cpu/online) except the client's, no nodes, no memory binding."""
    try:
        cpus = sorted(set(parse_cpulist(online)) - set(parse_cpulist(client_cpus(client))))
    except CpuListError as exc:
        raise BenchmarkError("online CPUs: %s" % exc)
    if not cpus:
        raise BenchmarkError("benchmark_client_cpus (%s) leaves no online CPU (%s) for the baseline"
                             % (client_cpus(client), online.strip()))
    return [{"name": "baseline", "nodes": [], "cpuset_cpus": format_cpulist(cpus), "cpuset_mems": "",
             "rest_port": _int(port), "grpc_port": None, "cpus": len(cpus)}]


def baseline_settings(source_vars, overrides=None):
    """The model_server_* settings of the baseline server (its variables, not the role's output facts),
    then ``overrides`` (benchmark_baseline_model_server), as a dict."""
    out = {}
    for key in sorted(source_vars.keys() if source_vars else []):
        if str(key).startswith("model_server_") and not MODEL_SERVER_OUTPUTS.match(str(key)):
            out[key] = source_vars[key]
    for key, value in (overrides or {}).items():
        if not str(key).startswith("model_server_"):
            raise BenchmarkError("benchmark_baseline_model_server: %r is not a model_server_* variable" % key)
        out[key] = value
    return out


# ---------------------------------------------------------------------------------------------
# Result


def _figure(value):
    """A number of the result document as a float; None when missing, not a number or not finite (the
    load generator writes infinity as "inf", NaN as null)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _count(value):
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def result(document, label=None):
    """The fact ``benchmark_result`` from ``<label>.json`` (``ovms_bench run --result-json``): ``document``
    is its text or the parsed dict.

    {label, completed, failed, ttft_ms: {mean, median, p99}, tpot_ms: {mean, median, p99},
    output_throughput}: ``completed``/``failed`` are request counts (0 when missing); the times (ms) and
    the throughput (output tokens/s) are floats, None when the document does not have them, and the times
    are None when no request completed (the load generator then writes 0 ms, which is no measurement)."""
    name = label or "the benchmark result"
    if isinstance(document, (bytes, bytearray)):
        document = document.decode("utf-8", "replace")
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise BenchmarkError("%s.json is not JSON: %s" % (name, exc))
    if not isinstance(document, dict) or not isinstance(document.get("metrics"), dict):
        raise BenchmarkError("%s.json has no metrics (not a result of ovms_bench run?)" % name)
    metrics = document["metrics"]
    completed = _count(metrics.get("completed"))
    out = {"label": document.get("label") or label or "", "completed": completed,
           "failed": _count(metrics.get("failed")), "output_throughput": _figure(metrics.get("output_throughput"))}
    for kind in ("ttft", "tpot"):
        out["%s_ms" % kind] = dict((stat, _figure(metrics.get("%s_%s_ms" % (stat, kind))) if completed else None)
                                   for stat in ("mean", "median", "p99"))
    return out
