// The tap's io_uring path: rx reads kept in flight, tx writes batched per burst (uring.h).
#include "drivers/tap/uring.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.h"

namespace uplinkd {
namespace {

// user_data of the requests that are not reads or writes of a slot (UINT64_MAX is liburing's,
// for the timeouts of io_uring_wait_cqe_timeout on kernels without IORING_FEAT_EXT_ARG).
constexpr uint64_t kPollTag = UINT64_MAX - 1;
constexpr uint64_t kCancelTag = UINT64_MAX - 2;
constexpr uint64_t kProbeTag = UINT64_MAX - 3;

// Where the setup probe reads to. Static: should the probe outlive a failed setup, the kernel
// still writes into memory that stays valid, and nobody reads it.
uint8_t probe_sink[128];
iovec probe_iov = {probe_sink, sizeof(probe_sink)};

struct RingFlags {
  const char* name;
  unsigned flags;
};
// Most wanted first; the next is tried when the kernel says EINVAL (it lacks a flag).
constexpr RingFlags kRingFlags[] = {
    {"io_uring coop-taskrun",
     IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL},
    {"io_uring", 0},
};

// Cold. Returns the name of the flags the ring got.
Result<const char*> InitRing(io_uring* ring, unsigned entries) {
  int err = 0;
  for (const RingFlags& f : kRingFlags) {
    io_uring_params params{};
    params.flags = f.flags;
    err = io_uring_queue_init_params(entries, ring, &params);
    if (err == 0) {
      // SUBMIT_STABLE: iovecs need to live until the submit only; NODROP: no lost completion.
      if (!(params.features & IORING_FEAT_SUBMIT_STABLE) ||
          !(params.features & IORING_FEAT_NODROP)) {
        io_uring_queue_exit(ring);
        return Failure(ENOTSUP, "io_uring lacks SUBMIT_STABLE or NODROP (Linux < 5.5)");
      }
      return f.name;
    }
    if (err != -EINVAL) break;
  }
  return Failure(-err, "io_uring_setup: {}", std::strerror(-err));
}

// Hot. Runs the task work that completions wait for, when the kernel says there is some
// (COOP_TASKRUN rings only; the flag stays clear otherwise) and none is visible yet.
inline void RunPendingCompletions(io_uring* ring) noexcept {
  if (io_uring_cq_ready(ring) == 0 && (IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_TASKRUN)) {
    io_uring_get_events(ring);
  }
}

// Cold. Waits up to `ms` for one completion; false on timeout or error.
bool WaitCompletion(io_uring* ring, int ms) {
  __kernel_timespec ts{ms / 1000, (ms % 1000) * 1000000LL};
  io_uring_cqe* cqe = nullptr;
  return io_uring_wait_cqe_timeout(ring, &cqe, &ts) == 0;
}

using Clock = std::chrono::steady_clock;

}  // namespace

// ---- rx ----

TapUringRxQueue::TapUringRxQueue(int fd, uint32_t segment_size, uint32_t reads)
    : fd_(fd), reads_(reads) {
  for (uint32_t i = 0; i < reads_; ++i) stashes_.push_back(std::make_unique<RxStash>(segment_size));
}

Result<std::unique_ptr<TapUringRxQueue>> TapUringRxQueue::Create(int fd, uint32_t segment_size,
                                                                 uint32_t reads) {
  reads = std::clamp<uint32_t>(reads, 1, kTapUringMaxReads);
  std::unique_ptr<TapUringRxQueue> q(new TapUringRxQueue(fd, segment_size, reads));
  // Room for every read plus its cancel, the poll and theirs; the CQ is twice that.
  Result<const char*> flags = InitRing(&q->ring_, 2 * reads + 2);
  if (!flags.ok()) return flags.status();
  q->ring_ok_ = true;
  q->io_name_ = *flags;

  // The probe: a read of the (still down, so empty) tap must stay in flight.
  io_uring_sqe* sqe = io_uring_get_sqe(&q->ring_);
  io_uring_prep_readv(sqe, fd, &probe_iov, 1, 0);
  io_uring_sqe_set_data64(sqe, kProbeTag);
  q->probe_armed_ = true;
  int r = io_uring_submit(&q->ring_);
  if (r != 1) {
    int err = r < 0 ? -r : EIO;
    return Failure(err, "io_uring_enter: {}", std::strerror(err));
  }
  if (WaitCompletion(&q->ring_, 10)) {
    io_uring_cqe* cqe = nullptr;
    io_uring_peek_cqe(&q->ring_, &cqe);
    int res = cqe->res;
    q->Complete(cqe);
    io_uring_cqe_seen(&q->ring_, cqe);
    if (res == -EAGAIN) {
      return Failure(EAGAIN, "a read of the tap through io_uring ends with EAGAIN instead of "
                             "waiting for a frame (this kernel does not poll it)");
    }
    if (res < 0) return Failure(-res, "probe read of the tap: {}", std::strerror(-res));
    // A frame came already: reads work (and it is dropped, as one sent before the tap was up).
  }
  if (!q->Shutdown()) return Failure(ETIMEDOUT, "the probe read of the tap did not end");
  for (uint32_t i = 0; i < reads; ++i) q->idle_[i] = static_cast<uint16_t>(i);
  q->idle_count_ = reads;
  return q;
}

TapUringRxQueue::~TapUringRxQueue() {
  if (!ring_ok_) return;
  if (!Shutdown()) {
    // The kernel may still write into the stashes: leave them (and their buffers) be.
    for (uint32_t i = 0; i < reads_; ++i) {
      if (armed_[i]) (void)stashes_[i].release();
    }
  }
  io_uring_queue_exit(&ring_);
}

int TapUringRxQueue::Complete(const io_uring_cqe* cqe) noexcept {
  uint64_t tag = io_uring_cqe_get_data64(cqe);
  if (tag < reads_) {
    armed_[tag] = false;
    --in_flight_;
    idle_[idle_count_++] = static_cast<uint16_t>(tag);
    return static_cast<int>(tag);
  }
  if (tag == kPollTag) poll_armed_ = false;
  if (tag == kProbeTag) probe_armed_ = false;
  return -1;
}

uint16_t TapUringRxQueue::Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept {
  if (__builtin_expect(closed_, 0)) return 0;
  RunPendingCompletions(&ring_);
  RxTally tally;
  uint16_t received = 0;
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    if (received == max) break;
    ++seen;
    int slot = Complete(cqe);
    if (slot < 0) continue;
    int res = cqe->res;
    if (res < 0) {
      if (res != -EAGAIN && res != -EINTR && res != -ECANCELED) ++tally.errors;
      continue;
    }
    if (Buffer* b = stashes_[slot]->TakeFrame(static_cast<size_t>(res), tally)) {
      out[received++] = b;
    }
  }
  if (seen) io_uring_cq_advance(&ring_, seen);
  Arm(cache, tally);
  tally.AddTo(counters);
  return received;
}

