#pragma once
// Packet buffer: a 64-byte header, then headroom, then data, all inside one slot of the
// BufferPool's memory. Jumbo frames are chains of buffers (`next`, kNextValid), VPP style.

#include <cstdint>

namespace uplinkd {

inline constexpr uint32_t kBufferHeaderSize = 64;
inline constexpr uint32_t kBufferHeadroom = 128;  // room for encapsulation by later nodes
inline constexpr uint32_t kInvalidBufferIndex = UINT32_MAX;

struct alignas(64) Buffer {
  enum Flags : uint32_t {
    kNextValid = 1u << 0,  // `next` names the following segment
  };
  enum OffloadFlags : uint8_t {
    kOffloadNeedsCsum = 1u << 0,  // VIRTIO_NET_HDR_F_NEEDS_CSUM: csum_start/csum_offset valid
    kOffloadDataValid = 1u << 1,  // VIRTIO_NET_HDR_F_DATA_VALID: checksum already verified
  };

  // Hot fields, touched for every packet.
  uint16_t offset;        // start of data, from the end of the header (kBufferHeadroom when fresh)
  uint16_t length;        // bytes in this segment
  uint32_t flags;
  uint32_t next;          // pool index of the next segment when kNextValid
  uint32_t total_length;  // bytes in the whole chain, valid in the head segment
  uint32_t index;         // own pool index, fixed at pool creation
  uint32_t rx_interface;  // sw_if_index the packet arrived on
  uint32_t tx_interface;  // sw_if_index it leaves on, set by the node that chose it
  // Offload metadata, as a virtio-net header carries it (af_packet and tap read and write those
  // headers): a partial checksum still to fill in, and a GSO super-frame still to segment.
  uint8_t offload_flags;  // kOffloadNeedsCsum, kOffloadDataValid
  uint8_t gso_type;       // VIRTIO_NET_HDR_GSO_* (0 = none)
  uint16_t gso_size;      // payload bytes per segment when gso_type != 0
  uint16_t csum_start;    // from data(): where checksumming starts
  uint16_t csum_offset;   // from csum_start: where the checksum is stored
  uint8_t opaque[28];     // per-node scratch (parsed offsets and the like)

  uint8_t* data() { return reinterpret_cast<uint8_t*>(this) + kBufferHeaderSize + offset; }
  const uint8_t* data() const {
    return reinterpret_cast<const uint8_t*>(this) + kBufferHeaderSize + offset;
  }
  bool has_next() const { return (flags & kNextValid) != 0; }
};
static_assert(sizeof(Buffer) == kBufferHeaderSize, "the header is exactly one cache line");

}  // namespace uplinkd
