#pragma once
// Internals of the af_packet driver shared by af_packet.cc (setup), rx.cc and tx.cc. Not part of
// the public API: include drivers/af_packet/af_packet.h instead.

#include <linux/if_packet.h>

#include <cstddef>
#include <cstdint>

#include "buffer/buffer_pool.h"
#include "drivers/driver.h"

namespace uplinkd::af_packet {

// struct virtio_net_hdr of <linux/virtio_net.h>, which C++ cannot include (a member is named
// `class`). Little-endian fields: the kernel uses little-endian vnet headers for packet sockets.
struct VirtioNetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VirtioNetHdr) == 10);
inline constexpr uint8_t kVnetFlagNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr uint8_t kVnetFlagDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
inline constexpr uint8_t kVnetGsoNone = 0;        // VIRTIO_NET_HDR_GSO_NONE
inline constexpr uint8_t kVnetGsoTcpV4 = 1;       // VIRTIO_NET_HDR_GSO_TCPV4

inline constexpr uint32_t kVnetHdrSize = sizeof(VirtioNetHdr);
// Longest chain a frame may occupy (pool data-size >= 256, so this covers 64 KiB + headers).
inline constexpr uint32_t kMaxChainSegments = 320;
// Largest frame a GSO super-frame gives us: 64 KiB of skb plus an Ethernet and a VLAN header,
// rounded up. Larger frames (BIG TCP) are counted as too long.
inline constexpr uint32_t kMaxGsoFrameBytes = 65536 + 64;
// Offset of the frame data in a TPACKET_V2 TX frame when PACKET_TX_HAS_OFF is not used.
inline constexpr uint32_t kTxDataOffset = TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);

// Geometry of one PACKET_MMAP ring, as given to PACKET_RX_RING / PACKET_TX_RING.
struct RingLayout {
  uint32_t block_size = 0;
  uint32_t block_nr = 0;
  uint32_t frame_size = 0;
  uint32_t frame_nr = 0;
  uint32_t frames_per_block() const { return block_size / frame_size; }
  size_t bytes() const { return static_cast<size_t>(block_size) * block_nr; }
};

// An mmap'ed ring and its socket; closes both. Move-only.
class MappedSocket {
 public:
  MappedSocket() = default;
  MappedSocket(int fd, uint8_t* ring, size_t ring_bytes)
      : fd_(fd), ring_(ring), ring_bytes_(ring_bytes) {}
  ~MappedSocket() { Reset(); }
  MappedSocket(MappedSocket&& o) noexcept { *this = static_cast<MappedSocket&&>(o); }
  MappedSocket& operator=(MappedSocket&& o) noexcept;
  MappedSocket(const MappedSocket&) = delete;
  MappedSocket& operator=(const MappedSocket&) = delete;

  int fd() const { return fd_; }
  uint8_t* ring() const { return ring_; }
  void Reset() noexcept;

 private:
  int fd_ = -1;
  uint8_t* ring_ = nullptr;
  size_t ring_bytes_ = 0;
};

class alignas(64) AfPacketRxQueue final : public RxQueue {
 public:
  AfPacketRxQueue(MappedSocket socket, const RingLayout& layout, bool v3, bool vnet_hdr,
                  BufferPool& pool);
  // Hot (rx.cc).
  uint16_t Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept override;
  int interrupt_fd() const override { return fd_; }
  void RefreshCounters() override;
  // Cold: unmaps and closes; Receive then returns 0.
  void Close() noexcept;
  int fd() const { return fd_; }

 private:
  uint16_t ReceiveV2(BufferCache& cache, Buffer** out, uint16_t max) noexcept;
  uint16_t ReceiveV3(BufferCache& cache, Buffer** out, uint16_t max) noexcept;
  // Copies one ring frame into a buffer chain; nullptr when it was dropped (and counted).
  Buffer* TakeFrame(BufferCache& cache, uint8_t* mac, uint32_t snaplen, uint32_t len,
                    uint32_t status, uint8_t pkttype, uint16_t vlan_tci,
                    uint16_t vlan_tpid) noexcept;

  // Hot state first.
  int fd_;
  uint8_t* ring_;
  bool v3_;
  bool vnet_hdr_;
  uint32_t data_size_;  // bytes per buffer segment
  uint32_t block_size_;
  uint32_t block_nr_;
  uint32_t frame_size_;
  uint32_t frames_per_block_;
  uint32_t frame_nr_;
  uint32_t next_;  // V2: next frame to look at; V3: current block
  // V3: packets left in the current block and where the next one starts (nullptr: block not
  // yet opened).
  uint32_t pkts_left_ = 0;
  uint8_t* next_pkt_ = nullptr;
  MappedSocket socket_;  // cold: owns fd_ and ring_
};

class alignas(64) AfPacketTxQueue final : public TxQueue {
 public:
  // `ring_socket` carries the TX ring; `plain_fd` is a ring-less socket on the same interface for
  // frames larger than a ring frame (the kernel sends anything written to a socket with a TX ring
  // from the ring, so that path needs a socket of its own).
  AfPacketTxQueue(MappedSocket ring_socket, int plain_fd, const RingLayout& layout, bool vnet_hdr,
                  uint32_t max_plain_frame, uint32_t max_gso_frame);
  ~AfPacketTxQueue() override;
  // Hot (tx.cc).
  uint16_t Transmit(BufferCache& cache, Buffer* const* pkts, uint16_t n) noexcept override;
  void Close() noexcept;
  int fd() const { return fd_; }

 private:
  void Kick() noexcept;
  bool SendPlain(BufferPool& pool, Buffer* b, uint32_t nseg) noexcept;

  int fd_;
  int plain_fd_;
  uint8_t* ring_;
  bool vnet_hdr_;
  uint32_t block_size_;
  uint32_t frame_size_;
  uint32_t frames_per_block_;
  uint32_t frame_nr_;
  uint32_t frame_capacity_;  // bytes (vnet header included) a ring frame takes
  uint32_t max_plain_frame_;  // longest frame without GSO (MTU + Ethernet + VLAN)
  uint32_t max_gso_frame_;    // longest GSO super-frame
  uint32_t next_ = 0;
  MappedSocket socket_;
};


}  // namespace uplinkd::af_packet
