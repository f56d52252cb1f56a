#pragma once
// TCP receive coalescing (GRO) toward the host tap, as VPP's tap `gro-coalesce` and the kernel's
// tcp_gro_receive do it: the in-order, same-sized segments of one TCP flow within a burst become
// one GSO super-frame (virtio GSO_TCPV4/TCPV6, gso_size = the first segment's payload, partial
// checksum), so the node's stack takes one 64 KiB frame through one tun write instead of ~45.
//
// Rules (the kernel's, tcp_gro_receive/inet_gro_receive/ipv6_gro_receive):
// - same flow: same IP version, addresses and ports; a segment of the flow that cannot be merged
//   ends the flow's aggregate, so a flow's packets never pass each other;
// - merged: IPv4 without options or fragmentation, or IPv6 with TCP as the next header; equal
//   Ethernet/VLAN header, TOS/TTL (IPv4; DF too) or first word/hop limit (IPv6); IPv4 ids
//   consecutive (or all equal with DF set); equal ACK number, window, data offset and option
//   bytes (timestamps included); flags ACK, or ACK|PSH on the segment that ends the aggregate;
//   sequence = previous sequence + previous payload; payload 1..gso_size, a shorter one ends the
//   aggregate; at most 64 KiB of IP length and kMaxGroSegments segments;
// - never merged (passed on as they are): SYN/FIN/RST/URG/CWR/ECE, no payload, IP options,
//   fragments, extension headers, frames already carrying GSO, a bad IPv4 header checksum,
//   lengths that do not match the frame, headers not in the first buffer;
// - only a segment whose TCP checksum is known good is merged: kOffloadDataValid (the receiving
//   driver checked it), kOffloadNeedsCsum (a local sender's partial checksum), or verified here
//   in software. The super-frame carries NEEDS_CSUM, which the kernel takes as verified, so an
//   unverified segment must never be merged; one failing verification is passed on unmerged and
//   the node's stack drops and counts it.
// Other packets (non-TCP, other flows) keep their places: an aggregate sits where its first
// segment was. Anything the parser cannot place in a flow that might be TCP (a fragment, an
// unknown IPv6 extension header) ends every open aggregate first.
//
// Hot-path safe: no allocation, locks, logging or exceptions; the flow table lives on the stack.

#include <cstdint>

#include "buffer/buffer_pool.h"

namespace uplinkd::offload {

// Flows followed at once within a burst; a further flow ends the oldest one's aggregate.
inline constexpr uint32_t kGroMaxFlows = 16;
// Segments in one super-frame (the kernel's limit is 64 KiB, not a count; this bounds chains).
inline constexpr uint32_t kMaxGroSegments = 64;
// Buffers in one super-frame's chain: a 64 KiB frame in 256-byte buffers, below what the tap's
// writev (kTapMaxSegments) and the chain walkers (320) take.
inline constexpr uint32_t kMaxGroBuffers = 256;
// IP length (IPv4 total length, IPv6 header + payload) a super-frame may reach.
inline constexpr uint32_t kMaxGroIpLength = 65535;
// Packets one Coalesce call takes.
inline constexpr uint32_t kMaxGroBurst = 256;

struct GroStats {
  uint32_t merged = 0;        // segments appended to an earlier one
  uint32_t super_frames = 0;  // GSO super-frames made
  uint32_t bad_checksum = 0;  // candidates whose software-verified TCP checksum failed
};

// Coalesces in[0..n) (n <= kMaxGroBurst) into out[0..ret): out[k] is a packet of `in` as it
// was, or a super-frame whose head is a packet of `in` and whose chain holds the payload of the
// segments merged into it (their buffers are linked, not copied: their offset is moved past
// the headers). packets[k] says how many packets of `in` out[k] carries. Takes `in` over: the
// caller owns out[0..ret) and nothing else (every buffer of `in` is in exactly one of them).
// `out` may be `in` itself. The pool resolves chain indices.
uint32_t CoalesceTcp(const BufferPool& pool, Buffer* const* in, uint32_t n, Buffer** out,
                     uint16_t* packets, GroStats* stats) noexcept;

}  // namespace uplinkd::offload
