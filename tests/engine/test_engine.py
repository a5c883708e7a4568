# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""llm_engine.OpenVINOEngine on the tiny model: threads follow the affinity, greedy is deterministic,
requests join a running batch, tokens stream, usage counts real tokens."""

import json
import os
import subprocess
import sys
import threading

import pytest

import llm_engine

GRAPH = {"plugin_config": "{}", "enable_prefix_caching": True, "cache_size": 0, "max_num_seqs": 256}
GREEDY = {"temperature": 0, "max_tokens": 24, "ignore_eos": True}


@pytest.fixture(scope="module")
def engine(tiny_model):
    eng = llm_engine.Engine(str(tiny_model), GRAPH)
    yield eng
    eng.close()


def describe_under(cpus, model):
    """describe() of an engine loaded in a fresh process whose affinity is `cpus`."""
    code = ("import json, os, sys; os.sched_setaffinity(0, %r); sys.path.insert(0, %r); import llm_engine; "
            "e = llm_engine.Engine(%r, {}); print(json.dumps(e.describe())); e.close()"
            % (set(cpus), os.path.dirname(llm_engine.__file__), str(model)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_in_a_container_threads_equal_the_cpus_of_the_affinity(engine):
    assert llm_engine.is_running_in_docker()
    cpus = sorted(os.sched_getaffinity(0))
    facts = engine.describe()
    assert facts["engine"] == "openvino"
    assert facts["threads"] == len(cpus)
    assert facts["cpus"] == llm_engine.cpulist(cpus)
    assert facts["pinning"] is True  # no CPU quota on this container
    assert engine.plugin_config["INFERENCE_NUM_THREADS"] == len(cpus)


def test_one_cpu_one_thread(tiny_model):
    cpu = min(os.sched_getaffinity(0))
    facts = describe_under([cpu], tiny_model)
    assert facts["threads"] == 1 and facts["cpus"] == str(cpu)


def test_graph_options_become_the_scheduler_config(tiny_model):
    eng = llm_engine.Engine(str(tiny_model), {"max_num_seqs": 3, "cache_size": 0, "enable_prefix_caching": False,
                                              "plugin_config": '{"INFERENCE_NUM_THREADS": 1}'})
    try:
        assert eng.scheduler.max_num_seqs == 3 and eng.scheduler.enable_prefix_caching is False
        assert eng.describe()["threads"] == 1  # the graph's plugin_config wins over OVMS's default
    finally:
        eng.close()


def test_greedy_is_deterministic_alone_and_in_a_batch(engine):
    prompt = engine.apply_chat_template([{"role": "user", "content": "Which instance answers?"}])
    alone = engine.submit(prompt, dict(GREEDY, chat=True)).text()
    results = [None] * 4

    def run(i):
        results[i] = engine.submit(prompt, dict(GREEDY, chat=True)).text()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert alone and results == [alone] * 4


def test_usage_counts_prompt_and_generated_tokens(engine, tiny_model):
    import openvino_genai  # pylint: disable=import-outside-toplevel
    prompt = "the model server runs one instance per node"
    gen = engine.submit(prompt, GREEDY)
    text = gen.text()
    tokenizer = openvino_genai.Tokenizer(str(tiny_model))
    assert gen.prompt_tokens == tokenizer.encode(prompt).input_ids.get_size()
    assert gen.completion_tokens == 24 and gen.finish_reason == "length"
    assert text


def test_first_chunk_arrives_while_generation_runs(engine):
    gen = engine.submit("hello", {"temperature": 0, "max_tokens": 400, "ignore_eos": True})
    chunks = iter(gen)
    next(chunks)
    running_at_first_chunk = gen._handle.get_status().name == "RUNNING"  # pylint: disable=protected-access
    rest = list(chunks)
    assert running_at_first_chunk and rest
    assert gen.completion_tokens == 400


def test_a_request_joins_the_running_batch(engine):
    long = engine.submit("a long one", {"temperature": 0, "max_tokens": 600, "ignore_eos": True})
    it = iter(long)
    next(it)
    short = engine.submit("a short one", {"temperature": 0, "max_tokens": 4, "ignore_eos": True})
    short.text()
    assert long._handle.get_status().name == "RUNNING"  # pylint: disable=protected-access
    list(it)
    assert long.completion_tokens == 600 and short.completion_tokens == 4


def test_stop_string_ends_with_stop(engine):
    text = engine.submit("hello", GREEDY).text()
    stop = text[len(text) // 2:len(text) // 2 + 2].strip() or text[:1]
    gen = engine.submit("hello", dict(GREEDY, stop=[stop]))
    out = gen.text()
    assert gen.finish_reason == "stop" and len(out) < len(text)


def test_an_abandoned_stream_is_stopped(engine):
    # 600 tokens: still running after the first (as in test_a_request_joins_the_running_batch), and within
    # the KV cache: 2000 could exhaust it first, and the pipeline then ends the request as IGNORED.
    gen = engine.submit("hello", {"temperature": 0, "max_tokens": 600, "ignore_eos": True})
    it = iter(gen)
    next(it)
    it.close()  # the client went away: OVMS stops the handle
    assert gen._handle.get_status().name in ("DROPPED_BY_HANDLE", "STOP", "CANCEL")  # pylint: disable=protected-access
    assert engine.submit("still serving", GREEDY).text()


def test_sampling_with_a_seed_repeats(engine):
    params = {"temperature": 1.0, "seed": 5, "max_tokens": 16, "ignore_eos": True}
    assert engine.submit("x", params).text() == engine.submit("x", params).text()


def test_a_folder_without_a_model_is_a_load_error(tmp_path):
    with pytest.raises(llm_engine.EngineLoadError, match="openvino_model.xml"):
        llm_engine.Engine(str(tmp_path), {})
