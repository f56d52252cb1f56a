#pragma once
// The buffer pool (plain memory, 2048-byte buffers) and cache a fuzz target keeps for all its
// runs; a run checks that it gives back every buffer it took (available() as before).

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "buffer/buffer_pool.h"

namespace uplinkd::fuzz {

struct FuzzPool {
  std::unique_ptr<BufferPool> pool;
  std::unique_ptr<BufferCache> cache;
};

inline FuzzPool MakeFuzzPool(uint32_t buffers) {
  FuzzPool p;
  auto pool = BufferPool::Create({.buffers = buffers, .data_size = 2048, .allow_hugepages = false});
  if (!pool.ok()) abort();
  p.pool = std::move(*pool);
  p.cache = std::make_unique<BufferCache>(*p.pool);
  return p;
}

}  // namespace uplinkd::fuzz
