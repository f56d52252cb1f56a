#!/usr/bin/env bash
# Configures and builds one flavour of uplinkd. Usage: scripts/build.sh [release|asan|tsan|fuzz]
#   release: build/       everything, RelWithDebInfo (the default)
#   asan:    build-asan/  ASan+UBSan, unit and integration tests
#   tsan:    build-tsan/  ThreadSanitizer, Debug at -O1, only the threaded tests (tsan_tests)
#   fuzz:    build-fuzz/  clang + libFuzzer targets only
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
jobs=$(nproc)
case "$flavour" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DUPLINKD_SANITIZE=ON) ;;
  tsan) dir=build-tsan; args=(-DCMAKE_BUILD_TYPE=Debug -DUPLINKD_TSAN=ON "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1") ;;
  fuzz) dir=build-fuzz; args=(-DCMAKE_BUILD_TYPE=Debug -DUPLINKD_FUZZ=ON
                               -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: $0 [release|asan|tsan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
if [ "$flavour" = fuzz ]; then
  ninja -C "$dir" -j "$jobs" startup_conf_fuzz cli_fuzz gso_fuzz
elif [ "$flavour" = tsan ]; then
  ninja -C "$dir" -j "$jobs" tsan_tests
else
  ninja -C "$dir" -j "$jobs"
fi
echo "build.sh: $flavour build ready in $dir/"
