#!/usr/bin/env bash
# Configures (once) and builds Pinhole in _build (or $PINHOLE_BUILD_DIR).
# Extra arguments go to `meson setup`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PINHOLE_BUILD_DIR:-$top/_build}

if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" "$top" "$@"
elif (($# > 0)); then
  meson setup --reconfigure "$build" "$top" "$@"
fi
ninja -C "$build"
