#pragma once
// A burst of packets: a POD array and a count (BESS PacketBatch), passed between graph nodes.

#include <cstdint>

#include "buffer/buffer.h"

namespace uplinkd {

// Largest burst anywhere in the engine (VPP's frame size). Drivers may use less.
inline constexpr uint16_t kMaxBurst = 256;
// Default burst a worker asks a queue for.
inline constexpr uint16_t kDefaultBurst = 256;

struct PacketBatch {
  uint16_t count = 0;
  Buffer* pkts[kMaxBurst];

  void clear() { count = 0; }
  bool full() const { return count == kMaxBurst; }
  void push(Buffer* b) { pkts[count++] = b; }  // caller checks full(); no bounds check on purpose
};

}  // namespace uplinkd
