# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""load_balancer_ports: who holds a TCP port, from /proc fixture files (proc_fixtures/tcp, tcp6 in the
kernel's format, proc(5)) and a fake /proc/<pid>/{fd,comm,status} tree."""

import os
import shutil

import pytest

from ansible_collections.numaserve.ovms.plugins.module_utils import load_balancer_ports as lp

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "proc_fixtures")

# pid -> (comm, ppid, socket inodes held)
PROCESSES = {
    1: ("systemd", 0, []),
    300: ("dockerd", 1, []),
    400: ("python3", 1, [1001]),
    500: ("docker-proxy", 300, [1002]),
    590: ("containerd-shim", 1, []),
    600: ("nginx", 590, [1003]),
    601: ("nginx", 600, [1003]),
    700: ("envoy", 1, [2001]),
    701: ("node", 1, [2002]),
}


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / "proc"
    (root / "net").mkdir(parents=True)
    for name in ("tcp", "tcp6"):
        shutil.copy(os.path.join(FIXTURES, name), str(root / "net" / name))
    for pid, (comm, ppid, inodes) in PROCESSES.items():
        base = root / str(pid)
        (base / "fd").mkdir(parents=True)
        (base / "comm").write_text(comm + "\n")
        (base / "status").write_text("Name:\t%s\nState:\tS (sleeping)\nPid:\t%d\nPPid:\t%d\n" % (comm, pid, ppid))
        os.symlink("/dev/null", str(base / "fd" / "0"))
        for n, inode in enumerate(inodes, start=3):
            os.symlink("socket:[%d]" % inode, str(base / "fd" / str(n)))
    (root / "self").mkdir()
    return str(root)


def test_parse_proc_net_tcp():
    with open(os.path.join(FIXTURES, "tcp")) as handle:
        sockets = lp.parse_proc_net_tcp(handle.read())
    assert sockets[0] == {"address": "0.0.0.0", "port": 8080, "state": "0A", "inode": 1001}
    assert sockets[1] == {"address": "127.0.0.1", "port": 18681, "state": "0A", "inode": 1002}
    assert sockets[3]["state"] == "01" and sockets[3]["port"] == 9000
    assert sockets[4]["address"] == "10.0.0.5"


def test_parse_proc_net_tcp6():
    with open(os.path.join(FIXTURES, "tcp6")) as handle:
        sockets = lp.parse_proc_net_tcp(handle.read())
    assert [(s["address"], s["port"]) for s in sockets] == [("::", 8443), ("::1", 8081), ("127.0.0.1", 8082)]


def test_listeners_skip_other_states(proc):
    ports = sorted(s["port"] for s in lp.listeners(proc))
    assert ports == [7000, 8080, 8081, 8082, 8443, 18680, 18681]


@pytest.mark.parametrize("wanted, held, expected", [
    ("0.0.0.0", "127.0.0.1", True),
    ("127.0.0.1", "0.0.0.0", True),
    ("127.0.0.1", "127.0.0.1", True),
    ("127.0.0.1", "10.0.0.5", False),
    ("0.0.0.0", "::", True),
    ("::", "0.0.0.0", True),
    ("0.0.0.0", "::1", False),
    ("[::1]", "::1", True),
])
def test_conflicts(wanted, held, expected):
    assert lp.conflicts(wanted, held) is expected


def test_find_holders_names_the_process(proc):
    holders = lp.find_holders([{"port": 8080, "address": "0.0.0.0", "label": "load_balancer_listen_port"}], proc)
    assert holders == [{"port": 8080, "address": "0.0.0.0", "label": "load_balancer_listen_port",
                        "held_address": "0.0.0.0", "inode": 1001, "pid": 400, "comm": "python3", "ancestors": [1]}]


def test_find_holders_every_process_of_a_shared_socket(proc):
    holders = lp.find_holders([{"port": 18680}], proc)
    assert [(h["pid"], h["comm"], h["ancestors"]) for h in holders] == [
        (600, "nginx", [590, 1]), (601, "nginx", [600, 590, 1])]


def test_find_holders_unreadable_and_free(proc):
    assert [(h["pid"], h["comm"], h["inode"]) for h in lp.find_holders([{"port": 7000}], proc)] == [(0, "", 1005)]
    assert lp.find_holders([{"port": 7000, "address": "127.0.0.1"}], proc) == []
    assert lp.find_holders([{"port": 9000}], proc) == []  # only an established connection
    assert [h["comm"] for h in lp.find_holders([{"port": 8443, "address": "127.0.0.1"}], proc)] == ["envoy"]


WANTED = [{"port": 8080, "label": "load_balancer_listen_port"}]


def test_port_problems_unrelated_process(proc):
    holders = lp.find_holders([dict(WANTED[0], address="0.0.0.0")], proc)
    assert lp.port_problems(holders, WANTED, host="lb1") == [
        "load_balancer_listen_port: port 8080 on lb1 is already held by another process: python3 (pid 400), "
        "listening on 0.0.0.0:8080. Stop that process or choose another load_balancer_listen_port."]


def test_port_problems_own_nginx_in_host_network(proc):
    wanted = [{"port": 18680, "label": "load_balancer_listen_port"}]
    holders = lp.find_holders(wanted, proc)
    assert lp.port_problems(holders, wanted, own_pids=[600]) == []
    assert len(lp.port_problems(holders, wanted, own_pids=[999])) == 1


def test_port_problems_own_published_port(proc):
    wanted = [{"port": 18681, "address": "127.0.0.1", "label": "load_balancer_stub_status_port"}]
    holders = lp.find_holders(wanted, proc)
    assert holders[0]["comm"] == "docker-proxy"
    assert lp.port_problems(holders, wanted, own_ports=[18681]) == []
    message = lp.port_problems(holders, wanted, own_ports=[18680], host="lb1")
    assert message == ["load_balancer_stub_status_port: port 18681 on lb1 is already held by another process: "
                       "docker-proxy (pid 500), listening on 127.0.0.1:18681. Stop that process or choose another "
                       "load_balancer_stub_status_port."]


def test_port_problems_unknown_process(proc):
    wanted = [{"port": 7000, "label": "load_balancer_listen_port"}]
    message = lp.port_problems(lp.find_holders(wanted, proc), wanted, host="lb1")
    assert "a process this user cannot see (socket inode 1005; run with become: true to name it)" in message[0]
    assert "listening on 10.0.0.5:7000" in message[0]


def test_port_problems_ipv6_holder(proc):
    wanted = [{"port": 8443, "label": "load_balancer_listen_port"}]
    message = lp.port_problems(lp.find_holders(wanted, proc), wanted)
    assert "envoy (pid 700), listening on [::]:8443" in message[0]


def test_no_proc(tmp_path):
    assert lp.listeners(str(tmp_path)) == []
    assert lp.find_holders([{"port": 80}], str(tmp_path)) == []
