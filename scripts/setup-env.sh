#!/usr/bin/env bash
# Installs what specimen-edge needs on a Debian/Ubuntu machine: the mosquitto broker (apt, when
# missing) and a virtual environment in .venv with the package and the given extras.
# Usage: scripts/setup-env.sh [EXTRAS]   e.g. scripts/setup-env.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

# Debian packages: the broker always; for the tests also Chromium and its driver (station screen)
# and openssl (a private CA for the TLS tests).
packages=()
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  packages+=(mosquitto)
fi
if [[ ",$extras," == *",test,"* ]]; then
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || packages+=(chromium-driver)
  command -v openssl >/dev/null 2>&1 || packages+=(openssl)
fi
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing ${packages[*]} (apt) ..." >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[$extras]"
else
  .venv/bin/python -m pip install -q -e .
fi
