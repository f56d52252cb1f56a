// Tap receive: the fast path. The plain queue makes one readv per frame into pre-mapped buffers;
// both it and the io_uring queue (uring.cc) read into an RxStash. No allocation.
#include <endian.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "drivers/tap/tap_internal.h"

namespace uplinkd {
namespace {

// Copies what the host kernel left to do (checksum, segmentation) into the head buffer.
inline void ApplyVnetHeader(const VnetHeader& h, Buffer* head) {
  uint8_t flags = 0;
  if (h.flags & kVnetFlagNeedsCsum) {
    flags |= Buffer::kOffloadNeedsCsum;
    head->csum_start = le16toh(h.csum_start);  // from the frame start, which is data()
    head->csum_offset = le16toh(h.csum_offset);
  }
  if (h.flags & kVnetFlagDataValid) flags |= Buffer::kOffloadDataValid;
  head->offload_flags = flags;
  head->gso_type = h.gso_type;
  head->gso_size = h.gso_type != kGsoNone ? le16toh(h.gso_size) : 0;
}

}  // namespace

RxStash::RxStash(uint32_t segment_size)
    : segment_size_(segment_size), max_segments_(TapMaxSegments(segment_size)) {
  iov_[0] = {&header_, kVnetHeaderSize};
}

bool RxStash::Refill(BufferCache& cache) noexcept {
  if (count_ < max_segments_) {
    uint32_t got = cache.Alloc(bufs_ + count_, max_segments_ - count_);
    for (uint32_t i = count_; i < count_ + got; ++i) {
      iov_[1 + i] = {bufs_[i]->data(), segment_size_};
    }
    count_ += got;
  }
  return count_ > 0;
}

Buffer* RxStash::TakeFrame(size_t n, RxTally& tally) noexcept {
  if (n <= kVnetHeaderSize) {
    if (n < kVnetHeaderSize) ++tally.errors;
    return nullptr;
  }
  // tun returns the full frame length even when our iovec cut it short.
  uint32_t len = static_cast<uint32_t>(n - kVnetHeaderSize);
  if (len > count_ * segment_size_) {
    if (count_ < max_segments_) {
      ++tally.no_buffer;
    } else {
      ++tally.too_long;
    }
    return nullptr;  // the stash is untouched: its buffers serve the next frame
  }
  uint32_t segments = (len + segment_size_ - 1) / segment_size_;
  uint32_t left = len;
  for (uint32_t i = 0; i < segments; ++i) {
    Buffer* b = bufs_[i];
    b->length = static_cast<uint16_t>(left < segment_size_ ? left : segment_size_);
    left -= b->length;
    if (i + 1 < segments) {
      b->flags |= Buffer::kNextValid;
      b->next = bufs_[i + 1]->index;
    }
  }
  Buffer* head = bufs_[0];
  head->total_length = len;
  ApplyVnetHeader(header_, head);
  count_ -= segments;
  std::memmove(bufs_, bufs_ + segments, count_ * sizeof(bufs_[0]));
  std::memmove(iov_ + 1, iov_ + 1 + segments, count_ * sizeof(iov_[0]));
  return head;
}

void RxStash::Release(BufferPool& pool) noexcept {
  uint32_t indices[kTapMaxSegments];
  for (uint32_t i = 0; i < count_; ++i) indices[i] = bufs_[i]->index;
  pool.ReturnIndices(indices, count_);
  count_ = 0;
}

uint16_t TapPlainRxQueue::Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept {
  // Closed (workers should be gone, but a late poll must not refill a stash nobody returns).
  if (__builtin_expect(fd_ < 0, 0)) return 0;
  uint16_t received = 0;
  RxTally tally;
  // At most `max` reads, so bad frames cannot keep a worker here.
  for (uint16_t attempt = 0; attempt < max; ++attempt) {
    if (!stash_.Refill(cache)) {
      ++tally.no_buffer;  // the frame stays queued in the kernel until buffers come back
      break;
    }
    ssize_t n = readv(fd_, stash_.iov(), stash_.iovcnt());
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++tally.errors;
      break;
    }
    if (Buffer* head = stash_.TakeFrame(static_cast<size_t>(n), tally)) out[received++] = head;
  }
  tally.AddTo(counters);
  return received;
}

void TapPlainRxQueue::Close(BufferPool& pool) noexcept {
  stash_.Release(pool);
  fd_ = -1;
}

}  // namespace uplinkd
