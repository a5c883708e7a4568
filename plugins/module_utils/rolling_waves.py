# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The waves of a rolling update across the fleet, and their preview.

Pure functions; the role numaserve.ovms.rolling_update renders their results.

- ``resolve_max_unavailable(value, total)``: rolling_update_max_unavailable as a count (a number, or a
  percentage of all the planned instances as Kubernetes reads maxUnavailable: rounded down, at least 1).
- ``plan_waves(steps, serving, max_unavailable, canary, allow_host_unavailable)``: the steps (of
  rolling_plan.steps, every server's, in inventory order) grouped into waves.
- ``estimate(waves, timings, pause_seconds)``: how long the waves should take, from the times kept of
  each server's last update.
- ``preview_lines(waves, estimate)`` and ``summary(waves)``: what the run prints and the fact it sets.
"""

from __future__ import annotations

import math
import re

from ansible_collections.numaserve.ovms.plugins.module_utils.fleet import endpoint_key

PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")
COUNT = re.compile(r"^\s*(\d+)\s*$")


def resolve_max_unavailable(value, total):
    """rolling_update_max_unavailable as a count of instances (>= 1)."""
    fix = "give a count >= 1 (e.g. 1) or a percentage of all the instances from 1% to 100% (e.g. \"25%\")"
    if isinstance(value, bool) or value is None:
        raise ValueError("rolling_update_max_unavailable: %r is not a count or a percentage; %s" % (value, fix))
    if isinstance(value, int):
        count = value
    elif isinstance(value, float) and value.is_integer():
        count = int(value)
    else:
        text = str(value)
        percent = PERCENT.match(text)
        if percent:
            share = int(percent.group(1))
            if not 1 <= share <= 100:
                raise ValueError("rolling_update_max_unavailable: %s is not between 1%% and 100%%; %s" % (text, fix))
            return max(int(math.floor(int(total) * share / 100.0)), 1)
        number = COUNT.match(text)
        if not number:
            raise ValueError("rolling_update_max_unavailable: %r is not a count or a percentage; %s" % (value, fix))
        count = int(number.group(1))
    if count < 1:
        raise ValueError("rolling_update_max_unavailable: %r lets no instance be replaced; %s" % (value, fix))
    return count


def _key(step):
    leaving = step.get("leaving") or {}
    return endpoint_key(leaving) if leaving else ""


def plan_waves(steps, serving, max_unavailable, canary=1, allow_host_unavailable=False):
    """Group the steps into waves: [{index, canary, steps, width}].

    The first wave holds ``canary`` steps (at most ``max_unavailable``; 0: no canary wave), each later
    wave at most ``max_unavailable``. Unless ``allow_host_unavailable``, a wave holds at most
    max(1, serving[host] - 1) steps of one host (``serving``: how many instances serve on each host
    now), so no host loses all its instances at once unless it has only one. Greedy first fit in step
    order: a step that does not fit waits for the next wave."""
    if isinstance(canary, bool) or not isinstance(canary, int) or canary < 0:
        raise ValueError("rolling_update_canary: %r is not a count >= 0; give 1 for one canary instance, 0 for none"
                         % (canary,))
    limit = int(max_unavailable)
    if limit < 1:
        raise ValueError("rolling_update_max_unavailable: %r lets no instance be replaced" % (max_unavailable,))
    serving = serving or {}
    waiting = list(steps or [])
    waves = []
    first = min(canary, limit)
    while waiting:
        size = first if not waves and first > 0 else limit
        taken, per_host, rest = [], {}, []
        for step in waiting:
            host = step.get("host")
            host_limit = len(waiting) if allow_host_unavailable else max(1, int(serving.get(host, 0)) - 1)
            if len(taken) < size and per_host.get(host, 0) < host_limit:
                taken.append(step)
                per_host[host] = per_host.get(host, 0) + 1
            else:
                rest.append(step)
        # width: the most steps one host has in the wave (the role replaces them one after the other).
        waves.append({"index": len(waves) + 1, "canary": not waves and first > 0, "steps": taken,
                      "width": max(per_host.values())})
        waiting = rest
    return waves


def _mean(values):
    return sum(values) / len(values) if values else 0.0


def estimate(waves, timings, pause_seconds=0):
    """{seconds, waves, basis}: each wave takes its slowest server (drain + replace times its instances
    of the wave, from that server's kept times or the mean of the servers with kept times) plus the
    mean overhead of a wave; the pause
    follows the canary wave. Without any kept times the duration is unknown (seconds None)."""
    known = dict((host, t) for host, t in (timings or {}).items() if t)
    if not known:
        return {"seconds": None, "waves": [None for _wave in waves or []],
                "basis": "no update measured yet on these servers"}
    drain = _mean([float(t.get("drain_seconds", 0)) for t in known.values()])
    replace = _mean([float(t.get("replace_seconds", 0)) for t in known.values()])
    overhead = _mean([float(t.get("wave_overhead_seconds", 0)) for t in known.values()])
    per_wave = []
    for wave in waves or []:
        # A server drains its instances of the wave together, then replaces them one after the other.
        counts = {}
        for step in wave["steps"]:
            counts[step.get("host")] = counts.get(step.get("host"), 0) + 1
        slowest = 0.0
        for host, count in counts.items():
            t = known.get(host)
            took = (float(t.get("drain_seconds", 0)) + count * float(t.get("replace_seconds", 0))) if t \
                else drain + count * replace
            slowest = max(slowest, took)
        seconds = slowest + overhead + (float(pause_seconds or 0) if wave.get("canary") else 0.0)
        per_wave.append(round(seconds, 1))
    hosts = set(step.get("host") for wave in waves or [] for step in wave["steps"])
    basis = ("from the last update kept on %d of %d servers (drain %.1f s, replace %.1f s, overhead %.1f s per wave)"
             % (len(hosts & set(known)), len(hosts), drain, replace, overhead))
    return {"seconds": round(sum(per_wave), 1), "waves": per_wave, "basis": basis}


def _named(step):
    key = _key(step)
    return "%s/%s (%s)" % (step.get("host"), step.get("instance"), key or "not serving")


def preview_lines(waves, estimated=None):
    """What the run prints: one line per wave, then the totals and the estimate."""
    waves = waves or []
    count = len(waves)
    lines = ["rolling_update: wave %d of %d%s: %s" % (wave["index"], count, " (canary)" if wave.get("canary") else "",
                                                      ", ".join(_named(s) for s in wave["steps"]))
             for wave in waves]
    instances = sum(len(w["steps"]) for w in waves)
    widest = max([len(w["steps"]) for w in waves] or [0])
    estimated = estimated or {}
    if estimated.get("seconds") is not None:
        duration = "about %d s" % round(estimated["seconds"])
    else:
        duration = "duration unknown"
    lines.append("rolling_update: %d waves, %d instances, at most %d out of the balancers at once, %s (%s)"
                 % (count, instances, widest, duration, estimated.get("basis", "no estimate")))
    return lines


def summary(waves):
    """The fact rolling_update_waves: [{index, canary, steps: [{host, instance, kind, key}]}]."""
    return [{"index": w["index"], "canary": bool(w.get("canary")),
             "steps": [{"host": s.get("host"), "instance": s.get("instance"), "kind": s.get("kind"), "key": _key(s)}
                       for s in w["steps"]]} for w in waves or []]
