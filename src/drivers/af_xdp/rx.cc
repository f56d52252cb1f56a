// af_xdp receive path: takes frames off the RX ring (they are already engine buffers: the UMEM is
// the pool), chains multi-buffer pieces, and tops the fill ring up with fresh buffers.
// Hot path: no allocation, logging, locks or exceptions.

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>

#include "drivers/af_xdp/af_xdp_internal.h"

namespace uplinkd::af_xdp {
namespace {

// Fill ring entries added per batch; the ring is topped up only when this many are missing (or
// it ran empty), so the cost of a reserve/submit is shared by many buffers.
constexpr uint32_t kRefillBatch = 64;
// Descriptors looked at per Receive call, whatever `max` is (a frame takes up to kMaxSegments).
constexpr uint32_t kMaxPeek = 512;

}  // namespace

uint32_t Ownership::ReturnAll(BufferPool& pool) noexcept {
  uint32_t batch[256];
  uint32_t n = 0, total = 0;
  for (uint32_t i = 0; i < held_.size(); ++i) {
    if (held_[i] == 0) continue;
    held_[i] = 0;
    batch[n++] = i;
    if (n == 256) {
      pool.ReturnIndices(batch, n);
      total += n;
      n = 0;
    }
  }
  pool.ReturnIndices(batch, n);
  return total + n;
}

AfXdpRxQueue::AfXdpRxQueue(BufferPool& pool, uint16_t queue_id, uint32_t fill_size)
    : base_(pool.memory()),
      slot_size_(pool.slot_size()),
      data_area_offset_(pool.data_area_offset()),
      fill_size_(fill_size),
      pool_(pool),
      owned_(pool.total()),
      queue_id_(queue_id) {}

uint32_t AfXdpRxQueue::Refill(BufferCache& cache) noexcept {
  uint32_t added = 0;
  // Bounded: at most the ring's size in batches.
  for (uint32_t round = 0; round <= fill_size_ / kRefillBatch; ++round) {
    uint32_t free = xsk_prod_nb_free(&fill_, fill_size_);
    if (free == 0 || (free < kRefillBatch && free < fill_size_)) break;
    uint32_t want = std::min(free, kRefillBatch);
    Buffer* bufs[kRefillBatch];
    uint32_t got = cache.Alloc(bufs, want);
    if (got == 0) break;  // the pool is dry: the kernel counts what it drops for lack of buffers
    uint32_t idx = 0;
    // Cannot fail: `got` <= the free entries just counted, and only this queue produces.
    xsk_ring_prod__reserve(&fill_, got, &idx);
    for (uint32_t i = 0; i < got; ++i) {
      Buffer* b = bufs[i];
      owned_.Take(b->index);
      *xsk_ring_prod__fill_addr(&fill_, idx + i) =
          static_cast<uint64_t>(reinterpret_cast<uint8_t*>(b) - base_) + kBufferHeaderSize;  // data area
    }
    xsk_ring_prod__submit(&fill_, got);
    added += got;
    if (got < want) break;
  }
  return added;
}

uint16_t AfXdpRxQueue::Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept {
  if (fd_ < 0) return 0;
  uint32_t first = 0;
  uint32_t avail = xsk_ring_cons__peek(&rx_, kMaxPeek, &first);
  if (avail == 0 && busy_poll_) {
    // Nothing here yet: run the interface's NAPI now, in this thread (SO_PREFER_BUSY_POLL and
    // the socket's budget), then look again.
    (void)recvfrom(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    avail = xsk_ring_cons__peek(&rx_, kMaxPeek, &first);
  }
  uint16_t n = 0;
  uint32_t used = 0;  // descriptors of complete frames, released to the kernel
  Buffer* head = nullptr;
  Buffer* tail = nullptr;
  uint32_t total = 0;
  uint32_t i = 0;
  for (; i < avail; ++i) {
    if (head == nullptr && n == max) break;
    const xdp_desc* d = xsk_ring_cons__rx_desc(&rx_, first + i);
    uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);
    auto index = static_cast<uint32_t>(addr / slot_size_);
    Buffer* b = pool_.FromIndex(index);
    owned_.Give(index);
    b->offset = static_cast<uint16_t>(addr - static_cast<uint64_t>(index) * slot_size_ -
                                      data_area_offset_);
    b->length = static_cast<uint16_t>(d->len);
    b->flags = 0;
    b->next = kInvalidBufferIndex;
    total += d->len;
    if (head == nullptr) {
      head = b;
    } else {
      tail->flags |= Buffer::kNextValid;
      tail->next = index;
    }
    tail = b;
    if ((d->options & XDP_PKT_CONTD) == 0) {
      head->total_length = total;
      out[n++] = head;
      head = nullptr;
      total = 0;
      used = i + 1;
    }
  }
  if (head != nullptr) {
    // The rest of this frame is not on the ring yet: leave its pieces there for the next call.
    for (uint32_t j = used; j < i; ++j) {
      uint64_t addr = xsk_umem__add_offset_to_addr(xsk_ring_cons__rx_desc(&rx_, first + j)->addr);
      owned_.Take(static_cast<uint32_t>(addr / slot_size_));
    }
  }
  if (avail > used) xsk_ring_cons__cancel(&rx_, avail - used);
  if (used > 0) xsk_ring_cons__release(&rx_, used);

  Refill(cache);
  // need_wakeup: a zero-copy driver stops polling its queue when the fill ring ran dry and sets
  // the flag; a poll() on the socket wakes it. Copy mode never sets it.
  if (xsk_ring_prod__needs_wakeup(&fill_)) {
    pollfd pfd{fd_, POLLIN, 0};
    (void)poll(&pfd, 1, 0);
  }
  return n;
}

void AfXdpRxQueue::RefreshCounters() {
  if (fd_ < 0) return;
  xdp_statistics s{};
  socklen_t len = sizeof(s);
  if (getsockopt(fd_, SOL_XDP, XDP_STATISTICS, &s, &len) != 0) return;
  // Frames that found the fill ring empty were dropped for lack of a buffer; copy mode also
  // counts them in rx_dropped, so they are taken out of the kernel's other drops.
  uint64_t no_buffer = s.rx_fill_ring_empty_descs - last_stats_.rx_fill_ring_empty_descs;
  uint64_t dropped = s.rx_dropped - last_stats_.rx_dropped;
  dropped -= std::min(dropped, no_buffer);
  uint64_t kernel = dropped + (s.rx_ring_full - last_stats_.rx_ring_full) +
                    (s.rx_invalid_descs - last_stats_.rx_invalid_descs);
  if (no_buffer > 0) counters.Add(counters.drops_no_buffer, no_buffer);
  if (kernel > 0) counters.Add(counters.drops_kernel, kernel);
  uint64_t tx_invalid = s.tx_invalid_descs - last_stats_.tx_invalid_descs;
  if (tx_invalid > 0) counters.Add(counters.errors, tx_invalid);
  last_stats_ = s;
}

}  // namespace uplinkd::af_xdp
