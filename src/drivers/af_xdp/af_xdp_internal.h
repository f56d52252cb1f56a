#pragma once
// Internals of the af_xdp driver shared by af_xdp.cc (setup), rx.cc and tx.cc. Not part of the
// public API: include drivers/af_xdp/af_xdp.h instead.

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <xdp/xsk.h>
#pragma GCC diagnostic pop

#include <linux/if_xdp.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "buffer/buffer_pool.h"
#include "drivers/driver.h"

// Newer than the uapi headers of the build host (Debian 12 ships 6.1's): multi-buffer AF_XDP
// (kernel 6.6+).
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

namespace uplinkd::af_xdp {

// The UMEM / buffer offset rule.
//
// The UMEM is the pool's whole region, so a UMEM address is a byte offset from
// BufferPool::memory(), and slot i starts at i * slot_size. Each slot is the pool's ext header
// (an mbuf when DPDK shares the pool; often empty) and a 64-byte Buffer header, together
// data_area_offset bytes, followed by the data area (kBufferHeadroom + data_size bytes); the
// kernel must never write the headers. So:
// - Fill ring: the address of buffer i is its data area, i * slot_size + data_area_offset, and
//   the UMEM chunk size is the data area's length (data_area_size), in unaligned chunk mode
//   since that is not a power of two. With a frame headroom of 0 the kernel writes
//   the frame XDP_PACKET_HEADROOM (256) bytes into the chunk, so a received buffer has
//   Buffer::offset == kRxDataOffset (256, more room in front than kBufferHeadroom's 128: fine
//   for later encapsulation) and at most kRxFrameCapacity bytes.
// - Rx ring: in unaligned mode the kernel encodes the data's offset in the address's upper 16
//   bits (base + (offset << 48)); the driver decodes base + offset, takes the slot index from it
//   (addr / slot_size) and sets Buffer::offset = addr - slot start - data_area_offset, so a
//   program that moved the frame start (bpf_xdp_adjust_head) is honoured too, and length = the
//   descriptor's len.
// - Tx ring: a buffer goes out from where it is: address = data() - memory(), len = length. The
//   completion ring returns that address; its slot index gives the buffer back.
inline constexpr uint32_t kRxDataOffset = XDP_PACKET_HEADROOM;
inline uint32_t UmemChunkSize(const BufferPool& pool) { return pool.data_area_size(); }
inline uint32_t RxFrameCapacity(const BufferPool& pool) {
  return UmemChunkSize(pool) - kRxDataOffset;
}
// The kernel takes at most MAX_SKB_FRAGS + 1 descriptors for one multi-buffer frame.
inline constexpr uint32_t kMaxSegments = 17;

// Which buffers the kernel holds for one ring pair, by pool index (1 = the kernel's). Set when a
// buffer goes on the fill or TX ring, cleared when it comes back on the rx or completion ring;
// whatever is still set when the socket is gone is given back to the pool, so nothing leaks,
// whatever the kernel kept (frames it dropped, buffers a zero-copy driver held). One byte per
// buffer, written by the queue's worker only.
class Ownership {
 public:
  explicit Ownership(uint32_t total) : held_(total, 0) {}
  void Take(uint32_t index) noexcept { held_[index] = 1; }
  void Give(uint32_t index) noexcept { held_[index] = 0; }
  // Cold: returns every buffer still marked to `pool` and clears the marks; returns how many.
  uint32_t ReturnAll(BufferPool& pool) noexcept;

 private:
  std::vector<uint8_t> held_;
};

class alignas(64) AfXdpRxQueue final : public RxQueue {
 public:
  AfXdpRxQueue(BufferPool& pool, uint16_t queue_id, uint32_t fill_size);
  // Hot (rx.cc): received frames (chains when multi-buffer), then the fill ring topped up.
  uint16_t Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept override;
  int interrupt_fd() const override { return fd_; }
  // Cold: folds the socket's XDP_STATISTICS into the counters.
  void RefreshCounters() override;

  // Cold (setup): the rings libxdp maps for this socket.
  xsk_ring_cons* rx_ring() { return &rx_; }
  xsk_ring_prod* fill_ring() { return &fill_; }
  void Bind(int fd) { fd_ = fd; }
  // Cold: a poll that finds the rx ring empty then asks the kernel to run the interface's NAPI
  // in this thread (preferred busy polling; the socket options are set by the driver).
  void EnableBusyPoll() { busy_poll_ = true; }
  // Tops the fill ring up from `cache`; returns how many buffers were added. Hot and cold.
  uint32_t Refill(BufferCache& cache) noexcept;
  // Cold: stops Receive (the socket is being closed).
  void Unbind() { fd_ = -1; }
  // Cold, after the socket is closed: every buffer the kernel held goes back to the pool.
  uint32_t ReturnBuffers() noexcept { return owned_.ReturnAll(pool_); }
  uint16_t queue_id() const { return queue_id_; }

 private:
  // Hot state first.
  xsk_ring_cons rx_{};
  xsk_ring_prod fill_{};
  int fd_ = -1;
  bool busy_poll_ = false;
  uint8_t* base_;
  uint32_t slot_size_;
  uint32_t data_area_offset_;  // of a slot: where the UMEM chunk starts
  uint32_t fill_size_;
  BufferPool& pool_;
  Ownership owned_;
  // Cold.
  uint16_t queue_id_;
  xdp_statistics last_stats_{};
};

class alignas(64) AfXdpTxQueue final : public TxQueue {
 public:
  AfXdpTxQueue(BufferPool& pool, uint32_t tx_size, bool multi_buffer);
  // Hot (tx.cc): reclaims completed buffers, puts the packets on the TX ring (chains as
  // XDP_PKT_CONTD descriptors when multi-buffer), and kicks the kernel when it asks.
  uint16_t Transmit(BufferCache& cache, Buffer* const* pkts, uint16_t n) noexcept override;

  xsk_ring_prod* tx_ring() { return &tx_; }
  xsk_ring_cons* comp_ring() { return &comp_; }
  void Bind(int fd) { fd_ = fd; }
  void Unbind() { fd_ = -1; }
  uint32_t ReturnBuffers() noexcept { return owned_.ReturnAll(pool_); }
  // Frames sent but not yet completed by the kernel (tests, show hardware).
  uint32_t in_flight() const { return in_flight_; }

 private:
  // Takes what the completion ring returned back into `cache`.
  void Complete(BufferCache& cache) noexcept;
  bool Enqueue(Buffer* b, uint32_t* submitted) noexcept;
  void Kick() noexcept;

  xsk_ring_prod tx_{};
  xsk_ring_cons comp_{};
  int fd_ = -1;
  uint8_t* base_;
  uint32_t slot_size_;
  uint32_t tx_size_;
  bool multi_buffer_;
  uint32_t in_flight_ = 0;  // descriptors
  BufferPool& pool_;
  Ownership owned_;
};

}  // namespace uplinkd::af_xdp
