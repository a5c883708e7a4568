# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Evidence that an instance left the balancer before it stopped (issue 16), from nginx and the engine.

Nothing here reads the playbook's output. Three recorders, one judge:

- `BalancerWatch(container, conf_path)`: a thread that, every INTERVAL, reads from this host's /proc
  the nginx master of the balancer container (its PID 1, or the child of its init) and the worker
  processes it forked, and reads the nginx.conf the balancer loads (load_balancer_config_dir/nginx.conf,
  bind-mounted read-only). Workers forked together are one *generation*: the master forks one at start
  and one per reload, and a generation routes with the nginx.conf on disk when it was forked. Its start
  is the workers' start time (/proc/<pid>/stat, clock ticks since boot); its routing ends when the
  master tells it to shut down, which nginx does 100 ms after forking the next generation
  (`ngx_msleep(100)` in the master's reload): observed here as the first poll where one of its workers
  is gone or titled "worker process is shutting down". That observed moment is the reload latency,
  measured on every reload (figures: handover_seconds) instead of a fixed tolerance; it is at most
  INTERVAL late, so the judge is lenient by that much, never strict. An old worker finishes the
  requests it holds and takes no new one.
- `access_log(container, since)`: nginx's access log (the container's stdout) with each line's time:
  the engine's timestamp of the line (`docker logs -t`, RFC3339Nano), which is when nginx wrote the
  entry, at the request's end (`msec=` is used instead if the log format ever carries $msec). The
  request started at end - rt ($request_time counts from its first byte).
- `engine_events(since, until)`: the engine's events of managed containers (kill, die, stop, rename,
  destroy) with nanosecond times: when each instance was stopped.

`judge(...)` then decides, for every instance container that existed before a step and not after it:
it was marked down (no routing generation had its address up) before it was stopped; no request was
sent to its address after it was marked down (until an address reused by a new instance came up
again); every request sent to it before that ended before it stopped (drained); and for the whole step:
every logged request got 200 from its first upstream (a second address in $upstream_addr is a connect
that failed: a request sent to an instance that was not there), and at the end the balancer routes to
exactly the running instances.
"""

import calendar
import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field

INTERVAL = 0.1
# Clock tolerance: $msec and $request_time are in ms, /proc start times in clock ticks (10 ms), the
# boot-time offset is read from /proc/uptime (10 ms).
CLOCK = 0.03
MANAGED = "io.numaserve.managed=true"
STOP_ACTIONS = ("kill", "stop", "die")
UPSTREAM_BLOCK = re.compile(r"^\s*upstream\s+\S+\s*\{(.*?)^\s*\}", re.M | re.S)
UPSTREAM_SERVER = re.compile(r"^\s*server\s+(\S+)([^;\n]*);", re.M)
DOCKER_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d) (.*)$")
LOG_LINE = re.compile(r'^(?P<remote>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
                      r'upstream=(?P<upstream>.+?) rt=(?P<rt>[0-9.]+)(?P<tail>.*)$')


def run(*cmd, check=True):
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), proc.returncode, proc.stderr.strip()))
    return proc


# --- nginx.conf ------------------------------------------------------------------------------------

def upstream_state(conf_text):
    """{"address:port": "up" | "down"} of the servers in the upstream block(s) of an nginx.conf."""
    state = {}
    for block in UPSTREAM_BLOCK.findall(conf_text or ""):
        for key, rest in UPSTREAM_SERVER.findall(block):
            state[key] = "down" if re.search(r"(^|\s)down(\s|$)", rest) else "up"
    return state


def up_keys(state):
    return sorted(k for k, v in state.items() if v == "up")


# --- /proc -----------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def boot_time():
    """Wall-clock time of boot, as the kernel counts process start times (median of 5 readings)."""
    samples = []
    for dummy in range(5):
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        samples.append(time.time() - uptime)
    return sorted(samples)[2]


def proc_stat(pid):
    """(ppid, starttime ticks) of PID, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    rest = text[text.rfind(")") + 2:].split()
    return int(rest[1]), int(rest[19])


