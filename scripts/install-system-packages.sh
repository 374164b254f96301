#!/usr/bin/env bash
# Debian packages the test suite needs: Chromium for the browser tests (not for `make run`:
# WITHOUT_CHROMIUM=1), and PostgreSQL and Redis when they are neither installed nor already listening on
# 127.0.0.1.
set -euo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

need=()
if [ "${WITHOUT_CHROMIUM:-0}" != "1" ]; then  # `make run` needs no browser
  [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || command -v chromium >/dev/null || need+=(chromium)
fi
if ! listening 5432 && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  need+=(postgresql)
fi
if ! listening 6379 && ! command -v redis-server >/dev/null; then
  need+=(redis-server)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing Debian packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
