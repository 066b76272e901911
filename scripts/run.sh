#!/usr/bin/env bash
# The run command: installs what is missing, starts PostGIS and Redis, migrates, starts the
# FCM sandbox, the API, a Celery worker and Celery beat, loads demo data, sends a demo
# notice, prints the URLs, and runs until Ctrl-C. With --smoke it stops after the demo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

api_port="${HEXCAST_API_PORT:-8000}"
sandbox_port="${HEXCAST_SANDBOX_PORT:-8765}"
state="${HEXCAST_STACK_DIR:-$root/.stack}"
export HEXCAST_ENVIRONMENT="${HEXCAST_ENVIRONMENT:-development}"
export HEXCAST_DATABASE_URL="${HEXCAST_DATABASE_URL:-postgresql+psycopg://hexcast@127.0.0.1:${HEXCAST_PG_PORT:-54329}/hexcast}"
export HEXCAST_BROKER_URL="${HEXCAST_BROKER_URL:-redis://127.0.0.1:${HEXCAST_REDIS_PORT:-63799}/0}"
export HEXCAST_FCM_PROJECT_ID="${HEXCAST_FCM_PROJECT_ID:-hexcast-dev}"
export HEXCAST_FCM_ENDPOINT="${HEXCAST_FCM_ENDPOINT:-http://127.0.0.1:$sandbox_port}"
export HEXCAST_FCM_CREDENTIALS_FILE="${HEXCAST_FCM_CREDENTIALS_FILE:-$state/fcm-credentials.json}"
export HEXCAST_API_URL="http://127.0.0.1:$api_port"
# Pushes link to the notice's public view under it.
export HEXCAST_PUBLIC_BASE_URL="${HEXCAST_PUBLIC_BASE_URL:-$HEXCAST_API_URL}"
# The demo registers all its devices from this machine's one address.
export HEXCAST_DEVICE_REGISTRATIONS_PER_CLIENT_HOUR="${HEXCAST_DEVICE_REGISTRATIONS_PER_CLIENT_HOUR:-100000}"
logs="$state/logs"

scripts/bootstrap.sh
stack_was_stopped=0
# Not `status | grep -q`: under pipefail, grep closing the pipe early fails the pipeline.
[[ "$(scripts/stack.sh status)" == *stopped* ]] && stack_was_stopped=1
scripts/stack.sh start
mkdir -p "$logs"

# Each child runs in a process group of its own (setsid), so that Ctrl-C reaches only this
# script, which stops them in order, and so that a kill takes a worker's pool with it.
pids=()
grace_seconds="${HEXCAST_STOP_GRACE_SECONDS:-5}"
alive() { local pid; for pid in "$@"; do kill -0 -- "-$pid" 2>/dev/null && return 0; done; return 1; }
cleanup() {
  trap - EXIT INT TERM
  echo "[run] stopping" >&2
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq $((grace_seconds * 10))); do alive "${pids[@]}" || break; sleep 0.1; done
  for pid in "${pids[@]}"; do
    if kill -0 -- "-$pid" 2>/dev/null; then
      echo "[run] $pid did not stop within ${grace_seconds}s; killing it" >&2
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  if [ "$stack_was_stopped" = 1 ]; then scripts/stack.sh stop; fi
  echo "[run] stopped" >&2
}
trap cleanup EXIT INT TERM

start() {  # name, command...
  local name=$1; shift
  setsid "$@" >"$logs/$name.log" 2>&1 &
  pids+=($!)
  echo "[run] $name started (log: $logs/$name.log)" >&2
}

wait_http() {  # url, name
  for _ in $(seq 100); do
    .venv/bin/python -c "import httpx, sys; httpx.get(sys.argv[1]).raise_for_status()" "$1" \
      >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "[run] $2 did not come up; see $logs" >&2
  exit 1
}

echo "[run] migrating the database" >&2
.venv/bin/alembic upgrade head

# FCM's token rules (no --accept-any-token): the demo's devices take their tokens from it.
start fcm-sandbox .venv/bin/python -m fcm_sandbox --port "$sandbox_port" \
  --project "$HEXCAST_FCM_PROJECT_ID" --credentials-out "$HEXCAST_FCM_CREDENTIALS_FILE"
wait_http "$HEXCAST_FCM_ENDPOINT/healthz" "the FCM sandbox"
start api .venv/bin/uvicorn alerts.api:app --host 127.0.0.1 --port "$api_port"
# Pushes and housekeeping on workers of their own, so that a long broadcast never delays the
# reconciler, the device tally or a webhook.
start worker-sends .venv/bin/celery -A kit.celery:celery_app worker --loglevel INFO \
  --queues sends --hostname "sends@%h"
start worker-housekeeping .venv/bin/celery -A kit.celery:celery_app worker --loglevel INFO \
  --queues housekeeping --concurrency 2 --hostname "housekeeping@%h"
start beat .venv/bin/celery -A kit.celery:celery_app beat --loglevel INFO \
  --schedule "$state/celerybeat-schedule"
wait_http "$HEXCAST_API_URL/healthz" "the API"

.venv/bin/python scripts/demo.py

cat <<MSG

hexcast is running.
  Operator console       $HEXCAST_API_URL/console
    sign in as           demo@hexcast.example / ${HEXCAST_DEMO_CONSOLE_PASSWORD:-demo console passphrase}
  API and OpenAPI docs   $HEXCAST_API_URL/docs
  In-app client          $HEXCAST_API_URL/app/  (an alert opens at /app/#/notices/<id>)
  FCM sandbox messages   $HEXCAST_FCM_ENDPOINT/sandbox/messages
  FCM sandbox devices    POST $HEXCAST_FCM_ENDPOINT/sandbox/devices (see README)
  Operator credential    Authorization: Bearer ${HEXCAST_OPERATOR_TOKEN:-dev-operator-token}
  Logs                   $logs/
Send another demo notice:  .venv/bin/python scripts/demo.py --devices 0
Stop with Ctrl-C.
MSG

[ "${1:-}" = "--smoke" ] && exit 0
wait
