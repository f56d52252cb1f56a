#!/usr/bin/env bash
# The demo: installs the dependencies, builds uplinkd, and lets `uplinkd manager` take over the
# eth0 of a sandbox "node" network namespace, as it would a Kubernetes node's uplink:
#
#   node ns [eth0 198.18.200.2/24, 2001:db8:200::2/64, default routes] ==veth== [peer0 ...1] peer ns
#
# It shows the node before, during (eth0 is now uplinkd's host tap, the real link is driven by
# uplinkd) and after (restored: `ip -j` of link, addresses and routes identical), with ping,
# a 50 MB TCP transfer with SHA-256 compared, and a 64-byte UDP packet rate through uplinkd.
# Everything lives in namespaces made here and is removed on exit; the machine's own interfaces
# are never touched. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/sandbox-node.sh
if [ "$(id -u)" -ne 0 ]; then echo "demo: run as root" >&2; exit 1; fi
bash scripts/install-deps.sh
bash scripts/build.sh release

UPLINKD=$PWD/build/src/daemon/uplinkd
UPLINKCTL=$PWD/build/src/ctl/uplinkctl
tag=$$
NODE=updemo-node-$tag; PEER=updemo-peer-$tag; DPNS=updemo-dp-$tag
work=$(mktemp -d /tmp/uplinkd-demo.XXXXXX)
SOCK=$work/cli.sock
manager_pid=

cleanup() {
  [ -n "$manager_pid" ] && kill -9 "$manager_pid" 2>/dev/null || true
  ip netns del "$DPNS" 2>/dev/null || true
  for ns in $NODE $PEER; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ctl() { echo "uplinkd# $*"; "$UPLINKCTL" -s "$SOCK" "$@"; }
in_node() { ip netns exec "$NODE" "$@"; }
node_state() {
  # Addresses still in duplicate address detection are not a settled state: wait (5 s at most).
  for _ in $(seq 50); do in_node ip addr show dev eth0 tentative | grep -q inet || break; sleep 0.1; done
  { in_node ip -j -d link show dev eth0; in_node ip -j addr show dev eth0 \
      | jq 'map(.addr_info |= map(del(.valid_life_time, .preferred_life_time)))';
    in_node ip -4 -j route show table all | jq -S 'sort_by(tostring)';
    in_node ip -6 -j route show table all | jq -S 'sort_by(tostring)'; } | jq -S -c .
}

step "a sandbox node: namespace $NODE whose eth0 is a veth to $PEER"
make_sandbox_node "$NODE" "$PEER"
in_node ip -br addr show dev eth0; in_node ip route
before=$(node_state)

step "uplinkd manager takes over eth0 (CALICOVPP_NATIVE_DRIVER empty: auto)"
start_manager "$UPLINKD" "$NODE" "$work/manager.log" CALICOVPP_INTERFACE=eth0 \
  CALICOVPP_CONFIG_TEMPLATE="unix { nodaemon cli-listen $SOCK }
buffers { buffers-per-numa 16384 }" \
  UPLINKD_STATE_FILE="$work/state.json" UPLINKD_RUN_DIR="$work" UPLINKD_DATAPLANE_NETNS="$DPNS"
driver=$(wait_node_reachable "$work/manager.log" 30) || { cat "$work/manager.log"; exit 1; }
grep -E "trying driver|reachable" "$work/manager.log" | sed 's/^/  manager: /'
uplink=eth0; [ "$driver" = af_packet ] && uplink=host-eth0
echo "node's eth0 is now uplinkd's host tap (same name, MAC, addresses, routes):"
in_node ip -br -d link show dev eth0 | cut -c1-100; in_node ip route
echo "the real link sits in $DPNS, driven by uplinkd:"
ip -n "$DPNS" -br link show
ctl show interface

step "the node is still reachable: ping (IPv4, IPv6, via the default route)"
in_node ping -n -c 3 -i 0.2 "$PEER_IP" | tail -2
in_node ping -6 -n -c 3 -i 0.2 "$PEER_IP6" | tail -2
in_node ping -n -c 2 -i 0.2 "$PEER_LO_IP" | tail -1

step "TCP: 50 MB from the node to its peer through uplinkd, SHA-256 compared"
head -c 50000000 /dev/urandom > "$work/data"
ip netns exec "$PEER" timeout 30 nc -l -p 5001 -N > "$work/received" &
server=$!
sleep 0.3
in_node timeout 30 nc -N "$PEER_IP" 5001 < "$work/data"
wait $server
sent=$(sha256sum < "$work/data" | cut -d' ' -f1); got=$(sha256sum < "$work/received" | cut -d' ' -f1)
echo "sent     $sent"; echo "received $got"
[ "$sent" = "$got" ] && echo "checksums match" || { echo "CHECKSUM MISMATCH"; exit 1; }

step "packet rate: 64-byte UDP for 3 s from the node through uplinkd (iperf3)"
ip netns exec "$PEER" iperf3 -s -1 -D -p 5201 --logfile "$work/iperf-server.log"
sleep 0.3
in_node iperf3 -c "$PEER_IP" -p 5201 -u -l 22 -b 0 -t 3 -J > "$work/iperf.json"
echo "receiver got $(jq -r '.end.sum.packets / .end.sum.seconds | floor' "$work/iperf.json") packets/s"
ctl show interface "$uplink"
ctl show errors

step "SIGTERM to the manager: the node gets eth0 back exactly as it was"
stop_manager 30
grep -E "restored" "$work/manager.log" | sed 's/^/  manager: /'
in_node ip -br addr show dev eth0; in_node ip route
after=$(node_state)
if [ "$before" = "$after" ]; then
  echo "ip -j link/addr/route of the node: identical before and after"
else
  echo "NODE STATE DIFFERS:"; diff <(echo "$before" | jq .) <(echo "$after" | jq .) || true; exit 1
fi
in_node ping -n -c 2 -i 0.2 "$PEER_IP" | tail -1
step "done"
