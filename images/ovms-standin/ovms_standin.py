"""OVMS stand-in: a TEST FIXTURE and the offline demo's backend. It is NOT OpenVINO Model Server.

It reproduces the deployment-facing behaviour of OpenVINO Model Server (OVMS) that the
numaserve.ovms collection relies on, so roles, Molecule scenarios and the demo run without the real
image, a registry or a model:

* the command line (OVMS flag names, ``--flag value`` and ``--flag=value``, unknown flags and
  inconsistent combinations rejected with exit code 64 like OVMS's EX_USAGE);
* ``config.json`` (``model_config_list``, legacy ``mediapipe_config_list``, ``monitoring``); config file
  errors abort; per-model load errors are recorded and the server keeps running (``--config_path``),
  while a failing single model (``--model_path``) makes the process exit 1;
* the REST port opens before the models are loaded: ``/v2/health/live`` answers 200 at once,
  ``/v2/health/ready`` 503 until the initial load finished; ``/v1/config`` shows LOADING -> AVAILABLE,
  or LOADING + FAILED_PRECONDITION for a model that failed, as OVMS reports a failed LLM graph;
* the OpenAI API (``/v3``, ``/v3/v1`` and ``/v1`` prefixes): models, chat completions and completions,
  JSON or Server-Sent Events ending with ``data: [DONE]``, ``stream_options.include_usage``;
  generated text is a deterministic function of the prompt;
* ``/metrics`` (Prometheus text) and OVMS-formatted log lines; SIGTERM/SIGINT drain in-flight requests.

Behaviour knobs (environment): OVMS_STANDIN_LOAD_DELAY (seconds until the models are AVAILABLE),
OVMS_STANDIN_TOKEN_DELAY_MS (per generated token), OVMS_STANDIN_CPU_WORK_PER_TOKEN (busy-loop
iterations per token), OVMS_STANDIN_FAIL_MODELS (comma-separated model names that fail to load),
OVMS_STANDIN_GRACE_SECONDS (drain time on SIGTERM, default 30).

Python 3.11 standard library only.
"""

import hashlib
import http.server
import ipaddress
import json
import logging
import os
import re
import resource
import signal
import socket
import socketserver
import sys
import threading
import time

VERSION = "2026.3.0"
SERVER_NAME = "OpenVINO Model Server"
EX_USAGE = 64  # what OVMS exits with on a command-line error (sysexits.h)
EX_FAILURE = 1  # what OVMS exits with when a module (e.g. the model manager) cannot start
MAX_PORT = 65535
MAX_REST_WORKERS = 10000

# ---------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------

# Flags of OVMS v2026.3 (src/cli_parser.cpp, src/graph_export/*_cli_parser.cpp) -> kind.
# kind: "uint" and "str" take a value; "bool" is a switch that also accepts =true/=false.
SERVER_FLAGS = {
    "port": "uint", "grpc_bind_address": "str", "rest_port": "uint", "rest_bind_address": "str",
    "grpc_workers": "uint", "grpc_max_threads": "uint", "grpc_memory_quota": "uint", "rest_workers": "uint",
    "log_level": "str", "log_path": "str", "grpc_channel_arguments": "str",
    "file_system_poll_wait_seconds": "uint", "sequence_cleaner_poll_wait_minutes": "uint",
    "custom_node_resources_cleaner_interval_seconds": "uint", "cache_dir": "str", "metrics_enable": "bool",
    "metrics_list": "str", "cpu_extension": "str", "allowed_local_media_path": "str",
    "allowed_media_domains": "str", "allow_credentials": "bool", "allowed_origins": "str",
    "allowed_methods": "str", "allowed_headers": "str", "api_key_file": "str", "verbose_response": "bool",
    "help": "bool", "version": "bool",
    # multi model / config management / pull mode
    "config_path": "str", "list_models": "bool", "add_to_config": "str", "remove_from_config": "str",
    "pull": "bool", "source_model": "str", "gguf_filename": "str", "overwrite_models": "bool",
    "model_repository_path": "str", "task": "str", "weight-format": "str", "extra_quantization_params": "str",
    "configure": "bool",
    # single model
    "model_name": "str", "model_path": "str", "batch_size": "str", "shape": "str", "layout": "str",
    "model_version_policy": "str", "nireq": "uint", "target_device": "str", "plugin_config": "str",
    "stateful": "bool", "idle_sequence_cleanup": "bool", "low_latency_transformation": "bool",
    "max_sequence_number": "uint", "mean": "str", "scale": "str", "color_format": "str", "precision": "str",
}
# Options of `--task text_generation|embeddings|rerank|image_generation` (accepted only with --task).
TASK_FLAGS = {
    "max_num_seqs": "uint", "pipeline_type": "str", "enable_prefix_caching": "str",
    "max_num_batched_tokens": "uint", "cache_size": "uint", "dynamic_split_fuse": "str",
    "kv_cache_precision": "str", "model_distribution_policy": "str", "reasoning_parser": "str",
    "tool_parser": "str", "enable_tool_guided_generation": "str", "cache_interval_multiplier": "str",
    "draft_source_model": "str", "draft_model_name": "str", "max_prompt_len": "uint", "num_streams": "uint",
    "response_parser": "str", "max_allowed_chunks": "uint", "resolution": "str", "default_resolution": "str",
    "max_resolution": "str", "seed": "uint", "max_num_images_per_prompt": "uint",
    "default_num_inference_steps": "uint", "max_num_inference_steps": "uint", "normalize": "str",
    "pooling": "str", "truncate": "str", "max_doc_length": "uint", "target_device": "str",
}
# Model parameters that OVMS refuses together with --config_path (src/config.cpp).
MODEL_ONLY_FLAGS = ("batch_size", "shape", "nireq", "model_version_policy", "target_device", "plugin_config")
# Modes of the real OVMS that a stand-in cannot do (they download or rewrite model repositories).
UNSUPPORTED_MODES = ("pull", "source_model", "list_models", "add_to_config", "remove_from_config", "configure")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR")

