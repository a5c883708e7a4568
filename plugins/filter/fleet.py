# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters numaserve.ovms.balancer_hosts, numaserve.ovms.balancers_of, numaserve.ovms.servers_of and
numaserve.ovms.endpoint_key.

Documentation: the .yml files of the same names next to this file. The logic lives in
plugins/module_utils/fleet.py.
"""

from __future__ import annotations

from ansible_collections.numaserve.ovms.plugins.module_utils import fleet
from ansible_collections.numaserve.ovms.plugins.plugin_utils.filter_errors import wrap


_ERRORS = (fleet.FleetError, TypeError, ValueError)


def _wrap(name, function):
    return wrap(name, function, _ERRORS)


class FilterModule(object):
    def filters(self):
        return {
            "balancer_hosts": _wrap("balancer_hosts", fleet.balancer_hosts),
            "balancers_of": _wrap("balancers_of", fleet.balancers_of),
            "servers_of": _wrap("servers_of", fleet.servers_of),
            "endpoint_key": _wrap("endpoint_key", fleet.endpoint_key),
        }
