"""Share of requests per instance from the balancer's access log (`upstream=$upstream_addr`)."""

import os
from datetime import datetime, timezone

from ovms_bench import parsers
from conftest import FIXTURES


def log_lines():
    with open(os.path.join(FIXTURES, "nginx-access.log"), encoding="utf-8") as handle:
        return handle.readlines()


def test_entries_only_for_the_endpoint_and_last_upstream_wins():
    entries = parsers.parse_access_log(log_lines(), endpoint="/v3/chat/completions")
    assert len(entries) == 6                     # health and /v3/models lines and error lines ignored
    retried = entries[4]
    assert retried["tried"] == ["127.0.0.1:8003", "127.0.0.1:8004"]
    assert retried["upstream"] == "127.0.0.1:8004"
    assert entries[5]["status"] == 502
    assert entries[3]["upstream"] == "127.0.0.1:8004"   # `docker logs --timestamps` prefix tolerated


def test_shares_counts_names_errors():
    entries = parsers.parse_access_log(log_lines(), endpoint="/v3/chat/completions")
    shares = parsers.upstream_shares(entries, names={"127.0.0.1:8003": "node0", "127.0.0.1:8004": "node1"})
    assert shares["requests"] == 6 and shares["retried"] == 1
    node0, node1 = shares["instances"]["127.0.0.1:8003"], shares["instances"]["127.0.0.1:8004"]
    assert (node0["instance"], node0["requests"], node0["errors"]) == ("node0", 3, 1)
    assert (node1["instance"], node1["requests"]) == ("node1", 3)
    assert node0["share"] + node1["share"] == 1.0


def test_expected_keeps_the_last_requests_only():
    entries = parsers.parse_access_log(log_lines(), endpoint="/v3/chat/completions")
    shares = parsers.upstream_shares(entries, expected=2)
    assert shares["requests"] == 2
    assert {a: i["requests"] for a, i in shares["instances"].items()} == {"127.0.0.1:8003": 1, "127.0.0.1:8004": 1}


def test_time_window():
    since = datetime(2026, 11, 23, 0, 10, 5, tzinfo=timezone.utc).timestamp()
    entries = parsers.parse_access_log(log_lines(), endpoint="/v3/chat/completions", since=since)
    assert len(entries) == 5                     # the 00:10:02 warm-up is before the window


def test_nothing_parsable():
    assert parsers.upstream_shares(parsers.parse_access_log(["random text\n"]))["requests"] == 0


STREAM_LINES = [
    '127.0.0.1 [23/Nov/2026:00:10:05 +0000] TCP 200 upstream=127.0.0.1:8003 sent=9120 received=2210 st=4.210\n',
    '127.0.0.1 [23/Nov/2026:00:10:05 +0000] TCP 200 upstream=127.0.0.1:8004 sent=9011 received=2190 st=4.190\n',
    '127.0.0.1 [23/Nov/2026:00:10:06 +0000] TCP 502 upstream=127.0.0.1:8003 sent=0 received=0 st=0.001\n',
]


def test_stream_mode_lines_are_sessions():
    entries = parsers.parse_access_log(STREAM_LINES, endpoint="/v3/chat/completions")
    assert [e["unit"] for e in entries] == ["sessions"] * 3
    shares = parsers.upstream_shares(entries, expected=1)     # sessions are not trimmed to requests
    assert shares["unit"] == "sessions" and shares["requests"] == 3
    assert shares["instances"]["127.0.0.1:8003"]["errors"] == 1
