#!/usr/bin/env bash
# The benchmark harness: uplinkd against the kernel and the limit of the path, in one run, on one
# topology, with fixed placements; reports Mpps and ratios to each anchor.
#
#   gen ns [gen0] ==veth== [dut0] DUT ns [dut1] ==veth== [sink0] sink ns
#
# The generator (an XDP program run by BPF_PROG_RUN with live frames, bench/traffic) is pinned to
# GEN_CPU; the DUT's forwarding thread (uplinkd's worker) to DUT_CPU; the NAPI work of the DUT's
# ingress veth runs threaded, pinned to NAPI_CPU (default: the generator's; this placement
# changes results up to 5x, so it is fixed and reported). A series marked @dut runs it on the
# DUT's CPU instead: the DUT then shares its core with the kernel's receive work. The sink
# counts in XDP and drops.
#
# Rows: anchors xdp-redirect, linux-fwd, linux-bridge, testpmd-af_packet, testpmd-af_xdp
# (dpdk-testpmd io forwarding over net_af_packet / net_af_xdp vdevs); uplinkd-af_packet,
# uplinkd-af_xdp-{polling,interrupt,adaptive} and uplinkd-dpdk-{af_packet,af_xdp} (uplinkd's
# dpdk driver over the testpmd rows' vdevs), all L2 cross-connects.
# Usage: bench/run.sh [--smoke] [--no-build] [--build-dir DIR] [--series LIST] [--seconds S]
#                     [--repeats N] [--rows a,b]
#   --series: frame sizes and IP versions, e.g. 64/4,512/4,1500/4,66/6,64/4@dut (the default;
#   sizes on the wire, FCS included; 66 bytes is the smallest IPv6 UDP frame; @dut: the DUT's
#   ingress NAPI on the DUT's CPU).
#   --smoke: 1 s per row, once, results in bench/results/tmp/; fails unless every row measured
#   something (CI runs this). A full run (default rows and series) writes
#   bench/results/latest.{md,json,png}; a partial one (--rows, --series) bench/results/tmp/.
#   --verbose: after each uplinkd row, its `show runtime`, `show errors` and hardware counters.
# Environment: GEN_CPU (0), DUT_CPU (1), NAPI_CPU (GEN_CPU). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0; verbose=0; partial=0; build=1; build_dir=build; series="64/4,512/4,1500/4,66/6,64/4@dut"; seconds=10; warmup=1; repeats=3
rows="xdp-redirect,linux-fwd,linux-bridge,testpmd-af_packet,testpmd-af_xdp,uplinkd-af_packet,uplinkd-af_xdp-polling,uplinkd-af_xdp-interrupt,uplinkd-af_xdp-adaptive,uplinkd-dpdk-af_packet,uplinkd-dpdk-af_xdp"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1; seconds=1; warmup=0.3; repeats=1; series="64/4,66/6,64/4@dut" ;;
    --no-build) build=0 ;;
    --build-dir) build_dir=$2; build=0; shift ;;
    --series) series=$2; partial=1; shift ;;
    --verbose) verbose=1 ;;
    --seconds) seconds=$2; shift ;;
    --repeats) repeats=$2; shift ;;
    --rows) rows=$2; partial=1; shift ;;
    *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
GEN_CPU=${GEN_CPU:-0}; DUT_CPU=${DUT_CPU:-1}; NAPI_CPU=${NAPI_CPU:-$GEN_CPU}
. bench/common.sh
bench_prepare bench/run.sh

