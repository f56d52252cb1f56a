// Argument parsing and formatting for VPP's `create host-interface ...` and the engine-side
// interface name. Queue counts and ring sizes use the shared limits (drivers/interface_config.h).

#include <net/if.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/parse.h"
#include "drivers/af_packet/af_packet.h"
#include "drivers/interface_config.h"

namespace uplinkd {
namespace {

// Reads the value after words[*i] as a number and advances *i past it; the range is the caller's.
Result<uint64_t> TakeAnyNumber(const std::vector<std::string>& words, size_t* i) {
  const std::string& key = words[*i];
  if (*i + 1 >= words.size()) return Failure(EINVAL, "expected a number after '{}'", key);
  const std::string& text = words[*i + 1];
  std::optional<uint64_t> v = ParseUnsigned(text);
  if (!v) return Failure(EINVAL, "expected a number after '{}', got '{}'", key, text);
  *i += 2;
  return *v;
}

// The same, in [min, max].
Status TakeNumber(const std::vector<std::string>& words, size_t* i, uint64_t min, uint64_t max,
                  uint64_t* value) {
  const std::string key = words[*i];
  Result<uint64_t> v = TakeAnyNumber(words, i);
  if (!v.ok()) return v.status();
  if (*v < min || *v > max) {
    return Failure(EINVAL, "'{}' must be in {}..{}, got {}", key, min, max, *v);
  }
  *value = *v;
  return Status::Ok();
}

}  // namespace

Status ParseAfPacketCreateArgs(const std::vector<std::string>& words, AfPacketArgs* args) {
  AfPacketArgs a;
  bool have_name = false;
  for (size_t i = 0; i < words.size();) {
    const std::string& w = words[i];
    uint64_t v = 0;
    if (w == "v2") {
      a.use_v2 = true;
      ++i;
    } else if (w == "qdisc-bypass-disable") {
      a.qdisc_bypass = false;
      ++i;
    } else if (w == "cksum-gso-disable") {
      a.offloads = false;
      ++i;
    } else if (w == "name") {
      if (i + 1 >= words.size()) return Failure(EINVAL, "expected an interface name after 'name'");
      const std::string& name = words[i + 1];
      if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos) {
        return Failure(EINVAL, "invalid interface name '{}'", name);
      }
      a.host_if = name;
      have_name = true;
      i += 2;
    } else if (w == "num-rx-queues" || w == "num-tx-queues") {
      const std::string key = w;  // TakeAnyNumber advances i
      Result<uint64_t> n = TakeAnyNumber(words, &i);
      if (!n.ok()) return n.status();
      Result<uint16_t> q = CheckQueueCount(key, *n);
      if (!q.ok()) return q.status();
      (key == "num-rx-queues" ? a.num_rx_queues : a.num_tx_queues) = *q;
    } else if (w == "rx-size" || w == "tx-size") {
      // Frame counts: the kernel takes any tp_frame_nr, so no power-of-two rule.
      const std::string key = w;
      Result<uint64_t> n = TakeAnyNumber(words, &i);
      if (!n.ok()) return n.status();
      Result<uint32_t> size = CheckRingSize(key, *n, RingSizeRule::kAnyInRange);
      if (!size.ok()) return size.status();
      (key == "rx-size" ? a.rx_size : a.tx_size) = *size;
    } else if (w == "rx-per-block" || w == "tx-per-block" || w == "rx-frame-size" ||
               w == "tx-frame-size") {
      const std::string key = w;  // TakeNumber advances i
      UPLINKD_RETURN_IF_ERROR(TakeNumber(words, &i, 1, UINT32_MAX, &v));
      auto v32 = static_cast<uint32_t>(v);
      if (key == "rx-per-block") a.rx_frames_per_block = v32;
      if (key == "tx-per-block") a.tx_frames_per_block = v32;
      if (key == "rx-frame-size") a.rx_frame_size = v32;
      if (key == "tx-frame-size") a.tx_frame_size = v32;
    } else if (w == "hw-addr") {
      if (i + 1 >= words.size()) return Failure(EINVAL, "expected a MAC address after 'hw-addr'");
      std::optional<MacAddress> mac = ParseMac(words[i + 1]);
      if (!mac) return Failure(EINVAL, "expected a MAC address after 'hw-addr', got '{}'",
                               words[i + 1]);
      a.hw_addr = *mac;
      i += 2;
    } else if (w == "mode") {
      if (i + 1 >= words.size()) return Failure(EINVAL, "expected 'ethernet' after 'mode'");
      if (words[i + 1] == "ip") {
        return Failure(ENOTSUP, "'mode ip' is not supported: af_packet runs in ethernet mode");
      }
      if (words[i + 1] != "ethernet") {
        return Failure(EINVAL, "unknown mode '{}' (expected 'ethernet')", words[i + 1]);
      }
      i += 2;
    } else {
      return Failure(EINVAL, "unknown input '{}'", w);
    }
  }
  if (!have_name) return Failure(EINVAL, "missing 'name IF' (the Linux interface to attach to)");
  *args = std::move(a);
  return Status::Ok();
}

std::vector<std::string> FormatAfPacketCreateArgs(const AfPacketArgs& args) {
  const AfPacketArgs d;  // what the parser starts from: options at these values are left out
  std::vector<std::string> w;
  if (args.use_v2) w.push_back("v2");
  w.insert(w.end(), {"name", args.host_if});
  auto number = [&w](const char* key, uint64_t value, uint64_t default_value) {
    if (value != default_value) w.insert(w.end(), {key, std::to_string(value)});
  };
  number("num-rx-queues", args.num_rx_queues, d.num_rx_queues);
  number("num-tx-queues", args.num_tx_queues, d.num_tx_queues);
  number("rx-size", args.rx_size, d.rx_size);
  number("tx-size", args.tx_size, d.tx_size);
  number("rx-per-block", args.rx_frames_per_block, d.rx_frames_per_block);
  number("tx-per-block", args.tx_frames_per_block, d.tx_frames_per_block);
  number("rx-frame-size", args.rx_frame_size, d.rx_frame_size);
  number("tx-frame-size", args.tx_frame_size, d.tx_frame_size);
  if (args.hw_addr) w.insert(w.end(), {"hw-addr", FormatMac(*args.hw_addr)});
  if (!args.qdisc_bypass) w.push_back("qdisc-bypass-disable");
  if (!args.offloads) w.push_back("cksum-gso-disable");
  return w;
}

AfPacketArgs AfPacketArgsFor(std::string host_if, const InterfaceQueues& queues) {
  AfPacketArgs a;
  a.host_if = std::move(host_if);
  if (queues.num_rx_queues != 0) a.num_rx_queues = queues.num_rx_queues;
  if (queues.num_tx_queues != 0) a.num_tx_queues = queues.num_tx_queues;
  a.rx_size = queues.rx_queue_size;  // 0 is the default on both sides
  a.tx_size = queues.tx_queue_size;
  return a;
}

std::string AfPacketInterfaceName(const AfPacketArgs& args) { return "host-" + args.host_if; }

}  // namespace uplinkd
