# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The container of one model server instance, and how a running container differs from it.

Pure Python (no Ansible imports), used by the filters of plugins/filter/model_server_spec.py and by
the module numaserve.ovms.model_server_inspect:

* addresses(): where an instance is published, probed and advertised;
* instance_spec(): the container specification (command, ports, ulimits, env, labels, mount) of one
  instance, its endpoint and the config hash that decides a replacement;
* observe() and differences(): a container as the engine reports it (``inspect``), and why it is not
  the one the plan wants (the reasons of the probe);
* discovered(): the managed containers of a host, from ``docker``/``podman`` listings;
* parse_proc_status() and proc_problems(): the kernel's word on a container's main process;
* image_checks(): the checks of an image reference.
"""

from __future__ import annotations

import hashlib
import json
import re

from ansible_collections.numaserve.ovms.plugins.module_utils.containers import (
    CONFIG_HASH_LABEL, HOST_LABEL, INSTANCE_LABEL, MANAGED_LABEL, container_labels)
from ansible_collections.numaserve.ovms.plugins.module_utils.cpulist import parse_cpulist
from ansible_collections.numaserve.ovms.plugins.module_utils.model_server_config import ovms_command

__all__ = [
    "LABEL_CONFIG_HASH", "LABEL_HOST", "LABEL_INSTANCE", "LABEL_MANAGED", "RETIRING_SUFFIX", "addresses",
    "config_hash", "differences", "discovered", "endpoint_of", "image_checks", "instance_spec", "observe",
    "parse_proc_status", "proc_problems", "url_host",
]

# The label scheme is defined once, in plugins/module_utils/containers.py.
LABEL_MANAGED = MANAGED_LABEL
LABEL_HOST = HOST_LABEL
LABEL_INSTANCE = INSTANCE_LABEL
LABEL_CONFIG_HASH = CONFIG_HASH_LABEL
# A container whose REST port moves keeps serving under this name until it is drained and removed.
RETIRING_SUFFIX = "-retiring"
CONFIG_HASH_LENGTH = 16
PROC_FIELDS = ("Cpus_allowed_list", "Mems_allowed_list", "Uid", "NoNewPrivs", "CapEff")

# Docker's reference grammar: [registry[:port]/]lowercase/path[:tag][@sha256:digest].
REFERENCE_RE = re.compile(
    r"^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$")
PINNED_RE = re.compile(r"^[^\s]+(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$")
LATEST_RE = re.compile(r":latest(-\w+)?$")


class SpecError(ValueError):
    pass


def url_host(address):
    """An address as it goes into a URL or a port mapping: IPv6 in brackets."""
    address = str(address)
    return "[%s]" % address if ":" in address and not address.startswith("[") else address


def addresses(balancer_local, bind_address, advertise_address):
    """publish (ports are bound on), probe (this host reaches its instances), endpoint (balancers do).

    A balancer on this host (none of its own group, or this host is one): 127.0.0.1 only.
    """
    publish = "127.0.0.1" if balancer_local else str(bind_address)
    probe = "127.0.0.1" if publish in ("0.0.0.0", "::") else publish
    endpoint = "127.0.0.1" if balancer_local else str(advertise_address)
    return {"publish": publish, "probe": probe, "endpoint": endpoint}


def _has_port(port):
    return port not in (None, "", 0, "0")


def single_model(role):
    return len(role.get("model_name") or "") > 0


def model_host_path(role):
    path = str(role.get("model_path") or "")
    return path if path.startswith("/") else "%s/%s" % (role["models_dir"], path)


def mount(role):
    if single_model(role):
        return model_host_path(role) + ":/model:ro"
    return "%s:/workspace:ro" % role["models_dir"]


def all_env(role):
    merged = dict(role.get("env") or {})
    merged.update(role.get("secret_env") or {})
    return dict((str(k), str(v)) for k, v in merged.items())


def ulimits(role):
    """name -> limit (soft = hard); nproc 0 = the engine's default (not set)."""
    limits = {"nofile": int(role["nofile"])}
    if int(role.get("nproc") or 0) > 0:
        limits["nproc"] = int(role["nproc"])
    return limits


def config_hash(components):
    """sha256 of the components as Ansible's ``to_json(sort_keys=true) | hash('sha256')`` made it."""
    return hashlib.sha256(json.dumps(components, sort_keys=True).encode("utf-8")).hexdigest()


