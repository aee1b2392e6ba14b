#!/usr/bin/env bash
# The test suite starts its own throwaway PostgreSQL cluster from the server binaries
# (see tests/support/pg.py). Make sure they are installed; with JXC_TEST_PG_URL set,
# an existing server is used instead and nothing is needed here.
set -euo pipefail
[ -n "${JXC_TEST_PG_URL:-}" ] && exit 0
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing PostgreSQL server binaries (Debian package postgresql)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  # Debian starts a default cluster on install; the tests do not use it.
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | while read -r v c; do pg_ctlcluster "$v" "$c" stop || true; done
  fi
  exit 0
fi
echo "PostgreSQL server binaries not found and cannot install them (need root and apt-get)." >&2
echo "Install Debian's 'postgresql' package or set JXC_TEST_PG_URL; PostgreSQL tests will be skipped outside CI." >&2
