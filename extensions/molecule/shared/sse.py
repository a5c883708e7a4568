# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Server-sent events of OVMS's OpenAI API (`"stream": true`), parsed once for every test.

    from sse import sse_chunks, delta_text

    with client.stream("POST", url, json=body) as resp:      # httpx
        resp.raise_for_status()
        for chunk in sse_chunks(resp):                         # one dict per `data: {...}` event
            text.append(delta_text(chunk))

`sse_chunks` takes an httpx response opened with `client.stream(...)` (it reads `iter_lines()`), or any
iterable of lines, str or bytes (an `http.client.HTTPResponse`, a `urllib` answer, a list). It stops at
`data: [DONE]` and raises StreamIncomplete (an AssertionError) when the stream ends without it, so a
test that reads a stream to the end also checks that it was complete.
"""

import json


class StreamIncomplete(AssertionError):
    """The event stream ended before `data: [DONE]`."""


def sse_data(lines):
    """Yield the payload (str) of each `data:` line up to `data: [DONE]` (excluded); other lines
    (blank separators, `event:`, comments) are skipped. Raises StreamIncomplete when LINES end first."""
    for line in lines:
        if isinstance(line, bytes):
            line = line.decode("utf-8")
        line = line.rstrip("\r\n")
        if not line.startswith("data:"):
            continue
        data = line[len("data:"):]
        if data.startswith(" "):  # the SSE format allows one space after the colon
            data = data[1:]
        if data == "[DONE]":
            return
        yield data
    raise StreamIncomplete("stream ended without data: [DONE]")


def sse_chunks(response):
    """Yield the JSON chunks (dicts) of an OpenAI-style event stream, up to `data: [DONE]`."""
    lines = response.iter_lines() if hasattr(response, "iter_lines") else response
    for data in sse_data(lines):
        yield json.loads(data)


def delta_text(chunk):
    """The content a chat-completion chunk adds ("" for role-only, usage-only and final chunks)."""
    return "".join((choice.get("delta") or {}).get("content") or "" for choice in chunk.get("choices") or [])


def stream_text(response):
    """The whole streamed answer: the content of every chunk, joined (the stream must end with [DONE])."""
    return "".join(delta_text(chunk) for chunk in sse_chunks(response))
