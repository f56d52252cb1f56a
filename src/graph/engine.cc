#include "graph/engine.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "common/log.h"

namespace uplinkd {
namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

NodeId InputNodeFor(const std::string& driver) {
  if (driver == "af_packet") return NodeId::kAfPacketInput;
  if (driver == "tap") return NodeId::kTapInput;
  if (driver == "mem") return NodeId::kMemInput;
  if (driver == "af_xdp") return NodeId::kAfXdpInput;
  return NodeId::kDeviceInput;
}

}  // namespace

// Workers asleep in epoll_wait are woken so that they see the pause now, not at their next
// timeout.
WorkerBarrier::Guard Engine::Sync() {
  return barrier_->Sync([this] {
    for (auto& w : workers_) w->Wake();
  });
}

Engine::Engine(const EngineConfig& config) : config_(config) {}

Result<std::unique_ptr<Engine>> Engine::Create(const EngineConfig& config) {
  if (config.burst == 0 || config.burst > kMaxBurst) {
    return Failure(EINVAL, "burst {} is out of range (1..{})", config.burst, kMaxBurst);
  }
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (!config.worker_cores.empty() && config.worker_cores.size() != config.workers) {
    return Failure(EINVAL, "corelist-workers names {} cores for {} workers",
                   config.worker_cores.size(), config.workers);
  }
  for (uint32_t core : config.worker_cores) {
    if (core >= ncpu) {
      return Failure(EINVAL, "corelist-workers: cpu {} does not exist (this machine has {})",
                     core, ncpu);
    }
  }
  if (config.main_core && *config.main_core >= ncpu) {
    return Failure(EINVAL, "main-core {} does not exist (this machine has {} cpus)",
                   *config.main_core, ncpu);
  }
  std::unique_ptr<Engine> engine(new Engine(config));
  auto pool = BufferPool::Create(config.buffers);
  if (!pool.ok()) return pool.status().WithContext("buffers");
  engine->pool_ = std::move(pool).value();
  engine->barrier_ = std::make_unique<WorkerBarrier>(std::max<uint32_t>(config.workers, 1));
  WorkerEnv env{*engine->barrier_, *engine->pool_, engine->interfaces_, config.burst};

  if (config.workers == 0) {
    engine->workers_.push_back(std::make_unique<Worker>(env, 0, "uplinkd_main", config.main_core));
  } else {
    uint32_t main = config.main_core.value_or(0);
    for (uint32_t i = 0; i < config.workers; ++i) {
      std::optional<uint32_t> core;
      if (!config.worker_cores.empty()) {
        core = config.worker_cores[i];
      } else if (ncpu > 1) {
        // VPP places workers on the cores after the main core; wrap on small machines.
        core = (main + 1 + i) % static_cast<uint32_t>(ncpu);
      }
      engine->workers_.push_back(
          std::make_unique<Worker>(env, i, fmt::format("uplinkd_wk_{}", i), core));
    }
  }
  engine->runtime_baseline_ns_.assign(engine->workers_.size(), 0);
  // local0, as in VPP: index 0, no driver, always down.
  auto local0 = std::make_unique<Interface>();
  local0->sw_if_index = 0;
  local0->name = "local0";
  engine->interfaces_.push_back(std::move(local0));
  return engine;
}

Engine::~Engine() { Stop(); }

Status Engine::Start() {
  if (started_) return Status::Ok();
  uint64_t now = NowNs();
  for (auto& w : workers_) UPLINKD_RETURN_IF_ERROR(w->Start());
  std::fill(runtime_baseline_ns_.begin(), runtime_baseline_ns_.end(), now);
  started_ = true;
  Logger("engine")->info("started {} forwarding thread(s), {} buffers of {} bytes ({})",
                         workers_.size(), pool_->total(), pool_->data_size(),
                         pool_->on_hugepages() ? "hugepages" : "plain memory");
  return Status::Ok();
}

void Engine::Stop() {
  for (auto& w : workers_) w->Stop();
  started_ = false;
  for (auto& iface : interfaces_) {
    if (iface && iface->driver) iface->driver->Close();
  }
}

