// Netlink and netns against the real kernel, inside namespaces the test creates (never the
// machine's own). Every change is checked against `ip -j` output.
#include "linux/netlink_socket.h"

#include <gtest/gtest.h>
#include <linux/if_addr.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linux/netns.h"
#include "linux/netns_test_helpers.h"
#include "linux/test_netns.h"

namespace uplinkd {
namespace {

using testing::IpJson;
using testing::NetlinkIn;
using testing::TestNetns;
using testing::UniqueName;

nlohmann::json LinkJson(const TestNetns& ns, const std::string& ifname) {
  Result<nlohmann::json> j =
      IpJson(fmt::format("-n {} link show dev {} 2>/dev/null", ns.name(), ifname));
  if (!j.ok() || !j->is_array() || j->empty()) return nlohmann::json();
  return (*j)[0];
}

bool HasFlag(const nlohmann::json& link, const std::string& flag) {
  if (!link.contains("flags")) return false;
  for (const auto& f : link["flags"]) {
    if (f == flag) return true;
  }
  return false;
}

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ns_.ok()) << "cannot create network namespace " << ns_.name();
    ASSERT_TRUE(ns_.Ip(fmt::format("link add {} type veth peer name {}", a_, b_)).ok());
    nl_ = NetlinkIn(ns_);
    ASSERT_NE(nl_, nullptr);
  }

  TestNetns ns_{"nlt"};
  std::string a_ = UniqueName("nla");
  std::string b_ = UniqueName("nlb");
  std::unique_ptr<Netlink> nl_;
};

TEST(NetnsTest, OpensByNameAndPathAndRejectsOthers) {
  TestNetns ns("nlt");
  ASSERT_TRUE(ns.ok());
  Result<int> by_name = OpenNetns(ns.name());
  ASSERT_TRUE(by_name.ok()) << by_name.status().message();
  Result<int> by_path = OpenNetns("/run/netns/" + ns.name());
  ASSERT_TRUE(by_path.ok()) << by_path.status().message();
  close(*by_name);
  close(*by_path);

  Result<int> missing = OpenNetns("nosuchns-uplinkd");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ENOENT);
  EXPECT_NE(missing.status().message().find("nosuchns-uplinkd"), std::string::npos)
      << missing.status().message();

  Result<int> not_ns = OpenNetns("/etc/hostname");
  ASSERT_FALSE(not_ns.ok());
  EXPECT_NE(not_ns.status().message().find("not a network namespace"), std::string::npos);
  EXPECT_FALSE(OpenNetns("").ok());
  EXPECT_FALSE(OpenNetns("..").ok());
}

TEST(NetnsTest, RunInNetnsEntersOnlyTheHelperThread) {
  TestNetns ns("nlt");
  ASSERT_TRUE(ns.ok());
  std::string veth = UniqueName("nlv");
  ASSERT_TRUE(ns.Ip(fmt::format("link add {} type veth peer name {}p", veth, veth)).ok());

  // Inside: the veth is there. Outside (this thread): it is not. Both are read-only lookups.
  Status inside = RunInNetns(ns.fd(), [&] {
    Result<std::unique_ptr<Netlink>> nl = Netlink::Open();
    if (!nl.ok()) return nl.status();
    return (*nl)->LinkIndex(veth).status();
  });
  EXPECT_TRUE(inside.ok()) << inside.message();
  Result<std::unique_ptr<Netlink>> here = Netlink::Open();
  ASSERT_TRUE(here.ok());
  EXPECT_EQ((*here)->LinkIndex(veth).status().code(), ENODEV);

  Status failed = RunInNetns(ns.fd(), [] { return Failure(EPERM, "from inside"); });
  EXPECT_EQ(failed.code(), EPERM);
  EXPECT_EQ(failed.message(), "from inside");

  Status bad_fd = RunInNetns(-1, [] { return Status::Ok(); });
  EXPECT_FALSE(bad_fd.ok());
}

TEST(CidrTest, ParsesAndRejects) {
  Result<IpPrefix> v4 = ParseCidr("198.18.0.1/24");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->family, AF_INET);
  EXPECT_EQ(v4->prefix_len, 24);
  EXPECT_EQ(v4->ToString(), "198.18.0.1/24");
  Result<IpPrefix> v6 = ParseCidr("2001:db8::1/64");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->family, AF_INET6);
  EXPECT_EQ(v6->ToString(), "2001:db8::1/64");
  EXPECT_EQ(ParseCidr("198.18.0.9")->prefix_len, 32);
  EXPECT_FALSE(ParseCidr("198.18.0.1/33").ok());
  EXPECT_FALSE(ParseCidr("2001:db8::1/129").ok());
  EXPECT_FALSE(ParseCidr("198.18.0.1/").ok());
  Result<IpPrefix> bad = ParseCidr("bogus/8");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bogus/8"), std::string::npos);
}

