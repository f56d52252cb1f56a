#include "linux/snapshot.h"

#include <arpa/inet.h>
#include <fmt/ranges.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>

#include "common/log.h"
#include "linux/netns.h"

namespace uplinkd {
namespace {

using nlohmann::json;

constexpr int kSnapshotVersion = 1;
// How long ApplyAddressesAndRoutes keeps retrying routes the kernel refuses for a reason that
// passes by itself: IPv6 DAD (which a prefsrc must have finished) takes up to ~2 s by default.
constexpr auto kRouteRetryTime = std::chrono::seconds(5);
constexpr auto kRouteRetryPause = std::chrono::milliseconds(100);

int64_t BoottimeSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return ts.tv_sec;
}

bool IsSet(const IpPrefix& p) { return p.family == AF_INET || p.family == AF_INET6; }

bool IsZeroMac(const MacAddress& mac) {
  return std::all_of(mac.begin(), mac.end(), [](uint8_t b) { return b == 0; });
}

std::string AddressText(const IpPrefix& p) {
  char text[INET6_ADDRSTRLEN] = {};
  if (!IsSet(p)) return "";
  inet_ntop(p.family, p.bytes, text, sizeof(text));
  return text;
}

// IPv6 privacy addresses are the kernel's: it makes new ones as it likes.
bool IsTemporary(const AddressInfo& a) {
  return a.prefix.family == AF_INET6 && (a.flags & IFA_F_TEMPORARY) != 0;
}

// "eth0" -> "tap-name", "eth0:1" -> "tap-name:1": the kernel's default label is the link name.
std::string MapLabel(const std::string& label, const std::string& from, const std::string& to) {
  if (label.empty() || from.empty() || to.empty() || from == to) return label;
  if (label == from) return to;
  if (label.rfind(from + ":", 0) == 0) {
    std::string mapped = to + label.substr(from.size());
    return mapped.size() < IFNAMSIZ ? mapped : to;
  }
  return label;
}

// The snapshot's addresses as they should be on `ifindex` (called `name`) now, in the kernel's
// listing order: temporaries and expired ones dropped, finite lifetimes shortened by the time
// since the snapshot.
std::vector<AddressInfo> WantedAddresses(const LinkSnapshot& snap, int ifindex,
                                         const std::string& name) {
  const int64_t now = BoottimeSeconds();
  const uint64_t elapsed =
      now > snap.taken_at_boottime ? static_cast<uint64_t>(now - snap.taken_at_boottime) : 0;
  std::vector<AddressInfo> out;
  for (AddressInfo a : snap.addresses) {
    if (IsTemporary(a)) continue;
    if (a.valid_lft != AddressInfo::kForever) {
      if (a.valid_lft <= elapsed) continue;  // it would have expired by now
      a.valid_lft -= static_cast<uint32_t>(elapsed);
    }
    if (a.preferred_lft != AddressInfo::kForever) {
      a.preferred_lft =
          a.preferred_lft > elapsed ? a.preferred_lft - static_cast<uint32_t>(elapsed) : 0;
    }
    a.ifindex = ifindex;
    a.label = MapLabel(a.label, snap.name, name);
    out.push_back(a);
  }
  return out;
}

// Whether `have` (from the kernel) is `want` in what a user configures; lifetimes are ignored
// (they count down) and so is kernel state (tentative, permanent, secondary, ...).
bool SameAddress(const AddressInfo& have, const AddressInfo& want) {
  constexpr uint32_t kMask = Netlink::kSettableAddressFlags & ~IFA_F_OPTIMISTIC;
  return have.prefix == want.prefix && have.peer == want.peer && have.broadcast == want.broadcast &&
         have.label == want.label && have.scope == want.scope &&
         (have.flags & kMask) == (want.flags & kMask) && have.metric == want.metric &&
         (have.proto == want.proto || have.proto == 0 || want.proto == 0);
}

RouteInfo MapRoute(RouteInfo route, int from, int to) {
  if (route.oif == from) route.oif = to;
  for (RouteNexthop& nh : route.nexthops) {
    if (nh.ifindex == from) nh.ifindex = to;
  }
  return route;
}

// Route equality for restore: everything but the time left (which counts down).
bool SameRoute(const RouteInfo& a, RouteInfo b) {
  b.expires = a.expires;
  return a == b;
}

bool HasGateway(const RouteInfo& r) {
  if (IsSet(r.gateway)) return true;
  return std::any_of(r.nexthops.begin(), r.nexthops.end(),
                     [](const RouteNexthop& nh) { return IsSet(nh.gateway); });
}

// The snapshot's routes that restore puts back, on `ifindex`, expiring ones shortened.
std::vector<RouteInfo> WantedRoutes(const LinkSnapshot& snap, int ifindex) {
  const int64_t now = BoottimeSeconds();
  const uint64_t elapsed =
      now > snap.taken_at_boottime ? static_cast<uint64_t>(now - snap.taken_at_boottime) : 0;
  std::vector<RouteInfo> out;
  for (const RouteInfo& r : snap.routes) {
    if (r.IsKernelGenerated()) continue;
    RouteInfo mapped = MapRoute(r, snap.ifindex, ifindex);
    if (mapped.expires != 0) {
      if (mapped.expires <= elapsed) continue;
      mapped.expires -= static_cast<uint32_t>(elapsed);
    }
    out.push_back(std::move(mapped));
  }
  return out;
}

// Failures that may pass on their own: a gateway that is not reachable yet, an address (prefsrc)
// still in DAD, a link whose carrier is coming up.
bool IsRetryable(int code) {
  return code == ENETUNREACH || code == EHOSTUNREACH || code == ENETDOWN || code == EINVAL ||
         code == EADDRNOTAVAIL;
}

Status ApplyRoutes(Netlink& nl, std::vector<RouteInfo> routes) {
  // On-link routes first: gateway routes need the route to their gateway.
  std::stable_partition(routes.begin(), routes.end(),
                        [](const RouteInfo& r) { return !HasGateway(r); });
  Failures failures;
  std::vector<RouteInfo> pending;
  for (RouteInfo& r : routes) {
    if (r.has_unsupported) {
      failures.Add(Failure(EOPNOTSUPP, "route {} uses nexthop objects or RTA_VIA: not restored",
                           r.ToString()));
    } else {
      pending.push_back(std::move(r));
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + kRouteRetryTime;
  std::vector<Status> last_errors;
  // Each round either adds a route (pending shrinks) or waits a pause; both are bounded.
  while (!pending.empty()) {
    std::vector<RouteInfo> retry;
    last_errors.clear();
    bool progress = false;
    for (RouteInfo& r : pending) {
      Status status = nl.AddRoute(r);
      if (status.ok() || status.code() == EEXIST) {
        progress = true;
      } else if (IsRetryable(status.code())) {
        retry.push_back(std::move(r));
        last_errors.push_back(status);
      } else {
        failures.Add(status);
      }
    }
    pending = std::move(retry);
    if (pending.empty() || progress) continue;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kRouteRetryPause);
  }
  for (const Status& s : last_errors) failures.Add(s);
  return failures.ToStatus("apply routes");
}

// Removes every address of a family whose current list differs from the snapshot's, so that
// re-adding them in order gives the same primaries/secondaries and the same listing order.
Status RemoveMismatchedAddresses(Netlink& nl, int ifindex, const std::vector<AddressInfo>& want) {
  Result<std::vector<AddressInfo>> current = nl.ListAddresses(ifindex);
  if (!current.ok()) return current.status();
  Failures failures;
  for (int family : {AF_INET, AF_INET6}) {
    std::vector<AddressInfo> have_f, want_f;
    for (const AddressInfo& a : *current) {
      if (a.prefix.family == family && !IsTemporary(a)) have_f.push_back(a);
    }
    for (const AddressInfo& a : want) {
      if (a.prefix.family == family) want_f.push_back(a);
    }
    bool same = have_f.size() == want_f.size() &&
                std::equal(have_f.begin(), have_f.end(), want_f.begin(), SameAddress);
    if (same) continue;
    for (const AddressInfo& a : have_f) {
      Status status = nl.DeleteAddressInfo(a);
      // Deleting an IPv4 primary takes its secondaries with it.
      if (!status.ok() && status.code() != EADDRNOTAVAIL) failures.Add(status);
    }
  }
  return failures.ToStatus("remove addresses that differ from the snapshot");
}

// Removes user routes that use only this link and are not in the snapshot (or differ from it).
Status RemoveExtraRoutes(Netlink& nl, int ifindex, const std::vector<RouteInfo>& want) {
  Result<std::vector<RouteInfo>> current = nl.ListRoutes(AF_UNSPEC);
  if (!current.ok()) return current.status();
  Failures failures;
  for (const RouteInfo& r : *current) {
    if (!r.UsesLink(ifindex) || r.IsKernelGenerated()) continue;
    // A multipath route with a leg elsewhere belongs to other links too: left alone.
    bool only_this_link =
        r.nexthops.empty()
            ? r.oif == ifindex
            : std::all_of(r.nexthops.begin(), r.nexthops.end(),
                          [&](const RouteNexthop& nh) { return nh.ifindex == ifindex; });
    if (!only_this_link) continue;
    bool wanted =
        std::any_of(want.begin(), want.end(), [&](const RouteInfo& w) { return SameRoute(r, w); });
    if (wanted) continue;
    Status status = nl.DeleteRoute(r);
    if (!status.ok() && status.code() != ESRCH) failures.Add(status);
  }
  return failures.ToStatus("remove routes that are not in the snapshot");
}

// IPv6 addresses go on without duplicate address detection: they were unique on this link
// already (the tap and the returning uplink are the same station), and DAD would cut IPv6 for a
// second or more at takeover and at restore. A link-local the kernel made itself and is still
// testing (the link just came up) is replaced the same way. The snapshot's own flags are set
// afterwards: dropping IFA_F_NODAD from an address starts no DAD.
Status ApplyAddresses(Netlink& nl, const std::vector<AddressInfo>& wanted) {
  Failures failures;
  std::vector<AddressInfo> present;
  if (!wanted.empty()) {
    Result<std::vector<AddressInfo>> current = nl.ListAddresses(wanted[0].ifindex);
    if (current.ok()) present = std::move(current).value();
  }
  // IPv4 in listing order: primaries then secondaries, as the kernel appends them. IPv6 in
  // reverse: the kernel lists the newest address of a scope first.
  std::vector<const AddressInfo*> order;
  for (const AddressInfo& a : wanted) {
    if (a.prefix.family == AF_INET) order.push_back(&a);
  }
  for (auto it = wanted.rbegin(); it != wanted.rend(); ++it) {
    if (it->prefix.family == AF_INET6) order.push_back(&*it);
  }
  for (const AddressInfo* a : order) {
    AddressInfo add = *a;
    const bool v6 = a->prefix.family == AF_INET6;
    if (v6) {
      add.flags |= IFA_F_NODAD;
      auto it = std::find_if(present.begin(), present.end(), [&](const AddressInfo& p) {
        return p.prefix == a->prefix && (p.flags & IFA_F_TENTATIVE) != 0;
      });
      if (it != present.end()) {
        Status status = nl.DeleteAddressInfo(*it);
        if (!status.ok() && status.code() != EADDRNOTAVAIL) failures.Add(status);
      }
    }
    Status status = nl.AddAddressInfo(add);
    if (!status.ok() && status.code() != EEXIST) failures.Add(status);
    if (v6 && status.ok() && (a->flags & IFA_F_NODAD) == 0) failures.Add(nl.ReplaceAddressInfo(*a));
  }
  return failures.ToStatus("apply addresses");
}

Status ApplyWanted(Netlink& nl, const std::vector<AddressInfo>& addresses,
                   const std::vector<RouteInfo>& routes) {
  Failures failures;
  failures.Add(ApplyAddresses(nl, addresses));
  failures.Add(ApplyRoutes(nl, routes));
  if (failures.empty()) return Status::Ok();
  return failures.ToStatus("apply addresses and routes");
}

// ---- JSON ----

json PrefixJson(const IpPrefix& p) { return IsSet(p) ? json(p.ToString()) : json(); }
json AddressJson(const IpPrefix& p) { return IsSet(p) ? json(AddressText(p)) : json(); }

// Reads typed fields out of JSON objects without exceptions; the first error sticks and names
// the field's path.
class Reader {
 public:
  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }

  void Fail(const std::string& path, std::string_view what) {
    if (status_.ok()) status_ = Failure(EINVAL, "snapshot JSON: {}: {}", path, what);
  }

  const json* Field(const json& obj, const std::string& path, const char* key, bool required) {
    if (!ok()) return nullptr;
    if (!obj.is_object()) {
      Fail(path, "expected an object");
      return nullptr;
    }
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      if (required) Fail(path + "." + key, "missing");
      return nullptr;
    }
    return &*it;
  }

