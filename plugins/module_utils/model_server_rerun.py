# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the model server role may skip on a run that changes nothing (issue 14: the re-run fast path).

Pure Python (no Ansible imports). Used by roles/model_server through the filters of
plugins/filter/model_server_rerun.py:

* listing_key(): what one listing of a host's containers (module numaserve.ovms.model_server_inspect)
  depends on: engine, host, the names and the image asked about, and the count of container changes
  this run made so far (fact _container_changes of numaserve.ovms._container, bumped by every run or
  remove that changed a container). A listing whose key is still the current key is still true, and is
  shared by the probe, main and verify of the same run instead of being read again.
* probe_basis(): what a probe's verdict depends on: the wanted containers of every planned instance
  and the listing it compared them with.
* unchanged(): whether the probe of this run already saw that the run phase would change nothing on
  the host (every planned instance runs, would not be replaced and passed the readiness gate; no
  stale container to remove) and nothing changed since (same basis): main then skips its run phase
  (docker_container per instance and a second readiness gate) and publishes the same endpoints.
* grep_files(): the files of one ``grep -H '' PATH...`` (preflight reads the host's online CPUs and memory
  nodes from /sys in one command instead of one slurp per file).
"""

from __future__ import annotations

import hashlib
import json

__all__ = ["grep_files", "listing_key", "probe_basis", "unchanged"]


def _digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def listing_key(engine, host, names, image, changes=0):
    """The key of one container listing (a sha256 hex digest)."""
    try:
        changes = int(changes or 0)
    except (TypeError, ValueError):
        raise ValueError("changes must be a count of container changes, got %r" % (changes,))
    return _digest({"engine": str(engine), "host": str(host or ""), "names": [str(n) for n in names or []],
                    "image": str(image or ""), "changes": changes})


def probe_basis(wanted, key):
    """The basis of a probe: its wanted containers (instance_spec() of each planned instance) and the
    key of the listing it compared them with. Empty when either is missing (never equal to a basis)."""
    if not key or wanted is None:
        return ""
    if not isinstance(wanted, list):
        raise ValueError("wanted must be the list of numaserve.ovms.model_server_instances, got %s"
                         % type(wanted).__name__)
    return _digest({"wanted": wanted, "listing": key})


def unchanged(probe, basis_then, basis_now, remove_stale=False):
    """True when the probe (model_server_probe as published, or None) saw that nothing of this host
    changes and its basis is still the current one.

    Nothing changes: at least one instance, every instance running, not replaced and serving (an
    endpoint: it passed the readiness gate), and, when the run removes stale containers
    (remove_stale), none is stale.
    """
    if not probe or not basis_then or basis_then != basis_now:
        return False
    instances = probe.get("instances") or []
    if not instances:
        return False
    for entry in instances:
        if not entry.get("running") or entry.get("replace", True) or not entry.get("endpoint"):
            return False
    if remove_stale and probe.get("stale"):
        return False
    return True


def grep_files(stdout):
    """{path: content} from the output of ``grep -H '' PATH...`` (one ``path:line`` per line of each file that
    could be read; a file that could not be read is absent): several small files (sysfs) in one command."""
    files = {}
    for line in str(stdout or "").splitlines():
        path, sep, text = line.partition(":")
        if not sep or not path.startswith("/"):
            continue
        files[path] = files[path] + "\n" + text if path in files else text
    return files