def _cpus(instance):
    if instance.get("cpus") not in (None, ""):
        return int(instance["cpus"])
    return len(parse_cpulist(str(instance["cpuset_cpus"])))


def endpoint_of(role, instance, rest_port=None, grpc_port=None):
    """The endpoint dict of an instance (rest_port/grpc_port: where it really listens, default the plan)."""
    rest = instance["rest_port"] if rest_port is None else rest_port
    grpc = instance.get("grpc_port") if grpc_port is None else grpc_port
    return {
        "host": role["host"],
        "instance": instance["name"],
        "container": role["prefix"] + instance["name"],
        "address": addresses(role["balancer_local"], role["bind_address"], role["advertise_address"])["endpoint"],
        "port": int(rest),
        "grpc_port": int(grpc) if _has_port(grpc) else None,
        "nodes": instance.get("nodes"),
        "cpuset_cpus": instance["cpuset_cpus"],
        "cpus": _cpus(instance),
    }


def instance_spec(role, source, instance):
    """Everything about one instance's container.

    role: the role's settings (built in roles/model_server/vars/main.yml);
    source: the result of numaserve.ovms.model_server_source; instance: one entry of ovms_instances.
    Returns {container, spec (the _container_spec of numaserve.ovms._container), labels, config_hash,
    endpoint, url, command, published_ports, mount, cpuset_mems}.
    """
    for key in ("name", "cpuset_cpus", "rest_port"):
        if key not in instance:
            raise SpecError("instance %r has no %s" % (instance.get("name", instance), key))
    where = addresses(role["balancer_local"], role["bind_address"], role["advertise_address"])
    endpoint = endpoint_of(role, instance)
    command = ovms_command(source, dict(role["settings"]), dict(instance, cpus=endpoint["cpus"]))
    publish = url_host(where["publish"])
    ports = ["%s:%s:%s" % (publish, instance["rest_port"], instance["rest_port"])]
    grpc = instance.get("grpc_port")
    if _has_port(grpc):
        ports.append("%s:%s:%s" % (publish, grpc, grpc))
    mems = instance.get("cpuset_mems", "") if role["bind_memory"] else ""
    volume = mount(role)
    env = all_env(role)
    # Everything that shapes the running instance: any change recreates the container (a cpuset
    # updated in place would keep OVMS's thread pools sized for the old CPUs). `source` is the
    # content hash of the model source (OVMS does not watch it: polling is off). nofile and nproc
    # are hashed as given, as the role's Jinja did, so that existing containers keep their hash.
    digest = config_hash({
        "image": role["image"], "command": command, "cpuset_cpus": instance["cpuset_cpus"], "cpuset_mems": mems,
        "ports": ports, "mount": volume, "env": env, "user": role.get("user", ""),
        "nofile": role.get("nofile_raw", role["nofile"]), "nproc": role.get("nproc_raw", role.get("nproc", 0)),
        "source": source.get("content_hash"),
    })
    labels = container_labels(role["host"], instance=instance["name"], config_hash=digest[:CONFIG_HASH_LENGTH])
    spec = {
        "image": role["image"],
        "command": command,
        "pull": role.get("pull", "missing"),
        "cpuset_cpus": str(instance["cpuset_cpus"]),
        "cpuset_mems": str(mems),
        "published_ports": ports,
        "volumes": [volume],
        "env": env,
        "labels": labels,
        "user": role.get("user", ""),
        "security_opts": ["no-new-privileges"],
        "cap_drop": ["ALL"],
        "ulimits": ulimits(role),
        "log_driver": role.get("log_driver", ""),
        "log_options": dict(role.get("log_options") or {}),
        "restart_policy": role.get("restart_policy", "unless-stopped"),
        "stop_timeout": int(role.get("stop_timeout", 30)),
        "network_mode": "",
    }
    return {
        "container": endpoint["container"],
        "spec": spec,
        "labels": labels,
        "config_hash": digest,
        "endpoint": endpoint,
        "url": "http://%s:%s" % (url_host(where["probe"]), instance["rest_port"]),
        "command": command,
        "published_ports": ports,
        "mount": volume,
        "cpuset_mems": str(mems),
        "engine_ulimits": {"docker": engine_ulimits(spec["ulimits"], "docker"),
                           "podman": engine_ulimits(spec["ulimits"], "podman")},
    }


