#!/usr/bin/env bash
# Debian packages the test suite needs besides the engine: debootstrap (images), shellcheck
# (ansible-test sanity's shellcheck test), numactl (numastat in docs and checks), curl.
set -euo pipefail
missing=()
for pkg in debootstrap shellcheck numactl curl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "[system] installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "[system] debootstrap, shellcheck, numactl, curl are installed"
fi
