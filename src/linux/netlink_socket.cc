#include "linux/netlink_socket.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

#include "common/parse.h"

namespace uplinkd {
namespace {

// Requests are small: a header, a struct and a few attributes.
constexpr size_t kRequestSize = 1024;

struct RequestBuffer {
  alignas(nlmsghdr) char data[kRequestSize];
};
// Routes carry metrics and multipath legs (bounded by kMaxNexthops).
struct RouteRequestBuffer {
  alignas(nlmsghdr) char data[4096];
};
constexpr size_t kMaxNexthops = 64;

template <typename Buffer>
nlmsghdr* StartRequest(Buffer& buf, uint16_t type, uint16_t flags) {
  std::memset(buf.data, 0, sizeof(buf.data));
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  return nlh;
}

ifinfomsg* PutIfinfo(nlmsghdr* nlh, int ifindex) {
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  return ifi;
}

Status CheckIfname(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return Failure(EINVAL, "interface name '{}' must have 1 to {} characters", name, IFNAMSIZ - 1);
  }
  if (name.find_first_of("/: \t\n") != std::string::npos || name == "." || name == "..") {
    return Failure(EINVAL, "invalid interface name '{}'", name);
  }
  return Status::Ok();
}

struct LinkAttrs {
  const nlattr* tb[IFLA_MAX + 1] = {};
};

int LinkAttr(const nlattr* attr, void* data) {
  uint16_t type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, IFLA_MAX) > 0) static_cast<LinkAttrs*>(data)->tb[type] = attr;
  return MNL_CB_OK;
}

Netlink::LinkInfo ParseLink(const nlmsghdr* nlh) {
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  LinkAttrs attrs;
  mnl_attr_parse(nlh, sizeof(ifinfomsg), LinkAttr, &attrs);
  Netlink::LinkInfo info;
  info.ifindex = ifi->ifi_index;
  info.admin_up = (ifi->ifi_flags & IFF_UP) != 0;
  info.oper_up = (ifi->ifi_flags & IFF_RUNNING) != 0;
  info.promisc = (ifi->ifi_flags & IFF_PROMISC) != 0;
  const nlattr* name = attrs.tb[IFLA_IFNAME];
  if (name != nullptr && mnl_attr_validate(name, MNL_TYPE_NUL_STRING) >= 0) {
    info.name = mnl_attr_get_str(name);
  }
  if (const nlattr* a = attrs.tb[IFLA_ADDRESS]; a && mnl_attr_get_payload_len(a) == 6) {
    std::memcpy(info.mac.data(), mnl_attr_get_payload(a), 6);
  }
  auto u32 = [&](int type) -> uint32_t {
    const nlattr* a = attrs.tb[type];
    return (a && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) ? mnl_attr_get_u32(a) : 0;
  };
  info.mtu = u32(IFLA_MTU);
  info.promiscuity = u32(IFLA_PROMISCUITY);
  info.num_rx_queues = u32(IFLA_NUM_RX_QUEUES);
  info.num_tx_queues = u32(IFLA_NUM_TX_QUEUES);
  if (const nlattr* a = attrs.tb[IFLA_IFALIAS]; a && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0) {
    info.alias.assign(static_cast<const char*>(mnl_attr_get_payload(a)),
                      strnlen(static_cast<const char*>(mnl_attr_get_payload(a)),
                              mnl_attr_get_payload_len(a)));
  }
  if (const nlattr* linkinfo = attrs.tb[IFLA_LINKINFO]; linkinfo != nullptr) {
    const char* begin = static_cast<const char*>(mnl_attr_get_payload(linkinfo));
    const char* end = begin + mnl_attr_get_payload_len(linkinfo);
    for (const nlattr* nested = reinterpret_cast<const nlattr*>(begin);
         mnl_attr_ok(nested, static_cast<int>(end - reinterpret_cast<const char*>(nested)));
         nested = mnl_attr_next(nested)) {
      if (mnl_attr_get_type(nested) == IFLA_INFO_KIND &&
          mnl_attr_validate(nested, MNL_TYPE_STRING) >= 0) {
        info.kind.assign(static_cast<const char*>(mnl_attr_get_payload(nested)),
                         strnlen(static_cast<const char*>(mnl_attr_get_payload(nested)),
                                 mnl_attr_get_payload_len(nested)));
      }
    }
  }
  return info;
}

struct AddrAttrs {
  const nlattr* tb[IFA_MAX + 1] = {};
};

int AddrAttr(const nlattr* attr, void* data) {
  uint16_t type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, IFA_MAX) > 0) static_cast<AddrAttrs*>(data)->tb[type] = attr;
  return MNL_CB_OK;
}

struct RouteAttrs {
  const nlattr* tb[RTA_MAX + 1] = {};
};

