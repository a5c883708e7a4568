# shellcheck shell=bash
# Run as: /bin/bash <this file> (the pod's probe/preStop command); no shebang (ansible-test).
# Startup and readiness probe of an OVMS pod (numaserve.ovms.k8s_manifests): what the Docker path's
# readiness gate checks. Ready when /v2/health/ready answers 200 (the servable manager finished its
# initial load, OVMS src/server.cpp) AND every servable /v1/config lists has a version AVAILABLE: in
# config mode OVMS answers ready while a failed LLM graph sits in LOADING with FAILED_PRECONDITION
# (src/config_status_utils.cpp). Needs only bash and curl (both in the OVMS image).
base="http://127.0.0.1:${OVMS_REST_PORT:-8000}"
if ! curl -fs -o /dev/null --max-time 3 "$base/v2/health/ready"; then
    echo "not ready: $base/v2/health/ready did not answer 200"
    exit 1
fi
if ! body=$(curl -fs --max-time 3 "$base/v1/config"); then
    echo "not ready: $base/v1/config did not answer 200"
    exit 1
fi
rest=$(printf '%s' "$body" | tr -d ' \t\r\n')
count=0
while [[ $rest == *'"model_version_status":['* ]]; do
    name=${rest%%'":{"model_version_status":['*}
    name=${name##*'"'}
    rest=${rest#*'"model_version_status":['}
    versions=${rest%%]*}
    count=$((count + 1))
    if [[ $versions != *'"state":"AVAILABLE"'* ]]; then
        echo "not ready: servable ${name} is not AVAILABLE: [${versions:0:300}]"
        exit 1
    fi
done
if ((count == 0)); then
    echo "not ready: /v1/config lists no servable"
    exit 1
fi
echo "ready: ${count} servable(s) AVAILABLE"
