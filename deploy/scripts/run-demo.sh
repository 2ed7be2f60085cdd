#!/usr/bin/env bash
# The main job on the embedded defaults: Redis (installed if missing), SQLite under ./var,
# `hauler up` in the foreground, a demo job enqueued, and where to look printed.
# Ctrl-C stops everything. HAULER_DEMO_EXIT=1 stops right after the demo.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/scripts/ensure-services.sh redis
deploy/scripts/bootstrap.sh
# shellcheck disable=SC1091
. .venv/bin/activate
export HAULER_DATA_DIR=${HAULER_DATA_DIR:-$PWD/var}
# The demo downloads from a server it runs on loopback, which the SSRF guard refuses
# by default; allow loopback for this demo stack only.
export HAULER_DOWNLOADS_ALLOW_NETWORKS=${HAULER_DOWNLOADS_ALLOW_NETWORKS:-127.0.0.1/32}
hauler db upgrade
hauler up &
up=$!
trap 'kill -TERM $up 2>/dev/null; wait $up' INT TERM
python -m hauler.demo
if [ "${HAULER_DEMO_EXIT:-0}" = 1 ]; then
    kill -TERM $up
fi
wait $up