  template <typename T>
  void Unsigned(const json& obj, const std::string& path, const char* key, T* out,
                bool required = true) {
    const json* v = Field(obj, path, key, required);
    if (v == nullptr) return;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0)) {
      return Fail(path + "." + key, "expected an unsigned integer");
    }
    uint64_t value = v->get<uint64_t>();
    if (value > std::numeric_limits<T>::max()) return Fail(path + "." + key, "out of range");
    *out = static_cast<T>(value);
  }

  template <typename T>
  void Signed(const json& obj, const std::string& path, const char* key, T* out,
              bool required = true) {
    const json* v = Field(obj, path, key, required);
    if (v == nullptr) return;
    if (!v->is_number_integer()) return Fail(path + "." + key, "expected an integer");
    if (v->is_number_unsigned() &&
        v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      return Fail(path + "." + key, "out of range");
    }
    int64_t value = v->get<int64_t>();
    if (value < std::numeric_limits<T>::min() || value > std::numeric_limits<T>::max()) {
      return Fail(path + "." + key, "out of range");
    }
    *out = static_cast<T>(value);
  }

  void Bool(const json& obj, const std::string& path, const char* key, bool* out,
            bool required = true) {
    const json* v = Field(obj, path, key, required);
    if (v == nullptr) return;
    if (!v->is_boolean()) return Fail(path + "." + key, "expected true or false");
    *out = v->get<bool>();
  }

  void String(const json& obj, const std::string& path, const char* key, std::string* out,
              bool required = true) {
    const json* v = Field(obj, path, key, required);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(path + "." + key, "expected a string");
    *out = v->get<std::string>();
  }

  // "ADDR/LEN" or a bare "ADDR" (a host prefix); absent or null leaves `out` unset.
  void Prefix(const json& obj, const std::string& path, const char* key, IpPrefix* out, int family,
              bool required = false) {
    std::string text;
    String(obj, path, key, &text, required);
    if (!ok() || text.empty()) return;
    Result<IpPrefix> p = ParseCidr(text);
    if (!p.ok()) return Fail(path + "." + key, p.status().message());
    if (family != AF_UNSPEC && p->family != family) {
      return Fail(path + "." + key, fmt::format("'{}' is of the other address family", text));
    }
    *out = *p;
  }

  const json* Array(const json& obj, const std::string& path, const char* key) {
    const json* v = Field(obj, path, key, true);
    if (v != nullptr && !v->is_array()) {
      Fail(path + "." + key, "expected an array");
      return nullptr;
    }
    return v;
  }

 private:
  Status status_;
};

