// uplinkd_xconnect_count N: forwards exactly N 64-byte frames through the engine (l2 xconnect
// between two mem interfaces, bench/micro/xconnect_rig.h) and exits; 0 when every frame came
// out and the pool accounts for every buffer. Made to run under
// `valgrind --tool=callgrind --toggle-collect=...ProcessQueue...` (bench/callgrind.sh): the
// instructions the worker spends per forwarded frame, a figure that does not drift from run to
// run the way time does. The main thread sleeps while the worker drains, so it adds nothing.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench/micro/frames.h"
#include "bench/micro/xconnect_rig.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace uplinkd;
  using namespace uplinkd::bench;
  const uint64_t total = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  SetLogLevel("warn");
  auto made = MakeXconnectRig(256);
  if (!made.ok()) {
    std::fprintf(stderr, "xconnect_count: %s\n", made.status().message().c_str());
    return 1;
  }
  XconnectRig& rig = made.value();
  Engine& engine = *rig.engine;
  const Frame frame = MakeUdp4Frame(64);
  uint64_t queued = 0;
  {
    BufferCache cache(engine.pool());
    while (queued < total) {
      // A round queued while mem0 is down, then drained by the worker.
      if (!engine.SetAdminUp(rig.in_if, false).ok()) return 1;
      uint64_t round = std::min<uint64_t>(kFramesPerRound, total - queued);
      for (uint64_t i = 0; i < round; ++i) {
        Buffer* b = cache.AllocOne();
        if (b == nullptr) return 1;
        std::memcpy(b->data(), frame.bytes.data(), frame.bytes.size());
        b->length = static_cast<uint16_t>(frame.bytes.size());
        b->total_length = b->length;
        if (!rig.in->Inject(0, b)) return 1;
        ++queued;
      }
      if (!engine.SetAdminUp(rig.in_if, true).ok()) return 1;
      for (int i = 0; i < 600000 && rig.out->sunk(0) < queued; ++i) usleep(100);  // <= 60 s
      if (rig.out->sunk(0) != queued) {
        std::fprintf(stderr, "xconnect_count: only %llu of %llu frames forwarded\n",
                     static_cast<unsigned long long>(rig.out->sunk(0)),
                     static_cast<unsigned long long>(queued));
        return 1;
      }
    }
  }
  engine.Stop();
  if (engine.pool().available() != engine.pool().total()) {
    std::fprintf(stderr, "xconnect_count: buffers leaked\n");
    return 1;
  }
  std::printf("forwarded %llu frames\n", static_cast<unsigned long long>(queued));
  return 0;
}
