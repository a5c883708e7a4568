# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""extensions/molecule/shared/fleet_checks.py: the fleet scenario's wave evidence, on fixture generations."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "extensions", "molecule", "shared"))

from drain_checks import Generation  # noqa: E402  pylint: disable=wrong-import-position
import fleet_checks as fc  # noqa: E402  pylint: disable=wrong-import-position

KEYS = ["127.0.1.%d:%d" % (server, port) for server in range(1, 9) for port in (19301, 19302)]


def key(server, node):
    return "127.0.1.%d:%d" % (server, 19301 + node)


# Contract A's 25% plan of 8 servers x 2: the canary, then at most 4, never both of one server.
WAVES_25 = [
    [key(1, 0)],
    [key(1, 1), key(2, 0), key(3, 0), key(4, 0)],
    [key(2, 1), key(3, 1), key(4, 1), key(5, 0)],
    [key(5, 1), key(6, 0), key(7, 0), key(8, 0)],
    [key(6, 1), key(7, 1), key(8, 1)],
]


def generations(outs, start=100.0, step=10.0, keys=KEYS, absent=()):
    """One generation per entry of OUTS (the keys down in it); each quits 0.1 s after the next starts."""
    gens = []
    for n, out in enumerate(outs):
        state = {k: ("down" if k in out else "up") for k in keys if k not in absent}
        gens.append(Generation(start + n * step, start + n * step, [n + 10], state, 1))
    for a, b in zip(gens, gens[1:]):
        a.quit = b.start + 0.1
    return gens


def one_reload_per_wave(waves):
    return generations([[]] + waves + [[]])


def test_one_reload_per_wave_gives_the_planned_waves():
    gens = one_reload_per_wave(WAVES_25)
    assert fc.observed_waves(gens, KEYS) == [sorted(w) for w in WAVES_25]
    assert fc.max_out(gens, KEYS) == 4
    assert fc.lowest_serving(gens) == 12
    assert fc.lowest_serving(gens, planned=KEYS[:2]) == 1  # fleet-server1 never loses both
    assert fc.reloads(gens, (101, 200)) == 6


def test_back_in_and_next_out_in_separate_reloads_give_the_same_waves():
    outs = [[]]
    for wave in WAVES_25:
        outs += [wave, []]
    gens = generations(outs)
    assert fc.observed_waves(gens, KEYS) == [sorted(w) for w in WAVES_25]
    assert fc.max_out(gens, KEYS) == 4


def test_overlap_counts_every_key_out_in_one_generation():
    """A reload that takes wave 3 out before wave 2 is back in: 8 out at once, and two waves still seen."""
    gens = generations([[], WAVES_25[1], WAVES_25[1] + WAVES_25[2], WAVES_25[2], []])
    assert fc.max_out(gens, KEYS) == 8
    assert fc.observed_waves(gens, KEYS) == [sorted(WAVES_25[1]), sorted(WAVES_25[2])]
    assert fc.lowest_serving(gens) == 8


def test_a_wave_taken_out_in_two_reloads_shows_as_two():
    gens = generations([[], WAVES_25[1][:2], WAVES_25[1], []])
    assert fc.observed_waves(gens, KEYS) == [sorted(WAVES_25[1][:2]), sorted(WAVES_25[1][2:])]


def test_a_key_out_twice_is_in_two_waves_and_an_absent_key_is_out():
    rollback = generations([[], [key(1, 0)], [], [key(1, 0)], []])
    assert fc.observed_waves(rollback, KEYS) == [[key(1, 0)], [key(1, 0)]]
    gone = generations([[], []], absent=[key(8, 1)])
    gone[0].state[key(8, 1)] = "up"
    assert fc.observed_waves(gone, KEYS) == [[key(8, 1)]]
    assert fc.max_out(gone, KEYS) == 1


def test_window_keeps_only_generations_that_routed_in_it():
    gens = generations([[key(1, 0)], [], [key(2, 0)], []])  # starts 100, 110, 120, 130
    assert [g.start for g in fc.routing(gens, (111, 125))] == [110, 120]
    assert fc.observed_waves(gens, KEYS, (111, 125)) == [[key(2, 0)]]
    assert fc.observed_waves(gens, KEYS, (105, 125)) == [[key(1, 0)], [key(2, 0)]]  # 100 quits at 110.1
    assert fc.max_out([], KEYS) == 0 and fc.lowest_serving([]) is None


