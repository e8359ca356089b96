#!/usr/bin/env bash
# Builds the libFuzzer targets (scripts/build.sh fuzz) and runs each for a
# fixed time, starting from its committed seed corpus. Fails on the first
# crash, sanitizer report, leak or timeout; the input that caused it is left
# in build/fuzz/artifacts/ (commit it under tests/fuzz/regressions/TARGET/ or
# policies/fuzz/regressions/ with the fix: fuzz_regression_test replays it).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Prints the executions of each target; a summary goes to
# build/fuzz/fuzz-summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true
declare -A corpus=(
  [policy_fuzz]=policies/fuzz/corpus/policy
  [condition_fuzz]=policies/fuzz/corpus/condition
  [api_fuzz]=tests/fuzz/corpus/api
  [http_fuzz]=tests/fuzz/corpus/http
  [jsonl_fuzz]=tests/fuzz/corpus/jsonl
  [changeset_fuzz]=tests/fuzz/corpus/changeset
)
declare -A binary=(
  [policy_fuzz]=build/fuzz/policies/fuzz/policy_fuzz
  [condition_fuzz]=build/fuzz/policies/fuzz/condition_fuzz
  [api_fuzz]=build/fuzz/tests/fuzz/api_fuzz
  [http_fuzz]=build/fuzz/tests/fuzz/http_fuzz
  [jsonl_fuzz]=build/fuzz/tests/fuzz/jsonl_fuzz
  [changeset_fuzz]=build/fuzz/tests/fuzz/changeset_fuzz
)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(policy_fuzz condition_fuzz api_fuzz http_fuzz jsonl_fuzz changeset_fuzz)
# portcullis_cli too: no fuzz target links it, and this Clang build is the
# one that checks every library's locking (-Wthread-safety).
scripts/build.sh fuzz "${targets[@]}" portcullis_cli
mkdir -p build/fuzz/artifacts
summary=build/fuzz/fuzz-summary.txt
: > "$summary"
for t in "${targets[@]}"; do
  work="build/fuzz/corpus/$t"
  mkdir -p "$work"
  log="build/fuzz/$t.log"
  echo "-- $t: ${seconds} s"
  if ! ASAN_OPTIONS=detect_leaks=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=tests/fuzz/ubsan.supp \
      "${binary[$t]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$t-" \
      "$work" "${corpus[$t]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "FAIL: $t found a crash; see build/fuzz/artifacts/ and $log" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | grep -o '[0-9]*' || echo "?")
  echo "$t: $runs executions in ${seconds} s, coverage $cov edges" | tee -a "$summary"
done
