// Tap transmit: the fast path. One writev per packet (header + every segment of the chain),
// after GRO coalescing when the tap was created with gro-coalesce.
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
  if (!gro_coalesce_) {
    uint16_t sent = Write(pool, pkts, nullptr, n);
    cache.Free(pkts, n);  // tun copied what it took; everything goes back, sent or not
    return sent;
  }
  uint16_t sent = 0;
  uint64_t merged = 0;
  for (uint16_t done = 0; done < n;) {
    const uint32_t left = static_cast<uint32_t>(n - done);
    const uint32_t chunk = left < offload::kMaxGroBurst ? left : offload::kMaxGroBurst;
    offload::GroStats stats;
    const uint32_t frames =
        offload::CoalesceTcp(pool, pkts + done, chunk, frames_, frame_packets_, &stats);
    sent = static_cast<uint16_t>(sent + Write(pool, frames_, frame_packets_, frames));
    // The merged packets' buffers are linked into the super-frames: freeing those frees them.
    cache.Free(frames_, frames);
    merged += stats.merged;
    done = static_cast<uint16_t>(done + chunk);
  }
  if (merged) counters.Add(counters.gro_merged, merged);
  return sent;
}

uint16_t TapTxQueue::Write(const BufferPool& pool, Buffer* const* frames, const uint16_t* packets,
                           uint32_t n) noexcept {
  uint16_t sent = 0;
  uint64_t ring_full = 0, too_long = 0, errors = 0, kicks = 0;
  iov_[0] = {&header_, kVnetHeaderSize};
  for (uint32_t i = 0; i < n; ++i) {
    Buffer* b = frames[i];
    const uint16_t count = packets != nullptr ? packets[i] : 1;
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
      too_long += count;
      continue;
    }
    ++kicks;
    if (writev(fd_, iov_, static_cast<int>(1 + segments)) >= 0) {
      sent = static_cast<uint16_t>(sent + count);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      ring_full += count;
    } else {
      errors += count;
    }
  }
  if (ring_full) counters.Add(counters.drops_ring_full, ring_full);
  if (too_long) counters.Add(counters.drops_too_long, too_long);
  if (errors) counters.Add(counters.errors, errors);
  if (kicks) counters.Add(counters.kicks, kicks);
  return sent;
}

}  // namespace uplinkd