tag=$$
G=ubench-gen-$tag; D=ubench-dut-$tag; S=ubench-sink-$tag
work=$(mktemp -d /tmp/uplinkd-bench.XXXXXX)
dut_pid=
cleanup() {
  [ -n "$dut_pid" ] && kill -9 "$dut_pid" 2>/dev/null || true
  for ns in $G $D $S; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

mac() { ip -n "$1" -j link show "$2" | jq -r '.[0].address'; }
in_dut() { ip netns exec "$D" "$@"; }

# The topology, made afresh for every row so no row inherits another's settings.
make_topology() {
  for ns in $G $D $S; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip -n "$G" link add gen0 type veth peer name dut0 netns "$D"
  ip -n "$D" link add dut1 type veth peer name sink0 netns "$S"
  for x in "$G gen0" "$D dut0" "$D dut1" "$S sink0"; do
    set -- $x
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$1" link set "$2" up
  done
  GEN_MAC=$(mac "$G" gen0); DUT0_MAC=$(mac "$D" dut0); SINK_MAC=$(mac "$S" sink0)
  # The generator redirects into gen0: its peer dut0 needs NAPI (GRO, or an XDP program).
  in_dut ethtool -K dut0 gro on >/dev/null
}

# The DUT's ingress veth (dut0) does its NAPI work in a thread pinned to NAPI_CPU (default: the
# generator's), so that cost is the same for every row and never lands on the DUT's core. The
# rest stays softirq work on the CPU that raises it (the sink's on the DUT's core: the cost of
# transmitting is the DUT's). Called once the DUT is up (an XDP program or GRO creates a veth's
# NAPI instances).
place_napi() {  # $1: the CPU
  local pid
  ip netns exec "$D" sh -c "echo 1 > /sys/class/net/dut0/threaded"
  sleep 0.1
  for pid in $(pgrep '^napi/dut0-' || true); do taskset -pc "$1" "$pid" >/dev/null; done
}

start_uplinkd() {  # $1: exec lines (one per line); $2: more startup.conf (optional)
  local sock=$work/cli.sock
  rm -f "$sock"
  printf '%s\n' "$1" > "$work/startup.exec"
  cat > "$work/startup.conf" <<CONF
unix { nodaemon cli-listen $sock exec $work/startup.exec }
cpu { main-core $GEN_CPU corelist-workers $DUT_CPU }
buffers { buffers-per-numa 32768 ${2:+no-hugetlb} }
${2:-}
CONF
  nsenter --net=/run/netns/"$D" "$UPLINKD" dataplane -c "$work/startup.conf" >"$work/uplinkd.log" 2>&1 &
  dut_pid=$!
  for _ in $(seq 100); do
    "$UPLINKCTL" -s "$sock" show version >/dev/null 2>&1 && return 0
    kill -0 "$dut_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench/run.sh: uplinkd did not start:" >&2; cat "$work/uplinkd.log" >&2; return 1
}
# dpdk-testpmd io forwarding between two vdevs on dut0/dut1, its forwarding lcore on DUT_CPU
# (the main lcore, on GEN_CPU, only waits for input). No hugepages, a private file prefix.
start_testpmd() {  # $1, $2: the two --vdev arguments
  rm -f "$work/testpmd.in"; mkfifo "$work/testpmd.in"
  # Line-buffered, so the log shows when forwarding has started.
  stdbuf -oL -eL nsenter --net=/run/netns/"$D" dpdk-testpmd -l "$GEN_CPU,$DUT_CPU" \
    --main-lcore "$GEN_CPU" \
    --no-huge -m 512 --no-shconf --file-prefix "ubench$tag" --no-telemetry --no-pci \
    --vdev "$1" --vdev "$2" \
    -- --forward-mode=io --auto-start --total-num-mbufs=16384 \
    < "$work/testpmd.in" > "$work/testpmd.log" 2>&1 &
  dut_pid=$!
  # testpmd runs until its input ends: hold the fifo open until stop_dut.
  exec {testpmd_in}> "$work/testpmd.in"
  for _ in $(seq 300); do  # testpmd checks link states for up to 9 s
    grep -q "Press enter to exit" "$work/testpmd.log" 2>/dev/null && return 0
    kill -0 "$dut_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench/run.sh: dpdk-testpmd did not start:" >&2; cat "$work/testpmd.log" >&2; return 1
}

stop_dut() {  # uplinkd or dpdk-testpmd
  [ -n "$dut_pid" ] || return 0
  kill "$dut_pid" 2>/dev/null || true; wait "$dut_pid" 2>/dev/null || true; dut_pid=
  if [ -n "${testpmd_in:-}" ]; then exec {testpmd_in}>&-; testpmd_in=; fi
  rm -rf "/var/run/dpdk/ubench$tag"  # testpmd's runtime directory
}

# Sets the DUT up for row $1; prints the destination MAC the generator must use.
setup_row() {
  case "$1" in
    xdp-redirect)
      ;;  # bench-traffic attaches the redirect itself
    linux-fwd)
      if [ "$ipv" = 6 ]; then
        in_dut sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.dut0.disable_ipv6=0 \
          net.ipv6.conf.dut1.disable_ipv6=0 net.ipv6.conf.all.forwarding=1
        ip -n "$D" addr add 2001:db8:100::2/64 dev dut0 nodad
        ip -n "$D" addr add 2001:db8:101::1/64 dev dut1 nodad
        ip -n "$D" neigh replace 2001:db8:101::2 lladdr "$SINK_MAC" dev dut1 nud permanent
      else
        ip -n "$D" addr add 198.18.100.2/24 dev dut0
        ip -n "$D" addr add 198.18.101.1/24 dev dut1
        in_dut sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
          net.ipv4.conf.dut0.rp_filter=0
        ip -n "$D" neigh replace 198.18.101.2 lladdr "$SINK_MAC" dev dut1 nud permanent
      fi
      ;;
    linux-bridge)
      ip -n "$D" link add br0 type bridge
      ip -n "$D" link set dut0 master br0; ip -n "$D" link set dut1 master br0
      ip -n "$D" link set br0 up
      in_dut bridge fdb replace "$SINK_MAC" dev dut1 master static
      ;;
    testpmd-af_packet)
      start_testpmd net_af_packet0,iface=dut0,qdisc_bypass=1 net_af_packet1,iface=dut1,qdisc_bypass=1
      ;;
    testpmd-af_xdp)
      start_testpmd net_af_xdp0,iface=dut0 net_af_xdp1,iface=dut1
      ;;
    uplinkd-af_packet)
      start_uplinkd "create host-interface name dut0
