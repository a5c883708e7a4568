# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the container layer: numaserve.ovms.container_labels (public) and the helpers of the
internal role numaserve.ovms._container (container_engine_params, container_label_filters, container_ps_argv,
container_inspect_argv, container_parse_inspect, container_engine_error).

Documentation: the .yml files of the same names next to this file. The logic lives in
plugins/module_utils/containers.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.module_utils import containers


def _wrap(name, function):
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (containers.ContainerError, TypeError, ValueError) as exc:
            raise AnsibleFilterError("numaserve.ovms.%s: %s" % (name, exc))

    run.__name__ = name
    return run


def container_labels(host, instance=None, component=None, config_hash=None):
    """The io.numaserve.* labels of a managed container of ``host``."""
    return containers.container_labels(host, instance=instance, component=component, config_hash=config_hash)


def container_engine_params(spec, engine):
    """The engine-neutral spec spelled as the parameters of the engine's module."""
    return containers.engine_params(dict(spec), engine)


def container_label_filters(labels):
    """Label filters (``name=value``, or ``name`` for a null value) of ``labels``."""
    return [value[len("label="):] for value in containers.label_filters(dict(labels))]


def container_ps_argv(labels, engine):
    """argv of ``<engine> ps --all`` listing the names of the containers carrying ``labels``."""
    if engine not in containers.ENGINES:
        raise containers.ContainerError("engine %r is not supported; use docker or podman" % (engine,))
    argv = [engine, "ps", "--all", "--no-trunc"]
    for value in containers.label_filters(dict(labels)):
        argv += ["--filter", value]
    return argv + ["--format", "{{.Names}}"]


def container_inspect_argv(names, engine):
    """argv of ``<engine> inspect`` printing one JSON line per container (never its environment)."""
    if engine not in containers.ENGINES:
        raise containers.ContainerError("engine %r is not supported; use docker or podman" % (engine,))
    return [engine, "inspect", "--type", "container", "--format", containers.INSPECT_FORMATS[engine]] + [str(n) for n in names]


def container_parse_inspect(result, names=None, host=None, variable=None):
    """The containers of a registered ``<engine> inspect`` result, in the common schema.

    Fails (naming the engine, ``host`` and the fix) when the engine reported anything but missing
    containers.
    """
    if not isinstance(result, dict):
        raise containers.ContainerError("expects a registered command result, got %r" % (result,))
    if result.get("skipped") or "rc" not in result:
        return []
    if result["rc"] != 0 and not containers.missing_only(result.get("stderr", "")):
        cmd = result.get("cmd") or ["the container engine"]
        raise containers.ContainerError(containers.engine_error(
            cmd[0], host or "this host", result.get("stderr") or result.get("msg") or "", variable))
    return containers.parse_inspect(result.get("stdout", ""), names)


def container_engine_error(said, engine, host, variable=None):
    """The one-line message when the engine does not answer."""
    return containers.engine_error(engine, host, said, variable)


class FilterModule(object):
    def filters(self):
        return {
            "container_labels": _wrap("container_labels", container_labels),
            "container_engine_params": _wrap("container_engine_params", container_engine_params),
            "container_label_filters": _wrap("container_label_filters", container_label_filters),
            "container_ps_argv": _wrap("container_ps_argv", container_ps_argv),
            "container_inspect_argv": _wrap("container_inspect_argv", container_inspect_argv),
            "container_parse_inspect": _wrap("container_parse_inspect", container_parse_inspect),
            "container_engine_error": _wrap("container_engine_error", container_engine_error),
        }
