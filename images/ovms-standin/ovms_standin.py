"""OVMS stand-in: a TEST DOUBLE and the offline demo's backend. It is NOT OpenVINO Model Server.

It reproduces what a deployment can see of OpenVINO Model Server (OVMS) v2026.3, read from OVMS's
source at tag v2026.3 (openvinotoolkit/model_server). Every behaviour below names the source file
and function it follows; docs/standin.md has the table. Where the source did not settle a question,
the comment says so ("UNKNOWN") instead of inventing an answer.

* command line: src/cli_parser.cpp (flags, which ones the user set), src/config.cpp
  (Config::validate), exit codes of src/server.cpp (64 = EX_USAGE, 1 = failure);
* config.json and single-model mode: src/modelmanager.cpp (loadConfig, loadModels, startFromConfig,
  validateUserSettingsInSingleModelCliGraphStart, loadMetricsConfig), src/modelconfig.cpp;
* the config watcher (src/modelmanager.cpp watcher/configFileReloadNeeded: MD5 of config.json);
* the REST worker pool (src/drogon_http_server.cpp, src/config.cpp getDefaultRestWorkers);
* readiness, /v1/config (src/config_status_utils.cpp, src/dags/pipelinedefinitionstatus.cpp);
* the OpenAI API and its streaming format (src/llm/apis/openai_completions.cpp, src/llm/servable.cpp);
* /metrics families (src/metrics/metric_config.cpp, src/model_metric_reporter.cpp).

Generation goes through an engine (the shared contract in the team's DESIGN notes): env
OVMS_STANDIN_ENGINE=simulated is the sleeping/busy-loop generator of this file (plumbing tests;
it accepts a graph without weights); =openvino is OpenVINO GenAI (images/ovms-standin/llm_engine.py,
imported only when selected). Unset: openvino when the graph's models_path holds openvino_model.xml,
otherwise the graph fails to load, as OVMS fails on a folder without model files.

Behaviour knobs (environment) of the simulated engine and the process: OVMS_STANDIN_LOAD_DELAY,
OVMS_STANDIN_TOKEN_DELAY_MS, OVMS_STANDIN_CPU_WORK_PER_TOKEN, OVMS_STANDIN_FAIL_MODELS,
OVMS_STANDIN_GRACE_SECONDS. Python 3.11 standard library only (the openvino engine aside).
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
EX_USAGE = 64  # src/ovms_exit_codes.hpp OVMS_EX_USAGE (sysexits.h EX_USAGE)
EX_FAILURE = 1  # src/ovms_exit_codes.hpp OVMS_EX_FAILURE
MAX_PORT = 65535  # src/config.cpp MAX_PORT_NUMBER
MAX_REST_WORKERS = 10000  # src/config.cpp MAX_REST_WORKERS
RESERVED_OPEN_FILES = 15  # src/config.cpp (Linux)
OPEN_FILES_PER_REST_WORKER = 7  # src/config.cpp (Linux)
GRAPH_FILE = "graph.pbtxt"  # DEFAULT_GRAPH_FILENAME

# ---------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------

# Flags of OVMS v2026.3 (src/cli_parser.cpp CLIParser::parse, src/graph_export/*_cli_parser.cpp) -> kind.
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
# src/cli_parser.cpp CLIParser::prepareModel: the single-model arguments it records as user-set
# (modelsSettings.userSetSingleModelArguments), in its order. target_device only when non-empty.
USER_SET_MODEL_ARGS = ("model_name", "model_path", "batch_size", "shape", "layout", "mean", "scale",
                       "color_format", "precision", "model_version_policy", "nireq", "target_device",
                       "plugin_config", "config_path")
# src/modelmanager.cpp validateUserSettingsInSingleModelCliGraphStart: allowedUserSettings
GRAPH_SINGLE_MODEL_ALLOWED = ("model_name", "model_path", "plugin_config")
# Modes of the real OVMS that a stand-in cannot do (they download or rewrite model repositories).
UNSUPPORTED_MODES = ("pull", "source_model", "list_models", "add_to_config", "remove_from_config", "configure")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR")

HELP = """OpenVINO Model Server stand-in (numaserve.ovms test double, not OVMS) {version}
Usage: ovms_standin.py [OVMS options]

  --rest_port PORT             REST port (0 = no REST server)
  --port PORT                  gRPC port (a plain TCP listener in the stand-in; 0 = none)
  --rest_bind_address ADDRS    comma-separated addresses to bind the REST port to (default 0.0.0.0)
  --grpc_bind_address ADDRS    same for the gRPC port
  --config_path PATH           config.json (or a directory holding one)
  --model_path PATH --model_name NAME   single model instead of a config file
  --file_system_poll_wait_seconds N     config.json watcher interval (default 1, 0 = off)
  --log_level LEVEL            TRACE, DEBUG, INFO, WARNING, ERROR (default INFO)
  --log_path PATH              log to a file instead of stdout
  --metrics_enable             serve /metrics
  --rest_workers N             REST worker threads (default min(cores, (nofile-15)/7), at least 2)
  --api_key_file PATH          key required on the OpenAI endpoints (else env API_KEY, else none)