int FamilyFromName(const std::string& name) {
  if (name == "inet") return AF_INET;
  if (name == "inet6") return AF_INET6;
  return AF_UNSPEC;
}

const char* FamilyName(int family) { return family == AF_INET ? "inet" : "inet6"; }

json AddressToJson(const AddressInfo& a) {
  return json{{"address", a.prefix.ToString()},
              {"peer", PrefixJson(a.peer)},
              {"broadcast", AddressJson(a.broadcast)},
              {"label", a.label},
              {"scope", a.scope},
              {"flags", a.flags},
              {"valid_lft", a.valid_lft},
              {"preferred_lft", a.preferred_lft},
              {"metric", a.metric},
              {"proto", a.proto}};
}

AddressInfo AddressFromJson(Reader& r, const json& j, const std::string& path, int ifindex) {
  AddressInfo a;
  a.ifindex = ifindex;
  r.Prefix(j, path, "address", &a.prefix, AF_UNSPEC, /*required=*/true);
  r.Prefix(j, path, "peer", &a.peer, a.prefix.family);
  r.Prefix(j, path, "broadcast", &a.broadcast, a.prefix.family);
  r.String(j, path, "label", &a.label, false);
  r.Unsigned(j, path, "scope", &a.scope);
  r.Unsigned(j, path, "flags", &a.flags);
  r.Unsigned(j, path, "valid_lft", &a.valid_lft);
  r.Unsigned(j, path, "preferred_lft", &a.preferred_lft);
  r.Unsigned(j, path, "metric", &a.metric, false);
  r.Unsigned(j, path, "proto", &a.proto, false);
  return a;
}

