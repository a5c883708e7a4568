#!/usr/bin/env bash
# make demo      = bash scripts/demo.sh up    deploy the whole stack on this machine and show it working
# make demo-down = bash scripts/demo.sh down  remove everything `up` deployed
#
# `up` runs the numaserve.ovms.site playbook against this machine (inventory host `localhost`) with
# the offline images (the OVMS stand-in, a test fixture, and the local nginx image). On a machine with
# a single NUMA node it simulates two nodes (a fixture sysfs tree: half of the CPUs each, memory
# binding off) so that two pinned instances are planned, as on a dual-socket server.
# The instances generate for real (the stand-in's openvino engine, OpenVINO GenAI) with the tiny test
# model of tools/test_models/build.py: RANDOM WEIGHTS, so the answer is real generation of nonsense.
# Balancer: http://127.0.0.1:8080, instances 8003 and up. Data: /var/lib/numaserve-demo.
# Overrides (environment): NUMASERVE_DEMO_DIR, NUMASERVE_DEMO_PORT, NUMASERVE_DEMO_INSTANCE_PORT,
# NUMASERVE_DEMO_MODEL, NUMASERVE_DEMO_SIMULATE=auto|yes|no.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$NUMASERVE_ROOT"

DEMO_DIR=${NUMASERVE_DEMO_DIR:-/var/lib/numaserve-demo}
LB_PORT=${NUMASERVE_DEMO_PORT:-8080}
PORT_BASE=${NUMASERVE_DEMO_INSTANCE_PORT:-8003}
MODEL=${NUMASERVE_DEMO_MODEL:-numaserve/tiny-random}
SIMULATE=${NUMASERVE_DEMO_SIMULATE:-auto}
INVENTORY=$DEMO_DIR/inventory.yml

say() { printf '\n[demo] %s\n' "$*"; }
die() { printf '[demo] ERROR: %s\n' "$*" >&2; exit 1; }

host_nodes() { find /sys/devices/system/node -maxdepth 1 -name 'node[0-9]*' 2>/dev/null | wc -l; }