Other OVMS flags are accepted and ignored. Environment: OVMS_STANDIN_ENGINE (simulated|openvino),
OVMS_STANDIN_LOAD_DELAY, OVMS_STANDIN_TOKEN_DELAY_MS, OVMS_STANDIN_CPU_WORK_PER_TOKEN,
OVMS_STANDIN_FAIL_MODELS, OVMS_STANDIN_GRACE_SECONDS.
"""


class UsageError(Exception):
    """A command-line error: printed to stderr, exit code 64 (EX_USAGE) like OVMS."""


def parse_args(argv):
    """Parse OVMS-style arguments into {flag: value} of the flags the user set (cli_parser.cpp)."""
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
        # cli_parser.cpp CLIParser::parse: "error parsing options - unmatched arguments: " + "arg, " each
        raise UsageError("error parsing options - unmatched arguments: " + "".join(a + ", " for a in unmatched))
    return opts


def user_set_model_args(opts):
    """cli_parser.cpp CLIParser::prepareModel: userSetSingleModelArguments."""
    return [a for a in USER_SET_MODEL_ARGS if a in opts and not (a == "target_device" and not opts[a])]


def valid_address(text):
    """config.cpp Config::check_hostname_or_ip (one element of the comma-separated list)."""
    if len(text) > 255:
        return False
    if all(c in ".:" or c in "0123456789abcdefABCDEF" for c in text):
        try:
            ipaddress.ip_address(text)
            return True
        except ValueError:
            return False
    return bool(re.fullmatch(r"(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*"
                             r"([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])", text))


def in_container():
    """systeminfo.cpp isRunningInDocker: /.dockerenv, /run/.containerenv, or docker/kubepods in the cgroup."""
    if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        return True
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return False
    return "docker" in text or "kubepods" in text


def cpu_quota_count():
    """systeminfo.cpp getDockerCpuQuota: ceil(quota / period) of cgroup v2 cpu.max (v1 cfs files), 0 = none."""
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="utf-8") as handle:
            quota, period = handle.read().split()[:2]
        return 0 if quota == "max" else -(-int(quota) // int(period))
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding="utf-8") as q, \
                open("/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="utf-8") as p:
            quota, period = int(q.read()), int(p.read())
        return -(-quota // period) if quota > 0 and period > 0 else 0
    except (OSError, ValueError):
        return 0


def available_cores():
    """systeminfo.cpp getCoreCount (config.cpp AVAILABLE_CORES): in a container the affinity count,
    capped by the CPU quota; elsewhere hardware_concurrency; at least 1."""
    count = os.cpu_count() or 1
    if in_container():
        count = len(os.sched_getaffinity(0))
        quota = cpu_quota_count()
        if quota > 0:
            count = min(count, quota)
    return max(count, 1)


def open_files_limit():
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return sys.maxsize if nofile == resource.RLIM_INFINITY else nofile


def default_rest_workers():
    """config.cpp getDefaultRestWorkers (Linux): min(AVAILABLE_CORES, (nofile - 15) / 7), 0 when nofile <= 15."""
    nofile = open_files_limit()
    if nofile <= RESERVED_OPEN_FILES:
        return 0
    return min(available_cores(), (nofile - RESERVED_OPEN_FILES) // OPEN_FILES_PER_REST_WORKER)


def rest_workers(opts):
    """config.cpp Config::restWorkers: max(2, --rest_workers or the default)."""
    value = opts.get("rest_workers")
    return max(2, default_rest_workers() if value is None else value)


def validate(opts):
    """config.cpp Config::validate, in its order and with its messages (each: exit 64)."""
    for mode in UNSUPPORTED_MODES:
        if mode in opts:
            raise UsageError(f"--{mode} is not implemented by the OVMS stand-in (a test double): "
                             "start it with --config_path or --model_path/--model_name")
    if "task" in opts:
        # cli_parser.cpp: --task selects pull mode, or with --model_path the in-memory graph mode
        # (isInMemoryGraphMode) where OVMS writes the graph from the task options: neither is reproduced.
        raise UsageError("--task (pull or in-memory graph mode) is not implemented by the OVMS stand-in: "
                         "give --model_path a directory with graph.pbtxt (tools/test_models/layout.py)")
    config_path = opts.get("config_path", "")
    if config_path and ("model_name" in opts or "model_path" in opts):
        raise UsageError("Use either config_path or model_path with model_name")
    if not config_path and not ("model_name" in opts and "model_path" in opts):
        raise UsageError("Use config_path or model_path with model_name")
    if config_path and (opts.get("batch_size") or opts.get("shape") or opts.get("nireq") or
                        opts.get("model_version_policy") or opts.get("target_device") or opts.get("plugin_config")):
        raise UsageError("Model parameters in CLI are exclusive with the config file")
    cores = available_cores()
    if not 1 <= opts.get("grpc_workers", 1) <= cores:
        raise UsageError(f"grpc_workers count should be from 1 to CPU core count : {cores}")
    port, rest_port = opts.get("port", 0), opts.get("rest_port", 0)
    if opts.get("metrics_enable") and rest_port == 0:
        raise UsageError("rest_port setting is missing, metrics are enabled on rest port")
    if opts.get("metrics_list") and not opts.get("metrics_enable"):
        raise UsageError("metrics_enable setting is missing, required when metrics_list is provided")
    if port == 0 and rest_port == 0:
        raise UsageError("port and rest_port cannot both be unset")
    workers = rest_workers(opts)
    if workers > MAX_REST_WORKERS:  # values below 2 were raised to 2 by Config::restWorkers
        raise UsageError(f"rest_workers count should be from 2 to {MAX_REST_WORKERS}")
    if "rest_workers" in opts and rest_port == 0:
        raise UsageError("rest_workers is set but rest_port is not set. rest_port is required to start rest servers")
    nofile = open_files_limit()
    if workers > (nofile - RESERVED_OPEN_FILES) // 6:
        raise UsageError(f"rest_workers count cannot be larger than {(nofile - RESERVED_OPEN_FILES) // 6} due to "
                         f"open files limit. Current open files limit: {nofile}")
    if port > MAX_PORT:
        raise UsageError(f"port number out of range from 0 to {MAX_PORT}")
    if rest_port > MAX_PORT:
        raise UsageError(f"rest_port number out of range from 0 to {MAX_PORT}")
    for flag in ("rest_bind_address", "grpc_bind_address"):
        if not all(valid_address(addr) for addr in opts.get(flag, "0.0.0.0").split(",")):
            raise UsageError(f"{flag} has invalid format: proper hostname or IP address expected.")
    if port == rest_port and port != 0:
        raise UsageError("port and rest_port cannot have the same values")
    if opts.get("cpu_extension") and not os.path.exists(opts["cpu_extension"]):
        raise UsageError("File path provided as an --cpu_extension parameter does not exist in the filesystem: "
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
    for name in ("serving", "modelmanager", "llm_executor", "http_server", "engine"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


SERVING = logging.getLogger("serving")
MODELMANAGER = logging.getLogger("modelmanager")
HTTPLOG = logging.getLogger("http_server")


ENGINELOG = logging.getLogger("engine")


# ---------------------------------------------------------------------------------------------------
# Generation engines (shared contract: Engine(models_path, graph_options), describe, apply_chat_template,
# submit -> Generation, close)
# ---------------------------------------------------------------------------------------------------

class EngineLoadError(Exception):
    """The engine cannot serve this graph: the graph fails to load (LOADING + FAILED_PRECONDITION)."""


def cpu_list(cpus):
    """{0, 1, 2, 5} -> "0-2,5" (the cpuset list format)."""
    out, run = [], []
    for cpu in sorted(cpus):
        if run and cpu == run[-1] + 1:
            run.append(cpu)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [cpu]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


VOCAB = ("the", "model", "server", "runs", "one", "instance", "per", "node", "pinned", "to", "its", "cores",
         "and", "memory", "behind", "a", "balancer", "tokens", "flow", "quickly", "while", "latency", "stays",
         "low", "numa", "local", "pages", "cache", "socket", "threads", "answer", "request")


def simulated_tokens(prompt, max_tokens, ignore_eos):
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


class SimulatedGeneration:
    """Iterator of text deltas; each token costs OVMS_STANDIN_TOKEN_DELAY_MS sleep and
    OVMS_STANDIN_CPU_WORK_PER_TOKEN busy-loop iterations, spent before the token is yielded."""

    def __init__(self, prompt, params, token_delay, cpu_work):
        self.tokens, self.finish_reason = simulated_tokens(prompt, params.get("max_tokens"),
                                                           params.get("ignore_eos") is True)
        self.prompt_tokens = max(1, len(prompt.split()))
        self.completion_tokens = 0
        self.token_delay = token_delay
        self.cpu_work = cpu_work

    def __iter__(self):
        for token in self.tokens:
            if self.cpu_work:
                x = 1
                for _iteration in range(self.cpu_work):
                    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            if self.token_delay:
                time.sleep(self.token_delay)
            self.completion_tokens += 1
            yield token


class SimulatedEngine:
    """The sleeping/busy-loop generator, for plumbing tests: it needs no weights and runs no model.
    No batching limit (max_num_seqs is reported, not enforced): every request generates at once."""

    name = "simulated"

    def __init__(self, models_path, graph_options, env=None):
        env = os.environ if env is None else env
        self.models_path = models_path
        self.graph_options = graph_options
        self.token_delay = float(env.get("OVMS_STANDIN_TOKEN_DELAY_MS") or 0) / 1000.0
        self.cpu_work = int(env.get("OVMS_STANDIN_CPU_WORK_PER_TOKEN") or 0)

    def describe(self):
        # One thread does the busy loop (it holds Python's GIL); the CPUs are the process's affinity.
        return {"engine": self.name, "threads": 1, "cpus": cpu_list(os.sched_getaffinity(0))}

    @staticmethod
    def apply_chat_template(messages):
        parts = []
        for message in messages:
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts += [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(parts)

    def submit(self, prompt, params):
        return SimulatedGeneration(prompt, params, self.token_delay, self.cpu_work)

    def close(self):
        pass


def make_engine(models_path, graph_options, env):
    """Select the engine (OVMS_STANDIN_ENGINE; unset: openvino when models_path holds openvino_model.xml)."""
    choice = (env.get("OVMS_STANDIN_ENGINE") or "").strip()
    if not choice:
        if not os.path.isfile(os.path.join(models_path, "openvino_model.xml")):
            # What OVMS's LLM node meets on a folder without model files: the pipeline cannot be built.
            # The exact GenAI exception text is not reproduced (UNKNOWN without running OVMS).
            raise EngineLoadError(f"no model files in {models_path} (no openvino_model.xml); a plumbing test "
                                  "without weights sets OVMS_STANDIN_ENGINE=simulated")
        choice = "openvino"
    if choice == "simulated":
        return SimulatedEngine(models_path, graph_options, env)
    if choice == "openvino":
        try:
            import llm_engine  # pylint: disable=import-outside-toplevel  # engineer C's module, lazily
        except ImportError as exc:
            raise EngineLoadError(f"OVMS_STANDIN_ENGINE=openvino needs images/ovms-standin/llm_engine.py "
                                  f"(OpenVINO GenAI), which cannot be imported: {exc}") from None
        try:
            factory = getattr(llm_engine, "Engine", None) or llm_engine.OpenVINOEngine
            return factory(models_path, graph_options)
        except Exception as exc:  # pylint: disable=broad-except  # any load failure fails the graph, as in OVMS
            raise EngineLoadError(str(exc) or type(exc).__name__) from None
    raise EngineLoadError(f"OVMS_STANDIN_ENGINE={choice!r} is not an engine: use simulated or openvino")


# ---------------------------------------------------------------------------------------------------
# graph.pbtxt: the LLM node options
# ---------------------------------------------------------------------------------------------------

LLM_OPTIONS_RE = re.compile(r"\[type\.googleapis\.com\s*/\s*mediapipe\.LLMCalculatorOptions\]\s*:?\s*\{")
OPTION_RE = re.compile(r"(\w+)\s*:\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^,\s}]+)")


def options_block(text, start):
    """The text from start up to the "}" closing the options block; quoted strings may hold braces."""
    depth, quote, i = 1, None, start
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return text[start:]


def parse_graph(graph_path):
    """The LLM node options of graph.pbtxt, typed: {models_path, plugin_config (dict), max_num_seqs, ...}.

    Follows what src/llm/servable_initializer.cpp reads from LLMCalculatorOptions (models_path,
    plugin_config as a JSON string, max_num_seqs, cache_size, enable_prefix_caching, device ...). The
    protobuf text format is read with a small parser (one options block, scalar fields), not protobuf.
    """
    with open(graph_path, encoding="utf-8") as handle:
        text = handle.read()
    text_no_comments = re.sub(r"(?m)^\s*#[^\n]*", "", text)
    if "HttpLLMCalculator" not in text_no_comments:
        raise EngineLoadError(f"{graph_path} has no HttpLLMCalculator node: the stand-in serves LLM graphs only")
    match = LLM_OPTIONS_RE.search(text_no_comments)
    if not match:
        raise EngineLoadError("LLM node requires models_path to be set.")
    options = {}
    for key, raw in OPTION_RE.findall(options_block(text_no_comments, match.end())):
        if raw[0] in "\"'":
            options[key] = raw[1:-1].encode().decode("unicode_escape")
        elif raw in ("true", "false"):
            options[key] = raw == "true"
        elif re.fullmatch(r"-?\d+", raw):
            options[key] = int(raw)
        elif re.fullmatch(r"-?\d*\.\d+", raw):
            options[key] = float(raw)
        else:
            options[key] = raw  # enum values (pipeline_type: LM_CB)
    if "models_path" not in options:
        raise EngineLoadError("LLM node requires models_path to be set.")
    plugin_config = options.get("plugin_config", "")
    try:
        options["plugin_config"] = json.loads(plugin_config) if plugin_config else {}
    except ValueError:
        raise EngineLoadError(f"plugin_config is not a valid JSON object: {plugin_config}") from None
    if not isinstance(options["plugin_config"], dict):
        raise EngineLoadError(f"plugin_config is not a valid JSON object: {plugin_config}")
    return options


def resolve_models_path(models_path, graph_dir):
    """servable_initializer.cpp parseModelsPath: relative to the graph's directory; must exist (dir or .gguf)."""
    path = models_path if os.path.isabs(models_path) else os.path.join(graph_dir, models_path)
    if not os.path.exists(path):
        raise EngineLoadError(f"LLM node models_path: {path} does not exist. ")
    if not (os.path.isdir(path) or path.endswith(".gguf")):
        raise EngineLoadError(f"LLM node models_path: {path} is not a directory nor GGUF file ")
    return os.path.normpath(path)


