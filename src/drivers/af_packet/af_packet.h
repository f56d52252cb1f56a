#pragma once
// af_packet: the uplink reached through Linux AF_PACKET sockets with PACKET_MMAP rings (VPP's
// `create host-interface`). Works on any interface; the slowest driver, the last one tried.
//
// Per rx queue: one SOCK_RAW socket bound to the interface (ETH_P_ALL) with an mmap'ed RX ring,
// TPACKET_V3 (blocks) by default or TPACKET_V2 (`v2`); several rx queues form a PACKET_FANOUT
// hash group. Per tx queue: one socket with a TPACKET_V2 TX ring, plus a ring-less socket for
// frames larger than a ring frame (GSO super-frames). With `offloads`, every socket carries
// virtio-net headers (PACKET_VNET_HDR), mapped to and from Buffer's offload fields.
//
// Sizing (defaults; the args override them): rx V3 blocks are a power of two >= 64 KiB that
// hold the largest frame (128 KiB with offloads: a 64 KiB GSO super-frame plus headers), 4096
// frame units of 2 KiB (8 MiB) per queue, blocks retired after 1 ms; rx V2 frames hold the
// largest frame whole (~68 KiB with offloads, 256 of them; 2 KiB or MTU-size without, 2048 of
// them). tx frames hold an MTU-size frame (1024 of them); a larger frame (GSO super-frame, or any
// frame when tx-frame-size is small) is sent with sendmsg after the ring is kicked, so order
// holds. Frames are copied into chains of pool buffers; a frame the ring truncated, or longer
// than MTU + 18 (without GSO) or 64 KiB + 64 (with) on tx, is counted in drops_too_long.
// Without offloads (cksum-gso-disable): an rx frame the kernel marks TP_STATUS_CSUMNOTREADY (a
// local sender's partial checksum) gets its TCP/UDP checksum completed in software before it is
// handed on, and a tx buffer flagged kOffloadNeedsCsum is completed before it leaves. GSO
// super-frames cannot be described then: they are received whole only if they fit the ring, and
// dropped on tx when longer than the MTU.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "buffer/buffer_pool.h"
#include "common/parse.h"
#include "common/status.h"
#include "drivers/driver.h"
#include "drivers/interface_config.h"

namespace uplinkd {

struct AfPacketArgs {
  std::string host_if;  // Linux interface name (`name IF`)
  uint16_t num_rx_queues = 1, num_tx_queues = 1;  // 1..kMaxInterfaceQueues
  uint32_t rx_frame_size = 0, tx_frame_size = 0;  // 0 = pick from MTU
  uint32_t rx_frames_per_block = 0, tx_frames_per_block = 0;
  // Ring sizes in frames (`rx-size`, `tx-size`): 0 = defaults, else kMinRingSize..kMaxRingSize.
  uint32_t rx_size = 0, tx_size = 0;
  std::optional<MacAddress> hw_addr;  // the engine-side MAC; default: the Linux interface's MAC
  bool use_v2 = false;                // `v2`: TPACKET_V2 instead of V3
  bool qdisc_bypass = true;           // `qdisc-bypass-disable` clears it
  bool offloads = true;               // `cksum-gso-disable` clears it (no vnet headers)
  bool operator==(const AfPacketArgs&) const = default;
};

// Parses the options of VPP's `create host-interface ...` (everything after those two words):
// [v2] name IF [num-rx-queues N] [num-tx-queues N] [rx-size N] [tx-size N] [rx-per-block N]
// [tx-per-block N] [rx-frame-size N] [tx-frame-size N] [hw-addr MAC] [qdisc-bypass-disable]
// [cksum-gso-disable] [mode ethernet]
// A bad word gives an error naming it. `args` is only written when the whole line parses.
// Queue counts and ring sizes are checked against drivers/interface_config.h's limits.
Status ParseAfPacketCreateArgs(const std::vector<std::string>& words, AfPacketArgs* args);

// The words ParseAfPacketCreateArgs reads back as `args` (options at their default are left
// out): what the manager sends, so both sides read one syntax. `args` must be within the limits.
std::vector<std::string> FormatAfPacketCreateArgs(const AfPacketArgs& args);

// `name host_if` with the queues and ring sizes of `queues` (0 = the default).
AfPacketArgs AfPacketArgsFor(std::string host_if, const InterfaceQueues& queues);

// Cold, control thread. Opens the sockets and maps the rings in the network namespace of the
// calling thread. Everything is checked (interface exists, sizes sane) before the interface is
// touched; the only change made to Linux is promiscuous mode, which the kernel undoes when the
// sockets close (Close(), exit or crash). Buffers come from `pool`, which must outlive the driver.
Result<std::unique_ptr<Driver>> CreateAfPacketDriver(const AfPacketArgs& args, BufferPool& pool);

// The engine's name for the interface, VPP style: "host-<ifname>".
std::string AfPacketInterfaceName(const AfPacketArgs& args);

}  // namespace uplinkd
