#include "drivers/driver.h"

namespace uplinkd {

const char* RxModeName(RxMode mode) {
  switch (mode) {
    case RxMode::kPolling:
      return "polling";
    case RxMode::kInterrupt:
      return "interrupt";
    case RxMode::kAdaptive:
      return "adaptive";
  }
  return "unknown";
}

}  // namespace uplinkd
