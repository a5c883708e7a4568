#!/usr/bin/env bash
# ansible-test sanity, offline.
#
# ansible-test wants the collection at .../ansible_collections/numaserve/ovms, so the files git knows
# (tracked, and untracked but not ignored) are copied to such a tree outside the repository (inside
# it, ansible-test would ask git, which ignores the copy). Its virtualenvs need
# a pip bootstrap script that it downloads from a host we cannot reach: scripts/ansible-test/
# get_pip_offline.py is saved in its cache instead (ensurepip + the package index).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$NUMASERVE_ROOT"

cache=${HOME}/.ansible/test/cache
mkdir -p "$cache"
cp scripts/ansible-test/get_pip_offline.py "$cache/get_pip_24_2.py"

tree=${XDG_CACHE_HOME:-$HOME/.cache}/numaserve-ovms/sanity-$(printf '%s' "$NUMASERVE_ROOT" | sha1sum | cut -c1-8)/ansible_collections/numaserve/ovms
rm -rf "$tree"
mkdir -p "$tree"
git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$tree"
cd "$tree"
# Run from the copy; tests/output stays inside it. pip's chatter while ansible-test builds its
# virtualenvs is kept in the log file, not shown.
log=$tree/../sanity.log
rc=0
ansible-test sanity --local --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --color no "$@" >"$log" 2>&1 || rc=$?
grep -v -E '^(WARNING: Location|Looking in|Collecting|  Downloading|  Using cached|Downloading|Installing|Successfully|Requirement already|  Attempting|    Found existing|    Uninstalling|    Successfully|Processing|Using cached pip)|━' "$log" || true
echo "sanity: ansible-test exit code $rc (full log: $log)"
exit $rc
