#pragma once
// The driver interface, in two layers (STYLE.md 6.2):
// - Driver: cold, one per interface, called from the control thread only. It may allocate, log
//   and fail with a Status.
// - RxQueue / TxQueue: hot, each used by exactly one worker at a time (a TxQueue shared by
//   several workers says so and locks inside). One virtual call per burst; noexcept; no
//   allocation, logging or blocking calls beyond the batched syscall the driver needs.
//
// Ownership: Receive hands fresh buffers to the caller. Transmit takes ownership of all n
// buffers: it returns how many it queued and frees (and counts) the rest, so callers never leak.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "buffer/buffer_pool.h"
#include "common/parse.h"
#include "common/status.h"

namespace uplinkd {

enum class RxMode : uint8_t { kPolling, kInterrupt, kAdaptive };
const char* RxModeName(RxMode mode);

// Counters a queue keeps of its own (the engine counts packets and bytes itself). Written by the
// owning worker only, read by the control thread: relaxed atomics, so no locks and no tearing.
struct QueueCounters {
  std::atomic<uint64_t> drops_no_buffer{0};   // rx: the pool was empty
  std::atomic<uint64_t> drops_too_long{0};    // rx: frame larger than a buffer chain may hold
  std::atomic<uint64_t> drops_ring_full{0};   // tx: no room in the ring/socket
  std::atomic<uint64_t> drops_offload{0};     // tx: a GSO frame that could not be segmented
  std::atomic<uint64_t> errors{0};            // a syscall failed (rx or tx)
  std::atomic<uint64_t> kicks{0};             // tx: syscalls made to send
  std::atomic<uint64_t> gro_merged{0};        // tx: packets sent inside an earlier one's GRO
                                              // super-frame (tap gro-coalesce)
  std::atomic<uint64_t> drops_kernel{0};      // rx: dropped by the kernel before we saw them
                                              // (ring full); written by RefreshCounters only

  void Add(std::atomic<uint64_t>& c, uint64_t n) { c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
};
static_assert(sizeof(QueueCounters) <= 64, "the queue counters fit one cache line");

class RxQueue {
 public:
  virtual ~RxQueue() = default;
  // Hot. Fills out[0..ret) with received packets (chains for frames larger than a buffer).
  virtual uint16_t Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept = 0;
  // Cold. A file descriptor that polls readable when packets wait (interrupt/adaptive modes),
  // or -1 when the queue can only be polled. It may wake only for what a Receive prepared (the
  // tap's io_uring reads), so a worker receives once before its first wait, and retries an
  // epoll_wait that ends in EINTR (io_uring completions interrupt it).
  virtual int interrupt_fd() const = 0;
  // Cold, control thread: folds counters the kernel keeps (e.g. PACKET_STATISTICS) into
  // `counters`. Called before counters are shown.
  virtual void RefreshCounters() {}
  // A cache line of its own (8 counters): the control thread's reads never share a line with
  // the derived queue's hot fields, which start on the next one.
  alignas(64) QueueCounters counters;
};

class TxQueue {
 public:
  virtual ~TxQueue() = default;
  // Hot. Takes ownership of pkts[0..n); returns how many were queued for the wire.
  virtual uint16_t Transmit(BufferCache& cache, Buffer* const* pkts, uint16_t n) noexcept = 0;
  alignas(64) QueueCounters counters;  // a cache line of its own, as in RxQueue
};

// What `show hardware-interfaces` and the engine need to know of a driver.
struct DriverInfo {
  std::string driver;       // "af_packet", "tap", ...
  std::string host_if;      // the Linux interface behind it, if any
  MacAddress mac{};
  uint32_t mtu = 1500;
  uint16_t num_rx_queues = 1;
  uint16_t num_tx_queues = 1;
  uint32_t rx_ring_size = 0;
  uint32_t tx_ring_size = 0;
  bool link_up = false;
  std::vector<std::string> details;  // extra lines for show hardware-interfaces
};

class Driver {
 public:
  virtual ~Driver() = default;
  // Begins moving packets (rings mapped, sockets bound). Called once, after creation.
  virtual Status Start() = 0;
  // Gives the interface back to Linux (promisc restored, tap removed, ...). Idempotent.
  virtual void Close() noexcept = 0;
  virtual DriverInfo Info() const = 0;
  virtual RxQueue& rx(uint16_t queue) = 0;
  virtual TxQueue& tx(uint16_t queue) = 0;
  // Optional controls; the default says the driver cannot.
  virtual Status SetAdminUp(bool /*up*/) { return Status::Ok(); }
  virtual Status SetMac(const MacAddress& /*mac*/) {
    return Failure(ENOTSUP, "this driver cannot change its MAC address");
  }
  virtual Status SetMtu(uint32_t /*mtu*/) {
    return Failure(ENOTSUP, "this driver cannot change its MTU");
  }
};

}  // namespace uplinkd
