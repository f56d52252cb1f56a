// Snapshot JSON round trips and the restore logic against fakes (no root, no kernel state).
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include <map>

#include "linux/snapshot.h"

namespace uplinkd {
namespace {

IpPrefix P(const std::string& cidr) {
  Result<IpPrefix> p = ParseCidr(cidr);
  EXPECT_TRUE(p.ok()) << cidr;
  return p.ok() ? *p : IpPrefix{};
}

AddressInfo Addr(const std::string& cidr, uint32_t flags = IFA_F_PERMANENT,
                 const std::string& label = "") {
  AddressInfo a;
  a.ifindex = 7;
  a.prefix = P(cidr);
  a.flags = flags;
  a.label = label;
  return a;
}

RouteInfo Route(const std::string& dst, const std::string& via, uint8_t protocol = RTPROT_BOOT,
                uint32_t table = RT_TABLE_MAIN) {
  RouteInfo r;
  r.dst = P(dst);
  r.family = r.dst.family;
  r.src.family = r.family;
  r.table = table;
  r.type = RTN_UNICAST;
  r.protocol = protocol;
  r.scope = via.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  if (!via.empty()) r.gateway = P(via);
  r.oif = 7;
  r.priority = r.family == AF_INET6 ? 1024 : 0;
  return r;
}

LinkSnapshot SampleSnapshot() {
  LinkSnapshot s;
  s.name = "eth0";
  s.ifindex = 7;
  s.mac = {0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc};
  s.mtu = 1400;
  s.admin_up = true;
  s.oper_up = true;
  s.promisc = false;
  s.promiscuity = 1;
  s.num_rx_queues = 4;
  s.num_tx_queues = 4;
  s.channels = Channels{4, 4, 0, 0, 2, 3, 0, 0};
  s.driver = "virtio_net";
  s.bus_info = "virtio0";
  s.pci_id = "0000:00:03.0";
  s.pci_driver = "virtio-pci";
  s.netns_inode = 4026531840u;
  s.taken_at_boottime = 1000;
  AddressInfo v4 = Addr("198.18.0.2/24", IFA_F_PERMANENT, "eth0");
  v4.broadcast = P("198.18.0.255");
  AddressInfo v4b = Addr("198.18.1.2/24", IFA_F_PERMANENT, "eth0:1");
  v4b.metric = 50;
  AddressInfo v6 = Addr("2001:db8::2/64", IFA_F_PERMANENT | IFA_F_NODAD | IFA_F_NOPREFIXROUTE);
  v6.valid_lft = 86400;
  v6.preferred_lft = 3600;
  AddressInfo ptp = Addr("198.19.0.1/32");
  ptp.peer = P("198.19.0.2/32");
  AddressInfo ll = Addr("fe80::ff:feaa:bbcc/64");
  ll.scope = RT_SCOPE_LINK;
  ll.proto = 3;
  s.addresses = {v4, v4b, v6, ptp, ll};

  RouteInfo def4 = Route("0.0.0.0/0", "198.18.0.1");
  RouteInfo t100 = Route("198.51.100.0/24", "198.18.0.1", RTPROT_STATIC, 100);
  t100.metrics = {{RTAX_MTU, 1300}};
  t100.flags = RTNH_F_ONLINK;
  RouteInfo ss = Route("2001:db8:100::/64", "2001:db8::1");
  ss.src = P("2001:db8:5::/64");
  ss.pref = 1;
  ss.expires = 300;
  RouteInfo mp = Route("198.18.50.0/24", "");
  mp.oif = 0;
  mp.nexthops = {{P("198.18.0.1"), 7, 1, 0}, {P("198.18.9.1"), 9, 3, RTNH_F_ONLINK}};
  RouteInfo kernel = Route("198.18.0.0/24", "", RTPROT_KERNEL);
  kernel.prefsrc = P("198.18.0.2");
  s.routes = {def4, t100, ss, mp, kernel};
  return s;
}

TEST(SnapshotJsonTest, RoundTripKeepsEveryField) {
  LinkSnapshot snap = SampleSnapshot();
  nlohmann::json j = SnapshotToJson(snap);
  // Through text too, as the state file does.
  nlohmann::json reparsed = nlohmann::json::parse(j.dump(), nullptr, false);
  ASSERT_FALSE(reparsed.is_discarded());
  Result<LinkSnapshot> back = SnapshotFromJson(reparsed);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(SnapshotToJson(*back), j);

  EXPECT_EQ(back->name, "eth0");
  EXPECT_EQ(back->mac, snap.mac);
  EXPECT_EQ(back->channels, snap.channels);
  EXPECT_EQ(back->pci_id, "0000:00:03.0");
  EXPECT_EQ(back->netns_inode, 4026531840u);
  ASSERT_EQ(back->addresses.size(), snap.addresses.size());
  for (size_t i = 0; i < snap.addresses.size(); ++i) {
    const AddressInfo& a = snap.addresses[i];
    const AddressInfo& b = back->addresses[i];
    EXPECT_TRUE(a.prefix == b.prefix && a.peer == b.peer && a.broadcast == b.broadcast &&
                a.label == b.label && a.flags == b.flags && a.scope == b.scope &&
                a.valid_lft == b.valid_lft && a.preferred_lft == b.preferred_lft &&
                a.metric == b.metric && a.proto == b.proto && b.ifindex == 7)
        << i;
  }
  ASSERT_EQ(back->routes.size(), snap.routes.size());
  for (size_t i = 0; i < snap.routes.size(); ++i) {
    EXPECT_EQ(back->routes[i], snap.routes[i]) << snap.routes[i].ToString();
  }
  EXPECT_TRUE(back->routes[4].IsKernelGenerated());
  EXPECT_FALSE(back->routes[0].IsKernelGenerated());

  snap.channels.reset();
  back = SnapshotFromJson(SnapshotToJson(snap));
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->channels.has_value());
}

TEST(SnapshotJsonTest, BadFieldsAreErrorsThatNameThem) {
  const nlohmann::json good = SnapshotToJson(SampleSnapshot());
  struct Case {
    std::function<void(nlohmann::json&)> edit;
    std::string needle;
  };
  std::vector<Case> cases = {
      {[](nlohmann::json& j) { j.erase("name"); }, "snapshot.name: missing"},
      {[](nlohmann::json& j) { j["name"] = ""; }, "snapshot.name"},
      {[](nlohmann::json& j) { j["version"] = 99; }, "snapshot.version"},
      {[](nlohmann::json& j) { j["mtu"] = "1500"; }, "snapshot.mtu"},
      {[](nlohmann::json& j) { j["mtu"] = -1; }, "snapshot.mtu"},
      {[](nlohmann::json& j) { j["mtu"] = 1ull << 40; }, "snapshot.mtu: out of range"},
      {[](nlohmann::json& j) { j["mac"] = "02:00"; }, "snapshot.mac"},
      {[](nlohmann::json& j) { j["admin_up"] = 1; }, "snapshot.admin_up"},
      {[](nlohmann::json& j) {
         j["channels"] = {{"rx", 1}};
       },
       "snapshot.channels.tx"},
      {[](nlohmann::json& j) { j["addresses"] = 3; }, "snapshot.addresses"},
      {[](nlohmann::json& j) { j["addresses"][0]["address"] = "198.18.0.300/24"; },
       "snapshot.addresses[0].address"},
      {[](nlohmann::json& j) { j["addresses"][0]["broadcast"] = "2001:db8::1"; },
       "snapshot.addresses[0].broadcast"},
      {[](nlohmann::json& j) { j["routes"][1]["family"] = "ipx"; }, "snapshot.routes[1].family"},
      {[](nlohmann::json& j) { j["routes"][0]["gateway"] = "2001:db8::1"; },
       "snapshot.routes[0].gateway"},
      {[](nlohmann::json& j) { j["routes"][1]["metrics"] = {{1}}; },
       "snapshot.routes[1].metrics[0]"},
      {[](nlohmann::json& j) { j["routes"][3]["nexthops"][1].erase("ifindex"); },
       "snapshot.routes[3].nexthops[1].ifindex"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = good;
    c.edit(j);
    Result<LinkSnapshot> r = SnapshotFromJson(j);
    ASSERT_FALSE(r.ok()) << c.needle;
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos)
        << c.needle << " not in: " << r.status().message();
  }
  EXPECT_FALSE(SnapshotFromJson(nlohmann::json::array()).ok());
  EXPECT_FALSE(SnapshotFromJson(nlohmann::json()).ok());
}

// Records what restore asks of the kernel; links are a name -> LinkInfo map.
class FakeNetlink : public Netlink {
 public:
  std::map<int, LinkInfo> links;
  std::vector<AddressInfo> addresses;
  std::vector<RouteInfo> routes;
  std::vector<std::string> calls;
  std::map<std::string, int> route_failures;  // route text -> ENETUNREACH answers left

