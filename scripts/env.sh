# shellcheck shell=bash
# Sourced by every script and Makefile target: one place that says where things live.
#   NUMASERVE_ROOT          the collection root (this repository)
#   NUMASERVE_VENV          the project's virtualenv (make venv)
#   ANSIBLE_COLLECTIONS_PATH  a directory holding ansible_collections/numaserve/ovms -> this repository,
#                           so Ansible, ansible-lint and Molecule use the live tree, not an installed copy
NUMASERVE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NUMASERVE_VENV=${NUMASERVE_VENV:-$NUMASERVE_ROOT/.venv}
NUMASERVE_COLLECTIONS=$NUMASERVE_VENV/collections
export NUMASERVE_ROOT NUMASERVE_VENV
export ANSIBLE_COLLECTIONS_PATH=$NUMASERVE_COLLECTIONS
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
export ANSIBLE_PYTHON_INTERPRETER=$NUMASERVE_VENV/bin/python
export PATH=$NUMASERVE_VENV/bin:$PATH
export PYTHONPATH=$NUMASERVE_COLLECTIONS${PYTHONPATH:+:$PYTHONPATH}
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The shared reference material (../shared) is optional; tests that use it skip without it.
export NUMASERVE_SHARED=${NUMASERVE_SHARED:-$(cd "$NUMASERVE_ROOT/.." && pwd)/shared}
