# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What OVMS v2026.3 does with a model source, and the command line the model_server role gives it.

Pure Python (no Ansible imports). Every rule cites the OVMS source it follows
(openvinotoolkit/model_server at tag v2026.3):

* read_source(): the host side of a model source (config.json or a single model directory), checked
  as OVMS resolves it, with the content hash that decides when an instance must be replaced;
* check_settings(), ovms_command(), rest_workers(): the OVMS arguments of one instance;
* readiness(): what a /v1/config answer says about the models the gate waits for;
* wait_ready() and gate_message(): the readiness gate, with crash detection.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time

__all__ = [
    "MissingSourceError", "SourceError", "check_settings", "gate_message", "metrics_flag", "ovms_command",
    "parse_graph", "read_source",
    "readiness", "rest_workers", "wait_ready",
]

GRAPH_FILE = "graph.pbtxt"  # DEFAULT_GRAPH_FILENAME
DEFAULT_MAX_NUM_SEQS = 256  # src/llm/llm_calculator.proto: max_num_seqs [default = 256]
MAX_REST_WORKERS = 10000  # src/config.cpp MAX_REST_WORKERS
RESERVED_OPEN_FILES = 15  # src/config.cpp RESERVED_OPEN_FILES
# src/config.cpp: the default is min(cores, (nofile - 15) / 7); an explicit value must be <= (nofile - 15) / 6.
OPEN_FILES_PER_DEFAULT_WORKER = 7
OPEN_FILES_PER_WORKER = 6
# FileSystem::isLocalFilesystem: other prefixes are cloud storage, read by OVMS itself.
CLOUD_PREFIXES = ("s3://", "gs://", "azure://", "azfs://")
# ModelManager::readAvailableVersions: a regular file with one of these extensions is a model of its own.
SINGLE_FILE_MODEL_EXTENSIONS = (".xml", ".onnx", ".pdmodel", ".pdiparams", ".pb", ".tflite")
# src/cli_parser.cpp prepareModel: the CLI settings recorded in userSetSingleModelArguments;
# src/modelmanager.cpp validateUserSettingsInSingleModelCliGraphStart allows only the first three
# when the model directory holds graph.pbtxt.
SINGLE_GRAPH_ALLOWED = ("model_name", "model_path", "plugin_config")
SINGLE_MODEL_SETTINGS = ("batch_size", "shape", "layout", "mean", "scale", "color_format", "precision",
                         "model_version_policy", "nireq", "target_device", "config_path")
# The role sets these itself; model_server_extra_args must not repeat them.
OWNED_FLAGS = ("--rest_port", "--port", "--config_path", "--model_path", "--model_name", "--metrics_enable",
               "--rest_workers", "--file_system_poll_wait_seconds", "--target_device", "--plugin_config")
# What the rolling update's drain reads on /metrics (playbooks/includes/roll_one.yml).
DRAIN_METRICS = {"graph": "ovms_current_graphs", "model": "ovms_current_requests"}
# Files whose whole content goes into the content hash (small text that changes behaviour); every
# other file contributes its path, size and modification time.
HASHED_CONTENT = re.compile(r"(\.pbtxt|(^|/)subconfig\.json|(^|/)config\.json)$")


class SourceError(Exception):
    """A model source that cannot be read at all (the message names the path)."""


class MissingSourceError(SourceError):
    """The model source is not there: no config.json file (config mode), no directory (single-model mode)."""


