#!/usr/bin/env bash
# Creates .venv and installs hexcast with its dev tools and the benchmarks' dependencies (the
# suite runs each benchmark once, small); reinstalls only when pyproject.toml or the extras change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "[bootstrap] hexcast needs Python 3.11 or newer ($python is $("$python" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    # Debian's python3 ships venv separately.
    [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf .venv && "$python" -m venv .venv
  fi
fi
stamp=.venv/.hexcast-installed
extras="dev,bench"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[bootstrap] installing hexcast and its dependencies into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$extras]"
  echo "$want" >"$stamp"
fi

# The console's browser assets (Leaflet, the offline outline map; axe-core for its tests)
# come from npm, pinned by package-lock.json; hexcast serves them from node_modules.
node_stamp=node_modules/.hexcast-installed
node_want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$node_stamp" ] || [ "$(cat "$node_stamp")" != "$node_want" ]; then
  if ! command -v npm >/dev/null; then
    [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  echo "[bootstrap] installing the console's npm packages into node_modules" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$node_want" >"$node_stamp"
fi
