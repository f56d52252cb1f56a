#!/usr/bin/env bash
# The node series of the benchmark harness: what the node's own traffic gets once `uplinkd
# manager` has taken over its uplink, as a share of what the same node gets without uplinkd.
#
#   node ns [eth0 198.18.200.2/24] ==veth== [peer0 198.18.200.1/24] peer ns
#
# The sandbox node of scripts/demo.sh (scripts/sandbox-node.sh; peer0 with tx checksum offload
# off: the peer stands for a host across a real wire), built afresh for every row. Rows: direct
# (the same veth, no uplinkd: the anchor), af_packet, af_xdp, auto (CALICOVPP_NATIVE_DRIVER
# empty; the driver it picked is recorded) and dpdk (over the vdev net_af_packet0,iface=eth0, as
# the manager's integration tests run it). Each row measures:
# - TCP, iperf3 for S s: node -> peer and peer -> node (-R), 1 and 4 streams; the receiver's
#   Gbit/s;
# - 64-byte UDP/IPv4 from the BPF generator of bench/traffic, sent out of peer0 to the node's
#   MAC and address (port 9, no listener): the datagrams per second that reached the node's UDP
#   layer (its Udp InDatagrams + NoPorts), and what the generator offered;
# - ping node -> peer, 200 at 10 ms: median and p99 of the round trip.
# The node's uplink veth receives in NAPI, as a NIC does: uplinkd's af_xdp program gives it NAPI,
# else (direct, af_packet, dpdk) a pass-through XDP program does (bench/traffic/pass.bpf.c; only
# such a veth end takes the generator's XDP-redirected frames).
# Placement (2 CPUs: one per side, as two hosts): on NODE_CPU the node's iperf3 and ping,
# uplinkd's forwarding thread (`cpu { main-core NODE_CPU }`, no workers), and in the direct row
# the node's stack past the uplink veth's NAPI work (RPS); on PEER_CPU the peer's iperf3, the
# generator and peer0's receive processing (RPS). The NAPI work of the node's uplink veth (what
# a NIC and its driver do: XDP, uplinkd's af_xdp or af_packet socket fed, frames dropped when
# the node falls behind) runs in a thread on NAPI_CPU, by default the peer's as in bench/run.sh,
# so that the node's CPU spends nothing on frames it never gets. All that the script starts
# (and the NAPI thread) runs at nice -10, so that other work on the machine (builds) disturbs
# the measures less; a quiet machine is still best.
# Usage: bench/node.sh [--smoke] [--no-build] [--build-dir DIR] [--rows a,b] [--seconds S]
#                      [--repeats N]
#   --seconds: per TCP and UDP measure (default 8); --repeats: each measure N times, the median
#   kept (default 1); --smoke: 1 s each, 50 pings, fails unless every row came up and measured
#   TCP each way (1 or 4 streams), UDP and ping (CI runs this). A full run writes bench/results/node.{md,json}; --smoke or --rows
#   bench/results/tmp/. A row that fails to come up is recorded with the manager's reason, and
#   the script exits non-zero at the end.
# Environment: NODE_CPU (1), PEER_CPU (0), NAPI_CPU (PEER_CPU). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0; partial=0; build=1; build_dir=build; seconds=8; repeats=1; pings=200
rows="direct,af_packet,af_xdp,auto,dpdk"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1; seconds=1; repeats=1; pings=50 ;;
    --no-build) build=0 ;;
    --build-dir) build_dir=$2; build=0; shift ;;
    --rows) rows=$2; partial=1; shift ;;
    --seconds) seconds=$2; shift ;;
    --repeats) repeats=$2; shift ;;
    *) echo "bench/node.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
NODE_CPU=${NODE_CPU:-1}; PEER_CPU=${PEER_CPU:-0}; NAPI_CPU=${NAPI_CPU:-$PEER_CPU}
. bench/common.sh
. scripts/sandbox-node.sh
bench_prepare bench/node.sh
renice -n -10 -p $$ >/dev/null  # inherited by everything started from here on

tag=$$
NODE=unode-node-$tag; PEER=unode-peer-$tag; DPNS=unode-dp-$tag
work=$(mktemp -d /tmp/uplinkd-node-bench.XXXXXX)
manager_pid=

# Ends the row: the manager restores the node (SIGKILL after 30 s, then its dataplane too),
# and the namespaces go.
teardown() {
  local dp
  stop_manager 30
  dp=$(jq -r '.dataplane_pid // empty' "$work/state.json" 2>/dev/null || true)
  if [ -n "$dp" ]; then kill -9 "$dp" 2>/dev/null || true; fi
  for ns in $DPNS $NODE $PEER; do ip netns del "$ns" 2>/dev/null || true; done
  rm -f "$work/state.json"
}
trap 'teardown; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# The receive processing of interface $2 in netns $1 on CPU $3 (RPS on each of its rx queues).
place_rx() {
  # shellcheck disable=SC2016  # expanded by sh, from its arguments
  ip netns exec "$1" sh -c 'for q in /sys/class/net/$0/queues/rx-*; do echo $1 > $q/rps_cpus; done' \
    "$2" "$(printf %x $((1 << $3)))"
}

