// The worker loop: the engine's fast path.
#include "graph/worker.h"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "common/check.h"
#include "common/log.h"

namespace uplinkd {
namespace {

// Adaptive mode: a queue that stayed empty this long (and this many polls) goes to sleep.
constexpr uint64_t kAdaptiveIdleNs = 2'000'000;
constexpr uint32_t kAdaptiveIdlePolls = 64;
// While some queues poll, sleeping queues are checked with a zero-timeout epoll this often.
constexpr uint64_t kInterruptCheckLoops = 256;
// Upper bound of one sleep: the stop flag and the barrier are seen at least this often.
constexpr int kMaxSleepMs = 100;

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

class TxLock {
 public:
  explicit TxLock(TxPort& port) : port_(port) {
    if (port_.shared) {
      while (port_.lock.test_and_set(std::memory_order_acquire)) _mm_pause();
    }
  }
  ~TxLock() {
    if (port_.shared) port_.lock.clear(std::memory_order_release);
  }

 private:
  TxPort& port_;
};

}  // namespace

Worker::Worker(const WorkerEnv& env, uint32_t index, std::string name,
               std::optional<uint32_t> core)
    : env_(env), index_(index), name_(std::move(name)), core_(core) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  UPLINKD_CHECK(epoll_fd_ >= 0 && wake_fd_ >= 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = UINT64_MAX;  // the wake fd
  UPLINKD_CHECK(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0);
}

Worker::~Worker() {
  Stop();
  close(epoll_fd_);
  close(wake_fd_);
}

Status Worker::Start() {
  start_ns = NowNs();
  stop_.store(false, std::memory_order_relaxed);
  // Attached before the thread exists: a Sync from now on waits for it, and the thread looks at
  // the barrier before it first touches an interface.
  env_.barrier.Attach(index_);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  Wake();
  thread_.join();
  env_.barrier.Detach(index_);
}

void Worker::Wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(wake_fd_, &one, sizeof one);
}

void Worker::SetAssignments(std::vector<RxAssignment> assignments) {
  rx_ = std::move(assignments);
  RebuildEpoll();
}

void Worker::RebuildEpoll() {
  // Start from an empty set holding only the wake fd, then add every queue that may sleep.
  close(epoll_fd_);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  UPLINKD_CHECK(epoll_fd_ >= 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = UINT64_MAX;
  UPLINKD_CHECK(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0);
  for (size_t i = 0; i < rx_.size(); ++i) {
    RxAssignment& a = rx_[i];
    if (a.mode == RxMode::kPolling || a.fd < 0) {
      a.waiting = false;
      continue;
    }
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, a.fd, &ev) != 0) {
      Logger("engine")->warn("{} queue {}: cannot watch fd {} ({}); polling it instead",
                             a.iface->name, a.queue, a.fd, std::strerror(errno));
      a.mode = RxMode::kPolling;
      a.waiting = false;
      continue;
    }
    a.waiting = false;  // look once right away; it goes to sleep when found empty
    a.idle_polls = 0;
    a.idle_since_ns = 0;
  }
}

void Worker::Run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  if (core_) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(*core_, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
      Logger("engine")->warn("{}: cannot pin to cpu {}", name_, *core_);
    }
  }
  BufferCache cache(env_.pool);
  SetThreadBufferCache(&cache);
  uint64_t loop = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    if (env_.barrier.ShouldPark()) {
      env_.barrier.Park(index_);
      continue;
    }
    ++loop;
    bool any_awake = false;
    bool any_asleep = false;
    uint32_t received = 0;
    for (RxAssignment& a : rx_) {
      if (!a.iface->admin_up) continue;
      if (a.waiting) {
        any_asleep = true;
        continue;
      }
      any_awake = true;
      uint16_t n = ProcessQueue(a, cache);
      received += n;
      if (a.mode == RxMode::kPolling) continue;
      if (a.mode == RxMode::kInterrupt) {
        // Sleep until the fd says more arrived, once a poll found nothing: under load frames
        // keep arriving while the last burst is sent, and a sleep after every short burst
        // would cost an epoll_wait per burst for nothing.
        if (n == 0) a.waiting = true;
        continue;
      }
      // Adaptive: poll while busy, sleep after a quiet spell.
      if (n > 0) {
        a.idle_polls = 0;
        continue;
      }
      if (a.idle_polls++ == 0) a.idle_since_ns = NowNs();
      if (a.idle_polls >= kAdaptiveIdlePolls && NowNs() - a.idle_since_ns >= kAdaptiveIdleNs) {
        a.waiting = true;
      }
    }
    loops.store(loop, std::memory_order_relaxed);
    if (!any_awake) {
      Sleep(kMaxSleepMs);
    } else if (any_asleep && loop % kInterruptCheckLoops == 0) {
      Sleep(0);
    } else if (received == 0) {
      // Every awake queue was empty: let a kernel thread that shares this core (the NAPI
      // thread that fills our rings, say) run now rather than when the scheduler takes the
      // core from us. Cheap when nothing else is runnable; without it, polling on a core
      // shared with the kernel's receive work forwarded 2.5x less (bench/run.sh, NAPI_CPU).
      sched_yield();
    }
  }
  SetThreadBufferCache(nullptr);
}

