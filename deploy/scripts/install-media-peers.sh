#!/usr/bin/env bash
# ffmpeg and ffprobe for the media tasks and their tests (Debian's ffmpeg). Idempotent.
set -euo pipefail
if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "hauler: please install ffmpeg (e.g. apt-get install ffmpeg)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
