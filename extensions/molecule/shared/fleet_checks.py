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
- `parse_previews(text)` / `parse_preview(text)`: the waves of "rolling_update: wave K of N[ (canary)]:
  host/instance (key), ..." lines (contract A) in Ansible's output, with the summary line (all
  previews: a rollback prints its own; or the first).
- `EventStream()`: the engine's events of managed containers, read while a step runs (`docker events
  --since/--until` afterwards only returns what the daemon still buffers: 256 events, fewer than a
  fleet update makes), in drain_checks.engine_events' shape.
"""

import json
import re
import subprocess
import threading
import time

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


def preview_lines(text, unique=True):
    """The preview lines (wave lines and summary lines) of TEXT in the order printed (UNIQUE: each once)."""
    seen, out = set(), []
    for line in _lines(text):
        idx = line.find("rolling_update: ")
        if idx < 0:
            continue
        line = line[idx:].rstrip()
        if (WAVE_LINE.match(line) or SUMMARY_LINE.match(line)) and not (unique and line in seen):
            seen.add(line)
            out.append(line)
    return out


def parse_previews(text):
    """Every preview of TEXT (a run prints its waves, and a rollback its own): [{"waves": [...], "summary": ...}].

    A preview is wave lines numbered 1..N, then its summary line; wave line 1 after a summary or after
    other wave lines begins the next one. Raises ValueError when one is not waves 1..N once each."""
    previews, current = [], None
    for line in preview_lines(text, unique=False):
        m = WAVE_LINE.match(line)
        if m:
            if current is None or current["summary"] is not None or int(m.group(1)) == 1:
                current = {"waves": [], "summary": None}
                previews.append(current)
            steps = [{"host": h, "instance": i, "key": k} for h, i, k in ENTRY.findall(m.group(4))]
            current["waves"].append({"index": int(m.group(1)), "of": int(m.group(2)), "canary": bool(m.group(3)),
                                     "steps": steps, "keys": [s["key"] for s in steps]})
            continue
        m = SUMMARY_LINE.match(line)
        if m and current is not None and current["summary"] is None:
            current["summary"] = {"waves": int(m.group(1)), "instances": int(m.group(2)), "max_out": int(m.group(3)),
                                  "seconds": float(m.group(4)) if m.group(4) else None, "basis": m.group(5)}
    unique = []
    for preview in previews:
        waves = preview["waves"]
        indexes = [w["index"] for w in waves]
        if indexes != list(range(1, len(waves) + 1)) or {w["of"] for w in waves} != {len(waves)}:
            raise ValueError("the preview's wave lines are not waves 1..N once each: %s"
                             % [(w["index"], w["of"]) for w in waves])
        if preview not in unique:  # the same preview printed by several hosts
            unique.append(preview)
    return unique


def parse_preview(text):
    """The first preview of TEXT: {"waves": [{index, of, canary, steps: [{host, instance, key}], keys}],
    "summary": {waves, instances, max_out, seconds, basis} | None}; no wave line: no waves."""
    previews = parse_previews(text)
    return previews[0] if previews else {"waves": [], "summary": None}


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


class EventStream:
    """`docker events` of managed containers from start() to stop(): .events = [{id, action, name, time}]."""

    def __init__(self, engine="docker"):
        self.engine = engine
        self.events = []
        self._proc = None
        self._thread = None

    def start(self):
        self._proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [self.engine, "events", "--since", "%.3f" % time.time(), "--filter", "type=container",
             "--filter", "label=io.numaserve.managed=true", "--format", "{{json .}}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self):
        for line in self._proc.stdout:
            event = parse_event(line)
            if event:
                self.events.append(event)

    def stop(self, settle=1.0):
        time.sleep(settle)  # the last events reach the stream
        self._proc.terminate()
        self._thread.join(5)
        self._proc.wait(5)
        return sorted(self.events, key=lambda e: e["time"])


def parse_event(line):
    """One `docker events --format '{{json .}}'` line as {id, action, name, time}, or None."""
    if not line.strip():
        return None
    event = json.loads(line)
    action = (event.get("Action") or event.get("status") or "").split(":")[0]
    when = int(event["timeNano"]) / 1e9 if event.get("timeNano") else float(event.get("time", 0))
    return {"id": event.get("id") or event.get("ID", ""), "action": action, "time": when,
            "name": ((event.get("Actor") or {}).get("Attributes") or {}).get("name", "")}
