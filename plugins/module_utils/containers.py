# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The container layer of numaserve.ovms: label scheme, engine parameters, list/inspect parsing.

Pure Python (no Ansible imports). Used by the internal role numaserve.ovms._container through the
filters of plugins/filter/containers.py and the module numaserve.ovms.container_list:

* container_labels(): the one definition of the io.numaserve.* labels;
* label_filters(): those labels as ``--filter label=...`` values;
* engine_params(): the engine-neutral container spec spelled as the parameters of
  community.docker.docker_container or containers.podman.podman_container;
* INSPECT_FORMATS / parse_inspect(): what the role reads of ``<engine> inspect`` (never the
  environment, which may hold secrets) and the common schema it is turned into;
* list_containers(): ``<engine> ps`` by label then one ``<engine> container inspect`` of the ids, parsed
  (the logic of the module numaserve.ovms.container_list);
* engine_error(): the one-line message when the engine does not answer.
"""

from __future__ import annotations

import json

__all__ = [
    "COMPONENT_LABEL", "CONFIG_HASH_LABEL", "ENGINES", "HOST_LABEL", "INSPECT_FORMATS", "INSTANCE_LABEL",
    "MANAGED_LABEL", "SPEC_KEYS", "ContainerError", "container_labels", "engine_error", "engine_params",
    "label_filters", "list_containers", "list_inspect_argv", "list_ps_argv", "missing_only", "parse_inspect",
]

ENGINES = ("docker", "podman")

MANAGED_LABEL = "io.numaserve.managed"
HOST_LABEL = "io.numaserve.host"
INSTANCE_LABEL = "io.numaserve.instance"
COMPONENT_LABEL = "io.numaserve.component"
CONFIG_HASH_LABEL = "io.numaserve.config-hash"

# Keys of the engine-neutral spec (team contract) and how each engine's module spells them.
SPEC_KEYS = (
    "image", "command", "pull", "cpuset_cpus", "cpuset_mems", "published_ports", "volumes", "env", "labels",
    "user", "security_opts", "cap_drop", "ulimits", "log_driver", "log_options", "restart_policy",
    "stop_timeout", "network_mode",
)
_DOCKER_NAMES = {key: key for key in SPEC_KEYS}
_PODMAN_NAMES = dict(_DOCKER_NAMES, published_ports="publish", volumes="volume", labels="label",
                     security_opts="security_opt", ulimits="ulimit", log_options="log_opt",
                     network_mode="network")
PULL_CHOICES = ("always", "missing", "never")

# One JSON object per container; only what the common schema needs (no Config.Env: secrets).
# Docker's inspect JSON spells the id "Id", Podman's "ID".
_INSPECT_FORMAT = (
    '{"name":{{json .Name}},"id":{{json .%s}},"state":{{json .State.Status}},'
    '"running":{{json .State.Running}},"pid":{{json .State.Pid}},'
    '"labels":{{json .Config.Labels}},"ports":{{json .NetworkSettings.Ports}},'
    '"image":{{json .Config.Image}},"cpuset_cpus":{{json .HostConfig.CpusetCpus}},'
    '"cpuset_mems":{{json .HostConfig.CpusetMems}}}'
)
INSPECT_FORMATS = {"docker": _INSPECT_FORMAT % "Id", "podman": _INSPECT_FORMAT % "ID"}


class ContainerError(ValueError):
    pass


def _check_engine(engine):
    if engine not in ENGINES:
        raise ContainerError("engine %r is not supported; use docker or podman" % (engine,))


def container_labels(host, instance=None, component=None, config_hash=None):
    """The labels of a managed container of ``host``; None leaves a label out."""
    if not host:
        raise ContainerError("container_labels needs the inventory host name")
    labels = {MANAGED_LABEL: "true", HOST_LABEL: str(host)}
    if instance is not None:
        labels[INSTANCE_LABEL] = str(instance)
    if component is not None:
        labels[COMPONENT_LABEL] = str(component)
    if config_hash is not None:
        labels[CONFIG_HASH_LABEL] = str(config_hash)
    return labels


def label_filters(labels):
    """``label=...`` filter values of ``<engine> ps``: name=value, or the name alone for a None value."""
    if not isinstance(labels, dict):
        raise ContainerError("labels must be a dict label -> value (null: label present), got %r" % (labels,))
    return ["label=%s" % name if value is None else "label=%s=%s" % (name, value)
            for name, value in labels.items()]


def _ulimits(ulimits, engine):
    if not isinstance(ulimits, dict):
        raise ContainerError("ulimits must be a dict name -> int, got %r" % (ulimits,))
    separator = ":" if engine == "docker" else "="
    out = []
    for name, value in ulimits.items():
        try:
            limit = int(value)
        except (TypeError, ValueError):
            raise ContainerError("ulimit %s: %r is not an integer" % (name, value))
        if limit > 0:
            out.append("%s%s%d:%d" % (name, separator, limit, limit))
    return out


def _log_options(options, engine):
    if not isinstance(options, dict):
        raise ContainerError("log_options must be a dict, got %r" % (options,))
    if engine == "docker":
        return dict((str(k), str(v)) for k, v in options.items())
    # containers.podman.podman_container: log_opt suboptions max_size, path, tag.
    return dict((str(k).replace("-", "_"), str(v)) for k, v in options.items())


def engine_params(spec, engine):
    """The module parameters of ``engine`` for an engine-neutral container spec.

    Keys that are absent or None, strings that are empty and an empty log_options are left out (the
    engine's default applies); lists are passed as given (an empty published_ports stays empty).
    """
    _check_engine(engine)
    if not isinstance(spec, dict):
        raise ContainerError("the container spec must be a dict, got %r" % (spec,))
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ContainerError("unknown container spec key(s) %s; known: %s" % (", ".join(unknown), ", ".join(SPEC_KEYS)))
    if not spec.get("image"):
        raise ContainerError("the container spec has no image")
    names = _DOCKER_NAMES if engine == "docker" else _PODMAN_NAMES
    params = {}
    for key in SPEC_KEYS:
        value = spec.get(key)
        if value is None or (isinstance(value, str) and value == ""):
            continue
        if key == "pull" and value not in PULL_CHOICES:
            raise ContainerError("pull: %r is not one of %s" % (value, ", ".join(PULL_CHOICES)))
        elif key == "ulimits":
            value = _ulimits(value, engine)
        elif key == "log_options":
            if not value:
                continue
            value = _log_options(value, engine)
        elif key in ("env", "labels"):
            if not isinstance(value, dict):
                raise ContainerError("%s must be a dict str -> str, got %r" % (key, value))
            value = dict((str(k), str(v)) for k, v in value.items())
        elif key == "stop_timeout":
            value = int(value)
        elif key in ("command", "published_ports", "volumes", "security_opts", "cap_drop"):
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise ContainerError("%s must be a list, got %r" % (key, value))
            value = [str(item) for item in value]
        elif key == "network_mode" and engine == "podman":
            value = [str(value)]
        else:
            value = str(value)
        params[names[key]] = value
    return params


def _ports(ports):
    out = []
    for container_port, bindings in sorted((ports or {}).items()):
        number = str(container_port).split("/", maxsplit=1)[0]
        if not number.isdigit():
            continue
        for binding in bindings or []:
            host_port = str(binding.get("HostPort") or "")
            if not host_port.isdigit():
                continue
            out.append({"host_ip": binding.get("HostIp") or "", "host_port": int(host_port),
                        "container_port": int(number)})
    return out


def _record(raw):
    state = str(raw.get("state") or "")
    running = bool(raw.get("running")) or state == "running"
    try:
        pid = int(raw.get("pid") or 0)
    except (TypeError, ValueError):
        pid = 0
    return {
        "name": str(raw.get("name") or "").lstrip("/"),
        "id": str(raw.get("id") or ""),
        "running": running,
        "state": state,
        "labels": dict(raw.get("labels") or {}),
        "ports": _ports(raw.get("ports")),
        "pid": pid if running else 0,
        "image": str(raw.get("image") or ""),
        "cpuset_cpus": str(raw.get("cpuset_cpus") or ""),
        "cpuset_mems": str(raw.get("cpuset_mems") or ""),
    }


def parse_inspect(stdout, names=None):
    """Containers of ``<engine> inspect --format INSPECT_FORMATS[engine]`` output, in the common schema.

    ``names`` (optional) keeps only those containers, in that order; others are dropped.
    """
    records = []
    for line in (stdout or "").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            raise ContainerError("unexpected inspect output line %r" % line[:200])
        if isinstance(raw, dict):
            records.append(_record(raw))
    if names is None:
        return records
    by_name = dict((r["name"], r) for r in records)
    return [by_name[str(n)] for n in names if str(n) in by_name]


def missing_only(stderr):
    """True when every error line of ``<engine> inspect`` says a container does not exist."""
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    return all("no such" in line.lower() for line in lines)


# What ansible.builtin.command says when the engine's executable is missing (its message when the
# executable cannot be run, and the OS error), as opposed to an engine that is installed but does not answer.
NOT_INSTALLED_SIGNS = ("Error executing command", "No such file or directory: b'", "command not found")


def engine_error(engine, host, said, variable=None):
    """The message when ``engine`` does not answer on ``host``: what it said and the fix."""
    variable = variable or "the container engine"
    said = (said or "").strip()
    if any(sign in said for sign in NOT_INSTALLED_SIGNS):
        package = "docker.io" if engine == "docker" else "podman"
        return ("%s: %s is not installed on %s (%s); install it (Debian: apt-get install %s) or set %s to the "
                "engine this host has." % (variable, engine, host, said, package, variable))
    service = "docker" if engine == "docker" else "podman.socket"
    return ("%s: %s does not answer on %s (%s). Start the engine (systemctl start %s), run the play with "
            "become: true, or set %s to the engine this host has."
            % (variable, engine, host, said, service, variable))


def list_ps_argv(engine, labels):
    """argv of ``<engine> ps --all`` printing the full ids of the containers (running or not) carrying ``labels``."""
    _check_engine(engine)
    argv = [engine, "ps", "--all", "--no-trunc", "--quiet"]
    for value in label_filters(labels):
        argv += ["--filter", value]
    return argv


def list_inspect_argv(engine, ids):
    """argv of ``<engine> container inspect`` printing one JSON line per container (never its environment)."""
    _check_engine(engine)
    return [engine, "container", "inspect", "--format", INSPECT_FORMATS[engine]] + [str(i) for i in ids]


def list_containers(run, engine, labels, host=None, variable=None):
    """The containers (running or not) carrying ``labels``, in the common schema, in the order ``<engine> ps`` lists them.

    ``run(argv)`` runs a command and returns ``(rc, stdout, stderr)``. One ``ps`` call, then one ``inspect`` call
    of the ids it printed (none when it printed none). Raises ContainerError with engine_error()'s message when the
    engine does not answer; a container removed between the two calls is left out.
    """
    host = host or "this host"
    rc, out, err = run(list_ps_argv(engine, labels))
    if rc != 0:
        raise ContainerError(engine_error(engine, host, err or out or "%s ps exited %s" % (engine, rc), variable))
    ids = []
    for container_id in (out or "").split():
        if container_id not in ids:
            ids.append(container_id)
    if not ids:
        return []
    rc, out, err = run(list_inspect_argv(engine, ids))
    if rc != 0 and not missing_only(err):
        raise ContainerError(engine_error(engine, host, err or "%s container inspect exited %s" % (engine, rc),
                                          variable))
    return parse_inspect(out)
