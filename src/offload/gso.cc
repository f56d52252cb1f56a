#include "offload/gso.h"

#include <linux/if_ether.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "offload/bytes.h"
#include "offload/checksum.h"

namespace uplinkd::offload {
namespace {

constexpr uint32_t kMaxWalk = 320;  // longest chain walked (a corrupt one cannot hold us)
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;

// Reads a chain's bytes in order.
struct ChainReader {
  const BufferPool& pool;
  const Buffer* b;
  uint32_t off;  // within b
  // Copies n bytes to dst; false when the chain ends first.
  bool Read(uint8_t* dst, uint32_t n) {
    while (n > 0) {
      if (off == b->length) {
        if (!b->has_next()) return false;
        b = pool.FromIndex(b->next);
        off = 0;
        continue;
      }
      uint32_t k = std::min<uint32_t>(n, b->length - off);
      std::memcpy(dst, b->data() + off, k);
      dst += k;
      off += k;
      n -= k;
    }
    return true;
  }
};

// Builds one output frame: the (fixed-up later) headers, then `len` payload bytes from `rd`,
// filling buffers of the pool's data size. Null when the pool ran dry or the chain ended.
Buffer* BuildFrame(BufferCache& cache, const uint8_t* hdr, uint32_t hdr_len, ChainReader& rd,
                   uint32_t len) {
  const uint32_t room = cache.pool().data_size();
  Buffer* head = cache.AllocOne();
  if (head == nullptr) return nullptr;
  std::memcpy(head->data(), hdr, hdr_len);
  head->length = static_cast<uint16_t>(hdr_len);
  head->total_length = hdr_len + len;
  Buffer* tail = head;
  while (len > 0) {
    if (tail->length == room) {
      Buffer* next = cache.AllocOne();
      if (next == nullptr) {
        cache.FreeOne(head);
        return nullptr;
      }
      tail->flags |= Buffer::kNextValid;
      tail->next = next->index;
      tail = next;
    }
    uint32_t k = std::min(len, room - tail->length);
    if (!rd.Read(tail->data() + tail->length, k)) {
      cache.FreeOne(head);
      return nullptr;
    }
    tail->length = static_cast<uint16_t>(tail->length + k);
    len -= k;
  }
  return head;
}

}  // namespace

uint32_t SegmentTcp(BufferCache& cache, const Buffer* head, Buffer** out, uint32_t max) noexcept {
  const BufferPool& pool = cache.pool();
  const uint8_t type = head->gso_type & static_cast<uint8_t>(~kGsoEcn);
  if (type != kGsoTcpV4 && type != kGsoTcpV6) return 0;
  const uint8_t* f = head->data();
  const uint32_t first_len = head->length;

  uint32_t l4 = 0, csum_offset = 0;
  uint8_t proto = 0;
  if (!FindL4Checksum(f, first_len, &l4, &csum_offset, &proto) || proto != IPPROTO_TCP) return 0;
  uint32_t l3 = ETH_HLEN;
  for (int i = 0; i < 2 && (Be16(f + l3 - 2) == ETH_P_8021Q || Be16(f + l3 - 2) == ETH_P_8021AD);
       ++i) {
    l3 += 4;
  }
  const bool v4 = Be16(f + l3 - 2) == ETH_P_IP;
  if (v4 != (type == kGsoTcpV4)) return 0;
  if (first_len < l4 + 20) return 0;
  const uint32_t hdr_len = l4 + (f[l4 + 12] >> 4) * 4u;
  if (hdr_len < l4 + 20 || hdr_len > first_len) return 0;

  uint32_t total = 0;
  const Buffer* s = head;
  for (uint32_t i = 0; i < kMaxWalk; ++i) {
    total += s->length;
    if (!s->has_next()) break;
    s = pool.FromIndex(s->next);
  }
  if (s->has_next()) return 0;  // longer than any frame we take
  const uint32_t mss = head->gso_size;
  const uint32_t payload = total - hdr_len;
  if (mss == 0 || payload == 0) return 0;
  const uint32_t nseg = (payload + mss - 1) / mss;
  if (nseg > max) return 0;

  const uint16_t ip_id = v4 ? Be16(f + l3 + 4) : 0;
  const uint32_t seq = Be32(f + l4 + 4);
  const uint8_t tcp_flags = f[l4 + 13];

  ChainReader rd{pool, head, hdr_len};
  // hdr_len <= first_len, so the reader may start inside the first buffer.
  for (uint32_t k = 0; k < nseg; ++k) {
    const uint32_t len = std::min(mss, payload - k * mss);
    Buffer* o = BuildFrame(cache, f, hdr_len, rd, len);
    if (o == nullptr) {
      cache.Free(out, k);
      return 0;
    }
    uint8_t* d = o->data();
    const uint32_t frame_len = hdr_len + len;
    if (v4) {
      Put16(d + l3 + 2, static_cast<uint16_t>(frame_len - l3));
      Put16(d + l3 + 4, static_cast<uint16_t>(ip_id + k));
      Put16(d + l3 + 10, 0);
      uint32_t ihl = (d[l3] & 0x0f) * 4u;
      Put16(d + l3 + 10, static_cast<uint16_t>(~FoldSum(SumWords(d + l3, ihl))));
    } else {
      Put16(d + l3 + 4, static_cast<uint16_t>(frame_len - l3 - 40));
    }
    Put32(d + l4 + 4, seq + k * mss);
    uint8_t flags = tcp_flags;
    if (k + 1 < nseg) flags &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    if (k > 0) flags &= static_cast<uint8_t>(~kTcpCwr);
    d[l4 + 13] = flags;
    // The field gets the pseudo-header sum, then the chain's checksum completes it.
    Put16(d + l4 + 16, FoldSum(PseudoHeaderSum(d, l3, v4, IPPROTO_TCP, frame_len - l4)));
    o->csum_start = static_cast<uint16_t>(l4);
    o->csum_offset = 16;
    CompleteChainChecksum(pool, o);
    o->offload_flags = 0;
    o->rx_interface = head->rx_interface;
    o->tx_interface = head->tx_interface;
    out[k] = o;
  }
  return nseg;
}

uint32_t FinishOffloads(BufferCache& cache, Buffer* b, Buffer** out) noexcept {
  if (b->gso_type != kGsoNone) {
    uint32_t nseg = SegmentTcp(cache, b, out, kMaxGsoSegments);
    cache.FreeOne(b);
    return nseg;
  }
  if (b->offload_flags & Buffer::kOffloadNeedsCsum) CompleteChainChecksum(cache.pool(), b);
  out[0] = b;
  return 1;
}

}  // namespace uplinkd::offload
