#!/usr/bin/env bash
# `make run`: Backchannel's production topology on this machine, pointed at the local X sandbox.
#
# uvicorn (HTTP and websockets), a Celery worker (both queues), Celery beat and the X sandbox run under
# honcho (config/Procfile), on PostgreSQL and Redis like any deployment; a last process connects the demo
# account to the sandbox and prints what to do next. Ctrl-C stops them all. Everything is kept between
# runs: the database, the sandbox's world (sandbox.sqlite3), the connection and the sessions.
#
# PostgreSQL and Redis must be reachable (`make run` installs and starts them: scripts/ensure-services.sh).
# Every setting below can be given in the environment, which is how the browser test runs a second stack on
# free ports and a database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${VENV:-.venv}
[[ $venv = /* ]] || venv="$PWD/$venv"
export PATH="$venv/bin:$PATH"
export HOST=${HOST:-127.0.0.1} PORT=${PORT:-8000} SANDBOX_PORT=${SANDBOX_PORT:-8765}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/backchannel}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export DJANGO_DEBUG=${DJANGO_DEBUG:-1}
export X_SANDBOX_DB=${X_SANDBOX_DB:-$PWD/sandbox.sqlite3}
export QUICKSTART_STATE=${QUICKSTART_STATE:-$PWD/.quickstart}
mkdir -p "$QUICKSTART_STATE"

# The app talks to the sandbox as it would to X, with the sandbox app's credentials.
sandbox="http://$HOST:$SANDBOX_PORT"
export X_API_BASE_URL="$sandbox" X_AUTHORIZE_URL="$sandbox/i/oauth2/authorize"
export X_CLIENT_ID=${X_CLIENT_ID:-sandbox-client-id} X_CLIENT_SECRET=${X_CLIENT_SECRET:-sandbox-client-secret}
export X_CONSUMER_KEY=${X_CONSUMER_KEY:-sandbox-consumer-key}
export X_CONSUMER_SECRET=${X_CONSUMER_SECRET:-sandbox-consumer-secret}
export X_BEARER_TOKEN=${X_BEARER_TOKEN:-sandbox-app-bearer-$X_CLIENT_ID}
export X_WEBHOOK_URL=${X_WEBHOOK_URL:-http://$HOST:$PORT/twitter/webhook/}
export PYTHONUNBUFFERED=1

python scripts/ensure_database.py
python manage.py migrate --noinput
python manage.py seed_demo
# honcho sets PORT for each process (a Procfile convention): the app's own goes as APP_PORT.
export APP_PORT=$PORT
exec honcho start --no-colour -f config/Procfile -d .