int RouteAttr(const nlattr* attr, void* data) {
  uint16_t type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, RTA_MAX) > 0) static_cast<RouteAttrs*>(data)->tb[type] = attr;
  return MNL_CB_OK;
}

// A full-length host prefix from an address attribute, if it has `family`'s size.
bool ReadAddress(const nlattr* attr, int family, IpPrefix* out) {
  size_t size = family == AF_INET ? 4 : 16;
  if (attr == nullptr || mnl_attr_get_payload_len(attr) != size) return false;
  out->family = family;
  out->prefix_len = static_cast<uint8_t>(size * 8);
  std::memcpy(out->bytes, mnl_attr_get_payload(attr), size);
  return true;
}

bool IsSet(const IpPrefix& p) { return p.family == AF_INET || p.family == AF_INET6; }

std::string AddressText(const IpPrefix& p) {
  char text[INET6_ADDRSTRLEN] = {};
  if (!IsSet(p)) return "";
  inet_ntop(p.family, p.bytes, text, sizeof(text));
  return text;
}

// Only RTNH_F_ONLINK is a user's choice; dead/linkdown/offload/trap are kernel state.
constexpr uint32_t kSettableRouteFlags = RTNH_F_ONLINK;

struct MetricsCollector {
  std::vector<std::pair<uint16_t, uint32_t>>* out;
};

int MetricAttr(const nlattr* attr, void* data) {
  auto* metrics = static_cast<MetricsCollector*>(data)->out;
  uint16_t type = mnl_attr_get_type(attr);
  // RTAX_CC_ALGO is a string; every other metric is a u32.
  if (type != RTAX_CC_ALGO && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0) {
    metrics->emplace_back(type, mnl_attr_get_u32(attr));
  }
  return MNL_CB_OK;
}

// Parses one RTM_NEWROUTE message; false for messages that are not a route we represent.
bool ParseRoute(const nlmsghdr* nlh, RouteInfo* route) {
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) return false;
  // IPv6 cache clones (PMTU exceptions) come and go with traffic; they are not configuration.
  if (rtm->rtm_flags & RTM_F_CLONED) return false;
  RouteAttrs attrs;
  mnl_attr_parse(nlh, sizeof(rtmsg), RouteAttr, &attrs);
  RouteInfo r;
  r.family = rtm->rtm_family;
  r.table = rtm->rtm_table;
  if (const nlattr* a = attrs.tb[RTA_TABLE]; a && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
    r.table = mnl_attr_get_u32(a);
  }
  r.type = rtm->rtm_type;
  r.protocol = rtm->rtm_protocol;
  r.scope = rtm->rtm_scope;
  r.tos = rtm->rtm_tos;
  r.flags = rtm->rtm_flags & kSettableRouteFlags;
  r.dst.family = r.family;
  r.dst.prefix_len = rtm->rtm_dst_len;
  if (IpPrefix a; ReadAddress(attrs.tb[RTA_DST], r.family, &a)) {
    std::memcpy(r.dst.bytes, a.bytes, sizeof(a.bytes));
  }
  r.src.family = r.family;
  r.src.prefix_len = rtm->rtm_src_len;
  if (IpPrefix a; ReadAddress(attrs.tb[RTA_SRC], r.family, &a)) {
    std::memcpy(r.src.bytes, a.bytes, sizeof(a.bytes));
  }
  ReadAddress(attrs.tb[RTA_GATEWAY], r.family, &r.gateway);
  ReadAddress(attrs.tb[RTA_PREFSRC], r.family, &r.prefsrc);
  if (const nlattr* a = attrs.tb[RTA_OIF]; a && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
    r.oif = static_cast<int>(mnl_attr_get_u32(a));
  }
  if (const nlattr* a = attrs.tb[RTA_PRIORITY]; a && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
    r.priority = mnl_attr_get_u32(a);
  }
  if (const nlattr* a = attrs.tb[RTA_PREF]; a && mnl_attr_validate(a, MNL_TYPE_U8) >= 0) {
    r.pref = mnl_attr_get_u8(a);
  }
  // The kernel reports the time left in RTA_CACHEINFO (clock ticks), and takes it in RTA_EXPIRES
  // (seconds).
  if (const nlattr* a = attrs.tb[RTA_CACHEINFO];
      a && r.family == AF_INET6 && mnl_attr_get_payload_len(a) >= sizeof(rta_cacheinfo)) {
    const auto* ci = static_cast<const rta_cacheinfo*>(mnl_attr_get_payload(a));
    long ticks = sysconf(_SC_CLK_TCK);
    if (ci->rta_expires > 0 && ticks > 0) {
      r.expires = static_cast<uint32_t>((ci->rta_expires + ticks - 1) / ticks);
    }
  }
  if (const nlattr* a = attrs.tb[RTA_METRICS]) {
    MetricsCollector collector{&r.metrics};
    mnl_attr_parse_nested(a, MetricAttr, &collector);
  }
  if (const nlattr* a = attrs.tb[RTA_MULTIPATH]) {
    const auto* rtnh = static_cast<const rtnexthop*>(mnl_attr_get_payload(a));
    int left = static_cast<int>(mnl_attr_get_payload_len(a));
    // Bounded by the attribute's length; a zero-length leg would loop, so it ends the walk.
    while (left >= static_cast<int>(sizeof(rtnexthop)) && rtnh->rtnh_len >= sizeof(rtnexthop) &&
           rtnh->rtnh_len <= left) {
      RouteNexthop nh;
      nh.ifindex = rtnh->rtnh_ifindex;
      nh.weight = static_cast<uint8_t>(rtnh->rtnh_hops + 1);
      nh.flags = rtnh->rtnh_flags & kSettableRouteFlags;
      const char* attr_start = reinterpret_cast<const char*>(rtnh) + RTNH_ALIGN(sizeof(rtnexthop));
      int attr_len = rtnh->rtnh_len - static_cast<int>(RTNH_ALIGN(sizeof(rtnexthop)));
      for (const auto* na = reinterpret_cast<const nlattr*>(attr_start);
           mnl_attr_ok(na, attr_len); na = mnl_attr_next(na)) {
        if (mnl_attr_get_type(na) == RTA_GATEWAY) ReadAddress(na, r.family, &nh.gateway);
        if (mnl_attr_get_type(na) == RTA_VIA) r.has_unsupported = true;
        attr_len -= static_cast<int>(MNL_ALIGN(na->nla_len));
      }
      r.nexthops.push_back(nh);
      left -= RTNH_ALIGN(rtnh->rtnh_len);
      rtnh = reinterpret_cast<const rtnexthop*>(reinterpret_cast<const char*>(rtnh) +
                                                RTNH_ALIGN(rtnh->rtnh_len));
    }
  }
  if (attrs.tb[RTA_NH_ID] || attrs.tb[RTA_VIA]) r.has_unsupported = true;
  *route = std::move(r);
  return true;
}