def _strip_comments(text):
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def parse_graph(text):
    """The facts of a MediaPipe graph.pbtxt the role needs.

    Returns {calculators, llm (number of LLM calculator nodes), max_num_seqs (what its LLM nodes can
    batch together, the proto default 256 for a node that does not say), models_paths, plugin_config}.
    """
    body = _strip_comments(text)
    calculators = re.findall(r'\bcalculator\s*:\s*"([^"]+)"', body)
    llm = sum(1 for name in calculators if name.endswith("LLMCalculator"))
    seqs = [int(v) for v in re.findall(r"(?<![\w])max_num_seqs\s*:\s*(\d+)", body)]
    max_num_seqs = None
    if llm:
        max_num_seqs = sum(seqs[:llm]) + DEFAULT_MAX_NUM_SEQS * max(llm - len(seqs), 0)
    models_paths = re.findall(r'(?<![\w])(?:draft_)?models_path\s*:\s*"([^"]*)"', body)
    plugin = re.search(r"(?<![\w])plugin_config\s*:\s*'([^']*)'", body)
    return {"calculators": calculators, "llm": llm, "max_num_seqs": max_num_seqs,
            "models_paths": models_paths, "plugin_config": plugin.group(1) if plugin else None}


def find_graph(directory):
    """graph.pbtxt of a model directory, or of its version 1 (ModelManager::CheckStartFromGraph); or None."""
    for candidate in (os.path.join(directory, GRAPH_FILE), os.path.join(directory, "1", GRAPH_FILE)):
        if os.path.isfile(candidate):
            return candidate
    return None


