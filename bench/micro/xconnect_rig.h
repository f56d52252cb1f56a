#pragma once
// The engine forwarding rig shared by the micro-benchmark and the callgrind counter: an l2
// xconnect mem0 -> mem1 between two in-memory (mem driver) interfaces on one forwarding thread.
// mem1 is a tx_sink: it frees what it transmits, as a real tx queue frees buffers once sent.

#include <cstdint>
#include <memory>
#include <utility>

#include "buffer/packet_batch.h"
#include "drivers/mem/mem.h"
#include "graph/engine.h"

namespace uplinkd::bench {

inline constexpr uint32_t kFramesPerRound = 16384;
static_assert(kFramesPerRound >= 16 * kMaxBurst, "a round must be many bursts to be timed");
inline constexpr uint32_t kRingSize = 16384;  // mem0's rx ring holds a whole round

struct XconnectRig {
  std::unique_ptr<Engine> engine;
  MemDriver* in = nullptr;   // mem0: frames are queued on its rx ring
  MemDriver* out = nullptr;  // mem1: frees what it transmits and counts it (sunk)
  uint32_t in_if = 0;
  uint32_t out_if = 0;
};

// A started engine with mem0 xconnected to mem1; mem1 up, mem0 still down.
inline Result<XconnectRig> MakeXconnectRig(uint16_t burst) {
  XconnectRig rig;
  EngineConfig config;
  // A round in flight, plus the worker's and the benchmark's caches, with room to spare. Plain
  // memory: results should not depend on whether this host has free hugepages.
  config.buffers = {.buffers = kFramesPerRound + 4 * BufferCache::kCapacity,
                    .data_size = 2048,
                    .allow_hugepages = false};
  config.workers = 0;  // one forwarding thread
  config.burst = burst;
  auto engine = Engine::Create(config);
  if (!engine.ok()) return engine.status();
  rig.engine = std::move(engine).value();

  MemArgs in_args;
  in_args.name = "mem0";
  in_args.ring_size = kRingSize;
  auto in_driver = std::make_unique<MemDriver>(in_args);
  rig.in = in_driver.get();
  MemArgs out_args;
  out_args.name = "mem1";
  out_args.ring_size = kRingSize;
  out_args.tx_sink = true;
  out_args.mac = {0x02, 0xfe, 0, 0, 0, 2};
  auto out_driver = std::make_unique<MemDriver>(out_args);
  rig.out = out_driver.get();

  // mem0 is polled, as a busy interface is. mem1 receives nothing: in interrupt mode its queue
  // sleeps on its eventfd instead of costing the worker a read() on every loop.
  auto in_if = rig.engine->AddInterface("mem0", std::move(in_driver), RxMode::kPolling);
  if (!in_if.ok()) return in_if.status();
  auto out_if = rig.engine->AddInterface("mem1", std::move(out_driver), RxMode::kInterrupt);
  if (!out_if.ok()) return out_if.status();
  rig.in_if = *in_if;
  rig.out_if = *out_if;
  UPLINKD_RETURN_IF_ERROR(rig.engine->SetXconnect(rig.in_if, rig.out_if));
  UPLINKD_RETURN_IF_ERROR(rig.engine->SetAdminUp(rig.out_if, true));
  UPLINKD_RETURN_IF_ERROR(rig.engine->Start());
  return rig;
}

}  // namespace uplinkd::bench