# The NAPI work of interface $2 in netns $1 (it must have an XDP program) in threads on CPU $3,
# at nice -10 as the rest.
# Threads are named after the interface only, so ours are the ones that the switch creates.
place_napi() {
  local before pid
  before=$(pgrep "^napi/$2-" || true)
  ip netns exec "$1" sh -c "echo 1 > /sys/class/net/$2/threaded"
  sleep 0.1
  for pid in $(pgrep "^napi/$2-" || true); do
    grep -qx "$pid" <<< "$before" && continue
    taskset -pc "$3" "$pid" >/dev/null; renice -n -10 -p "$pid" >/dev/null
  done
}

# Brings row $1 up on a fresh topology; sets rx_ns (the netns of the node's real uplink veth)
# and driver. On failure, returns 1 with the manager's reason in $work/reason.
setup_row() {
  make_sandbox_node "$NODE" "$PEER"
  place_rx "$PEER" peer0 "$PEER_CPU"
  rx_ns=$NODE; driver=none
  if [ "$1" != direct ]; then
    local want=$1 extra=
    [ "$1" = auto ] && want=
    [ "$1" = dpdk ] && extra="dpdk { vdev net_af_packet0,iface=eth0 }"
    start_manager "$UPLINKD" "$NODE" "$work/manager.log" CALICOVPP_INTERFACE=eth0 \
      CALICOVPP_NATIVE_DRIVER="$want" CALICOVPP_CONFIG_TEMPLATE="unix { nodaemon cli-listen $work/cli.sock }
cpu { main-core $NODE_CPU }
buffers { buffers-per-numa 16384 }
$extra" \
      UPLINKD_STATE_FILE="$work/state.json" UPLINKD_RUN_DIR="$work" UPLINKD_DATAPLANE_NETNS="$DPNS"
    if ! driver=$(wait_node_reachable "$work/manager.log" 60); then
      { grep -E "driver [a-z_]+ (failed|cannot)" "$work/manager.log" ||
          grep -E " (error|critical) " "$work/manager.log" || echo "no takeover in 60 s"; } \
        | tail -1 | sed 's/^[^ ]* [a-z]* \[[^]]*\] //' | cut -c1-200 > "$work/reason"
      return 1
    fi
    rx_ns=$DPNS
  fi
  if [ "$(ip -n "$rx_ns" -j link show eth0 | jq '.[0] | has("xdp")')" = false ]; then
    ip -n "$rx_ns" link set dev eth0 xdpdrv obj "$BIN/bench/traffic/pass.bpf.o" sec xdp
  fi
  place_napi "$rx_ns" eth0 "$NAPI_CPU"
  # direct: the node's stack past the NAPI work on the node's CPU. (Taken over, the first
  # consumer past NAPI is uplinkd's socket, fed in NAPI as by a NIC's driver; steering that
  # delivery to the node's CPU would have it spend there on every frame offered, kept or not.)
  if [ "$1" = direct ]; then place_rx "$NODE" eth0 "$NODE_CPU"; fi
}

# Prints jq filter $1 applied to file $2, or 0 when the file holds no JSON (a tool that failed).
number() {
  local v
  v=$(jq "$1" "$2" 2>/dev/null || true)
  echo "${v:-0}"
}

# The receiver's Gbit/s of one iperf3 TCP test: $1 to-peer or to-node, $2 streams.
tcp_gbps() {
  local reverse=()
  [ "$1" = to-node ] && reverse=(-R)
  ip netns exec "$PEER" timeout $((seconds + 30)) taskset -c "$PEER_CPU" \
    iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  local server=$!
  for _ in $(seq 50); do
    ip netns exec "$PEER" ss -ltnH 'sport = :5201' | grep -q . && break
    sleep 0.1
  done
  ip netns exec "$NODE" timeout $((seconds + 20)) taskset -c "$NODE_CPU" \
    iperf3 -c "$PEER_IP" -p 5201 --connect-timeout 3000 -t "$seconds" -P "$2" "${reverse[@]}" -J \
    > "$work/iperf.json" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  number '(.end.sum_received.bits_per_second // 0) / 1e9 * 1000 | round / 1000' "$work/iperf.json"
}