  Result<LinkInfo> GetLink(int ifindex) override {
    auto it = links.find(ifindex);
    if (it == links.end()) return Failure(ENODEV, "no link {}", ifindex);
    return it->second;
  }
  Result<LinkInfo> GetLink(const std::string& name) override {
    for (auto& [index, link] : links) {
      if (link.name == name) return link;
    }
    return Failure(ENODEV, "no link '{}'", name);
  }
  Result<int> LinkIndex(const std::string& name) override {
    Result<LinkInfo> l = GetLink(name);
    if (!l.ok()) return l.status();
    return l->ifindex;
  }
  Status SetLinkUp(int ifindex, bool up) override {
    calls.push_back(fmt::format("up {} {}", ifindex, up));
    links[ifindex].admin_up = up;
    return Status::Ok();
  }
  Status SetLinkName(int ifindex, const std::string& name) override {
    calls.push_back(fmt::format("name {} {}", ifindex, name));
    links[ifindex].name = name;
    return Status::Ok();
  }
  Status SetLinkMac(int ifindex, const MacAddress& mac) override {
    calls.push_back(fmt::format("mac {} {}", ifindex, FormatMac(mac)));
    links[ifindex].mac = mac;
    return Status::Ok();
  }
  Status SetLinkMtu(int ifindex, uint32_t mtu) override {
    calls.push_back(fmt::format("mtu {} {}", ifindex, mtu));
    links[ifindex].mtu = mtu;
    return Status::Ok();
  }
  Status SetLinkPromisc(int ifindex, bool on) override {
    calls.push_back(fmt::format("promisc {} {}", ifindex, on));
    links[ifindex].promisc = on;
    return Status::Ok();
  }
  Result<std::vector<AddressInfo>> ListAddresses(int ifindex) override {
    std::vector<AddressInfo> out;
    for (const AddressInfo& a : addresses) {
      if (ifindex == 0 || a.ifindex == ifindex) out.push_back(a);
    }
    return out;
  }
  Status AddAddressInfo(const AddressInfo& a) override {
    calls.push_back(fmt::format("addr {} {} {}", a.ifindex, a.prefix.ToString(), a.label));
    for (const AddressInfo& have : addresses) {
      if (have.ifindex == a.ifindex && have.prefix == a.prefix) return Failure(EEXIST, "exists");
    }
    addresses.push_back(a);
    return Status::Ok();
  }
  Status ReplaceAddressInfo(const AddressInfo& a) override {
    for (AddressInfo& have : addresses) {
      if (have.ifindex == a.ifindex && have.prefix == a.prefix) {
        have.flags = a.flags;
        return Status::Ok();
      }
    }
    return Failure(ENOENT, "no such address");
  }
  Status DeleteAddressInfo(const AddressInfo& a) override {
    calls.push_back(fmt::format("deladdr {} {}", a.ifindex, a.prefix.ToString()));
    std::erase_if(addresses, [&](const AddressInfo& h) {
      return h.ifindex == a.ifindex && h.prefix == a.prefix;
    });
    return Status::Ok();
  }
  Result<std::vector<RouteInfo>> ListRoutes(int) override { return routes; }
  Status AddRoute(const RouteInfo& r) override {
    std::string text = r.ToString();
    calls.push_back("route " + text);
    if (int& left = route_failures[text]; left > 0) {
      --left;
      return Failure(ENETUNREACH, "gateway not reachable yet");
    }
    for (const RouteInfo& have : routes) {
      if (have == r) return Failure(EEXIST, "exists");
    }
    routes.push_back(r);
    return Status::Ok();
  }
  Status DeleteRoute(const RouteInfo& r) override {
    calls.push_back("delroute " + r.ToString());
    std::erase_if(routes, [&](const RouteInfo& h) { return h == r; });
    return Status::Ok();
  }
};

class FakeEthtool : public Ethtool {
 public:
  Channels channels{4, 4, 0, 0, 4, 4, 0, 0};
  int sets = 0;
  Result<Channels> GetChannels(const std::string&) override { return channels; }
  Status SetChannels(const std::string&, const Channels& c) override {
    ++sets;
    channels.rx = c.rx;
    channels.tx = c.tx;
    return Status::Ok();
  }
};

// The snapshot's link 7 seen on link `to`.
RouteInfo MapRoute(RouteInfo r, int to = 20) {
  if (r.oif == 7) r.oif = to;
  for (RouteNexthop& nh : r.nexthops) {
    if (nh.ifindex == 7) nh.ifindex = to;
  }
  return r;
}

std::vector<std::string> CallsStartingWith(const FakeNetlink& nl, const std::string& prefix) {
  std::vector<std::string> out;
  for (const std::string& c : nl.calls) {
    if (c.rfind(prefix, 0) == 0) out.push_back(c);
  }
  return out;
}

TEST(ApplyAddressesAndRoutesTest, OrdersMapsAndRetries) {
  LinkSnapshot snap = SampleSnapshot();
  snap.taken_at_boottime = 0;  // long ago: the finite IPv6 lifetimes are shortened or expire
  snap.addresses[2].valid_lft = 0xfffffff0;
  snap.addresses[2].preferred_lft = 0xfffffff0;
  snap.routes[2].expires = 0;  // keep the source-specific route
  FakeNetlink nl;
  nl.links[20] = Netlink::LinkInfo{.ifindex = 20, .name = "tap0"};
  RouteInfo def4 = MapRoute(snap.routes[0]);
  nl.route_failures[def4.ToString()] = 2;

  Status status = ApplyAddressesAndRoutes(nl, 20, snap);
  ASSERT_TRUE(status.ok()) << status.message();

  // IPv4 in order with labels following the new name, then IPv6 in reverse listing order.
  EXPECT_EQ(CallsStartingWith(nl, "addr "),
            (std::vector<std::string>{"addr 20 198.18.0.2/24 tap0", "addr 20 198.18.1.2/24 tap0:1",
                                      "addr 20 198.19.0.1/32 ", "addr 20 fe80::ff:feaa:bbcc/64 ",
                                      "addr 20 2001:db8::2/64 "}));
  for (const AddressInfo& a : nl.addresses) {
    if (a.prefix.family == AF_INET6 && a.prefix.bytes[0] == 0x20) {
      EXPECT_LT(a.valid_lft, 0xfffffff0u);
      EXPECT_LT(a.preferred_lft, 0xfffffff0u);
    }
  }
  // The kernel route is skipped; every other route lands on ifindex 20 (the multipath leg on
  // link 9 stays there), the default route last, after its retries.
  ASSERT_EQ(nl.routes.size(), 4u);
  for (const RouteInfo& r : nl.routes) {
    EXPECT_FALSE(r.IsKernelGenerated());
    EXPECT_TRUE(r.UsesLink(20)) << r.ToString();
    EXPECT_FALSE(r.UsesLink(7)) << r.ToString();
  }
  EXPECT_TRUE(nl.routes[2].nexthops.size() == 2 && nl.routes[2].nexthops[1].ifindex == 9);
  EXPECT_EQ(nl.routes.back().ToString(), def4.ToString());
  EXPECT_EQ(nl.route_failures[def4.ToString()], 0);

  // Again: everything is there already (EEXIST), which is success.
  nl.calls.clear();
  status = ApplyAddressesAndRoutes(nl, 20, snap);
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(nl.routes.size(), 4u);
}

TEST(ApplyAddressesAndRoutesTest, ReportsEveryFailure) {
  LinkSnapshot snap = SampleSnapshot();
  FakeNetlink nl;
  nl.links[20] = Netlink::LinkInfo{.ifindex = 20, .name = "tap0"};
  snap.routes[1].has_unsupported = true;
  snap.routes[2].expires = 0;
  Status status = ApplyAddressesAndRoutes(nl, 20, snap);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("nexthop objects"), std::string::npos) << status.message();
  EXPECT_EQ(nl.routes.size(), 3u);                           // the others still went in
  EXPECT_FALSE(ApplyAddressesAndRoutes(nl, 21, snap).ok());  // no such link
}

