#pragma once
// The Internet checksum (RFC 1071) as the dataplane needs it: finding a frame's TCP/UDP checksum
// and completing a partial one (virtio NEEDS_CSUM: the field holds the pseudo-header sum) the way
// the kernel's skb_checksum_help does: sum from csum_start to the end, fold, complement, store at
// csum_start + csum_offset, 0 becoming 0xffff. Hot-path safe: no allocation, no logging.

#include <cstddef>
#include <cstdint>

#include "buffer/buffer_pool.h"

namespace uplinkd::offload {

// Ones-complement sum of big-endian 16-bit words (an odd tail padded with zero). The result may
// or may not be folded: add such sums (up to 2^32 of them) and fold once with FoldSum.
uint64_t SumWords(const uint8_t* p, size_t len) noexcept;
uint16_t FoldSum(uint64_t sum) noexcept;

// The sum of a chain's bytes from chain offset `start` to its end, as SumWords would give for
// them laid out contiguously (pieces at odd distances from `start` handled). Bounded walk.
uint64_t SumChain(const BufferPool& pool, const Buffer* head, uint32_t start) noexcept;

// The TCP/UDP pseudo-header sum (RFC 793/8200) of the IPv4 or IPv6 header at frame + l3:
// addresses, protocol and `l4_len`, the L4 header-plus-payload length.
uint64_t PseudoHeaderSum(const uint8_t* frame, uint32_t l3, bool v4, uint8_t proto,
                         uint32_t l4_len) noexcept;

// Where the TCP/UDP checksum of an Ethernet frame (up to two VLAN tags) starts (csum_start, the
// L4 header) and sits (csum_offset); false when the frame is not unfragmented IPv4/IPv6 TCP or
// UDP. *proto gets IPPROTO_TCP or IPPROTO_UDP when not null.
bool FindL4Checksum(const uint8_t* frame, uint32_t len, uint32_t* csum_start,
                    uint32_t* csum_offset, uint8_t* proto = nullptr) noexcept;

// Completes a partial checksum in contiguous memory.
void CompleteChecksum(uint8_t* frame, uint32_t len, uint32_t csum_start,
                      uint32_t csum_offset) noexcept;

// Completes the partial checksum of a buffer chain described by its offload fields
// (csum_start/csum_offset), then clears kOffloadNeedsCsum. A chain too short to hold the field
// is left alone.
void CompleteChainChecksum(const BufferPool& pool, Buffer* head) noexcept;

}  // namespace uplinkd::offload
