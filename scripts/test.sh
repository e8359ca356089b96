#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the release build's
# whole suite, then the same suite under AddressSanitizer and
# UndefinedBehaviorSanitizer, then the concurrent tests under ThreadSanitizer,
# then each fuzz target for a fixed time. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
total=0
# Runs ctest with the given arguments and adds its test count to $total.
run_ctest() {
  local log
  log=$(mktemp)
  ctest "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local n
  n=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  rm -f "$log"
  [ "$rc" -eq 0 ] || exit "$rc"
  total=$((total + ${n:-0}))
}
scripts/install-deps.sh

echo "== release build"
scripts/build.sh release
echo "== tests (release)"
run_ctest --test-dir build/release --output-on-failure -j2

echo "== sanitizer build (ASan + UBSan)"
scripts/build.sh asan
echo "== tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest --test-dir build/asan --output-on-failure -j2

echo "== ThreadSanitizer build (concurrent tests only)"
scripts/build.sh tsan concurrent_test
echo "== tests (TSan, label concurrent)"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  run_ctest --test-dir build/tsan --output-on-failure -j1 -L concurrent

echo "== fuzz targets (libFuzzer + ASan + UBSan), ${PORTCULLIS_FUZZ_SECONDS:-30} s each"
scripts/fuzz.sh "${PORTCULLIS_FUZZ_SECONDS:-30}"

# Every stage above exits on the first failure, so reaching here means all
# passed (the fuzz stage counts one per target).
fuzzed=$(grep -c . build/fuzz/fuzz-summary.txt 2>/dev/null) || fuzzed=0
echo "all stages: $((total + fuzzed)) passed, 0 failed"
