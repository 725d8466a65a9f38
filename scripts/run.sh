#!/usr/bin/env bash
# Installs what is missing, builds, starts a local rendezvous server on
# 127.0.0.1:8470 (unless one already answers there) and starts Pinhole:
#   scripts/run.sh                  the app (pinhole-cli host without a display)
#   scripts/run.sh --profile NAME   a second app window with its own identity,
#                                   to chat with yourself
#   scripts/run.sh host             pinhole-cli: host a chat and print its code
#   scripts/run.sh join CODE        pinhole-cli: join the chat with that code
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PINHOLE_BUILD_DIR:-$top/_build}
url=${PINHOLE_RENDEZVOUS:-http://127.0.0.1:8470}

"$top/scripts/install-deps.sh"
# The build a user runs carries no test hooks (scripts/test.sh turns them on).
PINHOLE_BUILD_DIR=$build "$top/scripts/build.sh" -Dtest_hooks=false >/dev/null

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
# The app's settings schema is compiled into the build tree.
export GSETTINGS_SCHEMA_DIR=$build/data

has_display() { [[ -n ${WAYLAND_DISPLAY:-} || -n ${DISPLAY:-} ]]; }

if [[ ${1:-} == host || ${1:-} == join ]]; then
  "$build/src/cli/pinhole-cli" "$@"
elif [[ -x $build/src/gui/pinhole ]] && has_display; then
  if (($# == 0)); then
    echo "Pinhole is starting. To chat with yourself, open a second window in another"
    echo "terminal with: scripts/run.sh --profile second"
  fi
  "$build/src/gui/pinhole" "$@"
else
  echo "No display: starting a chat in the terminal. Join it from a second terminal"
  echo "with: scripts/run.sh join CODE"
  "$build/src/cli/pinhole-cli" host
fi
