// Snapshot and restore of a node's uplink, in namespaces the test creates: a "node" namespace
// whose eth0 is one end of a veth, the other end in a "peer" namespace. The node is compared as
// `ip -j link/addr/route` print it, before and after, with only what legitimately differs
// normalised (lifetimes and expiries that count down; ifindex where it changed).
#include "linux/snapshot.h"

#include <gtest/gtest.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#include <cstdlib>

#include "linux/netns_test_helpers.h"
#include "linux/state_file.h"

namespace uplinkd {
namespace {

using nlohmann::json;
using testing::IpJson;
using testing::NamedNetnsGuard;
using testing::NetlinkIn;
using testing::NetlinkInFd;
using testing::TestNetns;
using testing::UniqueName;

// What `ip -j` shows of the node namespace.
struct NodeState {
  json link, addr, route, route6;
};

// Lifetimes and expiries count down; they are compared as "finite" or forever.
void Normalise(json& j) {
  if (j.is_array()) {
    for (json& e : j) Normalise(e);
    return;
  }
  if (!j.is_object()) return;
  for (auto& [key, value] : j.items()) {
    if ((key == "valid_life_time" || key == "preferred_life_time") && value.is_number() &&
        value.get<uint64_t>() != 0xffffffffu) {
      value = "finite";
    } else if (key == "expires") {
      value = "finite";
    } else {
      Normalise(value);
    }
  }
}

// Replaces the ifindex of link `name` (where it changed, as a link moved away and back may).
void NormaliseIfindex(json& j, const std::string& name) {
  if (!j.is_array()) return;
  for (json& link : j) {
    if (link.value("ifname", "") == name) link["ifindex"] = "eth0-index";
  }
}

NodeState Capture(const TestNetns& ns) {
  NodeState s;
  auto get = [&](const std::string& args) {
    Result<json> j = IpJson(fmt::format("-n {} {}", ns.name(), args));
    EXPECT_TRUE(j.ok()) << j.status().message();
    json out = j.ok() ? *j : json();
    Normalise(out);
    return out;
  };
  s.link = get("link show");
  s.addr = get("addr show");
  s.route = get("route show table all");
  s.route6 = get("-6 route show table all");
  return s;
}

void ExpectSameState(const NodeState& before, NodeState after, bool ifindex_may_change) {
  NodeState b = before;
  if (ifindex_may_change) {
    NormaliseIfindex(b.link, "eth0");
    NormaliseIfindex(b.addr, "eth0");
    NormaliseIfindex(after.link, "eth0");
    NormaliseIfindex(after.addr, "eth0");
  }
  EXPECT_EQ(b.link.dump(1), after.link.dump(1));
  EXPECT_EQ(b.addr.dump(1), after.addr.dump(1));
  EXPECT_EQ(b.route.dump(1), after.route.dump(1));
  EXPECT_EQ(b.route6.dump(1), after.route6.dump(1));
}

// Waits (bounded) until `ifname` has carrier and no IPv6 address is still in DAD: the state a
// node settles in, and the one the snapshot was taken in.
bool WaitSettled(const TestNetns& ns, const std::string& ifname) {
  for (int i = 0; i < 200; ++i) {  // 10 s
    Result<json> j = IpJson(fmt::format("-n {} addr show dev {}", ns.name(), ifname));
    if (j.ok() && j->is_array() && j->size() == 1) {
      const json& link = (*j)[0];
      std::string text = link.dump();
      bool has_ll = text.find("\"fe80:") != std::string::npos;
      bool up = link.value("operstate", "") == "UP";
      bool admin_down = text.find("\"UP\"") == std::string::npos;
      if (admin_down) return true;  // nothing to wait for on a down link
      if (up && has_ll && text.find("tentative") == std::string::npos) return true;
    }
    usleep(50000);
  }
  return false;
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(node_.ok() && peer_.ok());
    ASSERT_TRUE(node_
                    .Ip(fmt::format("link add eth0 numrxqueues 4 numtxqueues 4 type veth peer "
                                    "name p0 numrxqueues 4 numtxqueues 4 netns {}",
                                    peer_.name()))
                    .ok());
    for (const char* cmd : {
             "link set p0 up",
             "addr add 198.18.0.1/24 dev p0",
             "addr add 198.18.0.3/24 dev p0",
             "-6 addr add 2001:db8::1/64 dev p0 nodad",
         }) {
      ASSERT_TRUE(peer_.Ip(cmd).ok()) << cmd;
    }
    nl_ = NetlinkIn(node_);
    ASSERT_NE(nl_, nullptr);
    Result<std::unique_ptr<Ethtool>> e = Ethtool::OpenIn(node_.fd());
    ASSERT_TRUE(e.ok());
    ethtool_ = std::move(e).value();
  }

