#!/usr/bin/env bash
# Local services for tests and development. Idempotent: running a subcommand twice is harmless.
#
#   scripts/services.sh postgres   ensure a PostgreSQL server answers; prints `export DATABASE_URL_PG=...`
#   scripts/services.sh redis      ensure a Redis server answers; prints `export REDIS_URL=...`
#   scripts/services.sh stop       stop what this script started (both)
#   scripts/services.sh status     say what is running
#
# Typical use:  eval "$(scripts/services.sh postgres)"; eval "$(scripts/services.sh redis)"
# Only the export lines go to stdout; progress goes to stderr. Missing servers are installed from
# Debian packages when running as root (apt-get update first), and run as local processes with
# their data under var/ -- never the system services.
# Adding a service: write ensure_<name>, stop_<name> and status_<name>, add them to the case below.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="${COACH_VAR_DIR:-$ROOT/var}"

PG_PORT="${PG_PORT:-55432}"
PG_HOST=127.0.0.1
PG_DB=coach
PG_USER=coach
PG_PASSWORD="${PG_PASSWORD:-coach}"
PG_URL="postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB"

log() { echo "services: $*" >&2; }

# --- PostgreSQL -------------------------------------------------------------------------------

pg_bin_dir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then echo "$dir"; return 0; fi
  done
  return 1
}

pg_answers() { # $1: a URL
  local bin
  bin="$(pg_bin_dir)" || return 1
  "$bin/psql" "$1" -Atqc 'select 1' >/dev/null 2>&1
}

# The data directory: var/pg (owned by the postgres user when running as root: postgres refuses
# to run as root), or /tmp when that user cannot reach var/. Remembered once a cluster exists.
pg_data_dir() {
  local recorded="/tmp/coach-pg-$PG_PORT.datadir"
  # A remembered cluster counts only while it still exists (a work tree laid anew loses var/).
  if [[ -s "$recorded" && -s "$(cat "$recorded")/PG_VERSION" ]]; then cat "$recorded"; return; fi
  if [[ $EUID -ne 0 ]]; then echo "$VAR/pg"; return; fi
  mkdir -p "$VAR/pg" && chown postgres: "$VAR/pg" 2>/dev/null || true
  if runuser -u postgres -- test -w "$VAR/pg" 2>/dev/null; then
    echo "$VAR/pg"
  else
    echo "/tmp/coach-pg-$PG_PORT"
  fi
}

as_pg() { # run a command as the user that owns the cluster (postgres refuses to run as root)
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_postgres() {
  if pg_bin_dir >/dev/null; then return 0; fi
  if [[ $EUID -ne 0 ]]; then log "PostgreSQL is not installed and installing needs root"; exit 1; fi
  log "installing PostgreSQL from Debian packages"
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
}

ensure_postgres() {
  if [[ -n "${DATABASE_URL_PG:-}" ]] && pg_answers "$DATABASE_URL_PG"; then
    log "DATABASE_URL_PG already answers"
    echo "export DATABASE_URL_PG=$DATABASE_URL_PG"
    return 0
  fi
  if pg_answers "$PG_URL"; then
    echo "export DATABASE_URL_PG=$PG_URL"
    return 0
  fi
  install_postgres
  local bin data
  bin="$(pg_bin_dir)"
  if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  data="$(pg_data_dir)"
  if [[ ! -s "$data/PG_VERSION" ]]; then
    log "creating a cluster in $data"
    mkdir -p "$data"
    [[ $EUID -eq 0 ]] && chown postgres: "$data"
    chmod 700 "$data"
    local pwfile
    pwfile="$(mktemp)"
    echo "$PG_PASSWORD" >"$pwfile"
    [[ $EUID -eq 0 ]] && chown postgres: "$pwfile"
    as_pg "$bin/initdb" -D "$data" -U "$PG_USER" --pwfile="$pwfile" -A scram-sha-256 -E UTF8 >&2
    rm -f "$pwfile"
  fi
  if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "starting PostgreSQL on $PG_HOST:$PG_PORT"
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-c listen_addresses=$PG_HOST -c port=$PG_PORT -c unix_socket_directories=$data -c max_connections=200 -c fsync=off" \
      start >&2
  fi
  echo "$data" >"/tmp/coach-pg-$PG_PORT.datadir"
  if ! PGPASSWORD="$PG_PASSWORD" "$bin/psql" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -Atqc \
      "select 1 from pg_database where datname = '$PG_DB'" | grep -q 1; then
    PGPASSWORD="$PG_PASSWORD" "$bin/createdb" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$PG_DB"
  fi
  pg_answers "$PG_URL" || { log "PostgreSQL started but does not answer at $PG_URL"; exit 1; }
  echo "export DATABASE_URL_PG=$PG_URL"
}

stop_postgres() {
  local bin data
  bin="$(pg_bin_dir)" || return 0
  [[ -s "/tmp/coach-pg-$PG_PORT.datadir" ]] || return 0  # nothing started here
  data="$(cat "/tmp/coach-pg-$PG_PORT.datadir")"
  if [[ -s "$data/PG_VERSION" ]] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >&2
    log "PostgreSQL stopped"
  fi
}

status_postgres() {
  if pg_answers "$PG_URL"; then log "postgres: up at $PG_URL"; else log "postgres: down"; fi
}

# --- Redis ------------------------------------------------------------------------------------

REDIS_PORT="${REDIS_PORT:-56379}"
REDIS_HOST=127.0.0.1
REDIS_URL_LOCAL="redis://$REDIS_HOST:$REDIS_PORT/0"
REDIS_DIR="$VAR/redis"

redis_answers() { # $1: a URL
  command -v redis-cli >/dev/null 2>&1 || return 1
  [[ "$(redis-cli -u "$1" ping 2>/dev/null)" == "PONG" ]]
}

install_redis() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then return 0; fi
  if [[ $EUID -ne 0 ]]; then log "Redis is not installed and installing needs root (apt-get install redis-server)"; exit 1; fi
  log "installing Redis from Debian packages"
  apt-get update >&2
  # policy-rc.d keeps the package's own system service from starting: we run our own instance.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >$policy; chmod +x $policy; created_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >&2 || {
    [[ $created_policy -eq 1 ]] && rm -f $policy; exit 1; }
  [[ $created_policy -eq 1 ]] && rm -f $policy
  return 0
}