json RouteToJson(const RouteInfo& route) {
  json metrics = json::array();
  for (const auto& [type, value] : route.metrics) metrics.push_back(json{type, value});
  json nexthops = json::array();
  for (const RouteNexthop& nh : route.nexthops) {
    nexthops.push_back(json{{"gateway", AddressJson(nh.gateway)},
                            {"ifindex", nh.ifindex},
                            {"weight", nh.weight},
                            {"flags", nh.flags}});
  }
  return json{{"family", FamilyName(route.family)},
              {"table", route.table},
              {"type", route.type},
              {"protocol", route.protocol},
              {"scope", route.scope},
              {"tos", route.tos},
              {"dst", route.dst.ToString()},
              {"src", route.src.ToString()},
              {"gateway", AddressJson(route.gateway)},
              {"prefsrc", AddressJson(route.prefsrc)},
              {"oif", route.oif},
              {"priority", route.priority},
              {"flags", route.flags},
              {"pref", route.pref},
              {"expires", route.expires},
              {"metrics", metrics},
              {"nexthops", nexthops},
              {"unsupported", route.has_unsupported},
              // For people reading the file; restore recomputes it.
              {"kernel", route.IsKernelGenerated()},
              {"text", route.ToString()}};
}

RouteInfo RouteFromJson(Reader& r, const json& j, const std::string& path) {
  RouteInfo route;
  std::string family;
  r.String(j, path, "family", &family);
  if (!r.ok()) return route;
  route.family = FamilyFromName(family);
  if (route.family == AF_UNSPEC) {
    r.Fail(path + ".family", fmt::format("'{}' is not inet or inet6", family));
    return route;
  }
  r.Unsigned(j, path, "table", &route.table);
  r.Unsigned(j, path, "type", &route.type);
  r.Unsigned(j, path, "protocol", &route.protocol);
  r.Unsigned(j, path, "scope", &route.scope);
  r.Unsigned(j, path, "tos", &route.tos, false);
  r.Prefix(j, path, "dst", &route.dst, route.family, true);
  r.Prefix(j, path, "src", &route.src, route.family, true);
  r.Prefix(j, path, "gateway", &route.gateway, route.family);
  r.Prefix(j, path, "prefsrc", &route.prefsrc, route.family);
  r.Signed(j, path, "oif", &route.oif);
  r.Unsigned(j, path, "priority", &route.priority);
  r.Unsigned(j, path, "flags", &route.flags);
  r.Unsigned(j, path, "pref", &route.pref, false);
  r.Unsigned(j, path, "expires", &route.expires, false);
  r.Bool(j, path, "unsupported", &route.has_unsupported, false);
  if (const json* metrics = r.Array(j, path, "metrics")) {
    for (size_t i = 0; i < metrics->size() && r.ok(); ++i) {
      const json& m = (*metrics)[i];
      std::string mpath = fmt::format("{}.metrics[{}]", path, i);
      if (!m.is_array() || m.size() != 2 || !m[0].is_number_unsigned() ||
          !m[1].is_number_unsigned() || m[0].get<uint64_t>() > 0xffff ||
          m[1].get<uint64_t>() > 0xffffffff) {
        r.Fail(mpath, "expected [type, value]");
        break;
      }
      route.metrics.emplace_back(static_cast<uint16_t>(m[0].get<uint64_t>()),
                                 static_cast<uint32_t>(m[1].get<uint64_t>()));
    }
  }
  if (const json* nexthops = r.Array(j, path, "nexthops")) {
    for (size_t i = 0; i < nexthops->size() && r.ok(); ++i) {
      const json& n = (*nexthops)[i];
      std::string npath = fmt::format("{}.nexthops[{}]", path, i);
      RouteNexthop nh;
      r.Prefix(n, npath, "gateway", &nh.gateway, route.family);
      r.Signed(n, npath, "ifindex", &nh.ifindex);
      r.Unsigned(n, npath, "weight", &nh.weight);
      r.Unsigned(n, npath, "flags", &nh.flags);
      route.nexthops.push_back(nh);
    }
  }
  return route;
}

}  // namespace

