# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the model_server role's re-run fast path: numaserve.ovms.model_server_listing_key,
model_server_rerun_basis, model_server_rerun_unchanged and model_server_grep_files.

Documentation: a .yml file of the same name next to this file. The logic lives in
plugins/module_utils/model_server_rerun.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.numaserve.ovms.plugins.module_utils import model_server_rerun as rerun


def model_server_listing_key(engine, host, names, image, changes=0):
    """The key of one listing of a host's model server containers."""
    try:
        return rerun.listing_key(engine, host, list(names or []), image, changes)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("numaserve.ovms.model_server_listing_key: %s" % exc)


def model_server_rerun_basis(wanted, key):
    """What a probe's verdict depends on: the wanted containers and the listing key."""
    try:
        return rerun.probe_basis(wanted, key)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("numaserve.ovms.model_server_rerun_basis: %s" % exc)


def model_server_rerun_unchanged(probe, basis_then, basis_now, remove_stale=False):
    """True when this run's probe saw that nothing of the host changes, and its basis still holds."""
    if probe is not None and not isinstance(probe, dict):
        raise AnsibleFilterError("numaserve.ovms.model_server_rerun_unchanged: expects model_server_probe, got %s"
                                 % type(probe).__name__)
    return rerun.unchanged(probe, basis_then, basis_now, bool(remove_stale))


def model_server_grep_files(stdout):
    """{path: content} of the files one ``grep -H '' PATH...`` printed."""
    return rerun.grep_files(stdout)


class FilterModule(object):
    def filters(self):
        return {
            "model_server_listing_key": model_server_listing_key,
            "model_server_rerun_basis": model_server_rerun_basis,
            "model_server_rerun_unchanged": model_server_rerun_unchanged,
            "model_server_grep_files": model_server_grep_files,
        }
