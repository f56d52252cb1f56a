# shellcheck shell=bash
# Sourced by bench/run.sh and bench/node.sh after their options: root, the release build (or the
# check that it is there) and where results go.

# $1: the caller's name, for messages. Reads build (1: install the dependencies and build),
# build_dir, smoke and partial; sets BIN, TRAFFIC, UPLINKD, UPLINKCTL and out (bench/results
# for a full run, bench/results/tmp for --smoke or a partial one, made here).
# shellcheck disable=SC2154  # build, build_dir, smoke, partial: the caller's options
bench_prepare() {
  if [ "$(id -u)" -ne 0 ]; then echo "$1: run as root" >&2; exit 1; fi
  if [ "$build" = 1 ]; then
    bash scripts/install-deps.sh
    bash scripts/build.sh release
  fi
  BIN=$(cd "$build_dir" && pwd)
  TRAFFIC=$BIN/bench/traffic/uplinkd-bench-traffic
  UPLINKD=$BIN/src/daemon/uplinkd
  UPLINKCTL=$BIN/src/ctl/uplinkctl
  local f
  for f in "$TRAFFIC" "$UPLINKD" "$UPLINKCTL"; do
    [ -x "$f" ] || { echo "$1: $f missing (build first)" >&2; exit 1; }
  done
  if [ "$smoke" = 1 ] || [ "$partial" = 1 ]; then out=bench/results/tmp; else out=bench/results; fi
  mkdir -p "$out"
}
