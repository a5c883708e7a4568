# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which process holds a TCP port: /proc/net/tcp{,6} and /proc/<pid>/fd, as ss -ltnp reads them.

Pure Python (no Ansible imports); the module numaserve.ovms.port_owner runs it on the host, the
load_balancer role refuses a port an unrelated process holds (port_problems()).

/proc/net/tcp (proc(5), net/ipv4/tcp_ipv4.c get_tcp4_sock): ``sl local_address rem_address st ...
uid timeout inode``; addresses are the kernel's __be32 words printed with %08X (so each 32-bit word
reads in host byte order: little-endian on x86/arm64), the port is %04X in host order; state 0A is
TCP_LISTEN. A socket's inode appears as the link target ``socket:[<inode>]`` of /proc/<pid>/fd/<n>.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import sys

__all__ = ["LISTEN", "conflicts", "find_holders", "listeners", "parse_proc_net_tcp", "port_problems",
           "socket_owners"]

LISTEN = "0A"


def _address(hex_address):
    raw = bytes.fromhex(hex_address)
    # Each 32-bit word was printed as a native-endian integer.
    words = struct.unpack("<" + "I" * (len(raw) // 4), raw) if sys.byteorder == "little" else \
        struct.unpack(">" + "I" * (len(raw) // 4), raw)
    packed = b"".join(struct.pack(">I", w) for w in words)
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed)
    address = ipaddress.IPv6Address(packed)
    if address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def parse_proc_net_tcp(text):
    """Sockets of one /proc/net/tcp or tcp6 file: [{address, port, state, inode}]."""
    out = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or ":" not in fields[1]:
            continue
        hex_address, hex_port = fields[1].split(":")
        try:
            out.append({"address": _address(hex_address), "port": int(hex_port, 16), "state": fields[3],
                        "inode": int(fields[9])})
        except (ValueError, OSError):
            continue
    return out


def _wildcard(address):
    return address in ("0.0.0.0", "::", "")


def _family(address):
    return 6 if ":" in address else 4


def conflicts(wanted, held):
    """Whether a listener on ``held`` keeps a bind to ``wanted`` (same port) from succeeding."""
    wanted = (wanted or "0.0.0.0").strip("[]")
    held = held.strip("[]")
    if wanted == held:
        return True
    if held == "::":
        return True  # dual-stack unless IPV6_V6ONLY, which /proc does not show
    if wanted == "::":
        return True
    if _wildcard(held) or _wildcard(wanted):
        return _family(held) == _family(wanted)
    return False


def listeners(proc_root="/proc"):
    """Every listening TCP socket of the host's network namespace (the one of ``proc_root``/self)."""
    out = []
    for name in ("tcp", "tcp6"):
        try:
            with open(os.path.join(proc_root, "net", name)) as handle:
                text = handle.read()
        except (IOError, OSError):
            continue
        out.extend(s for s in parse_proc_net_tcp(text) if s["state"] == LISTEN)
    return out


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _ppid(proc_root, pid):
    for line in (_read(os.path.join(proc_root, str(pid), "status")) or "").splitlines():
        if line.startswith("PPid:"):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return 0
    return 0


def socket_owners(inodes, proc_root="/proc"):
    """inode -> [{pid, comm, ancestors}] for the sockets in ``inodes`` (processes this user can read)."""
    wanted = dict(("socket:[%d]" % inode, inode) for inode in inodes)
    owners = dict((inode, []) for inode in inodes)
    if not wanted:
        return owners
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return owners
    for entry in entries:
        if not entry.isdigit():
            continue
        fd_dir = os.path.join(proc_root, entry, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        found = set()
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target in wanted:
                found.add(wanted[target])
        if not found:
            continue
        pid = int(entry)
        comm = (_read(os.path.join(proc_root, entry, "comm")) or "").strip()
        ancestors, parent, seen = [], _ppid(proc_root, pid), set()
        while parent > 0 and parent not in seen:
            seen.add(parent)
            ancestors.append(parent)
            parent = _ppid(proc_root, parent)
        for inode in sorted(found):
            owners[inode].append({"pid": pid, "comm": comm, "ancestors": ancestors})
    for inode in owners:
        owners[inode].sort(key=lambda owner: owner["pid"])
    return owners


def find_holders(ports, proc_root="/proc"):
    """The listeners that keep each wanted {port, address} from being bound, with their processes.

    Returns [{port, address (wanted), label (wanted), held_address, inode, pid, comm, ancestors}], one
    per holding process (pid 0 and comm "" when no readable process holds the socket).
    """
    sockets = listeners(proc_root)
    hits = []
    for want in ports:
        port, address = int(want["port"]), want.get("address") or "0.0.0.0"
        for sock in sockets:
            if sock["port"] == port and conflicts(address, sock["address"]):
                hits.append((port, address, want.get("label") or "", sock))
    owners = socket_owners(sorted(set(hit[3]["inode"] for hit in hits)), proc_root)
    out = []
    for port, address, label, sock in hits:
        base = {"port": port, "address": address, "label": label, "held_address": sock["address"],
                "inode": sock["inode"]}
        procs = owners.get(sock["inode"]) or [{"pid": 0, "comm": "", "ancestors": []}]
        for proc in procs:
            out.append(dict(base, pid=proc["pid"], comm=proc["comm"], ancestors=proc["ancestors"]))
    return out


def _ours(holder, own_pids, own_ports):
    if holder["port"] in own_ports:
        return True  # published by our container: docker-proxy or the engine holds it for it
    pid = holder["pid"]
    return any(p > 0 and (pid == p or p in holder.get("ancestors", [])) for p in own_pids)


def port_problems(holders, ports, own_pids=(), own_ports=(), host="this host"):
    """One message per wanted port held by an unrelated process.

    ``ports``: [{port, label}], label = the variable that sets the port; ``own_pids``: main pids of the balancer's own
    running containers (a holder in their process tree is ours: nginx in host network mode);
    ``own_ports``: host ports those containers publish (docker-proxy holds them for a bridged one).
    """
    own_pids = [int(p) for p in own_pids or [] if p]
    own_ports = set(int(p) for p in own_ports or [])
    messages = []
    for want in ports:
        port = int(want["port"])
        foreign = [h for h in holders if h["port"] == port and not _ours(h, own_pids, own_ports)]
        if not foreign:
            continue
        named = [h for h in foreign if h["pid"] > 0]
        if named:
            who = ", ".join(sorted(set("%s (pid %d)" % (h["comm"] or "?", h["pid"]) for h in named)))
            who = "another process: " + who
        else:
            who = "a process this user cannot see (socket inode %d; run with become: true to name it)" % foreign[0]["inode"]
        held = foreign[0]["held_address"]
        held = "[%s]" % held if ":" in held else held
        messages.append(
            "%s: port %d on %s is already held by %s, listening on %s:%d. Stop that process or choose another %s."
            % (want["label"], port, host, who, held, port, want["label"]))
    return messages
