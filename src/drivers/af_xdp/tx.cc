// af_xdp transmit path: reclaims completed buffers, completes partial checksums and segments GSO
// super-frames (nothing below us does), then puts each packet's own buffers on the
// TX ring (no copy: they are UMEM already) and kicks the kernel only when it asks (need_wakeup).
// Hot path: no allocation, logging, locks or exceptions.

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "drivers/af_xdp/af_xdp_internal.h"
#include "offload/checksum.h"
#include "offload/gso.h"

namespace uplinkd::af_xdp {
namespace {

constexpr uint32_t kCompleteBatch = 256;
// Copy mode sends at most 32 frames per sendto (the kernel's TX budget) and answers EAGAIN when
// more wait; a burst is pushed out with a few kicks, bounded so a stuck device cannot hold the
// worker. What is left leaves with the next Transmit.
constexpr uint32_t kMaxKicks = 16;

}  // namespace

AfXdpTxQueue::AfXdpTxQueue(BufferPool& pool, uint32_t tx_size, bool multi_buffer)
    : base_(pool.memory()),
      slot_size_(pool.slot_size()),
      tx_size_(tx_size),
      multi_buffer_(multi_buffer),
      pool_(pool),
      owned_(pool.total()) {}

void AfXdpTxQueue::Complete(BufferCache& cache) noexcept {
  // Bounded: the completion ring never holds more than the TX ring sent.
  for (uint32_t round = 0; round <= tx_size_ / kCompleteBatch; ++round) {
    uint32_t first = 0;
    uint32_t n = xsk_ring_cons__peek(&comp_, kCompleteBatch, &first);
    if (n == 0) return;
    Buffer* done[kCompleteBatch];
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t addr = *xsk_ring_cons__comp_addr(&comp_, first + i);
      auto index = static_cast<uint32_t>(addr / slot_size_);
      owned_.Give(index);
      Buffer* b = pool_.FromIndex(index);
      // Each segment of a chain completes on its own: free it alone.
      b->flags &= ~static_cast<uint32_t>(Buffer::kNextValid);
      done[i] = b;
    }
    xsk_ring_cons__release(&comp_, n);
    in_flight_ -= std::min(in_flight_, n);
    cache.Free(done, n);
  }
}

void AfXdpTxQueue::Kick() noexcept {
  for (uint32_t k = 0; k < kMaxKicks; ++k) {
    // Nothing waits on the ring (the kernel consumed everything), or it does not need us.
    if (xsk_prod_nb_free(&tx_, tx_size_) == tx_size_ || !xsk_ring_prod__needs_wakeup(&tx_)) {
      return;
    }
    counters.Add(counters.kicks, 1);
    if (sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) return;
    // EAGAIN: the kernel's budget ran out with frames left, kick again. ENOBUFS/EBUSY: no room
    // below us right now; ENETDOWN: the link is down. The frames stay queued for the next kick.
    if (errno == EAGAIN) continue;
    if (errno != ENOBUFS && errno != EBUSY && errno != ENETDOWN) {
      counters.Add(counters.errors, 1);
    }
    return;
  }
}

// Puts one frame (a chain when multi-buffer) on the TX ring; false when it cannot go (the caller
// drops it, counted here).
bool AfXdpTxQueue::Enqueue(Buffer* b, uint32_t* submitted) noexcept {
  uint32_t nseg = 1;
  for (const Buffer* s = b; s->has_next() && nseg <= kMaxSegments; ++nseg) {
    s = pool_.FromIndex(s->next);
  }
  if (nseg > 1 && (!multi_buffer_ || nseg > kMaxSegments)) {
    counters.Add(counters.drops_too_long, 1);
    return false;
  }
  uint32_t first = 0;
  if (xsk_ring_prod__reserve(&tx_, nseg, &first) != nseg) {
    counters.Add(counters.drops_ring_full, 1);
    return false;
  }
  Buffer* s = b;
  for (uint32_t j = 0; j < nseg; ++j) {
    xdp_desc* d = xsk_ring_prod__tx_desc(&tx_, first + j);
    d->addr = static_cast<uint64_t>(s->data() - base_);
    d->len = s->length;
    d->options = j + 1 < nseg ? XDP_PKT_CONTD : 0;
    owned_.Take(s->index);
    if (j + 1 < nseg) s = pool_.FromIndex(s->next);
  }
  *submitted += nseg;
  return true;
}

uint16_t AfXdpTxQueue::Transmit(BufferCache& cache, Buffer* const* pkts, uint16_t n) noexcept {
  if (fd_ < 0) {  // closed
    counters.Add(counters.errors, n);
    cache.Free(pkts, n);
    return 0;
  }
  Complete(cache);
  uint16_t queued = 0;
  uint32_t submitted = 0;
  Buffer* drop[256];
  uint32_t ndrop = 0;
  auto drop_one = [&](Buffer* b) {
    drop[ndrop++] = b;
    if (ndrop == 256) {
      cache.Free(drop, ndrop);
      ndrop = 0;
    }
  };
  for (uint16_t i = 0; i < n; ++i) {
    Buffer* b = pkts[i];
    bool plain = b->gso_type == offload::kGsoNone;
    if (plain && (b->offload_flags & Buffer::kOffloadNeedsCsum) == 0) {  // the common case
      if (Enqueue(b, &submitted)) {
        ++queued;
      } else {
        drop_one(b);
      }
      continue;
    }
    // No device below us finishes offloads: a partial checksum is completed here, and a GSO
    // super-frame (the host tap's TCP) leaves as MSS-sized frames.
    Buffer* frames[offload::kMaxGsoSegments];
    uint32_t nframes = offload::FinishOffloads(cache, b, frames);
    if (nframes == 0) {
      counters.Add(counters.drops_offload, 1);
      continue;
    }
    bool all = true;
    for (uint32_t k = 0; k < nframes; ++k) {
      if (!Enqueue(frames[k], &submitted)) {
        all = false;
        drop_one(frames[k]);
      }
    }
    // The engine counts a super-frame as one packet: sent when all its segments were.
    if (all) ++queued;
  }
  if (ndrop > 0) cache.Free(drop, ndrop);
  if (submitted > 0) {
    xsk_ring_prod__submit(&tx_, submitted);
    in_flight_ += submitted;
  }
  Kick();
  return queued;
}

}  // namespace uplinkd::af_xdp