ensure_redis() {
  if [[ -n "${REDIS_URL:-}" ]] && redis_answers "$REDIS_URL"; then
    log "REDIS_URL already answers"
    echo "export REDIS_URL=$REDIS_URL"
    return 0
  fi
  if redis_answers "$REDIS_URL_LOCAL"; then
    echo "export REDIS_URL=$REDIS_URL_LOCAL"
    return 0
  fi
  install_redis
  mkdir -p "$REDIS_DIR"
  log "starting Redis on $REDIS_HOST:$REDIS_PORT (data in $REDIS_DIR)"
  # No persistence: the lock store holds only short-lived locks. Runs as the calling user.
  redis-server --bind "$REDIS_HOST" --port "$REDIS_PORT" --daemonize yes \
    --pidfile "$REDIS_DIR/redis-$REDIS_PORT.pid" --logfile "$REDIS_DIR/redis-$REDIS_PORT.log" --dir "$REDIS_DIR" \
    --save "" --appendonly no --protected-mode yes >&2
  local i
  for i in $(seq 1 100); do
    redis_answers "$REDIS_URL_LOCAL" && break
    sleep 0.1
  done
  redis_answers "$REDIS_URL_LOCAL" || { log "Redis started but does not answer at $REDIS_URL_LOCAL; see $REDIS_DIR/redis-$REDIS_PORT.log"; exit 1; }
  echo "$REDIS_DIR" >"/tmp/coach-redis-$REDIS_PORT.dir"
  echo "export REDIS_URL=$REDIS_URL_LOCAL"
}

stop_redis() {
  [[ -s "/tmp/coach-redis-$REDIS_PORT.dir" ]] || return 0  # nothing started here
  local dir pid i
  dir="$(cat "/tmp/coach-redis-$REDIS_PORT.dir")"
  pid="$(cat "$dir/redis-$REDIS_PORT.pid" 2>/dev/null || true)"
  if redis_answers "$REDIS_URL_LOCAL"; then
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill "$pid"
  fi
  redis_answers "$REDIS_URL_LOCAL" || log "Redis stopped"
  rm -f "/tmp/coach-redis-$REDIS_PORT.dir"
}

status_redis() {
  if redis_answers "$REDIS_URL_LOCAL"; then log "redis: up at $REDIS_URL_LOCAL"; else log "redis: down"; fi
}

# --- dispatch ----------------------------------------------------------------------------------

case "${1:-}" in
  postgres) ensure_postgres ;;
  redis) ensure_redis ;;
  stop) stop_postgres; stop_redis ;;
  status) status_postgres; status_redis ;;
  *) echo "usage: $0 {postgres|redis|stop|status}" >&2; exit 2 ;;
esac