void TapUringRxQueue::Arm(BufferCache& cache, RxTally& tally) noexcept {
  uint32_t still_idle = 0;
  bool starved = false;
  for (uint32_t i = 0; i < idle_count_; ++i) {
    uint16_t slot = idle_[i];
    RxStash& stash = *stashes_[slot];
    io_uring_sqe* sqe = stash.Refill(cache) ? io_uring_get_sqe(&ring_) : nullptr;
    if (sqe == nullptr) {  // no buffer (the SQ holds every read, so never for lack of room)
      idle_[still_idle++] = slot;
      starved = true;
      continue;
    }
    io_uring_prep_readv(sqe, fd_, stash.iov(), stash.iovcnt(), 0);
    io_uring_sqe_set_data64(sqe, slot);
    armed_[slot] = true;
    ++in_flight_;
  }
  idle_count_ = still_idle;
  if (starved) ++tally.no_buffer;  // frames wait in the kernel until buffers come back
  if (in_flight_ == 0 && !poll_armed_) {
    // No read could be armed: a poll still makes the ring fd wake the worker for a frame.
    if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) {
      io_uring_prep_poll_add(sqe, fd_, POLLIN);
      io_uring_sqe_set_data64(sqe, kPollTag);
      poll_armed_ = true;
    }
  }
  // Also retries what an earlier failed submit left in the SQ.
  if (io_uring_sq_ready(&ring_) > 0 && io_uring_submit(&ring_) < 0) ++tally.errors;
}

bool TapUringRxQueue::WaitIdle(int timeout_ms) noexcept {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      Complete(cqe);  // a frame that landed meanwhile is dropped with its stash
    }
    io_uring_cq_advance(&ring_, seen);
    if (in_flight_ == 0 && !poll_armed_ && !probe_armed_) return true;
    if (Clock::now() >= deadline) return false;
    WaitCompletion(&ring_, 50);
  }
}

bool TapUringRxQueue::Shutdown() noexcept {
  auto cancel = [&](uint64_t tag) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    if (sqe == nullptr) return;
    io_uring_prep_cancel64(sqe, tag, 0);
    io_uring_sqe_set_data64(sqe, kCancelTag);
  };
  for (uint32_t i = 0; i < reads_; ++i) {
    if (armed_[i]) cancel(i);
  }
  if (poll_armed_) cancel(kPollTag);
  if (probe_armed_) cancel(kProbeTag);
  io_uring_submit(&ring_);
  // A cancelled read ends in its submitter's task work: a live worker runs it at its next
  // syscall (it sleeps in epoll_wait at most a few ms), an exited one had it cancelled at exit.
  return WaitIdle(2000);
}

