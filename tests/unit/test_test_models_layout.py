# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/test_models/layout.py: the export_model.py (OVMS v2026.3) text-generation layout writer."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.test_models import layout  # noqa: E402  pylint: disable=wrong-import-position


def test_config_layout_as_export_model_writes_it(tmp_path):
    model_dir = layout.write_model_dir(tmp_path, "m")
    assert model_dir == tmp_path / "models" / "m"
    # add_servable_to_config: base_path relative to the config file's directory, json indent=4
    doc = json.loads((tmp_path / "config.json").read_text())
    assert doc == {"model_config_list": [{"config": {"name": "m", "base_path": "models/m"}}]}
    assert (tmp_path / "config.json").read_text() == json.dumps(doc, indent=4)
    graph = (model_dir / "graph.pbtxt").read_text()
    assert 'calculator: "HttpLLMCalculator"' in graph
    assert '\n          models_path: "./",\n' in graph
    assert "\n          plugin_config: '{}',\n" in graph
    assert "\n          enable_prefix_caching:  true,\n" in graph   # the template's double space
    assert "\n          cache_size: 0,\n" in graph
    assert "\n          max_num_seqs: 256,\n" in graph
    assert '\n          device: "CPU",\n      }\n' in graph
    assert graph.startswith("# OVMS_GRAPH_QUEUE_MAX_SIZE: AUTO\n") and graph.endswith("\n}")
    assert sorted(p.name for p in model_dir.iterdir()) == ["graph.pbtxt"]   # no weights by default


def test_graph_options(tmp_path):
    model_dir = layout.write_model_dir(tmp_path, "m", max_num_seqs=8, cache_size=2, enable_prefix_caching=False,
                                       plugin_config={"NUM_STREAMS": 1})
    graph = (model_dir / "graph.pbtxt").read_text()
    assert "max_num_seqs: 8," in graph and "cache_size: 2," in graph
    assert "enable_prefix_caching: false," in graph
    assert "plugin_config: '{\"NUM_STREAMS\": 1}'," in graph


def test_second_model_is_added_and_rewrite_is_idempotent(tmp_path):
    layout.write_model_dir(tmp_path, "a")
    layout.write_model_dir(tmp_path, "b")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    layout.write_model_dir(tmp_path, "b")
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == before
    names = [m["config"]["name"] for m in json.loads((tmp_path / "config.json").read_text())["model_config_list"]]
    assert names == ["a", "b"]


def test_legacy_mediapipe_config_list_folded_in(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"mediapipe_config_list": [{"name": "g", "base_path": "g"}]}))
    layout.write_model_dir(tmp_path, "m")
    doc = json.loads((tmp_path / "config.json").read_text())
    assert doc == {"model_config_list": [{"config": {"name": "g_model", "base_path": "g"}},
                                         {"config": {"name": "m", "base_path": "models/m"}}]}


def test_single_layout_is_the_model_directory(tmp_path):
    model_dir = layout.write_model_dir(tmp_path, "m", layout="single")
    assert model_dir == tmp_path
    assert (tmp_path / "graph.pbtxt").is_file() and not (tmp_path / "config.json").exists()


def test_weights_copied(tmp_path):
    weights = tmp_path / "w"
    weights.mkdir()
    for name in ("openvino_model.xml", "openvino_model.bin", "openvino_tokenizer.xml", "openvino_detokenizer.bin",
                 "config.json", "unrelated.bin"):
        (weights / name).write_text(name)
    model_dir = layout.write_model_dir(tmp_path / "out", "m", weights_dir=weights)
    files = sorted(p.name for p in model_dir.iterdir())
    assert files == ["config.json", "graph.pbtxt", "openvino_detokenizer.bin", "openvino_model.bin", "openvino_model.xml",
                     "openvino_tokenizer.xml"]


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="layout"):
        layout.write_model_dir(tmp_path, "m", layout="flat")
    with pytest.raises(ValueError, match="no openvino_model.xml"):
        layout.write_model_dir(tmp_path, "m", weights_dir=tmp_path)
    with pytest.raises(ValueError, match="model name"):
        layout.write_model_dir(tmp_path, "../x")


def test_cli(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "test_models", "layout.py"), str(tmp_path),
                          "--name", "m", "--max_num_seqs", "4"], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [str(tmp_path / "models" / "m"), "changed"]
    assert "max_num_seqs: 4," in (tmp_path / "models" / "m" / "graph.pbtxt").read_text()
    again = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "test_models", "layout.py"), str(tmp_path),
                            "--name", "m", "--max_num_seqs", "4"], capture_output=True, text=True, check=True)
    assert again.stdout.splitlines() == [str(tmp_path / "models" / "m")]   # nothing written: no "changed"
