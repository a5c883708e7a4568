# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The OVMS v2026.3 command line of the Kubernetes pods.

Pure Python, no Ansible imports (the ``k8s_ovms_args`` filter wraps it). What OVMS accepts, read from
its source at v2026.3:

* config mode: ``--config_path``; single-model mode on a graph directory (``graph.pbtxt``): of the
  model settings only ``--model_name``, ``--model_path`` and ``--plugin_config`` may be given, any other
  (``--target_device``, ``--batch_size``, ...) makes the model manager fail to start
  (``src/modelmanager.cpp`` ``validateUserSettingsInSingleModelCliGraphStart``);
* ``--metrics_enable`` together with a ``monitoring`` section in config.json is an invalid
  configuration (``loadMetricsFromCLI``): the caller says which of the two it uses;
* ``--file_system_poll_wait_seconds 0`` turns off the config.json watcher: the model volume is
  read-only and a change rolls the pods instead (``src/cli_parser.cpp``);
* ``--rest_workers`` is 2..10000 and at most (nofile - 15) / 6 (``src/config.cpp``); every
  completion, streaming or not, holds one worker until it ends.

Engineer note: roles/model_server builds the Docker command in its own vars; when a shared argument
builder lands in plugins/module_utils, this one should be replaced by it.
"""

from __future__ import annotations

import re

__all__ = ["OvmsArgsError", "OWNED_FLAGS", "ovms_args"]

OWNED_FLAGS = ("--config_path", "--model_name", "--model_path", "--rest_port", "--port", "--metrics_enable",
               "--rest_workers", "--file_system_poll_wait_seconds", "--plugin_config")
# Model settings OVMS refuses in single-model mode on a graph directory.
_SINGLE_GRAPH_REFUSED = ("--target_device", "--batch_size", "--shape", "--layout", "--nireq",
                         "--model_version_policy", "--cache_dir", "--stateful", "--idle_sequence_cleanup",
                         "--low_latency_transformation", "--max_sequence_number", "--mean", "--scale",
                         "--color_format", "--precision")


class OvmsArgsError(ValueError):
    """The arguments cannot be built; the message names the variable to change."""


def _flag(item):
    return str(item).split("=", 1)[0]


def ovms_args(models_mount, config_file="config.json", model_name="", model_path="", rest_port=8000,
              grpc_port=0, metrics_enable=True, rest_workers=128, plugin_config=None, extra_args=None,
              option_prefix="k8s_manifests_"):
    """The container ``args`` (a list of strings) for the OVMS image's entrypoint."""
    opt = option_prefix
    for value, what, low, high in ((rest_port, "rest_port", 1, 65535), (grpc_port, "grpc_port", 0, 65535),
                                   (rest_workers, "rest_workers", 2, 10000)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise OvmsArgsError("%s%s must be an integer from %d to %d, got %r" % (opt, what, low, high, value))
    if grpc_port and grpc_port == rest_port:
        raise OvmsArgsError("%sgrpc_port and %srest_port are both %d; give them different ports" % (opt, opt, rest_port))
    if bool(model_name) != bool(model_path):
        raise OvmsArgsError("%smodel_name and %smodel_path go together (single-model mode); set both or neither"
                            % (opt, opt))
    extra = [str(a) for a in (extra_args or [])]
    owned = sorted(set(_flag(a) for a in extra) & set(OWNED_FLAGS))
    if owned:
        raise OvmsArgsError("%sextra_args repeats %s, which the role sets; use the role's variables instead"
                            % (opt, ", ".join(owned)))
    if model_name:
        if not re.match(r"^[^\s]+$", model_name) or str(model_path).startswith("/"):
            raise OvmsArgsError("%smodel_name must have no spaces and %smodel_path be relative to the model volume, "
                                "got %r / %r" % (opt, opt, model_name, model_path))
        refused = sorted(set(_flag(a) for a in extra) & set(_SINGLE_GRAPH_REFUSED))
        if refused:
            raise OvmsArgsError("%sextra_args has %s: in single-model mode on a graph directory OVMS v2026.3 accepts "
                                "only --model_name, --model_path and --plugin_config as model settings (set them in "
                                "graph.pbtxt)" % (opt, ", ".join(refused)))
        args = ["--model_name", model_name, "--model_path", "%s/%s" % (models_mount.rstrip("/"), model_path)]
        if plugin_config:
            import json
            args += ["--plugin_config", json.dumps(plugin_config, sort_keys=True, separators=(",", ":"))]
    else:
        if plugin_config:
            raise OvmsArgsError("%splugin_config applies to single-model mode; in config mode put it in graph.pbtxt "
                                "or config.json" % opt)
        args = ["--config_path", "%s/%s" % (models_mount.rstrip("/"), config_file)]
    args += ["--rest_port", str(rest_port)]
    if grpc_port:
        args += ["--port", str(grpc_port)]
    args += ["--rest_workers", str(rest_workers), "--file_system_poll_wait_seconds", "0"]
    if metrics_enable:
        args.append("--metrics_enable")
    return args + extra
