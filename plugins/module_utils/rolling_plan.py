# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan of a rolling update on one server, from model_server's probe result.

Pure functions of ``model_server_probe`` ({host, instances: [{instance, container, running, endpoint,
image, replace, reasons, port_moved}], stale: [{container, endpoint, image}]}) and the server's plan
(``ovms_instances``); the role numaserve.ovms.rolling_update only renders their results.

One step per instance to roll, in plan order:

- ``in_place``: a running instance that serves and must change (or ``force``) on the same port: drain,
  replace, back in;
- ``moved`` (``apply_plan`` only): the same, but its REST port moved: replace (new port), gate, add,
  then drain and remove the old one;
- ``takeover`` (``apply_plan`` only): a planned instance that does not run, whose REST or gRPC port a
  stale container (one the plan no longer names) still serves on: drain and remove that one, then start
  the instance and add it.
"""

from __future__ import annotations

import copy


class RollingPlanError(ValueError):
    pass


def _int(value, default=0):
    """Jinja's ``int`` filter: "42" -> 42, "42.5" -> 42, anything else -> ``default``."""
    try:
        if isinstance(value, str):
            return int(value, 10)
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return default


def _probe(probe):
    if probe is None:
        return {}
    if not isinstance(probe, dict):
        raise RollingPlanError("expects model_server_probe (a dict), got %s" % type(probe).__name__)
    return probe


def _entries(probe, key):
    entries = _probe(probe).get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RollingPlanError("expects model_server_probe.%s to be a list of dicts, got %r" % (key, entries))
    return entries


def serving(probe):
    """The endpoints the balancers route to now: those of the running instances that serve, then
    those of the stale containers that still serve (they leave later, drained)."""
    running = [i.get("endpoint") for i in _entries(probe, "instances") if i.get("running")]
    stale = [s.get("endpoint") for s in _entries(probe, "stale")]
    return [e for e in running if e] + [e for e in stale if e]


def dead_stale(probe):
    """The names of the stale containers that do not serve (stopped, or not ready): nothing to drain."""
    return [s.get("container") for s in _entries(probe, "stale") if not s.get("endpoint")]


def _step(kind, host, instance, container, leaving, reasons, image):
    # Copies: a step shares nothing with the probe result it was made from. ``image``: what the leaving
    # container runs (what a rollback puts back).
    return {"kind": kind, "host": host, "instance": instance, "container": container,
            "leaving": copy.deepcopy(leaving), "reasons": copy.deepcopy(reasons), "image": image or ""}


def steps(probe, instances, host, force=False, apply_plan=False):
    """The steps of server ``host``, in plan order: first ``in_place``/``moved`` (probe order), then
    ``takeover`` (stale order, then plan order; each planned instance taken over at most once)."""
    if instances is None:
        instances = []
    if not isinstance(instances, list) or not all(isinstance(p, dict) for p in instances):
        raise RollingPlanError("expects ovms_instances to be a list of dicts, got %r" % (instances,))
    probed = _entries(probe, "instances")
    out = []
    for i in probed:
        endpoint = i.get("endpoint") or {}
        if not (i.get("running") and len(endpoint) > 0 and (i.get("replace") or force)):
            continue
        kind = "moved" if i.get("port_moved") else "in_place"
        if kind == "in_place" or apply_plan:
            out.append(_step(kind, host, i.get("instance"), i.get("container"), endpoint, i.get("reasons", []),
                             i.get("image")))
    if not apply_plan:
        return out
    waiting = [i.get("instance") for i in probed if not i.get("running")]
    taken = []
    for s in _entries(probe, "stale"):
        endpoint = s.get("endpoint") or {}
        if len(endpoint) == 0:
            continue
        held = [_int(endpoint.get("port"))]
        if endpoint.get("grpc_port"):
            held.append(_int(endpoint.get("grpc_port")))
        for p in instances:
            name = p.get("name")
            if name not in waiting or name in taken:
                continue
            if _int(p.get("rest_port")) in held or (p.get("grpc_port") and _int(p.get("grpc_port")) in held):
                taken.append(name)
                out.append(_step("takeover", host, name, s.get("container"), endpoint,
                                 ["port held by %s" % s.get("container")], s.get("image")))
    return out
