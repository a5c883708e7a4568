#!/usr/bin/env bash
# The stand-in engine's and the test-model builder's tests (`make test` stage "engine"): pytest INSIDE a
# localhost/numaserve/ovms-standin-tests container (OpenVINO GenAI and llm_engine.py as installed in the
# stand-in image), started with --network none: building and serving a test model needs no network.
# tools/test_models/ is mounted read-only. Extra arguments go to pytest (e.g. -k greedy).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
IMAGE=localhost/numaserve/ovms-standin-tests:local
bash images/build.sh || { echo "engine: image build failed"; exit 1; }
name=numaserve-engine-tests-$$
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
docker create --name "$name" --network none --label io.numaserve.test=engine \
    -v "$ROOT/tools/test_models:/opt/test_models:ro" "$IMAGE" \
    python3 -m pytest -q -rfE -p no:cacheprovider "$@" /opt/engine-tests >/dev/null || exit 1
docker cp tests/engine/. "$name:/opt/engine-tests" >/dev/null || exit 1
echo "== engine tests inside $IMAGE (no network) =="
docker start -a "$name"