  // The node's uplink as a node would have it: several kinds of addresses and routes.
  void ConfigureNode() {
    for (const char* cmd : {
             "link set eth0 address 02:00:5e:10:00:02 mtu 1450 promisc on",
             "link set eth0 up",
             "addr add 198.18.0.2/24 brd + dev eth0",
             "addr add 198.18.1.2/24 dev eth0 label eth0:1",
             "-6 addr add 2001:db8::2/64 dev eth0 nodad",
             "-6 addr add 2001:db8:1::2/64 dev eth0",  // with DAD
             "-6 addr add 2001:db8:2::2/64 dev eth0 nodad noprefixroute",
             "-6 addr add 2001:db8:3::2/64 dev eth0 nodad valid_lft 3600 preferred_lft 1800",
             "route add default via 198.18.0.1 dev eth0",
             "route add 198.19.10.0/24 via 198.18.0.1 proto static metric 20",
             "route add 198.19.20.0/24 via 198.18.0.1 table 100",
             "route add 198.19.30.0/24 via 198.19.255.1 dev eth0 onlink",
             "route add 198.19.40.0/24 dev eth0 src 198.18.1.2 scope link",
             "route add 198.19.50.0/24 via 198.18.0.1 mtu 1300",
             "route add 198.19.60.0/24 nexthop via 198.18.0.1 weight 1 nexthop via 198.18.0.3 "
             "weight 2",
             "-6 route add default via 2001:db8::1 dev eth0",
             "-6 route add 2001:db8:100::/64 via 2001:db8::1 dev eth0 table 100",
             "-6 route add 2001:db8:200::/64 from 2001:db8::/64 via 2001:db8::1 dev eth0",
             "-6 route add 2001:db8:2::/64 dev eth0 metric 300",
         }) {
      ASSERT_TRUE(node_.Ip(cmd).ok()) << cmd;
    }
    ASSERT_TRUE(WaitSettled(node_, "eth0"));
    // A route whose prefsrc has to finish DAD after a restore (retried until it has).
    ASSERT_TRUE(node_.Ip("-6 route add 2001:db8:300::/64 via 2001:db8::1 src 2001:db8:1::2").ok());
    Result<Channels> ch = ethtool_->GetChannels("eth0");
    if (ch.ok()) {
      ch->rx = 3;
      ch->tx = 2;
      ASSERT_TRUE(ethtool_->SetChannels("eth0", *ch).ok());
    }
  }

  // Takes the snapshot and sends it through JSON text, as the state file carries it.
  LinkSnapshot SnapshotThroughJson() {
    Result<LinkSnapshot> snap = TakeSnapshot(*nl_, "eth0");
    EXPECT_TRUE(snap.ok()) << snap.status().message();
    if (!snap.ok()) return LinkSnapshot{};
    char dir[] = "/tmp/uplinkd-snap-XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    std::string path = std::string(dir) + "/state.json";
    EXPECT_TRUE(WriteStateFileAtomic(path, SnapshotToJson(*snap)).ok());
    Result<std::optional<json>> read = ReadStateFile(path);
    EXPECT_TRUE(RemoveStateFile(path).ok());
    rmdir(dir);
    EXPECT_TRUE(read.ok() && read->has_value());
    if (!read.ok() || !read->has_value()) return LinkSnapshot{};
    Result<LinkSnapshot> back = SnapshotFromJson(**read);
    EXPECT_TRUE(back.ok()) << back.status().message();
    if (!back.ok()) return LinkSnapshot{};
    EXPECT_EQ(SnapshotToJson(*back), SnapshotToJson(*snap));
    return *back;
  }

