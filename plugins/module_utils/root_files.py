# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Root-owned files written atomically, as the file/copy/template tasks the modules replace wrote them.

Used by the modules numaserve.ovms.load_balancer_files and numaserve.ovms.load_balancer_config (their
unit tests cover it); MODULE is their AnsibleModule.
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["read_bytes", "root_file_args", "write_atomically"]


def root_file_args(path, mode):
    """File arguments for AnsibleModule.set_fs_attributes_if_different: owner and group root, MODE, no SELinux
    context and no attributes."""
    return {"path": path, "mode": mode, "owner": "root", "group": "root", "secontext": [None, None, None],
            "attributes": None}


def read_bytes(path):
    """The content of the file PATH, None when it does not exist (or is not a file)."""
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def write_atomically(module, path, data, mode, validate=""):
    """Replace PATH by a file holding DATA (MODE), written in the module's temporary directory and moved into
    place. VALIDATE (a command, %s for the candidate) runs first: returns (rc, stdout, stderr) of a rejection
    and leaves PATH as it was, else None."""
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir, prefix=os.path.basename(path) + ".")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, int(mode, 8))
    if validate:
        rc, out, err = module.run_command(validate % tmp)
        if rc != 0:
            os.remove(tmp)
            return rc, out, err
    module.atomic_move(tmp, path)
    return None