# 64-byte UDP datagrams per second that reached the node's UDP layer, and how many the generator
# offered: "received offered". 2^17 frames per BPF_PROG_RUN call: the generator stops between
# calls, and this path may take only ~100k per second.
udp_pps() {
  timeout $((seconds + 30)) "$TRAFFIC" --gen-ns "$PEER" --gen-if peer0 --count-udp-ns "$NODE" \
    --src-mac "$(ip -n "$PEER" -j link show peer0 | jq -r '.[0].address')" \
    --dst-mac "$(ip -n "$NODE" -j link show eth0 | jq -r '.[0].address')" \
    --src-ip "$PEER_IP" --dst-ip "$NODE_IP" --size 64 --seconds "$seconds" --warmup "$warmup" \
    --gen-cpu "$PEER_CPU" --repeat 131072 --bpf-dir "$BIN/bench/traffic" > "$work/udp.json" || true
  echo "$(number '.received_pps // 0 | round' "$work/udp.json")" \
    "$(number '.offered_pps // 0 | round' "$work/udp.json")"
}

# Ping node -> peer ($pings at 10 ms): prints "median p99" in µs (0 0 when fewer than half came
# back).
ping_us() {
  ip netns exec "$NODE" taskset -c "$NODE_CPU" ping -n -c "$pings" -i 0.01 -W 1 \
    -w $((pings / 50 + 10)) "$PEER_IP" 2>/dev/null \
    | sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' | sort -n \
    | awk -v want="$pings" '{ t[NR] = $1 * 1000 }
        END { if (NR < want / 2) { print 0, 0; exit }
              p99 = int(NR * 0.99); if (p99 < NR * 0.99) p99++
              printf "%.0f %.0f\n", t[int((NR + 1) / 2)], t[p99] }'
}

# User CPU time (ticks) of the processes other than this script and its children (reaped ones
# included): all user time less ours. Across a row, how busy other work kept the machine.
others_ticks() {
  echo $(( $(awk '/^cpu /{ print $2 + $3 }' /proc/stat) - $(awk '{ print $14 + $16 }' /proc/$$/stat) ))
}

median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }

measures="tcp_to_peer_1 tcp_to_peer_4 tcp_to_node_1 tcp_to_node_4 udp64_pps udp64_offered_pps
  ping_median_us ping_p99_us"
warmup=1; [ "$smoke" = 1 ] && warmup=0.3
kernel=$(uname -r)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
echo "uplinkd node benchmark: rows $rows; ${seconds} s x ${repeats} per measure; node cpu $NODE_CPU, peer cpu $PEER_CPU, uplink NAPI cpu $NAPI_CPU; kernel $kernel"
results="[]"
failed=0
IFS=, read -ra row_list <<< "$rows"
for row in "${row_list[@]}"; do
  others0=$(others_ticks); row_start=$(date +%s.%N)
  if ! setup_row "$row"; then
    reason=$(cat "$work/reason")
    echo "  $row: FAILED: $reason"
    results=$(jq -c --arg row "$row" --arg reason "$reason" \
      '. + [{row: $row, status: "failed", reason: $reason}]' <<< "$results")
    failed=1; teardown; continue
  fi
  declare -A samples=()
  for _ in $(seq "$repeats"); do
    read -r med p99 <<< "$(ping_us)"
    samples[ping_median_us]+=" $med"; samples[ping_p99_us]+=" $p99"
    for dir in to_peer to_node; do
      for streams in 1 4; do
        samples[tcp_${dir}_$streams]+=" $(tcp_gbps "${dir/_/-}" "$streams")"
      done
    done
    read -r rx offered <<< "$(udp_pps)"
    samples[udp64_pps]+=" $rx"; samples[udp64_offered_pps]+=" $offered"
  done
  teardown
  # The share of the machine's CPUs (in %) that other processes used during the row.
  others=$(awk -v t="$(( $(others_ticks) - others0 ))" -v s="$row_start" -v now="$(date +%s.%N)" \
    -v n="$(nproc)" 'BEGIN { printf "%.0f", t / (now - s) / n }')
  values="{}"
  for m in $measures; do
    # shellcheck disable=SC2086
    values=$(jq -c --arg m "$m" --argjson v "$(median ${samples[$m]})" '. + {($m): $v}' <<< "$values")
  done
  unset samples
  echo "  $row ($driver, $(awk -v s="$row_start" -v now="$(date +%s.%N)" 'BEGIN { printf "%.0f", now - s }') s):" \
    "$values; other processes used ${others}% of the CPUs"
  results=$(jq -c --arg row "$row" --arg driver "$driver" --argjson v "$values" \
    --argjson others "$others" \
    '. + [{row: $row, status: "ok", driver: $driver, others_cpu_pct: $others} + $v]' <<< "$results")
  # Smoke: TCP each way (1 or 4 streams), UDP and ping all measured something (a busy machine
  # may starve one second's worth of one of them, not a path that works).
  if [ "$smoke" = 1 ] && ! jq -e '[[.tcp_to_peer_1, .tcp_to_peer_4], [.tcp_to_node_1, .tcp_to_node_4],
      [.udp64_pps], [.ping_median_us]] | all(any(. > 0))' <<< "$values" >/dev/null; then
    echo "  $row: TCP one way, UDP or ping measured nothing" >&2; failed=1
  fi