constexpr const char* kRouteTypeNames[] = {"unspec",  "unicast",     "local",     "broadcast",
                                           "anycast", "multicast",   "blackhole", "unreachable",
                                           "prohibit", "throw",      "nat",       "xresolve"};

}  // namespace

bool RouteInfo::IsKernelGenerated() const {
  if (protocol == RTPROT_KERNEL || table == RT_TABLE_LOCAL) return true;
  if (type == RTN_LOCAL || type == RTN_BROADCAST || type == RTN_ANYCAST || type == RTN_MULTICAST) {
    return true;
  }
  if (family == AF_INET6) {
    if (dst.bytes[0] == 0xff && dst.prefix_len >= 8) return true;  // ff00::/8 multicast
    if (dst.bytes[0] == 0xfe && (dst.bytes[1] & 0xc0) == 0x80 && dst.prefix_len == 64 &&
        protocol == RTPROT_KERNEL) {
      return true;  // fe80::/64, already covered by protocol; kept for clarity
    }
  }
  return false;
}

bool RouteInfo::UsesLink(int ifindex) const {
  if (ifindex <= 0) return false;
  if (oif == ifindex) return true;
  for (const RouteNexthop& nh : nexthops) {
    if (nh.ifindex == ifindex) return true;
  }
  return false;
}

std::string RouteInfo::ToString() const {
  std::string out;
  if (type != RTN_UNICAST && type < std::size(kRouteTypeNames)) {
    out += fmt::format("{} ", kRouteTypeNames[type]);
  }
  out += dst.prefix_len == 0 ? std::string("default") : dst.ToString();
  if (src.prefix_len != 0) out += " from " + src.ToString();
  if (IsSet(gateway)) out += " via " + AddressText(gateway);
  if (oif != 0) out += fmt::format(" dev {}", oif);
  for (const RouteNexthop& nh : nexthops) {
    out += " nexthop";
    if (IsSet(nh.gateway)) out += " via " + AddressText(nh.gateway);
    out += fmt::format(" dev {} weight {}", nh.ifindex, nh.weight);
  }
  out += fmt::format(" table {} proto {} scope {} metric {}", table, protocol, scope, priority);
  if (IsSet(prefsrc)) out += " src " + AddressText(prefsrc);
  if (flags & RTNH_F_ONLINK) out += " onlink";
  return out;
}

std::string IpPrefix::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family != AF_INET && family != AF_INET6) return "<no address>";
  inet_ntop(family, bytes, text, sizeof(text));
  return fmt::format("{}/{}", text, prefix_len);
}