create host-interface name dut1
set interface l2 xconnect host-dut0 host-dut1
set interface l2 xconnect host-dut1 host-dut0
set interface rx-mode host-dut0 interrupt
set interface state host-dut0 up
set interface state host-dut1 up"
      ;;
    uplinkd-dpdk-af_packet|uplinkd-dpdk-af_xdp)
      # The same vdevs as the testpmd rows, through uplinkd's dpdk driver (no hugepages).
      local pmd=${1#uplinkd-dpdk-} extra=
      [ "$pmd" = af_packet ] && extra=,qdisc_bypass=1
      start_uplinkd "set interface l2 xconnect net_${pmd}0 net_${pmd}1
set interface l2 xconnect net_${pmd}1 net_${pmd}0
set interface state net_${pmd}0 up
set interface state net_${pmd}1 up" "dpdk { no-hugetlb iova-mode va vdev net_${pmd}0,iface=dut0$extra vdev net_${pmd}1,iface=dut1$extra }"
      ;;
    uplinkd-af_xdp-*)
      local mode=${1#uplinkd-af_xdp-}
      start_uplinkd "create interface af_xdp host-if dut0
create interface af_xdp host-if dut1
set interface l2 xconnect dut0 dut1
set interface l2 xconnect dut1 dut0
set interface rx-mode dut0 $mode
set interface rx-mode dut1 $mode
set interface state dut0 up
set interface state dut1 up"
      ;;
    *) echo "bench/run.sh: unknown row $1" >&2; return 1 ;;
  esac
}

# CPU time (jiffies) used by user processes other than the generator and the DUT (uplinkd or
# dpdk-testpmd): a run during which they used noticeable CPU measured the machine's other work
# too, and is repeated.
other_jiffies() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v self=$$ -v dut="${dut_pid:-0}" '{
    pid = $1; comm = $2; rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " ")
    if (pid == 2 || f[2] == 2 || pid == self || pid == dut) next  # kernel threads, us, the DUT
    if (comm ~ /^\((uplinkd|uplinkd-bench-t|vpp_wk_.*)\)$/) next
    sum += f[12] + f[13]
  } END { print sum + 0 }'
}
max_other=$(awk -v s="$seconds" 'BEGIN { printf "%d", s * 100 * 0.05 + 1 }')  # 5% of one CPU

