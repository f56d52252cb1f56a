// `create tap ...` option parsing (VPP's words), shared by the CLI and exec files.
#include <functional>
#include <map>

#include "drivers/tap/tap.h"
#include "linux/netlink_socket.h"

namespace uplinkd {
namespace {

Result<uint64_t> Number(const std::string& option, const std::string& value, uint64_t min,
                        uint64_t max) {
  std::optional<uint64_t> v = ParseUnsigned(value);
  if (!v || *v < min || *v > max) {
    return Failure(EINVAL, "{} '{}': expected a number from {} to {}", option, value, min, max);
  }
  return *v;
}

Result<uint32_t> RingSize(const std::string& option, const std::string& value) {
  Result<uint64_t> v = Number(option, value, 1, 32768);
  if (!v.ok()) return v.status();
  if (!IsPowerOfTwo(*v)) return Failure(EINVAL, "{} '{}' is not a power of two", option, value);
  return static_cast<uint32_t>(*v);
}

Result<MacAddress> Mac(const std::string& option, const std::string& value) {
  std::optional<MacAddress> mac = ParseMac(value);
  if (!mac) return Failure(EINVAL, "{} '{}' is not a MAC address", option, value);
  return *mac;
}

Status Cidr(const std::string& option, const std::string& value, int family,
            std::vector<std::string>* out) {
  Result<IpPrefix> p = ParseCidr(value);
  if (!p.ok() || p->family != family) {
    return Failure(EINVAL, "{} '{}' is not an {} address with a prefix length", option, value,
                   family == AF_INET ? "IPv4" : "IPv6");
  }
  out->push_back(value);
  return Status::Ok();
}

}  // namespace

Status ParseTapCreateArgs(const std::vector<std::string>& words, TapArgs* args) {
  using Handler = std::function<Status(const std::string& option, const std::string& value)>;
  const std::map<std::string, Handler> with_value = {
      {"id",
       [&](const std::string& o, const std::string& v) -> Status {
         Result<uint64_t> n = Number(o, v, 0, UINT32_MAX - 1);
         if (!n.ok()) return n.status();
         args->id = static_cast<uint32_t>(*n);
         return Status::Ok();
       }},
      {"host-if-name",
       [&](const std::string& o, const std::string& v) -> Status {
         if (v.empty() || v.size() > 15 || v.find_first_of("/: \t") != std::string::npos) {
           return Failure(EINVAL, "{} '{}' is not a valid interface name (1 to 15 characters)", o,
                          v);
         }
         args->host_if_name = v;
         return Status::Ok();
       }},
      {"host-ns",
       [&](const std::string&, const std::string& v) -> Status {
         args->host_ns = v;
         return Status::Ok();
       }},
      {"host-mac-addr",
       [&](const std::string& o, const std::string& v) -> Status {
         Result<MacAddress> mac = Mac(o, v);
         if (!mac.ok()) return mac.status();
         args->host_mac = *mac;
         return Status::Ok();
       }},
      {"hw-addr",
       [&](const std::string& o, const std::string& v) -> Status {
         Result<MacAddress> mac = Mac(o, v);
         if (!mac.ok()) return mac.status();
         args->hw_addr = *mac;
         return Status::Ok();
       }},
      {"host-mtu-size",
       [&](const std::string& o, const std::string& v) -> Status {
         Result<uint64_t> n = Number(o, v, 68, 65535);
         if (!n.ok()) return n.status();
         args->host_mtu = static_cast<uint32_t>(*n);
         return Status::Ok();
       }},
      {"num-rx-queues",
       [&](const std::string& o, const std::string& v) -> Status {
         Result<uint64_t> n = Number(o, v, 1, 256);
         if (!n.ok()) return n.status();
         args->num_rx_queues = static_cast<uint16_t>(*n);
         return Status::Ok();
       }},
      {"rx-ring-size",
       [&](const std::string& o, const std::string& v) -> Status {
         Result<uint32_t> n = RingSize(o, v);
         if (!n.ok()) return n.status();
         args->rx_ring_size = *n;
         return Status::Ok();
       }},
      {"tx-ring-size",
       [&](const std::string& o, const std::string& v) -> Status {
         Result<uint32_t> n = RingSize(o, v);
         if (!n.ok()) return n.status();
         args->tx_ring_size = *n;
         return Status::Ok();
       }},
      {"host-ip4-addr",
       [&](const std::string& o, const std::string& v) {
         return Cidr(o, v, AF_INET, &args->host_ip4_addr);
       }},
      {"host-ip6-addr",
       [&](const std::string& o, const std::string& v) {
         return Cidr(o, v, AF_INET6, &args->host_ip6_addr);
       }},
  };
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    // VPP flags for offloads we always enable.
    if (word == "gso" || word == "csum-offload") continue;
    if (word == "gro-coalesce") {
      args->gro_coalesce = true;
      continue;
    }
    if (word == "no-uring") {
      args->uring = false;
      continue;
    }
    auto it = with_value.find(word);
    if (it == with_value.end()) return Failure(EINVAL, "create tap: unknown option '{}'", word);
    if (i + 1 == words.size()) return Failure(EINVAL, "create tap: '{}' needs a value", word);
    UPLINKD_RETURN_IF_ERROR(it->second(word, words[++i]).WithContext("create tap"));
  }
  return Status::Ok();
}

}  // namespace uplinkd
