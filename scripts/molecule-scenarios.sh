#!/usr/bin/env bash
# The Molecule scenarios, in the order `make test` runs them (extensions/molecule/*/molecule.yml).
# MOLECULE_SCENARIOS="a b" overrides the list. MOLECULE_FAMILY=stack|model_server|load_balancer keeps
# the scenarios of one family: those whose molecule.yml names ../shared/<family>_converge.yml
# (see extensions/molecule/config.yml). A scenario whose molecule.yml has the line
# `# make-test: opt-in` runs only when MOLECULE_SCENARIOS names it (too long for the suite's budget).
set -euo pipefail
cd "$(dirname "$0")/../extensions/molecule"
if [[ -n ${MOLECULE_SCENARIOS:-} ]]; then echo "$MOLECULE_SCENARIOS"; exit 0; fi
for f in */molecule.yml; do
    [[ -e $f ]] || continue
    if [[ -n ${MOLECULE_FAMILY:-} ]] && ! grep -q "shared/${MOLECULE_FAMILY}_converge\.yml" "$f"; then
        continue
    fi
    if grep -q '^# make-test: opt-in' "$f"; then
        continue
    fi
    dirname "$f"
done | sort
