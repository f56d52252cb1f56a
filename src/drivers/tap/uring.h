#pragma once
// The tap's io_uring path (liburing; built with UPLINKD_WITH_URING). Each queue has a ring of
// its own: a tx and an rx queue of one fd may belong to different workers.
//
// rx: `reads` readv requests stay in flight, each into a stash big enough for the largest frame.
// Receive reaps completions from the shared CQ ring without a syscall when they are there, and
// re-arms the reads it consumed with one io_uring_enter. The ring fd is the interrupt fd: it
// polls readable when completions wait, so the worker's epoll works as with the tun fd.
// tx: one writev SQE per frame; a burst is one io_uring_enter. A frame's buffers are freed when
// its write completed (tun completes writes inline, so normally before Transmit returns).
//
// Setup flags: COOP_TASKRUN + TASKRUN_FLAG (5.19+): a completion that needs the submitting
// worker's task work does not interrupt it (an IPI, which costs a VM exit here); it runs at the
// worker's next syscall, and the TASKRUN flag tells Receive when to make one. Older kernels get
// plain flags (the completion then interrupts the worker). Not used:
// - SINGLE_ISSUER / DEFER_TASKRUN: a queue moves between workers (rx placement), a tx queue may
//   be shared by workers under a lock, and the ring is made by the control thread; with
//   DEFER_TASKRUN, moreover, no completion is visible without a syscall, which is what the ring
//   is here to save.
// - SQPOLL: a kernel thread spinning on a 2-core machine.

#include <liburing.h>

#include <memory>
#include <vector>

#include "common/status.h"
#include "drivers/tap/tap_internal.h"

namespace uplinkd {

inline constexpr uint32_t kTapUringMaxReads = 32;
inline constexpr uint32_t kTapUringDefaultReads = 16;

class alignas(64) TapUringRxQueue final : public TapRxQueue {
 public:
  // Cold. Makes the ring and checks that a read on `fd` waits for a frame rather than failing
  // with EAGAIN (some kernels do for O_NONBLOCK files). Call before the tap is up: a frame that
  // arrives meanwhile is lost. No read is armed yet: the first Receive arms them, from the
  // worker's thread (their completions run there).
  static Result<std::unique_ptr<TapUringRxQueue>> Create(int fd, uint32_t segment_size,
                                                         uint32_t reads);
  ~TapUringRxQueue() override;

  uint16_t Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept override;
  // Readable once a Receive armed reads and one of them completed.
  int interrupt_fd() const override { return closed_ ? -1 : ring_.ring_fd; }
  void Close(BufferPool& pool) noexcept override;
  const char* io_name() const override { return io_name_; }
  uint32_t reads_in_flight() const { return in_flight_; }

 private:
  TapUringRxQueue(int fd, uint32_t segment_size, uint32_t reads);
  // Refills and arms every idle read; arms a poll when no read could be (no buffers), so that a
  // frame still wakes the worker. One io_uring_enter for all.
  void Arm(BufferCache& cache, RxTally& tally) noexcept;
  // Cold: waits (up to a deadline) until no read, poll or probe is in flight.
  bool WaitIdle(int timeout_ms) noexcept;
  // Cold: cancels whatever is in flight and waits for it; false when something did not end.
  bool Shutdown() noexcept;
  // Notes one completion; returns the read slot it ends, or -1.
  int Complete(const io_uring_cqe* cqe) noexcept;

  io_uring ring_{};
  const int fd_;
  const uint32_t reads_;
  uint32_t in_flight_ = 0;
  uint32_t idle_count_ = 0;
  bool poll_armed_ = false;
  bool probe_armed_ = false;
  bool closed_ = false;
  bool ring_ok_ = false;
  uint16_t idle_[kTapUringMaxReads];  // slots not in flight
  bool armed_[kTapUringMaxReads] = {};
  std::vector<std::unique_ptr<RxStash>> stashes_;  // one per read
  const char* io_name_ = "io_uring";
};

// The io_uring writer of a TapTxQueue (tap_internal.h). Up to kSlots writes in flight; the
// iovecs of a burst live in a scratch array until the submit (the kernel copies them then,
// IORING_FEAT_SUBMIT_STABLE); the vnet headers and buffers stay until the write completed.
class UringTapWriter {
 public:
  static constexpr uint32_t kSlots = 64;
  static constexpr uint32_t kScratchIovecs = 1024;

  explicit UringTapWriter(int fd) : fd_(fd) {}
  ~UringTapWriter();
  UringTapWriter(const UringTapWriter&) = delete;
  UringTapWriter& operator=(const UringTapWriter&) = delete;
  // Cold: makes the ring.
  Status Init();

  bool open() const { return !closed_; }
  void WriteFrame(BufferCache& cache, Buffer* b, uint16_t packets, TxTally& tally) noexcept;
  void Flush(BufferCache& cache, TxTally& tally) noexcept;
  void Close(BufferPool& pool) noexcept;
  uint32_t writes_in_flight() const { return in_flight_ + pending_; }

 private:
  struct Slot {
    VnetHeader header;
    Buffer* chain;
    uint32_t burst;  // the Flush count when it was queued: a failure in this burst is unsent
    uint16_t packets;  // the caller's packets the frame carries (gro-coalesce: several)
  };
  void Submit(TxTally& tally) noexcept;
  // Frees the frames whose write completed; counts the failed ones.
  void Reap(BufferCache& cache, TxTally& tally) noexcept;

  io_uring ring_{};
  const int fd_;
  uint32_t burst_ = 0;
  uint32_t pending_ = 0;    // prepared, not submitted
  uint32_t in_flight_ = 0;  // submitted, not completed
  uint32_t scratch_used_ = 0;
  uint32_t free_count_ = 0;
  bool closed_ = true;  // until Init
  bool ring_ok_ = false;
  uint16_t free_[kSlots];
  Slot slots_[kSlots];
  iovec scratch_[kScratchIovecs];
};

using TapUringTxQueue = TapTxQueue<UringTapWriter>;

}  // namespace uplinkd