bool IpPrefix::operator==(const IpPrefix& o) const {
  return family == o.family && prefix_len == o.prefix_len &&
         std::memcmp(bytes, o.bytes, size()) == 0;
}

Result<IpPrefix> ParseCidr(const std::string& cidr) {
  IpPrefix p;
  std::string addr = cidr;
  std::optional<uint64_t> len;
  if (size_t slash = cidr.find('/'); slash != std::string::npos) {
    addr = cidr.substr(0, slash);
    len = ParseUnsigned(std::string_view(cidr).substr(slash + 1));
    if (!len) return Failure(EINVAL, "invalid prefix length in '{}'", cidr);
  }
  if (inet_pton(AF_INET, addr.c_str(), p.bytes) == 1) {
    p.family = AF_INET;
  } else if (inet_pton(AF_INET6, addr.c_str(), p.bytes) == 1) {
    p.family = AF_INET6;
  } else {
    return Failure(EINVAL, "'{}' is not an IPv4 or IPv6 address with a prefix length", cidr);
  }
  uint64_t max = p.family == AF_INET ? 32 : 128;
  if (len && *len > max) return Failure(EINVAL, "prefix length in '{}' exceeds {}", cidr, max);
  p.prefix_len = static_cast<uint8_t>(len ? *len : max);
  return p;
}

Result<std::unique_ptr<Netlink>> Netlink::Open() {
  auto channel = NetlinkChannel::Open(NETLINK_ROUTE);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<Netlink> self(new Netlink(std::move(channel).value()));
  return self;
}

Netlink::~Netlink() = default;

Status Netlink::Transact(nlmsghdr* req, const MessageFn& on_message) {
  if (channel_ == nullptr) return Failure(EBADF, "netlink socket not open");
  return channel_->Transact(req, on_message);
}

std::string Netlink::DescribeLink(int ifindex) {
  Result<LinkInfo> info = GetLink(ifindex);
  if (!info.ok()) return fmt::format("link index {}", ifindex);
  return fmt::format("link '{}' (index {})", info->name, ifindex);
}

Result<Netlink::LinkInfo> Netlink::GetLink(const std::string& ifname) {
  UPLINKD_RETURN_IF_ERROR(CheckIfname(ifname));
  RequestBuffer buf;
  nlmsghdr* nlh = StartRequest(buf, RTM_GETLINK, 0);
  PutIfinfo(nlh, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname.c_str());
  // Keeps the reply small: no VF or stats blocks.
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, 0);
  LinkInfo info;
  Status status = Transact(nlh, [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type == RTM_NEWLINK) info = ParseLink(reply);
    return Status::Ok();
  });
  if (status.code() == ENODEV) {
    return Failure(ENODEV, "interface '{}' does not exist in this network namespace", ifname);
  }
  if (!status.ok()) return status.WithContext(fmt::format("get link '{}'", ifname));
  return info;
}

Result<Netlink::LinkInfo> Netlink::GetLink(int ifindex) {
  if (ifindex <= 0) return Failure(EINVAL, "invalid interface index {}", ifindex);
  RequestBuffer buf;
  nlmsghdr* nlh = StartRequest(buf, RTM_GETLINK, 0);
  PutIfinfo(nlh, ifindex);
  LinkInfo info;
  Status status = Transact(nlh, [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type == RTM_NEWLINK) info = ParseLink(reply);
    return Status::Ok();
  });
  if (status.code() == ENODEV) {
    return Failure(ENODEV, "no interface with index {} in this network namespace", ifindex);
  }
  if (!status.ok()) return status.WithContext(fmt::format("get link index {}", ifindex));
  return info;
}

Result<int> Netlink::LinkIndex(const std::string& ifname) {
  Result<LinkInfo> info = GetLink(ifname);
  if (!info.ok()) return info.status();
  return info->ifindex;
}

Status Netlink::SetLinkAttribute(int ifindex, const std::function<void(nlmsghdr*)>& fill) {
  if (ifindex <= 0) return Failure(EINVAL, "invalid interface index {}", ifindex);
  RequestBuffer buf;
  nlmsghdr* nlh = StartRequest(buf, RTM_NEWLINK, 0);
  PutIfinfo(nlh, ifindex);
  fill(nlh);
  return Transact(nlh);
}

Status Netlink::SetLinkUp(int ifindex, bool up) {
  Status status = SetLinkAttribute(ifindex, [&](nlmsghdr* nlh) {
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = up ? IFF_UP : 0;
  });
  if (status.ok()) return status;
  return status.WithContext(fmt::format("set {} {}", DescribeLink(ifindex), up ? "up" : "down"));
}

Status Netlink::SetLinkMac(int ifindex, const MacAddress& mac) {
  Status status = SetLinkAttribute(
      ifindex, [&](nlmsghdr* nlh) { mnl_attr_put(nlh, IFLA_ADDRESS, mac.size(), mac.data()); });
  if (status.ok()) return status;
  return status.WithContext(fmt::format("set mac {} on {}", FormatMac(mac), DescribeLink(ifindex)));
}

