#include "graph/barrier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace uplinkd {
namespace {

TEST(WorkerBarrierTest, EpochIsOddExactlyWhileAGuardLives) {
  WorkerBarrier barrier(2);  // nothing attached: Sync waits for no one
  EXPECT_FALSE(barrier.ShouldPark());
  int woken = 0;
  {
    auto guard = barrier.Sync([&] { ++woken; });
    EXPECT_TRUE(barrier.ShouldPark());
    EXPECT_EQ(barrier.epoch() % 2, 1u);
    WorkerBarrier::Guard moved = std::move(guard);  // one release, whoever holds it
    EXPECT_TRUE(barrier.ShouldPark());
  }
  EXPECT_FALSE(barrier.ShouldPark());
  EXPECT_EQ(barrier.epoch(), 2u);
  EXPECT_EQ(woken, 1);
  barrier.Park(0);  // no pause in force: returns at once
}

// Sync returns only once an attached worker has parked, even if it starts looking late.
TEST(WorkerBarrierTest, SyncWaitsForAnAttachedWorker) {
  WorkerBarrier barrier(1);
  barrier.Attach(0);
  std::atomic<bool> go{false}, stop{false}, parked_once{false};
  std::thread worker([&] {
    while (!go.load()) std::this_thread::yield();  // not looking at the barrier yet
    while (!stop.load(std::memory_order_relaxed)) {
      if (barrier.ShouldPark()) {
        parked_once = true;
        barrier.Park(0);
      }
    }
  });
  std::thread starter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    go = true;
  });
  {
    auto guard = barrier.Sync([] {});
    EXPECT_TRUE(go.load());
    EXPECT_TRUE(parked_once.load());
  }
  stop = true;
  starter.join();
  worker.join();
  barrier.Detach(0);
}

// The stress: workers spin on a table the control thread rebuilds (reallocating it) under the
// barrier, thousands of times. A worker that runs while the table changes sees `mutating` set
// or a torn table, and under TSan (or ASan: the old array is freed) the plain accesses race.
// This catches a protocol that lets a worker acknowledge a stale pause and run on, as the old
// order (bump the generation, then set the pause flag) did.
TEST(WorkerBarrierTest, NoWorkerRunsWhileTheControlThreadChangesWhatItReads) {
  constexpr uint32_t kWorkers = 3;
  constexpr uint64_t kCycles = 5000;
  WorkerBarrier barrier(kWorkers);
  std::vector<uint64_t> table(8, 0);  // every entry holds the cycle that built it
  std::atomic<bool> mutating{false};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> violations{0};
  std::atomic<uint64_t> reads{0};
  std::vector<std::thread> workers;
  for (uint32_t w = 0; w < kWorkers; ++w) {
    barrier.Attach(w);
    workers.emplace_back([&, w] {
      uint64_t last = 0, mine = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (barrier.ShouldPark()) {
          barrier.Park(w);
          continue;
        }
        if (mutating.load(std::memory_order_relaxed)) ++violations;
        uint64_t first = table[0];
        for (uint64_t v : table) {
          if (v != first) ++violations;  // torn: rebuilt while we read it
        }
        if (first < last) ++violations;  // went back: read a stale table after a release
        last = first;
        ++mine;
        if (mine % 64 == 0) reads.fetch_add(64, std::memory_order_relaxed);
      }
    });
  }
  for (uint64_t cycle = 1; cycle <= kCycles; ++cycle) {
    auto guard = barrier.Sync([] {});
    mutating.store(true, std::memory_order_relaxed);
    std::vector<uint64_t> next(8 + cycle % 5, cycle);
    std::this_thread::yield();  // widen the window a running worker would fall into
    table.swap(next);           // the old array is freed when `next` goes
    mutating.store(false, std::memory_order_relaxed);
  }
  // Let the workers read the final table after the last release.
  uint64_t before = reads.load();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (reads.load() < before + 64 * kWorkers && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  stop = true;
  for (auto& t : workers) t.join();
  for (uint32_t w = 0; w < kWorkers; ++w) barrier.Detach(w);
  EXPECT_EQ(violations.load(), 0u);
  EXPECT_EQ(barrier.epoch(), 2 * kCycles);
  EXPECT_GT(reads.load(), 0u);
}

}  // namespace
}  // namespace uplinkd
