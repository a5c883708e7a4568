#!/usr/bin/env bash
# Lint: yamllint, ansible-lint (production profile), the argument_specs == defaults check, and the
# public-interface check (no part names another role's __ variables or calls tasks_from without an entry point).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$NUMASERVE_ROOT"
yamllint -s .
ansible-lint --offline --nocolor --profile production
python scripts/check_argument_specs.py
python scripts/check_private_vars.py
antsibull-changelog lint
