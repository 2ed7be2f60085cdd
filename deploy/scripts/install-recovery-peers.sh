#!/usr/bin/env bash
# What the recovery tests need besides the download clients: Debian's par2 (SABnzbd
# repairs with it; the "too few repair blocks" test makes a par2 set with it). The
# clients themselves come from install-torrent-peers.sh and install-usenet-peers.sh.
# Idempotent; needs root and apt-get.
set -euo pipefail
if command -v par2 >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "hauler: please install par2 as root (apt-get install par2)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends par2 >/dev/null
