"""Prompt sets: a ShareGPT-format JSON file (as ``benchmark_serving.py --dataset-name sharegpt``
reads it) or generated prompts, both reproducible from a seed.

There is no tokenizer here (the client must run anywhere with only httpx): token counts are
estimated as ~4/3 tokens per whitespace-separated word, and replaced by the server's own counts
(``usage``) as soon as the server reports them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

# vLLM's sample_sharegpt_requests filters (prompt/output lengths in tokens).
MIN_LEN = 4
MAX_PROMPT_LEN = 1024
MAX_TOTAL_LEN = 2048

_WORDS = ("the model server runs one instance per numa node pinned to its cpus and memory while a "
          "balancer spreads requests across instances so every socket decodes tokens for its own "
          "clients benchmark throughput latency token prompt cache batch stream socket core thread").split()


@dataclass
class Prompt:
    text: str
    prompt_len: int    # estimated tokens
    output_len: int    # tokens requested (max_tokens)


def estimate_tokens(text: str) -> int:
    """Rough token count of English text (no tokenizer available): 4 tokens per 3 words."""
    words = len(text.split())
    return max(1, round(words * 4 / 3)) if text.strip() else 0


def load_sharegpt(path: str, num_prompts: int, seed: int, output_len: int | None = None) -> list[Prompt]:
    """Sample prompts like vLLM: shuffle with the seed, keep conversations with >= 2 turns, use the
    first turn as prompt and the second turn's length as output length unless ``output_len`` is set,
    and drop too short or too long pairs."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read ShareGPT dataset {path}: {exc}") from exc
    if not isinstance(data, list):
        raise ValueError(f"{path}: a ShareGPT dataset is a JSON list of {{'conversations': [...]}} objects")
    pairs = []
    for entry in data:
        turns = entry.get("conversations") if isinstance(entry, dict) else None
        if not isinstance(turns, list) or len(turns) < 2:
            continue
        first, second = turns[0], turns[1]
        if not isinstance(first, dict) or not isinstance(second, dict):
            continue
        pairs.append((str(first.get("value", "")), str(second.get("value", ""))))
    random.Random(seed).shuffle(pairs)
    prompts: list[Prompt] = []
    for prompt_text, completion in pairs:
        if len(prompts) >= num_prompts:
            break
        prompt_len = estimate_tokens(prompt_text)
        out_len = output_len if output_len is not None else estimate_tokens(completion)
        if prompt_len < MIN_LEN or (output_len is None and out_len < MIN_LEN):
            continue
        if prompt_len > MAX_PROMPT_LEN or prompt_len + out_len > MAX_TOTAL_LEN:
            continue
        prompts.append(Prompt(prompt_text, prompt_len, out_len))
    if len(prompts) < num_prompts:
        raise ValueError(f"{path}: only {len(prompts)} usable conversations, {num_prompts} prompts asked for "
                         "(lower --num-prompts or use a larger dataset)")
    return prompts


def generate(num_prompts: int, seed: int, input_len: int, output_len: int,
             range_ratio: float = 0.0) -> list[Prompt]:
    """Seeded synthetic prompts of about ``input_len`` tokens (each length varies by +-range_ratio)."""
    if input_len < 1 or output_len < 1:
        raise ValueError("--input-len and --output-len must be at least 1")
    if not 0 <= range_ratio < 1:
        raise ValueError("--range-ratio must be within [0, 1)")
    rng = random.Random(seed)
    prompts = []
    for index in range(num_prompts):
        lo, hi = max(1, int(input_len * (1 - range_ratio))), max(1, int(input_len * (1 + range_ratio)))
        in_len = rng.randint(lo, hi)
        lo, hi = max(1, int(output_len * (1 - range_ratio))), max(1, int(output_len * (1 + range_ratio)))
        out_len = rng.randint(lo, hi)
        words = max(1, round(in_len * 3 / 4))
        text = f"Request {index}: " + " ".join(rng.choice(_WORDS) for _word in range(words))
        prompts.append(Prompt(text, estimate_tokens(text), out_len))
    return prompts
