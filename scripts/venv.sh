#!/usr/bin/env bash
# Create or update the project's virtualenv from requirements-test.txt (reinstalls only when the
# requirements changed) and link the live tree as ansible_collections/numaserve/ovms.
set -euo pipefail
source "$(dirname "$0")/env.sh"
stamp=$NUMASERVE_VENV/.requirements.sha256
want=$(sha256sum "$NUMASERVE_ROOT/requirements-test.txt" | cut -d' ' -f1)
if [[ ! -x $NUMASERVE_VENV/bin/python || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "[venv] installing requirements-test.txt into $NUMASERVE_VENV"
    python3 -m venv "$NUMASERVE_VENV"
    "$NUMASERVE_VENV/bin/pip" install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
    "$NUMASERVE_VENV/bin/pip" install -q -r "$NUMASERVE_ROOT/requirements-test.txt" 2>&1 | grep -v '^WARNING: Location' || true
    "$NUMASERVE_VENV/bin/python" -c 'import ansible, molecule, testinfra, openai' \
        || { echo "[venv] ERROR: the virtualenv is incomplete; see the pip output above" >&2; exit 1; }
    echo "$want" >"$stamp"
else
    echo "[venv] $NUMASERVE_VENV is up to date"
fi
mkdir -p "$NUMASERVE_COLLECTIONS/ansible_collections/numaserve"
ln -sfn "$NUMASERVE_ROOT" "$NUMASERVE_COLLECTIONS/ansible_collections/numaserve/ovms"
