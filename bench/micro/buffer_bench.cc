// Buffer allocation: a burst allocated from a worker's BufferCache and freed back to it, as rx
// and tx drivers do for every burst.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "buffer/buffer_pool.h"

namespace uplinkd {
namespace {

// Arg: the burst size (1, 32, 256 = kMaxBurst).
void BM_BufferAllocFree(benchmark::State& state) {
  const uint32_t burst = static_cast<uint32_t>(state.range(0));
  // Plain memory: results should not depend on whether this host has free hugepages.
  auto pool = BufferPool::Create({.buffers = 16384, .data_size = 2048, .allow_hugepages = false});
  if (!pool.ok()) {
    state.SkipWithError(pool.status().message().c_str());
    return;
  }
  BufferCache cache(**pool);
  Buffer* bufs[256];
  for (auto _ : state) {
    uint32_t got = cache.Alloc(bufs, burst);
    if (got != burst) {
      cache.Free(bufs, got);
      state.SkipWithError("BufferCache::Alloc returned fewer buffers than asked for");
      break;
    }
    benchmark::DoNotOptimize(bufs);  // the pointers are used, even with LTO
    cache.Free(bufs, got);
  }
  if ((*pool)->available() != (*pool)->total()) {
    state.SkipWithError("buffers leaked: the pool and cache do not account for every buffer");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * burst);
}
BENCHMARK(BM_BufferAllocFree)->Arg(1)->Arg(32)->Arg(256);

}  // namespace
}  // namespace uplinkd
