#!/usr/bin/env bash
# Make PostgreSQL (127.0.0.1:5432, user postgres, password postgres) and Redis (127.0.0.1:6379)
# reachable for the test suite: start whatever is installed but stopped. Safe to run repeatedly.
set -euo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do
    listening "$port" && return 0
    sleep 0.5
  done
  echo "$name did not start listening on 127.0.0.1:$port" >&2
  return 1
}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if ! listening 5432; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    echo "PostgreSQL is not installed; run scripts/install-system-packages.sh" >&2
    exit 1
  fi
  echo "Starting PostgreSQL $version"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for 5432 PostgreSQL
fi

# A fresh Debian cluster asks TCP clients for a password; give the postgres role the one the
# test URL uses. (Where the server trusts local TCP connections this changes nothing.)
as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$*"; else sudo -u postgres sh -c "$*"; fi; }
if command -v psql >/dev/null \
  && ! PGPASSWORD=postgres PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -U postgres -d postgres -qtAc "select 1" >/dev/null 2>&1; then
  as_postgres "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\""
fi

if ! listening 6379; then
  echo "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for 6379 Redis
fi
echo "PostgreSQL and Redis are reachable on 127.0.0.1."
