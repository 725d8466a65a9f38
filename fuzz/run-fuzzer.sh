#!/bin/sh
# Runs a libFuzzer target on a throw-away copy of its checked-in corpus, so
# that inputs it finds never change the repository. Crash inputs go to the
# current directory (meson runs tests in the build directory).
# Usage: run-fuzzer.sh TARGET CORPUS-DIR [libFuzzer options…]
set -eu
target=$1
corpus=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$corpus"/. "$work"/
"$target" "$@" -artifact_prefix="$PWD/$(basename "$target")-" "$work"
