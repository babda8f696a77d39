#!/usr/bin/env bash
# Local services for tests and development. Idempotent: running a subcommand twice is harmless.
#
#   scripts/services.sh postgres   ensure a PostgreSQL server answers; prints `export DATABASE_URL_PG=...`
#   scripts/services.sh stop       stop what this script started
#   scripts/services.sh status     say what is running
#
# Typical use:  eval "$(scripts/services.sh postgres)"
# Only the export line goes to stdout; progress goes to stderr.
# Adding a service (Redis, later): write ensure_<name> and stop_<name>, add them to the case below.
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
  if [[ -s "$recorded" ]]; then cat "$recorded"; return; fi
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

# --- dispatch ----------------------------------------------------------------------------------

case "${1:-}" in
  postgres) ensure_postgres ;;
  stop) stop_postgres ;;
  status) status_postgres ;;
  *) echo "usage: $0 {postgres|stop|status}" >&2; exit 2 ;;
esac
