#!/usr/bin/env bash
# What the compose smoke test and the many-hosts test need: Debian's docker-compose (1.29),
# debootstrap (image bases), iproute2 (network namespaces) and a running Docker engine.
# Idempotent; the images are built (and cached) by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/../.."
need=()
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "hauler: please install ${need[*]}" >&2
        exit 1
    fi
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "${need[@]}" >/dev/null
fi
deploy/scripts/start-dockerd.sh