measure_once() {  # $1: row, $2: dst MAC; prints received pps
  local extra=()
  [ "$1" = xdp-redirect ] && extra=(--redirect-ns "$D" --redirect-in dut0 --redirect-out dut1)
  [ "$ipv" = 6 ] && extra+=(--src-ip 2001:db8:100::1 --dst-ip 2001:db8:101::2)
  "$TRAFFIC" --gen-ns "$G" --gen-if gen0 --sink-ns "$S" --sink-if sink0 \
    --src-mac "$GEN_MAC" --dst-mac "$2" --size "$size" --seconds "$seconds" --warmup "$warmup" \
    --gen-cpu "$GEN_CPU" --bpf-dir "$BIN/bench/traffic" "${extra[@]}" > "$work/m.json"
  jq -r .received_pps "$work/m.json"
  jq -r .offered_pps "$work/m.json" > "$work/offered"
}

measure() {  # as measure_once, repeated (3 tries at most) while other processes were busy
  local try before pps other
  for try in 1 2 3; do
    before=$(other_jiffies)
    pps=$(measure_once "$1" "$2")
    other=$(( $(other_jiffies) - before ))
    if [ "$other" -le "$max_other" ]; then echo "$pps"; return; fi
    echo "  ($1: other processes used $other jiffies during the run; measuring again)" >&2
  done
  echo "  ($1: the machine stayed busy; keeping the last run)" >&2
  echo "$pps"
}

kernel=$(uname -r)
echo "uplinkd benchmark: series $series (bytes/IP version), ${seconds} s x ${repeats} per row;" \
     "generator cpu $GEN_CPU, DUT cpu $DUT_CPU, dut0 NAPI thread cpu $NAPI_CPU (@dut: $DUT_CPU); kernel $kernel"
results="[]"
failed=0
IFS=, read -ra row_list <<< "$rows"
IFS=, read -ra series_list <<< "$series"
for one in "${series_list[@]}"; do
  napi_cpu=$NAPI_CPU
  case "$one" in *@dut) napi_cpu=$DUT_CPU; one=${one%@dut} ;; esac
  size=${one%/*}; ipv=${one#*/}
  echo " ${size}-byte UDP/IPv${ipv}, dut0 NAPI thread on cpu $napi_cpu:"
  for row in "${row_list[@]}"; do
    make_topology
    setup_row "$row"
    place_napi "$napi_cpu"
    dst=$SINK_MAC
    [ "$row" = linux-fwd ] && dst=$DUT0_MAC
    samples=(); offered=()
    for _ in $(seq "$repeats"); do
      samples+=("$(measure "$row" "$dst")")
      offered+=("$(cat "$work/offered")")
    done
    if [ "$verbose" = 1 ] && [ "${row#uplinkd}" != "$row" ]; then
      for c in "show runtime" "show errors" "show hardware-interfaces"; do
        echo "  -- $c" >&2; "$UPLINKCTL" -s "$work/cli.sock" $c | sed 's/^/    /' >&2
      done
    fi
    stop_dut
    sorted=$(printf '%s\n' "${samples[@]}" | sort -n)
    min=$(echo "$sorted" | head -1); max=$(echo "$sorted" | tail -1)
    median=$(echo "$sorted" | sed -n "$(( (repeats + 1) / 2 ))p")
    off=$(printf '%s\n' "${offered[@]}" | sort -n | sed -n "$(( (repeats + 1) / 2 ))p")
    awk -v r="$row" -v md="$median" -v mn="$min" -v mx="$max" -v of="$off" 'BEGIN {
      printf "  %-28s median %6.3f Mpps (min %.3f, max %.3f), offered %.3f Mpps\n",
             r, md / 1e6, mn / 1e6, mx / 1e6, of / 1e6 }'
    [ "${median%.*}" -gt 0 ] 2>/dev/null || { echo "  $row: no packets measured" >&2; failed=1; }
    results=$(jq -c --arg row "$row" --argjson size "$size" --argjson ip "$ipv" \
      --argjson min "$min" --argjson median "$median" --argjson max "$max" --argjson offered "$off" \
      --argjson napi_cpu "$napi_cpu" --argjson shared "$([ "$napi_cpu" = "$DUT_CPU" ] && echo true || echo false)" \
      '. + [{row: $row, frame_bytes: $size, ip: $ip, napi_cpu: $napi_cpu, napi_on_dut_cpu: $shared,
             min_pps: $min, median_pps: $median, max_pps: $max, offered_pps: $offered}]' <<< "$results")
  done
