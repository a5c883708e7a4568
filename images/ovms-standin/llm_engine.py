"""OpenVINO GenAI engine of the OVMS stand-in (a TEST DOUBLE's backend, not OVMS).

Loaded lazily by ovms_standin.py when OVMS_STANDIN_ENGINE=openvino (the default for an LLM graph whose
model folder holds openvino_model.xml). It serves generation the way OVMS v2026.3 does, with the same
library OVMS links (OpenVINO GenAI's ContinuousBatchingPipeline); every behaviour names the OVMS source
it reproduces:

- src/llm/language_model/continuous_batching/servable_initializer.cpp
  ContinuousBatchingServableInitializer::initialize: graph options -> SchedulerConfig (max_num_batched_tokens,
  cache_size, dynamic_split_fuse, max_num_seqs, enable_prefix_caching), plugin_config JSON -> properties,
  applyDefaultCpuProperties for the model and for the tokenizer (NUM_STREAMS = min(rest_workers, cores),
  PERFORMANCE_HINT THROUGHPUT), then ContinuousBatchingPipeline(models_path, scheduler, device, props, tok_props).
- src/ov_utils.cpp applyDefaultCpuProperties and src/systeminfo.cpp (getCoreCount, isRunningInDocker,
  getCpuAffinityCount, getDockerCpuQuota, getPhysicalCoresPerSocket, getSocketsCount): inside a container,
  ENABLE_CPU_PINNING = (no CPU quota), INFERENCE_NUM_THREADS = cores of sched_getaffinity (min quota) when
  that is at most the physical cores, NUM_STREAMS for a THROUGHPUT hint.
- src/llm/language_model/continuous_batching/llm_executor.hpp LLMExecutorWrapper::run: one executor thread
  calls step() while the pipeline has unfinished requests and sleeps on a condition variable otherwise;
  servable.cpp addRequestToPipeline/scheduleExecution: request threads add_request() and notify it, so a
  request joins the running batch; a disconnected client stops its handle.
- src/llm/io_processing/input_processor.cpp + tokenization_processor.cpp: the prompt is encoded with
  add_special_tokens = not chat (the chat template adds them); src/llm/servable.cpp: prompt_tokens is the
  input ids' size; openai_completions.cpp updateUsage: completion_tokens counts generated ids.
- src/llm/io_processing/base_generation_config_builder.cpp: max_tokens, ignore_eos, temperature, top_p,
  top_k, seed, stop, penalties; do_sample = temperature > 0 (GenAI's default temperature is 1.0, so a
  request without temperature samples, with a random seed unless one is given).
- src/llm/ovms_text_streamer.cpp OVMSTextStreamer: text deltas hold back the last 3 tokens, flush at a
  newline, wait while the text ends in an incomplete UTF-8 sequence, flush the rest at the end.
- The chat template is the model's (tokenizer rt_info chat_template, read by GenAI's Tokenizer), applied
  with add_generation_prompt (OVMS: servable.cpp prepareInputs -> applyChatTemplate).

What it cannot know: OVMS's Jinja engine (minja/Python) may render templates slightly differently from
GenAI's apply_chat_template; tool/reasoning parsers, logprobs, n > 1, best_of, draft models, images are not
reproduced. GenAI does not expose the compiled model the pipeline built, so describe()'s thread count is
read from a compilation of the same openvino_model.xml with the same properties in the same process.
"""

import json
import logging
import os
import queue
import random
import threading
import time

LOG = logging.getLogger("llm_executor")
NAME = "openvino"


class EngineLoadError(Exception):
    """The model folder or the graph options cannot be loaded (OVMS: LLM_NODE_RESOURCE_STATE_INITIALIZATION_FAILED)."""


# ---------------------------------------------------------------------------------------------------
# src/systeminfo.cpp
# ---------------------------------------------------------------------------------------------------

