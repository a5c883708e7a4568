#!/usr/bin/python
# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: load_balancer_files
short_description: Keep the files nginx reads besides nginx.conf - the configuration directory, TLS and the API key
version_added: 1.2.0
description:
  - Makes O(config_dir) a directory (mode C(0755), owned by root), and in it
  - C(tls/) (mode C(0700)) holding C(certificate.pem) (C(0644)) and C(certificate.key) (C(0600)), copied from
    O(tls_certificate) and O(tls_certificate_key) on the same host, or no C(tls/) at all when O(tls_certificate)
    is empty;
  - C(api_key.conf) (mode C(0600)) with the content O(api_key_conf), or no C(api_key.conf) when it is empty.
  - One module run does what the C(file), C(copy) and C(template) tasks of the role did one by one, with the
    same owners and modes. Files are replaced atomically.
  - RV(files_changed) says whether a file nginx reads (the certificate, the key, the API key) was written or
    removed, so the caller knows the running nginx must reload.
author:
  - numaserve.ovms developers (@numaserve)
options:
  config_dir:
    description: The balancer's configuration directory on the host.
    type: path
    required: true
  tls_certificate:
    description: Certificate (PEM) on the host to install as C(tls/certificate.pem); empty - no TLS.
    type: path
    default: ""
  tls_certificate_key:
    description: Private key (PEM) on the host to install as C(tls/certificate.key); required with O(tls_certificate).
    type: path
    default: ""
  api_key_conf:
    description: Content of C(api_key.conf); empty - remove the file. Never shown, not even in a diff.
    type: str
    default: ""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The certificate's content is shown; the private key and the API key file only by their state.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Used by the role M(numaserve.ovms.load_balancer) in its configure phase; nginx.conf itself is rendered and
    validated separately.
"""

EXAMPLES = r"""
- name: Keep the balancer's directory, TLS files and API key
  numaserve.ovms.load_balancer_files:
    config_dir: /etc/numaserve/nginx
    tls_certificate: /etc/ssl/balancer.pem
    tls_certificate_key: /etc/ssl/private/balancer.key
    api_key_conf: "{{ lookup('ansible.builtin.template', 'api_key.conf.j2') }}"
  register: balancer_files
"""

RETURN = r"""
files_changed:
  description: Whether the certificate, the key or the API key file was written or removed (or would be, in check mode).
  returned: always
  type: bool
changes:
  description: The paths that changed (or would), each with what changed, e.g. C(/etc/numaserve/nginx/tls created).
  returned: always
  type: list
  elements: str
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.numaserve.ovms.plugins.module_utils.root_files import read_bytes, root_file_args, write_atomically

CERTIFICATE = "certificate.pem"
KEY = "certificate.key"
API_KEY = "api_key.conf"


class Files:
    """What the module did so far: the changes, the diffs, whether nginx must reload."""

    def __init__(self, module):
        self.module = module
        self.changes = []
        self.diffs = []
        self.files_changed = False

    def note(self, path, what, before, after, nginx_reads=False):
        self.changes.append("%s %s" % (path, what))
        self.diffs.append({"before_header": path, "after_header": path, "before": before, "after": after})
        self.files_changed = self.files_changed or nginx_reads

    def directory(self, path, mode):
        if os.path.lexists(path) and not os.path.isdir(path):
            self.module.fail_json(msg="%s exists and is not a directory; remove it or choose another "
                                      "load_balancer_config_dir" % path)
        created = not os.path.isdir(path)
        if created:
            self.note(path, "created", "state: absent\n", "state: directory\n")
            if not self.module.check_mode:
                os.makedirs(path)
        self._attributes(path, mode, created)

    def _attributes(self, path, mode, created=False):
        """Owner root and MODE; a change is noted unless the path was just created (that note says it all)."""
        if not os.path.exists(path):
            return  # check mode: it would be created with these
        diff = {"before": {}, "after": {}}
        if self.module.set_fs_attributes_if_different(root_file_args(path, mode), False, diff) and not created:
            before = "".join("%s: %s\n" % item for item in sorted(diff["before"].items()))
            after = "".join("%s: %s\n" % item for item in sorted(diff["after"].items()))
            self.note(path, "owner or mode set", before, after)

    def content(self, path, data, mode, show, nginx_reads=True):
        old = read_bytes(path)
        if old != data:
            what = "created" if old is None else "replaced"
            if show:
                before = "" if old is None else old.decode("utf-8", "replace")
                after = data.decode("utf-8", "replace")
            else:
                before = "state: absent\n" if old is None else "(content not shown)\n"
                after = "(new content, not shown)\n"
            self.note(path, what, before, after, nginx_reads)
            if not self.module.check_mode:
                write_atomically(self.module, path, data, mode)
        self._attributes(path, mode, old is None)

    def absent(self, path, nginx_reads=True):
        if not os.path.lexists(path):
            return
        self.note(path, "removed", "state: %s\n" % ("directory" if os.path.isdir(path) else "file"),
                  "state: absent\n", nginx_reads)
        if not self.module.check_mode:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)


def read_source(module, path, variable):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        module.fail_json(msg="%s: %s cannot be read (%s); point %s at a PEM file on this host"
                             % (variable, path, exc.strerror, variable))
    return None  # not reached


def main():
    module = AnsibleModule(
        argument_spec={
            "config_dir": {"type": "path", "required": True},
            "tls_certificate": {"type": "path", "default": ""},
            "tls_certificate_key": {"type": "path", "default": ""},
            "api_key_conf": {"type": "str", "default": "", "no_log": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["tls_certificate"] and not p["tls_certificate_key"]:
        module.fail_json(msg="load_balancer_tls_certificate_key: empty while load_balancer_tls_certificate is set; "
                             "give the certificate's private key")
    # Read the sources before anything changes: an unreadable one fails with the host as it was.
    certificate = key = None
    if p["tls_certificate"]:
        certificate = read_source(module, p["tls_certificate"], "load_balancer_tls_certificate")
        key = read_source(module, p["tls_certificate_key"], "load_balancer_tls_certificate_key")
    files = Files(module)
    config_dir = p["config_dir"]
    files.directory(config_dir, "0755")
    tls_dir = os.path.join(config_dir, "tls")
    if certificate is not None:
        files.directory(tls_dir, "0700")
        files.content(os.path.join(tls_dir, CERTIFICATE), certificate, "0644", show=True)
        files.content(os.path.join(tls_dir, KEY), key, "0600", show=False)
    else:
        files.absent(tls_dir, nginx_reads=False)
    api_key_path = os.path.join(config_dir, API_KEY)
    if p["api_key_conf"]:
        files.content(api_key_path, p["api_key_conf"].encode("utf-8"), "0600", show=False)
    else:
        files.absent(api_key_path)
    result = {"changed": bool(files.changes), "files_changed": files.files_changed, "changes": files.changes}
    if module._diff and files.diffs:
        result["diff"] = files.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
