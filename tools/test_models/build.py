"""Build a random-weight test LLM and lay it out as OVMS's export_model.py does (no download, no network).

    python3 tools/test_models/build.py MODELS_DIR --name test/llm [--size tiny|32m] [--layout config|single]
    python3 tools/test_models/build.py --hash --size 32m          # print the content hash only

1. gguf_model.write_gguf writes a llama-architecture GGUF (F16 weights, F32 norms, byte-level BPE
   tokenizer with a chat template), everything derived from the seed;
2. openvino_genai.LLMPipeline(gguf, "CPU", enable_save_ov_model=True) converts it into
   openvino_model.xml/.bin, openvino_tokenizer.*, openvino_detokenizer.* (what export_model.py's
   optimum-cli + convert_tokenizer steps leave in the model folder);
3. tools/test_models/layout.py (the project's one layout writer) writes graph.pbtxt and config.json
   and copies those files into <MODELS_DIR>/models/<name>/.

The converted folder is cached under $NUMASERVE_TEST_MODELS_CACHE (default /var/tmp/numaserve-test-models)
as <size>-<hash>: the hash covers the size's spec, the seed, this file, gguf_model.py and the OpenVINO
GenAI version, so the same inputs reuse the same build and a changed input builds anew.

OpenVINO GenAI is installed in the stand-in image, not on the host: when this Python cannot import it,
the build runs in a container of $NUMASERVE_TEST_MODELS_IMAGE (default localhost/numaserve/ovms-standin:local)
with --network none, this directory mounted read-only and the cache mounted; the layout step then runs here.
"""

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import layout  # noqa: E402  pylint: disable=wrong-import-position

SEED = 20261202
# tiny: wiring (about 0.15M parameters, < 1 MB); 32m: where pinning must show in throughput (about 64 MB).
SIZES = {
    "tiny": {"name": "tiny", "hidden": 64, "ffn": 192, "layers": 2, "heads": 4, "kv_heads": 2,
             "context": 2048, "merges": 140},
    "32m": {"name": "32m", "hidden": 512, "ffn": 1536, "layers": 10, "heads": 8, "kv_heads": 4,
            "context": 2048, "merges": 140},
}
DEFAULT_CACHE = "/var/tmp/numaserve-test-models"
DEFAULT_IMAGE = "localhost/numaserve/ovms-standin:local"
OUTPUT_FILES = ("openvino_model.xml", "openvino_model.bin", "openvino_tokenizer.xml", "openvino_tokenizer.bin",
                "openvino_detokenizer.xml", "openvino_detokenizer.bin")


def genai_version():
    try:
        import openvino_genai  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    return openvino_genai.__version__