def preview_text(waves, host_prefix="fleet-server", seconds="about 95 s"):
    lines = []
    for n, wave in enumerate(waves, 1):
        entries = ", ".join("%s%s/node%s (%s)" % (host_prefix, k.split(":")[0].rsplit(".", 1)[1],
                                                  int(k.rsplit(":", 1)[1]) - 19301, k) for k in wave)
        lines.append("rolling_update: wave %d of %d%s: %s" % (n, len(waves), " (canary)" if n == 1 else "", entries))
    lines.append("rolling_update: %d waves, %d instances, at most 4 out of the balancers at once, %s "
                 "(from the last update measured on 8 of 8 servers (drain 1.2 s, replace 4.5 s))"
                 % (len(waves), sum(len(w) for w in waves), seconds))
    return lines


def ansible_debug(host, lines):
    body = ",\n".join('        "%s"' % line.replace('"', '\\"') for line in lines)
    return 'TASK [numaserve.ovms.rolling_update : Print the waves] ***\nok: [%s] => {\n    "msg": [\n%s\n    ]\n}\n' % (
        host, body)


def test_parse_preview_of_ansible_debug_output_printed_by_several_hosts():
    lines = preview_text(WAVES_25)
    text = ansible_debug("fleet-server1", lines) + ansible_debug("fleet-lb", lines) + "PLAY RECAP ***\n"
    got = fc.parse_preview(text)
    assert [w["keys"] for w in got["waves"]] == WAVES_25
    assert [w["canary"] for w in got["waves"]] == [True, False, False, False, False]
    assert got["waves"][1]["steps"][0] == {"host": "fleet-server1", "instance": "node1", "key": key(1, 1)}
    assert got["summary"]["waves"] == 5 and got["summary"]["instances"] == 16 and got["summary"]["max_out"] == 4
    assert got["summary"]["seconds"] == 95.0 and got["summary"]["basis"].startswith("from the last update")


def test_parse_preview_of_plain_lines_and_unknown_duration():
    lines = preview_text(WAVES_25[:2], seconds="duration unknown")
    text = "\n".join("[fleet-lb] " + line for line in lines)
    got = fc.parse_preview(text)
    assert [w["keys"] for w in got["waves"]] == WAVES_25[:2]
    assert got["summary"]["seconds"] is None and got["summary"]["basis"].startswith("from the last")
    assert fc.parse_preview("nothing here") == {"waves": [], "summary": None}


def test_parse_preview_refuses_a_broken_sequence():
    lines = preview_text(WAVES_25)
    with pytest.raises(ValueError, match="waves 1..N"):
        fc.parse_preview("\n".join(lines[:1] + lines[2:]))


def test_a_step_that_does_not_serve_has_no_address():
    got = fc.parse_preview("rolling_update: wave 1 of 1: fleet-server3/node0 (not serving)")
    assert got["waves"][0]["steps"] == [{"host": "fleet-server3", "instance": "node0", "key": "not serving"}]


def test_halt_lines_from_a_failed_task():
    halt = ("rolling_update: halted in wave 2 of 5: fleet-server3/node0 (fleet3-ovms-node0) failed its readiness "
            "gate: a model failed to load; the instances of waves 3-5 still run the old image. Fix and re-run.")
    text = ('fatal: [fleet-lb]: FAILED! => {"changed": false, "msg": "%s"}\n'
            'fatal: [fleet-server1]: FAILED! => {"changed": false, "msg": "%s"}\n' % (halt, halt))
    assert fc.halt_lines(text) == [halt]
    assert fc.halt_lines(halt) == [halt]
    assert fc.halt_lines("PLAY RECAP") == []


def test_a_run_and_its_rollback_print_two_previews():
    run = preview_text(WAVES_25)
    rollback = preview_text([[key(1, 0)], [key(1, 1), key(2, 0), key(3, 0), key(4, 0)]], seconds="duration unknown")
    text = ansible_debug("fleet-lb", run) + ansible_debug("fleet-server1", run) + ansible_debug("fleet-lb", rollback)
    previews = fc.parse_previews(text)
    assert [len(p["waves"]) for p in previews] == [5, 2]
    assert previews[1]["summary"]["seconds"] is None
    assert fc.parse_preview(text) == previews[0]
    # Wave lines without a summary, then a new wave 1: two previews as well.
    assert [len(p["waves"]) for p in fc.parse_previews("\n".join(run[:5] + rollback[:2]))] == [5, 2]


def test_parse_event_of_docker_events_json():
    line = ('{"status":"kill","id":"abc","from":"img","Type":"container","Action":"kill",'
            '"Actor":{"ID":"abc","Attributes":{"name":"fleet1-ovms-node0","signal":"15"}},'
            '"scope":"local","time":1796220345,"timeNano":1796220345714638200}')
    event = fc.parse_event(line)
    assert event["id"] == "abc" and event["action"] == "kill" and event["name"] == "fleet1-ovms-node0"
    assert abs(event["time"] - 1796220345.7146382) < 1e-6
    assert fc.parse_event("  ") is None
    assert fc.parse_event('{"Action":"exec_start: sh -c x","id":"d","time":5}')["action"] == "exec_start"
