# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""load_balancer_check: the module around module_utils/load_balancer_check.py (open_url faked)."""

import io
import json
import urllib.error
from unittest import mock

import pytest
from ansible.module_utils import _internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.numaserve.ovms.plugins.modules import load_balancer_check

KEY = "lb-test-key-5e2a"


class Response(io.BytesIO):
    def getcode(self):
        return 200


def run(capsys, args, answers=None, check_mode=False):
    """answers: url -> HTTP status (200 by default) or an exception; records (url, headers, validate_certs)."""
    answers = answers or {}
    calls = []

    def fake_open(url, headers=None, timeout=None, validate_certs=True, **kwargs):
        calls.append((url, dict(headers or {}), validate_certs))
        answer = answers.get(url, 200)
        if isinstance(answer, BaseException):
            raise answer
        if answer != 200:
            raise urllib.error.HTTPError(url, answer, "status %d" % answer, {}, io.BytesIO(b""))
        return Response(b"{}")

    with mock.patch.object(_internal, "is_controller", False), \
            mock.patch.object(load_balancer_check, "open_url", fake_open), \
            patch_module_args(dict(args, _ansible_check_mode=check_mode)):
        with pytest.raises(SystemExit):
            load_balancer_check.main()
    return json.loads(capsys.readouterr().out), calls


ARGS = {"balancer_url": "https://127.0.0.1:8080", "path": "/v2/health/ready", "api_key": KEY, "retries": 0,
        "interval": 0.01, "endpoints": [{"key": "127.0.0.1:8003", "address": "127.0.0.1", "port": 8003,
                                         "host": "s1", "instance": "node0"}]}


def test_all_answer(capsys):
    result, calls = run(capsys, ARGS)
    assert not result.get("failed") and result["changed"] is False
    assert [c["name"] for c in result["checks"]] == ["healthz", "endpoint 127.0.0.1:8003", "through the balancer"]
    assert [c[0] for c in calls] == ["https://127.0.0.1:8080/healthz", "http://127.0.0.1:8003/v2/health/ready",
                                     "https://127.0.0.1:8080/v2/health/ready"]
    assert calls[2][1] == {"Authorization": "Bearer " + KEY} and calls[0][1] == {} and calls[1][1] == {}
    assert all(c[2] is False for c in calls)
    assert KEY not in json.dumps(result)


def test_a_failed_endpoint_fails_the_module_with_its_message(capsys):
    result, calls = run(capsys, ARGS, answers={"http://127.0.0.1:8003/v2/health/ready": 503})
    assert result["failed"] and "http://127.0.0.1:8003/v2/health/ready" in result["msg"] and "HTTP 503" in result["msg"]
    assert "https://127.0.0.1:8080/v2/health/ready" not in [c[0] for c in calls]
    assert result["checks"][-1]["status"] == 503


def test_a_refused_balancer_is_an_error_not_a_crash(capsys):
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    result = run(capsys, dict(ARGS, wait_for_listen=False), answers={"https://127.0.0.1:8080/healthz": refused})[0]
    assert result["failed"] and "last error: connection refused" in result["msg"]
    assert result["checks"][0]["status"] is None


def test_no_key_sends_no_header(capsys):
    calls = run(capsys, dict(ARGS, api_key=""))[1]
    assert calls[-1][1] == {}


def test_skipped_in_check_mode_as_the_uri_tasks_were(capsys):
    result, calls = run(capsys, ARGS, check_mode=True)
    assert result["skipped"] and calls == []


def test_an_endpoint_without_address(capsys):
    result = run(capsys, dict(ARGS, endpoints=[{"port": 8003}]))[0]
    assert result["failed"] and result["msg"].startswith("endpoints[0]:")