Status Netlink::SetLinkMtu(int ifindex, uint32_t mtu) {
  Status status =
      SetLinkAttribute(ifindex, [&](nlmsghdr* nlh) { mnl_attr_put_u32(nlh, IFLA_MTU, mtu); });
  if (status.ok()) return status;
  return status.WithContext(fmt::format("set mtu {} on {}", mtu, DescribeLink(ifindex)));
}

Status Netlink::SetLinkPromisc(int ifindex, bool on) {
  Status status = SetLinkAttribute(ifindex, [&](nlmsghdr* nlh) {
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    ifi->ifi_change = IFF_PROMISC;
    ifi->ifi_flags = on ? IFF_PROMISC : 0;
  });
  if (status.ok()) return status;
  return status.WithContext(
      fmt::format("set promisc {} on {}", on ? "on" : "off", DescribeLink(ifindex)));
}

Status Netlink::SetLinkName(int ifindex, const std::string& name) {
  Status status = CheckIfname(name);
  if (status.ok()) {
    status = SetLinkAttribute(
        ifindex, [&](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str()); });
  }
  if (status.ok()) return status;
  return status.WithContext(fmt::format("rename {} to '{}'", DescribeLink(ifindex), name));
}

Status Netlink::SetLinkAlias(int ifindex, const std::string& alias) {
  if (alias.size() >= IFALIASZ) {
    return Failure(EINVAL, "alias '{}' is longer than {} bytes", alias, IFALIASZ - 1);
  }
  Status status = SetLinkAttribute(ifindex, [&](nlmsghdr* nlh) {
    mnl_attr_put(nlh, IFLA_IFALIAS, alias.size(), alias.data());
  });
  if (status.ok()) return status;
  return status.WithContext(fmt::format("set alias '{}' on {}", alias, DescribeLink(ifindex)));
}

Status Netlink::MoveLinkToNetns(int ifindex, int netns_fd) {
  Status status = SetLinkAttribute(ifindex, [&](nlmsghdr* nlh) {
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
  });
  if (status.ok()) return status;
  return status.WithContext(
      fmt::format("move {} to network namespace fd {}", DescribeLink(ifindex), netns_fd));
}

Status Netlink::DeleteLink(int ifindex) {
  Status status;
  if (ifindex <= 0) {
    status = Failure(EINVAL, "invalid interface index {}", ifindex);
  } else {
    RequestBuffer buf;
    nlmsghdr* nlh = StartRequest(buf, RTM_DELLINK, 0);
    PutIfinfo(nlh, ifindex);
    status = Transact(nlh);
  }
  if (status.ok()) return status;
  return status.WithContext(fmt::format("delete {}", DescribeLink(ifindex)));
}

