#!/usr/bin/env bash
# Idempotent: a local PostgreSQL for the store tests that run on a real server (tests/test_postgres.py).
# Installs postgresql when missing, starts the cluster, creates the role `grader` (may create databases:
# each test makes its own) and prints the URL the tests read from GRADE_TEST_POSTGRES.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
fi
cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1, $2}')
if [ -z "$cluster" ]; then
  pg_createcluster 15 main >/dev/null
  cluster="15 main"
fi
read -r ver name <<<"$cluster"
pg_lsclusters -h | awk -v v="$ver" -v n="$name" '$1==v && $2==n {print $4}' | grep -q online \
  || pg_ctlcluster "$ver" "$name" start >&2
port=$(pg_lsclusters -h | awk -v v="$ver" -v n="$name" '$1==v && $2==n {print $3}')
for _ in $(seq 1 30); do
  su postgres -c "psql -p $port -qtAc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.5
done
su postgres -c "psql -p $port -qtAc \"select 1 from pg_roles where rolname='grader'\"" | grep -q 1 \
  || su postgres -c "psql -p $port -qc \"create role grader login createdb password 'grader'\"" >/dev/null
echo "postgresql+psycopg://grader:grader@127.0.0.1:$port/postgres"