def is_running_in_docker(root="/"):
    """systeminfo.cpp isRunningInDocker: /.dockerenv, /run/.containerenv, or docker/kubepods in /proc/self/cgroup."""
    if os.path.exists(os.path.join(root, ".dockerenv")) or os.path.exists(os.path.join(root, "run/.containerenv")):
        return True
    try:
        with open(os.path.join(root, "proc/self/cgroup"), encoding="utf-8") as handle:
            return any("docker" in line or "kubepods" in line for line in handle)
    except OSError:
        return False


def docker_cpu_quota(cgroup_root="/sys/fs/cgroup"):
    """systeminfo.cpp getDockerCpuQuota: ceil(quota / period) from cgroup v2 cpu.max or v1 cfs files; 0 = none."""
    try:
        with open(os.path.join(cgroup_root, "cpu.max"), encoding="utf-8") as handle:
            fields = handle.readline().split()
        if len(fields) >= 2:
            if fields[0] == "max":
                return 0
            quota, period = int(fields[0]), int(fields[1])
            if quota > 0 and period > 0:
                return (quota + period - 1) // period
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(cgroup_root, "cpu/cpu.cfs_quota_us"), encoding="utf-8") as q, \
                open(os.path.join(cgroup_root, "cpu/cpu.cfs_period_us"), encoding="utf-8") as p:
            quota, period = int(q.read().strip()), int(p.read().strip())
        if quota > 0 and period > 0:
            return (quota + period - 1) // period
    except (OSError, ValueError):
        pass
    return 0


def core_count(in_docker, affinity_count, quota, hardware_concurrency):
    """systeminfo.cpp getCoreCount: in a container min(affinity, quota) (affinity without quota), else all CPUs."""
    count = hardware_concurrency
    if in_docker:
        count = min(affinity_count, quota) if quota > 0 else affinity_count
    return max(count, 1)


def sockets_and_cores(cpuinfo_text, hardware_concurrency):
    """systeminfo.cpp getSocketsCount and getPhysicalCoresPerSocket from /proc/cpuinfo text.

    Sockets: distinct "physical id" lines (1 when there is none). Physical cores per socket: distinct
    "core id" lines of the first physical id (hardware_concurrency when there is none).
    """
    sockets, cores = set(), set()
    current = first = None
    for line in cpuinfo_text.splitlines():
        if "physical id" in line:
            sockets.add(line)
            current = line
            first = first or line
        if "core id" in line and current == first:
            cores.add(line)
    return (len(sockets) or 1), (len(cores) or max(hardware_concurrency, 1))


def apply_default_cpu_properties(properties, cores, physical_cores_per_socket, sockets, quota):
    """ov_utils.cpp applyDefaultCpuProperties (the five-argument form): returns a new dict.

    Keys the graph's plugin_config sets are left alone.
    """
    props = dict(properties)
    if "ENABLE_CPU_PINNING" not in props:
        props["ENABLE_CPU_PINNING"] = quota <= 0
    hint = str(props.get("PERFORMANCE_HINT", "")).upper()
    if hint == "THROUGHPUT" and "NUM_STREAMS" not in props:
        props["NUM_STREAMS"] = min(cores, physical_cores_per_socket * sockets)
    if "INFERENCE_NUM_THREADS" not in props and cores <= physical_cores_per_socket * sockets:
        props["INFERENCE_NUM_THREADS"] = cores
    return props


class SystemInfo:
    """The facts systeminfo.cpp reads, read once from this process and machine."""

    def __init__(self):
        self.in_docker = is_running_in_docker()
        self.affinity = sorted(os.sched_getaffinity(0))
        self.quota = docker_cpu_quota()
        self.hardware_concurrency = os.cpu_count() or 1
        self.cores = core_count(self.in_docker, len(self.affinity), self.quota, self.hardware_concurrency)
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as handle:
                cpuinfo = handle.read()
        except OSError:
            cpuinfo = ""
        self.sockets, self.physical_cores_per_socket = sockets_and_cores(cpuinfo, self.hardware_concurrency)

    def default_cpu_properties(self, properties):
        """ov_utils.cpp applyDefaultCpuProperties(properties): only inside a container."""
        if not self.in_docker:
            return dict(properties)
        return apply_default_cpu_properties(properties, self.cores, self.physical_cores_per_socket,
                                            self.sockets, self.quota)