def _version_dirs(directory):
    """Version subdirectories OVMS would load (readAvailableVersions: numeric names > 0)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(int(n) for n in names if n.isdigit() and int(n) > 0 and os.path.isdir(os.path.join(directory, n)))


def _inside(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


class _Resolver:
    """Maps a path as OVMS sees it in the container to the host, or says why it cannot."""

    def __init__(self, host_root, container_root, host_base, container_base):
        self.host_root = os.path.normpath(host_root)
        self.container_root = container_root.rstrip("/") or "/"
        self.host_base = host_base
        self.container_base = container_base

    def resolve(self, given):
        """(container path, host path, problem) of GIVEN, relative to the base directory when not absolute."""
        if given.startswith(CLOUD_PREFIXES):
            return given, None, None
        if ".." in given.replace("\\", "/").split("/"):
            # ModelManager::readAvailableVersions: "Path ... escape with .. is forbidden."
            return None, None, "contains '..', which OVMS refuses (escape with .. is forbidden)"
        if given.startswith("/"):
            if not _inside(os.path.normpath(given), self.container_root):
                return given, None, ("is an absolute path outside the mounted directory %s: the container sees only %s; "
                                     "write it relative to config.json" % (self.container_root, self.container_root))
            rest = os.path.relpath(os.path.normpath(given), self.container_root)
            return given, os.path.normpath(os.path.join(self.host_root, rest)), None
        # FileSystem::setPath: relative paths are appended to the config file's directory.
        return (self.container_base.rstrip("/") + "/" + given, os.path.normpath(os.path.join(self.host_base, given)), None)

    def check_on_host(self, host_path):
        """A problem when the host path leaves the mount through a symlink or does not exist."""
        real = os.path.realpath(host_path)
        if not _inside(real, os.path.realpath(self.host_root)):
            return "resolves to %s, outside the mounted directory %s (a symlink the container cannot follow)" % (
                real, self.host_root)
        if not os.path.exists(host_path):
            return "does not exist on the host (%s)" % host_path
        return None


def _servable_dir(resolver, name, kind, given, default_graph=GRAPH_FILE):
    """One servable of config.json: where it is, what it is, and what is wrong with it."""
    container, host, problem = resolver.resolve(given)
    entry = {"name": name, "kind": kind, "base_path": given, "container_path": container, "host_path": host,
             "graph": None, "max_num_seqs": None, "llm": 0, "problem": problem}
    if problem or host is None:
        return entry
    problem = resolver.check_on_host(host)
    if problem:
        entry["problem"] = problem
        return entry
    if kind == "graph":
        # MediapipeGraphConfig::setGraphPath: graph_path is relative to base_path.
        graph, problem = os.path.join(host, default_graph), None
        if default_graph.startswith("/"):
            graph, problem = resolver.resolve(default_graph)[1:]
        if problem or graph is None or not os.path.isfile(graph):
            entry["problem"] = problem or "has no graph file %s" % (graph or default_graph)
            return entry
    else:
        graph = find_graph(host) if os.path.isdir(host) else None
        if graph:
            entry["kind"] = "graph"
        elif os.path.isdir(host):
            if not _version_dirs(host):
                # readAvailableVersions: "No version found for model in path"; the model stays without status.
                entry["problem"] = ("holds neither graph.pbtxt nor a version directory (1/, 2/, ...): OVMS would list "
                                    "the model with no version and never load it")
        elif not host.endswith(SINGLE_FILE_MODEL_EXTENSIONS):
            entry["problem"] = "is a file, not a model directory"
    if graph:
        entry["graph"] = graph
        facts = _read_graph(graph)
        entry["llm"] = facts["llm"]
        entry["max_num_seqs"] = facts["max_num_seqs"]
        entry["models_paths"] = [os.path.normpath(os.path.join(os.path.dirname(graph), p))
                                 for p in facts["models_paths"] if p and not p.startswith(CLOUD_PREFIXES)
                                 and not p.startswith("/")]
    return entry


def _read_graph(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return parse_graph(fh.read())
    except OSError:
        return parse_graph("")


def _read_config(path):
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SourceError("cannot be read (%s)" % exc.strerror)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError("is not valid JSON (%s)" % exc)
    if not isinstance(doc, dict):
        raise SourceError("is not a JSON object")
    return raw, doc


def _config_entries(doc):
    """(name, kind, base_path, graph_path, problem) per entry of config.json (ModelManager::ConfigLoader)."""
    entries = []
    for index, item in enumerate(doc.get("model_config_list") or []):
        config = item.get("config") if isinstance(item, dict) else None
        name = config.get("name") if isinstance(config, dict) else None
        base = config.get("base_path") if isinstance(config, dict) else None
        if not isinstance(name, str) or not name:
            entries.append((None, "model", None, None, "model_config_list[%d] has no config.name" % index))
        elif not isinstance(base, str):
            entries.append((name, "model", None, None, "has no config.base_path"))
        else:
            entries.append((name, "model", base, None, None))
    for index, item in enumerate(doc.get("mediapipe_config_list") or []):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            entries.append((None, "graph", None, None, "mediapipe_config_list[%d] has no name" % index))
            continue
        # MediapipeGraphConfig::parseNode: base_path defaults to <name>/, graph_path to graph.pbtxt in it.
        base = item.get("base_path") or (name + "/")
        entries.append((name, "graph", base, item.get("graph_path") or GRAPH_FILE, None))
    return entries


def read_source(models_dir, config_file="config.json", model_path="", model_name="", container_dir=None):
    """The model source as OVMS will see it, read on the host.

    Config mode (MODEL_PATH empty): MODELS_DIR is mounted at CONTAINER_DIR (default /workspace) and
    OVMS reads CONTAINER_DIR/CONFIG_FILE. Single-model mode: the host directory MODEL_PATH is mounted
    at CONTAINER_DIR (default /model) and served as MODEL_NAME.

    Returns {mode, graph (single mode: the directory holds graph.pbtxt), config_path, servables,
    monitoring, content_hash, problems}: each problem is one sentence naming the model and the path.
    """
    problems = []
    digest = hashlib.sha256()
    if model_path:
        container_dir = container_dir or "/model"
        host = os.path.normpath(model_path)
        resolver = _Resolver(host, container_dir, host, container_dir)
        if not os.path.isdir(host):
            raise MissingSourceError("is not a directory")
        servable = _servable_dir(resolver, model_name, "model", container_dir)
        servable["base_path"] = container_dir
        servables = [servable]
        monitoring = None
        mode, config_path = "single", None
    else:
        container_dir = container_dir or "/workspace"
        config_path = os.path.normpath(os.path.join(models_dir, config_file))
        if not os.path.isfile(config_path):
            raise MissingSourceError("does not exist")
        raw, doc = _read_config(config_path)
        digest.update(b"config.json\0" + raw + b"\0")
        resolver = _Resolver(models_dir, container_dir, os.path.dirname(config_path),
                             os.path.dirname(container_dir.rstrip("/") + "/" + config_file))
        servables, seen = [], set()
        for name, kind, base, graph_path, problem in _config_entries(doc):
            if problem:
                problems.append(("model %s: " % name if name else "") + problem)
                continue
            if name in seen:
                continue  # OVMS loads the first entry of a name only
            seen.add(name)
            servables.append(_servable_dir(resolver, name, kind, base, graph_path or GRAPH_FILE))
        monitoring = doc.get("monitoring") if isinstance(doc.get("monitoring"), dict) else None
        mode = "config"
    for servable in servables:
        if servable["problem"]:
            problems.append("model %s: base_path '%s'%s %s" % (
                servable["name"], servable["base_path"],
                " (%s in the container)" % servable["container_path"]
                if servable["container_path"] and servable["container_path"] != servable["base_path"] else "",
                servable["problem"]))
    _hash_files(digest, servables)
    single_graph = mode == "single" and servables[0]["kind"] == "graph"
    return {"mode": mode, "graph": single_graph, "config_path": config_path, "container_dir": container_dir,
            "servables": [{k: v for k, v in s.items() if k != "problem"} for s in servables],
            "monitoring": monitoring, "content_hash": digest.hexdigest(), "problems": problems}


def _hash_files(digest, servables):
    """Path, size and mtime of every file of each servable (and of the model folders its graph names);
    the full content of graph and subconfig files. Cheap on multi-GB weights, and any rewrite shows."""
    roots = []
    for servable in servables:
        for root in [servable["host_path"]] + servable.get("models_paths", []):
            if root and os.path.exists(root) and not any(_inside(root, r) for r in roots):
                roots.append(root)
    for root in sorted(roots):
        files = [root] if os.path.isfile(root) else sorted(
            os.path.join(walked[0], f) for walked in os.walk(root, followlinks=True) for f in walked[2])
        for path in files:
            rel = os.path.relpath(path, root) if path != root else os.path.basename(path)
            try:
                st = os.stat(path)
            except OSError:
                continue
            digest.update(("%s\0%s\0" % (root, rel)).encode("utf-8", "replace"))
            if HASHED_CONTENT.search(rel) and st.st_size <= 1 << 20:
                try:
                    with open(path, "rb") as fh:
                        digest.update(fh.read())
                except OSError:
                    digest.update(b"unreadable")
            else:
                digest.update(("%d %d" % (st.st_size, st.st_mtime_ns)).encode())
            digest.update(b"\0")


def metrics_flag(source, metrics_enable):
    """(pass --metrics_enable?, problem or None).

    ModelManager::ConfigLoader::loadMetricsConfig: --metrics_enable together with a `monitoring`
    object in config.json is "Metrics configuration duplicated in configuration file and CLI
    parameters" and OVMS exits. Then config.json owns metrics: the flag is left out, and the section
    must enable what the rolling update's drain reads on /metrics.
    """
    monitoring = source.get("monitoring")
    if monitoring is None:
        return bool(metrics_enable), None
    if not metrics_enable:
        return False, None
    metrics = monitoring.get("metrics")
    wanted = sorted({DRAIN_METRICS[s["kind"]] for s in source.get("servables", [])})
    why = None
    if not isinstance(metrics, dict) or metrics.get("enable") is not True:
        why = "it does not set metrics.enable: true"
    elif metrics.get("endpoint_path", "/metrics") != "/metrics":
        why = "it moves the endpoint to %s" % metrics.get("endpoint_path")
    elif "metrics_list" in metrics:
        missing = [m for m in wanted if m not in (metrics.get("metrics_list") or [])]
        if missing:
            why = "its metrics_list lacks %s" % ", ".join(missing)
    if why is None:
        return False, None
    return False, (
        "model_server_metrics_enable: %s has a 'monitoring' section, so OVMS refuses --metrics_enable "
        "(\"Metrics configuration duplicated\") and the role leaves the flag out; but %s, and the rolling update "
        "drains an instance by reading %s on /metrics. Set monitoring.metrics to {\"enable\": true} (a metrics_list "
        "must include %s), or remove the section and let the role pass --metrics_enable, or set "
        "model_server_metrics_enable: false (instances are then replaced without waiting for their requests)."
        % (source.get("config_path") or "config.json", why, " and ".join(wanted), ", ".join(wanted)))


def default_rest_workers(cpus, nofile):
    """OVMS's own default (src/config.cpp getDefaultRestWorkers, Config::restWorkers: at least 2)."""
    by_files = max(int(nofile) - RESERVED_OPEN_FILES, 0) // OPEN_FILES_PER_DEFAULT_WORKER
    return max(2, min(int(cpus), by_files))


