#!/usr/bin/env bash
# Local PostGIS and Redis for hexcast, on project-local data dirs and ports.
#   scripts/stack.sh install   apt-install what is missing (needs root)
#   scripts/stack.sh start     install if needed, init on first use, start (idempotent)
#   scripts/stack.sh stop      stop both (idempotent)
#   scripts/stack.sh destroy   stop both and delete their data
#   scripts/stack.sh status
#   scripts/stack.sh replica-start   a streaming replica of the cluster (pg_basebackup, hot
#                                    standby) on $HEXCAST_PG_REPLICA_PORT (54330)
#   scripts/stack.sh replica-stop
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${HEXCAST_STACK_DIR:-$root/.stack}"
pg_port="${HEXCAST_PG_PORT:-54329}"
redis_port="${HEXCAST_REDIS_PORT:-63799}"
pg_version=15
pg_bin="/usr/lib/postgresql/$pg_version/bin"
pg_data="$state/pg"
# As root the cluster belongs to the postgres user, which may not reach the checkout (a clone
# under /root, or a private temporary directory); then the cluster lives in a directory named
# after the state directory instead.
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
  mkdir -p "$state"
  if ! runuser -u postgres -- test -x "$state"; then
    pg_data="/var/lib/hexcast/$(echo -n "$state" | sha256sum | cut -c1-12)/pg"
    mkdir -p "$(dirname "$pg_data")"
  fi
fi
redis_dir="$state/redis"
replica_port="${HEXCAST_PG_REPLICA_PORT:-54330}"
replica_data="$(dirname "$pg_data")/pg-replica"

log() { echo "[stack] $*" >&2; }

# PostgreSQL refuses to run as root; the Debian package's postgres user owns the cluster then.
as_db_user() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

missing_packages() {
  local pkgs=()
  [ -x "$pg_bin/postgres" ] || pkgs+=("postgresql-$pg_version")
  [ -f "/usr/share/postgresql/$pg_version/extension/postgis.control" ] || pkgs+=("postgresql-$pg_version-postgis-3")
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  # The browser tests' Chromium (driven by Playwright's Python package), with a font to draw.
  command -v chromium >/dev/null || pkgs+=(chromium fonts-liberation)
  # The load generator of bench.ingest and bench.public_view.
  command -v wrk >/dev/null || pkgs+=(wrk)
  echo "${pkgs[@]:-}"
}

install() {
  local pkgs
  pkgs="$(missing_packages)"
  [ -z "$pkgs" ] && return 0
  log "installing: $pkgs"
  if [ "$(id -u)" != 0 ]; then
    log "need root to apt-get install $pkgs"; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  # The Debian package starts its own cluster on 5432; hexcast uses only its own.
  service postgresql stop >/dev/null 2>&1 || true
  service redis-server stop >/dev/null 2>&1 || true
}

pg_running() { as_db_user "$pg_bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; }

start_postgres() {
  mkdir -p "$state"
  if [ ! -f "$pg_data/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $pg_data"
    mkdir -p "$pg_data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$pg_data"
    as_db_user "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$pg_data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pg_data'
shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 512MB
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
jit = off
CONF
  fi
  if ! pg_running; then
    log "starting PostgreSQL on 127.0.0.1:$pg_port"
    as_db_user "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w -t 60 start >/dev/null
  fi
  local psql=(as_db_user "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qtA -v ON_ERROR_STOP=1)
  if [ -z "$("${psql[@]}" -c "select 1 from pg_roles where rolname='hexcast'")" ]; then
    "${psql[@]}" -c "create role hexcast login superuser"
  fi
  if [ -z "$("${psql[@]}" -c "select 1 from pg_database where datname='hexcast'")" ]; then
    "${psql[@]}" -c "create database hexcast owner hexcast"
  fi
}

replica_running() { as_db_user "$pg_bin/pg_ctl" -D "$replica_data" status >/dev/null 2>&1; }

# A hot standby streaming the cluster's WAL: set HEXCAST_REPLICA_DATABASE_URL to
# postgresql+psycopg://hexcast@127.0.0.1:$replica_port/hexcast to send lag-tolerant reads there.
start_replica() {
  pg_running || { log "PostgreSQL is not running: scripts/stack.sh start first"; exit 1; }
  if [ ! -f "$replica_data/PG_VERSION" ]; then
    log "copying the cluster into $replica_data (pg_basebackup)"
    mkdir -p "$replica_data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$replica_data"
    chmod 700 "$replica_data"
    as_db_user "$pg_bin/pg_basebackup" --dbname="host=127.0.0.1 port=$pg_port user=postgres" \
      -D "$replica_data" --write-recovery-conf --wal-method=stream
    cat >>"$replica_data/postgresql.auto.conf" <<CONF
port = $replica_port
unix_socket_directories = '$replica_data'
hot_standby = on
CONF
  fi
  if ! replica_running; then
    log "starting the replica on 127.0.0.1:$replica_port"
    as_db_user "$pg_bin/pg_ctl" -D "$replica_data" -l "$replica_data/server.log" -w -t 60 start >/dev/null
  fi
}

stop_replica() {
  if [ -f "$replica_data/PG_VERSION" ] && replica_running; then
    log "stopping the replica"
    as_db_user "$pg_bin/pg_ctl" -D "$replica_data" -m fast -w stop >/dev/null
  fi
}

redis_running() { redis-cli -p "$redis_port" ping >/dev/null 2>&1; }

start_redis() {
  mkdir -p "$redis_dir"
  if ! redis_running; then
    log "starting Redis on 127.0.0.1:$redis_port"
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$redis_dir" \
      --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log" \
      --save "" --appendonly yes --appendfsync everysec
    for _ in $(seq 50); do redis_running && break; sleep 0.1; done
    redis_running || { log "Redis did not start; see $redis_dir/redis.log"; exit 1; }
  fi
}

stop() {
  if [ -f "$pg_data/PG_VERSION" ] && pg_running; then
    log "stopping PostgreSQL"
    as_db_user "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null
  fi
  if redis_running; then
    log "stopping Redis"
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  fi
}

status() {
  pg_running && echo "postgres: running on $pg_port" || echo "postgres: stopped"
  redis_running && echo "redis: running on $redis_port" || echo "redis: stopped"
}

case "${1:-}" in
  install) install ;;
  start) install; start_postgres; start_redis ;;
  stop) stop_replica; stop ;;
  destroy) stop_replica; stop; rm -rf "$pg_data" "$replica_data" "$state" ;;
  replica-start) start_replica ;;
  replica-stop) stop_replica ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|destroy|status|replica-start|replica-stop" >&2; exit 2 ;;
esac