Status Netlink::ChangeAddress(int ifindex, const std::string& cidr, bool add) {
  Result<IpPrefix> prefix = ParseCidr(cidr);
  Status status = prefix.status();
  if (status.ok() && ifindex <= 0) status = Failure(EINVAL, "invalid interface index {}", ifindex);
  if (status.ok()) {
    RequestBuffer buf;
    nlmsghdr* nlh = add ? StartRequest(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
                        : StartRequest(buf, RTM_DELADDR, 0);
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = static_cast<uint8_t>(prefix->family);
    ifa->ifa_prefixlen = prefix->prefix_len;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = static_cast<uint32_t>(ifindex);
    // As `ip addr` does: IPv4 needs IFA_LOCAL (the address itself; IFA_ADDRESS is the peer).
    mnl_attr_put(nlh, IFA_LOCAL, prefix->size(), prefix->bytes);
    mnl_attr_put(nlh, IFA_ADDRESS, prefix->size(), prefix->bytes);
    status = Transact(nlh);
  }
  if (status.ok()) return status;
  return status.WithContext(fmt::format("{} address {} {} {}", add ? "add" : "delete", cidr,
                                        add ? "to" : "from", DescribeLink(ifindex)));
}

Status Netlink::AddAddress(int ifindex, const std::string& cidr) {
  return ChangeAddress(ifindex, cidr, true);
}

Status Netlink::DeleteAddress(int ifindex, const std::string& cidr) {
  return ChangeAddress(ifindex, cidr, false);
}

Result<std::vector<Netlink::AddressInfo>> Netlink::ListAddresses(int ifindex) {
  RequestBuffer buf;
  nlmsghdr* nlh = StartRequest(buf, RTM_GETADDR, NLM_F_DUMP);
  auto* req = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  req->ifa_family = AF_UNSPEC;
  std::vector<AddressInfo> out;
  Status status = Transact(nlh, [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type != RTM_NEWADDR) return Status::Ok();
    const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(reply));
    if (ifindex != 0 && static_cast<int>(ifa->ifa_index) != ifindex) return Status::Ok();
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return Status::Ok();
    AddrAttrs attrs;
    mnl_attr_parse(reply, sizeof(ifaddrmsg), AddrAttr, &attrs);
    AddressInfo info;
    info.ifindex = static_cast<int>(ifa->ifa_index);
    info.scope = ifa->ifa_scope;
    info.flags = ifa->ifa_flags;
    info.prefix.family = ifa->ifa_family;
    info.prefix.prefix_len = ifa->ifa_prefixlen;
    const nlattr* a = attrs.tb[IFA_LOCAL] ? attrs.tb[IFA_LOCAL] : attrs.tb[IFA_ADDRESS];
    if (a == nullptr || mnl_attr_get_payload_len(a) != info.prefix.size()) return Status::Ok();
    std::memcpy(info.prefix.bytes, mnl_attr_get_payload(a), info.prefix.size());
    if (const nlattr* f = attrs.tb[IFA_FLAGS]; f && mnl_attr_validate(f, MNL_TYPE_U32) >= 0) {
      info.flags = mnl_attr_get_u32(f);
    }
    // Point-to-point: IFA_LOCAL is ours, IFA_ADDRESS the peer's.
    if (attrs.tb[IFA_LOCAL] != nullptr) {
      IpPrefix peer;
      if (ReadAddress(attrs.tb[IFA_ADDRESS], info.prefix.family, &peer) &&
          std::memcmp(peer.bytes, info.prefix.bytes, info.prefix.size()) != 0) {
        peer.prefix_len = info.prefix.prefix_len;
        info.peer = peer;
      }
    }
    ReadAddress(attrs.tb[IFA_BROADCAST], info.prefix.family, &info.broadcast);
    if (const nlattr* l = attrs.tb[IFA_LABEL];
        l && mnl_attr_validate(l, MNL_TYPE_NUL_STRING) >= 0) {
      info.label = mnl_attr_get_str(l);
    }
    if (const nlattr* c = attrs.tb[IFA_CACHEINFO];
        c && mnl_attr_get_payload_len(c) >= sizeof(ifa_cacheinfo)) {
      const auto* ci = static_cast<const ifa_cacheinfo*>(mnl_attr_get_payload(c));
      info.valid_lft = ci->ifa_valid;
      info.preferred_lft = ci->ifa_prefered;
    }
    if (const nlattr* m = attrs.tb[IFA_RT_PRIORITY];
        m && mnl_attr_validate(m, MNL_TYPE_U32) >= 0) {
      info.metric = mnl_attr_get_u32(m);
    }
    if (const nlattr* p = attrs.tb[IFA_PROTO]; p && mnl_attr_validate(p, MNL_TYPE_U8) >= 0) {
      info.proto = mnl_attr_get_u8(p);
    }
    out.push_back(info);
    return Status::Ok();
  });
  if (!status.ok()) return status.WithContext("list addresses");
  return out;
}

