#!/usr/bin/env bash
# The OVMS stand-in's tests (`make test` stage "standin"):
#   1. build/refresh the local images (bash images/build.sh: only what changed is rebuilt);
#   2. run tests/standin/ with pytest INSIDE a localhost/numaserve/ovms-standin-tests container
#      (the stand-in as installed in the real image, the openai/httpx/pytest of requirements.txt);
#   3. run tests/standin/test_image.py on the host: the real image under Docker (UID 5000, REST port).
# Exits non-zero when anything failed. Extra arguments go to the in-container pytest (e.g. -k sse).
# `bash tests/standin/run.sh --lock` re-pins images/ovms-standin-tests/requirements.txt with hashes.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=/dev/null
source scripts/env.sh
IMAGE=localhost/numaserve/ovms-standin-tests:local
REQS=images/ovms-standin-tests/requirements.txt

if [[ ${1:-} == --lock ]]; then  # same versions as requirements-test.txt, wheels for CPython 3.11 x86_64
    dir=$(mktemp -d)
    pins=$(grep -E '^(openai|httpx|pytest)==' requirements-test.txt)
    # shellcheck disable=SC2086
    # from PyPI itself (not a local mirror or wheel cache), so the hashes are PyPI's files
    PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS='' python -m pip download -q --index-url https://pypi.org/simple \
        ${PIP_CERT:+--cert "$PIP_CERT"} --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d "$dir" $pins || exit 1
    { sed -n '1,2p' "$REQS"
      for f in "$dir"/*.whl; do
          base=$(basename "$f"); name=${base%%-*}; rest=${base#*-}
          printf '%s==%s --hash=sha256:%s\n' "${name//_/-}" "${rest%%-*}" "$(sha256sum "$f" | cut -d' ' -f1)"
      done; } > "$REQS.new" && mv "$REQS.new" "$REQS"
    rm -rf "$dir"
    echo "re-pinned $REQS"; exit 0
fi

start=$(date +%s)
bash images/build.sh || { echo "standin: image build failed"; exit 1; }
build_secs=$(($(date +%s) - start))

name=numaserve-standin-tests-$$
log=$(mktemp)
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; rm -f "$log"; }
trap cleanup EXIT
# No network but loopback: the tests only talk to stand-ins they start in the container.
docker create --name "$name" --network none --label io.numaserve.test=standin "$IMAGE" \
    python3 -m pytest -q -rfE -p no:cacheprovider --ignore=tests/test_image.py "$@" tests >/dev/null || exit 1
docker cp tests/standin/. "$name:/opt/standin-tests/tests" || exit 1
# the model-directory writer the fixtures use (export_model.py's layout), importable as `layout`
docker cp tools/test_models/layout.py "$name:/opt/standin-tests/tests/layout.py" || exit 1
echo "== stand-in tests inside $IMAGE =="
docker start -a "$name" 2>&1 | tee "$log"
container_rc=${PIPESTATUS[0]}

echo "== stand-in image test on the host (docker run localhost/numaserve/ovms-standin:local) =="
NUMASERVE_REQUIRE_DOCKER=1 python -m pytest -q -rfE -p no:cacheprovider tests/standin/test_image.py 2>&1 \
    | tee -a "$log"
host_rc=${PIPESTATUS[0]}

passed=$(grep -oE '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -oE '[0-9]+ (failed|error)' "$log" | awk '{s += $1} END {print s + 0}')
echo "standin: images ${build_secs}s, tests in container exit $container_rc, image test exit $host_rc"
echo "standin: $passed passed, $failed failed"
[[ $container_rc -eq 0 && $host_rc -eq 0 ]]
