#include "drivers/interface_config.h"

#include <fmt/format.h>

#include "common/parse.h"

namespace uplinkd {

Result<uint16_t> CheckQueueCount(uint64_t n) {
  if (n == 0) return Failure(EINVAL, "must be at least 1");
  if (n > kMaxInterfaceQueues) return Failure(EINVAL, "must be at most {}", kMaxInterfaceQueues);
  return static_cast<uint16_t>(n);  // checked just above
}

Result<uint32_t> CheckRingSize(uint64_t n, RingSizeRule rule) {
  // The power-of-two reason first: it is the one a user of CALICOVPP_RING_SIZE=1000 must read.
  if (rule == RingSizeRule::kPowerOfTwo && !IsPowerOfTwo(n)) {
    return Failure(EINVAL, "not a power of two");
  }
  if (n < kMinRingSize) return Failure(EINVAL, "must be at least {}", kMinRingSize);
  if (n > kMaxRingSize) return Failure(EINVAL, "must be at most {}", kMaxRingSize);
  return static_cast<uint32_t>(n);  // checked just above
}

Result<uint16_t> CheckQueueCount(std::string_view option, uint64_t n) {
  Result<uint16_t> r = CheckQueueCount(n);
  if (!r.ok()) return r.status().WithContext(fmt::format("{}={}", option, n));
  return r;
}

Result<uint32_t> CheckRingSize(std::string_view option, uint64_t n, RingSizeRule rule) {
  Result<uint32_t> r = CheckRingSize(n, rule);
  if (!r.ok()) return r.status().WithContext(fmt::format("{}={}", option, n));
  return r;
}

}  // namespace uplinkd
