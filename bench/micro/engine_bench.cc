// Engine forwarding: an l2 xconnect mem0 -> mem1 between two in-memory (mem driver) interfaces,
// on the engine's one forwarding thread, everything the worker does per burst included (rx
// queue, counters, xconnect, tx queue, freeing the sent buffers).
//
// How it is timed: MemDriver::Inject costs an eventfd write() per frame, far more than the
// engine spends forwarding one, so feeding frames while the engine runs would measure the
// feeding. Instead each round queues kFramesPerRound frames on mem0 while it is admin down
// (the worker skips it), brings it up, and times the worker draining the ring: manual time, from
// the moment the first burst has left mem1 to the moment the last has. Only the frames that left
// inside that window are counted, so the barrier that brings mem0 up is not timed. mem1 is a
// tx_sink: it frees what it transmits, as a real tx queue frees buffers once sent.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "bench/micro/frames.h"
#include "bench/micro/xconnect_rig.h"
#include "buffer/packet_batch.h"
#include "common/log.h"
#include "drivers/mem/mem.h"
#include "graph/engine.h"

namespace uplinkd::bench {
namespace {

using std::chrono::steady_clock;

constexpr size_t kFrameLen = 64;
constexpr auto kRoundDeadline = std::chrono::seconds(5);

// Arg: the burst the worker asks mem0's rx queue for (EngineConfig::burst).
void BM_EngineXconnect(benchmark::State& state) {
  SetLogLevel("warn");  // the engine logs every interface added at info
  auto made = MakeXconnectRig(static_cast<uint16_t>(state.range(0)));
  if (!made.ok()) {
    state.SkipWithError(made.status().message().c_str());
    return;
  }
  XconnectRig& rig = made.value();
  Engine& engine = *rig.engine;
  const Frame frame = MakeUdp4Frame(kFrameLen);

  uint64_t queued = 0;      // frames queued on mem0 so far
  int64_t timed_frames = 0;  // frames that left mem1 inside the timed windows
  {
    BufferCache cache(engine.pool());
    for (auto _ : state) {
      // Untimed (manual time): queue a round behind the engine's back.
      Status status = engine.SetAdminUp(rig.in_if, false);
      bool queued_all = status.ok();
      for (uint32_t i = 0; i < kFramesPerRound && queued_all; ++i) {
        Buffer* b = cache.AllocOne();
        if (b == nullptr) {
          queued_all = false;
          break;
        }
        std::memcpy(b->data(), frame.bytes.data(), kFrameLen);
        b->length = kFrameLen;
        b->total_length = kFrameLen;
        if (!rig.in->Inject(0, b)) {
          cache.FreeOne(b);
          queued_all = false;
        } else {
          ++queued;
        }
      }
      if (queued_all) status = engine.SetAdminUp(rig.in_if, true);
      if (!queued_all || !status.ok()) {
        state.SkipWithError("could not queue a round of frames on mem0");
        break;
      }

      // Timed: from the first burst out of mem1 to the last.
      const auto deadline = steady_clock::now() + kRoundDeadline;
      const uint64_t before = queued - kFramesPerRound;
      uint64_t sunk = before;
      while ((sunk = rig.out->sunk(0)) == before && steady_clock::now() < deadline) {
      }
      const auto window_start = steady_clock::now();
      const uint64_t first_seen = sunk;
      while ((sunk = rig.out->sunk(0)) < queued && steady_clock::now() < deadline) {
      }
      const auto window_end = steady_clock::now();
      if (sunk != queued) {
        state.SkipWithError("the engine did not forward a whole round within 5 s");
        break;
      }
      state.SetIterationTime(std::chrono::duration<double>(window_end - window_start).count());
      timed_frames += static_cast<int64_t>(queued - first_seen);
    }
  }

  // Stopped, the worker has written its last counters and given its cache back.
  engine.Stop();
  auto in_view = engine.GetInterface(rig.in_if);
  auto out_view = engine.GetInterface(rig.out_if);
  if (!in_view.ok() || !out_view.ok() || in_view->stats.rx_packets != queued ||
      out_view->stats.tx_packets != queued || in_view->stats.drops != 0 ||
      rig.out->sunk(0) != queued) {
    state.SkipWithError("engine counters disagree with the frames queued");
  } else if (engine.pool().available() != engine.pool().total()) {
    state.SkipWithError("buffers leaked: the pool does not account for every buffer");
  }
  state.SetItemsProcessed(timed_frames);
  state.counters["frames_per_round"] = kFramesPerRound;
}
BENCHMARK(BM_EngineXconnect)->Arg(32)->Arg(256)->UseManualTime();

}  // namespace
}  // namespace uplinkd::bench
