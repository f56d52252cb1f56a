#!/usr/bin/env bash
# Builds the release tree (build/) and runs the micro-benchmarks: the console table on stdout,
# JSON in bench/results/micro.json. Arguments go to the benchmark binary, e.g.
#   bench/micro/run.sh --benchmark_filter=SegmentTcp --benchmark_repetitions=5
set -euo pipefail
cd "$(dirname "$0")/../.."

# scripts/build.sh release builds every target of build/, the benchmark binary included.
bash scripts/build.sh release
bin=build/bench/micro/uplinkd_micro_bench
if [ ! -x "$bin" ]; then
  echo "run.sh: $bin was not built; is build/ configured with -DUPLINKD_BENCHMARKS=OFF?" >&2
  exit 1
fi

out=bench/results/micro.json
mkdir -p "$(dirname "$out")"
"$bin" --benchmark_out="$out" --benchmark_out_format=json "$@"

# A benchmark whose result check fails is reported as an error, but the binary still exits 0.
if grep -q '"error_occurred": true' "$out"; then
  echo "run.sh: a benchmark reported an error (ERROR OCCURRED above; details in $out)" >&2
  exit 1
fi
echo "run.sh: results in $out"
