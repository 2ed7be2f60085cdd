#!/usr/bin/env bash
# Build the test stand-in image (Debian's redis-server, postgresql-15 and prometheus on the
# debootstrap base) used by deploy/compose/test.yml. Skipped when it carries the current hash.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${HAULER_STAND_IN_IMAGE:-hauler-stand-ins:bookworm}
BASE=${HAULER_BASE_IMAGE:-hauler-base:bookworm}
HAULER_BASE_IMAGE=$BASE deploy/docker/build-base.sh
hash=$(cat deploy/compose/stand-ins/* <(docker image inspect -f '{{.Id}}' "$BASE") | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "hauler.source" }}' "$IMAGE" 2>/dev/null)" = "$hash" ]; then
    exit 0
fi
DOCKER_BUILDKIT=0 docker build -q --network host --build-arg "BASE=$BASE" --label "hauler.source=$hash" \
    -t "$IMAGE" deploy/compose/stand-ins >/dev/null
echo "built $IMAGE ($hash)"