def cpulist(cpus):
    """[0, 1, 2, 5] -> "0-2,5" (the kernel's cpulist format)."""
    cpus = sorted(set(cpus))
    ranges = []
    for cpu in cpus:
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def parse_plugin_config(value):
    """graph.pbtxt plugin_config (a JSON object, as text or already parsed) -> dict (JsonParser::parsePluginConfig)."""
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        return dict(value)
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise EngineLoadError(f"Error during llm node plugin_config option parsing to JSON: {value}") from exc
    if not isinstance(parsed, dict):
        raise EngineLoadError(f"Error during llm node plugin_config option parsing to JSON: {value}")
    return parsed


# ---------------------------------------------------------------------------------------------------
# src/llm/ovms_text_streamer.cpp
# ---------------------------------------------------------------------------------------------------

class TextStreamer:
    """Token ids in, text deltas out, with OVMSTextStreamer's flush rules."""

    DELAY_N_TOKENS = 3

    def __init__(self, decode):
        self.decode = decode
        self.tokens, self.lengths, self.printed = [], [], 0

    def write(self, token):
        self.tokens.append(token)
        text = self.decode(self.tokens)
        self.lengths.append(len(text))
        if text.endswith("\n") and len(text) > self.printed:
            chunk = text[self.printed:]
            self.tokens, self.lengths, self.printed = [], [], 0
            return chunk
        if text.endswith("\ufffd"):
            self.lengths[-1] = -1
            return ""
        if len(self.lengths) < self.DELAY_N_TOKENS:
            return ""
        until = self.lengths[-self.DELAY_N_TOKENS]
        if until <= 0 or until <= self.printed:
            return ""
        chunk = text[self.printed:until]
        self.printed = until
        return chunk

    def end(self):
        text = self.decode(self.tokens) if self.tokens else ""
        chunk = text[self.printed:]
        self.tokens, self.lengths, self.printed = [], [], 0
        return chunk


# ---------------------------------------------------------------------------------------------------
# One request
# ---------------------------------------------------------------------------------------------------

class Generation:
    """Iterator of text deltas; after exhaustion .prompt_tokens, .completion_tokens, .finish_reason."""

    def __init__(self, engine, prompt_tokens):
        self._engine = engine
        self._queue = queue.Queue()
        self._handle = None
        self.request_id = None
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self.finish_reason = None
        self.error = None
        self.done = False

    # called by the executor thread
    def _push(self, item):
        self._queue.put(item)

    def __iter__(self):
        streamer = TextStreamer(self._engine.decode)
        try:
            while True:
                kind, ids, reason = self._queue.get()
                if kind == "error":
                    self.error = reason
                    raise RuntimeError(reason)
                for token in ids:
                    self.completion_tokens += 1
                    chunk = streamer.write(token)
                    if chunk:
                        yield chunk
                if kind == "end":
                    self.finish_reason = reason
                    rest = streamer.end()
                    if rest:
                        yield rest
                    self.done = True
                    return
        finally:
            if not self.done:
                self.cancel()

    def text(self):
        return "".join(self)

    def cancel(self):
        """servable.cpp registerDisconnectionCallback: genHandle->stop()."""
        handle = self._handle
        if handle is not None and not self.done:
            try:
                handle.stop()
            except Exception:  # pylint: disable=broad-except
                pass
            self._engine.notify()


# ---------------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------------

