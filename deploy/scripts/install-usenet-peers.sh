#!/usr/bin/env bash
# NZBGet for the NZBGet client and its tests (Debian's nzbget). Idempotent.
# SABnzbd is not packaged for Debian bookworm; its tests use a protocol double.
set -euo pipefail
if command -v nzbget >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "hauler: please install nzbget (e.g. apt-get install nzbget)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nzbget >/dev/null