Result<Interface*> Engine::Lookup(uint32_t sw_if_index) const {
  if (sw_if_index >= interfaces_.size() || !interfaces_[sw_if_index]) {
    return Failure(ENODEV, "no interface with index {}", sw_if_index);
  }
  return interfaces_[sw_if_index].get();
}

Result<uint32_t> Engine::FindInterface(std::string_view name) const {
  for (const auto& iface : interfaces_) {
    if (iface && iface->name == name) return iface->sw_if_index;
  }
  // A tag (dpdk's `dev PCI { tag T }`) names an interface too.
  for (const auto& iface : interfaces_) {
    if (iface && !iface->tag.empty() && iface->tag == name) return iface->sw_if_index;
  }
  return Failure(ENODEV, "unknown interface '{}'", name);
}

Status Engine::SetTag(uint32_t sw_if_index, std::string tag) {
  auto iface = Lookup(sw_if_index);
  if (!iface.ok()) return iface.status();
  if (!tag.empty()) {
    auto other = FindInterface(tag);
    if (other.ok() && *other != sw_if_index) {
      return Failure(EEXIST, "tag '{}' already names interface {}", tag, *other);
    }
  }
  (*iface)->tag = std::move(tag);
  return Status::Ok();
}

Result<uint32_t> Engine::AddInterface(std::string name, std::unique_ptr<Driver> driver,
                                      RxMode default_mode) {
  if (NameInUse(name)) return Failure(EEXIST, "interface '{}' already exists", name);
  DriverInfo info = driver->Info();
  if (info.num_rx_queues == 0 || info.num_tx_queues == 0) {
    return Failure(EINVAL, "{}: a driver needs at least one rx and one tx queue", name);
  }
  auto iface = std::make_unique<Interface>();
  iface->name = std::move(name);
  iface->input_node = InputNodeFor(info.driver);
  for (uint16_t q = 0; q < info.num_tx_queues; ++q) {
    auto port = std::make_unique<TxPort>();
    port->queue = &driver->tx(q);
    iface->tx_ports.push_back(std::move(port));
  }
  // A tx queue is shared when several workers map onto it (worker index modulo queue count).
  for (uint32_t w = 0; w < workers_.size(); ++w) {
    uint32_t users = 0;
    for (uint32_t v = 0; v < workers_.size(); ++v) users += (v % info.num_tx_queues) == (w % info.num_tx_queues);
    if (users > 1) iface->tx_ports[w % info.num_tx_queues]->shared = true;
  }
  for (uint32_t w = 0; w < workers_.size(); ++w) {
    iface->counters.push_back(std::make_unique<InterfaceCounters>());
  }
  for (uint16_t q = 0; q < info.num_rx_queues; ++q) {
    iface->rx_counters.push_back(std::make_unique<RxQueueCounters>());
    RxMode mode = driver->rx(q).interrupt_fd() < 0 ? RxMode::kPolling : default_mode;
    iface->rx_modes.push_back(mode);
    iface->rx_worker.push_back(next_worker_++ % workers_.size());
  }
  iface->driver = std::move(driver);

  auto barrier = Sync();
  // Reuse a deleted slot, as VPP reuses sw_if_index values.
  uint32_t index = static_cast<uint32_t>(interfaces_.size());
  for (uint32_t i = 1; i < interfaces_.size(); ++i) {
    if (!interfaces_[i]) {
      index = i;
      break;
    }
  }
  iface->sw_if_index = index;
  if (index == interfaces_.size()) {
    interfaces_.push_back(std::move(iface));
  } else {
    interfaces_[index] = std::move(iface);
  }
  RebuildAssignments();
  Logger("engine")->info("{}: added as sw_if_index {} ({} rx / {} tx queues, driver {})",
                         interfaces_[index]->name, index, info.num_rx_queues,
                         info.num_tx_queues, info.driver);
  return index;
}

Status Engine::DeleteInterface(uint32_t sw_if_index) {
  auto iface = Lookup(sw_if_index);
  if (!iface.ok()) return iface.status();
  if (sw_if_index == 0) return Failure(EINVAL, "local0 cannot be deleted");
  std::unique_ptr<Interface> gone;
  {
    auto barrier = Sync();
    for (auto& other : interfaces_) {
      if (other && other->xconnect_to == sw_if_index) other->xconnect_to = kNoInterface;
    }
    gone = std::move(interfaces_[sw_if_index]);
    RebuildAssignments();
  }
  gone->driver->Close();
  Logger("engine")->info("{}: deleted", gone->name);
  return Status::Ok();
}