Status Netlink::ChangeAddressInfo(const AddressInfo& addr, AddressChange change) {
  const bool add = change != AddressChange::kDelete;
  Status status;
  if (addr.ifindex <= 0) status = Failure(EINVAL, "invalid interface index {}", addr.ifindex);
  if (status.ok() && !IsSet(addr.prefix)) status = Failure(EINVAL, "address without a family");
  if (status.ok()) {
    RequestBuffer buf;
    nlmsghdr* nlh = change == AddressChange::kAdd
                        ? StartRequest(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
                    : change == AddressChange::kReplace ? StartRequest(buf, RTM_NEWADDR, NLM_F_REPLACE)
                                                        : StartRequest(buf, RTM_DELADDR, 0);
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = static_cast<uint8_t>(addr.prefix.family);
    ifa->ifa_prefixlen = addr.prefix.prefix_len;
    ifa->ifa_index = static_cast<uint32_t>(addr.ifindex);
    const IpPrefix& peer = IsSet(addr.peer) ? addr.peer : addr.prefix;
    mnl_attr_put(nlh, IFA_LOCAL, addr.prefix.size(), addr.prefix.bytes);
    mnl_attr_put(nlh, IFA_ADDRESS, peer.size(), peer.bytes);
    if (add) {
      const uint32_t flags = addr.flags & kSettableAddressFlags;
      ifa->ifa_scope = addr.scope;
      ifa->ifa_flags = static_cast<uint8_t>(flags & 0xff);
      mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
      if (IsSet(addr.broadcast)) {
        mnl_attr_put(nlh, IFA_BROADCAST, addr.broadcast.size(), addr.broadcast.bytes);
      }
      if (!addr.label.empty() && addr.prefix.family == AF_INET) {
        if (addr.label.size() >= IFNAMSIZ) {
          return Failure(EINVAL, "address label '{}' is longer than {} characters", addr.label,
                         IFNAMSIZ - 1);
        }
        mnl_attr_put_strz(nlh, IFA_LABEL, addr.label.c_str());
      }
      if (addr.valid_lft != AddressInfo::kForever || addr.preferred_lft != AddressInfo::kForever) {
        ifa_cacheinfo ci{};
        ci.ifa_valid = addr.valid_lft;
        ci.ifa_prefered = addr.preferred_lft;
        mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
      }
      if (addr.metric != 0) mnl_attr_put_u32(nlh, IFA_RT_PRIORITY, addr.metric);
      if (addr.proto != 0) mnl_attr_put_u8(nlh, IFA_PROTO, addr.proto);
    }
    status = Transact(nlh);
  }
  if (status.ok()) return status;
  const char* verb = change == AddressChange::kAdd       ? "add"
                     : change == AddressChange::kReplace ? "replace"
                                                         : "delete";
  return status.WithContext(fmt::format("{} address {} {} {}", verb, addr.prefix.ToString(),
                                        add ? "on" : "from", DescribeLink(addr.ifindex)));
}

Status Netlink::AddAddressInfo(const AddressInfo& addr) {
  return ChangeAddressInfo(addr, AddressChange::kAdd);
}

Status Netlink::ReplaceAddressInfo(const AddressInfo& addr) {
  return ChangeAddressInfo(addr, AddressChange::kReplace);
}

Status Netlink::DeleteAddressInfo(const AddressInfo& addr) {
  return ChangeAddressInfo(addr, AddressChange::kDelete);
}

Result<std::vector<RouteInfo>> Netlink::ListRoutes(int family) {
  if (family != AF_INET && family != AF_INET6 && family != AF_UNSPEC) {
    return Failure(EAFNOSUPPORT, "list routes: family {} is not IPv4 or IPv6", family);
  }
  std::vector<RouteInfo> out;
  // One dump per family: an AF_UNSPEC dump would walk every family (MPLS, multicast...).
  for (int f : {AF_INET, AF_INET6}) {
    if (family != AF_UNSPEC && family != f) continue;
    RequestBuffer buf;
    nlmsghdr* nlh = StartRequest(buf, RTM_GETROUTE, NLM_F_DUMP);
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = static_cast<uint8_t>(f);
    // No RTA_TABLE filter: the kernel then dumps every table.
    Status status = Transact(nlh, [&](const nlmsghdr* reply) {
      if (reply->nlmsg_type != RTM_NEWROUTE) return Status::Ok();
      RouteInfo route;
      if (ParseRoute(reply, &route)) out.push_back(std::move(route));
      return Status::Ok();
    });
    if (!status.ok()) {
      return status.WithContext(fmt::format("list {} routes", f == AF_INET ? "IPv4" : "IPv6"));
    }
  }
  return out;
}

Status Netlink::ChangeRoute(const RouteInfo& route, bool add) {
  if (route.family != AF_INET && route.family != AF_INET6) {
    return Failure(EAFNOSUPPORT, "route {}: family is not IPv4 or IPv6", route.ToString());
  }
  if (add && route.has_unsupported) {
    return Failure(EOPNOTSUPP, "route {}: nexthop objects and RTA_VIA are not supported",
                   route.ToString());
  }
  if (route.nexthops.size() > kMaxNexthops) {
    return Failure(E2BIG, "route {}: more than {} nexthops", route.ToString(), kMaxNexthops);
  }
  auto family_ok = [&](const IpPrefix& p) { return !IsSet(p) || p.family == route.family; };
  bool families_match = family_ok(route.gateway) && family_ok(route.prefsrc) &&
                        route.dst.family == route.family &&
                        (route.src.prefix_len == 0 || route.src.family == route.family);
  for (const RouteNexthop& nh : route.nexthops) families_match &= family_ok(nh.gateway);
  if (!families_match) {
    return Failure(EINVAL, "route {}: addresses of another family", route.ToString());
  }

  RouteRequestBuffer buf;
  nlmsghdr* nlh = add ? StartRequest(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL)
                      : StartRequest(buf, RTM_DELROUTE, 0);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(route.family);
  rtm->rtm_dst_len = route.dst.prefix_len;
  rtm->rtm_src_len = route.src.prefix_len;
  rtm->rtm_tos = route.tos;
  rtm->rtm_table = route.table < 256 ? static_cast<uint8_t>(route.table)
                                      : static_cast<uint8_t>(RT_TABLE_UNSPEC);
  rtm->rtm_protocol = route.protocol;
  rtm->rtm_type = route.type != RTN_UNSPEC ? route.type : static_cast<uint8_t>(RTN_UNICAST);
  // A delete matches any scope, as `ip route del` does.
  rtm->rtm_scope = add ? route.scope : static_cast<uint8_t>(RT_SCOPE_NOWHERE);
  rtm->rtm_flags = route.flags & kSettableRouteFlags;
  mnl_attr_put_u32(nlh, RTA_TABLE, route.table);
  if (route.dst.prefix_len > 0) mnl_attr_put(nlh, RTA_DST, route.dst.size(), route.dst.bytes);
  if (route.src.prefix_len > 0) mnl_attr_put(nlh, RTA_SRC, route.src.size(), route.src.bytes);
  if (IsSet(route.gateway)) {
    mnl_attr_put(nlh, RTA_GATEWAY, route.gateway.size(), route.gateway.bytes);
  }
  if (IsSet(route.prefsrc)) {
    mnl_attr_put(nlh, RTA_PREFSRC, route.prefsrc.size(), route.prefsrc.bytes);
  }
  if (route.oif > 0) mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(route.oif));
  mnl_attr_put_u32(nlh, RTA_PRIORITY, route.priority);
  if (add && route.family == AF_INET6) {
    if (route.pref != 0) mnl_attr_put_u8(nlh, RTA_PREF, route.pref);
    if (route.expires != 0) mnl_attr_put_u32(nlh, RTA_EXPIRES, route.expires);
  }
  if (add && !route.metrics.empty()) {
    nlattr* nest = mnl_attr_nest_start(nlh, RTA_METRICS);
    for (const auto& [type, value] : route.metrics) mnl_attr_put_u32(nlh, type, value);
    mnl_attr_nest_end(nlh, nest);
  }
  if (!route.nexthops.empty()) {
    nlattr* nest = mnl_attr_nest_start(nlh, RTA_MULTIPATH);
    for (const RouteNexthop& nh : route.nexthops) {
      auto* rtnh = static_cast<rtnexthop*>(mnl_nlmsg_get_payload_tail(nlh));
      nlh->nlmsg_len += RTNH_ALIGN(sizeof(rtnexthop));
      std::memset(rtnh, 0, sizeof(*rtnh));
      rtnh->rtnh_ifindex = nh.ifindex;
      rtnh->rtnh_hops = static_cast<uint8_t>(nh.weight > 0 ? nh.weight - 1 : 0);
      rtnh->rtnh_flags = static_cast<uint8_t>(nh.flags & kSettableRouteFlags);
      if (IsSet(nh.gateway)) mnl_attr_put(nlh, RTA_GATEWAY, nh.gateway.size(), nh.gateway.bytes);
      rtnh->rtnh_len = static_cast<unsigned short>(
          static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh)) - reinterpret_cast<char*>(rtnh));
    }
    mnl_attr_nest_end(nlh, nest);
  }
  Status status = Transact(nlh);
  if (status.ok()) return status;
  return status.WithContext(fmt::format("{} route {}", add ? "add" : "delete", route.ToString()));
}

