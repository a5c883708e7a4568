# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters numaserve.ovms.rolling_update_steps, numaserve.ovms.rolling_update_serving and
numaserve.ovms.rolling_update_dead_stale.

Documentation: the .yml files of the same names next to this file. The logic lives in
plugins/module_utils/rolling_plan.py.
"""

from __future__ import annotations

from ansible_collections.numaserve.ovms.plugins.module_utils import rolling_plan
from ansible_collections.numaserve.ovms.plugins.plugin_utils.filter_errors import wrap


_ERRORS = (rolling_plan.RollingPlanError, TypeError, ValueError, AttributeError)


def _wrap(name, function):
    return wrap(name, function, _ERRORS)


class FilterModule(object):
    def filters(self):
        return {
            "rolling_update_steps": _wrap("rolling_update_steps", rolling_plan.steps),
            "rolling_update_serving": _wrap("rolling_update_serving", rolling_plan.serving),
            "rolling_update_dead_stale": _wrap("rolling_update_dead_stale", rolling_plan.dead_stale),
        }
