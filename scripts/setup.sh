#!/usr/bin/env bash
# Everything a fresh machine needs before `npm start` or `npm test`: memcached (Debian's package)
# and the npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v memcached >/dev/null 2>&1; then
  echo "setup: installing memcached"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -y -qq
  $sudo_cmd apt-get install -y -qq memcached >/dev/null
fi
memcached -V

if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup: installing redis-server"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -y -qq
  $sudo_cmd apt-get install -y -qq redis-server >/dev/null
fi
redis-server --version

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund
fi
