#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test: the fuzzers for a bounded time, the
# unit and integration tests under ASan+UBSan, then the whole suite on the release build.
# Needs root (the integration tests build their own network namespaces). Never touches the
# machine's own interfaces. Set FUZZ_SECONDS to change the fuzzing time per target (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: run as root (the integration tests create network namespaces)" >&2
  exit 1
fi
bash scripts/install-deps.sh
export UPLINKD_REQUIRE_INTEGRATION=1  # a namespace test that cannot run fails, never skips

echo "== fuzzing the parsers and the offload code (${FUZZ_SECONDS:-30} s each)"
bash scripts/build.sh fuzz
for target in startup_conf_fuzz cli_fuzz gso_fuzz; do
  corpus=$(mktemp -d)
  cp fuzz/corpus/$target/* "$corpus"/
  ./build-fuzz/fuzz/$target -max_total_time="${FUZZ_SECONDS:-30}" -max_len=4096 \
    -print_final_stats=1 "$corpus" 2>&1 | grep -E "stat::number_of_executed_units|Done|ERROR" || true
  rm -rf "$corpus"
  # A crash leaves a crash-* file and a non-zero exit; run once more on nothing to check status.
  if ls crash-* leak-* timeout-* >/dev/null 2>&1; then
    echo "test.sh: $target found a failing input:" crash-* leak-* timeout-* 2>/dev/null
    exit 1
  fi
done

# Runs ctest and adds its counts to the totals printed at the end.
passed=0
failed=0
run_ctest() {
  local log
  log=$(mktemp)
  local rc=0
  ctest --output-on-failure "$@" 2>&1 | tee "$log" || rc=$?
  local line total fails
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "test.sh: ctest $* ran no test" >&2
    exit 1
  fi
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  fails=$(sed -E 's/.*, ([0-9]+) tests failed.*/\1/' <<<"$line")
  passed=$((passed + total - fails))
  failed=$((failed + fails))
  if [ "$rc" -ne 0 ] || [ "$fails" -ne 0 ]; then
    echo "tests: $passed passed, $failed failed"
    exit 1
  fi
}

echo "== ASan+UBSan build: unit and integration tests"
bash scripts/build.sh asan
run_ctest --test-dir build-asan -j 2 -L unit
run_ctest --test-dir build-asan -L integration

# ---- ThreadSanitizer stage --------------------------------------------------------------
# Only the tests with threads of ours (the tsan_tests target: engine and workers, buffer pool,
# af_packet/af_xdp/tap drivers) in a Debug -O1 build, so UPLINKD_DCHECK checks too. Any race
# report fails its test (TSan exits non-zero); ours are fixed, never suppressed.
echo "== ThreadSanitizer build: engine, worker, buffer and driver tests"
bash scripts/build.sh tsan
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
run_ctest --test-dir build-tsan -j 2 -R '^tsan\.' -L unit
run_ctest --test-dir build-tsan -R '^tsan\.' -L integration
unset TSAN_OPTIONS
# ---- end of the ThreadSanitizer stage --------------------------------------------------

echo "== release build: every test"
bash scripts/build.sh release
run_ctest --test-dir build -j 2 -L unit
run_ctest --test-dir build -L integration
echo "== all tests passed (ASan+UBSan and release builds)"
echo "tests: $passed passed, $failed failed"
