#!/usr/bin/env bash
# Build `hauler:latest` locally: the debootstrap base (cached), wheels of Hauler and its
# dependencies built on the host, then the image. Skipped when the image already carries
# the current source hash.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${HAULER_IMAGE:-hauler:latest}
BASE=${HAULER_BASE_IMAGE:-hauler-base:bookworm}
PYTHON=${PYTHON:-python3}
HAULER_BASE_IMAGE=$BASE deploy/docker/build-base.sh
source_hash=$(git ls-files -z pyproject.toml celeryconfig.py beat_schedule.py hauler tasks workers autoscale deploy/docker/Dockerfile deploy/docker/build-image.sh \
    | xargs -0 sha256sum | cat - <(docker image inspect -f '{{.Id}}' "$BASE") | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "hauler.source" }}' "$IMAGE" 2>/dev/null)" = "$source_hash" ]; then
    exit 0
fi
context=$(mktemp -d /var/tmp/hauler-image.XXXXXX)
trap 'rm -rf "$context"' EXIT
# Debian bookworm ships Python 3.11.2; redis needs async-timeout below 3.11.3.
# Build from a copy of the tracked files: a stale build/ of an earlier wheel must not leak
# removed modules (old migrations) into the image.
mkdir "$context/src"
git ls-files -z | tar --null -T - -cf - | tar -x -C "$context/src"
if ! "$PYTHON" -m pip wheel -q --wheel-dir "$context/wheels" "$context/src[s3]" "async-timeout>=4.0.3" \
    >"$context/pip.log" 2>&1; then
    cat "$context/pip.log" >&2
    exit 1
fi
cp deploy/docker/Dockerfile "$context/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q --network host --build-arg "BASE=$BASE" \
    --label "hauler.source=$source_hash" \
    -t "$IMAGE" "$context" >/dev/null
echo "built $IMAGE ($source_hash)"
