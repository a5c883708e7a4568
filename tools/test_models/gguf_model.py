"""A random-weight llama-architecture GGUF with an embedded byte-level BPE tokenizer (test models).

Everything is derived from a seed: the tokenizer's training text, the BPE merges (pure Python,
deterministic tie-break) and the weights (numpy's PCG64). No download, no torch, no `tokenizers`.

GGUF as OpenVINO GenAI's GGUF reader accepts it (checked with openvino-genai 2026.4.1): general
architecture `llama`; weights F16 (F32 matrices are refused: "Unsupported quantization type"), norm
weights F32; tokenizer.ggml.model `gpt2`, pre `llama-bpe`, tokens, token types, merges, BOS/EOS/PAD
ids and a chat template.
"""

import random
import re

import numpy as np

# Chat template kept in the model (tokenizer.chat_template): OVMS applies the model's template to
# /v3/chat/completions messages (servable.cpp: prepareInputs -> applyChatTemplate).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
BOS, EOS, PAD = "<|begin|>", "<|end|>", "<|pad|>"
SPECIAL_TOKENS = (BOS, EOS, PAD)

WORDS = (
    "the a an of to in on for with from by at as is are was be been model server node socket core cpu "
    "memory cache thread pinning request token stream batch prompt answer test random weight balancer "
    "instance latency throughput numa local remote page core fast slow small large first last time "
    "user system assistant hello world say what why how when where one two three four five six seven "
    "eight nine ten open vino serve run load read write plan place move keep stop start"
).split()

# GPT-2/llama3-style pre-tokenisation, written for Python's re (no \\p classes): contractions, words
# with an optional leading non-letter, digit groups, punctuation runs, whitespace.
PRETOKENIZE = re.compile(r"'(?:[sdmt]|ll|ve|re)|[^\r\n\w]?[^\W\d_]+|\d{1,3}| ?[^\s\w]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map (byte-level BPE token spelling)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def training_text(seed, sentences=400):
    """Seeded pseudo-English text to train the BPE on."""
    rng = random.Random(seed)
    lines = []
    for dummy in range(sentences):
        words = [rng.choice(WORDS) for dummy in range(rng.randint(4, 12))]
        lines.append(" ".join(words).capitalize() + rng.choice((".", "?", "!", ",")))
    return "\n".join(lines)


def train_bpe(text, num_merges):
    """Byte-level BPE: the most frequent adjacent pair is merged, ties broken by the pair itself."""
    byte_map = bytes_to_unicode()
    words = {}
    for piece in PRETOKENIZE.findall(text):
        key = tuple(byte_map[b] for b in piece.encode("utf-8"))
        words[key] = words.get(key, 0) + 1
    merges = []
    for dummy in range(num_merges):
        pairs = {}
        for word, freq in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] = pairs.get(pair, 0) + freq
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        merged = {}
        for word, freq in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + freq
        words = merged
    return merges


def vocabulary(seed, num_merges):
    """(tokens, token_types, merges): 256 byte tokens, then one per merge, then the special tokens."""
    byte_map = bytes_to_unicode()
    tokens = [byte_map[b] for b in range(256)]
    merges = train_bpe(training_text(seed), num_merges)
    seen = set(tokens)
    for left, right in merges:
        if left + right not in seen:
            tokens.append(left + right)
            seen.add(left + right)
    types = [1] * len(tokens)          # llama.cpp token types: 1 normal, 3 control
    tokens += list(SPECIAL_TOKENS)
    types += [3] * len(SPECIAL_TOKENS)
    return tokens, types, [f"{a} {b}" for a, b in merges]


def parameter_count(spec, vocab_size):
    h, f, n = spec["hidden"], spec["ffn"], spec["layers"]
    kv = h // spec["heads"] * spec["kv_heads"]
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * f + 2 * h
    return n * per_layer + 2 * vocab_size * h + h


def write_gguf(path, spec, seed):
    """Write the GGUF; return {"vocab_size", "parameters"}. spec: hidden, ffn, layers, heads,
    kv_heads, context, merges."""
    import gguf  # pylint: disable=import-outside-toplevel

    tokens, types, merges = vocabulary(seed, spec["merges"])
    h, heads, kv_heads = spec["hidden"], spec["heads"], spec["kv_heads"]
    head_dim = h // heads
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(f"numaserve-test-{spec['name']}")
    writer.add_context_length(spec["context"])
    writer.add_embedding_length(h)
    writer.add_block_count(spec["layers"])
    writer.add_feed_forward_length(spec["ffn"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("llama-bpe")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index(BOS))
    writer.add_eos_token_id(tokens.index(EOS))
    writer.add_pad_token_id(tokens.index(PAD))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    rng = np.random.Generator(np.random.PCG64(seed))

    def matrix(rows, cols):
        return (rng.standard_normal((rows, cols), dtype=np.float32) / np.sqrt(cols)).astype(np.float16)

    def norm():
        return np.ones(h, dtype=np.float32)

    vocab = len(tokens)
    kv = head_dim * kv_heads
    writer.add_tensor("token_embd.weight", matrix(vocab, h))
    for i in range(spec["layers"]):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", norm())
        writer.add_tensor(f"blk.{i}.attn_q.weight", matrix(h, h))
        writer.add_tensor(f"blk.{i}.attn_k.weight", matrix(kv, h))
        writer.add_tensor(f"blk.{i}.attn_v.weight", matrix(kv, h))
        writer.add_tensor(f"blk.{i}.attn_output.weight", matrix(h, h))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", norm())
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", matrix(spec["ffn"], h))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", matrix(spec["ffn"], h))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", matrix(h, spec["ffn"]))
    writer.add_tensor("output_norm.weight", norm())
    writer.add_tensor("output.weight", matrix(vocab, h))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"vocab_size": vocab, "parameters": parameter_count(spec, vocab)}
