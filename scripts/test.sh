#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs every
# test suite: the plain build, then AddressSanitizer+UBSan, then valgrind,
# then the fuzz targets built with clang.
# Ends with one line "N passed, N failed" and fails when any test failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/scripts/install-deps.sh" || exit 1

passed=0
failed=0
status=0
# What failed, with the end of its output, printed again last: CI keeps
# only the tail of a long run.
digest=$(mktemp)
trap 'rm -f "$digest"' EXIT

# Appends what did not pass in the run just made to $digest.
digest_failures() {
  local json=$1 label=$2 build=$3
  [[ -f $json ]] || return 0
  python3 "$top/scripts/failure-digest.py" "$json" "$label" "$build/tests/natlab-logs" >>"$digest"
}

# Runs `meson test` with the given arguments and adds its counts up.
run_suites() {
  local build=$1 label=$2
  shift 2
  local log json=$build/meson-logs/testlog.json
  [[ " $* " == *" --setup valgrind "* ]] && json=$build/meson-logs/testlog-valgrind.json
  rm -f "$json"
  log=$(mktemp)
  echo "== $label"
  meson test -C "$build" --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local ok fail
  ok=$(sed -nE 's/^Ok:[[:space:]]+([0-9]+).*/\1/p' "$log" | tail -n1)
  # A skipped suite is not a passing one: everything a suite needs is
  # installed, so a skip means it did not run (libFuzzer's 77 once hid a crash).
  fail=$(awk '/^(Fail|Unexpected Pass|Timeout|Skipped):/ { sum += $NF } END { print sum + 0 }' "$log")
  rm -f "$log"
  digest_failures "$json" "$label" "$build"
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0}))
  if ((rc != 0)); then
    status=1
    ((${fail:-0} > 0)) || failed=$((failed + 1))
  fi
}

build_dir() {
  local build=$1
  shift
  if ! PINHOLE_BUILD_DIR=$build "$top/scripts/build.sh" "$@"; then
    echo "test: the build in $build failed" >&2
    echo "--- the build in $build failed (its errors are above)" >>"$digest"
    failed=$((failed + 1))
    status=1
    return 1
  fi
}

if build_dir "$top/_build" -Dwerror=true -Dtest_hooks=true; then
  run_suites "$top/_build" "all suites"
fi

# Sanitizers and valgrind cover the suites that run our own code in-process.
if build_dir "$top/_build-asan" -Dwerror=true -Dtest_hooks=true -Db_sanitize=address,undefined -Db_lundef=false \
     -Dbuildtype=debug -Dgui=disabled; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suites "$top/_build-asan" "AddressSanitizer + UBSan" --suite core --suite server --suite cli --suite security
fi

if [[ -f $top/_build/build.ninja ]]; then
  run_suites "$top/_build" "valgrind" --setup valgrind --suite core --suite server --suite cli --suite security
fi

# libFuzzer targets (fuzz/): each runs 30 s from its checked-in corpus; a
# crash, sanitizer report or leak fails it. clang is one of the project's
# packages, so its absence is a failure, not a skip.
if ! command -v clang >/dev/null; then
  echo "test: clang is missing; scripts/install-deps.sh should have installed it" >&2
  failed=$((failed + 1))
  status=1
elif CC=clang build_dir "$top/_build-fuzz" -Dwerror=true -Dfuzzing=true \
       -Db_sanitize=address,undefined -Db_lundef=false -Dgui=disabled -Dtests=false; then
  run_suites "$top/_build-fuzz" "libFuzzer" --suite fuzz
  # The fuzz build is configured as a user's build is (no -Dtest_hooks):
  # its binaries must not carry a single PINHOLE_TEST_ name.
  echo "== shipped binaries carry no test hooks"
  if "$top/scripts/check-no-test-hooks.sh" "$top/_build-fuzz"; then
    passed=$((passed + 1))
  else
    echo "--- a build without -Dtest_hooks carries PINHOLE_TEST_ names (see above)" >>"$digest"
    failed=$((failed + 1))
    status=1
  fi
fi

if [[ -s $digest ]]; then
  echo
  echo "== what failed"
  cat "$digest"
fi
echo
echo "$passed passed, $failed failed"
exit $status
