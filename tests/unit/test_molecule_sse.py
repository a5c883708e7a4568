# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""extensions/molecule/shared/sse.py: the one SSE parser every Molecule test reads streams with."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "extensions", "molecule", "shared"))

import sse  # noqa: E402  pylint: disable=wrong-import-position

STREAM = [
    'data: {"choices":[{"delta":{"role":"assistant"}}]}',
    "",
    'data:{"choices":[{"delta":{"content":"Hel"}}]}',
    "",
    ": a comment line",
    "event: message",
    b'data: {"choices":[{"delta":{"content":"lo"}}]}\r\n',
    "",
    'data: {"choices":[],"usage":{"completion_tokens":2}}',
    "",
    "data: [DONE]",
    "",
    'data: {"choices":[{"delta":{"content":"after done"}}]}',
]


def test_chunks_up_to_done_with_and_without_the_optional_space_and_bytes_lines():
    chunks = list(sse.sse_chunks(STREAM))
    assert len(chunks) == 4
    assert chunks[-1]["usage"] == {"completion_tokens": 2}
    assert [sse.delta_text(c) for c in chunks] == ["", "Hel", "lo", ""]


def test_stream_text_joins_the_content_and_ignores_what_follows_done():
    assert sse.stream_text(STREAM) == "Hello"


def test_a_stream_cut_before_done_is_an_assertion_failure():
    with pytest.raises(sse.StreamIncomplete, match=r"without data: \[DONE\]"):
        list(sse.sse_chunks(STREAM[:9]))
    assert issubclass(sse.StreamIncomplete, AssertionError)


def test_a_response_object_is_read_through_iter_lines():
    class Response:
        def iter_lines(self):
            return iter(STREAM)

    assert sse.stream_text(Response()) == "Hello"


def test_sse_data_keeps_payloads_raw():
    assert list(sse.sse_data(["data: not json", "data: [DONE]"])) == ["not json"]
