#pragma once
// A worker thread: polls its rx queues and runs the graph on each burst. This is the fast path:
// no allocation, exceptions, locks (but a shared tx queue's spinlock) or logging after Start.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "buffer/buffer_pool.h"
#include "buffer/packet_batch.h"
#include "graph/barrier.h"
#include "graph/interface.h"
#include "graph/nodes.h"

namespace uplinkd {

// What a worker sees of the engine. The engine changes it only while the workers are parked
// at `barrier`, so workers read it without locks.
struct WorkerEnv {
  WorkerBarrier& barrier;
  BufferPool& pool;
  const std::vector<std::unique_ptr<Interface>>& interfaces;  // by sw_if_index; null = deleted
  uint16_t burst;
};

// One rx queue placed on this worker.
struct RxAssignment {
  Interface* iface = nullptr;
  uint16_t queue = 0;
  RxQueue* rxq = nullptr;
  RxMode mode = RxMode::kPolling;
  int fd = -1;              // interrupt fd, -1 if the queue can only be polled
  bool waiting = false;     // interrupt/adaptive: asleep until its fd polls readable
  uint32_t idle_polls = 0;  // adaptive: consecutive empty polls
  uint64_t idle_since_ns = 0;
};

class Worker {
 public:
  Worker(const WorkerEnv& env, uint32_t index, std::string name, std::optional<uint32_t> core);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Control thread. Start attaches the worker to the barrier; Stop joins it and detaches.
  Status Start();
  void Stop();

  uint32_t index() const { return index_; }
  const std::string& name() const { return name_; }
  std::optional<uint32_t> core() const { return core_; }
  bool running() const { return thread_.joinable(); }

  // Control thread, workers parked: replace this worker's rx queue list.
  void SetAssignments(std::vector<RxAssignment> assignments);
  const std::vector<RxAssignment>& assignments() const { return rx_; }
  void Wake();  // makes a sleeping epoll_wait return (barrier, stop)

  // Read by the control thread.
  std::atomic<uint64_t> loops{0};
  std::atomic<uint64_t> sleeps{0};
  NodeStats node_stats[kNodeCount];
  std::atomic<uint64_t> drops[kDropReasonCount] = {};
  uint64_t start_ns = 0;

 private:
  void Run();
  uint16_t ProcessQueue(RxAssignment& a, BufferCache& cache) noexcept;
  void Drop(BufferCache& cache, Interface& rx_if, DropReason reason, Buffer* const* pkts,
            uint16_t n) noexcept;
  void Sleep(int timeout_ms) noexcept;
  void RebuildEpoll();

  const WorkerEnv env_;
  const uint32_t index_;
  const std::string name_;
  const std::optional<uint32_t> core_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::vector<RxAssignment> rx_;
  PacketBatch batch_;
  uint32_t lengths_[kMaxBurst];
};

}  // namespace uplinkd