Result<LinkSnapshot> TakeSnapshot(Netlink& nl, Ethtool& ethtool, const std::string& ifname) {
  const std::string what = fmt::format("snapshot link '{}'", ifname);
  Result<Netlink::LinkInfo> link = nl.GetLink(ifname);
  if (!link.ok()) return link.status().WithContext(what);
  LinkSnapshot snap;
  snap.taken_at_boottime = BoottimeSeconds();
  snap.name = link->name;
  snap.ifindex = link->ifindex;
  snap.mac = link->mac;
  snap.mtu = link->mtu;
  snap.admin_up = link->admin_up;
  snap.oper_up = link->oper_up;
  snap.promisc = link->promisc;
  snap.promiscuity = link->promiscuity;
  snap.num_rx_queues = link->num_rx_queues;
  snap.num_tx_queues = link->num_tx_queues;

  Result<EthtoolDriverInfo> drv = ethtool.GetDriverInfo(ifname);
  if (drv.ok()) {
    snap.driver = drv->driver;
    snap.bus_info = drv->bus_info;
    snap.pci_id = PciIdFromBusInfo(drv->bus_info);
    snap.pci_driver = PciDriver(snap.pci_id);
  } else if (drv.status().code() != EOPNOTSUPP) {
    return drv.status().WithContext(what);
  }
  Result<Channels> channels = ethtool.GetChannels(ifname);
  if (channels.ok()) {
    snap.channels = *channels;
  } else if (channels.status().code() == ENODEV) {
    return channels.status().WithContext(what);
  } else {
    // Drivers without channel support answer EOPNOTSUPP (some EINVAL): nothing to restore.
    Logger("linux")->debug("{}: no ethtool channels: {}", what, channels.status().message());
  }

  Result<int> netns = nl.OpenSocketNetns();
  if (!netns.ok()) return netns.status().WithContext(what);
  Result<uint64_t> inode = NetnsInode(*netns);
  close(*netns);
  if (!inode.ok()) return inode.status().WithContext(what);
  snap.netns_inode = *inode;

  Result<std::vector<AddressInfo>> addresses = nl.ListAddresses(snap.ifindex);
  if (!addresses.ok()) return addresses.status().WithContext(what);
  snap.addresses = std::move(addresses).value();
  Result<std::vector<RouteInfo>> routes = nl.ListRoutes(AF_UNSPEC);
  if (!routes.ok()) return routes.status().WithContext(what);
  for (RouteInfo& r : *routes) {
    if (r.UsesLink(snap.ifindex)) snap.routes.push_back(std::move(r));
  }
  return snap;
}

