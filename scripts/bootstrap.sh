#!/usr/bin/env bash
# Create the virtual environment and install JXC with its dev tools into it.
# Debian's python3 needs the python3-venv package for `python3 -m venv`; install it
# when we can (root + apt-get), otherwise fall back to virtualenv from PyPI.
set -euo pipefail
PY="${1:-python3}"
VENV="${2:-.venv}"

if ! "$PY" -m venv "$VENV" 2>/dev/null; then
  rm -rf "$VENV"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt-get update -qq && apt-get install -y -qq "python${ver}-venv" >/dev/null || apt-get install -y -qq python3-venv >/dev/null
    "$PY" -m venv "$VENV"
  else
    "$PY" -m pip install --user -q virtualenv
    "$PY" -m virtualenv -q "$VENV"
  fi
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e '.[dev]'