def content_hash(size, seed=SEED, version=None):
    """Hash of everything the build depends on (spec, seed, builder sources, OpenVINO GenAI version)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"spec": SIZES[size], "seed": seed, "genai": version}, sort_keys=True).encode())
    for source in ("build.py", "gguf_model.py"):
        digest.update((HERE / source).read_bytes())
    return digest.hexdigest()[:16]


def cache_dir():
    return Path(os.environ.get("NUMASERVE_TEST_MODELS_CACHE", DEFAULT_CACHE))


@contextlib.contextmanager
def locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def convert(size, seed, out_dir):
    """GGUF -> OpenVINO model folder in out_dir (here, with OpenVINO GenAI importable)."""
    import gguf_model  # pylint: disable=import-outside-toplevel
    import openvino_genai  # pylint: disable=import-outside-toplevel

    start = time.monotonic()
    gguf_path = out_dir / "model.gguf"
    facts = gguf_model.write_gguf(gguf_path, SIZES[size], seed)
    pipe = openvino_genai.LLMPipeline(str(gguf_path), "CPU", enable_save_ov_model=True)
    del pipe
    gguf_path.unlink()
    missing = [f for f in OUTPUT_FILES if not (out_dir / f).is_file()]
    if missing:
        raise RuntimeError(f"conversion left no {', '.join(missing)} in {out_dir}")
    facts.update(size=size, seed=seed, genai=openvino_genai.__version__, random_weights=True,
                 build_seconds=round(time.monotonic() - start, 2),
                 files={f: hashlib.sha256((out_dir / f).read_bytes()).hexdigest() for f in OUTPUT_FILES})
    (out_dir / "numaserve_test_model.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    return facts


def build_here(size, seed=SEED, cache=None):
    """Build (or reuse) the converted folder in the cache; return its path. Needs OpenVINO GenAI."""
    version = genai_version()
    if version is None:
        raise RuntimeError("openvino_genai is not importable in this Python")
    cache = Path(cache or cache_dir())
    target = cache / f"{size}-{content_hash(size, seed, version)}"
    with locked(cache / f".{target.name}.lock"):
        if (target / "numaserve_test_model.json").is_file():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache))
        try:
            # A fresh process per conversion: OpenVINO numbers unnamed nodes with a per-process counter,
            # so a second conversion in one process writes different (equivalent) XML.
            result = subprocess.run([sys.executable, str(HERE / "build.py"), "--convert-into", str(tmp),
                                     "--size", size, "--seed", str(seed)],
                                    capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"converting the {size} test model failed: {result.stderr.strip()}")
            for path in tmp.iterdir():
                path.chmod(0o644)
            tmp.chmod(0o755)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def build_in_image(size, seed, cache, image):
    """Run build_here in a container of the stand-in image (no network); return the cached folder."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    engine = os.environ.get("NUMASERVE_TEST_MODELS_ENGINE", "docker")
    cmd = [engine, "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
           "--label", "io.numaserve.test=test-models",
           "-v", f"{HERE}:/opt/test_models:ro", "-v", f"{cache.resolve()}:/cache",
           "-e", "NUMASERVE_TEST_MODELS_CACHE=/cache", "-e", "HOME=/tmp", "--entrypoint", "/usr/bin/python3",
           image, "/opt/test_models/build.py", "--here", "--size", size, "--seed", str(seed)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"building the {size} test model in {image} failed (exit {result.returncode}):\n"
                           f"{result.stderr.strip() or result.stdout.strip()}")
    return cache / Path(result.stdout.strip().splitlines()[-1]).name


def build(size, seed=SEED, cache=None, image=None):
    """The converted folder for this size: built here when OpenVINO GenAI imports, else in the image."""
    cache = Path(cache or cache_dir())
    if genai_version() is not None:
        return build_here(size, seed, cache)
    return build_in_image(size, seed, cache, image or os.environ.get("NUMASERVE_TEST_MODELS_IMAGE", DEFAULT_IMAGE))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("models_dir", nargs="?", help="where to write config.json + models/<name>/")
    parser.add_argument("--name", default="test/llm")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--layout", choices=("config", "single"), default="config")
    parser.add_argument("--cache", default=None, help=f"cache directory (default $NUMASERVE_TEST_MODELS_CACHE or {DEFAULT_CACHE})")
    parser.add_argument("--image", default=None, help="image to build in when OpenVINO GenAI is not importable here")
    parser.add_argument("--max_num_seqs", type=int, default=None)
    parser.add_argument("--cache_size", type=int, default=0)
    parser.add_argument("--enable_prefix_caching", type=lambda x: str(x).lower() == "true", default=True)
    parser.add_argument("--plugin_config", type=json.loads, default=None, help="JSON object")
    parser.add_argument("--hash", action="store_true", help="print the content hash of this size and exit")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # in the image: build, print the path
    parser.add_argument("--convert-into", default=None, help=argparse.SUPPRESS)  # build_here's child process
    args = parser.parse_args(argv)
    try:
        if args.hash:
            version = genai_version()
            if version is None:
                folder = build(args.size, args.seed, args.cache, args.image)
                print(folder.name.split("-", 1)[1])
            else:
                print(content_hash(args.size, args.seed, version))
            return 0
        if args.convert_into:
            convert(args.size, args.seed, Path(args.convert_into))
            return 0
        if args.here:
            print(build_here(args.size, args.seed, args.cache))
            return 0
        if not args.models_dir:
            parser.error("MODELS_DIR is required")
        folder = build(args.size, args.seed, args.cache, args.image)
        model_dir = layout.write_model_dir(args.models_dir, args.name, weights_dir=folder, layout=args.layout,
                                           max_num_seqs=args.max_num_seqs, cache_size=args.cache_size,
                                           enable_prefix_caching=args.enable_prefix_caching,
                                           plugin_config=args.plugin_config)
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    print(model_dir)
    if getattr(layout, "LAST_CHANGED", [True])[0]:
        print("changed")  # for Ansible's changed_when, as layout.py's CLI says it
    return 0


if __name__ == "__main__":
    sys.exit(main())
