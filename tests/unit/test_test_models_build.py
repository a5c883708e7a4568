# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/test_models/build.py and gguf_model.py: the parts that need no OpenVINO (tokenizer, hash, sizes).

Building and converting a model needs OpenVINO GenAI, which lives in the stand-in image: see
tests/engine/ (bash tests/engine/run.sh).
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.test_models import build, gguf_model  # noqa: E402  pylint: disable=wrong-import-position


def test_tokenizer_is_a_function_of_the_seed():
    first = gguf_model.vocabulary(7, 50)
    assert first == gguf_model.vocabulary(7, 50)
    assert first != gguf_model.vocabulary(8, 50)


def test_vocabulary_is_bytes_then_merges_then_control_tokens():
    tokens, types, merges = gguf_model.vocabulary(build.SEED, 140)
    byte_map = gguf_model.bytes_to_unicode()
    assert tokens[:256] == [byte_map[b] for b in range(256)]
    assert len(set(tokens)) == len(tokens)
    assert tokens[-3:] == list(gguf_model.SPECIAL_TOKENS) and types[-3:] == [3, 3, 3]
    assert set(types[:-3]) == {1}
    for merge in merges:  # every merge joins two tokens into a third, all in the vocabulary
        left, right = merge.split(" ")
        assert left in tokens and right in tokens and left + right in tokens


def test_byte_map_is_reversible():
    byte_map = gguf_model.bytes_to_unicode()
    assert sorted(byte_map) == list(range(256))
    assert len(set(byte_map.values())) == 256
    assert " " not in byte_map.values()


def test_bpe_merges_most_frequent_pair_first():
    merges = gguf_model.train_bpe("ab ab ab cd", 2)
    assert merges[0] == ("a", "b")


def test_content_hash_same_inputs_same_hash_and_each_input_counts():
    base = build.content_hash("tiny", 1, "2026.4.1.0")
    assert base == build.content_hash("tiny", 1, "2026.4.1.0")
    assert base != build.content_hash("32m", 1, "2026.4.1.0")
    assert base != build.content_hash("tiny", 2, "2026.4.1.0")
    assert base != build.content_hash("tiny", 1, "2026.5.0.0")


def test_sizes_have_the_parameter_counts_they_are_named_for():
    vocab = len(gguf_model.vocabulary(build.SEED, build.SIZES["tiny"]["merges"])[0])
    tiny = gguf_model.parameter_count(build.SIZES["tiny"], vocab)
    big = gguf_model.parameter_count(build.SIZES["32m"], vocab)
    assert 100_000 < tiny < 250_000
    assert 28_000_000 < big < 36_000_000


def test_chat_template_names_the_eos_token():
    assert gguf_model.EOS in gguf_model.CHAT_TEMPLATE
    assert "add_generation_prompt" in gguf_model.CHAT_TEMPLATE
