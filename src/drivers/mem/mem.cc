#include "drivers/mem/mem.h"

#include "common/check.h"

namespace uplinkd {

class MemDriver::MemRx final : public RxQueue {
 public:
  explicit MemRx(uint32_t size) : ring(size), event_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    UPLINKD_CHECK(event_fd >= 0);
  }
  ~MemRx() override { close(event_fd); }
  uint16_t Receive(BufferCache& /*cache*/, Buffer** out, uint16_t max) noexcept override {
    uint16_t n = 0;
    while (n < max) {
      Buffer* b = ring.Pop();
      if (!b) break;
      out[n++] = b;
    }
    if (n < max) {  // drained: re-arm the interrupt
      uint64_t v;
      [[maybe_unused]] ssize_t r = read(event_fd, &v, sizeof v);
      if (ring.size() > 0) {  // raced with a producer: keep it readable
        uint64_t one = 1;
        r = write(event_fd, &one, sizeof one);
      }
    }
    return n;
  }
  int interrupt_fd() const override { return event_fd; }

  SpscRing ring;
  int event_fd;
};

class MemDriver::MemTx final : public TxQueue {
 public:
  MemTx(uint32_t size, bool sink) : ring(size), sink_mode(sink) {}
  uint16_t Transmit(BufferCache& cache, Buffer* const* pkts, uint16_t n) noexcept override {
    if (sink_mode) {
      cache.Free(pkts, n);
      sunk.store(sunk.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
      return n;
    }
    uint16_t sent = 0;
    for (; sent < n; ++sent) {
      if (!ring.Push(pkts[sent])) break;
    }
    if (sent < n) {
      cache.Free(pkts + sent, n - sent);
      counters.Add(counters.drops_ring_full, n - sent);
    }
    return sent;
  }

  SpscRing ring;
  bool sink_mode;
  std::atomic<uint64_t> sunk{0};
};

MemDriver::MemDriver(const MemArgs& args) : args_(args) {
  for (uint16_t q = 0; q < args.num_rx_queues; ++q) {
    rx_.push_back(std::make_unique<MemRx>(args.ring_size));
  }
  for (uint16_t q = 0; q < args.num_tx_queues; ++q) {
    tx_.push_back(std::make_unique<MemTx>(args.ring_size, args.tx_sink));
  }
}

MemDriver::~MemDriver() = default;

DriverInfo MemDriver::Info() const {
  DriverInfo info;
  info.driver = "mem";
  info.mac = args_.mac;
  info.num_rx_queues = args_.num_rx_queues;
  info.num_tx_queues = args_.num_tx_queues;
  info.rx_ring_size = info.tx_ring_size = args_.ring_size;
  info.link_up = true;
  return info;
}

RxQueue& MemDriver::rx(uint16_t queue) { return *rx_.at(queue); }
TxQueue& MemDriver::tx(uint16_t queue) { return *tx_.at(queue); }

bool MemDriver::Inject(uint16_t queue, Buffer* b) {
  MemRx& q = *rx_.at(queue);
  if (!q.ring.Push(b)) return false;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(q.event_fd, &one, sizeof one);
  return true;
}

Buffer* MemDriver::Collect(uint16_t queue) { return tx_.at(queue)->ring.Pop(); }

uint64_t MemDriver::sunk(uint16_t queue) const {
  return tx_.at(queue)->sunk.load(std::memory_order_relaxed);
}

}  // namespace uplinkd
