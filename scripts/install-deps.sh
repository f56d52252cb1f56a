#!/usr/bin/env bash
# Installs every build, test and demo dependency of uplinkd from Debian's package registry.
# Idempotent; run as root on Debian 12.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev lld
  # libraries
  libmnl-dev nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev libpcap-dev
  libxdp-dev libbpf-dev linux-libc-dev liburing-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # the test rig and the demo: namespaces, veths, ping, traffic
  iproute2 iputils-ping procps kmod ethtool netcat-openbsd iperf3 jq
  # the benchmark harness: CPU pinning, the bar chart
  util-linux gnuplot-nox valgrind
  # DPDK: dpdk-testpmd for the harness's anchor rows (and libdpdk for the dpdk driver)
  dpdk-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