HELP = """OpenVINO Model Server stand-in (numaserve.ovms test fixture, not OVMS) {version}
Usage: ovms_standin.py [OVMS options]

  --rest_port PORT             REST port (0 = no REST server)
  --port PORT                  gRPC port (a plain TCP listener in the stand-in; 0 = none)
  --rest_bind_address ADDRS    comma-separated addresses to bind the REST port to (default 0.0.0.0)
  --grpc_bind_address ADDRS    same for the gRPC port
  --config_path PATH           config.json (or a directory holding one)
  --model_path PATH --model_name NAME   single model instead of a config file
  --log_level LEVEL            TRACE, DEBUG, INFO, WARNING, ERROR (default INFO)
  --log_path PATH              log to a file instead of stdout
  --metrics_enable             serve /metrics
  --rest_workers N             2..10000 (accepted; the stand-in serves each connection in a thread)
  --api_key_file PATH          key required on the OpenAI endpoints (else env API_KEY, else none)
Other OVMS flags are accepted and ignored. Environment knobs: OVMS_STANDIN_LOAD_DELAY,
OVMS_STANDIN_TOKEN_DELAY_MS, OVMS_STANDIN_CPU_WORK_PER_TOKEN, OVMS_STANDIN_FAIL_MODELS,
OVMS_STANDIN_GRACE_SECONDS.
"""


class UsageError(Exception):
    """A command-line error: printed to stderr, exit code 64 (EX_USAGE) like OVMS."""


def parse_args(argv):
    """Parse OVMS-style arguments into a dict {flag: value}; raise UsageError like OVMS would."""
    known = dict(SERVER_FLAGS)
    if any(a == "--task" or a.startswith("--task=") for a in argv):
        known.update(TASK_FLAGS)
    opts = {}
    unmatched = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg in ("-h",):
            arg = "--help"
        if not arg.startswith("--"):
            unmatched.append(arg)
            continue
        name, has_value, value = arg[2:].partition("=")
        kind = known.get(name)
        if kind is None:
            unmatched.append(arg)
            continue
        if kind == "bool":
            if has_value:
                if value.lower() not in ("true", "false", "1", "0"):
                    raise UsageError(f"error parsing options: Argument '{value}' failed to parse")
                opts[name] = value.lower() in ("true", "1")
            else:
                opts[name] = True
            continue
        if not has_value:
            if i >= len(argv):
                raise UsageError(f"error parsing options: Option '{name}' is missing an argument")
            value = argv[i]
            i += 1
        if kind == "uint":
            if not re.fullmatch(r"\d+", value):
                raise UsageError(f"error parsing options: Argument '{value}' failed to parse")
            opts[name] = int(value)
        else:
            opts[name] = value
    if unmatched:
        raise UsageError("error parsing options - unmatched arguments: " + "".join(a + ", " for a in unmatched))
    return opts


