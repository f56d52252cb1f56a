#pragma once
// BufferPool: every packet buffer of the engine, in one contiguous region (hugepages when
// allowed and free, plain memory otherwise), so drivers can register it whole (AF_XDP UMEM,
// DPDK mempool). Workers allocate through a BufferCache of their own; the pool's shared free
// stack is touched only to refill or flush a cache, a chunk at a time.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "buffer/buffer.h"
#include "common/check.h"
#include "common/status.h"

namespace uplinkd {

// The system's default hugepages, from /proc/meminfo (0s when it has none).
struct HugepageInfo {
  uint64_t free_pages = 0;
  uint64_t page_size = 0;  // bytes
};
HugepageInfo ReadHugepageInfo();

struct BufferPoolConfig {
  uint32_t buffers = 16384;      // buffers-per-numa
  uint32_t data_size = 2048;     // default data-size
  bool allow_hugepages = true;   // false with buffers { no-hugetlb }
  // Bytes reserved in front of every Buffer header for a driver's own per-buffer header, a
  // multiple of 64: DPDK's mempool object header and rte_mbuf (VPP's "ext header"), so that a
  // buffer and an mbuf are the same memory. 0 when no driver needs one.
  uint32_t ext_header_size = 0;
};

class BufferCache;

class BufferPool {
 public:
  // Reserves and touches all the memory now, so the fast path never faults it in.
  static Result<std::unique_ptr<BufferPool>> Create(const BufferPoolConfig& config);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // Slot i starts at memory() + i * slot_size(): ext_header_size() bytes of a driver's header,
  // then the 64-byte Buffer, then its headroom and data area.
  Buffer* FromIndex(uint32_t index) const {
    return reinterpret_cast<Buffer*>(base_ + static_cast<size_t>(index) * slot_size_ +
                                     ext_header_size_);
  }
  uint32_t data_size() const { return data_size_; }
  uint32_t slot_size() const { return slot_size_; }
  uint32_t ext_header_size() const { return ext_header_size_; }
  // Where a slot's headroom-and-data area starts, from the slot's start, and its length.
  uint32_t data_area_offset() const { return ext_header_size_ + kBufferHeaderSize; }
  uint32_t data_area_size() const { return slot_size_ - data_area_offset(); }
  uint32_t total() const { return total_; }
  bool on_hugepages() const { return on_hugepages_; }
  uint8_t* memory() const { return base_; }
  size_t memory_size() const { return memory_size_; }

  // Shared free stack (any thread; a short spinlock), for drivers that hold buffers outside a
  // cache: Take hands out up to n buffers (returns how many), Return takes back n buffers the
  // caller owns. Debug builds check each index and catch a buffer returned twice.
  uint32_t TakeIndices(uint32_t* out, uint32_t n) noexcept;
  void ReturnIndices(const uint32_t* in, uint32_t n) noexcept;

  // Accounting for `show buffers` and tests: free in the shared stack, and held by caches.
  uint32_t free_in_pool() const;
  uint32_t cached() const;
  uint32_t available() const { return free_in_pool() + cached(); }

 private:
  friend class BufferCache;
  BufferPool() = default;
  void Register(BufferCache* cache);
  void Unregister(BufferCache* cache);
  // A cache's refill and flush: the indices stay free (they move between free lists).
  uint32_t PopFree(uint32_t* out, uint32_t n) noexcept;
  void PushFree(const uint32_t* in, uint32_t n) noexcept;

  // Debug builds (UPLINKD_DCHECK_IS_ON) keep one state byte per buffer: free while its index is
  // in the pool's stack or in a cache, allocated while someone holds the buffer. Every hand-out
  // and every free checks the state it leaves, so a double free dies where it happens instead
  // of handing one buffer to two owners later. Atomic exchanges: two threads freeing the same
  // buffer at once are caught too. Release builds compile all of it out.
  enum BufferState : uint8_t { kStateFree = 0, kStateAllocated = 1 };
  void MarkAllocated(uint32_t index) noexcept {
    if constexpr (UPLINKD_DCHECK_IS_ON) {
      UPLINKD_DCHECK(index < total_);
      UPLINKD_DCHECK(state_[index].exchange(kStateAllocated, std::memory_order_relaxed) ==
                     kStateFree);  // handed out while already held: the free lists are corrupt
    }
  }
  void MarkFree(uint32_t index) noexcept {
    if constexpr (UPLINKD_DCHECK_IS_ON) {
      UPLINKD_DCHECK(index < total_);
      UPLINKD_DCHECK(state_[index].exchange(kStateFree, std::memory_order_relaxed) ==
                     kStateAllocated);  // a double free (or a free of a buffer never handed out)
    }
  }

  uint8_t* base_ = nullptr;
  size_t memory_size_ = 0;
  uint32_t slot_size_ = 0;
  uint32_t ext_header_size_ = 0;
  uint32_t data_size_ = 0;
  uint32_t total_ = 0;
  bool on_hugepages_ = false;

  mutable std::atomic_flag lock_ = ATOMIC_FLAG_INIT;
  std::vector<uint32_t> free_;  // capacity total_, never reallocated after Create
  uint32_t free_count_ = 0;
  std::unique_ptr<std::atomic<uint8_t>[]> state_;  // debug builds only: BufferState per buffer

  mutable std::mutex caches_mu_;
  std::vector<BufferCache*> caches_;
};

// Per-thread buffer cache. Owned by one worker (or the control thread); not thread-safe.
class BufferCache {
 public:
  static constexpr uint32_t kCapacity = 1024;
  static constexpr uint32_t kChunk = 256;  // moved to/from the pool at a time

  explicit BufferCache(BufferPool& pool);
  ~BufferCache();  // gives everything back to the pool
  BufferCache(const BufferCache&) = delete;
  BufferCache& operator=(const BufferCache&) = delete;

  // Fills out[0..ret) with fresh single-segment buffers; ret < n only when the pool is empty.
  uint32_t Alloc(Buffer** out, uint32_t n) noexcept;
  Buffer* AllocOne() noexcept {
    Buffer* b = nullptr;
    return Alloc(&b, 1) == 1 ? b : nullptr;
  }
  // Frees each buffer and every segment chained behind it.
  void Free(Buffer* const* bufs, uint32_t n) noexcept;
  void FreeOne(Buffer* b) noexcept { Free(&b, 1); }

  BufferPool& pool() const { return pool_; }
  uint32_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  void Put(uint32_t index) noexcept;

  BufferPool& pool_;
  std::atomic<uint32_t> count_{0};  // written by the owner only; read by `show buffers`
  uint32_t indices_[kCapacity];
};

// The calling thread's own cache, set by a worker for its lifetime; null elsewhere. For code that
// allocates and frees buffers behind the driver's back (DPDK's mempool ops, called by PMDs): it
// uses the worker's cache, and the pool itself where there is none.
BufferCache* ThreadBufferCache() noexcept;
void SetThreadBufferCache(BufferCache* cache) noexcept;

// Resets a buffer header to a fresh, empty, single segment.
inline void ResetBuffer(Buffer* b) {
  b->offset = kBufferHeadroom;
  b->length = 0;
  b->flags = 0;
  b->next = kInvalidBufferIndex;
  b->total_length = 0;
  b->rx_interface = UINT32_MAX;
  b->tx_interface = UINT32_MAX;
  b->offload_flags = 0;
  b->gso_type = 0;
  b->gso_size = 0;
  b->csum_start = 0;
  b->csum_offset = 0;
}

}  // namespace uplinkd
