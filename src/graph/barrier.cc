#include "graph/barrier.h"

#include <sched.h>
#include <unistd.h>

#include "common/check.h"

namespace uplinkd {
namespace {

// Waiting (either side) yields the core this many times before sleeping between looks: the
// barrier is held for a few microseconds of pointer updates, and workers may share a core with
// the control thread, so spinning on _mm_pause would only delay it.
constexpr int kYieldsBeforeSleep = 64;

void Backoff(int& spins) {
  if (spins++ < kYieldsBeforeSleep) {
    sched_yield();
  } else {
    usleep(20);
  }
}

}  // namespace

WorkerBarrier::WorkerBarrier(uint32_t slots)
    : num_slots_(slots), slots_(std::make_unique<Slot[]>(slots)) {}

WorkerBarrier::Guard& WorkerBarrier::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    Release();
    barrier_ = std::exchange(other.barrier_, nullptr);
  }
  return *this;
}

void WorkerBarrier::Guard::Release() {
  if (barrier_ != nullptr) std::exchange(barrier_, nullptr)->Unpause();
}

void WorkerBarrier::Attach(uint32_t slot) {
  UPLINKD_CHECK(slot < num_slots_);
  UPLINKD_DCHECK(!ShouldPark());  // never while paused: the new worker was not waited for
  slots_[slot].attached = true;
}

void WorkerBarrier::Detach(uint32_t slot) {
  UPLINKD_CHECK(slot < num_slots_);
  slots_[slot].attached = false;
}

WorkerBarrier::Guard WorkerBarrier::Sync(const std::function<void()>& wake) {
  uint64_t even = epoch_.load(std::memory_order_relaxed);  // only this thread writes it
  UPLINKD_CHECK((even & 1) == 0);                          // Sync inside Sync would deadlock
  const uint64_t paused = even + 1;
  // Relaxed is enough: workers ack with the epoch value itself (see the header).
  epoch_.store(paused, std::memory_order_relaxed);
  wake();
  for (uint32_t s = 0; s < num_slots_; ++s) {
    if (!slots_[s].attached) continue;
    int spins = 0;
    // Acquire: pairs with the worker's release ack; its reads happen before our changes.
    while (slots_[s].acked.load(std::memory_order_acquire) != paused) Backoff(spins);
  }
  return Guard(this);
}

void WorkerBarrier::Unpause() {
  uint64_t paused = epoch_.load(std::memory_order_relaxed);
  UPLINKD_DCHECK((paused & 1) == 1);
  // Release: pairs with Park's acquire load; our changes happen before the workers' next reads.
  epoch_.store(paused + 1, std::memory_order_release);
}

void WorkerBarrier::Park(uint32_t slot) noexcept {
  Slot& me = slots_[slot];
  uint64_t e = epoch_.load(std::memory_order_acquire);
  while ((e & 1) != 0) {
    // Acknowledge the pause we read, never an older one: the control thread waits for exactly
    // this value. Release: our reads of engine state are done before it changes anything.
    me.acked.store(e, std::memory_order_release);
    int spins = 0;
    // Resume only once the epoch moved on; a new pause right after the release (e + 2) is
    // acknowledged in the next round without ever running in between.
    uint64_t now;
    while ((now = epoch_.load(std::memory_order_acquire)) == e) Backoff(spins);
    e = now;
  }
}

}  // namespace uplinkd
