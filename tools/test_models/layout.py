"""Write a model directory in the layout OVMS's export_model.py writes for text generation.

Reproduces demos/common/export_models/export_model.py at OVMS v2026.3 (export_text_generation_model,
text_generation_graph_template, add_servable_to_config) for the options the tests need:

    <models_dir>/config.json              {"model_config_list": [{"config": {"name": <name>,
                                                                 "base_path": "models/<name>"}}]}
    <models_dir>/models/<name>/graph.pbtxt  the HttpLLMCalculator graph, models_path "./"
    <models_dir>/models/<name>/openvino_*   copied from weights_dir, only when one is given

layout="single" writes only the model directory, at <models_dir> itself, for OVMS's single-model mode
(`--model_path <models_dir> --model_name <name>`); no config.json.

Without weights the directory is what export_model.py leaves before conversion: real OVMS fails to
load such a graph (no model files). The stand-in serves it only with OVMS_STANDIN_ENGINE=simulated.

Importable (write_model_dir) and a CLI: python3 tools/test_models/layout.py DIR --name m
(prints the model directory, then "changed" when it wrote anything).
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

# The files export_model.py's conversion leaves in the model folder that the LLM servable reads.
LAST_CHANGED = [False]  # whether the last write_model_dir() call wrote anything (the CLI reports it)
WEIGHT_PATTERNS = ("openvino_model.*", "openvino_tokenizer.*", "openvino_detokenizer.*", "*.json", "*.txt",
                   "*.jinja", "*.model")


def graph_pbtxt(*, plugin_config=None, enable_prefix_caching=True, cache_size=0, max_num_seqs=None,
                target_device="CPU", pipeline_type=None, max_num_batched_tokens=None, dynamic_split_fuse=True):
    """The text export_model.py renders from text_generation_graph_template (v2026.3), for these options.

    Defaults are export_model.py's: plugin_config {} (json.dumps), prefix caching on, cache_size 0,
    max_num_seqs 256, device CPU, models_path "./". The template's whitespace is kept exactly.
    """
    opts = ""
    if pipeline_type:
        opts += f"\n          pipeline_type: {pipeline_type},"
    opts += '\n          models_path: "./",'
    opts += f"\n          plugin_config: '{json.dumps(plugin_config or {})}',"
    opts += "\n          enable_prefix_caching: " + (" true" if enable_prefix_caching else "false") + ","
    opts += f"\n          cache_size: {cache_size or 0},"
    if max_num_batched_tokens:
        opts += f"\n          max_num_batched_tokens: {max_num_batched_tokens},"
    if not dynamic_split_fuse:
        opts += "\n          dynamic_split_fuse: false, "
    opts += f"\n          max_num_seqs: {max_num_seqs or 256},"
    opts += f'\n          device: "{target_device or "CPU"}",'
    return (
        '# OVMS_GRAPH_QUEUE_MAX_SIZE: AUTO\n'
        'input_stream: "HTTP_REQUEST_PAYLOAD:input"\n'
        'output_stream: "HTTP_RESPONSE_PAYLOAD:output"\n'
        '\n'
        'node: {\n'
        '  name: "LLMExecutor"\n'
        '  calculator: "HttpLLMCalculator"\n'
        '  input_stream: "LOOPBACK:loopback"\n'
        '  input_stream: "HTTP_REQUEST_PAYLOAD:input"\n'
        '  input_side_packet: "LLM_NODE_RESOURCES:llm"\n'
        '  input_side_packet: "LLM_NODE_EXECUTION_CONTEXTS:llm_ctx"\n'
        '  output_stream: "LOOPBACK:loopback"\n'
        '  output_stream: "HTTP_RESPONSE_PAYLOAD:output"\n'
        '  input_stream_info: {\n'
        "    tag_index: 'LOOPBACK:0',\n"
        '    back_edge: true\n'
        '  }\n'
        '  node_options: {\n'
        '      [type.googleapis.com / mediapipe.LLMCalculatorOptions]: {'
        + opts + '\n'
        '      }\n'
        '  }\n'
        '  input_stream_handler {\n'
        '    input_stream_handler: "SyncSetInputStreamHandler",\n'
        '    options {\n'
        '      [mediapipe.SyncSetInputStreamHandlerOptions.ext] {\n'
        '        sync_set {\n'
        '          tag_index: "LOOPBACK:0"\n'
        '        }\n'
        '      }\n'
        '    }\n'
        '  }\n'
        '}')


def add_servable_to_config(config_path, name, base_path):
    """export_model.py's add_servable_to_config: add or update one model_config_list entry.

    A legacy mediapipe_config_list is folded into model_config_list as export_model.py does.
    """
    config_path = Path(config_path)
    doc = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    models = doc.setdefault("model_config_list", [])
    for graph in doc.pop("mediapipe_config_list", []):
        if "name" in graph and "base_path" in graph and \
                not any(m["config"]["name"] == graph["name"] + "_model" for m in models):
            models.append({"config": {"name": graph["name"] + "_model", "base_path": graph["base_path"]}})
    for model in models:
        if model["config"]["name"] == name:
            model["config"]["base_path"] = base_path
            break
    else:
        models.append({"config": {"name": name, "base_path": base_path}})
    return write_text(config_path, json.dumps(doc, indent=4))


def write_text(path, text):
    """Write text unless the file already holds it; True when written."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def copy_weights(weights_dir, model_dir):
    """Copy the model folder's files; True when a file was (re)copied (size or mtime differ)."""
    weights_dir = Path(weights_dir)
    if not (weights_dir / "openvino_model.xml").is_file():
        raise ValueError(f"{weights_dir} holds no openvino_model.xml: not an OpenVINO model folder")
    changed = False
    for pattern in WEIGHT_PATTERNS:
        for src in sorted(weights_dir.glob(pattern)):
            dest = model_dir / src.name
            if not src.is_file() or src.name == "graph.pbtxt":
                continue
            stat = src.stat()
            if dest.is_file() and dest.stat().st_size == stat.st_size and dest.stat().st_mtime == stat.st_mtime:
                continue
            shutil.copy2(src, dest)
            changed = True
    return changed