def engine_ulimits(limits, engine):
    """Soft = hard limits in each engine's syntax (docker nofile:N:N, podman nofile=N:N)."""
    sep = ":" if engine == "docker" else "="
    return ["%s%s%d:%d" % (name, sep, value, value) for name, value in sorted(limits.items(), key=_ulimit_order)]


def _ulimit_order(item):
    return (0 if item[0] == "nofile" else 1, item[0])


# ---- a container as the engine reports it ----

def _env_digest(entry):
    return hashlib.sha256(entry.encode("utf-8")).hexdigest()[:16]


def _option(args, flag):
    args = [str(a) for a in args or []]
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _bindings(port_bindings):
    """{container_port: [(host_ip, host_port)]} from HostConfig.PortBindings {"8003/tcp": [{HostIp, HostPort}]}."""
    out = {}
    for key, binds in (port_bindings or {}).items():
        try:
            cport = int(str(key).split("/", maxsplit=1)[0])
        except ValueError:
            continue
        for bind in binds or []:
            try:
                out.setdefault(cport, []).append((bind.get("HostIp") or "", int(bind.get("HostPort"))))
            except (TypeError, ValueError):
                continue
    return out


def _image(name):
    name = str(name or "")
    # Podman stores short names expanded; compare them as Docker shows them.
    for prefix in ("docker.io/library/", "docker.io/", "localhost/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _image_id(value):
    value = str(value or "")
    return value.split(":", 1)[1] if value.startswith("sha256:") else value


def observe(doc):
    """The parts of one ``docker|podman container inspect`` document the model server compares.

    Environment values are kept only as digests of ``NAME=value`` (secrets never leave the module).
    """
    config = doc.get("Config") or {}
    host_config = doc.get("HostConfig") or {}
    state = doc.get("State") or {}
    command = [str(a) for a in (config.get("Cmd") or [])]
    bindings = _bindings(host_config.get("PortBindings"))
    ports = []
    for cport in sorted(bindings):
        for host_ip, host_port in bindings[cport]:
            ports.append({"host_ip": host_ip, "host_port": host_port, "container_port": cport})

    def host_port_of(flag):
        value = _option(command, flag)
        if value is None or not value.isdigit():
            return None
        hits = bindings.get(int(value))
        return hits[0][1] if hits else None

    limits = {}
    for item in host_config.get("Ulimits") or []:
        name = str(item.get("Name", "")).lower()
        name = name[len("rlimit_"):] if name.startswith("rlimit_") else name
        limits[name] = (item.get("Soft"), item.get("Hard"))
    mounts = []
    for item in doc.get("Mounts") or []:
        if item.get("Source") and item.get("Destination"):
            mounts.append("%s:%s:%s" % (item["Source"], item["Destination"], "rw" if item.get("RW") else "ro"))
    restart = host_config.get("RestartPolicy") or {}
    log_config = host_config.get("LogConfig") or {}
    return {
        "name": str(doc.get("Name", "")).lstrip("/"),
        "id": doc.get("Id", ""),
        "running": bool(state.get("Running")),
        "state": state.get("Status", ""),
        "pid": int(state.get("Pid") or 0),
        "labels": dict(config.get("Labels") or {}),
        "image": _image(config.get("Image") or doc.get("ImageName")),
        # As the container was created with it (what a rollback gives back to the engine).
        "image_ref": str(config.get("Image") or doc.get("ImageName") or ""),
        "image_id": _image_id(doc.get("Image")),
        "command": command,
        "cpuset_cpus": str(host_config.get("CpusetCpus") or ""),
        "cpuset_mems": str(host_config.get("CpusetMems") or ""),
        "ports": ports,
        "rest_port": host_port_of("--rest_port"),
        "grpc_port": host_port_of("--port"),
        "mounts": mounts,
        "env": sorted(_env_digest(str(e)) for e in config.get("Env") or []),
        "user": str(config.get("User") or ""),
        "ulimits": limits,
        "restart_policy": str(restart.get("Name") or ""),
        "log_driver": str(log_config.get("Type") or ""),
    }


def _cpuset(text):
    try:
        return parse_cpulist(str(text)) if str(text).strip() else []
    except ValueError:
        return ["?" + str(text)]


def _parse_port(entry):
    ip, host_port, cport = str(entry).rsplit(":", 2)
    return ip.strip("[]"), int(host_port), int(cport)


def differences(wanted, observed, image_id=""):
    """Why the running container ``observed`` (observe()) is not ``wanted`` (instance_spec()).

    Short reasons, in this order: image, command, cpuset, ports, mount, env, user, ulimits, log,
    labels, then ``source`` when only the config hash differs (what the hash covers and inspect does
    not show: the content of the model source). image_id: the local ID of the wanted image ("" when
    unknown, e.g. not pulled yet).
    """
    spec = wanted["spec"]
    reasons = []
    if _image(spec["image"]) != observed["image"] or (image_id and _image_id(image_id) != observed["image_id"]):
        reasons.append("image")
    if [str(a) for a in spec["command"]] != observed["command"]:
        reasons.append("command")
    if (_cpuset(spec["cpuset_cpus"]) != _cpuset(observed["cpuset_cpus"])
            or _cpuset(spec["cpuset_mems"]) != _cpuset(observed["cpuset_mems"])):
        reasons.append("cpuset")
    want_ports = sorted(_parse_port(p) for p in spec["published_ports"])
    have_ports = sorted((p["host_ip"], p["host_port"], p["container_port"]) for p in observed["ports"])
    if want_ports != have_ports:
        reasons.append("ports")
    if sorted(spec["volumes"]) != sorted(observed["mounts"]):
        reasons.append("mount")
    if not set(_env_digest("%s=%s" % kv) for kv in spec["env"].items()) <= set(observed["env"]):
        reasons.append("env")
    if spec["user"] and spec["user"] != observed["user"]:
        reasons.append("user")
    for name, value in spec["ulimits"].items():
        if tuple(observed["ulimits"].get(name, (None, None))) != (value, value):
            reasons.append("ulimits")
            break
    if spec["log_driver"] and spec["log_driver"] != observed["log_driver"]:
        reasons.append("log")
    labels = observed["labels"]
    if any(labels.get(k) != v for k, v in spec["labels"].items() if k != LABEL_CONFIG_HASH):
        reasons.append("labels")
    if not reasons and labels.get(LABEL_CONFIG_HASH) != spec["labels"][LABEL_CONFIG_HASH]:
        reasons.append("source")
    return reasons


def discovered(observed_list, host):
    """Managed model server containers of ``host`` among observed containers (observe() results).

    A balancer on the same host carries the managed and host labels but no instance label.
    """
    found = []
    for item in observed_list:
        labels = item.get("labels") or {}
        if labels.get(LABEL_MANAGED) != "true" or labels.get(LABEL_HOST) != host or LABEL_INSTANCE not in labels:
            continue
        found.append(item)
    return sorted(found, key=lambda c: c["name"])


def _stale_endpoint(item, host, address):
    if not item["running"] or item["rest_port"] is None:
        return {}
    cpus = _cpuset(item["cpuset_cpus"])
    return {"host": host, "instance": item["labels"].get(LABEL_INSTANCE, ""), "container": item["name"],
            "address": address, "port": item["rest_port"], "grpc_port": item["grpc_port"], "nodes": [],
            "cpuset_cpus": item["cpuset_cpus"], "cpus": len(cpus)}


def probe_result(wanted, observed, host, image_id="", address=""):
    """What the model server role would do on a host, read-only.

    wanted: instance_spec() of every planned instance; observed: observe() of the host's managed
    containers (and of the planned names); image_id: the local ID of the wanted image. Returns
    {host, instances: [{instance, container, running, endpoint, image, replace, reasons, port_moved, url}],
    stale: [{container, endpoint, image}]}. ``endpoint`` is where a running container serves now (its real
    ports), {} when it does not run; ``image`` is the image reference the existing container was created
    from ("" when there is none: what a rollback puts back); ``replace`` is true when the run would (re)create the container
    (``reasons`` says why; ``absent`` for one that does not exist); ``port_moved`` is true when its REST
    port moved and the new container can run beside the old one (no host port in common).
    """
    by_name = dict((item["name"], item) for item in observed)
    names = set()
    instances = []
    for want in wanted:
        name = want["container"]
        names.add(name)
        have = by_name.get(name)
        entry = {"instance": want["endpoint"]["instance"], "container": name, "running": False, "endpoint": {},
                 "image": "", "replace": True, "reasons": ["absent"], "port_moved": False, "url": want["url"]}
        if have is not None:
            reasons = differences(want, have, image_id)
            entry.update(running=have["running"], image=have.get("image_ref") or have["image"], replace=bool(reasons),
                         reasons=reasons)
            if have["running"] and have["rest_port"] is not None:
                # Moved: the new container can start beside the old one (no host port in common, e.g. an
                # unchanged gRPC port); otherwise it is replaced in place like any other change.
                held = set(p["host_port"] for p in have["ports"])
                wanted_ports = set(_parse_port(p)[1] for p in want["spec"]["published_ports"])
                entry["port_moved"] = have["rest_port"] != want["endpoint"]["port"] and not held & wanted_ports
                entry["endpoint"] = dict(want["endpoint"], port=have["rest_port"], grpc_port=have["grpc_port"])
                # Where it serves now (the probe's gate polls it there), also when replaced in place.
                entry["url"] = "http://%s:%s" % (want["url"].split("//", 1)[1].rsplit(":", 1)[0], have["rest_port"])
        instances.append(entry)
    address = address or (wanted[0]["endpoint"]["address"] if wanted else "")
    stale = [{"container": item["name"], "endpoint": _stale_endpoint(item, host, address),
              "image": item.get("image_ref") or item["image"]}
             for item in discovered(observed, host) if item["name"] not in names]
    return {"host": host, "instances": instances, "stale": stale}


def probe_gated(probe, ready, checked=None):
    """The probe as published: endpoints only of the instances that serve, without the private ``url``.

    ready: names that passed the gate; every running instance that is not replaced is gated, and so is
    each replaced one named in ``checked`` (one that does not serve now, e.g. the failed instance of a
    halted update, must not be routed to until its replacement passes the gate)."""
    ready = set(ready or [])
    checked = set(checked or [])
    instances = []
    for entry in probe["instances"]:
        entry = dict(entry)
        url = entry.pop("url", None)
        del url
        gated = not entry["replace"] or entry["instance"] in checked
        if entry["running"] and gated and entry["instance"] not in ready:
            entry["endpoint"] = {}
        instances.append(entry)
    return {"host": probe["host"], "instances": instances, "stale": list(probe["stale"])}


# ---- /proc/<pid>/status ----

def parse_proc_status(text):
    """The fields the verify phase reads from /proc/<pid>/status."""
    fields = {}
    for line in str(text).splitlines():
        match = re.match(r"^(\w+):[ \t]*(.*)$", line)
        if match and match.group(1) in PROC_FIELDS:
            fields[match.group(1)] = match.group(2)
    return fields


def proc_problems(status, cpuset_cpus, want_mems):
    """What in a parsed status differs from the plan (cpus, mems: cpu lists; [] = as planned)."""
    problems = []
    if _cpuset(status.get("Cpus_allowed_list", "")) != _cpuset(cpuset_cpus):
        problems.append("cpus")
    mems = want_mems if isinstance(want_mems, list) else _cpuset(want_mems)
    if _cpuset(status.get("Mems_allowed_list", "")) != sorted(int(m) for m in mems):
        problems.append("mems")
    try:
        if min(int(u) for u in status.get("Uid", "0").split()) <= 0:
            problems.append("uid")
    except ValueError:
        problems.append("uid")
    if str(status.get("NoNewPrivs", "1")).strip() != "1":
        problems.append("no_new_privs")
    try:
        if int(status.get("CapEff", "0"), 16) != 0:
            problems.append("capabilities")
    except ValueError:
        problems.append("capabilities")
    return problems


# ---- image references ----

def image_checks(image):
    """{valid: Docker's reference grammar, pinned: a tag or digest other than latest} (regex search, as the
    role's ``is regex`` tests did)."""
    text = image if isinstance(image, str) else ""
    valid = isinstance(image, str) and REFERENCE_RE.search(text) is not None
    pinned = PINNED_RE.search(text) is not None and LATEST_RE.search(text) is None
    return {"valid": valid, "pinned": pinned}
