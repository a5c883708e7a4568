# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import (
    CpuListError,
    format_cpulist,
    parse_cpulist,
    parse_cpumask,
    to_cpu_list,
)


@pytest.mark.parametrize("text, cpus", [
    ("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]),
    ("0-3,8,10-11\n", [0, 1, 2, 3, 8, 10, 11]),
    ("0-3\n\x00", [0, 1, 2, 3]),
    (b"5\n\x00\x00", [5]),
    ("", []),
    ("\n", []),
    ("\x00", []),
    ("7", [7]),
    ("8-9,0-1", [0, 1, 8, 9]),
    ("1, 3 - 4", [1, 3, 4]),
    ("2,2,1-2", [1, 2]),
])
def test_parse_cpulist(text, cpus):
    assert parse_cpulist(text) == cpus


@pytest.mark.parametrize("text, item", [
    ("3-1", "3-1"), ("a", "a"), ("1,,2", ""), ("-1", "-1"), ("1-", "1-"), ("0x3", "0x3"), ("1-2-3", "1-2-3"),
    ("0-4294967295", None),
])
def test_parse_cpulist_rejects_malformed(text, item):
    with pytest.raises(CpuListError) as exc:
        parse_cpulist(text)
    if item is not None:
        assert repr(item) in str(exc.value)


@pytest.mark.parametrize("text, cpus", [
    ("0000000f", [0, 1, 2, 3]),
    ("00000000,00000001\n", [0]),
    ("00000001,00000000", [32]),
    ("80000000,00000000,00000001", [0, 95]),
    ("80000000,00000000,00000000,00000001", [0, 127]),
    ("ff", list(range(8))),
    ("00000000\x00", []),
    ("", []),
])
def test_parse_cpumask(text, cpus):
    assert parse_cpumask(text) == cpus


def test_parse_cpumask_rejects_non_hex():
    with pytest.raises(CpuListError, match="not hexadecimal"):
        parse_cpumask("0000zz00")


@pytest.mark.parametrize("cpus, text", [
    ([3, 1, 0, 2, 8, 10, 11], "0-3,8,10-11"),
    ([], ""),
    ([5], "5"),
    ([1, 1, 2], "1-2"),
    ([0, 2, 4], "0,2,4"),
    (list(range(32)) + list(range(64, 96)), "0-31,64-95"),
])
def test_format_cpulist(cpus, text):
    assert format_cpulist(cpus) == text


@given(st.sets(st.integers(min_value=0, max_value=4096), max_size=200))
def test_format_parse_round_trip(cpus):
    text = format_cpulist(cpus)
    assert parse_cpulist(text) == sorted(cpus)
    assert format_cpulist(parse_cpulist(text)) == text


@pytest.mark.parametrize("value, cpus", [
    ("0,64", [0, 64]), ([64, 0], [0, 64]), (3, [3]), (["1", 2], [1, 2]), (None, []), ([], []), ("", []),
])
def test_to_cpu_list(value, cpus):
    assert to_cpu_list(value) == cpus


@pytest.mark.parametrize("value", [True, [True], [-1], ["x"], [1.5], {"a": 1}, ["²"]])
def test_to_cpu_list_rejects(value):
    with pytest.raises(CpuListError, match="reserved_cpus"):
        to_cpu_list(value, "reserved_cpus")
