#pragma once
// In-memory driver for unit tests and benchmarks (BESS DummyPort, Seastar loopback): a test
// thread injects frames into an rx queue and collects what the engine transmitted, through
// single-producer/single-consumer rings, so the engine runs for real with no kernel underneath.

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "drivers/driver.h"

namespace uplinkd {

// A bounded single-producer/single-consumer ring of pointers.
class SpscRing {
 public:
  explicit SpscRing(uint32_t size_pow2) : mask_(size_pow2 - 1), slots_(size_pow2) {}
  bool Push(Buffer* b) noexcept {
    uint32_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) > mask_) return false;
    slots_[head & mask_] = b;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }
  Buffer* Pop() noexcept {
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) return nullptr;
    Buffer* b = slots_[tail & mask_];
    tail_.store(tail + 1, std::memory_order_release);
    return b;
  }
  uint32_t size() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

 private:
  const uint32_t mask_;
  std::vector<Buffer*> slots_;
  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
};

struct MemArgs {
  std::string name = "mem0";
  uint16_t num_rx_queues = 1;
  uint16_t num_tx_queues = 1;
  uint32_t ring_size = 4096;   // power of two
  bool tx_sink = false;        // free transmitted buffers instead of keeping them for Collect
  MacAddress mac{0x02, 0xfe, 0, 0, 0, 1};
};

class MemDriver final : public Driver {
 public:
  explicit MemDriver(const MemArgs& args);
  ~MemDriver() override;

  Status Start() override { return Status::Ok(); }
  void Close() noexcept override {}
  DriverInfo Info() const override;
  RxQueue& rx(uint16_t queue) override;
  TxQueue& tx(uint16_t queue) override;
  Status SetMac(const MacAddress& mac) override {
    args_.mac = mac;
    return Status::Ok();
  }

  // Test side (one thread per queue direction). Inject takes ownership; false when full.
  bool Inject(uint16_t queue, Buffer* b);
  // Transmitted buffers, in order; the caller owns (and frees) them.
  Buffer* Collect(uint16_t queue);
  uint64_t sunk(uint16_t queue) const;  // packets freed in tx_sink mode

 private:
  class MemRx;
  class MemTx;
  MemArgs args_;
  std::vector<std::unique_ptr<MemRx>> rx_;
  std::vector<std::unique_ptr<MemTx>> tx_;
};

}  // namespace uplinkd
