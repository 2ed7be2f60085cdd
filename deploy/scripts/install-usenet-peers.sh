#!/usr/bin/env bash
# The Usenet download programs for the NZBGet and SABnzbd clients and their
# tests: Debian's nzbget (main) and sabnzbdplus (contrib; it needs unrar from
# non-free). When sabnzbdplus is missing, the contrib and non-free components
# of the archives the machine already uses for main are added in a separate
# sources file, then both are installed. Idempotent; needs root and apt-get.
set -euo pipefail
missing=()
command -v nzbget >/dev/null || missing+=(nzbget)
command -v sabnzbdplus >/dev/null || missing+=(sabnzbdplus)
if [ "${#missing[@]}" = 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "hauler: please install ${missing[*]} as root (apt-get install ${missing[*]};" \
        "sabnzbdplus is in Debian's contrib component and needs unrar from non-free)" >&2
    exit 1
fi
if [[ " ${missing[*]} " == *" sabnzbdplus "* ]]; then
    "$(dirname "$0")/add-contrib-non-free.sh"
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
