#pragma once
// The host tap driver: a Linux tap interface (/dev/net/tun, IFF_MULTI_QUEUE, virtio-net headers)
// whose kernel side is the host's view of the dataplane (VPP `create tap`). Queue q reads and
// writes the q-th tun fd; rx and tx share the fds, so there are as many tx as rx queues.
//
// The Linux side is created in the calling thread's network namespace (the dataplane's), then
// moved to `host_ns` and configured there (name, MAC, MTU, addresses, up).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "buffer/buffer_pool.h"
#include "common/parse.h"
#include "common/status.h"
#include "drivers/driver.h"

namespace uplinkd {

struct TapArgs {
  std::optional<uint32_t> id;          // `id N` -> engine name "tapN"; default: lowest free id
                                       // (the engine fills it in; 0 when left empty)
  std::string host_if_name;            // Linux name; default "tapN"
  std::string host_ns;                 // netns name or path; empty = the dataplane's own
  std::optional<MacAddress> host_mac;  // `host-mac-addr`; default: the kernel's random one
  std::optional<MacAddress> hw_addr;   // engine-side MAC (`hw-addr`), default random 02:fe:...
  std::optional<uint32_t> host_mtu;    // `host-mtu-size`
  std::vector<std::string> host_ip4_addr, host_ip6_addr;  // `host-ip4-addr CIDR`, ...
  uint16_t num_rx_queues = 1;  // one /dev/net/tun queue fd each (IFF_MULTI_QUEUE)
  uint32_t rx_ring_size = 256, tx_ring_size = 256;  // accepted as VPP does; power of two
  bool host_up = true;
  // `gro-coalesce` (VPP's word): merge the TCP segments of each tx burst into GSO super-frames
  // (offload::CoalesceTcp) before writing them to the host. Off by default, as in VPP; the
  // manager turns it on for the node's host tap.
  bool gro_coalesce = false;
  // Reads and writes through io_uring when the kernel allows it (a warning, then readv/writev,
  // when not); false (`no-uring`): readv/writev always. The environment variable
  // kTapNoUringEnv, set and not "0", has the same effect for every tap.
  bool uring = true;
};

inline constexpr char kTapNoUringEnv[] = "UPLINKD_TAP_NO_URING";

// Parses the options of VPP's `create tap ...` (everything after those two words):
// [id N] [host-if-name NAME] [host-ns NS] [host-mac-addr MAC] [hw-addr MAC] [host-mtu-size N]
// [num-rx-queues N] [rx-ring-size N] [tx-ring-size N] [host-ip4-addr CIDR] [host-ip6-addr CIDR]
// [gro-coalesce] [no-uring]
// VPP's `gso` and `csum-offload` are accepted and change nothing (both are always on here).
// A bad word or value gives an error naming it. Fields not named keep their values in *args.
Status ParseTapCreateArgs(const std::vector<std::string>& words, TapArgs* args);

// Creates the tap and configures its host side; on failure nothing is left behind. The driver
// draws rx buffers from `pool` (through the worker's cache) and must not outlive it.
// Call it from a thread in the dataplane's network namespace.
Result<std::unique_ptr<Driver>> CreateTapDriver(const TapArgs& args, BufferPool& pool);

// "tap3": the engine-side name of tap `id`.
std::string TapInterfaceName(uint32_t id);

}  // namespace uplinkd
