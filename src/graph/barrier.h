#pragma once
// WorkerBarrier: parks the worker threads while the control thread changes what they read
// (BESS's WorkerPauser, VPP's vlib_worker_thread_barrier_sync). One type holds the whole
// protocol; the engine drives the control side and each worker calls the worker side.
//
// Protocol: one atomic epoch; odd means "paused". The control thread makes it odd (Sync), waits
// until every attached worker has acknowledged that very epoch, changes what it must, and makes
// it even again (the guard's destructor). A worker acknowledges only an odd epoch it read itself,
// so an acknowledgement always answers the pause in force when it was written, never an older
// one; and once it has acknowledged, it resumes only after the epoch moved on.
//
// Memory orders:
// - Worker: ack.store(e, release) after its last read of engine state; the control thread's
//   ack.load(acquire) == e then orders those reads before every change made under the barrier.
// - Control: epoch.store(even, release) after its changes; the parked worker's
//   epoch.load(acquire) != e orders the changes before everything the worker reads next.
// - Entering a pause needs no fence: the control thread waits for an ack that carries the odd
//   epoch, which no worker can write before reading that epoch.
// - The fast-path check (ShouldPark) may be relaxed: it only decides whether to enter Park, which
//   makes every decision to resume on an acquire load.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

namespace uplinkd {

class WorkerBarrier {
 public:
  // `slots`: one per worker thread that may be attached.
  explicit WorkerBarrier(uint32_t slots);
  WorkerBarrier(const WorkerBarrier&) = delete;
  WorkerBarrier& operator=(const WorkerBarrier&) = delete;

  // Releases the barrier when destroyed (moved-from guards release nothing).
  class [[nodiscard]] Guard {
   public:
    Guard(Guard&& other) noexcept : barrier_(std::exchange(other.barrier_, nullptr)) {}
    Guard& operator=(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    ~Guard() { Release(); }

   private:
    friend class WorkerBarrier;
    explicit Guard(WorkerBarrier* barrier) : barrier_(barrier) {}
    void Release();
    WorkerBarrier* barrier_ = nullptr;
  };

  // Control thread only. A worker takes part in barriers from Attach (call it before starting
  // the thread) until Detach (after joining it); Sync waits only for attached workers.
  void Attach(uint32_t slot);
  void Detach(uint32_t slot);
  // Control thread only, not nested. Requests a pause, calls `wake` (so workers asleep in
  // epoll_wait look at the epoch now), and returns once every attached worker is parked.
  Guard Sync(const std::function<void()>& wake);

  // Worker thread, once per loop iteration: one relaxed load, the only cost when not paused.
  bool ShouldPark() const noexcept { return (epoch_.load(std::memory_order_relaxed) & 1) != 0; }
  // Worker thread: acknowledges the pause in force and waits until it is released. Returns at
  // once if there is none. The worker reads no engine state between ShouldPark() and this call.
  void Park(uint32_t slot) noexcept;

  uint64_t epoch() const { return epoch_.load(std::memory_order_relaxed); }  // for tests

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> acked{0};  // the last odd epoch this worker parked for
    bool attached = false;           // control thread only
  };

  void Unpause();

  alignas(64) std::atomic<uint64_t> epoch_{0};  // written by the control thread only
  const uint32_t num_slots_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace uplinkd
