# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What numaserve.ovms.load_balancer computes: its upstream, its CPUs, its container.

Pure Python (no Ansible imports), used through the filters of plugins/filter/load_balancer.py:

* server_hosts(): whose endpoints a balancer collects;
* upstream(): the endpoints of the upstream, each ``address:port`` once, in inventory order;
* cpuset() and worker_processes(): the CPUs of the nginx container and its worker count;
* container_spec(): the engine-neutral spec numaserve.ovms._container runs, validate_command():
  the ``nginx -t`` run in the same image before a configuration goes live;
* records(): what endpoints.json says the balancer routes to; parse_upstream(): the same read back
  from a rendered nginx.conf (a configuration written before endpoints.json existed).
"""

from __future__ import annotations

import re

from ansible_collections.numaserve.ovms.plugins.module_utils import containers, cpulist, fleet

__all__ = ["CONTAINER_CONFIG", "CONTAINER_CONFIG_DIR", "LoadBalancerError", "container_spec", "cpuset",
           "parse_upstream", "published_ports", "records", "server_hosts", "upstream", "validate_command", "worker_processes"]

CONTAINER_CONFIG_DIR = "/etc/numaserve/nginx"
CONTAINER_CONFIG = CONTAINER_CONFIG_DIR + "/nginx.conf"
COMPONENT = "load_balancer"


class LoadBalancerError(ValueError):
    pass


def server_hosts(groups, balancer, servers_group=fleet.SERVERS_GROUP):
    """The hosts whose model_server_endpoints balancer ``balancer`` serves.

    With balancer hosts of their own (group ovms_load_balancers), every host of ``servers_group``;
    otherwise the balancer itself (each server balances its own instances).
    """
    if fleet.separate_balancers(groups):
        return list(groups.get(servers_group) or [])
    return [balancer]


def _int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return default


def _entry(endpoint, host):
    if not isinstance(endpoint, dict):
        raise LoadBalancerError("an endpoint must be a dict (host, instance, address, port, ...), got %r" % (endpoint,))
    address = str(endpoint.get("address", ""))
    hostport = "[%s]" % address if ":" in address else address
    port = endpoint.get("port", "")
    return {
        "key": "%s:%s" % (hostport, port),
        "address": address,
        "port": _int(endpoint.get("port", 0)),
        "host": endpoint.get("host", host),
        "instance": endpoint.get("instance", ""),
        "cpus": _int(endpoint.get("cpus") or 0),
        "endpoint": dict(endpoint),
    }


def _unique(entries):
    out, seen = [], set()
    for entry in entries:
        if entry["key"] not in seen:
            seen.add(entry["key"])
            out.append(entry)
    return out


def upstream(hosts, balancer, own_endpoints, hostvars, endpoints=None):
    """The upstream entries {key, address, port, host, instance, cpus, endpoint}, each key once, in order
    (``endpoint``: the endpoint dict the entry comes from).

    ``endpoints`` (non-empty) replaces the collection: exactly those endpoint dicts. Otherwise the
    model_server_endpoints of ``hosts`` in order; the balancer's own come from ``own_endpoints`` (its
    variables: play vars and extra vars count), the others' from ``hostvars``.
    """
    if endpoints:
        if not isinstance(endpoints, (list, tuple)):
            raise LoadBalancerError("load_balancer_endpoints must be a list of endpoint dicts, got %r" % (endpoints,))
        return _unique(_entry(e, e.get("host", "") if isinstance(e, dict) else "") for e in endpoints)
    entries = []
    for host in hosts:
        if host == balancer:
            host_endpoints = own_endpoints or []
        else:
            try:
                host_endpoints = hostvars[host].get("model_server_endpoints") or []
            except KeyError:
                host_endpoints = []
        entries.extend(_entry(e, host) for e in host_endpoints)
    return _unique(entries)


def records(entries, down=()):
    """What the balancer routes to, as written to endpoints.json: each endpoint dict with its key and state."""
    down = set(down or [])
    return [dict(entry.get("endpoint") or {}, key=entry["key"], down=entry["key"] in down) for entry in entries]


def cpuset(setting, free_cpus=""):
    """CPUs of the nginx container: ``auto`` = the CPUs the plan leaves free (maybe none), else as set."""
    setting = "" if setting is None else str(setting)
    if setting == "auto":
        return "" if free_cpus is None else str(free_cpus)
    return setting


def worker_processes(setting, cpus):
    """nginx worker_processes: ``auto`` with a pinned container = one per CPU of its cpuset."""
    if str(setting) == "auto" and cpus:
        return len(cpulist.parse_cpulist(cpus))
    return setting


def published_ports(network_mode, listen_address, listen_port, stub_status_port=0):
    """Ports a bridged nginx publishes (host network: none)."""
    if network_mode == "host":
        return []
    ports = ["%s:%s:%s" % (listen_address, listen_port, listen_port)]
    if _int(stub_status_port) > 0:
        ports.append("127.0.0.1:%s:%s" % (stub_status_port, stub_status_port))
    return ports


def container_spec(settings, host):
    """The engine-neutral container spec of the balancer of ``host`` (numaserve.ovms._container run).

    ``settings``: image, network_mode, config_dir, listen_address, listen_port, stub_status_port,
    cpuset (the resolved one), ulimit_nofile, ulimit_nproc (0: the engine's default).
    """
    try:
        spec = {
            "image": settings["image"],
            "command": ["nginx", "-c", CONTAINER_CONFIG, "-g", "daemon off;"],
            "pull": "missing",
            "network_mode": settings["network_mode"],
            "cpuset_cpus": settings.get("cpuset") or "",
            "published_ports": published_ports(settings["network_mode"], settings["listen_address"],
                                               settings["listen_port"], settings.get("stub_status_port", 0)),
            "volumes": ["%s:%s:ro" % (settings["config_dir"], CONTAINER_CONFIG_DIR)],
            "labels": containers.container_labels(host, component=COMPONENT),
            "restart_policy": "unless-stopped",
        }
    except KeyError as exc:
        raise LoadBalancerError("container_spec needs the setting %s" % exc)
    ulimits = {}
    for name in ("nofile", "nproc"):
        if _int(settings.get("ulimit_" + name, 0)) > 0:
            ulimits[name] = _int(settings["ulimit_" + name])
    if ulimits:
        spec["ulimits"] = ulimits
    return spec


def validate_command(spec, engine):
    """The ``validate`` command of the nginx.conf template: ``nginx -t`` in the balancer's image.

    Same network mode, configuration directory and limits as the container; ``%s`` is the candidate.
    """
    argv = [engine, "run", "--rm", "--network", spec["network_mode"], "--entrypoint", "nginx"]
    for name, value in (spec.get("ulimits") or {}).items():
        argv += ["--ulimit", "%s=%d:%d" % (name, value, value)]
    for volume in spec["volumes"]:
        argv += ["-v", volume]
    argv += ["-v", "%s:/etc/numaserve/candidate/nginx.conf:ro", spec["image"],
             "-q", "-t", "-c", "/etc/numaserve/candidate/nginx.conf"]
    return " ".join(argv)


_COMMENT_RE = re.compile(r"^\s*# (?P<host>[^/\s]*)/(?P<instance>\S*)(?: \((?P<cpus>\d+) CPUs\))?\s*$")
_SERVER_RE = re.compile(r"^\s*server (?P<key>\S+)(?P<params>[^;]*);\s*$")


def parse_upstream(text):
    """The endpoints a nginx.conf rendered by the role routes to, in order.

    Each {key, address, port, host, instance, cpus, down}, read from the upstream's ``server`` lines and
    the comment the role writes above each (``# host/instance (N CPUs)``).
    """
    out, comment = [], None
    for line in (text or "").splitlines():
        match = _COMMENT_RE.match(line)
        if match:
            comment = match
            continue
        match = _SERVER_RE.match(line)
        if match:
            key = match.group("key")
            address, _sep, port = key.rpartition(":")
            address = address[1:-1] if address.startswith("[") and address.endswith("]") else address
            out.append({
                "key": key, "address": address, "port": _int(port),
                "host": comment.group("host") if comment else "",
                "instance": comment.group("instance") if comment else "",
                "cpus": _int(comment.group("cpus")) if comment and comment.group("cpus") else 0,
                "down": " down" in (" " + match.group("params")),
            })
        comment = None
    return out