def proc_title(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def container_pids(pid):
    """PIDs in the cgroup of process PID (one small read of cgroup.procs: cgroup v2, hybrid or v1), or None."""
    try:
        with open("/proc/%d/cgroup" % pid, encoding="ascii") as fh:
            lines = [line.strip().split(":", 2) for line in fh if line.count(":") >= 2]
    except OSError:
        return None
    candidates = []
    for dummy, controllers, path in lines:
        if controllers == "":
            candidates += ["/sys/fs/cgroup" + path, "/sys/fs/cgroup/unified" + path]
        elif "pids" in controllers.split(","):
            candidates.append("/sys/fs/cgroup/pids" + path)
    for directory in candidates:
        try:
            with open(directory.rstrip("/") + "/cgroup.procs", encoding="ascii") as fh:
                pids = [int(p) for p in fh.read().split()]
        except OSError:
            continue
        if pid in pids:
            return pids
    return None


def children(ppid):
    """{pid: starttime ticks} of the processes whose parent is PPID (looked for in PPID's cgroup, else in /proc)."""
    pids = container_pids(ppid)
    if pids is None:
        pids = [int(e) for e in os.listdir("/proc") if e.isdigit()]
    found = {}
    for pid in pids:
        stat = proc_stat(pid)
        if stat and stat[0] == ppid:
            found[pid] = stat[1]
    return found


@dataclass
class Generation:
    """Workers the nginx master forked together, and the configuration they route with."""
    start: float
    seen: float
    pids: list
    state: dict
    master: int
    quit: float = None  # when it was seen told to shut down (None: still routing at the end)

    def routes(self, when):
        return self.start <= when and (self.quit is None or when < self.quit)

    def as_dict(self):
        return {"start": round(self.start, 3), "quit": None if self.quit is None else round(self.quit, 3),
                "workers": len(self.pids), "up": up_keys(self.state),
                "down": sorted(k for k, v in self.state.items() if v == "down")}


@dataclass
class BalancerWatch:
    container: str
    conf_path: str
    engine: str = "docker"
    interval: float = INTERVAL
    generations: list = field(default_factory=list)
    conf_changes: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._boot = boot_time()
        self._master = None
        self._conf = None
        self._known = {}  # worker pid -> its Generation

    def _master_pid(self):
        """The nginx master: the container's PID 1 or, under an init (tini), its child titled "nginx: master"."""
        if self._master and proc_stat(self._master):
            return self._master
        self._master = None
        proc = run(self.engine, "inspect", "--type", "container", "--format", "{{.State.Pid}}", self.container,
                   check=False)
        init = int(proc.stdout.strip() or 0) if proc.returncode == 0 else 0
        if init:
            for pid in [init] + sorted(children(init)):
                if proc_title(pid).startswith("nginx: master"):
                    self._master = pid
                    break
        return self._master

    def _read_conf(self, now):
        try:
            with open(self.conf_path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            text = ""
        if text != self._conf:
            self._conf = text
            self.conf_changes.append((now, upstream_state(text)))

    def poll(self):
        now = time.time()
        self._read_conf(now)
        master = self._master_pid()
        workers = {}
        if master:
            for pid, ticks in children(master).items():
                title = proc_title(pid)
                if "worker process" in title:
                    workers[pid] = (ticks, "shutting down" in title)
        new = [pid for pid in workers if pid not in self._known]
        if new:
            start = self._boot + min(workers[p][0] for p in new) / CLK_TCK
            last = self.generations[-1] if self.generations else None
            if last and last.master == master and abs(last.start - start) < 0.2:
                last.pids.extend(new)
                generation = last
            else:
                generation = Generation(start, now, list(new), upstream_state(self._conf), master)
                self.generations.append(generation)
            for pid in new:
                self._known[pid] = generation
        for pid, generation in list(self._known.items()):
            if generation.quit is None and (pid not in workers or workers[pid][1]):
                generation.quit = now
            if pid not in workers:
                del self._known[pid]

    def _run(self):
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - recorded, judged by the caller
                self.errors.append("%s: %s" % (type(exc).__name__, exc))
            self._stop.wait(self.interval)

    def start(self):
        self.poll()
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.poll()
        return self


# --- the engine ------------------------------------------------------------------------------------

@dataclass
class Instance:
    id: str
    name: str
    host: str
    instance: str
    keys: list
    running: bool = True

    def as_dict(self):
        return {"name": self.name, "host": self.host, "instance": self.instance, "keys": self.keys,
                "id": self.id[:12], "running": self.running}


def instances(engine="docker"):
    """{container id: Instance} of every managed model server container on this machine (any host label)."""
    ids = run(engine, "ps", "-a", "-q", "--no-trunc", "--filter", "label=" + MANAGED,
              "--filter", "label=io.numaserve.instance").stdout.split()
    if not ids:
        return {}
    found = {}
    for info in json.loads(run(engine, "inspect", "--type", "container", *ids).stdout):
        labels = info["Config"]["Labels"] or {}
        keys = []
        for bindings in (info["HostConfig"].get("PortBindings") or {}).values():
            for binding in bindings or []:
                keys.append("%s:%s" % (binding.get("HostIp") or "0.0.0.0", binding["HostPort"]))
        found[info["Id"]] = Instance(info["Id"], info["Name"].lstrip("/"), labels.get("io.numaserve.host", ""),
                                     labels["io.numaserve.instance"], sorted(keys), bool(info["State"]["Running"]))
    return found


def engine_events(since, until, engine="docker"):
    """[{id, action, name, time}] of the managed containers' events between SINCE and UNTIL (unix times)."""
    proc = run(engine, "events", "--since", "%.3f" % since, "--until", "%.3f" % until,
               "--filter", "type=container", "--filter", "label=" + MANAGED, "--format", "{{json .}}")
    events = []
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        action = (event.get("Action") or event.get("status") or "").split(":")[0]
        when = int(event["timeNano"]) / 1e9 if event.get("timeNano") else float(event.get("time", 0))
        events.append({"id": event.get("id") or event.get("ID", ""), "action": action, "time": when,
                       "name": ((event.get("Actor") or {}).get("Attributes") or {}).get("name", "")})
    return sorted(events, key=lambda e: e["time"])


# --- the access log --------------------------------------------------------------------------------

def parse_docker_time(stamp, frac, zone):
    when = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        when -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return when


def parse_access_log(text):
    """Entries of `docker logs -t` output: dicts with start, end, status, upstreams (every attempt), request."""
    entries = []
    for raw in text.splitlines():
        stamped = DOCKER_TS.match(raw)
        line, logged = raw, None
        if stamped:
            logged = parse_docker_time(stamped.group(1), stamped.group(2), stamped.group(3))
            line = stamped.group(4)
        m = LOG_LINE.match(line)
        if not m:
            continue
        msec = re.search(r"\bmsec=([0-9.]+)", m.group("tail"))
        end = float(msec.group(1)) if msec else logged
        if end is None:
            continue
        rt = float(m.group("rt"))
        attempts = [a.strip() for a in re.split(r"\s*[,:]\s+", m.group("upstream")) if a.strip() not in ("", "-")]
        entries.append({"start": end - rt, "end": end, "status": int(m.group("status")), "upstreams": attempts,
                        "request": m.group("request"), "line": line})
    return entries


def access_log(container, since, engine="docker"):
    proc = run(engine, "logs", "-t", "--since", "%.3f" % since, container)
    return parse_access_log(proc.stdout + "\n" + proc.stderr)


# --- the judge -------------------------------------------------------------------------------------

def judge(before, after, events, generations, entries, window):
    """Problems (list of str) and figures (dict) of one step. BEFORE/AFTER: instances() around the step (an
    instance running before and not running, or gone, after it has departed);
    EVENTS: engine_events() over the step; GENERATIONS: BalancerWatch.generations; ENTRIES: the access-log
    entries of the step; WINDOW: (start, end) of the step (requests that started in it are judged)."""
    problems, departed = [], []
    lo, hi = window
    chosen = [e for e in entries if lo <= e["start"] <= hi]
    gens = sorted(generations, key=lambda g: g.start)
    for cid, inst in sorted(before.items(), key=lambda kv: kv[1].name):
        if not inst.running or (cid in after and after[cid].running):
            continue
        stops = [e["time"] for e in events if e["id"] == cid and e["action"] in STOP_ACTIONS]
        routed = [k for k in inst.keys if any(k in g.state for g in gens)]
        key = (routed or inst.keys or ["?"])[0]
        figure = {"container": inst.name, "key": key}
        departed.append(figure)
        if not stops:
            problems.append("%s (%s) left without a stop event" % (inst.name, key))
            continue
        stopped = min(stops)
        figure["stopped"] = round(stopped, 3)
        up_at_stop = [g for g in gens if g.routes(stopped) and g.state.get(key) == "up"]
        if up_at_stop:
            problems.append("%s (%s) was stopped at %.3f while the balancer still routed to it (generation started "
                            "%.3f, up: %s)" % (inst.name, key, stopped, up_at_stop[0].start, up_keys(up_at_stop[0].state)))
        # Marked down: the moment the last generation that had it up (forked before the stop) stopped routing.
        ups = [g for g in gens if g.start <= stopped and g.state.get(key) == "up"]
        marked_down = max((g.quit if g.quit is not None else float("inf")) for g in ups) if ups else None
        back_up = min((g.start for g in gens if g.start > stopped and g.state.get(key) == "up"), default=float("inf"))
        figure["marked_down"] = None if marked_down is None else round(marked_down, 3)
        to_it = [e for e in chosen if key in e["upstreams"]]
        if marked_down is not None and marked_down != float("inf"):
            late = [e for e in to_it if marked_down + CLOCK < e["start"] < back_up - CLOCK]
            before_down = [e for e in to_it if e["start"] <= marked_down + CLOCK]
            in_flight_at_stop = [e for e in before_down if e["end"] > stopped + CLOCK]
            figure.update(requests_before_down=len(before_down), sent_after_down=len(late),
                          in_flight_at_stop=len(in_flight_at_stop),
                          last_request_end=round(max((e["end"] for e in before_down), default=0), 3) or None,
                          drain_seconds=round(stopped - marked_down, 2))
            if late:
                problems.append("%s (%s): %d request(s) sent after it was marked down at %.3f, first at %.3f: %s"
                                % (inst.name, key, len(late), marked_down, late[0]["start"], late[0]["line"]))
            if in_flight_at_stop:
                problems.append("%s (%s): %d request(s) still in flight when it stopped at %.3f: %s"
                                % (inst.name, key, len(in_flight_at_stop), stopped, in_flight_at_stop[0]["line"]))
        else:
            after_stop = [e for e in to_it if stopped - CLOCK < e["start"] < back_up - CLOCK]
            figure.update(sent_after_stop=len(after_stop))
            if after_stop:
                problems.append("%s (%s): %d request(s) sent to it after it stopped at %.3f: %s"
                                % (inst.name, key, len(after_stop), stopped, after_stop[0]["line"]))
    retried = [e for e in chosen if len(e["upstreams"]) > 1]
    not_ok = [e for e in chosen if e["status"] != 200]
    if retried:
        problems.append("%d request(s) tried more than one instance (a connect failed): %s"
                        % (len(retried), retried[0]["line"]))
    if not_ok:
        problems.append("%d request(s) logged without 200: %s" % (len(not_ok), not_ok[0]["line"]))
    final = gens[-1] if gens else None
    running = sorted(k for inst in after.values() if inst.running for k in inst.keys)
    if final is None:
        problems.append("no nginx worker generation was observed")
    elif up_keys(final.state) != running:
        problems.append("at the end the balancer routes to %s, the running instances are %s"
                        % (up_keys(final.state), running))
    # How long an old generation kept routing after the next one started (nginx: 100 ms, plus this
    # watch's poll): requests it took then are judged by the old generation's configuration.
    handovers = [round(a.quit - b.start, 3) for a, b in zip(gens, gens[1:]) if a.quit is not None and b.start >= lo]
    figures = {"departed": departed, "logged_requests": len(chosen), "retried": len(retried),
               "handover_seconds": handovers,
               "not_200": len(not_ok), "reloads": len([g for g in gens if g.start >= lo]),
               "generations": [g.as_dict() for g in gens if g.quit is None or g.quit >= lo]}
    return problems, figures


def fewest_up(generations, window, address):
    """The fewest addresses of ADDRESS (an IP) up in any generation that routed during WINDOW."""
    lo, hi = window
    counts = []
    for g in generations:
        if g.start <= hi and (g.quit is None or g.quit >= lo):
            counts.append(sum(1 for k in up_keys(g.state) if k.rpartition(":")[0] == address))
    return min(counts) if counts else 0