TEST(ApplyAddressesAndRoutesTest, ExpiredRoutesAndAddressesAreLeftOut) {
  LinkSnapshot snap = SampleSnapshot();
  snap.taken_at_boottime = -1000000;  // far in the past: finite lifetimes are all over
  FakeNetlink nl;
  nl.links[20] = Netlink::LinkInfo{.ifindex = 20, .name = "tap0"};
  ASSERT_TRUE(ApplyAddressesAndRoutes(nl, 20, snap).ok());
  EXPECT_EQ(nl.addresses.size(), 4u);  // not 2001:db8::2 (valid for a day)
  EXPECT_EQ(nl.routes.size(), 3u);     // not the route that expired after 300 s
}

TEST(RestoreLinkTest, RestoresEverythingButANameSomeoneElseHolds) {
  LinkSnapshot snap = SampleSnapshot();
  snap.addresses.resize(2);
  snap.routes = {snap.routes[0]};
  FakeNetlink nl;
  FakeEthtool ethtool;
  nl.links[30] = Netlink::LinkInfo{
      .ifindex = 30, .name = "renamed", .mtu = 9000, .admin_up = true, .promisc = true};
  nl.links[31] = Netlink::LinkInfo{.ifindex = 31, .name = "eth0"};  // e.g. the host tap
  // A stray address and route on the link, and one snapshot address already there.
  nl.addresses.push_back(Addr("198.18.7.7/24"));
  nl.addresses.back().ifindex = 30;
  nl.addresses.push_back(Addr("198.18.0.2/24", IFA_F_PERMANENT, "renamed"));
  nl.addresses.back().ifindex = 30;
  nl.addresses.back().broadcast = P("198.18.0.255");
  RouteInfo stray = Route("203.0.113.0/24", "198.18.7.1");
  stray.oif = 30;
  nl.routes.push_back(stray);

  Status status = RestoreLink(nl, ethtool, 30, snap);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), EEXIST);
  EXPECT_NE(status.message().find("index 31 has that name"), std::string::npos) << status.message();
  const Netlink::LinkInfo& link = nl.links[30];
  EXPECT_EQ(link.name, "renamed");  // not stolen from link 31
  EXPECT_EQ(nl.links[31].name, "eth0");
  EXPECT_EQ(link.mac, snap.mac);
  EXPECT_EQ(link.mtu, 1400u);
  EXPECT_FALSE(link.promisc);
  EXPECT_TRUE(link.admin_up);
  EXPECT_EQ(ethtool.channels.rx, 2u);
  EXPECT_EQ(ethtool.channels.tx, 3u);
  // The IPv4 list differed (a stray primary first): all removed and re-added in order.
  ASSERT_EQ(nl.addresses.size(), 2u);
  EXPECT_EQ(nl.addresses[0].prefix.ToString(), "198.18.0.2/24");
  EXPECT_EQ(nl.addresses[1].prefix.ToString(), "198.18.1.2/24");
  EXPECT_EQ(nl.addresses[1].label, "renamed:1");
  ASSERT_EQ(nl.routes.size(), 1u);
  EXPECT_EQ(nl.routes[0].ToString(), MapRoute(snap.routes[0], 30).ToString());

  // With the name free, a second restore finishes the job and changes nothing else.
  nl.links.erase(31);
  ethtool.sets = 0;
  status = RestoreLink(nl, ethtool, 30, snap);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(nl.links[30].name, "eth0");
  EXPECT_EQ(nl.addresses[1].label, "eth0:1");
  nl.calls.clear();
  status = RestoreLink(nl, ethtool, 30, snap);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(ethtool.sets, 0);
  EXPECT_TRUE(CallsStartingWith(nl, "del").empty());
  EXPECT_TRUE(CallsStartingWith(nl, "name").empty());
  EXPECT_TRUE(CallsStartingWith(nl, "up").empty());
}

}  // namespace
}  // namespace uplinkd
