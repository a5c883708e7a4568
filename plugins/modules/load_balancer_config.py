#!/usr/bin/python
# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: load_balancer_config
short_description: Replace the balancer's nginx.conf only with a configuration nginx -t accepts, and record its endpoints
version_added: 1.2.0
description:
  - Writes O(nginx_conf) as C(nginx.conf) in O(config_dir) (mode C(0644), owned by root) when its content differs,
    but only after O(validate) accepted the candidate - the command is run with C(%s) replaced by the candidate's
    path, as the C(validate) option of M(ansible.builtin.template) does. A rejected candidate leaves the live
    C(nginx.conf) as it was and fails the module with the command's C(rc), C(stdout) and C(stderr).
  - Then writes O(endpoints_json) as C(endpoints.json) next to it (mode C(0644)) when it differs, so the record
    of what the live configuration routes to never runs ahead of the configuration.
  - One module run does what a validated C(template) task and a C(copy) task did (two module runs each on an
    unchanged file). Files are replaced atomically.
author:
  - numaserve.ovms developers (@numaserve)
options:
  config_dir:
    description: The balancer's configuration directory on the host (it must exist, except in check mode).
    type: path
    required: true
  nginx_conf:
    description: The rendered C(nginx.conf).
    type: str
    required: true
  validate:
    description: Command that checks a candidate; C(%s) stands for its path. Empty - no check.
    type: str
    default: ""
  endpoints_json:
    description: Content of C(endpoints.json); null - leave that file alone.
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the candidate is not validated (nothing is written or run).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Used by the role M(numaserve.ovms.load_balancer) (configure phase and entry point C(set_endpoint_state)).
"""

EXAMPLES = r"""
- name: Render nginx.conf, validated, and endpoints.json
  numaserve.ovms.load_balancer_config:
    config_dir: /etc/numaserve/nginx
    nginx_conf: "{{ lookup('ansible.builtin.template', 'nginx.conf.j2') }}"
    validate: docker run --rm -v %s:/etc/nginx/nginx.conf:ro nginx:1.27 nginx -t
    endpoints_json: "{{ endpoints | to_nice_json }}\n"
  register: balancer_config
"""

RETURN = r"""
config_changed:
  description: Whether C(nginx.conf) was replaced (or would be, in check mode).
  returned: always
  type: bool
endpoints_changed:
  description: Whether C(endpoints.json) was written (or would be, in check mode).
  returned: always
  type: bool
rc:
  description: Exit status of O(validate) when it rejected the candidate.
  returned: failure
  type: int
stderr:
  description: What O(validate) printed on standard error when it rejected the candidate.
  returned: failure
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.numaserve.ovms.plugins.module_utils.root_files import read_bytes, root_file_args, write_atomically

NGINX_CONF = "nginx.conf"
ENDPOINTS = "endpoints.json"


def diff_of(path, old, new):
    return {"before_header": path, "after_header": path,
            "before": "" if old is None else old.decode("utf-8", "replace"), "after": new.decode("utf-8", "replace")}


def main():
    module = AnsibleModule(
        argument_spec={
            "config_dir": {"type": "path", "required": True},
            "nginx_conf": {"type": "str", "required": True},
            "validate": {"type": "str", "default": ""},
            "endpoints_json": {"type": "str"},
        },
        supports_check_mode=True,
    )
    p = module.params
    # In check mode the directory may be one the configure phase would create: then every file is new.
    if not os.path.isdir(p["config_dir"]) and not module.check_mode:
        module.fail_json(msg="%s is not a directory; the configure phase creates it (load_balancer_config_dir)"
                             % p["config_dir"])
    wanted = [(os.path.join(p["config_dir"], NGINX_CONF), p["nginx_conf"].encode("utf-8"), p["validate"])]
    if p["endpoints_json"] is not None:
        wanted.append((os.path.join(p["config_dir"], ENDPOINTS), p["endpoints_json"].encode("utf-8"), ""))
    changed, diffs = [], []
    for path, data, validate in wanted:
        old = read_bytes(path)
        if old != data:
            changed.append(path)
            diffs.append(diff_of(path, old, data))
            rejected = None if module.check_mode else write_atomically(module, path, data, "0644", validate)
            if rejected:
                rc, out, err = rejected
                module.fail_json(msg="failed to validate", rc=rc, stdout=out, stderr=err,
                                 config_changed=False, endpoints_changed=False)
        if os.path.exists(path) and module.set_fs_attributes_if_different(root_file_args(path, "0644"), False) \
                and path not in changed:
            changed.append(path)
    result = {"changed": bool(changed), "config_changed": wanted[0][0] in changed,
              "endpoints_changed": len(wanted) > 1 and wanted[1][0] in changed}
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
