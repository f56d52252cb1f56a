// Argument parsing for VPP's `create interface af_xdp ...` and the engine-side interface name.

#include <net/if.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/parse.h"
#include "drivers/af_xdp/af_xdp.h"

namespace uplinkd {
namespace {

constexpr uint64_t kMaxQueues = 64;
// XSK rings: powers of two; the kernel takes any, these bounds keep memory sane.
constexpr uint64_t kMinRingSize = 64;
constexpr uint64_t kMaxRingSize = 32768;
// SO_BUSY_POLL_BUDGET: frames per NAPI poll; the kernel caps it at U16_MAX, NAPI weights are 64.
constexpr uint64_t kMaxBusyBudget = 1024;

// The value after words[*i], advancing *i past both; an error naming the key when missing.
Status TakeValue(const std::vector<std::string>& words, size_t* i, const char* what,
                 std::string* value) {
  if (*i + 1 >= words.size()) {
    return Failure(EINVAL, "expected {} after '{}'", what, words[*i]);
  }
  *value = words[*i + 1];
  *i += 2;
  return Status::Ok();
}

Status CheckIfName(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos) {
    return Failure(EINVAL, "invalid interface name '{}'", name);
  }
  return Status::Ok();
}

}  // namespace

const char* AfXdpModeName(AfXdpArgs::Mode mode) {
  switch (mode) {
    case AfXdpArgs::Mode::kAuto:
      return "auto";
    case AfXdpArgs::Mode::kCopy:
      return "copy";
    case AfXdpArgs::Mode::kZeroCopy:
      return "zero-copy";
  }
  return "unknown";
}

Status ParseAfXdpCreateArgs(const std::vector<std::string>& words, AfXdpArgs* args) {
  AfXdpArgs a;
  bool have_host_if = false;
  for (size_t i = 0; i < words.size();) {
    const std::string key = words[i];
    std::string v;
    if (key == "host-if") {
      UPLINKD_RETURN_IF_ERROR(TakeValue(words, &i, "an interface name", &v));
      UPLINKD_RETURN_IF_ERROR(CheckIfName(v));
      a.host_if = v;
      have_host_if = true;
    } else if (key == "name") {
      UPLINKD_RETURN_IF_ERROR(TakeValue(words, &i, "a name", &v));
      if (v.empty() || v.size() > 63) return Failure(EINVAL, "invalid name '{}'", v);
      a.name = v;
    } else if (key == "num-rx-queues") {
      UPLINKD_RETURN_IF_ERROR(TakeValue(words, &i, "a number or 'all'", &v));
      if (v == "all") {
        a.num_rx_queues = 0;
      } else {
        std::optional<uint64_t> n = ParseUnsigned(v);
        if (!n) return Failure(EINVAL, "expected a number or 'all' after '{}', got '{}'", key, v);
        if (*n < 1 || *n > kMaxQueues) {
          return Failure(EINVAL, "'{}' must be in 1..{} or 'all', got {}", key, kMaxQueues, *n);
        }
        a.num_rx_queues = static_cast<uint16_t>(*n);
      }
    } else if (key == "rx-queue-size" || key == "tx-queue-size") {
      UPLINKD_RETURN_IF_ERROR(TakeValue(words, &i, "a number", &v));
      std::optional<uint64_t> n = ParseUnsigned(v);
      if (!n) return Failure(EINVAL, "expected a number after '{}', got '{}'", key, v);
      if (*n < kMinRingSize || *n > kMaxRingSize || !IsPowerOfTwo(*n)) {
        return Failure(EINVAL, "'{}' must be a power of two in {}..{}, got {}", key,
                       kMinRingSize, kMaxRingSize, *n);
      }
      (key == "rx-queue-size" ? a.rx_queue_size : a.tx_queue_size) = static_cast<uint32_t>(*n);
    } else if (key == "mode") {
      UPLINKD_RETURN_IF_ERROR(TakeValue(words, &i, "auto, copy or zero-copy", &v));
      if (v == "auto") {
        a.mode = AfXdpArgs::Mode::kAuto;
      } else if (v == "copy") {
        a.mode = AfXdpArgs::Mode::kCopy;
      } else if (v == "zero-copy") {
        a.mode = AfXdpArgs::Mode::kZeroCopy;
      } else {
        return Failure(EINVAL, "unknown mode '{}' (expected auto, copy or zero-copy)", v);
      }
    } else if (key == "prog") {
      UPLINKD_RETURN_IF_ERROR(TakeValue(words, &i, "an XDP object file", &v));
      if (v.empty()) return Failure(EINVAL, "empty file name after 'prog'");
      a.prog = v;
    } else if (key == "netns") {
      UPLINKD_RETURN_IF_ERROR(TakeValue(words, &i, "a network namespace", &v));
      if (v.empty()) return Failure(EINVAL, "empty namespace after 'netns'");
      a.netns = v;
    } else if (key == "busy-budget") {
      UPLINKD_RETURN_IF_ERROR(TakeValue(words, &i, "a number", &v));
      std::optional<uint64_t> n = ParseUnsigned(v);
      if (!n || *n > kMaxBusyBudget) {
        return Failure(EINVAL, "'{}' must be a number in 0..{}, got '{}'", key, kMaxBusyBudget, v);
      }
      a.busy_budget = static_cast<uint32_t>(*n);
    } else if (key == "no-multi-buffer") {
      a.multi_buffer = false;
      ++i;
    } else {
      return Failure(EINVAL, "unknown input '{}'", key);
    }
  }
  if (!have_host_if) return Failure(EINVAL, "missing 'host-if IF' (the Linux interface)");
  *args = std::move(a);
  return Status::Ok();
}

std::string AfXdpInterfaceName(const AfXdpArgs& args) {
  return args.name.empty() ? args.host_if : args.name;
}

}  // namespace uplinkd