void Engine::RebuildAssignments() {
  std::vector<std::vector<RxAssignment>> per_worker(workers_.size());
  for (auto& iface : interfaces_) {
    if (!iface || !iface->driver) continue;
    for (uint16_t q = 0; q < iface->rx_modes.size(); ++q) {
      RxAssignment a;
      a.iface = iface.get();
      a.queue = q;
      a.rxq = &iface->driver->rx(q);
      a.mode = iface->rx_modes[q];
      a.fd = a.rxq->interrupt_fd();
      per_worker[iface->rx_worker[q]].push_back(a);
    }
  }
  for (size_t w = 0; w < workers_.size(); ++w) {
    workers_[w]->SetAssignments(std::move(per_worker[w]));
  }
}

Status Engine::SetAdminUp(uint32_t sw_if_index, bool up) {
  auto iface = Lookup(sw_if_index);
  if (!iface.ok()) return iface.status();
  Interface* i = *iface;
  if (!i->driver) {
    if (up) return Failure(EINVAL, "{} cannot be set up", i->name);
    return Status::Ok();
  }
  UPLINKD_RETURN_IF_ERROR(i->driver->SetAdminUp(up).WithContext(i->name));
  auto barrier = Sync();
  i->admin_up = up;
  return Status::Ok();
}

Status Engine::SetRxMode(uint32_t sw_if_index, std::optional<uint16_t> queue, RxMode mode) {
  auto iface = Lookup(sw_if_index);
  if (!iface.ok()) return iface.status();
  Interface* i = *iface;
  if (!i->driver) return Failure(EINVAL, "{} has no rx queues", i->name);
  uint16_t nq = static_cast<uint16_t>(i->rx_modes.size());
  if (queue && *queue >= nq) {
    return Failure(EINVAL, "{} has {} rx queue(s); there is no queue {}", i->name, nq, *queue);
  }
  for (uint16_t q = 0; q < nq; ++q) {
    if (queue && q != *queue) continue;
    if (mode != RxMode::kPolling && i->driver->rx(q).interrupt_fd() < 0) {
      return Failure(ENOTSUP, "{} queue {} can only be polled", i->name, q);
    }
  }
  auto barrier = Sync();
  for (uint16_t q = 0; q < nq; ++q) {
    if (!queue || q == *queue) i->rx_modes[q] = mode;
  }
  RebuildAssignments();
  return Status::Ok();
}

Status Engine::SetRxPlacement(uint32_t sw_if_index, uint16_t queue, uint32_t worker) {
  auto iface = Lookup(sw_if_index);
  if (!iface.ok()) return iface.status();
  Interface* i = *iface;
  if (queue >= i->rx_worker.size()) {
    return Failure(EINVAL, "{} has no rx queue {}", i->name, queue);
  }
  if (worker >= workers_.size()) {
    return Failure(EINVAL, "there is no worker {} ({} configured)", worker, workers_.size());
  }
  auto barrier = Sync();
  i->rx_worker[queue] = worker;
  RebuildAssignments();
  return Status::Ok();
}

Status Engine::SetXconnect(uint32_t rx, uint32_t tx) {
  auto rx_if = Lookup(rx);
  if (!rx_if.ok()) return rx_if.status();
  auto tx_if = Lookup(tx);
  if (!tx_if.ok()) return tx_if.status();
  if (!(*rx_if)->driver || !(*tx_if)->driver) return Failure(EINVAL, "local0 cannot be cross-connected");
  if (rx == tx) return Failure(EINVAL, "cannot cross-connect {} to itself", (*rx_if)->name);
  auto barrier = Sync();
  (*rx_if)->xconnect_to = tx;
  return Status::Ok();
}

Status Engine::ClearXconnect(uint32_t rx) {
  auto rx_if = Lookup(rx);
  if (!rx_if.ok()) return rx_if.status();
  auto barrier = Sync();
  (*rx_if)->xconnect_to = kNoInterface;
  return Status::Ok();
}

