// Fuzzes the offload code with frames as the host tap could hand them over: any bytes, any
// gso_type/gso_size, any checksum position, cut into a buffer chain at any size. Segmentation
// and checksum completion must never read or write outside the chain, and never leak a buffer.
//
// Input: [gso_type][gso_size hi][gso_size lo][segment size][csum_start hi][csum_start lo]
//        [csum_offset] then the frame.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "buffer/buffer_pool.h"
#include "fuzz/fuzz_pool.h"
#include "offload/checksum.h"
#include "offload/gso.h"

namespace {

using uplinkd::Buffer;
using uplinkd::BufferCache;
using uplinkd::BufferPool;

uplinkd::fuzz::FuzzPool& Shared() {
  static uplinkd::fuzz::FuzzPool p = uplinkd::fuzz::MakeFuzzPool(4096);
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kPrefix = 7;
  if (size < kPrefix) return 0;
  uplinkd::fuzz::FuzzPool& p = Shared();
  BufferCache& cache = *p.cache;
  const uint32_t avail = p.pool->available();

  const uint32_t seg = 32 + data[3] * 8u;  // 32 .. 2072, capped at the data size below
  const uint32_t room = seg < p.pool->data_size() ? seg : p.pool->data_size();
  const uint8_t* frame = data + kPrefix;
  const size_t len = size - kPrefix;
  Buffer* head = nullptr;
  Buffer* prev = nullptr;
  for (size_t off = 0; off < len || head == nullptr; off += room) {
    Buffer* b = cache.AllocOne();
    if (b == nullptr) abort();
    size_t n = len - off < room ? len - off : room;
    std::memcpy(b->data(), frame + off, n);
    b->length = static_cast<uint16_t>(n);
    if (prev != nullptr) {
      prev->flags |= Buffer::kNextValid;
      prev->next = b->index;
    } else {
      head = b;
    }
    prev = b;
  }
  head->total_length = static_cast<uint32_t>(len);
  head->gso_type = data[0];
  head->gso_size = static_cast<uint16_t>(data[1] << 8 | data[2]);
  head->csum_start = static_cast<uint16_t>(data[4] << 8 | data[5]);
  head->csum_offset = data[6];
  head->offload_flags = Buffer::kOffloadNeedsCsum;

  Buffer* out[uplinkd::offload::kMaxGsoSegments];
  uint32_t n = uplinkd::offload::SegmentTcp(cache, head, out, uplinkd::offload::kMaxGsoSegments);
  cache.Free(out, n);
  uplinkd::offload::CompleteChainChecksum(*p.pool, head);
  cache.FreeOne(head);
  if (p.pool->available() != avail) abort();  // a buffer leaked
  return 0;
}
