# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One wrapper for the collection's filters: the function's errors become AnsibleFilterError naming the filter."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

ERRORS = (TypeError, ValueError, KeyError, AttributeError)


def wrap(name, function, errors=ERRORS):
    """``function`` as the filter numaserve.ovms.<name>: ``errors`` (ValueError and its kin by default)
    raise AnsibleFilterError("numaserve.ovms.<name>: <message>")."""
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except errors as exc:
            raise AnsibleFilterError("numaserve.ovms.%s: %s" % (name, exc))

    run.__name__ = name
    return run
