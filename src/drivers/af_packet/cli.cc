// Argument parsing for VPP's `create host-interface ...` and the engine-side interface name.

#include <net/if.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/parse.h"
#include "drivers/af_packet/af_packet.h"

namespace uplinkd {
namespace {

constexpr uint16_t kMaxQueues = 64;

// Reads the value after words[*i] as a number in [min, max] and advances *i past it.
Status TakeNumber(const std::vector<std::string>& words, size_t* i, uint64_t min, uint64_t max,
                  uint64_t* value) {
  const std::string& key = words[*i];
  if (*i + 1 >= words.size()) return Failure(EINVAL, "expected a number after '{}'", key);
  const std::string& text = words[*i + 1];
  std::optional<uint64_t> v = ParseUnsigned(text);
  if (!v) return Failure(EINVAL, "expected a number after '{}', got '{}'", key, text);
  if (*v < min || *v > max) {
    return Failure(EINVAL, "'{}' must be in {}..{}, got {}", key, min, max, *v);
  }
  *value = *v;
  *i += 2;
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
      UPLINKD_RETURN_IF_ERROR(TakeNumber(words, &i, 1, kMaxQueues, &v));
      (w == "num-rx-queues" ? a.num_rx_queues : a.num_tx_queues) = static_cast<uint16_t>(v);
    } else if (w == "rx-size" || w == "tx-size" || w == "rx-per-block" || w == "tx-per-block" ||
               w == "rx-frame-size" || w == "tx-frame-size") {
      const std::string key = w;  // TakeNumber advances i
      UPLINKD_RETURN_IF_ERROR(TakeNumber(words, &i, 1, UINT32_MAX, &v));
      auto v32 = static_cast<uint32_t>(v);
      if (key == "rx-size") a.rx_size = v32;
      if (key == "tx-size") a.tx_size = v32;
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

std::string AfPacketInterfaceName(const AfPacketArgs& args) { return "host-" + args.host_if; }

}  // namespace uplinkd
