#!/usr/bin/env bash
# The test command: installs what is missing, starts the local PostGIS and Redis, runs lint,
# types, the import contracts (pyproject.toml) and the whole test suite (which starts its own
# FCM sandbox and Celery worker), and stops the stack again if it started it. Extra arguments
# go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/bootstrap.sh
# Not `status | grep -q`: under pipefail, grep closing the pipe early fails the pipeline.
if [[ "$(scripts/stack.sh status)" == *stopped* ]]; then
  trap 'scripts/stack.sh stop' EXIT
fi
scripts/stack.sh start

echo "[test] ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "[test] mypy" >&2
.venv/bin/mypy
echo "[test] import contracts" >&2
.venv/bin/lint-imports
echo "[test] pytest" >&2
.venv/bin/pytest "$@"
