#!/usr/bin/env bash
# The official postgres image's start-up contract, reduced to what compose files use: on an
# empty PGDATA, initdb as POSTGRES_USER (password POSTGRES_PASSWORD, scram-sha-256 for remote
# hosts), create POSTGRES_DB; then exec the server listening on every interface.
set -euo pipefail
if [[ "${1:-}" != "postgres" ]]; then exec "$@"; fi
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=${POSTGRES_USER}}"
if [[ -z "${POSTGRES_PASSWORD:-}" && "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]]; then
  echo "Error: POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
  exit 1
fi
if [[ ! -s "${PGDATA}/PG_VERSION" ]]; then
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"${pwfile}"
  initdb --username="${POSTGRES_USER}" --pwfile="${pwfile}" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 -D "${PGDATA}" >/dev/null
  rm -f "${pwfile}"
  printf 'host all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"${PGDATA}/pg_hba.conf"
  pg_ctl -D "${PGDATA}" -o "-c listen_addresses=''" -w start >/dev/null
  if [[ "${POSTGRES_DB}" != postgres ]]; then
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname postgres \
      -c "CREATE DATABASE \"${POSTGRES_DB}\"" >/dev/null
  fi
  pg_ctl -D "${PGDATA}" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi
exec postgres -c listen_addresses='*' "${@:2}"
