#pragma once
// The engine: buffer pool, interfaces and the worker threads that move packets between them.
// Every method here is control plane: called from one control thread at a time (the CLI server
// serializes its handlers; start-up runs before it), may allocate and log, and returns a Status.
// Changes the workers can see are made while they are parked at a barrier (rare: topology).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "buffer/buffer_pool.h"
#include "drivers/driver.h"
#include "graph/barrier.h"
#include "graph/interface.h"
#include "graph/worker.h"

namespace uplinkd {

struct EngineConfig {
  BufferPoolConfig buffers;
  uint32_t workers = 0;                   // 0: one thread, "main", forwards
  std::vector<uint32_t> worker_cores;     // corelist-workers; empty: after main_core
  std::optional<uint32_t> main_core;
  uint16_t burst = kDefaultBurst;         // packets asked of an rx queue at a time
};

struct RxQueueView {
  uint16_t queue = 0;
  uint32_t worker = 0;
  std::string worker_name;
  RxMode mode = RxMode::kPolling;
  uint64_t packets = 0, bytes = 0, wakeups = 0;
  uint64_t drops_no_buffer = 0, drops_too_long = 0, errors = 0;
};

struct TxQueueView {
  uint16_t queue = 0;
  bool shared = false;
  uint64_t packets = 0, bytes = 0, drops_ring_full = 0, errors = 0, kicks = 0;
};

struct InterfaceView {
  uint32_t sw_if_index = 0;
  std::string name;
  bool admin_up = false;
  bool has_driver = false;
  DriverInfo info;
  InterfaceStats stats;  // since the last `clear interfaces`
  std::vector<RxQueueView> rx_queues;
  std::vector<TxQueueView> tx_queues;
  std::string xconnect;  // the output interface's name, empty if none
};

struct NodeView {
  std::string name;
  std::string state;  // input nodes: the rx mode of their queues ("mixed" if they differ)
  uint64_t calls = 0, vectors = 0, clocks = 0;
};

struct ThreadView {
  uint32_t index = 0;
  std::string name;
  std::optional<uint32_t> core;
  double seconds = 0;
  uint64_t loops = 0, sleeps = 0;
  std::vector<NodeView> nodes;  // nodes that ran at least once
  std::vector<std::string> input_queues;  // "host-eth0 queue 0 (interrupt)"
};

struct ErrorView {
  uint64_t count = 0;
  std::string node, reason, severity;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(const EngineConfig& config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts the worker threads. Interfaces may be added before or after.
  Status Start();
  // Stops the workers, then closes every driver (gives interfaces back to Linux). Idempotent.
  void Stop();

  BufferPool& pool() { return *pool_; }
  uint32_t num_workers() const { return static_cast<uint32_t>(workers_.size()); }

  // Adds an interface around a started driver; its rx queues are placed on the workers
  // round-robin in `default_mode`. Returns its sw_if_index. The interface starts admin down.
  Result<uint32_t> AddInterface(std::string name, std::unique_ptr<Driver> driver,
                                RxMode default_mode);
  Status DeleteInterface(uint32_t sw_if_index);
  // By name, else by tag.
  Result<uint32_t> FindInterface(std::string_view name) const;
  // Another name to find the interface by (VPP's interface tag; dpdk's `tag`). Control only.
  Status SetTag(uint32_t sw_if_index, std::string tag);
  bool NameInUse(std::string_view name) const { return FindInterface(name).ok(); }

  Status SetAdminUp(uint32_t sw_if_index, bool up);
  // queue empty: every rx queue of the interface.
  Status SetRxMode(uint32_t sw_if_index, std::optional<uint16_t> queue, RxMode mode);
  Status SetRxPlacement(uint32_t sw_if_index, uint16_t queue, uint32_t worker);
  // Packets received on `rx` leave on `tx` unchanged (VPP `set interface l2 xconnect`).
  Status SetXconnect(uint32_t rx, uint32_t tx);
  Status ClearXconnect(uint32_t rx);
  Status SetMac(uint32_t sw_if_index, const MacAddress& mac);
  Status SetMtu(uint32_t sw_if_index, uint32_t mtu);
  void ClearCounters();

  std::vector<InterfaceView> Interfaces() const;
  Result<InterfaceView> GetInterface(uint32_t sw_if_index) const;
  std::vector<ThreadView> Threads() const;
  std::vector<ErrorView> Errors() const;
  void ClearRuntime();

  uint16_t burst() const { return config_.burst; }

 private:
  explicit Engine(const EngineConfig& config);

  // Parks every running worker until the returned guard is destroyed.
  WorkerBarrier::Guard Sync();
  void RebuildAssignments();  // workers parked
  Result<Interface*> Lookup(uint32_t sw_if_index) const;
  InterfaceStats SumStats(const Interface& iface) const;
  InterfaceView MakeView(const Interface& iface) const;

  EngineConfig config_;
  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<WorkerBarrier> barrier_;  // outlives the workers, which park on it
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<Interface>> interfaces_;  // indexed by sw_if_index; null = deleted
  uint32_t next_worker_ = 0;  // round-robin rx placement
  bool started_ = false;

  std::vector<uint64_t> runtime_baseline_ns_;
};

}  // namespace uplinkd