Status Engine::SetMac(uint32_t sw_if_index, const MacAddress& mac) {
  auto iface = Lookup(sw_if_index);
  if (!iface.ok()) return iface.status();
  if (!(*iface)->driver) return Failure(EINVAL, "{} has no MAC address", (*iface)->name);
  return (*iface)->driver->SetMac(mac).WithContext((*iface)->name);
}

Status Engine::SetMtu(uint32_t sw_if_index, uint32_t mtu) {
  auto iface = Lookup(sw_if_index);
  if (!iface.ok()) return iface.status();
  if (!(*iface)->driver) return Failure(EINVAL, "{} has no MTU", (*iface)->name);
  return (*iface)->driver->SetMtu(mtu).WithContext((*iface)->name);
}

InterfaceStats Engine::SumStats(const Interface& iface) const {
  InterfaceStats s;
  for (const auto& c : iface.counters) {
    s.rx_packets += Read(c->rx_packets);
    s.rx_bytes += Read(c->rx_bytes);
    s.tx_packets += Read(c->tx_packets);
    s.tx_bytes += Read(c->tx_bytes);
    s.drops += Read(c->drops);
    s.tx_errors += Read(c->tx_errors);
  }
  if (iface.driver) {
    for (uint16_t q = 0; q < iface.rx_modes.size(); ++q) {
      RxQueue& rxq = iface.driver->rx(q);
      rxq.RefreshCounters();
      const QueueCounters& qc = rxq.counters;
      s.rx_miss += Read(qc.drops_kernel);
      s.rx_no_buffer += Read(qc.drops_no_buffer);
      s.rx_too_long += Read(qc.drops_too_long);
      s.rx_errors += Read(qc.errors);
    }
    for (const auto& port : iface.tx_ports) {
      const QueueCounters& qc = port->queue->counters;
      s.tx_ring_full += Read(qc.drops_ring_full);
      s.tx_too_long += Read(qc.drops_too_long);
      s.tx_offload += Read(qc.drops_offload);
      s.tx_kicks += Read(qc.kicks);
      s.tx_gro_merged += Read(qc.gro_merged);
    }
  }
  return s;
}

void Engine::ClearCounters() {
  for (auto& iface : interfaces_) {
    if (iface) iface->baseline = SumStats(*iface);
  }
}

InterfaceView Engine::MakeView(const Interface& iface) const {
  InterfaceView v;
  v.sw_if_index = iface.sw_if_index;
  v.name = iface.name;
  v.admin_up = iface.admin_up;
  v.has_driver = iface.driver != nullptr;
  v.stats = SumStats(iface) - iface.baseline;
  if (iface.xconnect_to != kNoInterface && interfaces_[iface.xconnect_to]) {
    v.xconnect = interfaces_[iface.xconnect_to]->name;
  }
  if (!iface.driver) return v;
  v.info = iface.driver->Info();
  for (uint16_t q = 0; q < iface.rx_modes.size(); ++q) {
    RxQueueView rq;
    rq.queue = q;
    rq.worker = iface.rx_worker[q];
    rq.worker_name = workers_[rq.worker]->name();
    rq.mode = iface.rx_modes[q];
    rq.packets = Read(iface.rx_counters[q]->packets);
    rq.bytes = Read(iface.rx_counters[q]->bytes);
    rq.wakeups = Read(iface.rx_counters[q]->wakeups);
    const QueueCounters& qc = iface.driver->rx(q).counters;
    rq.drops_no_buffer = Read(qc.drops_no_buffer);
    rq.drops_too_long = Read(qc.drops_too_long);
    rq.errors = Read(qc.errors);
    v.rx_queues.push_back(rq);
  }
  for (uint16_t q = 0; q < iface.tx_ports.size(); ++q) {
    const TxPort& port = *iface.tx_ports[q];
    TxQueueView tq;
    tq.queue = q;
    tq.shared = port.shared;
    tq.packets = Read(port.counters.packets);
    tq.bytes = Read(port.counters.bytes);
    tq.drops_ring_full = Read(port.queue->counters.drops_ring_full);
    tq.errors = Read(port.queue->counters.errors);
    tq.kicks = Read(port.queue->counters.kicks);
    v.tx_queues.push_back(tq);
  }
  return v;
}