void Worker::Sleep(int timeout_ms) noexcept {
  epoll_event events[64];
  if (timeout_ms > 0) sleeps.store(sleeps.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  int n = epoll_wait(epoll_fd_, events, 64, timeout_ms);
  for (int i = 0; i < n; ++i) {
    uint64_t id = events[i].data.u64;
    if (id == UINT64_MAX) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = read(wake_fd_, &v, sizeof v);
      continue;
    }
    if (id < rx_.size() && rx_[id].waiting) {
      rx_[id].waiting = false;
      rx_[id].idle_polls = 0;
      Bump(rx_[id].iface->rx_counters[rx_[id].queue]->wakeups);
    }
  }
}

uint16_t Worker::ProcessQueue(RxAssignment& a, BufferCache& cache) noexcept {
  NodeStats& input = node_stats[static_cast<int>(a.iface->input_node)];
  uint64_t t0 = __rdtsc();
  uint16_t n = a.rxq->Receive(cache, batch_.pkts, env_.burst);
  uint64_t t1 = __rdtsc();
  if (n == 0) {
    Bump(input.calls);
    Bump(input.clocks, t1 - t0);
    return 0;
  }
  Interface& rx_if = *a.iface;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    Buffer* b = batch_.pkts[i];
    b->rx_interface = rx_if.sw_if_index;
    lengths_[i] = b->total_length;
    bytes += b->total_length;
  }
  Bump(input.calls);
  Bump(input.vectors, n);
  Bump(input.clocks, t1 - t0);
  RxQueueCounters& qc = *rx_if.rx_counters[a.queue];
  Bump(qc.packets, n);
  Bump(qc.bytes, bytes);
  InterfaceCounters& rx_counters = *rx_if.counters[index_];
  Bump(rx_counters.rx_packets, n);
  Bump(rx_counters.rx_bytes, bytes);

  // l2-xconnect: the whole burst goes to one output interface.
  NodeStats& xc = node_stats[static_cast<int>(NodeId::kL2Xconnect)];
  Bump(xc.calls);
  Bump(xc.vectors, n);
  if (rx_if.xconnect_to == kNoInterface) {
    Drop(cache, rx_if, DropReason::kNoXconnect, batch_.pkts, n);
    return n;
  }
  Interface& tx_if = *env_.interfaces[rx_if.xconnect_to];
  if (!tx_if.admin_up) {
    Drop(cache, rx_if, DropReason::kInterfaceDown, batch_.pkts, n);
    return n;
  }

  // interface-tx
  NodeStats& tx_node = node_stats[static_cast<int>(NodeId::kInterfaceTx)];
  TxPort& port = *tx_if.tx_ports[index_ % tx_if.tx_ports.size()];
  uint64_t t2 = __rdtsc();
  uint16_t sent;
  {
    TxLock lock(port);
    sent = port.queue->Transmit(cache, batch_.pkts, n);  // owns all n from here on
  }
  uint64_t t3 = __rdtsc();
  Bump(tx_node.calls);
  Bump(tx_node.vectors, n);
  Bump(tx_node.clocks, t3 - t2);
  Bump(xc.clocks, t2 - t1);
  // Drivers queue a prefix of the burst and free the rest.
  uint64_t sent_bytes = 0;
  for (uint16_t i = 0; i < sent; ++i) sent_bytes += lengths_[i];
  InterfaceCounters& tx_counters = *tx_if.counters[index_];
  Bump(tx_counters.tx_packets, sent);
  Bump(tx_counters.tx_bytes, sent_bytes);
  Bump(port.counters.packets, sent);
  Bump(port.counters.bytes, sent_bytes);
  if (sent < n) {
    Bump(tx_counters.tx_errors, n - sent);
    Bump(drops[static_cast<int>(DropReason::kTxFailed)], n - sent);
  }
  return n;
}

void Worker::Drop(BufferCache& cache, Interface& rx_if, DropReason reason, Buffer* const* pkts,
                  uint16_t n) noexcept {
  cache.Free(pkts, n);
  Bump(rx_if.counters[index_]->drops, n);
  Bump(drops[static_cast<int>(reason)], n);
  NodeStats& drop = node_stats[static_cast<int>(NodeId::kErrorDrop)];
  Bump(drop.calls);
  Bump(drop.vectors, n);
}

}  // namespace uplinkd
