#!/usr/bin/env bash
# promtool for the Prometheus configuration, alert-rule and dashboard-expression tests
# (Debian's prometheus package ships it; the server it also installs is not started here).
# Idempotent; needs root and apt-get.
set -euo pipefail
if command -v promtool >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "hauler: please install promtool (e.g. apt-get install prometheus)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
