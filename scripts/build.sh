#!/usr/bin/env bash
# Configures and builds one flavour of uplinkd. Usage: scripts/build.sh [release|asan|tsan|fuzz]
#   release: build/       everything, Release (-O3), GCC
#   asan:    build-asan/  ASan+UBSan, unit and integration tests, GCC
#   tsan:    build-tsan/  ThreadSanitizer, Debug at -O1, only the threaded tests (tsan_tests)
#   fuzz:    build-fuzz/  clang: every target (no integration tests) with ASan+UBSan and
#                         libFuzzer coverage, the libFuzzer targets included
# Warnings are errors in all of them (UPLINKD_WERROR): these are the project's own builds, on
# the compilers CI checks. A plain cmake configure leaves -Werror off.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
jobs=$(nproc)
case "$flavour" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DUPLINKD_SANITIZE=ON) ;;
  tsan) dir=build-tsan; args=(-DCMAKE_BUILD_TYPE=Debug -DUPLINKD_TSAN=ON "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1") ;;
  fuzz) dir=build-fuzz; args=(-DCMAKE_BUILD_TYPE=Debug -DUPLINKD_FUZZ=ON
                               -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: $0 [release|asan|tsan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja -DUPLINKD_WERROR=ON "${args[@]}" >/dev/null
if [ "$flavour" = tsan ]; then
  ninja -C "$dir" -j "$jobs" tsan_tests
else
  ninja -C "$dir" -j "$jobs"
fi
echo "build.sh: $flavour build ready in $dir/"
