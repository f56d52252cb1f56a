// dpdk receive path: a burst from the PMD; each mbuf (chain) is already an engine Buffer (chain)
// in the same memory, so only the Buffer header fields are filled from the mbuf's.
// Hot path: no allocation, logging, locks or exceptions.

#include "drivers/dpdk/dpdk_internal.h"

namespace uplinkd::dpdk {

uint16_t DpdkRxQueue::Receive(BufferCache& /*cache*/, Buffer** out, uint16_t max) noexcept {
  if (stopped_) return 0;
  // The mbuf pointers are written where the Buffer pointers go, then replaced one by one.
  auto** mbufs = reinterpret_cast<rte_mbuf**>(out);
  uint16_t n = rte_eth_rx_burst(port_, queue_, mbufs, max);
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = mbufs[i];
    Buffer* head = BufferOf(m);
    ResetBuffer(head);
    head->offset = m->data_off;
    head->length = m->data_len;
    head->total_length = m->pkt_len;
    if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
      head->offload_flags = Buffer::kOffloadDataValid;
    }
    Buffer* tail = head;
    for (rte_mbuf* s = m->next; s != nullptr; s = s->next) {
      Buffer* seg = BufferOf(s);
      ResetBuffer(seg);
      seg->offset = s->data_off;
      seg->length = s->data_len;
      tail->flags |= Buffer::kNextValid;
      tail->next = seg->index;
      tail = seg;
    }
    out[i] = head;
  }
  return n;
}

void DpdkRxQueue::RefreshCounters() {
  if (stopped_ || queue_ != 0) return;
  rte_eth_stats s{};
  if (rte_eth_stats_get(port_, &s) != 0) return;
  // imissed: the device's rx ring was full (rx-miss); rx_nombuf: no mbuf to refill it.
  if (s.imissed >= last_imissed_) counters.Add(counters.drops_kernel, s.imissed - last_imissed_);
  if (s.rx_nombuf >= last_nombuf_) counters.Add(counters.drops_no_buffer, s.rx_nombuf - last_nombuf_);
  if (s.ierrors >= last_ierrors_) counters.Add(counters.errors, s.ierrors - last_ierrors_);
  last_imissed_ = s.imissed;
  last_nombuf_ = s.rx_nombuf;
  last_ierrors_ = s.ierrors;
}

}  // namespace uplinkd::dpdk
