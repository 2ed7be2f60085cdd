#!/usr/bin/env bash
# Make sure a Docker engine answers: install docker.io (Debian, as root) and start
# `dockerd --bridge=none --iptables=false` in the background when none runs. Idempotent.
set -euo pipefail
if docker info >/dev/null 2>&1; then
    exit 0
fi
if ! command -v dockerd >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "hauler: please install docker.io and start dockerd" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi
mkdir -p /var/log/hauler
nohup dockerd --bridge=none --iptables=false >/var/log/hauler/dockerd.log 2>&1 &
for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && exit 0
    sleep 0.5
done
echo "hauler: dockerd did not start; see /var/log/hauler/dockerd.log" >&2
exit 1
