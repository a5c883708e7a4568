# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CPU list parsing and formatting in the Linux kernel's formats.

Pure Python, no Ansible imports: shared by the ``numa_facts`` module, the filter plugins and the
planner, and unit-tested directly.

* cpulist ("list") format: ``0-3,8,10-11`` (``/sys/devices/system/node/node0/cpulist``).
* cpumask ("map") format: comma-separated 32-bit hex groups, most significant first:
  ``00000000,0000ff0f`` (``cpumap`` of old kernels, ``thread_siblings``).
"""

from __future__ import annotations

import re

__all__ = ["CpuListError", "clean", "parse_cpulist", "parse_cpumask", "format_cpulist", "to_cpu_list"]

_RANGE = re.compile(r"^\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?$")
_HEXGROUP = re.compile(r"^[0-9a-fA-F]+$")
_DIGITS = re.compile(r"^[0-9]+$")
# A cpulist larger than this is a typo ("0-4294967295"), not a machine: refuse it before
# building a list of billions of integers.
MAX_CPU = 1 << 20


class CpuListError(ValueError):
    """Raised on malformed CPU list or mask text."""


def clean(text):
    """Strip what real sysfs files carry around their value: whitespace, newlines and NUL bytes."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    return text.replace("\x00", "").strip()


def parse_cpulist(text):
    """Parse kernel cpulist text (``"0-3,8,10-11"``) into a sorted list of unique ints.

    Empty text (a CPU-less node) gives ``[]``. Whitespace around items, trailing newlines and NUL
    bytes are accepted; anything else raises CpuListError with the offending item.
    """
    text = clean(text)
    if not text:
        return []
    cpus = set()
    for item in text.split(","):
        match = _RANGE.match(item)
        if not match:
            raise CpuListError(
                "malformed CPU list %r: item %r is not N or N-M (N, M non-negative integers)" % (text, item.strip())
            )
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise CpuListError("malformed CPU list %r: range %r ends before it starts" % (text, item.strip()))
        if last > MAX_CPU:
            raise CpuListError("malformed CPU list %r: CPU %d is larger than %d" % (text, last, MAX_CPU))
        cpus.update(range(first, last + 1))
    return sorted(cpus)


def parse_cpumask(text):
    """Parse a kernel cpumask (``"00000000,0000ff0f"``) into a sorted list of CPU numbers."""
    text = clean(text)
    if not text:
        return []
    groups = [g.strip() for g in text.split(",")]
    for group in groups:
        if not _HEXGROUP.match(group):
            raise CpuListError("malformed CPU mask %r: group %r is not hexadecimal" % (text, group))
    value = int("".join(g.zfill(8) for g in groups), 16)
    cpus = []
    bit = 0
    while value:
        if value & 1:
            cpus.append(bit)
        value >>= 1
        bit += 1
    return cpus


def format_cpulist(cpus):
    """Format CPU numbers as the kernel's canonical cpulist: sorted, unique, ranges ``a-b``.

    ``[3, 0, 1, 2, 8, 10, 11]`` -> ``"0-3,8,10-11"``; ``[]`` -> ``""``. Two adjacent CPUs are
    written as a range (``"10-11"``), as the kernel does.
    """
    ordered = sorted(set(cpus))
    parts = []
    index = 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        if end == index:
            parts.append(str(ordered[index]))
        else:
            parts.append("%d-%d" % (ordered[index], ordered[end]))
        index = end + 1
    return ",".join(parts)


def to_cpu_list(value, what="CPU list"):
    """Normalise user input (cpulist string, int, or list of ints / numeric strings) to a sorted list.

    ``what`` names the input in error messages (e.g. ``"reserved_cpus"``).
    """
    if value is None:
        return []
    if isinstance(value, bool):
        raise CpuListError("%s must be a CPU list such as \"0-3,8\" or a list of CPU numbers, got %r" % (what, value))
    if isinstance(value, int):
        value = [value]
    if isinstance(value, (str, bytes)):
        try:
            return parse_cpulist(value)
        except CpuListError as exc:
            raise CpuListError("%s: %s" % (what, exc))
    try:
        items = list(value)
    except TypeError:
        raise CpuListError("%s must be a CPU list such as \"0-3,8\" or a list of CPU numbers, got %r" % (what, value))
    cpus = set()
    for item in items:
        if isinstance(item, bool):
            raise CpuListError("%s: %r is not a CPU number" % (what, item))
        if isinstance(item, int):
            if item < 0 or item > MAX_CPU:
                raise CpuListError("%s: %d is not a CPU number (0..%d)" % (what, item, MAX_CPU))
            cpus.add(item)
        elif isinstance(item, str) and _DIGITS.match(item.strip()):
            cpus.add(int(item.strip()))
        else:
            raise CpuListError("%s: %r is not a CPU number" % (what, item))
    return sorted(cpus)
