#!/usr/bin/env bash
# Make sure a Docker Engine answers on this machine.
#
# Development and CI machines of this project ship the Docker client only. When no engine answers,
# this installs Debian's docker.io and starts dockerd in the background, logging to
# $NUMASERVE_DOCKERD_LOG. With --podman it also makes sure Debian's podman is installed.
set -euo pipefail

DOCKERD_LOG=${NUMASERVE_DOCKERD_LOG:-/var/log/numaserve-dockerd.log}
want_podman=false
[[ "${1:-}" == "--podman" ]] && want_podman=true

say() { printf '[engine] %s\n' "$*"; }
die() { printf '[engine] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@" || die "root rights needed for: $*"; fi
}

apt_install() {
    say "installing Debian packages: $*"
    if [[ ! -f /var/lib/apt/periodic/numaserve-updated ]] || ! apt-cache policy "$@" 2>/dev/null | grep -q Candidate; then
        as_root apt-get update -qq
        as_root mkdir -p /var/lib/apt/periodic && as_root touch /var/lib/apt/periodic/numaserve-updated
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

engine_answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if engine_answers; then
    say "Docker Engine $(docker version --format '{{.Server.Version}}') answers"
else
    command -v dockerd >/dev/null 2>&1 || apt_install docker.io
    # docker.io brings iptables; Debian 12 defaults to the nft backend, which works here.
    say "no Docker Engine answers: starting dockerd in the background (log: $DOCKERD_LOG)"
    as_root mkdir -p "$(dirname "$DOCKERD_LOG")"
    as_root sh -c "nohup dockerd >>'$DOCKERD_LOG' 2>&1 &"
    for _ in $(seq 1 60); do
        engine_answers && break
        sleep 1
    done
    engine_answers || { tail -n 30 "$DOCKERD_LOG" >&2 || true; die "dockerd did not answer within 60 s; see $DOCKERD_LOG"; }
    say "Docker Engine $(docker version --format '{{.Server.Version}}') started"
fi

if $want_podman; then
    if ! command -v podman >/dev/null 2>&1; then
        apt_install podman
    fi
    # podman pods (podman kube play) build their pause image with catatonit, a Recommends of podman.
    command -v catatonit >/dev/null 2>&1 || apt_install catatonit
    podman --version >/dev/null || die "podman is installed but does not run"
    say "$(podman --version) available (rootful)"
fi