done

jq -n --argjson rows "$results" --arg kernel "$kernel" --arg date "$(date -u +%FT%TZ)" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg series "$series" --argjson seconds "$seconds" --argjson repeats "$repeats" \
  --arg placement "generator cpu $GEN_CPU, DUT worker cpu $DUT_CPU, dut0 NAPI thread cpu $NAPI_CPU unless the table says it shares the DUT's cpu" \
  '{date: $date, commit: $commit, kernel: $kernel, series: $series, seconds: $seconds,
    repeats: $repeats, placement: $placement, rows: $rows}' > "$out/latest.json"

# The markdown tables, one per series: medians, and each row's ratio to every anchor present.
jq -r '
  def mpps: . / 1000000 * 1000 | round / 1000;
  def ratio($a): if $a > 0 then (. / $a * 100 | round / 100 | tostring) + "x" else "-" end;
  . as $r
  | "# uplinkd benchmark, \($r.date) (commit \($r.commit))\n",
    "UDP, \($r.seconds) s x \($r.repeats) per row, medians (min, max); kernel \($r.kernel); \($r.placement).",
    ($r.rows | group_by([.napi_on_dut_cpu, .frame_bytes, .ip])
     | sort_by(.[0].napi_on_dut_cpu, .[0].ip, .[0].frame_bytes)[]
     | . as $series
     | [$series[] | select(.row == "linux-fwd" or .row == "linux-bridge" or .row == "xdp-redirect" or (.row | startswith("testpmd")))] as $anchors
     | "\n## \($series[0].frame_bytes)-byte frames, IPv\($series[0].ip)"
       + (if $series[0].napi_on_dut_cpu then ", the DUT sharing its core with the NAPI thread of dut0" else "" end) + "\n",
       "| row | Mpps median | min | max | offered | " + ([$anchors[] | "vs \(.row)"] | join(" | ")) + " |",
       "|---|---|---|---|---|" + ([$anchors[] | "---"] | join("|")) + "|",
       ($series[] | . as $x
         | "| \($x.row) | \($x.median_pps | mpps) | \($x.min_pps | mpps) | \($x.max_pps | mpps) | \($x.offered_pps | mpps) | "
           + ([$anchors[] | .median_pps as $a | $x.median_pps | ratio($a)] | join(" | ")) + " |"))
' "$out/latest.json" > "$out/latest.md"

# The bar chart: median Mpps per row, min-max as error bars.
jq -r '.rows[] | "\(.frame_bytes)B-v\(.ip)\(if .napi_on_dut_cpu then "-shared" else "" end)-\(.row) \(.median_pps / 1e6) \(.min_pps / 1e6) \(.max_pps / 1e6)"' \
  "$out/latest.json" > "$work/chart.dat"
gnuplot <<PLOT
set terminal pngcairo size 1400,600 noenhanced
set output "$out/latest.png"
set title "uplinkd benchmark: UDP, median of ${repeats} (min-max bars); kernel $kernel"
set ylabel "Mpps"
set style fill solid 0.7
set boxwidth 0.6
set yrange [0:*]
set xtics rotate by -45 font ",8"
set grid ytics
set xrange [-0.6:$(wc -l < "$work/chart.dat") - 0.4]
set bmargin 8
plot "$work/chart.dat" using 0:2:xtic(1) with boxes notitle lc rgb "#3b6ea8", \
     "" using 0:2:3:4 with yerrorbars notitle lc rgb "#222222" pt 0
PLOT
# Instructions per forwarded frame in the engine alone (callgrind, stable from run to run).
if [ "$smoke" = 0 ] && [ "$partial" = 0 ] && command -v valgrind >/dev/null; then
  { echo; echo "## Engine instructions per frame (callgrind)"; echo
    bash bench/callgrind.sh --build-dir "$BIN"; } >> "$out/latest.md"
fi
echo; cat "$out/latest.md"
echo "(also $out/latest.json and $out/latest.png)"
exit $failed
