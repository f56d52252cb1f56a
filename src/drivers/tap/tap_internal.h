#pragma once
// Internals shared by the tap driver's setup (tap.cc), rx.cc, tx.cc and, when built with
// liburing, uring.cc.

#include <sys/types.h>
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

// Buffers one read needs for the largest frame.
inline constexpr uint32_t TapMaxSegments(uint32_t segment_size) {
  return (kTapMaxFrame + segment_size - 1) / segment_size;
}

// What a receive burst counts, added to the queue's counters once at its end.
struct RxTally {
  uint64_t no_buffer = 0, too_long = 0, errors = 0;
  void AddTo(QueueCounters& c) const {
    if (no_buffer) c.Add(c.drops_no_buffer, no_buffer);
    if (too_long) c.Add(c.drops_too_long, too_long);
    if (errors) c.Add(c.errors, errors);
  }
};

// Hot. A stash of buffers big enough for the largest frame, already mapped in an iovec behind a
// vnet header: what one read fills. Refilled from the worker's cache; a received frame takes the
// first buffers and the rest move up. Not movable: iov()[0] points into it.
class RxStash {
 public:
  explicit RxStash(uint32_t segment_size);
  RxStash(const RxStash&) = delete;
  RxStash& operator=(const RxStash&) = delete;

  // Tops the stash up to a frame's worth; false when it holds no buffer at all.
  bool Refill(BufferCache& cache) noexcept;
  const iovec* iov() const { return iov_; }
  int iovcnt() const { return static_cast<int>(1 + count_); }
  // A read into iov() returned n >= 0 bytes (header included). Returns the frame: a chain of the
  // first buffers, now the caller's. Null when there was none (a short read or a frame larger
  // than the stash, counted in `tally`); the stash is then untouched.
  Buffer* TakeFrame(size_t n, RxTally& tally) noexcept;
  // Cold: gives every buffer back to the pool.
  void Release(BufferPool& pool) noexcept;

 private:
  const uint32_t segment_size_;  // data bytes per buffer
  const uint32_t max_segments_;  // buffers the largest frame needs
  uint32_t count_ = 0;
  VnetHeader header_{};
  Buffer* bufs_[kTapMaxSegments];
  iovec iov_[kTapMaxSegments + 1];  // [0] = header_, [1 + i] = bufs_[i]
};

// A tap rx queue, with the cold step the driver's Close needs.
class TapRxQueue : public RxQueue {
 public:
  // Cold, after the workers stopped using the queue: ends its reads, gives its buffers back to
  // the pool; Receive returns 0 from then on.
  virtual void Close(BufferPool& pool) noexcept = 0;
  // Cold: how the queue reads and writes ("readv/writev", "io_uring ..."), for Info.
  virtual const char* io_name() const = 0;
};

// Hot. One per tun fd; owned by one worker. One readv per frame into the stash, no allocation.
class alignas(64) TapPlainRxQueue final : public TapRxQueue {
 public:
  TapPlainRxQueue(int fd, uint32_t segment_size) : fd_(fd), stash_(segment_size) {}
  uint16_t Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept override;
  int interrupt_fd() const override { return fd_; }
  void Close(BufferPool& pool) noexcept override;
  const char* io_name() const override { return "readv/writev"; }

 private:
  int fd_;
  RxStash stash_;
};

// What a transmit burst counts. `sent` is what Transmit returns.
struct TxTally {
  uint16_t sent = 0;
  uint64_t ring_full = 0, too_long = 0, errors = 0, kicks = 0;
  void AddTo(QueueCounters& c) const {
    if (ring_full) c.Add(c.drops_ring_full, ring_full);
    if (too_long) c.Add(c.drops_too_long, too_long);
    if (errors) c.Add(c.errors, errors);
    if (kicks) c.Add(c.kicks, kicks);
  }
};

// Builds the vnet header for chain `b` in *header and maps header + segments in iov[0..ret).
// Returns 0 when the chain has more than kTapMaxSegments segments (too long to write).
int MapFrame(const BufferPool& pool, Buffer* b, VnetHeader* header, iovec* iov) noexcept;

// How one frame is written to the tun fd; a TapTxQueue<Writer> drives it:
//   bool open() const;                                            closed: the burst is dropped
//   void WriteFrame(BufferCache&, Buffer* b, uint16_t packets, TxTally&) noexcept;
//                            owns b from here on; b carries `packets` of the caller's packets
//   void Flush(BufferCache&, TxTally&) noexcept;                  end of the burst
//   void Close(BufferPool&) noexcept;                             cold
// Plain: one writev per frame, the frame freed right after (tun copied it).
class PlainTapWriter {
 public:
  explicit PlainTapWriter(int fd) : fd_(fd) {}
  bool open() const { return fd_ >= 0; }
  void WriteFrame(BufferCache& cache, Buffer* b, uint16_t packets, TxTally& tally) noexcept;
  void Flush(BufferCache&, TxTally&) noexcept {}
  void Close(BufferPool&) noexcept { fd_ = -1; }

 private:
  int fd_;
  VnetHeader header_{};
  iovec iov_[kTapMaxSegments + 1];
};

class TapTxQueueBase : public TxQueue {
 public:
  // Cold, after the workers stopped using the queue: waits for writes in flight, frees them.
  virtual void Close(BufferPool& pool) noexcept = 0;
};

// Hot. Writes each packet (a chain: one frame) behind a vnet header built from its offload
// fields. Shares the fd with the rx queue of the same number. With gro-coalesce, the TCP
// segments of a burst are first merged into GSO super-frames (offload::CoalesceTcp), so the
// host's stack takes a flow's burst in one write. Defined in tx.cc for the writers there and in
// uring.cc.
template <class Writer>
class alignas(64) TapTxQueue final : public TapTxQueueBase {
 public:
  template <class... Args>
  explicit TapTxQueue(bool gro_coalesce, Args&&... args)
      : gro_coalesce_(gro_coalesce), writer_(static_cast<Args&&>(args)...) {}
  uint16_t Transmit(BufferCache& cache, Buffer* const* pkts, uint16_t n) noexcept override;
  void Close(BufferPool& pool) noexcept override { writer_.Close(pool); }
  Writer& writer() { return writer_; }

 private:
  const bool gro_coalesce_;
  Writer writer_;
  Buffer* frames_[offload::kMaxGroBurst];  // a burst after coalescing
  uint16_t frame_packets_[offload::kMaxGroBurst];
};

}  // namespace uplinkd