  int Eth0Index() {
    Result<int> index = nl_->LinkIndex("eth0");
    return index.ok() ? *index : 0;
  }

  TestNetns node_{"snn"};
  TestNetns peer_{"snp"};
  std::unique_ptr<Netlink> nl_;
  std::unique_ptr<Ethtool> ethtool_;
};

TEST_F(SnapshotTest, RecordsTheUplink) {
  ConfigureNode();
  LinkSnapshot snap = SnapshotThroughJson();
  ASSERT_EQ(snap.name, "eth0");
  EXPECT_EQ(snap.ifindex, Eth0Index());
  EXPECT_EQ(FormatMac(snap.mac), "02:00:5e:10:00:02");
  EXPECT_EQ(snap.mtu, 1450u);
  EXPECT_TRUE(snap.admin_up);
  EXPECT_TRUE(snap.oper_up);
  EXPECT_TRUE(snap.promisc);
  EXPECT_GE(snap.promiscuity, 1u);
  EXPECT_EQ(snap.num_rx_queues, 4u);
  EXPECT_EQ(snap.num_tx_queues, 4u);
  EXPECT_EQ(snap.driver, "veth");
  EXPECT_EQ(snap.pci_id, "");
  struct stat st {};
  ASSERT_EQ(fstat(node_.fd(), &st), 0);
  EXPECT_EQ(snap.netns_inode, st.st_ino);
  if (snap.channels) {
    EXPECT_EQ(snap.channels->rx, 3u);
    EXPECT_EQ(snap.channels->tx, 2u);
  }

  auto has_address = [&](const std::string& cidr) -> const AddressInfo* {
    for (const AddressInfo& a : snap.addresses) {
      if (a.prefix.ToString() == cidr) return &a;
    }
    return nullptr;
  };
  const AddressInfo* a = has_address("198.18.0.2/24");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->broadcast.ToString(), "198.18.0.255/32");
  a = has_address("198.18.1.2/24");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->label, "eth0:1");
  a = has_address("2001:db8:2::2/64");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->flags & (IFA_F_NODAD | IFA_F_NOPREFIXROUTE), IFA_F_NODAD | IFA_F_NOPREFIXROUTE);
  a = has_address("2001:db8:3::2/64");
  ASSERT_NE(a, nullptr);
  EXPECT_LE(a->valid_lft, 3600u);
  EXPECT_LE(a->preferred_lft, 1800u);
  EXPECT_GT(a->preferred_lft, 0u);
  EXPECT_EQ(snap.addresses.size(), 7u);  // 2 IPv4, 4 IPv6 global, fe80

  int user = 0, table100 = 0, source_specific = 0;
  for (const RouteInfo& r : snap.routes) {
    EXPECT_TRUE(r.UsesLink(snap.ifindex)) << r.ToString();
    if (!r.IsKernelGenerated()) ++user;
    if (r.table == 100) ++table100;
    if (r.src.prefix_len != 0) ++source_specific;
  }
  EXPECT_EQ(user, 12);
  EXPECT_EQ(table100, 2);
  EXPECT_EQ(source_specific, 1);
  EXPECT_EQ(TakeSnapshot(*nl_, "nosuch0").status().code(), ENODEV);
}

