#pragma once
// An interface's queues and rings, typed, with the one set of limits every reader of them
// checks: the af_packet and af_xdp CLI parsers, startup.conf's dpdk stanza and the manager's
// CALICOVPP_* environment. A value one of them accepts is never refused by another later, after
// the NIC was already changed (issue 10).
//
// The limits, and why:
// - Queues: 1..kMaxInterfaceQueues (64). The engine polls one rx queue per worker, and the
//   memory is per queue (an af_packet rx ring is 8 MiB by default, an af_xdp queue pins
//   rx-queue-size buffers in its fill ring): 64 keeps a typo from reserving gigabytes. The
//   af_packet, af_xdp and dpdk drivers all had 64; the tap's own maximum (tun, 256) is higher.
// - Ring sizes: kMinRingSize..kMaxRingSize (64..32768) entries. 64 was the af_xdp parser's
//   minimum and is about the floor of DPDK PMDs (nb_min 32..64); a smaller ring drops on the first
//   burst. 32768 is the largest power of two in DPDK's uint16_t descriptor count
//   (rte_eth_rx_queue_setup), virtio's largest queue and the tap driver's maximum.
// - Powers of two where a ring needs one: XSK rings (the kernel refuses others), tap and virtio
//   rings, and Calico's CALICOVPP_RING_SIZE / rxqsz / txqsz (the driver is not known yet when
//   they are read, so the strictest rule applies). af_packet frame counts and DPDK descriptor
//   counts may be any number in range (the kernel takes any tp_frame_nr; a PMD rounds to its own
//   alignment in rte_eth_dev_adjust_nb_rx_tx_desc).

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace uplinkd {

inline constexpr uint16_t kMaxInterfaceQueues = 64;
inline constexpr uint32_t kMinRingSize = 64;
inline constexpr uint32_t kMaxRingSize = 32768;

// Whether a ring size must be a power of two (see above for which rings do).
enum class RingSizeRule { kAnyInRange, kPowerOfTwo };

// 0 everywhere means "the driver's default". Set fields are within the limits above: build one
// through the Check* functions, never by narrowing a wider number.
struct InterfaceQueues {
  uint16_t num_rx_queues = 0, num_tx_queues = 0;
  uint32_t rx_queue_size = 0, tx_queue_size = 0;
  bool operator==(const InterfaceQueues&) const = default;
};

// The reason alone ("must be at most 64"), for callers that name the value their own way
// ("CALICOVPP_RING_SIZE=1024,500: not a power of two").
Result<uint16_t> CheckQueueCount(uint64_t n);
Result<uint32_t> CheckRingSize(uint64_t n, RingSizeRule rule);

// The same, naming the option and the value: "num-rx-queues=100: must be at most 64". The
// caller adds where it came from (a file and line, "CALICOVPP_INTERFACES: ").
Result<uint16_t> CheckQueueCount(std::string_view option, uint64_t n);
Result<uint32_t> CheckRingSize(std::string_view option, uint64_t n, RingSizeRule rule);

}  // namespace uplinkd
