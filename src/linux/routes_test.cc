// Netlink routes against the kernel, inside a namespace the test creates: ListRoutes reads what
// `ip route` configured (every table, both families), and AddRoute puts back exactly what
// ListRoutes read, as `ip -j route show table all` shows.
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include <algorithm>

#include "linux/netns_test_helpers.h"

namespace uplinkd {
namespace {

using testing::IpJson;
using testing::NetlinkIn;
using testing::TestNetns;
using testing::UniqueName;

class RoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ns_.ok());
    for (const std::string& cmd : {
             fmt::format("link add {} type veth peer name {}", a_, b_),
             fmt::format("link set {} up", a_),
             fmt::format("link set {} up", b_),
             fmt::format("addr add 198.18.0.2/24 dev {}", a_),
             fmt::format("addr add 198.18.1.2/24 dev {}", b_),
             fmt::format("-6 addr add 2001:db8::2/64 dev {} nodad", a_),
             fmt::format("-6 addr add 2001:db8:1::2/64 dev {} nodad", b_),
         }) {
      ASSERT_TRUE(ns_.Ip(cmd).ok()) << cmd;
    }
    nl_ = NetlinkIn(ns_);
    ASSERT_NE(nl_, nullptr);
    a_index_ = *nl_->LinkIndex(a_);
    b_index_ = *nl_->LinkIndex(b_);
  }

  // The user routes this test adds, as `ip` takes them.
  std::vector<std::string> UserRoutes() const {
    return {
        fmt::format("route add default via 198.18.0.1 dev {}", a_),
        fmt::format("route add 198.19.10.0/24 via 198.18.0.1 proto static metric 20"),
        fmt::format("route add 198.19.20.0/24 via 198.18.0.1 table 100"),
        fmt::format("route add 198.19.21.0/24 dev {} table 1000 scope link", a_),
        fmt::format("route add 198.19.30.0/24 via 198.19.255.1 dev {} onlink", a_),
        fmt::format("route add 198.19.40.0/24 dev {} src 198.18.0.2 scope link", a_),
        fmt::format("route add 198.19.50.0/24 via 198.18.0.1 mtu 1300 advmss 1200"),
        fmt::format("route add 198.19.60.0/24 nexthop via 198.18.0.1 dev {} weight 1 "
                    "nexthop via 198.18.1.1 dev {} weight 3",
                    a_, b_),
        fmt::format("route add blackhole 198.19.70.0/24"),
        fmt::format("-6 route add default via 2001:db8::1 dev {}", a_),
        fmt::format("-6 route add 2001:db8:100::/64 via 2001:db8::1 dev {} table 100", a_),
        fmt::format("-6 route add 2001:db8:200::/64 from 2001:db8:5::/64 via 2001:db8::1 dev {}",
                    a_),
        fmt::format("-6 route add 2001:db8:300::/64 dev {} metric 5 pref high", a_),
        fmt::format("-6 route add 2001:db8:400::/64 nexthop via 2001:db8::1 dev {} "
                    "nexthop via 2001:db8:1::1 dev {}",
                    a_, b_),
    };
  }

  // `ip -j route show table all` for both families.
  nlohmann::json AllRoutes() const {
    Result<nlohmann::json> v4 = IpJson(fmt::format("-n {} -4 route show table all", ns_.name()));
    Result<nlohmann::json> v6 = IpJson(fmt::format("-n {} -6 route show table all", ns_.name()));
    EXPECT_TRUE(v4.ok() && v6.ok());
    if (!v4.ok() || !v6.ok()) return nlohmann::json();
    return nlohmann::json{{"v4", *v4}, {"v6", *v6}};
  }

  TestNetns ns_{"rt"};
  std::string a_ = UniqueName("rta");
  std::string b_ = UniqueName("rtb");
  std::unique_ptr<Netlink> nl_;
  int a_index_ = 0;
  int b_index_ = 0;
};

const RouteInfo* Find(const std::vector<RouteInfo>& routes, const std::string& dst,
                      uint32_t table = RT_TABLE_MAIN) {
  for (const RouteInfo& r : routes) {
    if (r.dst.ToString() == dst && r.table == table) return &r;
  }
  return nullptr;
}

