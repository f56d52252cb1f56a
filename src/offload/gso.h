#pragma once
// Software segmentation of TCP GSO super-frames, for interfaces that cannot hand them to a
// device that segments (af_xdp; VPP's gso node does the same job). The host tap gives us 64 KiB
// TCP super-frames (virtio GSO_TCPV4/TCPV6, partial checksum); each becomes gso_size-payload
// frames with their own IP length, IPv4 id and checksum, TCP sequence number and flags, and a
// complete TCP checksum. Hot-path safe: buffers come from the worker's cache, no allocation,
// logging or exceptions.

#include <cstdint>

#include "buffer/buffer_pool.h"

namespace uplinkd::offload {

// virtio-net GSO types (VIRTIO_NET_HDR_GSO_*), as Buffer::gso_type carries them.
inline constexpr uint8_t kGsoNone = 0;
inline constexpr uint8_t kGsoTcpV4 = 1;
inline constexpr uint8_t kGsoUdp = 3;
inline constexpr uint8_t kGsoTcpV6 = 4;
inline constexpr uint8_t kGsoUdpL4 = 5;
inline constexpr uint8_t kGsoEcn = 0x80;

// Most frames one super-frame may become (64 KiB of payload at the smallest MSS the kernel uses
// for TSO is well below this); more is refused.
inline constexpr uint32_t kMaxGsoSegments = 128;

// Splits the TCP super-frame `head` (a chain, headers in its first buffer) into frames written
// to out[0..ret), each a fresh buffer chain from `cache` with no offload left to do. Returns 0
// when it cannot: not TCP over IPv4/IPv6 as gso_type says, headers cut short, gso_size 0, more
// than `max` frames, or the pool ran dry (nothing is leaked then). `head` is not touched or
// freed: the caller still owns it.
uint32_t SegmentTcp(BufferCache& cache, const Buffer* head, Buffer** out, uint32_t max) noexcept;

// Makes `b` ready for a device below us that finishes no offload (af_xdp, a DPDK port without
// those offloads), as VPP's gso node does: a GSO super-frame becomes its segments and is freed, a
// partial checksum is completed in place. Writes the frames to send to out[0..ret) (room for
// kMaxGsoSegments). 0: a super-frame that could not be segmented, freed; the caller counts the
// drop. Takes ownership of `b` either way.
uint32_t FinishOffloads(BufferCache& cache, Buffer* b, Buffer** out) noexcept;

}  // namespace uplinkd::offload