TEST_F(SnapshotTest, RestoresAWreckedLinkExactly) {
  ConfigureNode();
  const NodeState before = Capture(node_);
  const LinkSnapshot snap = SnapshotThroughJson();
  ASSERT_EQ(snap.name, "eth0");
  const int index = snap.ifindex;

  // Wreck it: no addresses, no routes, another name, MAC, MTU, channels, promisc off, down; and a
  // stray address that was never there.
  for (const char* cmd : {
           "-4 route flush table all dev eth0",
           "-6 route flush table all dev eth0",
           "addr flush dev eth0",
           "link set eth0 down",
           "link set eth0 name wrecked0",
           "link set wrecked0 address 02:00:5e:10:00:99 mtu 1300 promisc off",
           "addr add 198.18.9.9/24 dev wrecked0",
       }) {
    ASSERT_TRUE(node_.Ip(cmd).ok()) << cmd;
  }
  if (snap.channels) {
    Channels one = *snap.channels;
    one.rx = one.tx = 1;
    ASSERT_TRUE(ethtool_->SetChannels("wrecked0", one).ok());
  }
  ASSERT_NE(Capture(node_).addr.dump(), before.addr.dump());

  Status status = RestoreLink(*nl_, index, snap);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(WaitSettled(node_, "eth0"));
  ExpectSameState(before, Capture(node_), false);
  if (snap.channels) {
    Result<Channels> ch = ethtool_->GetChannels("eth0");
    ASSERT_TRUE(ch.ok());
    EXPECT_TRUE(ch->SameCounts(*snap.channels));
  }

  // Idempotent: restoring a restored link changes nothing.
  status = RestoreLink(*nl_, index, snap);
  ASSERT_TRUE(status.ok()) << status.message();
  ExpectSameState(before, Capture(node_), false);
}

TEST_F(SnapshotTest, RestoresAHalfWreckedLink) {
  ConfigureNode();
  const NodeState before = Capture(node_);
  const LinkSnapshot snap = SnapshotThroughJson();
  ASSERT_EQ(snap.name, "eth0");
  // As a crash half-way could leave it: renamed and up again (which dropped the IPv4 routes and
  // the IPv6 addresses), some of them back, one IPv4 address gone, a stray route, MTU changed.
  for (const char* cmd : {
           "link set eth0 down",
           "link set eth0 name half0",
           "link set half0 up",
       }) {
    ASSERT_TRUE(node_.Ip(cmd).ok()) << cmd;
  }
  ASSERT_TRUE(WaitSettled(node_, "half0"));  // IPv6 addresses went with the link down
  for (const char* cmd : {
           "-6 addr add 2001:db8::2/64 dev half0 nodad",
           "addr del 198.18.0.2/24 dev half0",
           "route add 198.19.90.0/24 dev half0 proto static",
           "route add default via 198.18.1.1 dev half0",  // another gateway
           "route add 198.19.10.0/24 via 198.18.1.1 proto static metric 20",
           "link set half0 mtu 1400",
       }) {
    ASSERT_TRUE(node_.Ip(cmd).ok()) << cmd;
  }
  Status status = RestoreLink(*nl_, snap.ifindex, snap);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(WaitSettled(node_, "eth0"));
  ExpectSameState(before, Capture(node_), false);
}

