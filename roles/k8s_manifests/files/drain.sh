# shellcheck shell=bash
# Run as: /bin/bash <this file> (the pod's probe/preStop command); no shebang (ansible-test).
# preStop hook of an OVMS pod (numaserve.ovms.k8s_manifests). The pod is already out of the headless
# Service's endpoints, so its DNS name leaves the balancer's resolver within OVMS_DRAIN_DELAY seconds;
# then wait until OVMS has no request and no graph (stream) in flight: ovms_current_requests +
# ovms_current_graphs = 0 on /metrics (src/metrics/metric_config.hpp), at most OVMS_DRAIN_TIMEOUT
# seconds. The kubelet sends SIGTERM when this returns. Lines go to the container's log (PID 1's
# stdout) or to OVMS_DRAIN_LOG.
exec >>"${OVMS_DRAIN_LOG:-/proc/1/fd/1}" 2>&1
port=${OVMS_REST_PORT:-8000}
delay=${OVMS_DRAIN_DELAY:-10}
timeout=${OVMS_DRAIN_TIMEOUT:-60}
echo "drain: preStop, waiting ${delay}s for the balancer to drop this pod"
sleep "$delay"
deadline=$((SECONDS + timeout))
inflight=unknown
while ((SECONDS < deadline)); do
    if ! metrics=$(curl -fsS --max-time 3 "http://127.0.0.1:${port}/metrics"); then
        echo "drain: /metrics does not answer (metrics off?): stopping without waiting"
        exit 0
    fi
    inflight=$(printf '%s\n' "$metrics" | awk '/^ovms_current_(requests|graphs)[{ ]/ { s += $NF } END { printf "%d", s }')
    if [[ $inflight == 0 ]]; then
        echo "drain: nothing in flight, stopping"
        exit 0
    fi
    sleep 1
done
echo "drain: ${inflight} still in flight after ${timeout}s, stopping anyway"
