# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the model_server role's container specification, probe and checks.

numaserve.ovms.model_server_instances, model_server_probe_result, model_server_probe_gated, model_server_proc_status,
model_server_image_checks, model_server_addresses. Documentation: a .yml file of the same name next
to this file. The logic lives in plugins/module_utils/model_server_spec.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.module_utils import model_server_spec as mss


def _fail(name, exc):
    raise AnsibleFilterError("numaserve.ovms.%s: %s" % (name, exc))


def model_server_instances(instances, source, role):
    """instance_spec() of every planned instance, in plan order."""
    if not isinstance(source, dict) or "mode" not in source:
        _fail("model_server_instances", "expects the result of numaserve.ovms.model_server_source as `source`")
    try:
        return [mss.instance_spec(dict(role), dict(source), dict(instance)) for instance in instances or []]
    except (KeyError, TypeError, ValueError) as exc:
        return _fail("model_server_instances", exc)


def model_server_addresses(balancer_local, bind_address, advertise_address):
    """{publish, probe, endpoint} addresses of this host's instances."""
    return mss.addresses(bool(balancer_local), bind_address, advertise_address)


def model_server_probe_result(wanted, observed, host, image_id="", address=""):
    """The probe of a host: {host, instances, stale} from the wanted specs and the observed containers."""
    try:
        return mss.probe_result(list(wanted or []), list(observed or []), host, image_id or "", address or "")
    except (KeyError, TypeError, ValueError) as exc:
        return _fail("model_server_probe_result", exc)


def model_server_probe_gated(probe, ready, checked=None):
    """The published probe: endpoints of gated instances only when they passed (ready: instance names;
    checked: the replaced instances that were gated too)."""
    try:
        return mss.probe_gated(dict(probe), list(ready or []), list(checked or []))
    except (KeyError, TypeError, ValueError) as exc:
        return _fail("model_server_probe_gated", exc)


def model_server_proc_status(text, cpuset_cpus=None, want_mems=None):
    """{fields of /proc/<pid>/status, problems: [] when as planned} (problems only with a plan)."""
    status = mss.parse_proc_status(text)
    problems = [] if cpuset_cpus is None else mss.proc_problems(status, cpuset_cpus, want_mems or [])
    return {"status": status, "problems": problems}


def model_server_image_checks(image):
    """{valid, pinned} of an image reference."""
    return mss.image_checks(image)


class FilterModule(object):
    def filters(self):
        return {
            "model_server_instances": model_server_instances,
            "model_server_addresses": model_server_addresses,
            "model_server_probe_result": model_server_probe_result,
            "model_server_probe_gated": model_server_probe_gated,
            "model_server_proc_status": model_server_proc_status,
            "model_server_image_checks": model_server_image_checks,
        }
