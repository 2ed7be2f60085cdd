#!/usr/bin/env bash
# The test command: servers and peers installed and started, lint, types, unit and
# integration tests. Used by `make test` and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/scripts/ensure-services.sh redis postgresql
deploy/scripts/bootstrap.sh
for peers in deploy/scripts/install-*-peers.sh; do
    [ -e "$peers" ] && bash "$peers"
done
# shellcheck disable=SC1091
. .venv/bin/activate
ruff check .
ruff format --check .
mypy
python -m pytest -q -p no:cacheprovider --durations=15 tests/unit tests/integration "$@"
