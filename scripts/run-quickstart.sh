#!/usr/bin/env bash
# `make run`: the X sandbox and Backchannel side by side, the app pointed at the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
host=${HOST:-127.0.0.1}
port=${PORT:-8000}
sandbox_port=${SANDBOX_PORT:-8765}
sandbox="http://$host:$sandbox_port"

"$python" manage.py runsandbox --host "$host" --port "$sandbox_port" &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 60); do
  if "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "$sandbox/sandbox/api/health" 2>/dev/null; then break; fi
  kill -0 "$sandbox_pid" 2>/dev/null || { echo "The X sandbox did not start." >&2; exit 1; }
  sleep 0.5
done

cat <<MSG

  Backchannel      http://$host:$port/        (admin site: http://$host:$port/admin/)
  X sandbox        $sandbox/   (act as a customer and DM @AcmeSupport)

MSG

export X_API_BASE_URL="$sandbox"
export X_AUTHORIZE_URL="$sandbox/i/oauth2/authorize"
export X_CLIENT_ID=${X_CLIENT_ID:-sandbox-client-id}
export X_CLIENT_SECRET=${X_CLIENT_SECRET:-sandbox-client-secret}
export X_CONSUMER_KEY=${X_CONSUMER_KEY:-sandbox-consumer-key}
export X_CONSUMER_SECRET=${X_CONSUMER_SECRET:-sandbox-consumer-secret}
export X_BEARER_TOKEN=${X_BEARER_TOKEN:-sandbox-app-bearer-$X_CLIENT_ID}
"$python" manage.py runserver "$host:$port"
