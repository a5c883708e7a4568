#!/usr/bin/env bash
# Lint: yamllint, ansible-lint (production profile), and the argument_specs == defaults check.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$NUMASERVE_ROOT"
yamllint -s .
ansible-lint --offline --nocolor --profile production
python scripts/check_argument_specs.py
antsibull-changelog lint