Status Netlink::AddRoute(const RouteInfo& route) { return ChangeRoute(route, true); }

Status Netlink::DeleteRoute(const RouteInfo& route) { return ChangeRoute(route, false); }

Result<int> Netlink::OpenSocketNetns() {
  if (channel_ == nullptr) return Failure(EBADF, "netlink socket not open");
  int fd = ioctl(channel_->fd(), SIOCGSKNS);
  if (fd < 0) return ErrnoFailure("get the network namespace of the netlink socket (SIOCGSKNS)");
  return fd;
}

Result<std::unique_ptr<LinkMonitor>> LinkMonitor::Open() {
  mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (nl == nullptr) return ErrnoFailure("open netlink socket for link notifications");
  std::unique_ptr<LinkMonitor> self(new LinkMonitor(nl));
  if (mnl_socket_bind(nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
    return ErrnoFailure("subscribe to link notifications");
  }
  self->rx_buffer_.resize(NetlinkChannel::kRxBufferSize);
  return self;
}

LinkMonitor::~LinkMonitor() {
  if (nl_ != nullptr) mnl_socket_close(nl_);
}

int LinkMonitor::fd() const { return mnl_socket_get_fd(nl_); }

Result<std::vector<LinkMonitor::Event>> LinkMonitor::Drain() {
  std::vector<Event> events;
  while (true) {
    ssize_t n = mnl_socket_recvfrom(nl_, rx_buffer_.data(), rx_buffer_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return events;
      if (errno == EINTR) continue;
      return ErrnoFailure("read link notifications");
    }
    int len = static_cast<int>(n);
    for (const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(rx_buffer_.data());
         mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) continue;
      events.push_back(Event{nlh->nlmsg_type == RTM_DELLINK, ParseLink(nlh)});
    }
  }
}

}  // namespace uplinkd
