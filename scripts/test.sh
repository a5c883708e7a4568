#!/usr/bin/env bash
# The project's whole test suite: `make test` (and so .ci/run) runs this.
#   venv -> engine -> images -> unit tests -> stand-in tests -> lint -> sanity -> Molecule scenarios
# Each stage is timed; a failed stage does not stop the later ones, the exit code says whether all passed.
# STAGES="unit lint" bash scripts/test.sh runs only those stages (after the set-up ones).
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$NUMASERVE_ROOT" || exit 1

declare -a RESULTS=()
passed=0 failed=0
run_stage() {  # run_stage NAME COMMAND...
    local name=$1 start rc
    shift
    # setup always runs; STAGES chooses among the others.
    if [[ $name != setup && -n ${STAGES:-} && " $STAGES " != *" $name "* ]]; then return 0; fi
    printf '\n===== %s =====\n' "$name"
    start=$(date +%s)
    "$@"
    rc=$?
    local secs=$(($(date +%s) - start))
    if [[ $rc -eq 0 ]]; then
        passed=$((passed + 1)); RESULTS+=("PASS  ${secs}s  $name")
    else
        failed=$((failed + 1)); RESULTS+=("FAIL  ${secs}s  $name (exit $rc)")
    fi
    return $rc
}

setup() {
    bash scripts/system-deps.sh || return 1
    bash scripts/venv.sh || return 1
    bash scripts/ensure-engine.sh --podman || return 1
    bash images/build.sh || return 1
}

total_start=$(date +%s)
# Without a virtualenv, an engine and the images nothing else can run: stop there.
run_stage setup setup || { printf '%s\n' "${RESULTS[@]}"; echo "make-test: $passed passed, $failed failed"; exit 1; }

run_stage unit python -m pytest -q -p no:cacheprovider tests/unit
[[ -d tests/bench ]] && run_stage bench-tool python -m pytest -q -p no:cacheprovider tests/bench
[[ -f tests/standin/run.sh ]] && run_stage standin bash tests/standin/run.sh
[[ -f tests/engine/run.sh ]] && run_stage engine bash tests/engine/run.sh
run_stage lint bash scripts/lint.sh
run_stage sanity bash scripts/sanity.sh
[[ -d tests/integration ]] && run_stage integration python -m pytest -q -p no:cacheprovider tests/integration
for scenario in $(bash scripts/molecule-scenarios.sh); do
    run_stage "molecule:$scenario" molecule test -s "$scenario"
done

printf '\n===== summary (%s s in all) =====\n' "$(($(date +%s) - total_start))"
printf '%s\n' "${RESULTS[@]}"
echo "make-test: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