TEST_F(RoutesTest, ListsEveryTableAndAttribute) {
  for (const std::string& cmd : UserRoutes()) ASSERT_TRUE(ns_.Ip(cmd).ok()) << cmd;
  Result<std::vector<RouteInfo>> routes = nl_->ListRoutes(AF_UNSPEC);
  ASSERT_TRUE(routes.ok()) << routes.status().message();

  const RouteInfo* r = Find(*routes, "0.0.0.0/0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->gateway.ToString(), "198.18.0.1/32");
  EXPECT_EQ(r->oif, a_index_);
  EXPECT_EQ(r->protocol, RTPROT_BOOT);
  EXPECT_FALSE(r->IsKernelGenerated());

  r = Find(*routes, "198.19.10.0/24");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->protocol, RTPROT_STATIC);
  EXPECT_EQ(r->priority, 20u);

  r = Find(*routes, "198.19.20.0/24", 100);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(Find(*routes, "198.19.20.0/24"), nullptr);  // not in main
  r = Find(*routes, "198.19.21.0/24", 1000);            // a table above 255: RTA_TABLE
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->scope, RT_SCOPE_LINK);

  r = Find(*routes, "198.19.30.0/24");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->flags, static_cast<uint32_t>(RTNH_F_ONLINK));

  r = Find(*routes, "198.19.40.0/24");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->prefsrc.ToString(), "198.18.0.2/32");

  r = Find(*routes, "198.19.50.0/24");
  ASSERT_NE(r, nullptr);
  EXPECT_NE(std::find(r->metrics.begin(), r->metrics.end(),
                      std::pair<uint16_t, uint32_t>{RTAX_MTU, 1300}),
            r->metrics.end());

  r = Find(*routes, "198.19.60.0/24");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->nexthops.size(), 2u);
  EXPECT_EQ(r->nexthops[0].ifindex, a_index_);
  EXPECT_EQ(r->nexthops[1].ifindex, b_index_);
  EXPECT_EQ(r->nexthops[1].weight, 3);
  EXPECT_TRUE(r->UsesLink(a_index_) && r->UsesLink(b_index_));

  r = Find(*routes, "198.19.70.0/24");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->type, RTN_BLACKHOLE);
  EXPECT_FALSE(r->UsesLink(a_index_));

  r = Find(*routes, "::/0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->gateway.ToString(), "2001:db8::1/128");
  EXPECT_EQ(r->priority, 1024u);

  ASSERT_NE(Find(*routes, "2001:db8:100::/64", 100), nullptr);
  r = Find(*routes, "2001:db8:200::/64");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->src.ToString(), "2001:db8:5::/64");
  r = Find(*routes, "2001:db8:300::/64");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->pref, 1);  // ICMPV6_ROUTER_PREF_HIGH
  EXPECT_EQ(r->priority, 5u);
  r = Find(*routes, "2001:db8:400::/64");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->nexthops.size(), 2u);

  // What the kernel made by itself is recognisable as such.
  r = Find(*routes, "198.18.0.0/24");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->IsKernelGenerated());
  r = Find(*routes, "2001:db8::/64");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->IsKernelGenerated());
  r = Find(*routes, "fe80::/64");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->IsKernelGenerated());
  r = Find(*routes, "198.18.0.2/32", RT_TABLE_LOCAL);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->IsKernelGenerated());
  EXPECT_EQ(r->type, RTN_LOCAL);
  r = Find(*routes, "ff00::/8", RT_TABLE_LOCAL);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->IsKernelGenerated());

  // As many routes as `ip` shows (it hides cache clones too).
  nlohmann::json all = AllRoutes();
  EXPECT_EQ(routes->size(), all["v4"].size() + all["v6"].size());
  Result<std::vector<RouteInfo>> v6 = nl_->ListRoutes(AF_INET6);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->size(), all["v6"].size());
  EXPECT_EQ(nl_->ListRoutes(AF_PACKET).status().code(), EAFNOSUPPORT);
}

TEST_F(RoutesTest, AddRouteRecreatesExactlyWhatWasListed) {
  for (const std::string& cmd : UserRoutes()) ASSERT_TRUE(ns_.Ip(cmd).ok()) << cmd;
  const nlohmann::json before = AllRoutes();
  Result<std::vector<RouteInfo>> routes = nl_->ListRoutes(AF_UNSPEC);
  ASSERT_TRUE(routes.ok());
  std::vector<RouteInfo> user;
  for (const RouteInfo& r : *routes) {
    if (!r.IsKernelGenerated()) user.push_back(r);
  }
  ASSERT_EQ(user.size(), UserRoutes().size());

  for (const RouteInfo& r : user) {
    Status status = nl_->DeleteRoute(r);
    ASSERT_TRUE(status.ok()) << status.message();
    EXPECT_EQ(nl_->DeleteRoute(r).code(), ESRCH) << r.ToString();
  }
  nlohmann::json without = AllRoutes();
  EXPECT_EQ(without["v4"].size() + without["v6"].size(),
            before["v4"].size() + before["v6"].size() - user.size());

  // On-link ones first: the onlink/gateway routes need nothing else here, so list order works.
  for (const RouteInfo& r : user) {
    Status status = nl_->AddRoute(r);
    ASSERT_TRUE(status.ok()) << status.message();
  }
  EXPECT_EQ(AllRoutes(), before);
  for (const RouteInfo& r : user) {
    EXPECT_EQ(nl_->AddRoute(r).code(), EEXIST) << r.ToString();
  }
  EXPECT_EQ(AllRoutes(), before);
}

TEST_F(RoutesTest, ErrorsNameTheRoute) {
  RouteInfo r;
  r.family = AF_INET;
  r.dst = *ParseCidr("198.19.99.0/24");
  r.src.family = AF_INET;
  r.gateway = *ParseCidr("198.19.250.1");  // not reachable from any link here
  r.table = RT_TABLE_MAIN;
  r.type = RTN_UNICAST;
  r.protocol = RTPROT_STATIC;
  r.oif = a_index_;
  Status status = nl_->AddRoute(r);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ENETUNREACH) << status.message();
  EXPECT_NE(status.message().find("198.19.99.0/24 via 198.19.250.1"), std::string::npos)
      << status.message();

  r.gateway = *ParseCidr("2001:db8::1");  // of the other family
  EXPECT_EQ(nl_->AddRoute(r).code(), EINVAL);
  r.gateway = IpPrefix{};
  r.has_unsupported = true;
  EXPECT_EQ(nl_->AddRoute(r).code(), EOPNOTSUPP);
}

}  // namespace
}  // namespace uplinkd
