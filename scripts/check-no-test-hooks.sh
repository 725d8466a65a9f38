#!/usr/bin/env bash
# Checks that a build configured without -Dtest_hooks ships no test hook:
# no executable or library under BUILD/src names a PINHOLE_TEST_ variable.
# Usage: check-no-test-hooks.sh BUILD_DIR
set -euo pipefail
build=$1

if grep -q "PH_TEST_HOOKS 1\|#define PH_TEST_HOOKS$" "$build/config.h"; then
  echo "check-no-test-hooks: $build was configured with -Dtest_hooks=true" >&2
  exit 1
fi
binaries=$(find "$build/src" -type f \( -perm -u+x -o -name '*.a' -o -name '*.so*' \) ! -name '*.p')
count=0
for binary in $binaries; do
  [[ -f $binary ]] || continue
  count=$((count + 1))
  if strings -a "$binary" | grep -n PINHOLE_TEST_; then
    echo "check-no-test-hooks: $binary carries test hooks" >&2
    exit 1
  fi
done
if ((count == 0)); then
  echo "check-no-test-hooks: no binaries under $build/src" >&2
  exit 1
fi
echo "check-no-test-hooks: $count binaries, no PINHOLE_TEST_ name in any"
