#pragma once
// Internals of the dpdk driver shared by eal.cc, mempool.cc, port.cc (setup), rx.cc and tx.cc.
// Include drivers/dpdk/dpdk.h instead.

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>

#include "buffer/buffer_pool.h"
#include "drivers/dpdk/dpdk.h"
#include "drivers/driver.h"

namespace uplinkd::dpdk {

// The slot layout when DPDK shares the pool (kDpdkExtHeaderSize = 192):
//   slot + 0    padding, then the mempool object header in the 24 bytes before the mbuf
//   slot + 64   struct rte_mbuf (128 bytes)
//   slot + 192  Buffer header: the mbuf's private area (priv_size 64)
//   slot + 256  headroom, then data: the mbuf's data room (buf_addr), so that
//               mbuf->data_off == Buffer::offset and both describe the same bytes.
static_assert(sizeof(rte_mbuf) == 128, "the mbuf takes two cache lines");
inline constexpr uint32_t kMempoolHeaderSize = 64;  // what rte_mempool gives a cache-aligned header
static_assert(kMempoolHeaderSize + sizeof(rte_mbuf) == kDpdkExtHeaderSize);
static_assert(sizeof(rte_mempool_objhdr) <= kMempoolHeaderSize);

inline Buffer* BufferOf(rte_mbuf* m) {
  return reinterpret_cast<Buffer*>(reinterpret_cast<uint8_t*>(m) + sizeof(rte_mbuf));
}
inline rte_mbuf* MbufOf(Buffer* b) {
  return reinterpret_cast<rte_mbuf*>(reinterpret_cast<uint8_t*>(b) - sizeof(rte_mbuf));
}

// Registers our mempool ops ("uplinkd_buffers") once; returns their name.
const char* RegisterBufferOps();

class alignas(64) DpdkRxQueue final : public RxQueue {
 public:
  DpdkRxQueue(uint16_t port, uint16_t queue) : port_(port), queue_(queue) {}
  // Hot (rx.cc): a burst from the PMD, its mbufs turned into Buffers in place.
  uint16_t Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept override;
  // The ports are polled (rx interrupts are not wired up): the engine polls, and yields the
  // core when every queue it polls was empty.
  int interrupt_fd() const override { return -1; }
  // Cold: the port's drop counters (queue 0 carries them: DPDK counts per port).
  void RefreshCounters() override;
  void Stop() { stopped_ = true; }

 private:
  uint16_t port_;
  uint16_t queue_;
  bool stopped_ = false;
  uint64_t last_imissed_ = 0, last_nombuf_ = 0, last_ierrors_ = 0;
};

class alignas(64) DpdkTxQueue final : public TxQueue {
 public:
  DpdkTxQueue(uint16_t port, uint16_t queue, BufferPool& pool, uint16_t max_segments)
      : port_(port), queue_(queue), max_segments_(max_segments), pool_(pool) {}
  // Hot (tx.cc): finishes offloads in software, turns each Buffer chain into an mbuf chain in
  // place, hands them to the PMD (which frees what it sent through the mempool), and frees what
  // the PMD did not take.
  uint16_t Transmit(BufferCache& cache, Buffer* const* pkts, uint16_t n) noexcept override;
  void Stop() { stopped_ = true; }

 private:
  // Fills the mbuf fields of a Buffer chain; false when it has more segments than the port takes.
  bool ToMbuf(Buffer* b, rte_mbuf** out) noexcept;
  uint16_t Send(BufferCache& cache, rte_mbuf** mbufs, Buffer** bufs, uint16_t n) noexcept;

  uint16_t port_;
  uint16_t queue_;
  uint16_t max_segments_;  // 1 unless the port takes multi-segment mbufs
  bool stopped_ = false;
  BufferPool& pool_;
};

}  // namespace uplinkd::dpdk
