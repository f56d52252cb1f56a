#include "graph/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "drivers/mem/mem.h"

namespace uplinkd {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

struct Rig {
  std::unique_ptr<Engine> engine;
  MemDriver* a = nullptr;
  MemDriver* b = nullptr;
  uint32_t ia = 0, ib = 0;
};

Rig MakeRig(uint32_t workers, RxMode mode, uint16_t queues = 1, uint32_t buffers = 8192) {
  Rig rig;
  EngineConfig cfg;
  cfg.buffers = {.buffers = buffers, .data_size = 2048, .allow_hugepages = false};
  cfg.workers = workers;
  auto engine = Engine::Create(cfg);
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  rig.engine = std::move(engine).value();
  auto make = [&](const char* name, MemDriver** out) {
    MemArgs args;
    args.name = name;
    args.num_rx_queues = queues;
    args.num_tx_queues = queues;
    auto d = std::make_unique<MemDriver>(args);
    *out = d.get();
    auto idx = rig.engine->AddInterface(name, std::move(d), mode);
    EXPECT_TRUE(idx.ok()) << idx.status().message();
    return *idx;
  };
  rig.ia = make("mem0", &rig.a);
  rig.ib = make("mem1", &rig.b);
  return rig;
}

// Fills a fresh buffer with a recognisable frame of `len` bytes.
Buffer* Frame(BufferCache& cache, uint32_t seq, uint16_t len = 64) {
  Buffer* b = cache.AllocOne();
  if (b == nullptr) {
    ADD_FAILURE() << "buffer pool exhausted";
    std::abort();
  }
  std::memset(b->data(), 0, len);
  std::memcpy(b->data(), &seq, sizeof seq);
  b->length = len;
  b->total_length = len;
  return b;
}

// Collects up to `want` frames from `driver` queue `q`, bounded by a deadline.
std::vector<uint32_t> CollectSeqs(MemDriver& driver, uint16_t q, size_t want, BufferCache& cache,
                                  milliseconds deadline = milliseconds(5000)) {
  std::vector<uint32_t> seqs;
  auto end = steady_clock::now() + deadline;
  while (seqs.size() < want && steady_clock::now() < end) {
    Buffer* b = driver.Collect(q);
    if (!b) {
      std::this_thread::sleep_for(milliseconds(1));
      continue;
    }
    uint32_t seq;
    std::memcpy(&seq, b->data(), sizeof seq);
    seqs.push_back(seq);
    cache.FreeOne(b);
  }
  return seqs;
}

class EngineModeTest : public testing::TestWithParam<RxMode> {};

TEST_P(EngineModeTest, XconnectForwardsInOrderAndCounts) {
  Rig rig = MakeRig(0, GetParam());
  Engine& e = *rig.engine;
  ASSERT_TRUE(e.SetXconnect(rig.ia, rig.ib).ok());
  ASSERT_TRUE(e.SetAdminUp(rig.ia, true).ok());
  ASSERT_TRUE(e.SetAdminUp(rig.ib, true).ok());
  ASSERT_TRUE(e.Start().ok());
  BufferCache cache(e.pool());
  const uint32_t kFrames = 3000;
  std::vector<uint32_t> got;
  for (uint32_t i = 0; i < kFrames; ++i) {
    while (!rig.a->Inject(0, Frame(cache, i, 100))) {
      auto more = CollectSeqs(*rig.b, 0, 1, cache, milliseconds(1));
      got.insert(got.end(), more.begin(), more.end());
    }
  }
  auto rest = CollectSeqs(*rig.b, 0, kFrames - got.size(), cache);
  got.insert(got.end(), rest.begin(), rest.end());
  ASSERT_EQ(got.size(), kFrames);
  for (uint32_t i = 0; i < kFrames; ++i) ASSERT_EQ(got[i], i);

  auto va = e.GetInterface(rig.ia);
  auto vb = e.GetInterface(rig.ib);
  EXPECT_EQ(va->stats.rx_packets, kFrames);
  EXPECT_EQ(va->stats.rx_bytes, kFrames * 100ull);
  EXPECT_EQ(vb->stats.tx_packets, kFrames);
  EXPECT_EQ(vb->stats.tx_bytes, kFrames * 100ull);
  EXPECT_EQ(va->stats.drops, 0u);
  EXPECT_EQ(va->rx_queues[0].packets, kFrames);
  EXPECT_EQ(va->xconnect, "mem1");
  auto threads = e.Threads();
  ASSERT_EQ(threads.size(), 1u);
  bool saw_input = false;
  for (const NodeView& n : threads[0].nodes) {
    if (n.name != "mem-input") continue;
    saw_input = true;
    EXPECT_EQ(n.state, RxModeName(GetParam()));  // show runtime's State column
  }
  EXPECT_TRUE(saw_input);
  e.Stop();
  EXPECT_EQ(e.pool().available(), e.pool().total() - cache.count() + cache.count());
}

INSTANTIATE_TEST_SUITE_P(RxModes, EngineModeTest,
                         testing::Values(RxMode::kPolling, RxMode::kInterrupt, RxMode::kAdaptive),
                         [](const auto& p) { return std::string(RxModeName(p.param)); });

TEST(EngineTest, DropsWithoutXconnectOrWhenOutputDownAndCountsReasons) {
  Rig rig = MakeRig(0, RxMode::kPolling);
  Engine& e = *rig.engine;
  ASSERT_TRUE(e.SetAdminUp(rig.ia, true).ok());
  ASSERT_TRUE(e.Start().ok());
  {
    BufferCache cache(e.pool());
    for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(rig.a->Inject(0, Frame(cache, i)));
  }
  auto deadline = steady_clock::now() + milliseconds(5000);
  while (e.GetInterface(rig.ia)->stats.drops < 10 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_EQ(e.GetInterface(rig.ia)->stats.drops, 10u);
  ASSERT_TRUE(e.SetXconnect(rig.ia, rig.ib).ok());  // mem1 is still down
  {
    BufferCache cache(e.pool());
    for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(rig.a->Inject(0, Frame(cache, i)));
  }
  while (e.GetInterface(rig.ia)->stats.drops < 15 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  auto errors = e.Errors();
  uint64_t no_xc = 0, down = 0;
  for (const auto& err : errors) {
    if (err.reason == "input interface has no l2 xconnect") no_xc = err.count;
    if (err.reason == "output interface is down") down = err.count;
  }
  EXPECT_EQ(no_xc, 10u);
  EXPECT_EQ(down, 5u);
  e.Stop();
  EXPECT_EQ(e.pool().available(), e.pool().total());
}

TEST(EngineTest, ClearCountersStartsFromZero) {
  Rig rig = MakeRig(0, RxMode::kInterrupt);
  Engine& e = *rig.engine;
  ASSERT_TRUE(e.SetXconnect(rig.ia, rig.ib).ok());
  ASSERT_TRUE(e.SetAdminUp(rig.ia, true).ok());
  ASSERT_TRUE(e.SetAdminUp(rig.ib, true).ok());
  ASSERT_TRUE(e.Start().ok());
  BufferCache cache(e.pool());
  for (uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(rig.a->Inject(0, Frame(cache, i)));
  ASSERT_EQ(CollectSeqs(*rig.b, 0, 20, cache).size(), 20u);
  e.ClearCounters();
  EXPECT_EQ(e.GetInterface(rig.ia)->stats.rx_packets, 0u);
  for (uint32_t i = 0; i < 7; ++i) ASSERT_TRUE(rig.a->Inject(0, Frame(cache, i)));
  ASSERT_EQ(CollectSeqs(*rig.b, 0, 7, cache).size(), 7u);
  EXPECT_EQ(e.GetInterface(rig.ia)->stats.rx_packets, 7u);
  EXPECT_EQ(e.GetInterface(rig.ib)->stats.tx_packets, 7u);
  e.Stop();
}

TEST(EngineTest, TwoWorkersTwoQueuesBothDirections) {
  Rig rig = MakeRig(2, RxMode::kAdaptive, 2);
  Engine& e = *rig.engine;
  ASSERT_TRUE(e.SetXconnect(rig.ia, rig.ib).ok());
  ASSERT_TRUE(e.SetXconnect(rig.ib, rig.ia).ok());
  ASSERT_TRUE(e.SetAdminUp(rig.ia, true).ok());
  ASSERT_TRUE(e.SetAdminUp(rig.ib, true).ok());
  ASSERT_TRUE(e.Start().ok());
  auto view = e.GetInterface(rig.ia);
  ASSERT_EQ(view->rx_queues.size(), 2u);
  EXPECT_NE(view->rx_queues[0].worker, view->rx_queues[1].worker);  // round-robin placement
  BufferCache cache(e.pool());
  const uint32_t kPerQueue = 500;
  for (uint16_t q = 0; q < 2; ++q) {
    for (uint32_t i = 0; i < kPerQueue; ++i) {
      ASSERT_TRUE(rig.a->Inject(q, Frame(cache, i)));
      ASSERT_TRUE(rig.b->Inject(q, Frame(cache, i)));
    }
  }
  // Worker w transmits on tx queue w % 2: whichever queue, all frames arrive.
  size_t at_b = CollectSeqs(*rig.b, 0, kPerQueue, cache).size() +
                CollectSeqs(*rig.b, 1, kPerQueue, cache).size();
  size_t at_a = CollectSeqs(*rig.a, 0, kPerQueue, cache).size() +
                CollectSeqs(*rig.a, 1, kPerQueue, cache).size();
  EXPECT_EQ(at_b, 2 * kPerQueue);
  EXPECT_EQ(at_a, 2 * kPerQueue);
  auto threads = e.Threads();
  ASSERT_EQ(threads.size(), 2u);
  EXPECT_EQ(threads[0].name, "uplinkd_wk_0");
  e.Stop();
}

TEST(EngineTest, ControlChangesWhileTrafficFlows) {
  // Room for both 4096-deep rings full plus every cache.
  Rig rig = MakeRig(1, RxMode::kPolling, 1, 16384);
  Engine& e = *rig.engine;
  ASSERT_TRUE(e.SetXconnect(rig.ia, rig.ib).ok());
  ASSERT_TRUE(e.SetAdminUp(rig.ia, true).ok());
  ASSERT_TRUE(e.SetAdminUp(rig.ib, true).ok());
  ASSERT_TRUE(e.Start().ok());
  const uint32_t kFrames = 20000;
  std::atomic<uint64_t> injected{0};
  std::atomic<uint64_t> received{0};
  std::thread producer([&] {
    BufferCache cache(e.pool());
    for (uint32_t i = 0; i < kFrames; ++i) {
      Buffer* f = Frame(cache, i);
      auto end = steady_clock::now() + milliseconds(2000);
      bool ok = false;
      while (!(ok = rig.a->Inject(0, f)) && steady_clock::now() < end) std::this_thread::yield();
      if (!ok) {
        cache.FreeOne(f);
        break;
      }
      ++injected;
    }
  });
  // The consumer only drains the mem ring: engine calls (GetInterface too) belong to this,
  // the control thread.
  std::atomic<bool> drained{false};
  std::thread consumer([&] {
    BufferCache cache(e.pool());
    while (!drained) {
      Buffer* b = rig.b->Collect(0);
      if (!b) {
        std::this_thread::yield();
        continue;
      }
      cache.FreeOne(b);
      ++received;
    }
  });
  // Mode changes go through the barrier while packets move: every frame must be accounted for.
  for (int i = 0; i < 30; ++i) {
    RxMode mode = i % 3 == 0 ? RxMode::kInterrupt : i % 3 == 1 ? RxMode::kAdaptive : RxMode::kPolling;
    ASSERT_TRUE(e.SetRxMode(rig.ia, std::nullopt, mode).ok());
    std::this_thread::sleep_for(milliseconds(2));
  }
  producer.join();
  auto end = steady_clock::now() + milliseconds(20000);
  while (steady_clock::now() < end) {
    if (e.GetInterface(rig.ia)->stats.rx_packets == injected &&
        received == e.GetInterface(rig.ib)->stats.tx_packets) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  drained = true;
  consumer.join();
  EXPECT_EQ(injected.load(), kFrames);
  auto va = e.GetInterface(rig.ia);
  auto vb = e.GetInterface(rig.ib);
  EXPECT_EQ(va->stats.rx_packets, kFrames);
  EXPECT_EQ(vb->stats.tx_packets + vb->stats.tx_errors, kFrames);
  EXPECT_EQ(received.load(), vb->stats.tx_packets);
  EXPECT_GT(received.load(), 0u);
  e.Stop();
  EXPECT_EQ(e.pool().available(), e.pool().total());
}

// Topology churn under traffic on two workers: interfaces are added (growing, so reallocating,
// the table the workers index by sw_if_index) and deleted, and the cross-connect and admin state
// flip, thousands of barriers in all. Every frame must be forwarded or counted as dropped; under
// TSan any worker still running during a change is a reported race.
TEST(EngineTest, BarrierHoldsUnderTopologyChurn) {
  Rig rig = MakeRig(2, RxMode::kPolling, 2, 16384);
  Engine& e = *rig.engine;
  ASSERT_TRUE(e.SetXconnect(rig.ia, rig.ib).ok());
  ASSERT_TRUE(e.SetAdminUp(rig.ia, true).ok());
  ASSERT_TRUE(e.SetAdminUp(rig.ib, true).ok());
  ASSERT_TRUE(e.Start().ok());
  BufferCache cache(e.pool());
  uint64_t injected = 0, collected = 0;
  auto drain = [&] {
    for (uint16_t q = 0; q < 2; ++q) {
      while (Buffer* b = rig.b->Collect(q)) {
        cache.FreeOne(b);
        ++collected;
      }
    }
  };
  for (uint32_t cycle = 0; cycle < 300; ++cycle) {
    for (uint16_t q = 0; q < 2; ++q) {
      for (uint32_t i = 0; i < 8; ++i) {
        if (rig.a->Inject(q, Frame(cache, cycle))) {
          ++injected;
        }
      }
    }
    MemArgs args;
    args.name = fmt::format("churn{}", cycle);
    auto extra = e.AddInterface(args.name, std::make_unique<MemDriver>(args), RxMode::kPolling);
    ASSERT_TRUE(extra.ok()) << extra.status().message();
    ASSERT_TRUE(e.SetAdminUp(*extra, true).ok());
    // mem0 -> churn -> (down) mem1 and back: frames in flight take either path or are dropped.
    ASSERT_TRUE(e.SetXconnect(rig.ia, *extra).ok());
    ASSERT_TRUE(e.SetAdminUp(rig.ib, cycle % 2 == 0).ok());
    ASSERT_TRUE(e.SetXconnect(rig.ia, rig.ib).ok());
    ASSERT_TRUE(e.SetAdminUp(rig.ib, true).ok());
    ASSERT_TRUE(e.DeleteInterface(*extra).ok());  // frames sent to it go with its ring (not counted)
    if (cycle % 50 == 0) {
      // Keep some slots: later adds grow the table again.
      for (uint32_t k = 0; k < 3; ++k) {
        MemArgs keep;
        keep.name = fmt::format("keep{}_{}", cycle, k);
        ASSERT_TRUE(e.AddInterface(keep.name, std::make_unique<MemDriver>(keep), RxMode::kPolling).ok());
      }
    }
    drain();
  }
  auto deadline = steady_clock::now() + milliseconds(10000);
  while (e.GetInterface(rig.ia)->stats.rx_packets < injected && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  auto va = e.GetInterface(rig.ia);
  EXPECT_EQ(va->stats.rx_packets, injected);
  drain();
  EXPECT_GT(collected, 0u);
  // Whatever mem0 received left on mem1, went into a churn interface or was dropped.
  EXPECT_LE(collected + va->stats.drops, injected);
  e.Stop();
}

TEST(EngineTest, InterfaceManagementErrors) {
  Rig rig = MakeRig(0, RxMode::kPolling);
  Engine& e = *rig.engine;
  EXPECT_EQ(e.FindInterface("local0").value(), 0u);
  EXPECT_FALSE(e.FindInterface("nope").ok());
  EXPECT_FALSE(e.SetXconnect(rig.ia, rig.ia).ok());
  EXPECT_FALSE(e.SetXconnect(rig.ia, 99).ok());
  EXPECT_FALSE(e.SetRxMode(rig.ia, 3, RxMode::kPolling).ok());
  EXPECT_FALSE(e.SetAdminUp(0, true).ok());
  auto dup = e.AddInterface("mem0", std::make_unique<MemDriver>(MemArgs{}), RxMode::kPolling);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("already exists"), std::string::npos);
  ASSERT_TRUE(e.SetXconnect(rig.ib, rig.ia).ok());
  ASSERT_TRUE(e.DeleteInterface(rig.ia).ok());
  EXPECT_EQ(e.GetInterface(rig.ib)->xconnect, "");  // cross-connect to a deleted interface is gone
  auto again = e.AddInterface("memx", std::make_unique<MemDriver>(MemArgs{}), RxMode::kPolling);
  EXPECT_EQ(again.value(), rig.ia);  // index reused
}

TEST(EngineTest, RejectsBadWorkerCores) {
  EngineConfig cfg;
  cfg.buffers.allow_hugepages = false;
  cfg.workers = 1;
  cfg.worker_cores = {4096};
  auto e = Engine::Create(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("cpu 4096 does not exist"), std::string::npos);
}

}  // namespace
}  // namespace uplinkd
