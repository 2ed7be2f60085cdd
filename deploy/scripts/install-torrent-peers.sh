#!/usr/bin/env bash
# aria2 and qbittorrent-nox for the aria2/qBittorrent download clients and their tests
# (Debian's packages). Idempotent.
set -euo pipefail
if command -v aria2c >/dev/null && command -v qbittorrent-nox >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "hauler: please install aria2 and qbittorrent-nox (e.g. apt-get install aria2 qbittorrent-nox)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    aria2 qbittorrent-nox >/dev/null
