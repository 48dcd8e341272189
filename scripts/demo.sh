#!/usr/bin/env bash
# Sets up specimen-edge (mosquitto, virtual environment) and runs the demonstration.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-env.sh
exec .venv/bin/specimen-edge demo "$@"
