# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""images/ovms-standin/llm_engine.py without OpenVINO: OVMS's CPU defaults, cgroup quota, streamer.

The engine itself (ContinuousBatchingPipeline, threads, affinity) is tested in the image: tests/engine/.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "images", "ovms-standin"))

import llm_engine  # noqa: E402  pylint: disable=wrong-import-position


@pytest.mark.parametrize("props, cores, phys, sockets, quota, expected", [
    # no quota: pinning on, threads = cores of the cpuset
    ({}, 2, 2, 1, 0, {"ENABLE_CPU_PINNING": True, "INFERENCE_NUM_THREADS": 2}),
    ({}, 1, 2, 1, 0, {"ENABLE_CPU_PINNING": True, "INFERENCE_NUM_THREADS": 1}),
    # a quota turns pinning off
    ({}, 2, 2, 1, 2, {"ENABLE_CPU_PINNING": False, "INFERENCE_NUM_THREADS": 2}),
    # more logical CPUs than physical cores (SMT): the thread count is left to OpenVINO
    ({}, 4, 2, 1, 0, {"ENABLE_CPU_PINNING": True}),
    # what the graph's plugin_config sets stays
    ({"ENABLE_CPU_PINNING": False, "INFERENCE_NUM_THREADS": 7}, 2, 2, 1, 0,
     {"ENABLE_CPU_PINNING": False, "INFERENCE_NUM_THREADS": 7}),
    # THROUGHPUT hint: NUM_STREAMS = min(cores, physical cores of all sockets)
    ({"PERFORMANCE_HINT": "THROUGHPUT"}, 8, 2, 2, 0,
     {"PERFORMANCE_HINT": "THROUGHPUT", "ENABLE_CPU_PINNING": True, "NUM_STREAMS": 4}),
])
def test_apply_default_cpu_properties_as_ov_utils(props, cores, phys, sockets, quota, expected):
    assert llm_engine.apply_default_cpu_properties(props, cores, phys, sockets, quota) == expected


def test_apply_default_cpu_properties_leaves_its_input_alone():
    props = {}
    llm_engine.apply_default_cpu_properties(props, 2, 2, 1, 0)
    assert props == {}


@pytest.mark.parametrize("in_docker, affinity, quota, hw, expected", [
    (True, 2, 0, 64, 2), (True, 4, 2, 64, 2), (True, 1, 3, 64, 1), (False, 2, 0, 64, 64), (True, 0, 0, 8, 1)])
def test_core_count_as_systeminfo(in_docker, affinity, quota, hw, expected):
    assert llm_engine.core_count(in_docker, affinity, quota, hw) == expected


def test_docker_cpu_quota_cgroup_v2(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert llm_engine.docker_cpu_quota(str(tmp_path)) == 0
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert llm_engine.docker_cpu_quota(str(tmp_path)) == 2


def test_docker_cpu_quota_cgroup_v1(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert llm_engine.docker_cpu_quota(str(tmp_path)) == 0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    assert llm_engine.docker_cpu_quota(str(tmp_path)) == 3


def test_docker_cpu_quota_none_readable(tmp_path):
    assert llm_engine.docker_cpu_quota(str(tmp_path)) == 0


def test_running_in_container_markers(tmp_path):
    (tmp_path / "proc" / "self").mkdir(parents=True)
    (tmp_path / "proc" / "self" / "cgroup").write_text("0::/\n")
    assert not llm_engine.is_running_in_docker(str(tmp_path))
    (tmp_path / "proc" / "self" / "cgroup").write_text("0::/kubepods/burstable/pod1\n")
    assert llm_engine.is_running_in_docker(str(tmp_path))
    (tmp_path / "proc" / "self" / "cgroup").write_text("0::/\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".containerenv").write_text("")
    assert llm_engine.is_running_in_docker(str(tmp_path))


def test_sockets_and_cores_from_cpuinfo():
    two_sockets = "".join(f"processor\t: {i}\nphysical id\t: {i // 4}\ncore id\t\t: {i % 2}\n\n" for i in range(8))
    assert llm_engine.sockets_and_cores(two_sockets, 8) == (2, 2)
    assert llm_engine.sockets_and_cores("processor\t: 0\n", 6) == (1, 6)


@pytest.mark.parametrize("cpus, text", [([0], "0"), ([0, 1], "0-1"), ([5, 0, 1, 2], "0-2,5"), ([], "")])
def test_cpulist(cpus, text):
    assert llm_engine.cpulist(cpus) == text


def test_plugin_config_json_text_or_dict():
    assert llm_engine.parse_plugin_config('{"NUM_STREAMS": "1"}') == {"NUM_STREAMS": "1"}
    assert llm_engine.parse_plugin_config({"A": 1}) == {"A": 1}
    assert llm_engine.parse_plugin_config("") == {}
    with pytest.raises(llm_engine.EngineLoadError, match="plugin_config"):
        llm_engine.parse_plugin_config("{not json")
    with pytest.raises(llm_engine.EngineLoadError, match="plugin_config"):
        llm_engine.parse_plugin_config("[1]")


def streamed(pieces, decode=None):
    """Feed token ids 0..n-1 whose texts are pieces; return the chunks the streamer emits."""
    streamer = llm_engine.TextStreamer(decode or (lambda ids: "".join(pieces[i] for i in ids)))
    chunks = [streamer.write(i) for i in range(len(pieces))]
    return [c for c in chunks if c], streamer.end()


def test_streamer_holds_back_three_tokens_then_flushes_the_rest():
    chunks, rest = streamed(["a", "b", "c", "d", "e"])
    assert chunks == ["a", "b", "c"]
    assert rest == "de"


def test_streamer_flushes_at_a_newline():
    chunks, rest = streamed(["a", "b\n", "c"])
    assert chunks == ["ab\n"]
    assert rest == "c"


def test_streamer_waits_for_a_complete_utf8_sequence():
    raw = "é".encode()  # two bytes, one token each

    def decode(ids):
        data = b"".join([b"x", raw[:1], raw[1:], b"y", b"z", b"w"][i:i + 1][0] for i in ids)
        return data.decode("utf-8", "replace")

    streamer = llm_engine.TextStreamer(decode)
    out = "".join(streamer.write(i) for i in range(6)) + streamer.end()
    assert out == "xéyzw"
    assert "\ufffd" not in out
