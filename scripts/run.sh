#!/usr/bin/env bash
# Installs what is missing, builds, starts a local rendezvous server on
# 127.0.0.1:8470 (unless one already answers there) and starts a chat:
#   scripts/run.sh            host a chat and print its code
#   scripts/run.sh join CODE  join the chat with that code (in a second terminal)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PINHOLE_BUILD_DIR:-$top/_build}
url=${PINHOLE_RENDEZVOUS:-http://127.0.0.1:8470}

"$top/scripts/install-deps.sh"
PINHOLE_BUILD_DIR=$build "$top/scripts/build.sh" >/dev/null

server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT

if ! curl -fsS "$url/v1/health" >/dev/null 2>&1; then
  hostport=${url#http://}
  "$build/src/server/pinhole-rendezvous" --listen "${hostport%:*}" --port "${hostport##*:}" &
  server_pid=$!
  for _ in $(seq 50); do
    curl -fsS "$url/v1/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

export PINHOLE_RENDEZVOUS=$url
if (($# == 0)); then
  echo "Starting a chat. In a second terminal, join it with: scripts/run.sh join CODE"
  "$build/src/cli/pinhole-cli" host
else
  "$build/src/cli/pinhole-cli" "$@"
fi
