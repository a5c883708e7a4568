# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters numaserve.ovms.rolling_update_rollback_steps, numaserve.ovms.rolling_update_canary_problems,
numaserve.ovms.rolling_update_halt_line and numaserve.ovms.rolling_update_timings.

Documentation: the .yml files of the same names next to this file. The logic lives in
plugins/module_utils/rolling_halt.py.
"""

from __future__ import annotations

from ansible_collections.numaserve.ovms.plugins.plugin_utils.filter_errors import wrap as _wrap
from ansible_collections.numaserve.ovms.plugins.module_utils import rolling_halt


class FilterModule(object):
    def filters(self):
        return {
            "rolling_update_rollback_steps": _wrap("rolling_update_rollback_steps", rolling_halt.rollback_steps),
            "rolling_update_canary_problems": _wrap("rolling_update_canary_problems", rolling_halt.canary_problems),
            "rolling_update_halt_line": _wrap("rolling_update_halt_line", rolling_halt.halt_line),
            "rolling_update_timings": _wrap("rolling_update_timings", rolling_halt.timings),
        }