# ---------------------------------------------------------------------------------------------------
# Servables: LLM graphs and classic models
# ---------------------------------------------------------------------------------------------------

class ConfigError(Exception):
    """A config file error that OVMS's startFromFile returns: the model manager does not start (exit 1)."""


def file_md5(path):
    """FileSystem::getFileMD5: the watcher compares the file's content, not its mtime."""
    with open(path, "rb") as handle:
        return hashlib.md5(handle.read()).hexdigest()


def graph_file_in(base_path):
    """modelmanager.cpp CheckStartFromGraph: <base>/graph.pbtxt, else <base>/1/graph.pbtxt (model mesh)."""
    for candidate in (os.path.join(base_path, GRAPH_FILE), os.path.join(base_path, "1", GRAPH_FILE)):
        if os.path.isfile(candidate):
            return candidate
    return None


def model_versions(base_path):
    """The numeric subdirectories of a classic model's base_path (its versions); none when it is missing."""
    try:
        return sorted(int(d) for d in os.listdir(base_path)
                      if d.isdigit() and os.path.isdir(os.path.join(base_path, d)))
    except OSError:
        return []


class Graph:
    """A MediaPipe LLM graph. state (PipelineDefinitionStateCode): BEGIN, RELOADING,
    LOADING_PRECONDITION_FAILED, AVAILABLE, RETIRED."""

    kind = "graph"

    def __init__(self, name, base_path, graph_path):
        self.name = name
        self.base_path = base_path
        self.graph_path = graph_path
        self.key = None          # what MediapipeGraphConfig::isReloadRequired compares
        self.state = "BEGIN"
        self.error = ""
        self.engine = None
        self.described = None
        self.created = int(time.time())
        self.in_flight = 0       # ovms_current_graphs

    def config_key(self):
        try:
            md5 = file_md5(self.graph_path)
        except OSError:
            md5 = ""
        return (self.base_path, self.graph_path, md5)

    def status_json(self):
        # dags/pipelinedefinitionstatus.cpp convertToModelStatus
        state, code = {"AVAILABLE": ("AVAILABLE", "OK"), "LOADING_PRECONDITION_FAILED": ("LOADING", "FAILED_PRECONDITION"),
                       "RETIRED": ("END", "OK")}.get(self.state, ("LOADING", "OK"))
        return {"model_version_status": [{"version": "1", "state": state,
                                          "status": {"error_code": code, "error_message": code}}]}

    @property
    def available(self):
        return self.state == "AVAILABLE"