std::vector<InterfaceView> Engine::Interfaces() const {
  std::vector<InterfaceView> out;
  for (const auto& iface : interfaces_) {
    if (iface) out.push_back(MakeView(*iface));
  }
  return out;
}

Result<InterfaceView> Engine::GetInterface(uint32_t sw_if_index) const {
  auto iface = Lookup(sw_if_index);
  if (!iface.ok()) return iface.status();
  return MakeView(**iface);
}

std::vector<ThreadView> Engine::Threads() const {
  std::vector<ThreadView> out;
  uint64_t now = NowNs();
  for (size_t w = 0; w < workers_.size(); ++w) {
    const Worker& worker = *workers_[w];
    ThreadView t;
    t.index = worker.index();
    t.name = worker.name();
    t.core = worker.core();
    t.seconds = runtime_baseline_ns_[w] ? (now - runtime_baseline_ns_[w]) / 1e9 : 0;
    t.loops = Read(worker.loops);
    t.sleeps = Read(worker.sleeps);
    for (int n = 0; n < kNodeCount; ++n) {
      const NodeStats& s = worker.node_stats[n];
      if (Read(s.calls) == 0) continue;
      std::string state = "active";
      bool first = true;
      for (const RxAssignment& a : worker.assignments()) {
        if (static_cast<int>(a.iface->input_node) != n) continue;
        std::string mode = RxModeName(a.mode);
        state = first || state == mode ? mode : "mixed";
        first = false;
      }
      t.nodes.push_back({NodeName(static_cast<NodeId>(n)), state, Read(s.calls), Read(s.vectors),
                         Read(s.clocks)});
    }
    for (const RxAssignment& a : worker.assignments()) {
      t.input_queues.push_back(
          fmt::format("{} queue {} ({})", a.iface->name, a.queue, RxModeName(a.mode)));
    }
    out.push_back(std::move(t));
  }
  return out;
}

void Engine::ClearRuntime() {
  auto barrier = Sync();
  uint64_t now = NowNs();
  for (size_t w = 0; w < workers_.size(); ++w) {
    for (auto& s : workers_[w]->node_stats) {
      s.calls.store(0);
      s.vectors.store(0);
      s.clocks.store(0);
    }
    workers_[w]->loops.store(0);
    workers_[w]->sleeps.store(0);
    runtime_baseline_ns_[w] = now;
  }
}

std::vector<ErrorView> Engine::Errors() const {
  std::vector<ErrorView> out;
  for (int r = 0; r < kDropReasonCount; ++r) {
    uint64_t count = 0;
    for (const auto& w : workers_) count += Read(w->drops[r]);
    if (count == 0) continue;
    auto reason = static_cast<DropReason>(r);
    out.push_back({count, NodeName(DropReasonNode(reason)), DropReasonText(reason),
                   DropReasonSeverity(reason)});
  }
  // Driver-level drops, per interface, as VPP's device nodes report them.
  for (const auto& iface : interfaces_) {
    if (!iface || !iface->driver) continue;
    InterfaceStats s = SumStats(*iface);
    std::string node = fmt::format("{}-input", iface->name);
    if (s.rx_miss) out.push_back({s.rx_miss, node, "rx ring full in the kernel (rx-miss)", "error"});
    if (s.rx_no_buffer) out.push_back({s.rx_no_buffer, node, "no free buffers", "error"});
    if (s.rx_too_long) out.push_back({s.rx_too_long, node, "frame too long", "error"});
    if (s.rx_errors) out.push_back({s.rx_errors, node, "rx error", "error"});
    std::string tx = fmt::format("{}-tx", iface->name);
    if (s.tx_ring_full) out.push_back({s.tx_ring_full, tx, "tx ring full", "error"});
    if (s.tx_too_long) out.push_back({s.tx_too_long, tx, "frame too long", "error"});
    if (s.tx_offload) {
      out.push_back({s.tx_offload, tx, "GSO frame could not be segmented", "error"});
    }
  }
  return out;
}

}  // namespace uplinkd
