#include "buffer/buffer_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "common/log.h"

namespace uplinkd {
namespace {

constexpr uint32_t kMaxDataSize = 65535 - kBufferHeadroom;  // segment length is a uint16_t

}  // namespace

HugepageInfo ReadHugepageInfo() {
  HugepageInfo info;
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "HugePages_Free:") info.free_pages = value;
    if (key == "Hugepagesize:") info.page_size = value * 1024;  // kB
    in.ignore(256, '\n');
  }
  return info;
}

namespace {

class SpinGuard {
 public:
  explicit SpinGuard(std::atomic_flag& f) : f_(f) {
    while (f_.test_and_set(std::memory_order_acquire)) {
      __builtin_ia32_pause();
    }
  }
  ~SpinGuard() { f_.clear(std::memory_order_release); }

 private:
  std::atomic_flag& f_;
};

thread_local BufferCache* thread_cache = nullptr;

}  // namespace

BufferCache* ThreadBufferCache() noexcept { return thread_cache; }
void SetThreadBufferCache(BufferCache* cache) noexcept { thread_cache = cache; }

Result<std::unique_ptr<BufferPool>> BufferPool::Create(const BufferPoolConfig& config) {
  if (config.buffers == 0) return Failure(EINVAL, "buffers-per-numa must be at least 1");
  if (config.data_size < 256 || config.data_size > kMaxDataSize) {
    return Failure(EINVAL, "default data-size {} is out of range (256..{})", config.data_size,
                   kMaxDataSize);
  }
  if (config.ext_header_size % 64 != 0 || config.ext_header_size > 4096) {
    return Failure(EINVAL, "buffer ext header of {} bytes: must be a multiple of 64, at most 4096",
                   config.ext_header_size);
  }
  std::unique_ptr<BufferPool> pool(new BufferPool);
  pool->data_size_ = config.data_size;
  pool->ext_header_size_ = config.ext_header_size;
  pool->slot_size_ =
      config.ext_header_size + ((kBufferHeaderSize + kBufferHeadroom + config.data_size + 63) & ~63u);
  pool->total_ = config.buffers;
  size_t bytes = static_cast<size_t>(pool->slot_size_) * config.buffers;

  void* mem = MAP_FAILED;
  if (config.allow_hugepages) {
    HugepageInfo hp = ReadHugepageInfo();
    if (hp.page_size > 0 && hp.free_pages * hp.page_size >= bytes) {
      size_t rounded = (bytes + hp.page_size - 1) / hp.page_size * hp.page_size;
      mem = mmap(nullptr, rounded, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
      if (mem != MAP_FAILED) {
        bytes = rounded;
        pool->on_hugepages_ = true;
      } else {
        Logger("buffers")->warn("hugepage mmap of {} bytes failed ({}); using plain memory", rounded,
                                std::strerror(errno));
      }
    }
  }
  if (mem == MAP_FAILED) {
    mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
               -1, 0);
    if (mem == MAP_FAILED) return ErrnoFailure("mmap {} bytes for {} buffers", bytes, config.buffers);
  }
  pool->base_ = static_cast<uint8_t*>(mem);
  pool->memory_size_ = bytes;

  pool->free_.resize(config.buffers);
  // Hand out low indices first: neighbours in memory for the first bursts.
  for (uint32_t i = 0; i < config.buffers; ++i) {
    uint32_t index = config.buffers - 1 - i;
    Buffer* b = pool->FromIndex(index);
    std::memset(b, 0, sizeof(Buffer));
    b->index = index;
    ResetBuffer(b);
    pool->free_[i] = index;
  }
  pool->free_count_ = config.buffers;
  if constexpr (UPLINKD_DCHECK_IS_ON) {
    pool->state_ = std::make_unique<std::atomic<uint8_t>[]>(config.buffers);  // all kStateFree
  }
  return pool;
}

BufferPool::~BufferPool() {
  if (base_) munmap(base_, memory_size_);
}

uint32_t BufferPool::PopFree(uint32_t* out, uint32_t n) noexcept {
  SpinGuard guard(lock_);
  uint32_t take = std::min(n, free_count_);
  free_count_ -= take;
  std::memcpy(out, free_.data() + free_count_, take * sizeof(uint32_t));
  return take;
}

void BufferPool::PushFree(const uint32_t* in, uint32_t n) noexcept {
  SpinGuard guard(lock_);
  // More free buffers than exist: something was freed twice (it would write past free_).
  UPLINKD_DCHECK(n <= total_ - free_count_);
  std::memcpy(free_.data() + free_count_, in, n * sizeof(uint32_t));
  free_count_ += n;
}

uint32_t BufferPool::TakeIndices(uint32_t* out, uint32_t n) noexcept {
  uint32_t take = PopFree(out, n);
  for (uint32_t i = 0; i < take; ++i) MarkAllocated(out[i]);
  return take;
}

void BufferPool::ReturnIndices(const uint32_t* in, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i) MarkFree(in[i]);
  PushFree(in, n);
}

uint32_t BufferPool::free_in_pool() const {
  SpinGuard guard(lock_);
  return free_count_;
}

uint32_t BufferPool::cached() const {
  std::lock_guard lock(caches_mu_);
  uint32_t sum = 0;
  for (const BufferCache* c : caches_) sum += c->count();
  return sum;
}

void BufferPool::Register(BufferCache* cache) {
  std::lock_guard lock(caches_mu_);
  caches_.push_back(cache);
}

void BufferPool::Unregister(BufferCache* cache) {
  std::lock_guard lock(caches_mu_);
  caches_.erase(std::remove(caches_.begin(), caches_.end(), cache), caches_.end());
}

BufferCache::BufferCache(BufferPool& pool) : pool_(pool) { pool_.Register(this); }

BufferCache::~BufferCache() {
  pool_.PushFree(indices_, count_.load(std::memory_order_relaxed));
  count_.store(0, std::memory_order_relaxed);
  pool_.Unregister(this);
}

uint32_t BufferCache::Alloc(Buffer** out, uint32_t n) noexcept {
  uint32_t have = count_.load(std::memory_order_relaxed);
  if (have < n) {
    uint32_t want = std::min(kCapacity - have, std::max(n - have, kChunk));
    have += pool_.PopFree(indices_ + have, want);
  }
  uint32_t give = std::min(have, n);
  for (uint32_t i = 0; i < give; ++i) {
    uint32_t index = indices_[--have];
    pool_.MarkAllocated(index);
    Buffer* b = pool_.FromIndex(index);
    ResetBuffer(b);
    out[i] = b;
  }
  count_.store(have, std::memory_order_relaxed);
  return give;
}

void BufferCache::Put(uint32_t index) noexcept {
  pool_.MarkFree(index);
  uint32_t have = count_.load(std::memory_order_relaxed);
  if (have == kCapacity) {
    pool_.PushFree(indices_ + kCapacity - kChunk, kChunk);
    have -= kChunk;
  }
  indices_[have++] = index;
  count_.store(have, std::memory_order_relaxed);
}

void BufferCache::Free(Buffer* const* bufs, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i) {
    Buffer* b = bufs[i];
    while (true) {
      bool more = b->has_next();
      uint32_t next = b->next;
      Put(b->index);
      if (!more) break;
      b = pool_.FromIndex(next);
    }
  }
}

}  // namespace uplinkd