Result<LinkSnapshot> TakeSnapshot(Netlink& nl, const std::string& ifname) {
  Result<int> netns = nl.OpenSocketNetns();
  if (!netns.ok()) return netns.status().WithContext(fmt::format("snapshot link '{}'", ifname));
  Result<std::unique_ptr<Ethtool>> ethtool = Ethtool::OpenIn(*netns);
  close(*netns);
  if (!ethtool.ok()) return ethtool.status().WithContext(fmt::format("snapshot link '{}'", ifname));
  return TakeSnapshot(nl, **ethtool, ifname);
}

json SnapshotToJson(const LinkSnapshot& snap) {
  json addresses = json::array();
  for (const AddressInfo& a : snap.addresses) addresses.push_back(AddressToJson(a));
  json routes = json::array();
  for (const RouteInfo& r : snap.routes) routes.push_back(RouteToJson(r));
  json channels;
  if (snap.channels) {
    const Channels& c = *snap.channels;
    channels = json{{"rx", c.rx},
                    {"tx", c.tx},
                    {"other", c.other},
                    {"combined", c.combined},
                    {"max_rx", c.max_rx},
                    {"max_tx", c.max_tx},
                    {"max_other", c.max_other},
                    {"max_combined", c.max_combined}};
  }
  return json{{"version", kSnapshotVersion},
              {"name", snap.name},
              {"ifindex", snap.ifindex},
              {"mac", FormatMac(snap.mac)},
              {"mtu", snap.mtu},
              {"admin_up", snap.admin_up},
              {"oper_up", snap.oper_up},
              {"promisc", snap.promisc},
              {"promiscuity", snap.promiscuity},
              {"num_rx_queues", snap.num_rx_queues},
              {"num_tx_queues", snap.num_tx_queues},
              {"channels", channels},
              {"driver", snap.driver},
              {"bus_info", snap.bus_info},
              {"pci_id", snap.pci_id},
              {"pci_driver", snap.pci_driver},
              {"netns_inode", snap.netns_inode},
              {"taken_at_boottime", snap.taken_at_boottime},
              {"addresses", addresses},
              {"routes", routes}};
}

