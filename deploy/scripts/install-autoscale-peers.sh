#!/usr/bin/env bash
# What the autoscaler's Docker tests need: a running engine (docker.io) and debootstrap
# for the worker image's base. Idempotent; the image itself is built (and cached) by the
# tests through deploy/docker/build-image.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v debootstrap >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "hauler: please install debootstrap" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
deploy/scripts/start-dockerd.sh
