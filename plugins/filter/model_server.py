# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters numaserve.ovms.model_server_command and numaserve.ovms.model_server_problems.

Documentation: model_server_command.yml and model_server_problems.yml next to this file. The logic
lives in plugins/module_utils/model_server_config.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.module_utils.model_server_config import check_settings, ovms_command


def _check_source(source, name):
    if not isinstance(source, dict) or "mode" not in source:
        raise AnsibleFilterError("numaserve.ovms.%s expects the result of numaserve.ovms.model_server_source, got %r"
                                 % (name, type(source).__name__))


def model_server_command(source, settings, instance):
    """OVMS arguments of one instance: source (model_server_source result), role settings, plan entry."""
    _check_source(source, "model_server_command")
    try:
        return ovms_command(source, dict(settings), dict(instance))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("numaserve.ovms.model_server_command: %s" % exc)


def model_server_problems(source, settings):
    """Problems of the role's settings with this source (one sentence each, naming the variable)."""
    _check_source(source, "model_server_problems")
    return check_settings(source, dict(settings))


class FilterModule(object):
    def filters(self):
        return {
            "model_server_command": model_server_command,
            "model_server_problems": model_server_problems,
        }
