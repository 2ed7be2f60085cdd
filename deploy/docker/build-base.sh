#!/usr/bin/env bash
# The base image `hauler-base:bookworm`: a minimal Debian bookworm (python3, venv, tini)
# made with debootstrap and `docker import` — no image registry needed. Skipped when the
# image exists. HAULER_BASE_PACKAGES adds packages (e.g. "ffmpeg" for media workers).
set -euo pipefail
IMAGE=${HAULER_BASE_IMAGE:-hauler-base:bookworm}
MIRROR=${HAULER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
root=$(mktemp -d /var/tmp/hauler-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
packages="python3,python3-venv,ca-certificates,tini${HAULER_BASE_PACKAGES:+,$HAULER_BASE_PACKAGES}"
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$MIRROR" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/opt/hauler/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' - "$IMAGE" >/dev/null
echo "built $IMAGE"