TEST_F(NetlinkTest, LinkIndexAndGetLinkMatchIp) {
  nlohmann::json a = LinkJson(ns_, a_);
  ASSERT_FALSE(a.is_null());
  Result<int> index = nl_->LinkIndex(a_);
  ASSERT_TRUE(index.ok()) << index.status().message();
  EXPECT_EQ(*index, a["ifindex"].get<int>());

  Result<Netlink::LinkInfo> info = nl_->GetLink(a_);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->ifindex, *index);
  EXPECT_EQ(info->name, a_);
  EXPECT_EQ(FormatMac(info->mac), a["address"].get<std::string>());
  EXPECT_EQ(info->mtu, a["mtu"].get<uint32_t>());
  EXPECT_FALSE(info->admin_up);
  EXPECT_FALSE(info->oper_up);
  EXPECT_FALSE(info->promisc);
  EXPECT_GE(info->num_rx_queues, 1u);
  EXPECT_GE(info->num_tx_queues, 1u);

  Result<Netlink::LinkInfo> by_index = nl_->GetLink(*index);
  ASSERT_TRUE(by_index.ok());
  EXPECT_EQ(by_index->name, a_);
}

TEST_F(NetlinkTest, MissingInterfaceErrorsNameIt) {
  Result<int> index = nl_->LinkIndex("nosuchif0");
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), ENODEV);
  EXPECT_EQ(index.status().message(),
            "interface 'nosuchif0' does not exist in this network namespace");
  Result<Netlink::LinkInfo> info = nl_->GetLink("nosuchif0");
  EXPECT_EQ(info.status().code(), ENODEV);
  EXPECT_NE(info.status().message().find("nosuchif0"), std::string::npos);

  Status up = nl_->SetLinkUp(999999, true);
  EXPECT_EQ(up.code(), ENODEV);
  EXPECT_NE(up.message().find("set link index 999999 up"), std::string::npos) << up.message();
  Status mtu = nl_->SetLinkMtu(999999, 1400);
  EXPECT_NE(mtu.message().find("set mtu 1400 on link index 999999"), std::string::npos)
      << mtu.message();
  EXPECT_FALSE(nl_->DeleteLink(999999).ok());
  EXPECT_FALSE(nl_->AddAddress(999999, "198.18.0.1/24").ok());
  EXPECT_EQ(nl_->GetLink("bad/name").status().code(), EINVAL);
  EXPECT_EQ(nl_->GetLink("a-name-longer-than-15").status().code(), EINVAL);
}

TEST_F(NetlinkTest, SetLinkUpDown) {
  int a = *nl_->LinkIndex(a_);
  int b = *nl_->LinkIndex(b_);
  ASSERT_TRUE(nl_->SetLinkUp(a, true).ok());
  ASSERT_TRUE(nl_->SetLinkUp(b, true).ok());
  EXPECT_TRUE(HasFlag(LinkJson(ns_, a_), "UP"));
  Result<Netlink::LinkInfo> info = nl_->GetLink(a);
  EXPECT_TRUE(info->admin_up);
  // veth carrier comes up once both ends are up; the kernel applies it asynchronously.
  for (int i = 0; i < 100 && !nl_->GetLink(a)->oper_up; ++i) usleep(10000);
  EXPECT_TRUE(nl_->GetLink(a)->oper_up);
  EXPECT_EQ(LinkJson(ns_, a_)["operstate"], "UP");

  ASSERT_TRUE(nl_->SetLinkUp(a, false).ok());
  EXPECT_FALSE(HasFlag(LinkJson(ns_, a_), "UP"));
  EXPECT_FALSE(nl_->GetLink(a)->admin_up);
}

TEST_F(NetlinkTest, SetLinkMacAndMtu) {
  int a = *nl_->LinkIndex(a_);
  MacAddress mac = *ParseMac("02:fe:12:34:56:78");
  ASSERT_TRUE(nl_->SetLinkMac(a, mac).ok());
  EXPECT_EQ(LinkJson(ns_, a_)["address"], "02:fe:12:34:56:78");
  EXPECT_EQ(nl_->GetLink(a)->mac, mac);

  ASSERT_TRUE(nl_->SetLinkMtu(a, 1400).ok());
  EXPECT_EQ(LinkJson(ns_, a_)["mtu"], 1400);
  EXPECT_EQ(nl_->GetLink(a_)->mtu, 1400u);

  // Multicast MAC: the kernel refuses, and the message says what and where.
  Status bad_mac = nl_->SetLinkMac(a, *ParseMac("01:00:5e:00:00:01"));
  EXPECT_FALSE(bad_mac.ok());
  EXPECT_NE(bad_mac.message().find(fmt::format("set mac 01:00:5e:00:00:01 on link '{}'", a_)),
            std::string::npos)
      << bad_mac.message();
  Status bad_mtu = nl_->SetLinkMtu(a, 1000000);
  EXPECT_EQ(bad_mtu.code(), EINVAL);
  EXPECT_NE(bad_mtu.message().find(fmt::format("set mtu 1000000 on link '{}' (index {})", a_, a)),
            std::string::npos)
      << bad_mtu.message();
}