Result<LinkSnapshot> SnapshotFromJson(const json& j) {
  Reader r;
  LinkSnapshot snap;
  const std::string root = "snapshot";
  int version = 0;
  r.Signed(j, root, "version", &version);
  if (r.ok() && version != kSnapshotVersion) {
    r.Fail(root + ".version",
           fmt::format("{} is not the supported version {}", version, kSnapshotVersion));
  }
  r.String(j, root, "name", &snap.name);
  r.Signed(j, root, "ifindex", &snap.ifindex);
  std::string mac;
  r.String(j, root, "mac", &mac);
  if (r.ok()) {
    std::optional<MacAddress> parsed = ParseMac(mac);
    if (!parsed) {
      r.Fail(root + ".mac", fmt::format("'{}' is not a MAC address", mac));
    } else {
      snap.mac = *parsed;
    }
  }
  r.Unsigned(j, root, "mtu", &snap.mtu);
  r.Bool(j, root, "admin_up", &snap.admin_up);
  r.Bool(j, root, "oper_up", &snap.oper_up, false);
  r.Bool(j, root, "promisc", &snap.promisc);
  r.Unsigned(j, root, "promiscuity", &snap.promiscuity, false);
  r.Unsigned(j, root, "num_rx_queues", &snap.num_rx_queues, false);
  r.Unsigned(j, root, "num_tx_queues", &snap.num_tx_queues, false);
  if (r.ok() && j.contains("channels") && !j["channels"].is_null()) {
    const json& c = j["channels"];
    const std::string path = root + ".channels";
    Channels ch;
    r.Unsigned(c, path, "rx", &ch.rx);
    r.Unsigned(c, path, "tx", &ch.tx);
    r.Unsigned(c, path, "other", &ch.other);
    r.Unsigned(c, path, "combined", &ch.combined);
    r.Unsigned(c, path, "max_rx", &ch.max_rx, false);
    r.Unsigned(c, path, "max_tx", &ch.max_tx, false);
    r.Unsigned(c, path, "max_other", &ch.max_other, false);
    r.Unsigned(c, path, "max_combined", &ch.max_combined, false);
    snap.channels = ch;
  }
  r.String(j, root, "driver", &snap.driver, false);
  r.String(j, root, "bus_info", &snap.bus_info, false);
  r.String(j, root, "pci_id", &snap.pci_id, false);
  r.String(j, root, "pci_driver", &snap.pci_driver, false);
  r.Unsigned(j, root, "netns_inode", &snap.netns_inode, false);
  r.Signed(j, root, "taken_at_boottime", &snap.taken_at_boottime, false);
  if (const json* addresses = r.Array(j, root, "addresses")) {
    for (size_t i = 0; i < addresses->size() && r.ok(); ++i) {
      snap.addresses.push_back(AddressFromJson(
          r, (*addresses)[i], fmt::format("{}.addresses[{}]", root, i), snap.ifindex));
    }
  }
  if (const json* routes = r.Array(j, root, "routes")) {
    for (size_t i = 0; i < routes->size() && r.ok(); ++i) {
      snap.routes.push_back(RouteFromJson(r, (*routes)[i], fmt::format("{}.routes[{}]", root, i)));
    }
  }
  if (!r.ok()) return r.status();
  if (snap.name.empty() || snap.name.size() >= IFNAMSIZ) {
    return Failure(EINVAL, "snapshot JSON: snapshot.name: '{}' is not an interface name",
                   snap.name);
  }
  return snap;
}

