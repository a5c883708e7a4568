#!/usr/bin/python
# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_server_source
short_description: Read an OVMS model source on the host as OpenVINO Model Server v2026.3 will see it
version_added: 1.1.0
description:
  - Reads the model source of an OVMS container on the host, without changing anything, and says what
    OVMS will do with it, following OVMS's own source at tag v2026.3.
  - Config mode (O(model_path) empty) - reads O(models_dir)/O(config_file) (mounted at O(container_dir),
    default C(/workspace)). Every C(model_config_list[].config.base_path) and C(mediapipe_config_list[])
    entry is resolved as OVMS resolves it (relative to the directory of config.json, an absolute path
    must be inside the mount) and checked on the host; a directory with C(graph.pbtxt) is a graph,
    otherwise a model that needs a version directory (C(1/)).
  - Single-model mode - the host directory O(model_path) (mounted at O(container_dir), default C(/model));
    RV(graph) says whether it holds C(graph.pbtxt), in which case OVMS accepts only C(--model_name),
    C(--model_path) and C(--plugin_config).
  - RV(content_hash) covers config.json and every C(.pbtxt)/C(subconfig.json) by content, and every
    other file of the servables (and of the model folders their graphs name) by path, size and
    modification time.
  - Problems (a missing base_path, a path outside the mount, a model without a version) are returned in
    RV(problems), not raised; a config.json that cannot be read or parsed fails the module, and so does
    a source that is not there (no config.json file, no model directory), with RV(missing) true.
author:
  - numaserve.ovms developers (@numaserve)
options:
  models_dir:
    description: Host directory mounted into the container in config mode.
    type: path
    required: true
  config_file:
    description: config.json, relative to O(models_dir).
    type: str
    default: config.json
  model_path:
    description: Single-model mode - the host directory of the model. Empty - config mode.
    type: path
    default: ""
  model_name:
    description: Single-model mode - the served name.
    type: str
    default: ""
  container_dir:
    description: Where the source is mounted in the container; empty - C(/workspace) (config mode) or C(/model).
    type: str
    default: ""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads files.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Used by the role M(numaserve.ovms.model_server) in its preflight.
seealso:
  - name: OVMS source, src/modelmanager.cpp
    description: ConfigLoader, readAvailableVersions, CheckStartFromGraph, validateUserSettingsInSingleModelCliGraphStart.
    link: https://github.com/openvinotoolkit/model_server/blob/v2026.3/src/modelmanager.cpp
"""

EXAMPLES = r"""
- name: Read the model source
  numaserve.ovms.model_server_source:
    models_dir: /opt/ovms/models
  register: source

- name: Refuse a broken source
  ansible.builtin.assert:
    that: source.problems | length == 0
    fail_msg: "{{ source.problems | join('; ') }}"
"""

RETURN = r"""
mode:
  description: C(config) or C(single).
  returned: always
  type: str
graph:
  description: Single-model mode on a directory that holds graph.pbtxt.
  returned: always
  type: bool
config_path:
  description: Host path of config.json (config mode), else null.
  returned: always
  type: str
container_dir:
  description: Where the source is mounted in the container.
  returned: always
  type: str
servables:
  description: One entry per model or graph OVMS will load.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Served name.
      type: str
    kind:
      description: C(graph) (a MediaPipe graph, e.g. an LLM) or C(model) (a classic model).
      type: str
    base_path:
      description: As written in config.json.
      type: str
    container_path:
      description: The path OVMS opens in the container.
      type: str
    host_path:
      description: The same path on the host (null for cloud storage or a path outside the mount).
      type: str
    llm:
      description: Number of LLM calculator nodes in its graph.
      type: int
    max_num_seqs:
      description: Sequences its LLM nodes batch together (graph.pbtxt, default 256), null without LLM.
      type: int
monitoring:
  description: The C(monitoring) section of config.json, null when absent.
  returned: always
  type: dict
content_hash:
  description: sha256 of the source (see the description).
  returned: always
  type: str
problems:
  description: One sentence per problem, naming the model and the path.
  returned: always
  type: list
  elements: str
missing:
  description: The module failed because the source is not there (no config.json file in config mode, no directory in single-model mode).
  returned: on failure
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.numaserve.ovms.plugins.module_utils.model_server_config import (
    MissingSourceError, SourceError, read_source)


def main():
    module = AnsibleModule(
        argument_spec={
            "models_dir": {"type": "path", "required": True},
            "config_file": {"type": "str", "default": "config.json"},
            "model_path": {"type": "path", "default": ""},
            "model_name": {"type": "str", "default": ""},
            "container_dir": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = read_source(p["models_dir"], p["config_file"], p["model_path"] or "", p["model_name"],
                             p["container_dir"] or None)
    except SourceError as exc:
        where = p["model_path"] or "%s/%s" % (p["models_dir"].rstrip("/"), p["config_file"])
        module.fail_json(msg="%s %s" % (where, exc), missing=isinstance(exc, MissingSourceError))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
