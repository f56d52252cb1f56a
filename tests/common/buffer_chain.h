#pragma once
// Test helpers shared by the driver tests: frames as byte vectors <-> buffer chains.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <string_view>
#include <vector>

#include "buffer/buffer_pool.h"

namespace uplinkd::testing_util {

using Bytes = std::vector<uint8_t>;

// Frames as byte strings, in order. (vector<uint8_t>'s own operator< trips a GCC 12
// -Wstringop-overread false positive at -O3.)
struct BytesLess {
  bool operator()(const Bytes& a, const Bytes& b) const {
    return std::string_view(reinterpret_cast<const char*>(a.data()), a.size()) <
           std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
  }
};
// Frames regardless of order (queues interleave them).
using FrameSet = std::multiset<Bytes, BytesLess>;
inline FrameSet AsFrameSet(const std::vector<Bytes>& v) { return {v.begin(), v.end()}; }

// A chain holding `bytes`, `seg` bytes per segment (at most the pool's data size); null (and
// nothing leaked) when the pool runs out.
inline Buffer* MakeChain(BufferCache& cache, const Bytes& bytes, uint32_t seg) {
  Buffer* head = nullptr;
  Buffer* prev = nullptr;
  for (size_t off = 0; off < bytes.size() || head == nullptr; off += seg) {
    Buffer* b = cache.AllocOne();
    if (b == nullptr) {
      if (head) cache.FreeOne(head);
      return nullptr;
    }
    uint32_t n = static_cast<uint32_t>(std::min<size_t>(seg, bytes.size() - off));
    if (n > 0) std::memcpy(b->data(), bytes.data() + off, n);
    b->length = static_cast<uint16_t>(n);
    if (prev) {
      prev->flags |= Buffer::kNextValid;
      prev->next = b->index;
    } else {
      head = b;
    }
    prev = b;
  }
  head->total_length = static_cast<uint32_t>(bytes.size());
  return head;
}

// The bytes of a whole chain (bounded, so a corrupt chain cannot loop forever).
inline Bytes Flatten(const BufferPool& pool, const Buffer* b) {
  Bytes out;
  for (int i = 0; i < 1024; ++i) {
    out.insert(out.end(), b->data(), b->data() + b->length);
    if (!b->has_next()) break;
    b = pool.FromIndex(b->next);
  }
  return out;
}

}  // namespace uplinkd::testing_util
