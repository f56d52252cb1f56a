// Tap receive: the fast path. One readv per frame into pre-mapped buffers; no allocation.
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

TapRxQueue::TapRxQueue(int fd, uint32_t segment_size)
    : fd_(fd),
      segment_size_(segment_size),
      max_segments_((kTapMaxFrame + segment_size - 1) / segment_size) {
  iov_[0] = {&header_, kVnetHeaderSize};
}

uint16_t TapRxQueue::Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept {
  // Closed (workers should be gone, but a late poll must not refill a stash nobody returns).
  if (__builtin_expect(fd_ < 0, 0)) return 0;
  uint16_t received = 0;
  uint64_t no_buffer = 0, too_long = 0, errors = 0;
  // At most `max` reads, so bad frames cannot keep a worker here.
  for (uint16_t attempt = 0; attempt < max; ++attempt) {
    if (stash_count_ < max_segments_) {
      uint32_t got = cache.Alloc(stash_ + stash_count_, max_segments_ - stash_count_);
      for (uint32_t i = stash_count_; i < stash_count_ + got; ++i) {
        iov_[1 + i] = {stash_[i]->data(), segment_size_};
      }
      stash_count_ += got;
      if (stash_count_ == 0) {
        ++no_buffer;  // the frame stays queued in the kernel until buffers come back
        break;
      }
    }
    ssize_t n = readv(fd_, iov_, static_cast<int>(1 + stash_count_));
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++errors;
      break;
    }
    if (static_cast<size_t>(n) <= kVnetHeaderSize) {
      if (static_cast<size_t>(n) < kVnetHeaderSize) ++errors;
      continue;
    }
    // tun returns the full frame length even when our iovec cut it short.
    uint32_t len = static_cast<uint32_t>(n) - kVnetHeaderSize;
    if (len > stash_count_ * segment_size_) {
      if (stash_count_ < max_segments_) {
        ++no_buffer;
      } else {
        ++too_long;
      }
      continue;  // the stash is untouched: its buffers serve the next frame
    }
    uint32_t segments = (len + segment_size_ - 1) / segment_size_;
    uint32_t left = len;
    for (uint32_t i = 0; i < segments; ++i) {
      Buffer* b = stash_[i];
      b->length = static_cast<uint16_t>(left < segment_size_ ? left : segment_size_);
      left -= b->length;
      if (i + 1 < segments) {
        b->flags |= Buffer::kNextValid;
        b->next = stash_[i + 1]->index;
      }
    }
    Buffer* head = stash_[0];
    head->total_length = len;
    ApplyVnetHeader(header_, head);
    out[received++] = head;
    stash_count_ -= segments;
    std::memmove(stash_, stash_ + segments, stash_count_ * sizeof(stash_[0]));
    std::memmove(iov_ + 1, iov_ + 1 + segments, stash_count_ * sizeof(iov_[0]));
  }
  if (no_buffer) counters.Add(counters.drops_no_buffer, no_buffer);
  if (too_long) counters.Add(counters.drops_too_long, too_long);
  if (errors) counters.Add(counters.errors, errors);
  return received;
}

void TapRxQueue::ReleaseBuffers(BufferPool& pool) noexcept {
  uint32_t indices[kTapMaxSegments];
  for (uint32_t i = 0; i < stash_count_; ++i) indices[i] = stash_[i]->index;
  pool.ReturnIndices(indices, stash_count_);
  stash_count_ = 0;
}

}  // namespace uplinkd
