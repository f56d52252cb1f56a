// dpdk transmit path: offloads finished in software (the ports have none enabled), each Buffer
// chain described in its own mbuf header (the same memory), a burst handed to the PMD, and
// whatever it did not take freed and counted. The PMD frees what it sent through the mempool,
// whose ops give the buffers back to the engine's pool.
// Hot path: no allocation, logging, locks or exceptions.

#include "drivers/dpdk/dpdk_internal.h"
#include "offload/gso.h"

namespace uplinkd::dpdk {
namespace {

// Frames handed to the PMD at once; a GSO super-frame adds up to kMaxGsoSegments.
constexpr uint32_t kBatch = 256 + offload::kMaxGsoSegments;
// The PMD may take part of a burst (its ring is full); it is asked again this many times.
constexpr int kTxRetries = 4;

}  // namespace

bool DpdkTxQueue::ToMbuf(Buffer* b, rte_mbuf** out) noexcept {
  rte_mbuf* head = MbufOf(b);
  rte_mbuf* prev = nullptr;
  uint16_t nseg = 0;
  for (Buffer* s = b;; s = pool_.FromIndex(s->next)) {
    if (++nseg > max_segments_) return false;
    rte_mbuf* m = MbufOf(s);
    m->data_off = s->offset;
    m->data_len = s->length;
    m->next = nullptr;
    m->nb_segs = 1;
    m->ol_flags = 0;
    if (prev != nullptr) prev->next = m;
    prev = m;
    if (!s->has_next()) break;
  }
  head->nb_segs = nseg;
  head->pkt_len = b->total_length;
  head->port = port_;
  head->packet_type = 0;
  head->vlan_tci = 0;
  head->tx_offload = 0;
  *out = head;
  return true;
}

// Sends mbufs[0..n) (bufs[i] the Buffer of mbufs[i]); frees what the PMD did not take. Returns
// how many it took (a prefix).
uint16_t DpdkTxQueue::Send(BufferCache& cache, rte_mbuf** mbufs, Buffer** bufs,
                           uint16_t n) noexcept {
  uint16_t sent = 0;
  for (int attempt = 0; attempt < kTxRetries && sent < n; ++attempt) {
    sent += rte_eth_tx_burst(port_, queue_, mbufs + sent, n - sent);
  }
  if (sent < n) {
    counters.Add(counters.drops_ring_full, n - sent);
    cache.Free(bufs + sent, n - sent);
  }
  return sent;
}

uint16_t DpdkTxQueue::Transmit(BufferCache& cache, Buffer* const* pkts, uint16_t n) noexcept {
  if (stopped_) {
    counters.Add(counters.errors, n);
    cache.Free(pkts, n);
    return 0;
  }
  rte_mbuf* mbufs[kBatch];
  Buffer* bufs[kBatch];
  uint16_t origin[kBatch];  // which of pkts each frame came from
  uint32_t count = 0;
  uint16_t queued = 0;
  // A packet counts as sent when all of its frames were taken (the PMD takes a prefix).
  auto flush = [&] {
    uint16_t sent = Send(cache, mbufs, bufs, static_cast<uint16_t>(count));
    uint32_t first_failed = sent < count ? origin[sent] : UINT32_MAX;
    for (uint32_t k = 0; k < count; ++k) {
      if (origin[k] >= first_failed) break;
      if (k + 1 == count || origin[k + 1] != origin[k]) ++queued;
    }
    count = 0;
  };
  for (uint16_t i = 0; i < n; ++i) {
    if (count + offload::kMaxGsoSegments > kBatch) flush();
    Buffer* b = pkts[i];
    Buffer* frames[offload::kMaxGsoSegments];
    uint32_t nframes = 1;
    frames[0] = b;
    if (b->gso_type != offload::kGsoNone || (b->offload_flags & Buffer::kOffloadNeedsCsum)) {
      nframes = offload::FinishOffloads(cache, b, frames);
      if (nframes == 0) {
        counters.Add(counters.drops_offload, 1);
        continue;
      }
    }
    for (uint32_t k = 0; k < nframes; ++k) {
      if (!ToMbuf(frames[k], &mbufs[count])) {
        counters.Add(counters.drops_too_long, 1);
        cache.FreeOne(frames[k]);
        continue;
      }
      bufs[count] = frames[k];
      origin[count] = i;
      ++count;
    }
  }
  if (count > 0) flush();
  return queued;
}

}  // namespace uplinkd::dpdk
