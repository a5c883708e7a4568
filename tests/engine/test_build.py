# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/test_models/build.py with OpenVINO GenAI: deterministic, cached by content, no network, loadable."""

import hashlib
import json
import socket
import subprocess
import sys

import build
import layout
import openvino_genai


def digests(folder):
    return {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in build.OUTPUT_FILES}


def test_no_network_here():
    """run.sh starts this container with --network none: the builds below cannot download anything."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        assert sock.connect_ex(("151.101.0.223", 443)) != 0  # pypi.org
    finally:
        sock.close()


def test_same_inputs_same_hash_and_identical_files(tmp_path, tiny_model):
    again = build.build_here("tiny", cache=tmp_path / "other-cache")
    assert again.name == tiny_model.name == f"tiny-{build.content_hash('tiny', build.SEED, openvino_genai.__version__)}"
    assert digests(again) == digests(tiny_model)


def test_a_second_build_reuses_the_cache(tiny_model):
    before = {f: (tiny_model / f).stat().st_mtime_ns for f in build.OUTPUT_FILES}
    assert build.build_here("tiny", cache=tiny_model.parent) == tiny_model
    assert {f: (tiny_model / f).stat().st_mtime_ns for f in build.OUTPUT_FILES} == before


def test_another_seed_is_another_model(tmp_path, tiny_model):
    other = build.build_here("tiny", seed=build.SEED + 1, cache=tmp_path)
    assert other.name != tiny_model.name
    assert digests(other)["openvino_model.bin"] != digests(tiny_model)["openvino_model.bin"]


def test_facts_file_says_random_weights(tiny_model):
    facts = json.loads((tiny_model / "numaserve_test_model.json").read_text())
    assert facts["random_weights"] is True and facts["size"] == "tiny" and facts["seed"] == build.SEED
    assert facts["files"] == digests(tiny_model)


def test_cli_lays_out_the_export_model_directory(tmp_path, tiny_model):
    out = subprocess.run([sys.executable, build.__file__, str(tmp_path / "models"), "--name", "test/llm",
                          "--cache", str(tiny_model.parent)], capture_output=True, text=True, check=True)
    model_dir = tmp_path / "models" / "models" / "test" / "llm"
    assert out.stdout.splitlines() == [str(model_dir), "changed"]
    assert json.loads((tmp_path / "models" / "config.json").read_text()) == \
        {"model_config_list": [{"config": {"name": "test/llm", "base_path": "models/test/llm"}}]}
    assert (model_dir / "graph.pbtxt").read_text() == layout.graph_pbtxt()
    assert digests(model_dir) == digests(tiny_model)
    again = subprocess.run([sys.executable, build.__file__, str(tmp_path / "models"), "--name", "test/llm",
                            "--cache", str(tiny_model.parent)], capture_output=True, text=True, check=True)
    assert again.stdout.splitlines() == [str(model_dir)]  # nothing to write the second time


def test_converted_folder_loads_on_its_own_with_the_chat_template(tiny_model):
    sched = openvino_genai.SchedulerConfig()
    pipe = openvino_genai.ContinuousBatchingPipeline(str(tiny_model), sched, "CPU", {}, {})
    tokenizer = pipe.get_tokenizer()
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True)
    assert text == "<|user|>\nhi<|end|>\n<|assistant|>\n"
    assert tokenizer.get_eos_token() == "<|end|>"
