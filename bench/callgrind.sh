#!/usr/bin/env bash
# Instructions per forwarded frame in the engine's worker, counted by callgrind on a fixed
# synthetic run (bench/micro/xconnect_count.cc: an l2 xconnect between two in-memory interfaces,
# 64-byte frames, bursts of 256). Unlike time, the count is the same from run to run (within
# ~1%: the few empty polls between rounds). Prints it and writes bench/results/callgrind.json (or --out).
# Usage: bench/callgrind.sh [--build-dir DIR] [--frames N] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=build; frames=500000; json=bench/results/callgrind.json
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --frames) frames=$2; shift ;;
    --out) json=$2; shift ;;
    *) echo "bench/callgrind.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
bin=$build_dir/bench/micro/uplinkd_xconnect_count
[ -x "$bin" ] || { echo "bench/callgrind.sh: $bin missing (build first)" >&2; exit 1; }
out=$(mktemp /tmp/uplinkd-callgrind.XXXXXX)
trap 'rm -f "$out"' EXIT
# Only the worker's per-burst function and what it calls: setup, queueing and teardown are out.
valgrind --tool=callgrind --toggle-collect='uplinkd::Worker::ProcessQueue*' \
  --callgrind-out-file="$out" "$bin" "$frames" >/dev/null 2>&1
total=$(sed -n 's/^summary: //p' "$out")
per=$(awk -v t="$total" -v n="$frames" 'BEGIN { printf "%.1f", t / n }')
echo "engine l2 xconnect (mem interfaces, 64-byte frames, bursts of 256):" \
     "$per instructions per forwarded frame ($total for $frames frames)"
mkdir -p "$(dirname "$json")"
jq -n --argjson frames "$frames" --argjson total "$total" --argjson per "$per" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  '{commit: $commit, run: "engine l2 xconnect, mem interfaces, 64-byte frames, bursts of 256",
    frames: $frames, instructions: $total, instructions_per_frame: $per}' \
  > "$json"
