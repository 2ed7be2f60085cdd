#!/usr/bin/env bash
# Create the virtualenv (.venv) and install Hauler with its dev extra into it. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.hauler-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev${HAULER_EXTRAS:+,$HAULER_EXTRAS}]"
    touch "$stamp"
fi
