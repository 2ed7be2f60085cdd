#!/usr/bin/env bash
# The archive tools archives.extract runs and its tests drive (Debian packages). Idempotent.
#   7z   (p7zip-full): 7z archives, multi-volume 7z, AES passwords
#   unar (unar/lsar):  rar (RAR4 and RAR5, multi-volume, passwords); Debian's 7z has no rar codec
#   rar  (non-free):   only the tests use it, to make rar archives (add-contrib-non-free.sh
#                      adds that component of the machine's own Debian archives)
set -euo pipefail
need=()
command -v 7z >/dev/null || need+=(p7zip-full)
command -v unar >/dev/null && command -v lsar >/dev/null || need+=(unar)
if [ ${#need[@]} -eq 0 ] && command -v rar >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "hauler: please install p7zip-full and unar (and rar for the tests)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v rar >/dev/null; then
    "$(dirname "$0")/add-contrib-non-free.sh"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends rar >/dev/null
fi