class OpenVINOEngine:
    name = NAME

    def __init__(self, models_path, graph_options):
        start = time.monotonic()
        try:
            import openvino  # pylint: disable=import-outside-toplevel
            import openvino_genai  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise EngineLoadError(f"OpenVINO GenAI is not installed in this image: {exc}") from exc
        self._ov, self._genai = openvino, openvino_genai
        options = dict(graph_options or {})
        self.models_path = models_path
        if not os.path.isfile(os.path.join(models_path, "openvino_model.xml")):
            raise EngineLoadError(f"Error during llm node initialization for models_path: {models_path} "
                                  "exception: no openvino_model.xml in the model folder")
        self.system = SystemInfo()
        self.device = options.get("device") or "CPU"
        scheduler = openvino_genai.SchedulerConfig()
        # llm_calculator.proto defaults, as the graph leaves them unset
        scheduler.max_num_batched_tokens = int(options.get("max_num_batched_tokens", 256))
        scheduler.cache_size = int(options.get("cache_size", 0))
        scheduler.dynamic_split_fuse = bool(options.get("dynamic_split_fuse", True))
        scheduler.max_num_seqs = int(options.get("max_num_seqs", 256))
        scheduler.enable_prefix_caching = bool(options.get("enable_prefix_caching", False))
        self.scheduler = scheduler
        plugin = parse_plugin_config(options.get("plugin_config"))
        if self.device == "CPU":
            plugin = self.system.default_cpu_properties(plugin)
        rest_workers = int(options.get("rest_workers") or self.system.cores)
        tokenizer_props = self.system.default_cpu_properties(
            {"NUM_STREAMS": min(rest_workers, self.system.cores), "PERFORMANCE_HINT": "THROUGHPUT"})
        self.plugin_config = plugin
        self.tokenizer_config = tokenizer_props
        try:
            self._pipe = openvino_genai.ContinuousBatchingPipeline(models_path, scheduler, self.device,
                                                                   plugin, tokenizer_props)
            self._tokenizer = self._pipe.get_tokenizer()
        except Exception as exc:  # pylint: disable=broad-except
            raise EngineLoadError(f"Error during llm node initialization for models_path: {models_path} "
                                  f"exception: {exc}") from exc
        self.threads = self._compiled_threads(plugin)
        self.load_seconds = time.monotonic() - start
        self._lock = threading.Condition()
        self._active = {}
        self._next_id = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="llm_executor", daemon=True)
        self._thread.start()

    def _compiled_threads(self, plugin):
        """INFERENCE_NUM_THREADS of openvino_model.xml compiled with the pipeline's CPU properties."""
        if self.device != "CPU":
            return 0
        core = self._ov.Core()
        supported = set(core.get_property("CPU", "SUPPORTED_PROPERTIES"))
        props = {k: v for k, v in plugin.items() if k in supported}
        model = core.read_model(os.path.join(self.models_path, "openvino_model.xml"))
        compiled = core.compile_model(model, "CPU", props)
        threads = int(compiled.get_property("INFERENCE_NUM_THREADS"))
        del compiled, model
        return threads

    # -- the interface of team.md contract point 2 --------------------------------------------------

    def describe(self):
        return {"engine": NAME, "threads": self.threads, "cpus": cpulist(os.sched_getaffinity(0)),
                "pinning": bool(self.plugin_config.get("ENABLE_CPU_PINNING", False)),
                "load_seconds": round(self.load_seconds, 3)}

    def apply_chat_template(self, messages):
        try:
            return self._tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        except Exception as exc:  # pylint: disable=broad-except
            raise ValueError(f"Chat template error: {exc}") from exc

    def decode(self, ids):
        return self._tokenizer.decode(list(ids), skip_special_tokens=True)

    def generation_config(self, params):
        """base_generation_config_builder.cpp for the parameters the stand-in accepts."""
        config = self._genai.GenerationConfig()
        if params.get("max_tokens") is not None:
            config.max_new_tokens = int(params["max_tokens"])
        if params.get("ignore_eos") is not None:
            config.ignore_eos = bool(params["ignore_eos"])
        if params.get("temperature") is not None:
            config.temperature = float(params["temperature"])
        if params.get("top_p") is not None:
            config.top_p = float(params["top_p"])
        if params.get("top_k") is not None:
            config.top_k = int(params["top_k"])
        for key in ("repetition_penalty", "frequency_penalty", "presence_penalty"):
            if params.get(key) is not None:
                setattr(config, key, float(params[key]))
        stop = params.get("stop")
        if stop:
            config.stop_strings = {stop} if isinstance(stop, str) else set(stop)
        if params.get("include_stop_str_in_output") is not None:
            config.include_stop_str_in_output = bool(params["include_stop_str_in_output"])
        config.do_sample = config.temperature > 0.0 and config.num_beams == 1
        if config.do_sample:
            config.rng_seed = int(params["seed"]) if params.get("seed") is not None else random.randint(1, 2**31)
        return config

    def submit(self, prompt, params):
        """Tokenize, add_request, notify the executor (servable.cpp scheduleExecution). Thread-safe."""
        params = params or {}
        add_special = not params.get("chat", False)
        input_ids = self._tokenizer.encode(prompt, add_special_tokens=add_special).input_ids
        config = self.generation_config(params)
        generation = Generation(self, int(input_ids.get_size()))
        with self._lock:
            if self._closed:
                raise RuntimeError("engine closed")
            request_id = self._next_id
            self._next_id += 1
            generation.request_id = request_id
            generation._handle = self._pipe.add_request(request_id, input_ids, config)  # pylint: disable=protected-access
            self._active[request_id] = generation
            self._lock.notify()
        return generation

    def notify(self):
        with self._lock:
            self._lock.notify()

    def close(self):
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout=30)

    # -- llm_executor.hpp LLMExecutorWrapper::run ---------------------------------------------------

    def _run(self):
        steps = 0
        while True:
            with self._lock:
                while not self._closed and not self._pipe.has_non_finished_requests():
                    self._drain()
                    if not self._pipe.has_non_finished_requests():
                        LOG.debug("All requests: 0; Scheduled requests: 0;")
                        self._lock.wait()
                if self._closed:
                    for generation in self._active.values():
                        generation._push(("error", [], "server is shutting down"))  # pylint: disable=protected-access
                    self._active.clear()
                    return
            try:
                self._pipe.step()
            except Exception as exc:  # pylint: disable=broad-except
                # OVMS logs "Error occurred in LLM executor" and exits the process (exit(1)).
                LOG.error("Error occurred in LLM executor: %s.", exc)
                logging.shutdown()
                os._exit(1)  # pylint: disable=protected-access
            steps += 1
            if steps % 10 == 0 and LOG.isEnabledFor(logging.DEBUG):
                metrics = self._pipe.get_metrics()
                LOG.debug("All requests: %d; Scheduled requests: %d; Cache usage %.1f%%;",
                          metrics.requests, metrics.scheduled_requests, metrics.cache_usage)
            with self._lock:
                self._drain()

    def _drain(self):
        """Hand every readable output to its request's queue; retire finished requests (lock held)."""
        finished_status = (self._genai.GenerationStatus.FINISHED,)
        for request_id, generation in list(self._active.items()):
            handle = generation._handle  # pylint: disable=protected-access
            ended = None
            while handle.can_read():
                for output in handle.read().values():
                    reason = FINISH_REASONS.get(str(output.finish_reason).rsplit(".", 1)[-1])
                    generation._push(("end" if reason else "tokens", list(output.generated_ids), reason))  # pylint: disable=protected-access
                    ended = ended or reason
            status = handle.get_status()
            if ended:
                del self._active[request_id]
            elif status != self._genai.GenerationStatus.RUNNING and not handle.can_read():
                if status in finished_status:
                    generation._push(("end", [], "stop"))  # pylint: disable=protected-access
                else:
                    generation._push(("error", [], f"generation {str(status).rsplit('.', 1)[-1].lower()}"))  # pylint: disable=protected-access
                del self._active[request_id]


FINISH_REASONS = {"STOP": "stop", "LENGTH": "length"}


def Engine(models_path, graph_options):  # pylint: disable=invalid-name
    return OpenVINOEngine(models_path, graph_options)
