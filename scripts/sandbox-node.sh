# shellcheck shell=bash
# Sourced (not run) by scripts/demo.sh and bench/node.sh: a sandbox "node" network namespace
# whose eth0 `uplinkd manager` takes over, as it would a Kubernetes node's uplink.
#
#   node ns [eth0 198.18.200.2/24, 2001:db8:200::2/64, default routes] ==veth== [peer0 ...1] peer ns
#
# The peer also has 198.19.200.1/32 on lo (reached through the node's default route) and
# forwards. Only namespaces are touched; the caller removes them (trap).

NODE_IP=198.18.200.2
PEER_IP=198.18.200.1
NODE_IP6=2001:db8:200::2
PEER_IP6=2001:db8:200::1
PEER_LO_IP=198.19.200.1

# Makes the namespaces $1 (node) and $2 (peer), and the veth between them.
make_sandbox_node() {
  local node=$1 peer=$2
  ip netns add "$node"; ip netns add "$peer"
  ip netns exec "$peer" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$node" link add eth0 type veth peer name peer0 netns "$peer"
  ip -n "$node" addr add "$NODE_IP/24" dev eth0
  ip -n "$node" addr add "$NODE_IP6/64" dev eth0 nodad
  ip -n "$node" link set eth0 up; ip -n "$node" link set lo up
  ip -n "$peer" addr add "$PEER_IP/24" dev peer0
  ip -n "$peer" addr add "$PEER_IP6/64" dev peer0 nodad
  ip -n "$peer" addr add "$PEER_LO_IP/32" dev lo
  ip -n "$peer" link set peer0 up; ip -n "$peer" link set lo up
  # The peer stands for a host across a real wire, which carries finished checksums; a veth would
  # pass its partial ones on, and AF_XDP frames carry no note of that.
  ip netns exec "$peer" ethtool -K peer0 tx off >/dev/null
  ip -n "$node" route add default via "$PEER_IP" dev eth0
  ip -n "$node" -6 route add default via "$PEER_IP6" dev eth0
}

# Starts `uplinkd manager` in the node's namespace $2 (binary $1), in the background: its pid in
# manager_pid, its output in $3. The environment (CALICOVPP_*, UPLINKD_*) follows as NAME=VALUE
# words. nsenter, not `ip netns exec`: the host's mount namespace, as on a real node.
start_manager() {
  local uplinkd=$1 node=$2 log=$3
  shift 3
  env "$@" nsenter --net=/run/netns/"$node" "$uplinkd" manager >"$log" 2>&1 &
  manager_pid=$!
}

# Waits up to $2 seconds for the manager (log $1) to say the node is reachable through the host
# tap; fails early when the manager exits. Prints the driver it took eth0 over with.
wait_node_reachable() {
  local log=$1
  for _ in $(seq $(($2 * 10))); do
    if grep -q "node reachable" "$log"; then
      sed -n 's/.*taken over with \([a-z_]*\):.*/\1/p' "$log" | tail -1
      return 0
    fi
    kill -0 "$manager_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# SIGTERM to the manager (it restores the node), waited for $1 seconds at most, then SIGKILL.
stop_manager() {
  [ -n "${manager_pid:-}" ] || return 0
  kill -TERM "$manager_pid" 2>/dev/null || true
  for _ in $(seq $((${1:-30} * 10))); do kill -0 "$manager_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$manager_pid" 2>/dev/null || true
  wait "$manager_pid" 2>/dev/null || true
  manager_pid=
}