def write_model_dir(models_dir, name, *, weights_dir=None, layout="config", **graph_options):
    """Write the export_model.py text-generation layout; return the model directory (holds graph.pbtxt).

    layout "config": <models_dir>/config.json + <models_dir>/models/<name>/ (mount <models_dir>, start
    OVMS with --config_path <mount>/config.json). layout "single": the model directory is <models_dir>
    (--model_path <mount> --model_name <name>). graph_options go to graph_pbtxt(). Idempotent: files
    whose content is already right are left alone (their mtime too).
    """
    if layout not in ("config", "single"):
        raise ValueError(f"layout must be 'config' or 'single', not {layout!r}")
    if not name or name.startswith("/") or ".." in name.split("/"):
        raise ValueError(f"model name {name!r} cannot be a directory under models/")
    models_dir = Path(models_dir)
    model_dir = models_dir if layout == "single" else models_dir / "models" / name
    model_dir.mkdir(parents=True, exist_ok=True)
    changed = write_text(model_dir / "graph.pbtxt", graph_pbtxt(**graph_options))
    if weights_dir:
        changed |= copy_weights(weights_dir, model_dir)
    if layout == "config":
        # export_model.py: os.path.relpath(model_repository_path/name, dirname(config_file_path))
        changed |= add_servable_to_config(models_dir / "config.json", name,
                                          Path(os.path.relpath(model_dir, models_dir)).as_posix())
    LAST_CHANGED[0] = changed
    return model_dir


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("models_dir")
    parser.add_argument("--name", required=True)
    parser.add_argument("--layout", choices=("config", "single"), default="config")
    parser.add_argument("--weights_dir", default=None)
    parser.add_argument("--max_num_seqs", type=int, default=None)
    parser.add_argument("--cache_size", type=int, default=0)
    parser.add_argument("--enable_prefix_caching", type=lambda x: str(x).lower() == "true", default=True)
    parser.add_argument("--plugin_config", type=json.loads, default=None, help="JSON object")
    parser.add_argument("--target_device", default="CPU")
    args = parser.parse_args(argv)
    try:
        path = write_model_dir(args.models_dir, args.name, weights_dir=args.weights_dir, layout=args.layout,
                               max_num_seqs=args.max_num_seqs, cache_size=args.cache_size,
                               enable_prefix_caching=args.enable_prefix_caching, plugin_config=args.plugin_config,
                               target_device=args.target_device)
    except ValueError as exc:
        print(f"layout.py: {exc}", file=sys.stderr)
        return 2
    print(path)
    if LAST_CHANGED[0]:
        print("changed")  # second line: for Ansible's changed_when
    return 0


if __name__ == "__main__":
    sys.exit(main())
