// The mempool over the engine's BufferPool: every object is a pool slot (mempool header, mbuf,
// Buffer, data; see dpdk_internal.h), and our mempool ops hand PMDs buffers from, and take them
// back into, the engine's pool (the calling worker's cache when it has one), so DPDK and the
// graph share buffers without copying and `show buffers` accounts for all of them.

#include <rte_errno.h>
#include <rte_malloc.h>

#include <cstring>

#include "common/log.h"
#include "drivers/dpdk/dpdk_internal.h"

namespace uplinkd::dpdk {
namespace {

constexpr const char* kOpsName = "uplinkd_buffers";
constexpr uint32_t kOpsBatch = 256;

BufferPool& PoolOf(const rte_mempool* mp) { return *static_cast<BufferPool*>(mp->pool_data); }

// The slot index of an object (an mbuf): objects sit kMempoolHeaderSize into their slot.
uint32_t IndexOf(const BufferPool& pool, const void* obj) {
  auto offset = static_cast<size_t>(static_cast<const uint8_t*>(obj) - pool.memory());
  return static_cast<uint32_t>(offset / pool.slot_size());
}

// A buffer handed to DPDK is in the state a freed mbuf is in ("raw"): one segment, one
// reference, no next. The engine frees buffers without touching their mbufs, so it is set here.
void MakeRaw(rte_mbuf* m) {
  m->next = nullptr;
  m->nb_segs = 1;
  rte_mbuf_refcnt_set(m, 1);
}

int OpsAlloc(rte_mempool* mp) {
  mp->pool_data = mp->pool_config;  // the BufferPool, given to rte_mempool_set_ops_byname
  return mp->pool_data != nullptr ? 0 : -EINVAL;
}

void OpsFree(rte_mempool* /*mp*/) {}  // the BufferPool belongs to the engine

int OpsEnqueue(rte_mempool* mp, void* const* objs, unsigned int n) {
  BufferPool& pool = PoolOf(mp);
  BufferCache* cache = ThreadBufferCache();
  if (cache != nullptr && &cache->pool() == &pool) {
    Buffer* bufs[kOpsBatch];
    for (unsigned int done = 0; done < n;) {
      unsigned int k = std::min(n - done, kOpsBatch);
      for (unsigned int i = 0; i < k; ++i) {
        Buffer* b = BufferOf(static_cast<rte_mbuf*>(objs[done + i]));
        b->flags = 0;  // each mbuf comes back alone: the Buffer's own chain is over
        bufs[i] = b;
      }
      cache->Free(bufs, k);
      done += k;
    }
    return 0;
  }
  uint32_t indices[kOpsBatch];
  for (unsigned int done = 0; done < n;) {
    unsigned int k = std::min(n - done, kOpsBatch);
    for (unsigned int i = 0; i < k; ++i) indices[i] = IndexOf(pool, objs[done + i]);
    pool.ReturnIndices(indices, k);
    done += k;
  }
  return 0;
}

// All n or none (the mempool contract).
int OpsDequeue(rte_mempool* mp, void** objs, unsigned int n) {
  BufferPool& pool = PoolOf(mp);
  BufferCache* cache = ThreadBufferCache();
  if (cache != nullptr && &cache->pool() == &pool) {
    Buffer* bufs[kOpsBatch];
    for (unsigned int done = 0; done < n;) {
      unsigned int k = std::min(n - done, kOpsBatch);
      uint32_t got = cache->Alloc(bufs, k);
      for (uint32_t i = 0; i < got; ++i) {
        rte_mbuf* m = MbufOf(bufs[i]);
        MakeRaw(m);
        objs[done + i] = m;
      }
      if (got < k) {
        cache->Free(bufs, got);
        // Give back what this call took before, too.
        for (unsigned int i = 0; i < done; ++i) {
          Buffer* b = BufferOf(static_cast<rte_mbuf*>(objs[i]));
          cache->FreeOne(b);
        }
        return -ENOBUFS;
      }
      done += k;
    }
    return 0;
  }
  uint32_t indices[kOpsBatch];
  for (unsigned int done = 0; done < n;) {
    unsigned int k = std::min(n - done, kOpsBatch);
    uint32_t got = pool.TakeIndices(indices, k);
    for (uint32_t i = 0; i < got; ++i) {
      Buffer* b = pool.FromIndex(indices[i]);
      ResetBuffer(b);
      rte_mbuf* m = MbufOf(b);
      MakeRaw(m);
      objs[done + i] = m;
    }
    if (got < k) {
      pool.ReturnIndices(indices, got);
      for (unsigned int i = 0; i < done; ++i) {
        uint32_t index = IndexOf(pool, objs[i]);
        pool.ReturnIndices(&index, 1);
      }
      return -ENOBUFS;
    }
    done += k;
  }
  return 0;
}

unsigned OpsGetCount(const rte_mempool* mp) { return PoolOf(mp).available(); }

// rte_pktmbuf_init zeroes the mbuf's private area, which is the Buffer header: it is made anew.
void InitObject(rte_mempool* mp, void* arg, void* obj, unsigned obj_index) {
  rte_pktmbuf_init(mp, nullptr, obj, obj_index);
  auto* pool = static_cast<BufferPool*>(arg);
  Buffer* b = BufferOf(static_cast<rte_mbuf*>(obj));
  std::memset(b, 0, sizeof(Buffer));
  b->index = IndexOf(*pool, obj);
  ResetBuffer(b);
}

}  // namespace

const char* RegisterBufferOps() {
  static const bool registered = [] {
    rte_mempool_ops ops{};
    std::strncpy(ops.name, kOpsName, sizeof(ops.name) - 1);
    ops.alloc = OpsAlloc;
    ops.free = OpsFree;
    ops.enqueue = OpsEnqueue;
    ops.dequeue = OpsDequeue;
    ops.get_count = OpsGetCount;
    return rte_mempool_register_ops(&ops) >= 0;
  }();
  return registered ? kOpsName : nullptr;
}

}  // namespace uplinkd::dpdk