done
elapsed=$(( $(date +%s) - start ))

jq -n --argjson rows "$results" --arg kernel "$kernel" --arg date "$(date -u +%FT%TZ)" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --argjson seconds "$seconds" --argjson repeats "$repeats" --argjson pings "$pings" \
  --arg load "$load_before -> $(cut -d' ' -f1-3 /proc/loadavg)" --argjson elapsed "$elapsed" \
  --arg placement "node cpu $NODE_CPU: the node's iperf3 and ping, uplinkd's forwarding thread (main-core, no workers), in direct the node's stack past the uplink veth's NAPI work (RPS); peer cpu $PEER_CPU: the peer's iperf3, the UDP generator, peer0's receive processing (RPS); the NAPI thread of the node's uplink veth (a NIC's and its driver's work: XDP, uplinkd's socket fed) on cpu $NAPI_CPU; all at nice -10" \
  '{date: $date, commit: $commit, kernel: $kernel, seconds: $seconds, repeats: $repeats,
    pings: $pings, placement: $placement, load_average: $load, elapsed_s: $elapsed,
    rows: $rows}' > "$out/node.json"

# The markdown table: each measure's median and its share of direct's (latency: a multiple).
jq -r '
  def ratio($a): if ($a // 0) > 0 then " (" + (. / $a * 100 | round / 100 | tostring) + "x)" else "" end;
  . as $r
  | ($r.rows | map(select(.row == "direct" and .status == "ok")) | .[0] // {}) as $d
  | "# uplinkd node benchmark, \($r.date) (commit \($r.commit))\n",
    "The sandbox node of scripts/demo.sh: node ns eth0 ==veth== peer0 (peer ns, `ethtool -K peer0 tx off`: a host across a real wire), built afresh for every row; `uplinkd manager` takes eth0 over with the row'"'"'s driver (direct: no uplinkd, the same veth). Kernel \($r.kernel); \($r.placement). Medians of \($r.repeats); load average \($r.load_average); \($r.elapsed_s) s in all. Indicative where other work shares the machine.\n",
    "- TCP: iperf3, \($r.seconds) s, Gbit/s the receiver got, 1 or 4 streams (-P 4); node -> peer, and peer -> node (-R).",
    "- UDP: 64-byte frames from the BPF generator (bench/traffic) out of peer0 to the node'"'"'s MAC and address, port 9; kpps that reached the node'"'"'s UDP layer (Udp InDatagrams + NoPorts), and the kpps the generator offered.",
    "- The node'"'"'s uplink veth receives in NAPI, as a NIC does: uplinkd'"'"'s af_xdp program gives it NAPI, else (direct, af_packet, dpdk) a pass-through XDP program; only such a veth end takes the generator'"'"'s XDP-redirected frames.",
    "- ping: node -> peer, \($r.pings) at 10 ms, µs.",
    "- (Nx): the share of direct'"'"'s; for latency, the multiple of direct'"'"'s (above 1 is slower).",
    "- others'"'"' CPU: the share of the machine'"'"'s CPUs that other processes used (user time) while the row ran; a row well above 0 was disturbed.\n",
    "| row | driver | TCP node->peer 1 | x4 | TCP peer->node 1 | x4 | UDP 64 B kpps | offered | ping median µs | ping p99 µs | others'"'"' CPU |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ($r.rows[] | . as $x
     | if $x.status != "ok" then "| \($x.row) | failed: \($x.reason) | | | | | | | | | |"
       else "| \($x.row) | \($x.driver) | "
         + ([("tcp_to_peer_1", "tcp_to_peer_4", "tcp_to_node_1", "tcp_to_node_4") as $m
             | ($x[$m] | tostring) + ($x[$m] | ratio($d[$m]))]
            + [($x.udp64_pps / 1000 | round | tostring) + ($x.udp64_pps | ratio($d.udp64_pps)),
               ($x.udp64_offered_pps / 1000 | round | tostring)]
            + [("ping_median_us", "ping_p99_us") as $m | ($x[$m] | tostring) + ($x[$m] | ratio($d[$m]))]
            + ["\($x.others_cpu_pct) %"]
            | join(" | ")) + " |"
       end)
' "$out/node.json" > "$out/node.md"
echo; cat "$out/node.md"
echo "(also $out/node.json)"
exit $failed