// The manager's flow: the uplink leaves for the dataplane's namespace, a stand-in for the host
// tap takes its name, MAC, MTU, addresses and routes; then the tap goes, the uplink comes back
// and is restored.
TEST_F(SnapshotTest, MovesConfigToAnotherLinkAndBack) {
  ConfigureNode();
  const NodeState before = Capture(node_);
  const LinkSnapshot snap = SnapshotThroughJson();
  ASSERT_EQ(snap.name, "eth0");

  NamedNetnsGuard dp(UniqueName("sndp"));
  ASSERT_TRUE(CreateNamedNetns(dp.name()).ok());
  Result<int> dp_fd = OpenNetns(dp.name());
  ASSERT_TRUE(dp_fd.ok());
  std::unique_ptr<Netlink> nl_dp = NetlinkInFd(*dp_fd);
  ASSERT_NE(nl_dp, nullptr);
  ASSERT_TRUE(nl_->MoveLinkToNetns(snap.ifindex, *dp_fd).ok());
  close(*dp_fd);
  ASSERT_FALSE(nl_->LinkIndex("eth0").ok());

  // The stand-in tap: a veth to the peer, renamed and re-addressed as the manager does.
  ASSERT_TRUE(
      node_.Ip(fmt::format("link add tap0 type veth peer name p1 netns {}", peer_.name())).ok());
  ASSERT_TRUE(peer_.Ip("link set p1 up").ok());
  Result<int> tap = nl_->LinkIndex("tap0");
  ASSERT_TRUE(tap.ok());
  ASSERT_TRUE(nl_->SetLinkName(*tap, snap.name).ok());
  ASSERT_TRUE(nl_->SetLinkMac(*tap, snap.mac).ok());
  ASSERT_TRUE(nl_->SetLinkMtu(*tap, snap.mtu).ok());
  ASSERT_TRUE(nl_->SetLinkUp(*tap, true).ok());
  Status status = ApplyAddressesAndRoutes(*nl_, *tap, snap);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(WaitSettled(node_, "eth0"));
  // Same addresses (all attributes) and the same routes, in every table.
  NodeState on_tap = Capture(node_);
  auto addr_info = [](const json& addr) {
    for (const json& link : addr) {
      if (link.value("ifname", "") == "eth0") return link["addr_info"];
    }
    return json();
  };
  EXPECT_EQ(addr_info(before.addr).dump(1), addr_info(on_tap.addr).dump(1));
  EXPECT_EQ(before.route.dump(1), on_tap.route.dump(1));
  EXPECT_EQ(before.route6.dump(1), on_tap.route6.dump(1));
  // Applying again is fine.
  status = ApplyAddressesAndRoutes(*nl_, *tap, snap);
  EXPECT_TRUE(status.ok()) << status.message();

  // Give the node its uplink back.
  ASSERT_TRUE(nl_->DeleteLink(*tap).ok());
  Result<int> in_dp = nl_dp->LinkIndex(snap.name);
  ASSERT_TRUE(in_dp.ok()) << in_dp.status().message();
  ASSERT_TRUE(nl_dp->MoveLinkToNetns(*in_dp, node_.fd()).ok());
  int index = Eth0Index();
  ASSERT_GT(index, 0);
  status = RestoreLink(*nl_, index, snap);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(WaitSettled(node_, "eth0"));
  ExpectSameState(before, Capture(node_), index != snap.ifindex);
}

TEST_F(SnapshotTest, RestoreLeavesOtherLinksAlone) {
  ConfigureNode();
  const LinkSnapshot snap = SnapshotThroughJson();
  ASSERT_TRUE(node_.Ip("link set eth0 down").ok());
  ASSERT_TRUE(node_.Ip("link set eth0 name old0").ok());
  // Someone else now holds the name (as the host tap would, if it was not removed first).
  ASSERT_TRUE(
      node_.Ip(fmt::format("link add eth0 type veth peer name p2 netns {}", peer_.name())).ok());
  Result<json> other_before = IpJson(fmt::format("-n {} addr show dev eth0", node_.name()));
  Status status = RestoreLink(*nl_, snap.ifindex, snap);
  EXPECT_EQ(status.code(), EEXIST) << status.message();
  EXPECT_NE(status.message().find("has that name"), std::string::npos) << status.message();
  Result<json> other_after = IpJson(fmt::format("-n {} addr show dev eth0", node_.name()));
  ASSERT_TRUE(other_before.ok() && other_after.ok());
  EXPECT_EQ(*other_before, *other_after);
  // The rest was restored on old0 anyway: it is up with its addresses.
  Result<Netlink::LinkInfo> old = nl_->GetLink(snap.ifindex);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->name, "old0");
  EXPECT_TRUE(old->admin_up);
  Result<std::vector<AddressInfo>> addresses = nl_->ListAddresses(snap.ifindex);
  ASSERT_TRUE(addresses.ok());
  EXPECT_GE(addresses->size(), 6u);
}

}  // namespace
}  // namespace uplinkd