namespace uplinkd {

Status DpdkRuntime::AttachPool(BufferPool& pool) {
  using namespace dpdk;
  if (mempool_ != nullptr) return Failure(EEXIST, "dpdk: a buffer pool is attached already");
  if (pool.ext_header_size() != kDpdkExtHeaderSize) {
    return Failure(EINVAL, "dpdk: the buffer pool has no room for mbuf headers ({} bytes, want {})",
                   pool.ext_header_size(), kDpdkExtHeaderSize);
  }
  if (pool.available() != pool.total()) {
    return Failure(EBUSY, "dpdk: the buffer pool must be whole when attached ({} of {} free)",
                   pool.available(), pool.total());
  }
  const char* ops = RegisterBufferOps();
  if (ops == nullptr) return Failure(ENOSPC, "dpdk: cannot register the mempool ops");

  // Object = mbuf + Buffer header + data room; the mempool puts its 64-byte header in front, so
  // each object's slot is exactly a pool slot. No spreading and no IOVA-contiguity: objects
  // follow each other without padding (and may span pages, as pool slots do).
  const uint32_t elt_size = pool.slot_size() - kMempoolHeaderSize;
  rte_mempool* mp = rte_mempool_create_empty(
      "uplinkd_buffers", pool.total(), elt_size, /*cache_size=*/0,
      sizeof(rte_pktmbuf_pool_private), SOCKET_ID_ANY,
      RTE_MEMPOOL_F_NO_SPREAD | RTE_MEMPOOL_F_NO_IOVA_CONTIG);
  if (mp == nullptr) {
    return Failure(rte_errno, "dpdk: rte_mempool_create_empty: {}", rte_strerror(rte_errno));
  }
  auto fail = [&](Status s) {
    rte_mempool_free(mp);
    return s;
  };
  if (mp->header_size != kMempoolHeaderSize || mp->trailer_size != 0) {
    return fail(Failure(EINVAL,
                        "dpdk: unexpected mempool object layout (header {}, trailer {} bytes)",
                        mp->header_size, mp->trailer_size));
  }
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_priv_size = kBufferHeaderSize;  // the Buffer header
  priv.mbuf_data_room_size = static_cast<uint16_t>(pool.data_area_size());
  rte_pktmbuf_pool_init(mp, &priv);
  if (int rc = rte_mempool_set_ops_byname(mp, ops, &pool); rc != 0) {
    return fail(Failure(-rc, "dpdk: rte_mempool_set_ops_byname: {}", rte_strerror(-rc)));
  }

  // Populating enqueues every object through our ops, which return it to the pool: the pool is
  // emptied first so that each buffer is counted once.
  std::vector<uint32_t> all(pool.total());
  if (pool.TakeIndices(all.data(), pool.total()) != pool.total()) {
    return fail(Failure(EBUSY, "dpdk: the buffer pool is in use"));
  }
  rte_iova_t iova = rte_eal_iova_mode() == RTE_IOVA_VA
                        ? static_cast<rte_iova_t>(reinterpret_cast<uintptr_t>(pool.memory()))
                        : RTE_BAD_IOVA;
  size_t len = static_cast<size_t>(pool.slot_size()) * pool.total();
  int populated = rte_mempool_populate_iova(mp, reinterpret_cast<char*>(pool.memory()), iova, len,
                                            nullptr, nullptr);
  if (populated != static_cast<int>(pool.total())) {
    // Whatever populate did not enqueue goes back by hand.
    uint32_t back = pool.total() - pool.free_in_pool();
    if (populated <= 0) pool.ReturnIndices(all.data(), pool.total());
    else if (back > 0) Logger("dpdk")->error("{} buffers lost in a failed populate", back);
    return fail(Failure(populated < 0 ? -populated : EINVAL,
                        "dpdk: populate the mempool over the buffer pool: {} of {} objects",
                        populated, pool.total()));
  }
  rte_mempool_obj_iter(mp, InitObject, &pool);

  // Check the layout rule once, on the first and last buffers: mbuf data == Buffer data.
  for (uint32_t i : {0u, pool.total() - 1}) {
    Buffer* b = pool.FromIndex(i);
    rte_mbuf* m = MbufOf(b);
    if (m->pool != mp || rte_pktmbuf_mtod(m, uint8_t*) != b->data() || b->index != i) {
      return fail(Failure(EINVAL, "dpdk: mbuf {} does not overlay buffer {} as it should", i, i));
    }
  }
  mempool_ = mp;
  pool_ = &pool;
  Logger("dpdk")->info("mempool over the buffer pool: {} mbufs of {} bytes ({} bytes of data room)",
                       pool.total(), pool.slot_size(), priv.mbuf_data_room_size);
  return Status::Ok();
}

}  // namespace uplinkd