TEST_F(NetlinkTest, SetLinkName) {
  int a = *nl_->LinkIndex(a_);
  std::string renamed = UniqueName("nlr");
  ASSERT_TRUE(nl_->SetLinkName(a, renamed).ok());
  EXPECT_EQ(LinkJson(ns_, renamed)["ifindex"], a);
  EXPECT_TRUE(LinkJson(ns_, a_).is_null());
  EXPECT_EQ(*nl_->LinkIndex(renamed), a);

  // The peer's name is taken.
  Status taken = nl_->SetLinkName(a, b_);
  EXPECT_EQ(taken.code(), EEXIST);
  EXPECT_NE(taken.message().find(fmt::format("rename link '{}'", renamed)), std::string::npos)
      << taken.message();
  EXPECT_EQ(nl_->SetLinkName(a, "").code(), EINVAL);
}

TEST_F(NetlinkTest, MoveLinkToNetns) {
  TestNetns other("nlo");
  ASSERT_TRUE(other.ok());
  int b = *nl_->LinkIndex(b_);
  ASSERT_TRUE(nl_->MoveLinkToNetns(b, other.fd()).ok());
  EXPECT_EQ(nl_->LinkIndex(b_).status().code(), ENODEV);
  nlohmann::json moved = LinkJson(other, b_);
  ASSERT_FALSE(moved.is_null());
  std::unique_ptr<Netlink> there = NetlinkIn(other);
  ASSERT_NE(there, nullptr);
  EXPECT_EQ(*there->LinkIndex(b_), moved["ifindex"].get<int>());

  Status bad = nl_->MoveLinkToNetns(*nl_->LinkIndex(a_), 12345);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find(a_), std::string::npos) << bad.message();
}

TEST_F(NetlinkTest, DeleteLink) {
  int a = *nl_->LinkIndex(a_);
  ASSERT_TRUE(nl_->DeleteLink(a).ok());
  // Deleting one end of a veth removes both.
  EXPECT_TRUE(LinkJson(ns_, a_).is_null());
  EXPECT_TRUE(LinkJson(ns_, b_).is_null());
  EXPECT_EQ(nl_->LinkIndex(b_).status().code(), ENODEV);
  Status again = nl_->DeleteLink(a);
  EXPECT_EQ(again.code(), ENODEV);
  EXPECT_NE(again.message().find(fmt::format("delete link index {}", a)), std::string::npos)
      << again.message();
}

TEST_F(NetlinkTest, AddListAndDeleteAddresses) {
  int a = *nl_->LinkIndex(a_);
  ASSERT_TRUE(nl_->AddAddress(a, "198.18.0.1/24").ok());
  Status v6 = nl_->AddAddress(a, "2001:db8::1/64");
  ASSERT_TRUE(v6.ok()) << v6.message();

  Result<nlohmann::json> j = IpJson(fmt::format("-n {} addr show dev {}", ns_.name(), a_));
  ASSERT_TRUE(j.ok());
  std::vector<std::string> from_ip;
  for (const auto& addr : (*j)[0]["addr_info"]) {
    from_ip.push_back(
        fmt::format("{}/{}", addr["local"].get<std::string>(), addr["prefixlen"].get<int>()));
  }
  EXPECT_NE(std::find(from_ip.begin(), from_ip.end(), "198.18.0.1/24"), from_ip.end());
  EXPECT_NE(std::find(from_ip.begin(), from_ip.end(), "2001:db8::1/64"), from_ip.end());

  Result<std::vector<Netlink::AddressInfo>> listed = nl_->ListAddresses(a);
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  std::vector<std::string> from_nl;
  for (const auto& info : *listed) {
    EXPECT_EQ(info.ifindex, a);
    from_nl.push_back(info.prefix.ToString());
  }
  std::sort(from_ip.begin(), from_ip.end());
  std::sort(from_nl.begin(), from_nl.end());
  EXPECT_EQ(from_ip, from_nl);

  Status dup = nl_->AddAddress(a, "198.18.0.1/24");
  EXPECT_EQ(dup.code(), EEXIST);
  EXPECT_NE(dup.message().find(fmt::format("add address 198.18.0.1/24 to link '{}'", a_)),
            std::string::npos)
      << dup.message();
  Status bad = nl_->AddAddress(a, "198.18.0.300/24");
  EXPECT_EQ(bad.code(), EINVAL);
  EXPECT_NE(bad.message().find("198.18.0.300/24"), std::string::npos);

  ASSERT_TRUE(nl_->DeleteAddress(a, "198.18.0.1/24").ok());
  j = IpJson(fmt::format("-n {} -4 addr show dev {}", ns_.name(), a_));
  ASSERT_TRUE(j.ok());
  EXPECT_TRUE((*j).empty() || (*j)[0]["addr_info"].empty()) << j->dump();
  EXPECT_EQ(nl_->DeleteAddress(a, "198.18.0.1/24").code(), EADDRNOTAVAIL);
}

}  // namespace
}  // namespace uplinkd
