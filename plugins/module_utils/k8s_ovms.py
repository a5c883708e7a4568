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

The arguments themselves are built by roles/model_server's helper (module_utils/model_server_config
``ovms_command``), so the Docker and Kubernetes paths give OVMS the same command line; this module
adds the checks that need no model source (the models live on the workers, not on the controller)
and names the k8s_manifests_* variables in its messages.
"""

from __future__ import annotations

import re

from ansible_collections.numaserve.ovms.plugins.module_utils.model_server_config import (
    OWNED_FLAGS,
    SINGLE_MODEL_SETTINGS,
    ovms_command,
)

__all__ = ["OvmsArgsError", "OWNED_FLAGS", "ovms_args"]

# Model settings OVMS refuses in single-model mode on a graph directory.
_SINGLE_GRAPH_REFUSED = tuple("--" + name for name in SINGLE_MODEL_SETTINGS)


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
        source = {"mode": "single", "graph": True, "container_dir": "%s/%s" % (models_mount.rstrip("/"), model_path)}
    else:
        if plugin_config:
            raise OvmsArgsError("%splugin_config applies to single-model mode; in config mode put it in graph.pbtxt "
                                "or config.json" % opt)
        source = {"mode": "config", "container_dir": models_mount}
    # No monitoring section is known here: metrics_enable says whether config.json has one (then False).
    settings = {"model_name": model_name, "config_file": config_file, "plugin_config": plugin_config,
                "metrics_enable": metrics_enable, "rest_workers": rest_workers, "extra_args": extra}
    return ovms_command(source, settings, {"rest_port": rest_port, "grpc_port": grpc_port or None})
