#pragma once
// An engine interface: a driver plus the engine's own state for it. Fields the workers read are
// changed only while the workers are parked (Engine's barrier), so workers read them without locks.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "drivers/driver.h"
#include "graph/counters.h"
#include "graph/nodes.h"

namespace uplinkd {

inline constexpr uint32_t kNoInterface = UINT32_MAX;

// A tx queue as workers see it: shared (and locked) only when more workers use it than the
// driver has tx queues (VPP's shared_queue).
struct alignas(64) TxPort {
  TxQueue* queue = nullptr;
  bool shared = false;
  std::atomic_flag lock = ATOMIC_FLAG_INIT;
  TxQueueCounters counters;
};

struct Interface {
  // Read by workers (changed under the barrier only).
  uint32_t sw_if_index = kNoInterface;
  bool admin_up = false;
  uint32_t xconnect_to = kNoInterface;
  NodeId input_node = NodeId::kDeviceInput;
  std::vector<std::unique_ptr<TxPort>> tx_ports;              // one per driver tx queue
  std::vector<std::unique_ptr<InterfaceCounters>> counters;   // one per worker
  std::vector<std::unique_ptr<RxQueueCounters>> rx_counters;  // one per rx queue

  // Control only.
  std::string name;
  std::string tag;                 // another name it is found by; may be empty
  std::unique_ptr<Driver> driver;  // null for local0
  std::vector<RxMode> rx_modes;    // per rx queue
  std::vector<uint32_t> rx_worker; // per rx queue: the worker that polls it
  InterfaceStats baseline;         // `clear interfaces` subtracts this
};

}  // namespace uplinkd