class Model:
    """A classic model entry (no graph.pbtxt): one status per version subdirectory. The stand-in reads no IR
    and serves no KServe inference; a version directory is reported AVAILABLE without loading anything."""

    kind = "model"

    def __init__(self, name, base_path):
        self.name = name
        self.base_path = base_path
        self.versions = []
        self.retired = set()
        self.in_config = True
        self.created = int(time.time())
        self.in_flight = 0
        self.state = "AVAILABLE"

    def refresh(self):
        now = model_versions(self.base_path)
        self.retired |= set(self.versions) - set(now)
        self.retired -= set(now)
        self.versions = now

    def status_json(self):
        # An entry whose base_path does not exist (or holds no version) has an EMPTY model_version_status.
        statuses = [{"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": "OK"}}
                    for v in self.versions]
        statuses += [{"version": str(v), "state": "END", "status": {"error_code": "OK", "error_message": "OK"}}
                     for v in sorted(self.retired)]
        return {"model_version_status": sorted(statuses, key=lambda s: int(s["version"]))}

    @property
    def available(self):
        return False  # not a MediaPipe graph: /v3 does not serve it


def read_config(path):
    """config.json -> (graphs [(name, base_path, graph_path)], models [(name, base_path)], monitoring or None).

    modelmanager.cpp loadConfig -> parseConfig (JSON), the schema, loadModels (an entry whose base_path
    holds graph.pbtxt is a graph, CheckStartFromGraph), parseMediapipeConfig (legacy list). base_path is
    resolved against the config file's directory (modelconfig.cpp setBasePath -> FileSystem::setPath).
    """
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
    models = doc.get("model_config_list")
    graphs_legacy = doc.get("mediapipe_config_list", [])
    if models is not None and not isinstance(models, list) or not isinstance(graphs_legacy, list):
        raise schema_error
    root = os.path.dirname(os.path.abspath(path))
    graphs, classic = [], []
    for graph in graphs_legacy:
        if not isinstance(graph, dict) or not isinstance(graph.get("name"), str) or not graph["name"] \
                or not isinstance(graph.get("base_path", ""), str) or not isinstance(graph.get("graph_path", ""), str):
            raise schema_error
        base = os.path.join(root, graph.get("base_path") or graph["name"])
        graph_path = os.path.join(base, graph.get("graph_path") or GRAPH_FILE)
        graphs.append((graph["name"], base, graph_path))
    for item in models or []:
        config = item.get("config") if isinstance(item, dict) else None
        if not isinstance(config, dict) or not isinstance(config.get("name"), str) \
                or not isinstance(config.get("base_path"), str) or not config["name"]:
            raise schema_error
        base = os.path.join(root, config["base_path"])
        graph_path = graph_file_in(base)
        if graph_path:
            graphs.append((config["name"], base, graph_path))
        else:
            classic.append((config["name"], base))
    if models is None:
        # loadModelsConfig: "Configuration file doesn't have models property." -> JSON_INVALID, which
        # startFromFile returns: the model manager does not start, even with a mediapipe_config_list.
        raise ConfigError("Configuration file doesn't have models property.")
    monitoring = doc.get("monitoring")
    return graphs, classic, monitoring if isinstance(monitoring, dict) else None


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
        self.env = env
        self.lock = threading.Lock()
        self.servables = {}          # name -> Graph | Model, in config order
        self.ready = False           # initial load of the model manager finished
        self.draining = False        # SIGTERM received: no new requests
        self.active_requests = 0     # requests being handled (for the drain)
        self.idle = threading.Condition(self.lock)
        self.metrics_enabled = bool(opts.get("metrics_enable"))
        self.counters = {}           # (metric, method, name) -> int
        self.load_delay = float(env.get("OVMS_STANDIN_LOAD_DELAY") or 0)
        self.fail_models = {m.strip() for m in (env.get("OVMS_STANDIN_FAIL_MODELS") or "").split(",") if m.strip()}
        self.grace = float(env.get("OVMS_STANDIN_GRACE_SECONDS") or 30)
        self.api_key = None
        self.warned_v3v1 = False
        # drogon_http_server.cpp: every URL containing /completions (also /responses, /audio/transcriptions)
        # runs on the streaming ThreadPool of rest_workers threads, until the response ends. One of them runs
        # drogon::app().run() for the server's lifetime (startAcceptingRequests schedules it on that pool),
        # so rest_workers - 1 such requests run at once; the others wait in the pool's queue, unseen by the
        # metrics. Health, config and metrics requests run on drogon's own rest_workers listener threads.
        self.workers = rest_workers(opts)
        self.completion_slots = threading.Semaphore(max(1, self.workers - 1))
        self.queued = 0              # completion requests waiting for a worker (not in any OVMS metric)

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
    """Prometheus text of the families OVMS keeps for MediaPipe graphs (model_metric_reporter.cpp
    MediapipeServableMetricReporter: ovms_current_graphs, ovms_requests_accepted, ovms_responses ...;
    ovms_current_requests belongs to classic models and DAGs), plus the stand-in's own engine gauges."""
    def esc(value):
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    with state.lock:
        graphs = [s for s in state.servables.values() if s.kind == "graph" and s.state != "RETIRED"]
        counters = dict(state.counters)
        in_flight = {s.name: s.in_flight for s in graphs}
        described = {s.name: s.described for s in graphs if s.described}
    # Classic models' families (ModelMetricReporter) are not reproduced: the stand-in serves no KServe API.
    lines = ["# HELP ovms_current_graphs Number of MediaPipe graphs in process.", "# TYPE ovms_current_graphs gauge"]
    lines += [f'ovms_current_graphs{{name="{esc(n)}"}} {v}' for n, v in in_flight.items()]
    families = (("ovms_requests_success", "Number of successful requests to a model or a DAG."),
                ("ovms_requests_fail", "Number of failed requests to a model or a DAG."),
                ("ovms_requests_accepted", "Number of accepted requests which ended up inserting packet(s) "
                                           "into a MediaPipe graph."),
                ("ovms_responses", "Number of responses generated by the MediaPipe graph."))
    for metric, help_text in families:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter"]
        for s in graphs:
            for method in ("Unary", "Stream"):
                value = counters.get((metric, method, s.name), 0)
                lines.append(f'{metric}{{api="V3",interface="REST",method="{method}",name="{esc(s.name)}"}} {value}')
    # Not OVMS: what the stand-in's engine reports about itself (threads it runs, CPUs it may use).
    lines += ["# HELP numaserve_standin_engine_threads Inference threads of the stand-in's engine for a graph "
              "(not an OVMS metric).", "# TYPE numaserve_standin_engine_threads gauge"]
    lines += [f'numaserve_standin_engine_threads{{name="{esc(n)}",engine="{esc(d["engine"])}"}} {int(d["threads"])}'
              for n, d in described.items()]
    lines += ["# HELP numaserve_standin_engine_info The stand-in's engine for a graph and the CPUs its threads may "
              "use (not an OVMS metric).", "# TYPE numaserve_standin_engine_info gauge"]
    lines += [f'numaserve_standin_engine_info{{name="{esc(n)}",engine="{esc(d["engine"])}",cpus="{esc(str(d["cpus"]))}"}} 1'
              for n, d in described.items()]
    lines += ["# HELP numaserve_standin_rest_queue Completion requests waiting for a REST worker (not an OVMS "
              "metric: OVMS does not count them).", "# TYPE numaserve_standin_rest_queue gauge",
              f"numaserve_standin_rest_queue {state.queued}"]
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
            # server.cpp / servablemanagermodule.cpp: ready once the model manager's initial load returned
            if state.ready:
                self.send(200, b"{}")
            else:
                self.send_error_json(503, "Server is not ready")
        elif path == "/v1/config":
            with state.lock:
                body = {name: s.status_json() for name, s in state.servables.items()}
            self.send(200, json.dumps(body, indent=1).encode())
        elif path in ("/v3/models", "/v3/v1/models", "/v1/models"):
            # http_rest_api_handler.cpp: getNamesOfAvailableMediapipePipelines
            with state.lock:
                data = [{"id": s.name, "object": "model", "created": s.created, "owned_by": "OVMS"}
                        for s in state.servables.values() if s.available]
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
            elif not (servable.available or (servable.kind == "model" and servable.versions)):
                self.send_error_json(404, "Model with requested version is not loaded yet")
            else:
                self.send(200, b"")
        elif V3_MODEL_RE.match(path):
            servable = state.servables.get(V3_MODEL_RE.match(path).group(1))
            if servable is None or not servable.available:
                self.send_error_json(500, "Model not found")
            else:
                self.send_json(200, {"id": servable.name, "object": "model", "created": servable.created,
                                     "owned_by": "OVMS"})
        else:
            self.send_error_json(400, "Invalid request URL")

    # -- POST -------------------------------------------------------------------------------------
    def route_post(self, path):
        body = self.read_body()
        if "/completions" not in path:
            self.route_completion(path, body)
            return
        state = self.state
        # The REST worker pool (State.completion_slots): wait, unseen, for a free worker.
        with state.lock:
            state.queued += 1
        state.completion_slots.acquire()
        with state.lock:
            state.queued -= 1
        try:
            self.route_completion(path, body)
        finally:
            state.completion_slots.release()

    def route_completion(self, path, body):
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
        # modelmanager.cpp createPipeline -> mediapipefactory.cpp create: only MediaPipe graphs serve /v3;
        # an unknown name and a classic model's name both get MEDIAPIPE_DEFINITION_NAME_MISSING (404).
        if servable is None or servable.kind != "graph":
            self.send_error_json(404, "Mediapipe graph definition with requested name is not found")
            return
        stream = request.get("stream") is True
        method = "Stream" if stream else "Unary"
        if servable.state == "RETIRED":
            self.send_error_json(404, "Mediapipe is retired")  # MEDIAPIPE_DEFINITION_NOT_LOADED_ANYMORE
            return
        engine = servable.engine
        if servable.state != "AVAILABLE" or engine is None:
            state.count("ovms_requests_fail", method, name)
            self.send_error_json(503, "Mediapipe is not loaded yet")  # MEDIAPIPE_DEFINITION_NOT_LOADED_YET
            return
        try:
            messages, prompt, params, include_usage = parse_generation_request(request, chat)
        except RequestError as exc:
            state.count("ovms_requests_fail", method, name)
            self.send_error_json(exc.status, exc.message)
            return
        if chat:
            prompt = engine.apply_chat_template(messages)
        state.count("ovms_requests_accepted", method, name)
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

        generation = None
        try:
            generation = engine.submit(prompt, params)
            if stream:
                self.stream_response(chat, name, generation, include_usage, settle)
            else:
                text = "".join(generation)
                self.unary_response(chat, name, text, generation, settle)
        finally:
            settle(False)  # no-op when the response was completed
            if MODELMANAGER.isEnabledFor(logging.DEBUG):
                MODELMANAGER.debug("%s request to %s: %s tokens, %s", method, name,
                                   getattr(generation, "completion_tokens", "?"),
                                   "completed" if settled[0] else "cancelled (client disconnected)")

    @staticmethod
    def usage(generation):
        return {"prompt_tokens": generation.prompt_tokens, "completion_tokens": generation.completion_tokens,
                "total_tokens": generation.prompt_tokens + generation.completion_tokens}

    def unary_response(self, chat, name, text, generation, settle):
        finish = generation.finish_reason
        if chat:
            choice = {"finish_reason": finish, "index": 0, "logprobs": None,
                      "message": {"content": text, "role": "assistant"}}
            obj = "chat.completion"
        else:
            choice = {"finish_reason": finish, "index": 0, "logprobs": None, "text": text}
            obj = "text_completion"
        body = dumps({"choices": [choice], "created": int(time.time()), "model": name, "object": obj,
                      "usage": self.usage(generation)})
        self.state.count("ovms_responses", "Unary", name)
        settle(True)
        self.send(200, body)

    def write_event(self, name, payload):
        data = b"data: " + payload + b"\n\n"
        self.state.count("ovms_responses", "Stream", name)
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def stream_response(self, chat, name, generation, include_usage, settle):
        """The SSE stream of src/llm/servable.cpp preparePartialResponse + openai_completions.cpp serializers."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        if self.state.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        created = int(time.time())
        obj = "chat.completion.chunk" if chat else "text_completion.chunk"  # serializeStreamingChunk
        extra = {"usage": None} if include_usage else {}

        def chunk(choice, **more):
            return dumps({"choices": [choice], "created": created, "model": name, "object": obj, **more})

        def content(delta, reason):
            if chat:
                return chunk({"index": 0, "logprobs": None, "delta": delta, "finish_reason": reason}, **extra)
            return chunk({"index": 0, "logprobs": None, "text": delta.get("content", ""), "finish_reason": reason},
                         **extra)

        deltas = iter(generation)
        first = next(deltas, None)  # prefill and the first token
        # serializeStreamingHandshakeChunk: role + content null (chat) or text "" (completions), no logprobs,
        # no usage key. OVMS sends it when the first step gives no text delta yet (servable.cpp, isFirstToken
        # and nothing drained); with a real detokenizer that depends on the token. The stand-in always sends
        # it, right after the first token is generated, so clients must not take it for the first token.
        handshake = ({"index": 0, "delta": {"role": "assistant", "content": None}, "finish_reason": None} if chat
                     else {"index": 0, "text": "", "finish_reason": None})
        self.write_event(name, chunk(handshake))
        if first:
            self.write_event(name, content({"content": first}, None))
        for delta in deltas:
            if delta:
                self.write_event(name, content({"content": delta}, None))
        # The finish_reason rides on the last delta in OVMS when the last step produced text; the engine
        # interface yields deltas one by one, so the stand-in sends it on an empty chunk, as OVMS does when
        # the last step produced none (servable.cpp "No delta produced").
        self.write_event(name, content({}, generation.finish_reason) if chat else
                         content({"content": ""}, generation.finish_reason))
        if include_usage:  # serializeStreamingUsageChunk: empty choices, usage
            self.write_event(name, dumps({"choices": [], "created": created, "model": name, "object": obj,
                                          "usage": self.usage(generation)}))
        settle(True)
        self.state.count("ovms_responses", "Stream", name)
        data = b"data: [DONE]\n\n"
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))  # last event + end of chunks


def parse_generation_request(request, chat):
    """Validate an OpenAI request as openai_completions.cpp does; return (messages, prompt, params, include_usage)."""
    messages, prompt = None, None
    if chat:
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError(400, "Messages missing" if messages is None else "Messages array cannot be empty")
        for message in messages:
            if not isinstance(message, dict):
                raise RequestError(400, "Message is not a JSON object")
            content = message.get("content")
            if content is not None and not isinstance(content, (str, list)):
                raise RequestError(400, "Invalid message structure - content should be string or array")
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
    params = {"max_tokens": max_tokens, "chat": chat}  # llm_engine: add_special_tokens = not chat (input_processor.cpp)
    for key in ("temperature", "top_p", "top_k", "seed", "stop", "ignore_eos", "repetition_penalty",
                "frequency_penalty", "presence_penalty"):
        if key in request:
            params[key] = request[key]
    return messages, prompt, params, include_usage


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
# Start-up, the model manager, the config watcher, shutdown
# ---------------------------------------------------------------------------------------------------

class StartError(Exception):
    """The model manager does not start: the process exits with .code (server.cpp statusToExitCode)."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class StandIn:
    def __init__(self, opts, env):
        self.opts = opts
        self.env = env
        self.state = State(opts, env)
        self.rest_servers = []
        self.grpc_sockets = []
        self.stop = threading.Event()
        self.exit_code = 0
        self.signal_name = None
        self.config_file = None
        self.config_md5 = None

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
        workers = self.state.workers
        SERVING.info("Will start %d REST workers", workers)
        addresses = [a.strip() for a in self.opts.get("rest_bind_address", "0.0.0.0").split(",")]
        for address in addresses:
            host, family = resolve(address, port)
            server = make_server(host, port, family)
            self.rest_servers.append(server)
        Handler.state = self.state
        for server, address in zip(self.rest_servers, addresses):
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
            SERVING.info("Binding REST server to address: %s:%d", address, port)
        # drogon_http_server.cpp startAcceptingRequests
        SERVING.info("REST server listening on port %d with %d unary threads and %d streaming threads",
                     port, workers, workers)
        for address in addresses:
            SERVING.info("Started REST server at %s:%d", f"[{address}]" if ":" in address else address, port)

    # -- loading ----------------------------------------------------------------------------------
    def load_graph(self, graph):
        """MediaPipe graph definition: parse graph.pbtxt's LLM node, build the engine (servable_initializer.cpp)."""
        state = self.state
        reason = None
        engine = None
        described = None
        try:
            if graph.name in state.fail_models:
                raise EngineLoadError("OVMS_STANDIN_FAIL_MODELS names this model")
            if not os.path.isfile(graph.graph_path):
                raise EngineLoadError(f"Graph: {graph.name} path: {graph.graph_path} does not exist")
            options = parse_graph(graph.graph_path)
            models_path = resolve_models_path(options.pop("models_path"), os.path.dirname(graph.graph_path))
            # OVMS passes rest_workers to ov_utils.cpp applyDefaultCpuProperties (tokenizer NUM_STREAMS)
            engine = make_engine(models_path, dict(options, rest_workers=state.workers), self.env)
            described = engine.describe()
            ENGINELOG.info("Engine for %s: engine=%s threads=%s cpus=%s models_path=%s graph_options=%s",
                           graph.name, described.get("engine"), described.get("threads"), described.get("cpus"),
                           models_path, json.dumps(options, sort_keys=True))
        except (EngineLoadError, OSError) as exc:
            reason = str(exc)
        with state.lock:
            old = graph.engine
            graph.engine, graph.described = engine, described
            graph.state = "LOADING_PRECONDITION_FAILED" if reason else "AVAILABLE"
            graph.error = reason or ""
        if old is not None and old is not engine:
            old.close()
        if reason:
            if reason.startswith("Error during llm node initialization"):
                MODELMANAGER.error("%s", reason)  # the engine's own message already has OVMS's wording
            else:
                MODELMANAGER.error("Error during llm node initialization for models_path: %s exception: %s",
                                   graph.base_path, reason)
            MODELMANAGER.info("Mediapipe: %s state changed to: LOADING_PRECONDITION_FAILED after handling: "
                              "ValidationFailedEvent:", graph.name)
        else:
            MODELMANAGER.info("Mediapipe: %s state changed to: AVAILABLE after handling: ValidationPassedEvent:",
                              graph.name)
        return reason is None

    def apply_entries(self, graphs, models):
        """Add, reload and retire servables as loadConfig does: loadModels + retireModelsRemovedFromConfigFile,
        loadMediapipeGraphsConfig (retireOtherThan, processMediapipeConfig: create or, when
        MediapipeGraphConfig::isReloadRequired - base path, graph path or graph.pbtxt MD5 changed - reload)."""
        state = self.state
        to_load = []
        seen = set()
        for name, base_path, graph_path in graphs:
            if name in seen:
                MODELMANAGER.warning("Duplicated mediapipe names: %s defined in config file. "
                                     "Only first graph will be loaded.", name)
                continue
            seen.add(name)
            with state.lock:
                current = state.servables.get(name)
                if current is not None and current.kind != "graph":
                    current = None
                candidate = Graph(name, base_path, graph_path)
                key = candidate.config_key()
                if current is None:
                    candidate.key = key
                    state.servables[name] = candidate
                    to_load.append(candidate)
                    MODELMANAGER.info("Loading mediapipe graph: %s from base path: %s", name, base_path)
                elif current.state == "RETIRED" or current.key != key:
                    current.base_path, current.graph_path, current.key = base_path, graph_path, key
                    current.state = "RELOADING"  # LOADING/OK in /v1/config until the reload ends
                    to_load.append(current)
                    MODELMANAGER.info("Reloading mediapipe graph: %s", name)
        model_names = set()
        for name, base_path in models:
            if name in seen or name in model_names:
                MODELMANAGER.warning("Duplicated model names: %s defined in config file. "
                                     "Only first definition will be loaded.", name)
                continue
            model_names.add(name)
            with state.lock:
                current = state.servables.get(name)
                if current is None or current.kind != "model":
                    current = Model(name, base_path)
                    state.servables[name] = current
                current.base_path, current.in_config = base_path, True
                current.refresh()
            if not current.versions:
                # The classic model is registered but no version loads: model_version_status stays [].
                MODELMANAGER.error("Directory does not exist or holds no version: %s (model %s)", base_path, name)
        with state.lock:
            for name, servable in state.servables.items():
                if servable.kind == "graph" and name not in seen and servable.state != "RETIRED":
                    servable.state = "RETIRED"  # mediapipefactory.cpp retireOtherThan
                    MODELMANAGER.info("Mediapipe: %s state changed to: RETIRED", name)
                elif servable.kind == "model" and name not in model_names and servable.in_config:
                    servable.retired |= set(servable.versions)  # retireAllVersions: versions END
                    servable.versions = []
                    servable.in_config = False
        return to_load

    def load_config_file(self, initial):
        """ModelManager::loadConfig. Initial: errors that startFromFile returns stop the start (exit 1)."""
        state = self.state
        try:
            self.config_md5 = file_md5(self.config_file)
        except OSError:
            self.config_md5 = None
        graphs, models, monitoring = read_config(self.config_file)
        if initial:
            # loadMetricsConfig runs once per server start
            if monitoring is not None and self.opts.get("metrics_enable"):
                raise ConfigError("Metrics configuration duplicated in configuration file and CLI parameters")
            metrics = (monitoring or {}).get("metrics", {})
            if isinstance(metrics, dict) and metrics.get("enable"):
                if not self.opts.get("rest_port"):
                    # parseMetricsConfig(forceFailureIfMetricsAreEnabled = restPort == 0): METRICS_REST_PORT_MISSING
                    raise ConfigError("rest_port setting is missing, metrics are enabled on rest port")
                state.metrics_enabled = True
        return self.apply_entries(graphs, models)

    def load_models(self):
        """The servable manager (servablemanagermodule.cpp -> ModelManager::start): after gRPC and REST."""
        state = self.state
        try:
            if "model_path" in self.opts:
                to_load = self.start_single_model()
            else:
                path = self.opts["config_path"]
                # cli_parser.cpp getConfigPath: a directory means <dir>/config.json
                self.config_file = os.path.join(path, "config.json") if os.path.isdir(path) else path
                to_load = self.load_config_file(initial=True)
            if state.load_delay and self.stop.wait(state.load_delay):
                return
            results = [self.load_graph(graph) for graph in to_load]
            if "model_path" in self.opts and not all(results):
                raise StartError(EX_FAILURE)
        except ConfigError as exc:
            MODELMANAGER.error("%s", exc)
            MODELMANAGER.error("Couldn't start model manager")
            self.request_exit(EX_FAILURE)
            return
        except StartError as exc:
            MODELMANAGER.error("Couldn't start model manager")
            self.request_exit(exc.code)
            return
        with state.lock:
            state.ready = True
        SERVING.info("ServableManagerModule started")
        self.start_watcher()

    def start_single_model(self):
        """modelmanager.cpp startFromConfig: --model_path/--model_name."""
        name, path = self.opts["model_name"], self.opts["model_path"]
        graph_path = graph_file_in(path)
        if graph_path:
            unsupported = [a for a in user_set_model_args(self.opts) if a not in GRAPH_SINGLE_MODEL_ALLOWED]
            if unsupported:
                # validateUserSettingsInSingleModelCliGraphStart -> OPTIONS_USAGE_ERROR -> exit 64
                MODELMANAGER.error("Starting mediapipe graph with unsupported model settings: %sThe settings "
                                   "should be set in subconfig.json file.", "".join(a + ", " for a in unsupported))
                raise StartError(EX_USAGE)
            return self.apply_entries([(name, path, graph_path)], [])
        if os.path.exists(os.path.join(path, "config.json")) or os.path.exists(os.path.join(path, "model_index.json")):
            # cli_parser.cpp isInMemoryGraphMode: OVMS would build a graph in memory for this folder.
            MODELMANAGER.error("%s has no graph.pbtxt: OVMS v2026.3 would create an in-memory graph for it "
                               "(cli_parser.cpp isInMemoryGraphMode), which the stand-in does not implement", path)
            raise StartError(EX_USAGE)
        if not os.path.isdir(path):
            MODELMANAGER.error("Directory does not exist: %s", path)
            raise StartError(EX_FAILURE)
        self.apply_entries([], [(name, path)])
        if not self.state.servables[name].versions:
            # UNKNOWN: the exact status of a classic single model without a version directory; it cannot serve.
            MODELMANAGER.error("No version found for model: %s in path: %s", name, path)
            raise StartError(EX_FAILURE)
        return []

    def start_watcher(self):
        """ModelManager::startWatcher: only when file_system_poll_wait_seconds > 0 (default 1)."""
        interval = self.opts.get("file_system_poll_wait_seconds", 1)
        if interval > 0:
            threading.Thread(target=self.watcher, args=(interval,), daemon=True).start()

    def watcher(self, interval):
        """ModelManager::watcher: each interval, reload config.json when its MD5 changed
        (configFileReloadNeeded), then re-scan classic models' versions (updateConfigurationWithoutConfigFile).
        A graph.pbtxt or weight file change alone reloads nothing: graphs are compared only while
        config.json is being reloaded."""
        MODELMANAGER.info("Started model manager thread")
        while not self.stop.wait(interval):
            if self.config_file:
                try:
                    changed = file_md5(self.config_file) != self.config_md5
                except OSError:
                    changed = False  # "Config file not found or cannot open."
                if changed:
                    MODELMANAGER.info("Configuration file changed: reloading %s", self.config_file)
                    try:
                        for graph in self.load_config_file(initial=False):
                            self.load_graph(graph)
                    except ConfigError as exc:
                        # The servables keep their state; the new MD5 is kept, so the same file is not retried.
                        MODELMANAGER.error("%s", exc)
            with self.state.lock:
                for servable in self.state.servables.values():
                    if servable.kind == "model" and servable.in_config:
                        servable.refresh()
        MODELMANAGER.info("Stopped model manager thread")

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
        SERVING.info("%s %s: numaserve.ovms stand-in, a test double (not OVMS)", SERVER_NAME, VERSION)
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
        """server.cpp shutdownModules: gRPC, then HTTP, then the servables; exit 0 after a signal.
        UNKNOWN: whether drogon's quit cuts open streams (drogon_http_server.cpp terminate: app().quit(),
        then pool.reset() waits for the worker threads); the stand-in lets them finish within the grace time."""
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
        for servable in list(state.servables.values()):
            if getattr(servable, "engine", None) is not None:
                servable.engine.close()
        MODELMANAGER.info("Shutdown model manager")
        SERVING.info("Server shutdown")
        return self.exit_code


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
            print(f"{SERVER_NAME} {VERSION} (numaserve.ovms stand-in, a test double)")
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
