# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Wave evidence of a rolling update (issue 15), from nginx's routing generations, and the preview it printed.

The generations come from drain_checks.BalancerWatch (workers forked together and the upstream state
of the nginx.conf they loaded: {"address:port": "up" | "down"}). Nothing here reads the playbook's
output except `parse_preview` and `halt_lines`: the preview and the halt line are what users read.

- `routing(generations, window)`: the generations that routed at some moment of WINDOW, in start order.
- `out_sets(generations, planned, window)`: per routing generation, the PLANNED keys it does not have
  up (marked down or absent).
- `observed_waves(...)`: the waves the balancer saw. A key's time out of the balancer is a run of
  consecutive routing generations without it up; the keys whose runs begin in the same generation are
  one wave, waves in the order their runs began (a key out twice, e.g. replaced then rolled back, is in
  two waves). This does not assume one reload per wave: a wave put back in by one reload and the next
  taken out by another gives the same waves as one reload doing both.
- `max_out(...)`, `lowest_serving(...)`: the most planned keys out in one generation; the fewest keys up.
- `parse_preview(text)`: the waves of "rolling_update: wave K of N[ (canary)]: host/instance (key), ..."
  lines (contract A) in Ansible's output, and its summary line.
"""

import json
import re

WAVE_LINE = re.compile(r"rolling_update: wave (\d+) of (\d+)( \(canary\))?: (.*)$")
SUMMARY_LINE = re.compile(r"rolling_update: (\d+) waves?, (\d+) instances?, at most (\d+) out of the balancers? at once, "
                          r"(?:about ([0-9.]+) s|duration unknown) \((.*)\)$")
ENTRY = re.compile(r"([^\s,()]+)/([^\s,()]+) \(([^()]*)\)")
HALT = "rolling_update: halted in wave "
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def up_keys(state):
    return sorted(k for k, v in (state or {}).items() if v == "up")


def routing(generations, window=None):
    """Generations (objects with start, quit, state) that routed at some moment of WINDOW (lo, hi), by start."""
    gens = sorted(generations, key=lambda g: g.start)
    if window is None:
        return gens
    lo, hi = window
    return [g for g in gens if g.start <= hi and (g.quit is None or g.quit >= lo)]


def out_sets(generations, planned, window=None):
    """[(generation, sorted planned keys not up in it)] of the routing generations."""
    planned = set(planned)
    return [(g, sorted(planned - set(up_keys(g.state)))) for g in routing(generations, window)]


def observed_waves(generations, planned, window=None):
    """[[key, ...], ...]: the keys whose time out of the balancer began in the same generation, in order."""
    waves = []
    previous = set()
    for dummy, out in out_sets(generations, planned, window):
        began = sorted(set(out) - previous)
        if began:
            waves.append(began)
        previous = set(out)
    return waves


def max_out(generations, planned, window=None):
    """The most PLANNED keys out of the balancer in one routing generation."""
    return max((len(out) for dummy, out in out_sets(generations, planned, window)), default=0)


def lowest_serving(generations, window=None, planned=None):
    """The fewest keys up (of PLANNED, when given) in one routing generation; None without a generation."""
    counts = [len(set(up_keys(g.state)) & set(planned)) if planned is not None else len(up_keys(g.state))
              for g in routing(generations, window)]
    return min(counts) if counts else None


def reloads(generations, window):
    """How many generations started inside WINDOW (each one nginx reload)."""
    lo, hi = window
    return sum(1 for g in generations if lo <= g.start <= hi)


def _lines(text):
    """Ansible output as lines, with the strings inside JSON-quoted msg lists unquoted (each its own line)."""
    for raw in (text or "").splitlines():
        found = False
        for m in QUOTED.finditer(raw):
            if "rolling_update:" in m.group(1):
                found = True
                yield json.loads('"%s"' % m.group(1))
        if not found:
            yield raw


def preview_lines(text):
    """The preview lines (wave lines and the summary line) of TEXT, each once, in the order first printed."""
    seen, out = set(), []
    for line in _lines(text):
        idx = line.find("rolling_update: ")
        if idx < 0:
            continue
        line = line[idx:].rstrip()
        if (WAVE_LINE.match(line) or SUMMARY_LINE.match(line)) and line not in seen:
            seen.add(line)
            out.append(line)
    return out


def parse_preview(text):
    """{"waves": [{index, of, canary, steps: [{host, instance, key}], keys: [...]}], "summary": {...} | None}.

    Raises ValueError when the wave lines are not one complete numbered sequence 1..N."""
    waves, summary = [], None
    for line in preview_lines(text):
        m = WAVE_LINE.match(line)
        if m:
            steps = [{"host": h, "instance": i, "key": k} for h, i, k in ENTRY.findall(m.group(4))]
            waves.append({"index": int(m.group(1)), "of": int(m.group(2)), "canary": bool(m.group(3)),
                          "steps": steps, "keys": [s["key"] for s in steps]})
            continue
        m = SUMMARY_LINE.match(line)
        if m and summary is None:
            summary = {"waves": int(m.group(1)), "instances": int(m.group(2)), "max_out": int(m.group(3)),
                       "seconds": float(m.group(4)) if m.group(4) else None, "basis": m.group(5)}
    if waves:
        indexes = [w["index"] for w in waves]
        totals = {w["of"] for w in waves}
        if indexes != list(range(1, len(waves) + 1)) or totals != {len(waves)}:
            raise ValueError("the preview's wave lines are not waves 1..N once each: %s"
                             % [(w["index"], w["of"]) for w in waves])
    return {"waves": waves, "summary": summary}


def halt_lines(text):
    """The lines of TEXT that carry the halt message (contract B), each from its start, each once."""
    out = []
    for line in _lines(text):
        idx = line.find(HALT)
        if idx >= 0:
            line = line[idx:].rstrip().rstrip('",')
            if line not in out:
                out.append(line)
    return out
