# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Who balances whom in an inventory, and how an endpoint is named.

One definition for every role and playbook: the hosts of ``ovms_load_balancers`` balance every
server; when that group is empty or absent, each server of ``ovms_servers`` balances its own
instances (the OVMS scaling demo's layout).
"""

from __future__ import annotations

SERVERS_GROUP = "ovms_servers"
BALANCERS_GROUP = "ovms_load_balancers"


class FleetError(ValueError):
    pass


def _group(groups, name):
    if not isinstance(groups, dict):
        raise FleetError("expects the inventory's `groups`, got %s" % type(groups).__name__)
    return list(groups.get(name) or [])


def separate_balancers(groups):
    """True when the inventory names balancer hosts of its own (group ovms_load_balancers)."""
    return len(_group(groups, BALANCERS_GROUP)) > 0


def balancer_hosts(groups):
    """The hosts that run a balancer, in inventory order."""
    if separate_balancers(groups):
        return _group(groups, BALANCERS_GROUP)
    return _group(groups, SERVERS_GROUP)


def balancers_of(groups, host):
    """The balancer hosts that route to the instances of server ``host``."""
    if separate_balancers(groups):
        return _group(groups, BALANCERS_GROUP)
    return [host] if host in _group(groups, SERVERS_GROUP) else []


def servers_of(groups, balancer):
    """The servers whose instances balancer host ``balancer`` routes to."""
    if separate_balancers(groups):
        return _group(groups, SERVERS_GROUP) if balancer in _group(groups, BALANCERS_GROUP) else []
    return [balancer] if balancer in _group(groups, SERVERS_GROUP) else []


def host_port(address, port):
    """``address:port``, with IPv6 addresses in brackets."""
    address = str(address)
    if ":" in address and not address.startswith("["):
        address = "[%s]" % address
    return "%s:%s" % (address, int(port))


def endpoint_key(endpoint):
    """The ``address:port`` an endpoint dict (host, instance, address, port, ...) is reached at."""
    if not isinstance(endpoint, dict) or "address" not in endpoint or "port" not in endpoint:
        raise FleetError("expects an endpoint with `address` and `port`, got %r" % (endpoint,))
    return host_port(endpoint["address"], endpoint["port"])
