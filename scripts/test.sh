#!/usr/bin/env bash
# Sets up specimen-edge with its test tools and runs the whole test suite: lint, types, pytest.
# The tests start their own mosquitto on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-env.sh test
# PyTorch (CPU build) for the export-parity tests of the segmenter; training is never run here.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/ruff check .
.venv/bin/mypy edge training bench
SPECIMEN_EDGE_REQUIRE_BROKER=1 SPECIMEN_EDGE_REQUIRE_BROWSER=1 .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
