// Tap transmit: the fast path. Each packet (a chain) is one frame: a vnet header and every
// segment, written by one writev (PlainTapWriter) or one io_uring writev (uring.cc). With
// gro-coalesce, a burst's TCP segments are first merged into GSO super-frames.
#include <endian.h>
#include <sys/uio.h>

#include <cerrno>

#include "drivers/tap/tap_internal.h"
#ifdef UPLINKD_WITH_URING
#include "drivers/tap/uring.h"
#endif

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

int MapFrame(const BufferPool& pool, Buffer* b, VnetHeader* header, iovec* iov) noexcept {
  BuildVnetHeader(b, header);
  iov[0] = {header, kVnetHeaderSize};
  uint32_t segments = 0;
  for (Buffer* seg = b;; seg = pool.FromIndex(seg->next)) {
    if (segments == kTapMaxSegments) return 0;
    iov[1 + segments++] = {seg->data(), seg->length};
    if (!seg->has_next()) break;
  }
  return static_cast<int>(1 + segments);
}

void PlainTapWriter::WriteFrame(BufferCache& cache, Buffer* b, uint16_t packets,
                                TxTally& tally) noexcept {
  int iovcnt = MapFrame(cache.pool(), b, &header_, iov_);
  if (iovcnt == 0) {
    tally.too_long += packets;
  } else {
    ++tally.kicks;
    if (writev(fd_, iov_, iovcnt) >= 0) {
      tally.sent = static_cast<uint16_t>(tally.sent + packets);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      tally.ring_full += packets;
    } else {
      tally.errors += packets;
    }
  }
  cache.FreeOne(b);  // tun copied what it took; everything goes back, sent or not
}

template <class Writer>
uint16_t TapTxQueue<Writer>::Transmit(BufferCache& cache, Buffer* const* pkts,
                                      uint16_t n) noexcept {
  TxTally tally;
  if (__builtin_expect(!writer_.open(), 0)) {  // closed: fail softly, touch no fd
    cache.Free(pkts, n);
    tally.errors = n;
  } else {
    if (!gro_coalesce_) {
      for (uint16_t i = 0; i < n; ++i) writer_.WriteFrame(cache, pkts[i], 1, tally);
    } else {
      uint64_t merged = 0;
      for (uint16_t done = 0; done < n;) {
        const uint32_t left = static_cast<uint32_t>(n - done);
        const uint32_t chunk = left < offload::kMaxGroBurst ? left : offload::kMaxGroBurst;
        offload::GroStats stats;
        // The merged packets' buffers are linked into the super-frames: each frame written (and
        // freed) carries them.
        const uint32_t frames = offload::CoalesceTcp(cache.pool(), pkts + done, chunk, frames_,
                                                     frame_packets_, &stats);
        for (uint32_t i = 0; i < frames; ++i) {
          writer_.WriteFrame(cache, frames_[i], frame_packets_[i], tally);
        }
        merged += stats.merged;
        done = static_cast<uint16_t>(done + chunk);
      }
      if (merged) counters.Add(counters.gro_merged, merged);
    }
    writer_.Flush(cache, tally);
  }
  tally.AddTo(counters);
  return tally.sent;
}

template class TapTxQueue<PlainTapWriter>;
#ifdef UPLINKD_WITH_URING
template class TapTxQueue<UringTapWriter>;
#endif

}  // namespace uplinkd
