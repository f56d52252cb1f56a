// Argument parsing and formatting for VPP's `create interface af_xdp ...` and the engine-side
// interface name. Queue counts and ring sizes use the shared limits (drivers/interface_config.h).

#include <net/if.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/parse.h"
#include "drivers/af_xdp/af_xdp.h"
#include "drivers/interface_config.h"

namespace uplinkd {
namespace {

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
        Result<uint16_t> q = CheckQueueCount(key, *n);
        if (!q.ok()) return q.status();
        a.num_rx_queues = *q;
      }
    } else if (key == "rx-queue-size" || key == "tx-queue-size") {
      UPLINKD_RETURN_IF_ERROR(TakeValue(words, &i, "a number", &v));
      std::optional<uint64_t> n = ParseUnsigned(v);
      if (!n) return Failure(EINVAL, "expected a number after '{}', got '{}'", key, v);
      // XSK rings: the kernel refuses sizes that are not powers of two.
      Result<uint32_t> size = CheckRingSize(key, *n, RingSizeRule::kPowerOfTwo);
      if (!size.ok()) return size.status();
      (key == "rx-queue-size" ? a.rx_queue_size : a.tx_queue_size) = *size;
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

std::vector<std::string> FormatAfXdpCreateArgs(const AfXdpArgs& args) {
  const AfXdpArgs d;  // what the parser starts from: options at these values are left out
  std::vector<std::string> w = {"host-if", args.host_if};
  if (!args.name.empty()) w.insert(w.end(), {"name", args.name});
  if (args.num_rx_queues != d.num_rx_queues) {
    w.insert(w.end(), {"num-rx-queues", args.num_rx_queues == 0
                                            ? std::string("all")
                                            : std::to_string(args.num_rx_queues)});
  }
  if (args.rx_queue_size != d.rx_queue_size) {
    w.insert(w.end(), {"rx-queue-size", std::to_string(args.rx_queue_size)});
  }
  if (args.tx_queue_size != d.tx_queue_size) {
    w.insert(w.end(), {"tx-queue-size", std::to_string(args.tx_queue_size)});
  }
  if (args.mode != d.mode) w.insert(w.end(), {"mode", AfXdpModeName(args.mode)});
  if (!args.prog.empty()) w.insert(w.end(), {"prog", args.prog});
  if (!args.netns.empty()) w.insert(w.end(), {"netns", args.netns});
  if (!args.multi_buffer) w.push_back("no-multi-buffer");
  if (args.busy_budget != d.busy_budget) {
    w.insert(w.end(), {"busy-budget", std::to_string(args.busy_budget)});
  }
  return w;
}

AfXdpArgs AfXdpArgsFor(std::string host_if, const InterfaceQueues& queues) {
  AfXdpArgs a;
  a.host_if = std::move(host_if);
  if (queues.num_rx_queues != 0) a.num_rx_queues = queues.num_rx_queues;
  if (queues.rx_queue_size != 0) a.rx_queue_size = queues.rx_queue_size;
  if (queues.tx_queue_size != 0) a.tx_queue_size = queues.tx_queue_size;
  return a;
}

std::string AfXdpInterfaceName(const AfXdpArgs& args) {
  return args.name.empty() ? args.host_if : args.name;
}

}  // namespace uplinkd
