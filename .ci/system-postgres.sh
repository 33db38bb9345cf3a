#!/usr/bin/env bash
# Start this machine's PostgreSQL (if it is installed) and preload pg_stat_statements, for the tests
# marked `system_postgres`. Prints the URL to use on success; prints nothing where there is no server.
set -uo pipefail
command -v pg_ctlcluster >/dev/null 2>&1 || exit 0
ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
[ -n "$ver" ] || exit 0
pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
psql_() { psql -h 127.0.0.1 -U postgres -d postgres -tAc "$1" 2>/dev/null; }
for _ in $(seq 1 30); do psql_ "select 1" >/dev/null && break; sleep 1; done
libs=$(psql_ "show shared_preload_libraries") || exit 0
if [[ "$libs" != *pg_stat_statements* ]]; then
  new="pg_stat_statements"; [ -n "$libs" ] && new="$libs,pg_stat_statements"
  psql_ "ALTER SYSTEM SET shared_preload_libraries = '$new'" >/dev/null
  pg_ctlcluster --skip-systemctl-redirect "$ver" main restart >/dev/null 2>&1
  for _ in $(seq 1 30); do psql_ "select 1" >/dev/null && break; sleep 1; done
fi
psql_ "select 1" >/dev/null && echo "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
