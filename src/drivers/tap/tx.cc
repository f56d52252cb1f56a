// Tap transmit: the fast path. One writev per packet (header + every segment of the chain).
#include <endian.h>
#include <sys/uio.h>

#include <cerrno>

#include "drivers/tap/tap_internal.h"

namespace uplinkd {
namespace {

// hdr_len is only a hint to tun (it copies that much into the linear part and fixes a short
// value itself), so the best guess from the first segment is enough.
inline uint16_t GuessHeaderLength(const Buffer* b) {
  uint32_t l4 = b->csum_start;
  switch (b->gso_type & ~kGsoEcn) {
    case kGsoTcpV4:
    case kGsoTcpV6:
      if (l4 + 13 <= b->length) return static_cast<uint16_t>(l4 + (b->data()[l4 + 12] >> 4) * 4);
      break;
    case kGsoUdp:
    case kGsoUdpL4:
      return static_cast<uint16_t>(l4 + 8);
    default:
      break;
  }
  return static_cast<uint16_t>(l4 + b->csum_offset + 2);
}

inline void BuildVnetHeader(const Buffer* b, VnetHeader* h) {
  h->flags = 0;
  h->gso_type = b->gso_type;
  h->hdr_len = 0;
  h->gso_size = 0;
  h->csum_start = 0;
  h->csum_offset = 0;
  if (b->offload_flags & Buffer::kOffloadNeedsCsum) {
    h->flags = kVnetFlagNeedsCsum;
    h->csum_start = htole16(b->csum_start);
    h->csum_offset = htole16(b->csum_offset);
  } else if (b->offload_flags & Buffer::kOffloadDataValid) {
    h->flags = kVnetFlagDataValid;
  }
  if (b->gso_type != kGsoNone) {
    h->gso_size = htole16(b->gso_size);
    h->hdr_len = htole16(GuessHeaderLength(b));
  }
}

}  // namespace

uint16_t TapTxQueue::Transmit(BufferCache& cache, Buffer* const* pkts, uint16_t n) noexcept {
  const BufferPool& pool = cache.pool();
  uint16_t sent = 0;
  uint64_t ring_full = 0, too_long = 0, errors = 0, kicks = 0;
  iov_[0] = {&header_, kVnetHeaderSize};
  for (uint16_t i = 0; i < n; ++i) {
    Buffer* b = pkts[i];
    BuildVnetHeader(b, &header_);
    uint32_t segments = 0;
    bool fits = true;
    for (Buffer* seg = b;; seg = pool.FromIndex(seg->next)) {
      if (segments == kTapMaxSegments) {
        fits = false;
        break;
      }
      iov_[1 + segments++] = {seg->data(), seg->length};
      if (!seg->has_next()) break;
    }
    if (!fits) {
      ++too_long;
      continue;
    }
    ++kicks;
    if (writev(fd_, iov_, static_cast<int>(1 + segments)) >= 0) {
      ++sent;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      ++ring_full;
    } else {
      ++errors;
    }
  }
  cache.Free(pkts, n);  // tun copied what it took; everything goes back, sent or not
  if (ring_full) counters.Add(counters.drops_ring_full, ring_full);
  if (too_long) counters.Add(counters.drops_too_long, too_long);
  if (errors) counters.Add(counters.errors, errors);
  if (kicks) counters.Add(counters.kicks, kicks);
  return sent;
}

}  // namespace uplinkd
