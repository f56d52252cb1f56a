#pragma once
// Internals shared by the tap driver's setup (tap.cc), rx.cc and tx.cc.

#include <sys/uio.h>

#include <cstdint>

#include "buffer/buffer_pool.h"
#include "drivers/driver.h"
#include "offload/gro.h"

namespace uplinkd {

// The vnet header is virtio_net_hdr_v1 (12 bytes), not the legacy 10-byte virtio_net_hdr: it is
// the virtio 1.0 layout our virtio PCI driver and VPP's tap use, so one builder serves both, and
// the trailing num_buffers (ignored by tun) keeps the header a multiple of 4 bytes. tun treats
// the fields as little-endian on this host, which le16toh/htole16 make explicit.
// <linux/virtio_net.h> cannot be included from C++ (a member named `class`), so the layout and
// constants are spelled out here, as the virtio 1.x spec gives them.
struct VnetHeader {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;  // Ethernet + IP + L4 headers
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;  // mergeable rx buffers only; tun ignores it
};
static_assert(sizeof(VnetHeader) == 12, "virtio_net_hdr_v1");
inline constexpr uint32_t kVnetHeaderSize = sizeof(VnetHeader);
inline constexpr uint8_t kVnetFlagNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr uint8_t kVnetFlagDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
inline constexpr uint8_t kGsoNone = 0;            // VIRTIO_NET_HDR_GSO_NONE
inline constexpr uint8_t kGsoTcpV4 = 1;
inline constexpr uint8_t kGsoUdp = 3;
inline constexpr uint8_t kGsoTcpV6 = 4;
inline constexpr uint8_t kGsoUdpL4 = 5;
inline constexpr uint8_t kGsoEcn = 0x80;

// The largest frame tun hands us: a 64 KB GSO super-frame plus Ethernet/VLAN headers.
inline constexpr uint32_t kTapMaxFrame = 65536 + 128;
// Segments for that frame with the smallest buffer data-size the pool allows (256).
inline constexpr uint32_t kTapMaxSegments = (kTapMaxFrame + 255) / 256;

// Hot. One per tun fd; owned by one worker. Keeps a stash of buffers big enough for the largest
// frame already mapped in its iovec, so a receive is one readv and no allocation; the stash is
// topped up from the worker's cache.
class alignas(64) TapRxQueue final : public RxQueue {
 public:
  TapRxQueue(int fd, uint32_t segment_size);
  uint16_t Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept override;
  int interrupt_fd() const override { return fd_; }
  // Cold, after the workers stopped: gives the stash back to the pool.
  void ReleaseBuffers(BufferPool& pool) noexcept;
  void Detach() noexcept { fd_ = -1; }

 private:
  int fd_;
  const uint32_t segment_size_;  // data bytes per buffer
  const uint32_t max_segments_;  // buffers the largest frame needs
  uint32_t stash_count_ = 0;
  VnetHeader header_{};
  Buffer* stash_[kTapMaxSegments];
  iovec iov_[kTapMaxSegments + 1];  // [0] = header_, [1 + i] = stash_[i]
};

// Hot. Writes each packet (a chain: one writev) behind a vnet header built from its offload
// fields. Shares the fd with the rx queue of the same number. With gro-coalesce, the TCP
// segments of a burst are first merged into GSO super-frames (offload::CoalesceTcp), so the
// host's stack takes a flow's burst in one write.
class alignas(64) TapTxQueue final : public TxQueue {
 public:
  TapTxQueue(int fd, bool gro_coalesce) : fd_(fd), gro_coalesce_(gro_coalesce) {}
  uint16_t Transmit(BufferCache& cache, Buffer* const* pkts, uint16_t n) noexcept override;
  void Detach() noexcept { fd_ = -1; }

 private:
  // Writes frames[0..n), frames[i] carrying packets[i] of the caller's packets (null: one each);
  // returns how many of the caller's packets were written.
  uint16_t Write(const BufferPool& pool, Buffer* const* frames, const uint16_t* packets,
                 uint32_t n) noexcept;

  int fd_;
  const bool gro_coalesce_;
  VnetHeader header_{};
  iovec iov_[kTapMaxSegments + 1];
  Buffer* frames_[offload::kMaxGroBurst];  // a burst after coalescing
  uint16_t frame_packets_[offload::kMaxGroBurst];
};

}  // namespace uplinkd
