#!/usr/bin/env bash
# The Molecule scenarios, in the order `make test` runs them (extensions/molecule/*/molecule.yml).
# MOLECULE_SCENARIOS="a b" overrides the list.
set -euo pipefail
cd "$(dirname "$0")/../extensions/molecule"
if [[ -n ${MOLECULE_SCENARIOS:-} ]]; then echo "$MOLECULE_SCENARIOS"; exit 0; fi
for f in */molecule.yml; do
    [[ -e $f ]] && dirname "$f"
done | sort
