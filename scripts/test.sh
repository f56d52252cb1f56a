#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every check, one function per CI stage:
#   fuzz     clang (-Werror) builds everything but the integration tests, with ASan+UBSan and
#            fuzzer coverage; the fuzzers run for a bounded time, then the unit tests of that build
#            (the second compiler's check costs one build, shared with the fuzzers)
#   asan     GCC ASan+UBSan build: unit and integration tests
#   tsan     GCC ThreadSanitizer build: the engine, worker, buffer and driver tests
#   release  GCC Release build (-Werror): every test
# Usage: scripts/test.sh [STAGE ...] (default: all of them, in that order). Needs root (the
# integration tests build their own network namespaces). Never touches the machine's own
# interfaces. FUZZ_SECONDS changes the fuzzing time per target (default 30).
# The last line is always "tests: N passed, N failed, N skipped"; any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: run as root (the integration tests create network namespaces)" >&2
  exit 1
fi

passed=0
failed=0
skipped=0
stage=setup
# Every exit prints the totals; a failure outside ctest (a build, a fuzzer) still counts as one,
# so the line never says "0 failed" on a red run.
finish() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "test.sh: stage '$stage' failed (exit $rc)" >&2
    failed=1
  fi
  echo "tests: $passed passed, $failed failed, $skipped skipped"
  if [ "$failed" -ne 0 ] && [ "$rc" -eq 0 ]; then rc=1; fi
  exit "$rc"
}
trap finish EXIT

# Shows a failing input so it can be reproduced from the CI log alone.
print_reproducer() {
  local target=$1 file=$2
  echo "---- reproducer: $file ($(stat -c %s "$file") bytes); run: build-fuzz/fuzz/$target $file"
  echo "---- hexdump"
  od -A x -t x1z -v "$file"
  echo "---- base64 (decode with: base64 -d > input)"
  base64 -w 76 "$file"
}

# Each fuzz target counts as one test: any finding (crash, leak, timeout, OOM) fails it.
run_fuzzer() {
  local target=$1 corpus artifacts log rc=0
  corpus=$(mktemp -d)
  artifacts=build-fuzz/artifacts/$target
  log=build-fuzz/artifacts/$target.log
  rm -rf "$artifacts"
  mkdir -p "$artifacts"
  cp fuzz/corpus/"$target"/* "$corpus"/
  ./build-fuzz/fuzz/"$target" -max_total_time="${FUZZ_SECONDS:-30}" -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || rc=$?
  rm -rf "$corpus"
  grep -E "stat::number_of_executed_units|Done " "$log" || true
  local found
  found=$(find "$artifacts" -type f | sort)
  if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
    passed=$((passed + 1))
    return
  fi
  failed=$((failed + 1))
  echo "test.sh: FUZZER FAILED: $target exited $rc; its report:"
  # The report starts at the first sanitizer or libFuzzer error line (before it: corpus loading).
  awk '/==[0-9]+==|runtime error|ERROR: libFuzzer|^ALARM/{on=1} on' "$log" | head -200
  local f
  for f in $found; do print_reproducer "$target" "$f"; done
  if [ -z "$found" ]; then echo "test.sh: $target left no input file; full log in $log"; fi
  exit 1
}

# Runs ctest and adds its counts to the totals. ctest counts a skipped test as passed in its
# summary line, so skips are taken from its "did not run" list, and their reasons (the
# GTEST_SKIP() message) are printed from its log.
run_ctest() {
  local dir=. prev=
  for a in "$@"; do
    if [ "$prev" = --test-dir ]; then dir=$a; fi
    prev=$a
  done
  local log rc=0
  log=$(mktemp)
  ctest --output-on-failure "$@" 2>&1 | tee "$log" || rc=$?
  local line total fails skips
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1 || true)
  skips=$(grep -cE "^[[:space:]]+[0-9]+ - .* \(Skipped\)$" "$log" || true)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "test.sh: ctest $* ran no test" >&2
    exit 1
  fi
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  fails=$(sed -E 's/.*, ([0-9]+) tests failed.*/\1/' <<<"$line")
  passed=$((passed + total - fails - skips))
  failed=$((failed + fails))
  skipped=$((skipped + skips))
  if [ "$skips" -ne 0 ]; then
    echo "== $skips test(s) SKIPPED, with their reasons:"
    awk '/^[0-9]+\/[0-9]+ Test: /{name=$3}
         /: Skipped$/{on=1; print "  SKIPPED " name ": " $0; next}
         /^\[  SKIPPED \]/{on=0}
         on{print "    " $0}' "$dir/Testing/Temporary/LastTest.log" ||
      echo "test.sh: no $dir/Testing/Temporary/LastTest.log to read the reasons from" >&2
  fi
  if [ "$rc" -ne 0 ] || [ "$fails" -ne 0 ]; then
    exit 1
  fi
}

stage_fuzz() {
  stage=fuzz
  echo "== clang build (-Werror, ASan+UBSan, fuzzer coverage): everything but the integration tests"
  bash scripts/build.sh fuzz
  echo "== fuzzing the parsers and the offload code (${FUZZ_SECONDS:-30} s each)"
  for target in startup_conf_fuzz cli_fuzz gso_fuzz gro_fuzz; do
    run_fuzzer "$target"
  done
  echo "== unit tests of the clang build"
  run_ctest --test-dir build-fuzz -j 2 -L unit
}

stage_asan() {
  stage=asan
  echo "== ASan+UBSan build: unit and integration tests"
  bash scripts/build.sh asan
  run_ctest --test-dir build-asan -j 2 -L unit
  run_ctest --test-dir build-asan -L integration
}

# Only the tests with threads of ours (the tsan_tests target: engine and workers, buffer pool,
# af_packet/af_xdp/tap drivers) in a Debug -O1 build, so UPLINKD_DCHECK checks too. Any race
# report fails its test (TSan exits non-zero); ours are fixed, never suppressed.
stage_tsan() {
  stage=tsan
  echo "== ThreadSanitizer build: engine, worker, buffer and driver tests"
  bash scripts/build.sh tsan
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
  run_ctest --test-dir build-tsan -j 2 -R '^tsan\.' -L unit
  run_ctest --test-dir build-tsan -R '^tsan\.' -L integration
  unset TSAN_OPTIONS
}

stage_release() {
  stage=release
  echo "== release build: every test"
  bash scripts/build.sh release
  run_ctest --test-dir build -j 2 -L unit
  run_ctest --test-dir build -L integration
}

bash scripts/install-deps.sh
export UPLINKD_REQUIRE_INTEGRATION=1  # a namespace test that cannot run fails, never skips
stages=("$@")
if [ ${#stages[@]} -eq 0 ]; then stages=(fuzz asan tsan release); fi
for s in "${stages[@]}"; do
  case "$s" in
    fuzz | asan | tsan | release) "stage_$s" ;;
    *) echo "test.sh: unknown stage '$s' (fuzz, asan, tsan, release)" >&2; exit 2 ;;
  esac
done
stage=done
echo "== all stages passed: ${stages[*]}"