Status ApplyAddressesAndRoutes(Netlink& nl, int ifindex, const LinkSnapshot& snap) {
  Result<Netlink::LinkInfo> link = nl.GetLink(ifindex);
  if (!link.ok()) return link.status().WithContext("apply addresses and routes");
  Status status =
      ApplyWanted(nl, WantedAddresses(snap, ifindex, link->name), WantedRoutes(snap, ifindex));
  return status.WithContext(
      fmt::format("put the addresses and routes of '{}' on '{}'", snap.name, link->name));
}

Status RestoreLink(Netlink& nl, Ethtool& ethtool, int ifindex, const LinkSnapshot& snap) {
  const std::string what = fmt::format("restore link '{}' (now index {})", snap.name, ifindex);
  Result<Netlink::LinkInfo> current = nl.GetLink(ifindex);
  if (!current.ok()) return current.status().WithContext(what);
  Failures failures;
  const Netlink::LinkInfo& cur = *current;
  const bool rename = cur.name != snap.name;
  const bool set_mac = !IsZeroMac(snap.mac) && cur.mac != snap.mac;
  bool is_up = cur.admin_up;
  // Most drivers refuse a rename (and many a MAC change) while the link is up.
  if ((rename || set_mac) && is_up) {
    Status status = nl.SetLinkUp(ifindex, false);
    failures.Add(status);
    if (status.ok()) is_up = false;
  }
  std::string name = cur.name;
  if (rename) {
    Result<int> holder = nl.LinkIndex(snap.name);
    if (holder.ok() && *holder != ifindex) {
      failures.Add(Failure(EEXIST, "cannot rename '{}' back to '{}': link index {} has that name",
                           cur.name, snap.name, *holder));
    } else {
      Status status = nl.SetLinkName(ifindex, snap.name);
      failures.Add(status);
      if (status.ok()) name = snap.name;
    }
  }
  if (set_mac) failures.Add(nl.SetLinkMac(ifindex, snap.mac));
  if (snap.mtu != 0 && cur.mtu != snap.mtu) failures.Add(nl.SetLinkMtu(ifindex, snap.mtu));
  if (cur.promisc != snap.promisc) failures.Add(nl.SetLinkPromisc(ifindex, snap.promisc));
  if (snap.channels) {
    Result<Channels> channels = ethtool.GetChannels(name);
    if (!channels.ok()) {
      failures.Add(channels.status());
    } else if (!channels->SameCounts(*snap.channels)) {
      failures.Add(ethtool.SetChannels(name, *snap.channels));
    }
  }
  // Admin state before addresses and routes: IPv4 routes need an up link, and taking a link
  // down drops its IPv6 addresses.
  if (snap.admin_up != is_up) failures.Add(nl.SetLinkUp(ifindex, snap.admin_up));

  const std::vector<AddressInfo> addresses = WantedAddresses(snap, ifindex, name);
  const std::vector<RouteInfo> routes = WantedRoutes(snap, ifindex);
  failures.Add(RemoveMismatchedAddresses(nl, ifindex, addresses));
  failures.Add(RemoveExtraRoutes(nl, ifindex, routes));
  failures.Add(ApplyWanted(nl, addresses, routes));
  return failures.ToStatus(what);
}

Status RestoreLink(Netlink& nl, int ifindex, const LinkSnapshot& snap) {
  const std::string what = fmt::format("restore link '{}' (now index {})", snap.name, ifindex);
  Result<int> netns = nl.OpenSocketNetns();
  if (!netns.ok()) return netns.status().WithContext(what);
  Result<std::unique_ptr<Ethtool>> ethtool = Ethtool::OpenIn(*netns);
  close(*netns);
  if (!ethtool.ok()) return ethtool.status().WithContext(what);
  return RestoreLink(nl, **ethtool, ifindex, snap);
}

}  // namespace uplinkd
