#!/usr/bin/env bash
# Engine-only demo: installs the dependencies, builds uplinkd, and runs the dataplane in sandbox
# network namespaces
#
#   peer1 [198.18.100.1] ==veth== [dut: uplinkd af_packet <-l2 xconnect-> af_packet] ==veth== [198.18.100.2] peer2
#
# then pings (IPv4, IPv6), sends 50 MB over TCP and compares SHA-256 at both ends, measures a
# 64-byte UDP packet rate through uplinkd, prints `show interface`/`show runtime`, and stops
# uplinkd, showing the interfaces given back. Everything lives in namespaces made here and is
# removed on exit; the machine's own interfaces are never touched. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "demo.sh: run as root" >&2; exit 1; fi
bash scripts/install-deps.sh
bash scripts/build.sh release

UPLINKD=$PWD/build/src/daemon/uplinkd
UPLINKCTL=$PWD/build/src/ctl/uplinkctl
tag=$$
P1=updemo-p1-$tag; DUT=updemo-dut-$tag; P2=updemo-p2-$tag
work=$(mktemp -d /tmp/uplinkd-demo.XXXXXX)
SOCK=$work/cli.sock
uplinkd_pid=

cleanup() {
  [ -n "$uplinkd_pid" ] && kill -9 "$uplinkd_pid" 2>/dev/null || true
  for ns in $P1 $DUT $P2; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ctl() { echo "uplinkd# $*"; "$UPLINKCTL" -s "$SOCK" "$@"; }

step "sandbox: namespaces $P1, $DUT, $P2 and two veth pairs"
for ns in $P1 $DUT $P2; do ip netns add "$ns"; done
ip netns exec $DUT sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n $DUT link add d1 type veth peer name p1 netns $P1
ip -n $DUT link add d2 type veth peer name p2 netns $P2
ip -n $DUT link set d1 up; ip -n $DUT link set d2 up
ip -n $P1 addr add 198.18.100.1/24 dev p1; ip -n $P1 addr add 2001:db8:100::1/64 dev p1 nodad
ip -n $P2 addr add 198.18.100.2/24 dev p2; ip -n $P2 addr add 2001:db8:100::2/64 dev p2 nodad
ip -n $P1 link set p1 up; ip -n $P2 link set p2 up
ip -n $DUT -br link

step "uplinkd dataplane in $DUT: two af_packet interfaces cross-connected"
cat > "$work/startup.exec" <<EOT
create host-interface name d1
create host-interface name d2
set interface l2 xconnect host-d1 host-d2
set interface l2 xconnect host-d2 host-d1
set interface state host-d1 up
set interface state host-d2 up
EOT
cat > "$work/startup.conf" <<EOT
unix { nodaemon cli-listen $SOCK exec $work/startup.exec }
cpu { workers 0 }
buffers { buffers-per-numa 16384 }
EOT
cat "$work/startup.conf"
ip netns exec $DUT "$UPLINKD" dataplane -c "$work/startup.conf" >"$work/uplinkd.log" 2>&1 &
uplinkd_pid=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && "$UPLINKCTL" -s "$SOCK" show version >/dev/null 2>&1 && break; sleep 0.1; done
sleep 0.3
ctl show interface
ctl show hardware-interfaces host-d1

step "ping through uplinkd (IPv4 and IPv6)"
ip netns exec $P1 ping -n -c 3 -i 0.2 198.18.100.2 | tail -2
ip netns exec $P1 ping -6 -n -c 3 -i 0.2 2001:db8:100::2 | tail -2

step "TCP: 50 MB from $P1 to $P2, SHA-256 compared at both ends"
head -c 50000000 /dev/urandom > "$work/data"
ip netns exec $P2 timeout 30 nc -l -p 5001 -N > "$work/received" &
server=$!
sleep 0.3
start=$(date +%s.%N)
ip netns exec $P1 timeout 30 nc -N 198.18.100.2 5001 < "$work/data"
wait $server
end=$(date +%s.%N)
sent=$(sha256sum < "$work/data" | cut -d' ' -f1)
got=$(sha256sum < "$work/received" | cut -d' ' -f1)
echo "sent     $sent"
echo "received $got  ($(stat -c %s "$work/received") bytes in $(echo "$end - $start" | bc 2>/dev/null || echo "?") s)"
[ "$sent" = "$got" ] && echo "checksums match" || { echo "CHECKSUM MISMATCH"; exit 1; }

step "packet rate: 64-byte UDP datagrams for 3 s (iperf3), counted by the receiver"
ip netns exec $P2 iperf3 -s -1 -D -p 5201 --logfile "$work/iperf-server.log"
sleep 0.3
ctl clear interfaces >/dev/null
ip netns exec $P1 iperf3 -c 198.18.100.2 -p 5201 -u -l 22 -b 0 -t 3 -J > "$work/iperf.json"
pps=$(jq -r '.end.sum.packets / .end.sum.seconds | floor' "$work/iperf.json")
lost=$(jq -r '.end.sum.lost_percent' "$work/iperf.json")
echo "receiver got $pps packets/s through uplinkd (64-byte frames; $lost% lost at the sender's full rate)"
ctl show interface host-d1
ctl show runtime
ctl show errors

step "stop uplinkd (SIGTERM): interfaces go back to Linux"
kill -TERM $uplinkd_pid; wait $uplinkd_pid || true; uplinkd_pid=
tail -3 "$work/uplinkd.log"
ip -n $DUT -d link show d1 | head -1
echo "promiscuity now: $(ip -n $DUT -d -j link show d1 | jq '.[0].promiscuity')"
step "done: uplinkd forwarded ping, TCP and UDP between two sandbox namespaces"