def valid_address(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(re.fullmatch(r"([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?",
                                 text)) and len(text) <= 255


def validate(opts):
    """The checks of OVMS's Config::validate(), in its order, with its messages."""
    for mode in UNSUPPORTED_MODES:
        if mode in opts:
            raise UsageError(f"--{mode} is not implemented by the OVMS stand-in (a test fixture): "
                             "start it with --config_path or --model_path/--model_name")
    if "task" in opts and "model_path" not in opts:
        raise UsageError("--task without --model_path would pull a model: not implemented by the OVMS stand-in")
    config_path = opts.get("config_path", "")
    if config_path and ("model_name" in opts or "model_path" in opts):
        raise UsageError("Use either config_path or model_path with model_name")
    if not config_path and not ("model_name" in opts and "model_path" in opts):
        raise UsageError("Use config_path or model_path with model_name")
    if config_path and any(flag in opts for flag in MODEL_ONLY_FLAGS):
        raise UsageError("Model parameters in CLI are exclusive with the config file")
    port, rest_port = opts.get("port", 0), opts.get("rest_port", 0)
    if "rest_workers" in opts:
        if not 2 <= opts["rest_workers"] <= MAX_REST_WORKERS:
            raise UsageError(f"rest_workers count should be from 2 to {MAX_REST_WORKERS}")
        if rest_port == 0:
            raise UsageError("rest_workers is set but rest_port is not set. rest_port is required to start rest servers")
    if port > MAX_PORT:
        raise UsageError(f"port number out of range from 0 to {MAX_PORT}")
    if rest_port > MAX_PORT:
        raise UsageError(f"rest_port number out of range from 0 to {MAX_PORT}")
    if opts.get("metrics_enable") and rest_port == 0:
        raise UsageError("rest_port setting is missing, metrics are enabled on rest port")
    if opts.get("metrics_list") and not opts.get("metrics_enable"):
        raise UsageError("metrics_enable setting is missing, required when metrics_list is provided")
    for flag in ("rest_bind_address", "grpc_bind_address"):
        for addr in opts.get(flag, "0.0.0.0").split(","):
            if not valid_address(addr.strip()):
                raise UsageError(f"{flag} has invalid format: proper hostname or IP address expected.")
    if port == 0 and rest_port == 0:
        raise UsageError("port and rest_port cannot both be unset")
    if port == rest_port:
        raise UsageError("port and rest_port cannot have the same values")
    if opts.get("cpu_extension") and not os.path.exists(opts["cpu_extension"]):
        raise UsageError("File path provided as an --cpu_extension parameter does not exists in the filesystem: "
                         + opts["cpu_extension"])
    if opts.get("log_level", "INFO") not in LOG_LEVELS:
        raise UsageError("log_level should be one of: TRACE, DEBUG, INFO, WARNING, ERROR")


# ---------------------------------------------------------------------------------------------------
# Logging in OVMS's format: [%Y-%m-%d %H:%M:%S.%e][pid][logger][level][file:line] message
# ---------------------------------------------------------------------------------------------------

TRACE = 5
logging.addLevelName(TRACE, "trace")
for _level, _name in ((logging.DEBUG, "debug"), (logging.INFO, "info"), (logging.WARNING, "warning"),
                      (logging.ERROR, "error"), (logging.CRITICAL, "critical")):
    logging.addLevelName(_level, _name)


class OvmsFormatter(logging.Formatter):
    def format(self, record):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        return (f"[{stamp}.{int(record.msecs):03d}][{record.process}][{record.name}][{record.levelname}]"
                f"[{record.filename}:{record.lineno}] {record.getMessage()}")


def setup_logging(level_name, log_path):
    handler = logging.FileHandler(log_path) if log_path else logging.StreamHandler(sys.stdout)
    handler.setFormatter(OvmsFormatter())
    level = TRACE if level_name == "TRACE" else getattr(logging, level_name)
    for name in ("serving", "modelmanager", "llm_executor", "http_server"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


SERVING = logging.getLogger("serving")
MODELMANAGER = logging.getLogger("modelmanager")
HTTPLOG = logging.getLogger("http_server")


# ---------------------------------------------------------------------------------------------------
# Models (servables) and their states
# ---------------------------------------------------------------------------------------------------

class ConfigError(Exception):
    """A config file error: OVMS aborts the start of the model manager."""


class Servable:
    """One served model/graph. state: LOADING, AVAILABLE or FAILED (shown as LOADING/FAILED_PRECONDITION)."""

    def __init__(self, name, base_path):
        self.name = name
        self.base_path = base_path
        self.state = "LOADING"
        self.error = ""
        self.created = int(time.time())
        self.in_flight = 0  # generation requests in process (ovms_current_requests / ovms_current_graphs)

    def status_json(self):
        if self.state == "AVAILABLE":
            status = ("AVAILABLE", "OK", "OK")
        elif self.state == "FAILED":
            status = ("LOADING", "FAILED_PRECONDITION", "FAILED_PRECONDITION")
        else:
            status = ("LOADING", "OK", "OK")
        return {"model_version_status": [{"version": "1", "state": status[0],
                                          "status": {"error_code": status[1], "error_message": status[2]}}]}


def read_config(path):
    """Parse config.json into [(name, base_path)], raising ConfigError on what OVMS refuses."""
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(f"Configuration file is invalid {path}: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"Configuration file is not a valid JSON file. Error: {exc}") from None
    schema_error = ConfigError("Configuration file is not in valid configuration format")
    if not isinstance(doc, dict):
        raise schema_error
    models = doc.get("model_config_list", [])
    graphs = doc.get("mediapipe_config_list", [])
    if not isinstance(models, list) or not isinstance(graphs, list):
        raise schema_error
    root = os.path.dirname(os.path.abspath(path))
    entries = []
    for item in models:
        config = item.get("config") if isinstance(item, dict) else None
        if not isinstance(config, dict) or not isinstance(config.get("name"), str) \
                or not isinstance(config.get("base_path"), str) or not config["name"]:
            raise schema_error
        entries.append((config["name"], os.path.join(root, config["base_path"])))
    for graph in graphs:
        if not isinstance(graph, dict) or not isinstance(graph.get("name"), str) or not graph["name"] \
                or not isinstance(graph.get("base_path", ""), str):
            raise schema_error
        entries.append((graph["name"], os.path.join(root, graph.get("base_path") or graph["name"])))
    monitoring = doc.get("monitoring", {})
    metrics = monitoring.get("metrics", {}) if isinstance(monitoring, dict) else {}
    metrics_enabled = bool(isinstance(metrics, dict) and metrics.get("enable"))
    return entries, metrics_enabled


# ---------------------------------------------------------------------------------------------------
# Deterministic "generation"
# ---------------------------------------------------------------------------------------------------

VOCAB = ("the", "model", "server", "runs", "one", "instance", "per", "node", "pinned", "to", "its", "cores",
         "and", "memory", "behind", "a", "balancer", "tokens", "flow", "quickly", "while", "latency", "stays",
         "low", "numa", "local", "pages", "cache", "socket", "threads", "answer", "request")


def generate(prompt, max_tokens, ignore_eos):
    """Return (tokens, finish_reason): the same prompt always gives the same text."""
    digest = hashlib.sha256(prompt.encode("utf-8", "replace")).digest()
    natural = 8 + digest[0] % 24
    if max_tokens is not None and (ignore_eos or natural > max_tokens):
        count, finish = max_tokens, "length"
    else:
        count, finish = natural, "stop"
    tokens = []
    for i in range(count):
        word = VOCAB[(digest[i % 32] + 7 * i) % len(VOCAB)]
        tokens.append(word if i == 0 else " " + word)
    return tokens, finish


def count_prompt_tokens(prompt):
    return max(1, len(prompt.split()))


# ---------------------------------------------------------------------------------------------------
# The server state shared by every request
# ---------------------------------------------------------------------------------------------------

class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class State:
    def __init__(self, opts, env):
        self.opts = opts
        self.lock = threading.Lock()
        self.servables = {}          # name -> Servable, in config order
        self.ready = False           # initial load of the model manager finished
        self.draining = False        # SIGTERM received: no new requests
        self.active_requests = 0     # requests being handled (for the drain)
        self.idle = threading.Condition(self.lock)
        self.metrics_enabled = bool(opts.get("metrics_enable"))
        self.counters = {}           # (metric, api, method, name) -> int
        self.load_delay = float(env.get("OVMS_STANDIN_LOAD_DELAY") or 0)
        self.token_delay = float(env.get("OVMS_STANDIN_TOKEN_DELAY_MS") or 0) / 1000.0
        self.cpu_work = int(env.get("OVMS_STANDIN_CPU_WORK_PER_TOKEN") or 0)
        self.fail_models = {m.strip() for m in (env.get("OVMS_STANDIN_FAIL_MODELS") or "").split(",") if m.strip()}
        self.grace = float(env.get("OVMS_STANDIN_GRACE_SECONDS") or 30)
        self.api_key = None
        self.warned_v3v1 = False

    def count(self, metric, method, name):
        key = (metric, method, name)
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1

    def begin_request(self):
        with self.lock:
            if self.draining:
                return False
            self.active_requests += 1
            return True

    def end_request(self):
        with self.lock:
            self.active_requests -= 1
            if self.active_requests == 0:
                self.idle.notify_all()


def metrics_text(state):
    def esc(value):
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    with state.lock:
        servables = list(state.servables.values())
        counters = dict(state.counters)
        in_flight = {s.name: s.in_flight for s in servables}
    lines = []
    gauges = (("ovms_current_requests", "Number of requests being currently processed by the model server."),
              ("ovms_current_graphs", "Number of MediaPipe graphs in process."))
    for metric, help_text in gauges:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{name="{esc(n)}"}} {v}' for n, v in in_flight.items()]
    families = (("ovms_requests_success", "Number of successful requests to a model or a DAG."),
                ("ovms_requests_fail", "Number of failed requests to a model or a DAG."),
                ("ovms_requests_accepted", "Number of accepted requests which ended up inserting packet(s) "
                                           "into a MediaPipe graph."),
                ("ovms_responses", "Number of responses generated by the MediaPipe graph."))
    for metric, help_text in families:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter"]
        for s in servables:
            for method in ("Unary", "Stream"):
                value = counters.get((metric, method, s.name), 0)
                lines.append(f'{metric}{{api="V3",interface="REST",method="{method}",name="{esc(s.name)}"}} {value}')
    return ("\n".join(lines) + "\n").encode()


# ---------------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------------

OPENAI_PREFIXES = ("/v3/v1/", "/v3/", "/v1/")
V3_MODEL_RE = re.compile(r"^/(?:v3/v1|v3|v1)/models/(.+)$")
KFS_READY_RE = re.compile(r"^/v2/models/([^/]+)(?:/versions/(\d+))?/ready$")
JSON_TYPE = "application/json"


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ovms-standin"
    sys_version = ""
    disable_nagle_algorithm = True   # SSE chunks and small responses leave at once
    timeout = 300                    # idle keep-alive connections are closed after this
    state = None                     # the State, set by StandIn.start_rest()

    # -- plumbing ---------------------------------------------------------------------------------
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if HTTPLOG.isEnabledFor(TRACE):
            HTTPLOG.log(TRACE, "%s %s", self.address_string(), format % args)

    def send(self, status, body=b"", content_type=JSON_TYPE, extra_headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in extra_headers:
            self.send_header(key, value)
        if self.state.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        # Headers and body in one write: no small-packet delays, one syscall.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()

    def send_json(self, status, obj):
        self.send(status, dumps(obj))

    def send_error_json(self, status, message):
        self.send(status, dumps({"error": message}))

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def dispatch(self, routes):
        if not self.state.begin_request():
            self.close_connection = True
            self.send_error_json(503, "Server is shutting down")
            return
        try:
            path = self.path.split("?", 1)[0]
            routes(path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self.state.end_request()

    def do_GET(self):
        self.dispatch(self.route_get)

    def do_HEAD(self):
        self.dispatch(self.route_get)

    def do_POST(self):
        self.dispatch(self.route_post)

    # -- GET --------------------------------------------------------------------------------------
    def route_get(self, path):
        state = self.state
        if path == "/v2/health/live":
            self.send(200, b"{}")
        elif path == "/v2/health/ready":
            if state.ready:
                self.send(200, b"{}")
            else:
                self.send_error_json(503, "Server is not ready")
        elif path == "/v1/config":
            with state.lock:
                body = {name: s.status_json() for name, s in state.servables.items()}
            self.send(200, json.dumps(body, indent=1).encode())
        elif path in ("/v3/models", "/v3/v1/models", "/v1/models"):
            with state.lock:
                data = [{"id": s.name, "object": "model", "created": s.created, "owned_by": "OVMS"}
                        for s in state.servables.values() if s.state == "AVAILABLE"]
            self.send_json(200, {"data": data, "object": "list"})
        elif path == "/v2":
            self.send_json(200, {"name": SERVER_NAME, "version": VERSION + "-standin"})
        elif path == "/metrics":
            if state.metrics_enabled:
                self.send(200, metrics_text(state), "text/plain; version=0.0.4")
            else:
                self.send_error_json(400, "Invalid request URL")
        elif KFS_READY_RE.match(path):
            name = KFS_READY_RE.match(path).group(1)
            servable = state.servables.get(name)
            if servable is None:
                self.send_error_json(404, "Model with requested name is not found")
            elif servable.state != "AVAILABLE":
                self.send_error_json(404, "Model with requested version is not loaded yet")
            else:
                self.send(200, b"")
        elif V3_MODEL_RE.match(path):
            servable = state.servables.get(V3_MODEL_RE.match(path).group(1))
            if servable is None or servable.state != "AVAILABLE":
                self.send_error_json(500, "Model not found")
            else:
                self.send_json(200, {"id": servable.name, "object": "model", "created": servable.created,
                                     "owned_by": "OVMS"})
        else:
            self.send_error_json(400, "Invalid request URL")

    # -- POST -------------------------------------------------------------------------------------
    def route_post(self, path):
        body = self.read_body()
        for prefix in OPENAI_PREFIXES:
            if path.startswith(prefix) and path[len(prefix):] in ("chat/completions", "completions"):
                if prefix == "/v3/v1/" and not self.state.warned_v3v1:
                    self.state.warned_v3v1 = True
                    SERVING.warning("%s is deprecated. Use /v1/ prefix instead.", path)
                self.openai(path[len(prefix):] == "chat/completions", body)
                return
        self.send_error_json(400, "Invalid request URL")

    def check_api_key(self):
        key = self.state.api_key
        if not key:
            return True
        return self.headers.get("Authorization", "") == "Bearer " + key

    def openai(self, chat, raw):
        state = self.state
        if not self.check_api_key():
            self.send_error_json(401, "Unauthorized")
            return
        try:
            request = json.loads(raw or b"null")
        except ValueError:
            self.send_error_json(400, "Cannot parse JSON body")
            return
        if not isinstance(request, dict):
            self.send_error_json(400, "Cannot parse JSON body")
            return
        name = request.get("model")
        if not isinstance(name, str):
            self.send_error_json(400, "model field is missing in JSON body")
            return
        servable = state.servables.get(name)
        if servable is None:
            self.send_error_json(404, "Model with requested name is not found")
            return
        stream = request.get("stream") is True
        method = "Stream" if stream else "Unary"
        if servable.state != "AVAILABLE":
            state.count("ovms_requests_fail", method, name)
            self.send_error_json(503, "Mediapipe is not loaded yet")
            return
        try:
            prompt, max_tokens, include_usage = parse_generation_request(request, chat)
        except RequestError as exc:
            state.count("ovms_requests_fail", method, name)
            self.send_error_json(exc.status, exc.message)
            return
        state.count("ovms_requests_accepted", method, name)
        tokens, finish = generate(prompt, max_tokens, request.get("ignore_eos") is True)
        usage = {"prompt_tokens": count_prompt_tokens(prompt), "completion_tokens": len(tokens),
                 "total_tokens": count_prompt_tokens(prompt) + len(tokens)}
        with state.lock:
            servable.in_flight += 1
        settled = []

        def settle(ok):
            # Book-keeping happens before the last bytes leave, so a client that has its answer sees
            # the counters and gauges already updated.
            if not settled:
                settled.append(ok)
                with state.lock:
                    servable.in_flight -= 1
                state.count("ovms_requests_success" if ok else "ovms_requests_fail", method, name)

        try:
            if stream:
                self.stream_response(chat, name, tokens, finish, usage if include_usage else None, settle)
            else:
                for _token in tokens:
                    self.token_work()
                self.unary_response(chat, name, "".join(tokens), finish, usage, settle)
        finally:
            settle(False)  # no-op when the response was completed
            if MODELMANAGER.isEnabledFor(logging.DEBUG):
                MODELMANAGER.debug("%s request to %s: %d tokens, %s", method, name, len(tokens),
                                   "completed" if settled[0] else "cancelled (client disconnected)")

    def token_work(self):
        state = self.state
        if state.cpu_work:
            x = 1
            for _iteration in range(state.cpu_work):
                x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        if state.token_delay:
            time.sleep(state.token_delay)

    def unary_response(self, chat, name, text, finish, usage, settle):
        if chat:
            choice = {"finish_reason": finish, "index": 0, "logprobs": None,
                      "message": {"content": text, "role": "assistant"}}
            obj = "chat.completion"
        else:
            choice = {"finish_reason": finish, "index": 0, "logprobs": None, "text": text}
            obj = "text_completion"
        body = dumps({"choices": [choice], "created": int(time.time()), "model": name, "object": obj,
                      "usage": usage})
        self.state.count("ovms_responses", "Unary", name)
        settle(True)
        self.send(200, body)

    def write_event(self, name, payload):
        data = b"data: " + payload + b"\n\n"
        self.state.count("ovms_responses", "Stream", name)
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def stream_response(self, chat, name, tokens, finish, usage, settle):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        if self.state.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        created = int(time.time())
        obj = "chat.completion.chunk" if chat else "text_completion"

        def chunk(choices, **extra):
            return dumps({"choices": choices, "created": created, "model": name, "object": obj, **extra})

        first_token_done = False
        if chat:
            # Continuous batching servables start with the role and no content, sent once the first
            # token is generated (after prefill): clients measure TTFT on this chunk.
            if tokens:
                self.token_work()
                first_token_done = True
            role = {"delta": {"role": "assistant", "content": None}, "finish_reason": None, "index": 0, "logprobs": None}
            self.write_event(name, chunk([role]))
        last = len(tokens) - 1
        for i, token in enumerate(tokens):
            if i > 0 or not first_token_done:
                self.token_work()
            reason = finish if i == last else None
            if chat:
                choice = {"delta": {"content": token}, "finish_reason": reason, "index": 0, "logprobs": None}
            else:
                choice = {"finish_reason": reason, "index": 0, "logprobs": None, "text": token}
            self.write_event(name, chunk([choice]))
        if not tokens:
            delta = {"delta": {}} if chat else {"text": ""}
            self.write_event(name, chunk([{**delta, "finish_reason": finish, "index": 0, "logprobs": None}]))
        if usage is not None:
            self.write_event(name, chunk([], usage=usage))
        settle(True)
        self.state.count("ovms_responses", "Stream", name)
        data = b"data: [DONE]\n\n"
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))  # last event + end of chunks


def parse_generation_request(request, chat):
    """Validate an OpenAI request the way OVMS does; return (prompt, max_tokens, include_usage)."""
    if chat:
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError(400, "Messages missing" if messages is None else "Messages array cannot be empty")
        parts = []
        for message in messages:
            if not isinstance(message, dict):
                raise RequestError(400, "Message is not a JSON object")
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts += [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
            elif content is not None:
                raise RequestError(400, "Invalid message structure - content should be string or array")
        prompt = "\n".join(parts)
    else:
        prompt = request.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise RequestError(400, "prompt is not a string")
    max_tokens = request.get("max_completion_tokens", request.get("max_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)
                                   or max_tokens <= 0):
        raise RequestError(400, "max_tokens value should be greater than 0")
    n = request.get("n", 1)
    if n != 1:
        raise RequestError(400, "n greater than 1 is not supported by the OVMS stand-in")
    stream = request.get("stream", False)
    if not isinstance(stream, bool):
        raise RequestError(400, "Stream is not bool")
    options = request.get("stream_options")
    include_usage = False
    if options is not None:
        if not stream:
            raise RequestError(400, "stream_options provided, but stream not set to true")
        if not isinstance(options, dict):
            raise RequestError(400, "stream_options is not an object")
        include_usage = options.get("include_usage") is True
    return prompt, max_tokens, include_usage


class RestServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def make_server(host, port, family):
    class Server(RestServer):
        address_family = family

        def server_bind(self):
            if family == socket.AF_INET6:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            socketserver.TCPServer.server_bind(self)

    return Server((host, port), Handler)


def resolve(address, port):
    """(host, family) for a bind address: an IP literal or a hostname."""
    try:
        ip = ipaddress.ip_address(address)
        return address, socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    except ValueError:
        info = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)[0]
        return info[4][0], info[0]


# ---------------------------------------------------------------------------------------------------
# Start-up, model loading, shutdown
# ---------------------------------------------------------------------------------------------------

class StandIn:
    def __init__(self, opts, env):
        self.opts = opts
        self.state = State(opts, env)
        self.rest_servers = []
        self.grpc_sockets = []
        self.stop = threading.Event()
        self.exit_code = 0
        self.signal_name = None

    def start_grpc(self):
        port = self.opts.get("port", 0)
        if not port:
            SERVING.info("Port was not set. GRPC server will not be started.")
            return
        for address in self.opts.get("grpc_bind_address", "0.0.0.0").split(","):
            host, family = resolve(address.strip(), port)
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
            sock.listen(64)
            self.grpc_sockets.append(sock)
            threading.Thread(target=self.grpc_accept, args=(sock,), daemon=True).start()
        SERVING.info("Started gRPC server on port %d", port)

    @staticmethod
    def grpc_accept(sock):
        # The stand-in speaks no gRPC: the port is held (so conflicts show) and connections are closed.
        while True:
            try:
                conn = sock.accept()[0]
            except OSError:
                return
            conn.close()

    def start_rest(self):
        port = self.opts.get("rest_port", 0)
        if not port:
            return
        workers = self.opts.get("rest_workers") or default_rest_workers()
        SERVING.info("Will start %d REST workers", workers)
        addresses = [a.strip() for a in self.opts.get("rest_bind_address", "0.0.0.0").split(",")]
        for address in addresses:
            host, family = resolve(address, port)
            server = make_server(host, port, family)
            self.rest_servers.append(server)
        Handler.state = self.state
        for server, address in zip(self.rest_servers, addresses):
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
            SERVING.info("REST server listening on port %d with %d unary threads and %d streaming threads",
                         port, workers, workers)
            SERVING.info("Started REST server at %s:%d", f"[{address}]" if ":" in address else address, port)

    def load_models(self):
        """The servable manager: runs after the servers, as in OVMS (Server::startModules)."""
        state = self.state
        single = "model_path" in self.opts
        try:
            if single:
                entries = [(self.opts["model_name"], self.opts["model_path"])]
                if not os.path.isdir(entries[0][1]):
                    raise ConfigError(f"Directory does not exist: {entries[0][1]}")
            else:
                entries, metrics_in_config = read_config(self.opts["config_path"])
                if metrics_in_config:
                    state.metrics_enabled = True
        except ConfigError as exc:
            MODELMANAGER.error("%s", exc)
            MODELMANAGER.error("Couldn't start model manager")
            self.request_exit(EX_FAILURE)
            return
        with state.lock:
            for name, base_path in entries:
                if name in state.servables:
                    MODELMANAGER.warning("Duplicated model names: %s defined in config file. "
                                         "Only first definition will be loaded.", name)
                    continue
                state.servables[name] = Servable(name, base_path)
        for servable in state.servables.values():
            MODELMANAGER.info("Loading mediapipe graph: %s from base path: %s", servable.name, servable.base_path)
        if state.load_delay and self.stop.wait(state.load_delay):
            return
        failed = []
        for servable in state.servables.values():
            reason = None
            if servable.name in state.fail_models:
                reason = "OVMS_STANDIN_FAIL_MODELS names this model"
            elif not os.path.isdir(servable.base_path):
                reason = f"Directory does not exist: {servable.base_path}"
            with state.lock:
                servable.state = "FAILED" if reason else "AVAILABLE"
                servable.error = reason or ""
            if reason:
                failed.append(servable.name)
                MODELMANAGER.error("Error during llm node initialization for models_path: %s exception: %s",
                                   servable.base_path, reason)
                MODELMANAGER.info("Mediapipe: %s state changed to: LOADING_PRECONDITION_FAILED after handling: "
                                  "ValidationFailedEvent:", servable.name)
            else:
                MODELMANAGER.info("Mediapipe: %s state changed to: AVAILABLE after handling: ValidationPassedEvent:",
                                  servable.name)
        if single and failed:
            MODELMANAGER.error("Couldn't start model manager")
            self.request_exit(EX_FAILURE)
            return
        with state.lock:
            state.ready = True
        SERVING.info("ServableManagerModule started")

    def request_exit(self, code):
        self.exit_code = code
        self.stop.set()

    def on_signal(self, signum, _frame):
        if self.stop.is_set():
            SERVING.info("Shutdown already in progress (%s)", signal.Signals(signum).name)
            return
        self.signal_name = signal.Signals(signum).name
        self.stop.set()

    def run(self):
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        SERVING.info("%s %s: numaserve.ovms stand-in, a test fixture (not OVMS)", SERVER_NAME, VERSION)
        try:
            self.state.api_key = read_api_key(self.opts)
            self.start_grpc()
            self.start_rest()
        except OSError as exc:
            SERVING.error("Failed to start server: %s", exc)
            return EX_FAILURE
        threading.Thread(target=self.load_models, daemon=True).start()
        while not self.stop.wait(3600):
            pass
        return self.shutdown()

    def shutdown(self):
        state = self.state
        if self.signal_name:
            SERVING.info("Received %s: shutting down, draining in-flight requests for up to %gs",
                         self.signal_name, state.grace)
        with state.lock:
            state.draining = True
        for sock in self.grpc_sockets:
            sock.close()
        if self.grpc_sockets:
            SERVING.info("Shutdown gRPC server")
        for server in self.rest_servers:  # stop accepting: close the listening sockets
            server.shutdown()
            server.server_close()
        deadline = time.monotonic() + state.grace
        with state.lock:
            while state.active_requests and time.monotonic() < deadline:
                state.idle.wait(max(0.0, deadline - time.monotonic()))
            left = state.active_requests
        if left:
            SERVING.warning("Grace period of %gs over with %d request(s) still in progress", state.grace, left)
        if self.rest_servers:
            SERVING.info("Shutdown REST server")
        MODELMANAGER.info("Shutdown model manager")
        SERVING.info("Server shutdown")
        return self.exit_code


def default_rest_workers():
    """OVMS's Linux default: min(cores in the cpuset, (open-files limit - 15) / 7), at least 2."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    cores = len(os.sched_getaffinity(0))
    if nofile != resource.RLIM_INFINITY:
        cores = min(cores, (nofile - 15) // 7)
    return max(2, cores)


def read_api_key(opts):
    path = opts.get("api_key_file")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().strip() or None
    return os.environ.get("API_KEY") or None


def main(argv=None, env=None):
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    try:
        opts = parse_args(argv)
        if opts.get("version"):
            print(f"{SERVER_NAME} {VERSION} (numaserve.ovms stand-in, a test fixture)")
            return 0
        if opts.get("help") or not argv:
            print(HELP.format(version=VERSION))
            return 0
        validate(opts)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EX_USAGE
    setup_logging(opts.get("log_level", "INFO"), opts.get("log_path"))
    code = StandIn(opts, env).run()
    logging.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
