#include "buffer/buffer_pool.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <thread>
#include <vector>

#include "buffer/packet_batch.h"
#include "common/check.h"

namespace uplinkd {
namespace {

std::unique_ptr<BufferPool> MakePool(uint32_t n, uint32_t data_size = 2048) {
  auto pool = BufferPool::Create({.buffers = n, .data_size = data_size, .allow_hugepages = false});
  EXPECT_TRUE(pool.ok()) << pool.status().message();
  return std::move(pool).value();
}

TEST(BufferPoolTest, LayoutAndIndices) {
  auto pool = MakePool(64, 2048);
  EXPECT_EQ(pool->slot_size() % 64, 0u);
  EXPECT_GE(pool->slot_size(), kBufferHeaderSize + kBufferHeadroom + 2048);
  for (uint32_t i = 0; i < 64; ++i) EXPECT_EQ(pool->FromIndex(i)->index, i);
  EXPECT_EQ(pool->available(), 64u);
}

TEST(BufferPoolTest, RejectsBadConfig) {
  EXPECT_FALSE(BufferPool::Create({.buffers = 0, .data_size = 2048, .allow_hugepages = false}).ok());
  auto r = BufferPool::Create({.buffers = 8, .data_size = 100, .allow_hugepages = false});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("data-size 100"), std::string::npos);
}

TEST(BufferPoolTest, AllocFreeBalanceUnderBursts) {
  auto pool = MakePool(4096);
  BufferCache cache(*pool);
  std::mt19937 rng(7);
  std::vector<Buffer*> held;
  std::set<uint32_t> seen;
  for (int round = 0; round < 2000; ++round) {
    Buffer* burst[kMaxBurst];
    uint32_t want = rng() % kMaxBurst + 1;
    uint32_t got = cache.Alloc(burst, want);
    for (uint32_t i = 0; i < got; ++i) {
      EXPECT_EQ(burst[i]->offset, kBufferHeadroom);
      EXPECT_FALSE(burst[i]->has_next());
      EXPECT_TRUE(seen.insert(burst[i]->index).second) << "buffer handed out twice";
      held.push_back(burst[i]);
    }
    EXPECT_EQ(pool->available() + held.size(), 4096u);
    uint32_t drop = held.empty() ? 0 : rng() % held.size();
    for (uint32_t i = 0; i < drop; ++i) seen.erase(held[held.size() - 1 - i]->index);
    cache.Free(held.data() + held.size() - drop, drop);
    held.resize(held.size() - drop);
  }
  for (Buffer* b : held) seen.erase(b->index);
  cache.Free(held.data(), held.size());
  EXPECT_EQ(pool->available(), 4096u);
}

TEST(BufferPoolTest, ExhaustionReturnsShortCount) {
  auto pool = MakePool(100);
  BufferCache cache(*pool);
  Buffer* bufs[kMaxBurst];
  EXPECT_EQ(cache.Alloc(bufs, 80), 80u);
  Buffer* more[kMaxBurst];
  EXPECT_EQ(cache.Alloc(more, 80), 20u);
  EXPECT_EQ(cache.Alloc(more + 20, 1), 0u);
  cache.Free(bufs, 80);
  cache.Free(more, 20);
  EXPECT_EQ(pool->available(), 100u);
}

TEST(BufferPoolTest, FreeingAChainFreesEverySegment) {
  auto pool = MakePool(16);
  BufferCache cache(*pool);
  Buffer* seg[3];
  ASSERT_EQ(cache.Alloc(seg, 3), 3u);
  seg[0]->flags |= Buffer::kNextValid;
  seg[0]->next = seg[1]->index;
  seg[1]->flags |= Buffer::kNextValid;
  seg[1]->next = seg[2]->index;
  EXPECT_EQ(pool->available(), 13u);
  cache.FreeOne(seg[0]);
  EXPECT_EQ(pool->available(), 16u);
}

TEST(BufferPoolTest, CachesOnSeveralThreadsBalance) {
  auto pool = MakePool(8192);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      BufferCache cache(*pool);
      std::mt19937 rng(t);
      Buffer* bufs[kMaxBurst];
      for (int i = 0; i < 5000; ++i) {
        uint32_t got = cache.Alloc(bufs, rng() % kMaxBurst + 1);
        cache.Free(bufs, got);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(pool->available(), 8192u);
  EXPECT_EQ(pool->cached(), 0u);
}

// Buffers moving between the pool's stack, caches and a driver's own hands (TakeIndices /
// ReturnIndices, as af_xdp and dpdk do) keep their debug state straight: no check fires.
TEST(BufferPoolTest, IndicesAndCachesInterleaveWithoutTrippingChecks) {
  auto pool = MakePool(300);
  uint32_t held[64];
  ASSERT_EQ(pool->TakeIndices(held, 64), 64u);
  {
    BufferCache cache(*pool);  // refills from the pool's stack, then flushes back into it
    Buffer* bufs[200];
    ASSERT_EQ(cache.Alloc(bufs, 200), 200u);
    cache.Free(bufs, 200);
    // A driver's buffer freed through a cache, a cache's buffer returned by index.
    cache.FreeOne(pool->FromIndex(held[0]));
    Buffer* one = cache.AllocOne();
    ASSERT_NE(one, nullptr);
    held[0] = one->index;
  }
  pool->ReturnIndices(held, 64);
  EXPECT_EQ(pool->available(), 300u);
}

// What UPLINKD_DCHECK guards in the pool: a buffer freed twice, through a cache or by index, and
// an index that is not the pool's. Only where the checks are compiled in (no NDEBUG).
TEST(BufferPoolDeathTest, DoubleFreeAndBadIndexAreCaught) {
  if (!UPLINKD_DCHECK_IS_ON) {
    GTEST_SKIP() << "UPLINKD_DCHECK is compiled out (NDEBUG, release build): the pool does not "
                    "check for double frees here; the asan and tsan builds run this test";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // other tests of this binary start threads
  auto pool = MakePool(64);
  EXPECT_DEATH(
      {
        BufferCache cache(*pool);
        Buffer* b = cache.AllocOne();
        cache.FreeOne(b);
        cache.FreeOne(b);
      },
      "check failed.*kStateAllocated");
  EXPECT_DEATH(
      {
        uint32_t index;
        ASSERT_EQ(pool->TakeIndices(&index, 1), 1u);
        pool->ReturnIndices(&index, 1);
        pool->ReturnIndices(&index, 1);
      },
      "check failed.*kStateAllocated");
  EXPECT_DEATH(
      {
        uint32_t bad = 64;
        pool->ReturnIndices(&bad, 1);
      },
      "check failed.*index < total_");
  // The death tests ran in children: this pool is untouched.
  EXPECT_EQ(pool->available(), 64u);
}

}  // namespace
}  // namespace uplinkd
