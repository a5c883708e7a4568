#!/usr/bin/env bash
# Build the project's local images. No container registry is reachable from development and CI
# machines, so every image starts from a Debian bookworm rootfs made with debootstrap.
#
#   localhost/numaserve/base           debootstrap rootfs (python3, nginx, curl, tini), docker import
#   localhost/numaserve/nginx          nginx, run like the official image (nginx -g 'daemon off;')
#   localhost/numaserve/ovms-standin   OVMS stand-in: a TEST FIXTURE reproducing OVMS's deployment-facing
#                                      behaviour; never a production default
#   localhost/numaserve/ovms-standin-tests   the stand-in plus its tests and the openai package
#
# Each image is tagged :<recipe hash> and :local. An image is rebuilt only when its recipe (the files
# under images/<name>/ and the recipe of the image below it) changed.
set -euo pipefail
cd "$(dirname "$0")"
REPO=localhost/numaserve
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export DOCKER_BUILDKIT=0

say() { printf '[images] %s\n' "$*"; }

# Several checkouts or test runs may build at once on one engine: one build at a time, the others wait.
exec 9>/tmp/numaserve-images.lock
flock 9

recipe_hash() {  # hash of the files of images/$1 and of the parent's hash
    local name=$1 parent_hash=${2:-}
    { printf '%s\n' "$parent_hash"; find "$name" -type f -print0 | sort -z | xargs -0 sha256sum; } \
        | sha256sum | cut -c1-12
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_base() {
    local hash=$1 rootfs
    command -v debootstrap >/dev/null 2>&1 || {
        say "installing debootstrap"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    rootfs=$(mktemp -d /var/tmp/numaserve-rootfs.XXXXXX)
    local include
    include=$(grep -v '^#' base/packages.txt | paste -sd, -)
    say "debootstrap $SUITE ($include) into $rootfs: about a minute"
    debootstrap --variant=minbase --include="$include" "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 \
        || { tail -n 20 "$rootfs.log" >&2; exit 1; }
    rm -f "$rootfs.log"
    # Trim what a container never needs: apt lists, docs, man pages, locales.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/{doc,man,info}/* \
        "$rootfs"/var/log/*.log
    tar -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change "LABEL io.numaserve.recipe=$hash" \
        --change 'CMD ["/bin/bash"]' \
        - "$REPO/base:$hash" >/dev/null
    rm -rf "$rootfs"
}

quiet_build() {  # docker build, its output shown only when it fails
    local out
    out=$(docker build -q "$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
}

build_from_dockerfile() {
    local name=$1 hash=$2 parent=$3
    quiet_build --build-arg "BASE=$REPO/$parent:local" --label "io.numaserve.recipe=$hash" \
        -t "$REPO/$name:$hash" "$name"
}

ensure() {  # ensure NAME PARENT_HASH [PARENT_NAME]
    local name=$1 parent_hash=${2:-} parent=${3:-} hash start
    hash=$(recipe_hash "$name" "$parent_hash")
    if have_image "$REPO/$name:$hash"; then
        say "$REPO/$name:$hash is up to date"
    else
        start=$(date +%s)
        say "building $REPO/$name:$hash"
        if [[ $name == base ]]; then build_base "$hash"; else build_from_dockerfile "$name" "$hash" "$parent"; fi
        say "built $REPO/$name:$hash in $(($(date +%s) - start)) s"
    fi
    docker tag "$REPO/$name:$hash" "$REPO/$name:local"
    HASH[$name]=$hash
}

declare -A HASH

ensure base
ensure nginx "${HASH[base]}" base
ensure ovms-standin "${HASH[base]}" base
if [[ -d ovms-standin-tests ]]; then
    ensure ovms-standin-tests "${HASH[ovms-standin]}" ovms-standin
fi
# A second stand-in tag that differs from :local only by a label: rolling-update tests change the
# image of running instances from one to the other.
if ! have_image "$REPO/ovms-standin:local-b-${HASH[ovms-standin]}"; then
    printf 'FROM %s\nLABEL io.numaserve.variant=b\n' "$REPO/ovms-standin:local" \
        | quiet_build -t "$REPO/ovms-standin:local-b-${HASH[ovms-standin]}" -
fi
docker tag "$REPO/ovms-standin:local-b-${HASH[ovms-standin]}" "$REPO/ovms-standin:local-b"
# Tags of older recipes are no longer used by anything: drop them (images in use stay).
docker images --format '{{.Repository}}:{{.Tag}}' "$REPO/*" \
    | grep -v -E ":(local|local-b|local-b-${HASH[ovms-standin]}|${HASH[base]}|${HASH[nginx]}|${HASH[ovms-standin]}|${HASH[ovms-standin-tests]:-none})$" \
    | xargs -r docker rmi >/dev/null 2>&1 || true
say "images ready: $(docker images --format '{{.Repository}}:{{.Tag}}' "$REPO/*" | grep ':local' | sort | paste -sd' ')"
