#pragma once
// Counters written by one thread and read by another (workers write, the control thread sums):
// relaxed atomic loads and stores, never read-modify-write, so they cost a plain add on x86.

#include <atomic>
#include <cstdint>

namespace uplinkd {

inline void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline uint64_t Read(const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); }

// Per interface, per worker (each worker writes only its own copy: no false sharing).
struct alignas(64) InterfaceCounters {
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> tx_packets{0};
  std::atomic<uint64_t> tx_bytes{0};
  std::atomic<uint64_t> drops{0};      // received here, dropped by the graph
  std::atomic<uint64_t> tx_errors{0};  // meant to leave here, refused by the driver
};

// Per rx queue (written by the worker that owns the queue).
struct alignas(64) RxQueueCounters {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> wakeups{0};  // interrupt/adaptive: times the queue was woken by its fd
};

// Per tx queue (written by whichever worker holds it).
struct alignas(64) TxQueueCounters {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
};

// A plain copy, for display and for `clear interfaces` baselines.
struct InterfaceStats {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0, drops = 0, tx_errors = 0;
  // Driver-side counters summed over queues.
  uint64_t rx_no_buffer = 0, rx_too_long = 0, rx_errors = 0, rx_miss = 0, tx_ring_full = 0,
           tx_too_long = 0, tx_offload = 0, tx_kicks = 0, tx_gro_merged = 0;

  InterfaceStats operator-(const InterfaceStats& o) const {
    InterfaceStats d;
    d.rx_packets = rx_packets - o.rx_packets;
    d.rx_bytes = rx_bytes - o.rx_bytes;
    d.tx_packets = tx_packets - o.tx_packets;
    d.tx_bytes = tx_bytes - o.tx_bytes;
    d.drops = drops - o.drops;
    d.tx_errors = tx_errors - o.tx_errors;
    d.rx_no_buffer = rx_no_buffer - o.rx_no_buffer;
    d.rx_too_long = rx_too_long - o.rx_too_long;
    d.rx_errors = rx_errors - o.rx_errors;
    d.rx_miss = rx_miss - o.rx_miss;
    d.tx_ring_full = tx_ring_full - o.tx_ring_full;
    d.tx_too_long = tx_too_long - o.tx_too_long;
    d.tx_offload = tx_offload - o.tx_offload;
    d.tx_kicks = tx_kicks - o.tx_kicks;
    d.tx_gro_merged = tx_gro_merged - o.tx_gro_merged;
    return d;
  }
};

}  // namespace uplinkd