# Write a fixture sysfs tree with two nodes holding one half of the online CPUs each.
simulate_two_nodes() {
    local cpus half first second
    mapfile -t cpus < <(python3 -c '
import sys
sys.path.insert(0, "extensions/molecule/shared")
import stack_sysfs
print("\n".join(map(str, stack_sysfs.parse_cpulist(open("/sys/devices/system/cpu/online").read()))))')
    ((${#cpus[@]} >= 2)) || return 1
    half=$(((${#cpus[@]} + 1) / 2))
    first=$(IFS=,; echo "${cpus[*]:0:half}")
    second=$(IFS=,; echo "${cpus[*]:half}")
    python3 extensions/molecule/shared/stack_sysfs.py "$DEMO_DIR/sysfs" --node "0=$first" --node "1=$second" >/dev/null
}

write_models() {  # the tiny random-weight test model in export_model.py's layout (built once, cached by content)
    python3 tools/test_models/build.py "$DEMO_DIR/models" --name "$MODEL" --size tiny >/dev/null \
        || die "building the tiny test model failed (tools/test_models/build.py)"
}

write_inventory() {  # write_inventory SIMULATED(yes|no)
    local simulated=$1 sysfs_line="" bind_memory=true
    if [[ $simulated == yes ]]; then
        sysfs_line="numa_facts_sysfs_root: $DEMO_DIR/sysfs"
        bind_memory=false
    fi
    cat >"$INVENTORY" <<YAML
# Written by scripts/demo.sh: the demo's inventory (this machine only).
all:
  children:
    ovms_servers:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: $NUMASERVE_VENV/bin/python
          ${sysfs_line}
          numa_facts_rest_port_base: $PORT_BASE
          model_server_image: localhost/numaserve/ovms-standin:local
          model_server_models_dir: $DEMO_DIR/models
          model_server_env:
            OVMS_STANDIN_ENGINE: openvino  # real generation (OpenVINO GenAI), tiny model, random weights
          model_server_bind_memory: $bind_memory
          load_balancer_image: localhost/numaserve/nginx:local
          load_balancer_listen_port: $LB_PORT
          load_balancer_config_dir: $DEMO_DIR/nginx
YAML
}

show_placement() {
    say "placement (container, CPUs and memory nodes the kernel enforces, from /proc/<pid>/status)"
    local name pid
    while read -r name; do
        pid=$(docker inspect -f '{{.State.Pid}}' "$name")
        printf '  %-28s %s  %s  port %s\n' "$name" \
            "$(grep '^Cpus_allowed_list' "/proc/$pid/status" | tr -s '\t ' ' ')" \
            "$(grep '^Mems_allowed_list' "/proc/$pid/status" | tr -s '\t ' ' ')" \
            "$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{.HostIp}}:{{.HostPort}} {{end}}{{end}}' "$name")"
        printf '  %-28s %s\n' "" "$(docker logs "$name" 2>&1 | grep -o 'engine=[a-z]* threads=[0-9]* cpus=[0-9,-]*' | tail -n 1)"
    done < <(docker ps --filter label=io.numaserve.managed=true --filter label=io.numaserve.host=localhost \
        --filter label=io.numaserve.instance --format '{{.Names}}' | sort)
    docker ps --filter label=io.numaserve.managed=true --filter label=io.numaserve.host=localhost \
        --filter label=io.numaserve.component=load_balancer --format '{{.Names}}' \
        | while read -r name; do printf '  %-28s nginx, host network, port %s\n' "$name" "$LB_PORT"; done
}

sample_answer() {
    say "endpoint: http://127.0.0.1:$LB_PORT  (OpenAI API under /v3)"
    say "sample answer: POST /v3/chat/completions through the balancer (real generation, RANDOM WEIGHTS: expect nonsense)"
    python3 - "$LB_PORT" "$MODEL" <<'PY'
import json, sys, urllib.request
port, model = sys.argv[1:]
body = json.dumps({"model": model, "max_tokens": 24, "temperature": 0,
                   "messages": [{"role": "user", "content": "What is a NUMA node?"}]}).encode()
req = urllib.request.Request("http://127.0.0.1:%s/v3/chat/completions" % port, data=body,
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=60) as resp:
    answer = json.load(resp)
print("  model:  ", answer.get("model"))
print("  answer: ", repr(answer["choices"][0]["message"]["content"]), "(random weights)")
print("  usage:  ", json.dumps(answer.get("usage")))
PY
    cat <<TXT

[demo] try it:
  curl -s http://127.0.0.1:$LB_PORT/v3/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model": "$MODEL", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
  make demo-down    # removes the containers, the balancer and $DEMO_DIR
TXT
}

up() {
    [[ -x $NUMASERVE_VENV/bin/ansible-playbook ]] || die "no virtualenv: run 'make venv images' first"
    docker image inspect localhost/numaserve/ovms-standin:local >/dev/null 2>&1 \
        || die "image localhost/numaserve/ovms-standin:local is missing: run 'make images' first"
    mkdir -p "$DEMO_DIR"
    local simulated=no
    if [[ $SIMULATE == yes || ($SIMULATE == auto && $(host_nodes) -le 1) ]]; then
        if simulate_two_nodes; then
            simulated=yes
            say "this machine has one NUMA node: simulating two (fixture sysfs in $DEMO_DIR/sysfs, memory binding off)"
        else
            say "this machine has one CPU: one instance, no simulation"
        fi
    fi
    write_models
    write_inventory "$simulated"
    say "ansible-playbook numaserve.ovms.site -i $INVENTORY"
    local start=$SECONDS
    ansible-playbook numaserve.ovms.site -i "$INVENTORY"
    say "site playbook done in $((SECONDS - start)) s"
    show_placement
    sample_answer
}

down() {
    if [[ ! -f $INVENTORY ]]; then
        mkdir -p "$DEMO_DIR"
        write_inventory no
    fi
    say "ansible-playbook numaserve.ovms.teardown -i $INVENTORY"
    ansible-playbook numaserve.ovms.teardown -i "$INVENTORY"
    rm -rf "$DEMO_DIR"
    say "removed $DEMO_DIR"
}

case ${1:-} in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
