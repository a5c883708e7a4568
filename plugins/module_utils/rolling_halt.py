# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a rolling update says and does when it halts, and what it keeps of its waves.

Pure functions; the role numaserve.ovms.rolling_update renders their results.

- ``rollback_steps(replaced, failed)``: the steps that put back the image each instance ran before.
- ``canary_problems(...)``: why the canary check failed ([] when it passed).
- ``halt_line(...)``: the one line a halted run ends with.
- ``timings(measured)``: the means of a server's waves, kept for the next preview's estimate.

A failure record is ``{host, instance, container, image, failure, wave, phase, canary}``: ``phase`` is
``update`` or ``rollback``; ``canary`` is true for a failed canary check (no instance named).
"""

from __future__ import annotations


def _one_line(text):
    return " ".join(str(text or "").split())


def _cause(text):
    """The gate's message without the container's state and log lines (printed above it): one line."""
    cause = _one_line(text)
    for cut in (" Container state:", " Last "):
        if cut in cause:
            cause = cause.split(cut, 1)[0]
    return cause if len(cause) <= 400 else cause[:397] + "..."


def rollback_steps(replaced, failed):
    """In-place steps back to the previous image: first the instances the run replaced (``replaced``:
    [{host, instance, image, endpoint}]), then the ones that failed their gate (``failed``: failure
    records; nothing to drain, they serve nothing). Entries without a previous image (an instance that
    did not run before) and failed canary checks are left out; each instance at most once."""
    out = []
    seen = set()
    entries = [(r, r.get("endpoint") or {}) for r in replaced or []]
    entries += [(f, {}) for f in failed or [] if not f.get("canary")]
    for entry, leaving in entries:
        key = (entry.get("host"), entry.get("instance"))
        if not entry.get("image") or key in seen:
            continue
        seen.add(key)
        out.append({"kind": "in_place", "host": entry["host"], "instance": entry["instance"],
                    "container": (leaving or {}).get("container") or entry.get("container", ""),
                    "leaving": dict(leaving), "reasons": ["rollback"], "image": entry["image"],
                    "rollback_image": entry["image"]})
    return out


def canary_problems(check_url="", url_result=None, check_timeout=0, ttft=None, max_ttft_ms=0):
    """Why the canary failed: the URL did not answer 200 (``url_result``: the registered uri result),
    or a canary's median time to first token (``ttft``: [{key, median_ms, failed}]) is missing, above
    ``max_ttft_ms`` or came with failed requests."""
    problems = []
    if check_url:
        result = url_result or {}
        status = int(result.get("status") or 0)
        if status != 200:
            last = ("HTTP %d" % status) if status > 0 else _one_line(result.get("msg") or "no answer")
            problems.append("the canary check %s did not answer HTTP 200 within %s s (last answer: %s)"
                            % (check_url, check_timeout, last))
    if max_ttft_ms and float(max_ttft_ms) > 0:
        for entry in ttft or []:
            median = entry.get("median_ms")
            failed = int(entry.get("failed") or 0)
            if median is None:
                problems.append("the canary %s could not be measured" % entry.get("key"))
            elif float(median) > float(max_ttft_ms) or failed:
                problems.append("the canary %s had a median time to first token of %.0f ms with %d failed request(s) "
                                "(rolling_update_canary_max_ttft_ms: %s)" % (entry.get("key"), float(median), failed,
                                                                             max_ttft_ms))
    return problems


def halt_line(failures, waves, replaced=0, rollback=False, rolled_back=0):
    """The one line a halted run ends with: where it halted, why, what serves what, how to go on.

    failures: every failure record of the run; waves: the number of waves of the update; replaced: the
    instances it replaced before the halt; rollback: whether it rolled back; rolled_back: how many."""
    update = [f for f in failures if f.get("phase", "update") == "update"]
    if not update:
        return ""
    first = update[0]
    where = "rolling_update: halted in wave %s of %s: " % (first.get("wave"), waves)
    if first.get("canary"):
        what = _cause(first.get("failure"))
    else:
        what = "%s/%s (%s) failed its readiness gate: %s" % (
            first.get("host"), first.get("instance"), first.get("container"), _cause(first.get("failure")))
    others = ["%s/%s" % (f.get("host"), f.get("instance")) for f in update[1:] if not f.get("canary")]
    if others:
        what += "; also failed: " + ", ".join(others)
    if rollback:
        broken = ["%s/%s" % (f.get("host"), f.get("instance")) for f in failures if f.get("phase") == "rollback"]
        if broken:
            then = ("rolled back %d instance(s) to the image each ran before, but the rollback failed on %s: "
                    "fix them and run again" % (rolled_back, ", ".join(broken)))
        else:
            then = ("rolled back %d instance(s) to the image each ran before: every instance serves its old version"
                    % rolled_back)
    else:
        previous = first.get("image") or "the image it ran before"
        then = ("%d instance(s) were replaced before the halt, the instances of later waves still serve their old "
                "version, the failed one stays out of the balancers. To resume, fix the cause and run again (only what "
                "still differs is replaced); to roll back, run again with the previous model_server_image (%s) or "
                "with rolling_update_rollback_on_failure: true" % (replaced, previous))
    return "%s%s; %s." % (where, what, then)


def timings(measured):
    """The means of a server's waves (``measured``: [{drain_seconds, replace_seconds (per instance),
    instances, wave_seconds}]) as the estimate reads them: {drain_seconds, replace_seconds,
    wave_overhead_seconds, waves}; the overhead is what a wave took beyond draining and replacing."""
    entries = [m for m in measured or [] if m]
    if not entries:
        return {}

    def mean(values):
        return round(sum(values) / len(values), 2)

    overhead = [max(float(m["wave_seconds"]) - float(m["drain_seconds"])
                    - float(m["replace_seconds"]) * int(m.get("instances", 1)), 0.0) for m in entries]
    return {"drain_seconds": mean([float(m["drain_seconds"]) for m in entries]),
            "replace_seconds": mean([float(m["replace_seconds"]) for m in entries]),
            "wave_overhead_seconds": mean(overhead), "waves": len(entries)}
