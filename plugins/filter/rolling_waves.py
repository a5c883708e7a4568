# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters numaserve.ovms.rolling_update_waves, numaserve.ovms.rolling_update_max_unavailable,
numaserve.ovms.rolling_update_wave_estimate, numaserve.ovms.rolling_update_preview and
numaserve.ovms.rolling_update_wave_summary.

Documentation: the .yml files of the same names next to this file. The logic lives in
plugins/module_utils/rolling_waves.py.
"""

from __future__ import annotations

from ansible_collections.numaserve.ovms.plugins.plugin_utils.filter_errors import wrap as _wrap
from ansible_collections.numaserve.ovms.plugins.module_utils import rolling_waves


def waves(steps, serving, max_unavailable, total, canary=1, allow_host_unavailable=False):
    limit = rolling_waves.resolve_max_unavailable(max_unavailable, total)
    return rolling_waves.plan_waves(steps, serving, limit, canary=canary, allow_host_unavailable=allow_host_unavailable)


class FilterModule(object):
    def filters(self):
        return {
            "rolling_update_waves": _wrap("rolling_update_waves", waves),
            "rolling_update_max_unavailable": _wrap("rolling_update_max_unavailable",
                                                    rolling_waves.resolve_max_unavailable),
            "rolling_update_wave_estimate": _wrap("rolling_update_wave_estimate", rolling_waves.estimate),
            "rolling_update_preview": _wrap("rolling_update_preview", rolling_waves.preview_lines),
            "rolling_update_wave_summary": _wrap("rolling_update_wave_summary", rolling_waves.summary),
        }