void TapUringRxQueue::Close(BufferPool& pool) noexcept {
  if (closed_) return;
  closed_ = true;
  if (!ring_ok_) return;
  bool idle = Shutdown();
  uint32_t leaked = 0;
  for (uint32_t i = 0; i < reads_; ++i) {
    if (armed_[i]) {
      (void)stashes_[i].release();  // the kernel may still write into it
      ++leaked;
    } else {
      stashes_[i]->Release(pool);
    }
  }
  if (!idle) {
    Logger("tap")->error("io_uring: {} read(s) did not end after cancel; their buffers are left "
                         "out of the pool", leaked);
  }
  io_uring_queue_exit(&ring_);
  ring_ok_ = false;
}

// ---- tx ----

UringTapWriter::~UringTapWriter() {
  if (ring_ok_) io_uring_queue_exit(&ring_);  // Close freed the frames, or leaves them be
}

Status UringTapWriter::Init() {
  Result<const char*> flags = InitRing(&ring_, kSlots);
  if (!flags.ok()) return flags.status();
  ring_ok_ = true;
  closed_ = false;
  for (uint32_t i = 0; i < kSlots; ++i) free_[i] = static_cast<uint16_t>(kSlots - 1 - i);
  free_count_ = kSlots;
  return Status::Ok();
}

void UringTapWriter::WriteFrame(BufferCache& cache, Buffer* b, uint16_t packets,
                                TxTally& tally) noexcept {
  constexpr uint32_t kFrameIovecs = kTapMaxSegments + 1;  // the most one frame may need
  if (free_count_ == 0 || kScratchIovecs - scratch_used_ < kFrameIovecs) {
    Submit(tally);
    Reap(cache, tally);
    if (free_count_ == 0 || kScratchIovecs - scratch_used_ < kFrameIovecs) {
      tally.ring_full += packets;
      cache.FreeOne(b);
      return;
    }
  }
  uint16_t slot = free_[free_count_ - 1];
  Slot& s = slots_[slot];
  iovec* iov = scratch_ + scratch_used_;
  int iovcnt = MapFrame(cache.pool(), b, &s.header, iov);
  io_uring_sqe* sqe = iovcnt > 0 ? io_uring_get_sqe(&ring_) : nullptr;
  if (sqe == nullptr) {  // too long (the SQ has a place for every slot)
    tally.too_long += packets;
    cache.FreeOne(b);
    return;
  }
  --free_count_;
  io_uring_prep_writev(sqe, fd_, iov, static_cast<unsigned>(iovcnt), 0);
  io_uring_sqe_set_data64(sqe, slot);
  s.chain = b;
  s.burst = burst_;
  s.packets = packets;
  scratch_used_ += static_cast<uint32_t>(iovcnt);
  ++pending_;
  // Taken back if its write fails before the burst ends.
  tally.sent = static_cast<uint16_t>(tally.sent + packets);
}

void UringTapWriter::Submit(TxTally& tally) noexcept {
  if (pending_ == 0) return;
  ++tally.kicks;
  int r = io_uring_submit(&ring_);
  if (r < 0) {
    ++tally.errors;  // the SQEs stay queued (and their iovecs kept) for the next submit
    return;
  }
  uint32_t done = std::min(static_cast<uint32_t>(r), pending_);
  in_flight_ += done;
  pending_ -= done;
  if (pending_ == 0) scratch_used_ = 0;
}

void UringTapWriter::Reap(BufferCache& cache, TxTally& tally) noexcept {
  RunPendingCompletions(&ring_);
  Buffer* done[kSlots];
  uint32_t n = 0;
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    if (tag >= kSlots) continue;
    Slot& s = slots_[tag];
    if (cqe->res < 0) {
      if (cqe->res == -EAGAIN || cqe->res == -ENOBUFS) {
        tally.ring_full += s.packets;
      } else {
        tally.errors += s.packets;
      }
      if (s.burst == burst_) {
        tally.sent = static_cast<uint16_t>(tally.sent > s.packets ? tally.sent - s.packets : 0);
      }
    }
    done[n++] = s.chain;
    free_[free_count_++] = static_cast<uint16_t>(tag);
    --in_flight_;
  }
  if (seen) io_uring_cq_advance(&ring_, seen);
  if (n) cache.Free(done, n);
}

void UringTapWriter::Flush(BufferCache& cache, TxTally& tally) noexcept {
  Submit(tally);
  Reap(cache, tally);
  ++burst_;
}

void UringTapWriter::Close(BufferPool& pool) noexcept {
  if (closed_) return;
  closed_ = true;
  if (!ring_ok_) return;
  BufferCache cache(pool);  // returns what it frees to the pool when it goes
  TxTally ignored;
  Submit(ignored);
  auto deadline = Clock::now() + std::chrono::milliseconds(2000);
  Reap(cache, ignored);
  while (in_flight_ > 0 && Clock::now() < deadline) {
    WaitCompletion(&ring_, 50);
    Reap(cache, ignored);
  }
  if (in_flight_ + pending_ > 0) {
    Logger("tap")->error("io_uring: {} write(s) did not end; their buffers are left out of the "
                         "pool", in_flight_ + pending_);
  }
  io_uring_queue_exit(&ring_);
  ring_ok_ = false;
}

}  // namespace uplinkd
