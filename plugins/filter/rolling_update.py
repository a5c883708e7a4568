# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters numaserve.ovms.rolling_update_steps, numaserve.ovms.rolling_update_serving and
numaserve.ovms.rolling_update_dead_stale.

Documentation: the .yml files of the same names next to this file. The logic lives in
plugins/module_utils/rolling_plan.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.module_utils import rolling_plan


def _wrap(name, function):
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (rolling_plan.RollingPlanError, TypeError, ValueError, AttributeError) as exc:
            raise AnsibleFilterError("numaserve.ovms.%s: %s" % (name, exc))

    run.__name__ = name
    return run


class FilterModule(object):
    def filters(self):
        return {
            "rolling_update_steps": _wrap("rolling_update_steps", rolling_plan.steps),
            "rolling_update_serving": _wrap("rolling_update_serving", rolling_plan.serving),
            "rolling_update_dead_stale": _wrap("rolling_update_dead_stale", rolling_plan.dead_stale),
        }