def max_rest_workers(nofile):
    """The most OVMS accepts with this nofile limit (Config::validate)."""
    return min(MAX_REST_WORKERS, max(int(nofile) - RESERVED_OPEN_FILES, 0) // OPEN_FILES_PER_WORKER)


def rest_workers(source, cpus, nofile, requested=0):
    """(--rest_workers value, problem or None).

    Every request on a path holding /completions runs on the REST server's streaming pool until it
    ends, and that pool of rest_workers threads also runs drogon's event loop on one of them
    (src/drogon_http_server.cpp startAcceptingRequests), so an instance generates for at most
    rest_workers - 1 requests at once; more wait for a thread, unseen by ovms_current_graphs.
    REQUESTED > 0 is taken as is; 0 derives max(OVMS's default, what the LLM graphs can batch
    (sum of max_num_seqs) + 1), capped by what the nofile limit allows.
    """
    limit = max_rest_workers(nofile)
    requested = int(requested or 0)
    if requested:
        if requested < 2 or requested > MAX_REST_WORKERS:
            return requested, "model_server_rest_workers: %d is outside 2..%d (OVMS refuses it)." % (
                requested, MAX_REST_WORKERS)
        if requested > limit:
            return requested, (
                "model_server_rest_workers: %d needs model_server_ulimit_nofile >= %d (OVMS: rest_workers <= "
                "(nofile - 15) / 6, it is %d); raise model_server_ulimit_nofile or lower model_server_rest_workers."
                % (requested, requested * OPEN_FILES_PER_WORKER + RESERVED_OPEN_FILES, nofile))
        return requested, None
    value = default_rest_workers(cpus, nofile)
    batch = sum(s.get("max_num_seqs") or 0 for s in source.get("servables", []) if s.get("llm"))
    if batch:
        value = max(value, batch + 1)
    return max(2, min(value, limit)), None


def _flag_names(args):
    return [str(a).split("=", 1)[0] for a in args if str(a).startswith("--")]


def check_settings(source, settings):
    """Problems of the role's settings with this source, one sentence each naming the variable and the fix."""
    problems = []
    extra = [str(a) for a in settings.get("extra_args") or []]
    owned = [f for f in _flag_names(extra) if f in OWNED_FLAGS]
    if owned:
        problems.append("model_server_extra_args: %s is set by the role (from the plan and the model_server_* "
                        "variables); remove it from model_server_extra_args." % ", ".join(owned))
    if source.get("graph"):
        refused = [f for f in _flag_names(extra) if f[2:] in SINGLE_MODEL_SETTINGS]
        if refused:
            problems.append(
                "model_server_extra_args: %s cannot be used in single-model mode on a directory with graph.pbtxt "
                "(OVMS accepts only model_name, model_path and plugin_config there and exits: \"Starting mediapipe "
                "graph with unsupported model settings\"); set them in graph.pbtxt instead." % ", ".join(refused))
    if source.get("mode") == "config" and settings.get("plugin_config"):
        problems.append("model_server_plugin_config: only for single-model mode; with config.json OVMS refuses model "
                        "parameters on the command line: set plugin_config per model in config.json or graph.pbtxt.")
    problems.extend(p for p in [metrics_flag(source, settings.get("metrics_enable", True))[1]] if p)
    problems.extend(p for p in [rest_workers(source, 2, settings.get("nofile", 16384),
                                             settings.get("rest_workers", 0))[1]] if p)
    return problems


def ovms_command(source, settings, instance):
    """The OVMS arguments of one instance (after the image name)."""
    if source.get("mode") == "single":
        args = ["--model_name", settings["model_name"], "--model_path", source.get("container_dir") or "/model"]
        # validateUserSettingsInSingleModelCliGraphStart: a graph directory takes no --target_device.
        if not source.get("graph") and settings.get("target_device"):
            args += ["--target_device", settings["target_device"]]
        if settings.get("plugin_config"):
            args += ["--plugin_config", json.dumps(settings["plugin_config"], sort_keys=True)]
    else:
        args = ["--config_path", (source.get("container_dir") or "/workspace").rstrip("/") + "/" + settings["config_file"]]
    args += ["--rest_port", str(instance["rest_port"])]
    grpc = instance.get("grpc_port")
    if grpc not in (None, "", 0, "0"):
        args += ["--port", str(grpc)]
    cpus = instance.get("cpus") or 1
    workers = rest_workers(source, cpus, settings.get("nofile", 16384), settings.get("rest_workers", 0))[0]
    # The role replaces instances itself (drain first); OVMS's own config watcher would reload every
    # instance of the host at once (--file_system_poll_wait_seconds, default 1; 0 turns it off).
    args += ["--rest_workers", str(workers), "--file_system_poll_wait_seconds", "0"]
    if metrics_flag(source, settings.get("metrics_enable", True))[0]:
        args.append("--metrics_enable")
    return args + [str(a) for a in settings.get("extra_args") or []]


def readiness(status, expected):
    """What a /v1/config answer says about the EXPECTED model names.

    Returns {available, failed {name: "STATE/ERROR"}, empty (listed with no version: a base_path OVMS
    cannot read), unreported, not_ready, states "m=AVAILABLE/OK, ..."}. A failed LLM graph stays
    LOADING with FAILED_PRECONDITION (src/dags/pipelinedefinitionstatus.cpp).
    """
    status = status if isinstance(status, dict) else {}
    out = {"available": [], "failed": {}, "empty": [], "unreported": [], "not_ready": [], "states": ""}
    parts = []
    for name in expected:
        entry = status.get(name)
        versions = entry.get("model_version_status") if isinstance(entry, dict) else None
        if entry is None:
            out["unreported"].append(name)
            parts.append("%s=not reported" % name)
            continue
        versions = [v for v in versions or [] if isinstance(v, dict)]
        states = [str(v.get("state", "?")) for v in versions]
        codes = [str((v.get("status") or {}).get("error_code", "OK")) for v in versions]
        parts.append("%s=%s/%s" % (name, "|".join(states), "|".join(codes)) if versions else "%s=no version" % name)
        if "AVAILABLE" in states:
            out["available"].append(name)
            continue
        out["not_ready"].append(name)
        if not versions:
            out["empty"].append(name)
        elif any(code != "OK" for code in codes):
            out["failed"][name] = "%s/%s" % ("|".join(states), "|".join(codes))
    out["not_ready"] += out["unreported"]
    out["states"] = ", ".join(parts)
    return out


def wait_ready(http_get, inspect, expected, timeout, interval, empty_grace=2, restarts_baseline=None,
               clock=time.monotonic, sleep=time.sleep):
    """Poll one instance until it is ready, fails, crashes, or TIMEOUT seconds pass.

    http_get(path) -> (status code or None, parsed JSON or None); inspect() -> {status, running,
    exit_code, restarts} of the container, or None when it does not exist. A crash is a restart
    count above RESTARTS_BASELINE (read at the first poll when None) or a container that is not
    running. After /v2/health/ready = 200 the initial load is over (ServableManagerModule::start
    loads synchronously) and, with the config watcher off, a model listed without a version or not
    listed at all stays so: after EMPTY_GRACE seconds that is a failure too.

    EXPECTED None: the models the instance itself lists (an instance still running an earlier
    configuration serves when every model it has is AVAILABLE).

    Returns {ready, reason (ready|crash|gone|failed|empty|timeout), health, states (readiness()),
    container, seconds}.
    """
    start = clock()
    empty_since = {}
    health, states, container = None, readiness({}, expected or []), None
    while True:
        now = clock()
        container = inspect()
        reason = None
        if container is None:
            reason = "gone"
        else:
            if restarts_baseline is None:
                restarts_baseline = container["restarts"]
            if container["restarts"] > restarts_baseline or not container["running"] \
                    or container["status"] in ("restarting", "exited", "dead"):
                reason = "crash"
        if reason is None:
            health = http_get("/v2/health/ready")[0]
            if health == 200:
                code, body = http_get("/v1/config")
                if code == 200 and isinstance(body, dict):
                    states = readiness(body, sorted(body) if expected is None else expected)
                    if not states["not_ready"]:
                        reason = "ready"
                    elif states["failed"]:
                        reason = "failed"
                    else:
                        lost = states["empty"] + states["unreported"]
                        empty_since = {n: empty_since.get(n, now) for n in lost}
                        if any(now - since >= empty_grace for since in empty_since.values()):
                            reason = "empty"
        if reason is None and now - start >= timeout:
            reason = "timeout"
        if reason:
            return {"ready": reason == "ready", "reason": reason, "health": health, "states": states,
                    "container": container, "seconds": round(clock() - start, 1)}
        sleep(interval)


def gate_message(outcome, instance, container, url, timeout, log_lines, tail, paths=None):
    """The one message a failed gate gives: instance, cause, container state and log tail."""
    states = outcome["states"]
    reason = outcome["reason"]
    paths = paths or {}
    if reason == "crash":
        cause = "the container crashed while starting"
    elif reason == "gone":
        cause = "the container does not exist any more"
    elif reason == "failed":
        cause = "/v2/health/ready answered 200, but /v1/config reports %s (failed to load: %s)" % (
            states["states"], ", ".join(sorted(states["failed"])))
    elif reason == "empty":
        lost = states["empty"] + states["unreported"]
        cause = ("/v2/health/ready answered 200, but /v1/config reports %s: OVMS found no model version at %s "
                 "(the directory does not exist in the container, or its user cannot read it)" % (
                     states["states"], "; ".join("%s base_path %s" % (n, paths.get(n, "?")) for n in lost)))
    elif outcome.get("health") == 200:
        cause = "timeout (model_server_ready_timeout %s s): /v2/health/ready answered 200, but /v1/config reports %s" % (
            timeout, states["states"])
    else:
        cause = "timeout (model_server_ready_timeout %s s): /v2/health/ready answered %s" % (
            timeout, outcome.get("health") or "nothing")
    box = outcome.get("container")
    if not box:
        state = "absent"
    elif reason == "crash" and box["running"] and box["status"] == "running":
        # The engine restarted it already: the exit code of the crash is gone, the log tail tells why.
        state = "running again after %s restart(s)" % box["restarts"]
    else:
        state = "%s (exit code %s, restarts %s)" % (box["status"], box["exit_code"], box["restarts"])
    return ("model_server: instance %s (container %s, %s) failed the readiness gate after %s s: %s. "
            "Container state: %s. Last %d log lines:\n%s" % (
                instance, container, url, outcome["seconds"], cause, state, tail, "\n".join(log_lines)))
