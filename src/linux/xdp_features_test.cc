// The AF_XDP zero-copy probe on a veth inside a namespace the test creates: both ways of asking
// (xdp-features, the trial bind) must say "no zero-copy" there, and leave nothing behind.
#include "linux/xdp_features.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <cstdio>

#include "linux/netns.h"
#include "linux/netns_test_helpers.h"
#include "linux/test_netns.h"

namespace uplinkd {
namespace {

using testing::IpJson;
using testing::TestNetns;
using testing::UniqueName;

bool KernelAtLeast(int major, int minor) {
  utsname u{};
  int ma = 0, mi = 0;
  if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

class XdpFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ns_.ok()) << "cannot create network namespace " << ns_.name();
    ASSERT_TRUE(ns_.Ip(fmt::format("link add {} type veth peer name {}", a_, b_)).ok());
    ASSERT_TRUE(ns_.Ip(fmt::format("link set {} up", a_)).ok());
    ASSERT_TRUE(ns_.Ip(fmt::format("link set {} up", b_)).ok());
    Result<nlohmann::json> link = IpJson(fmt::format("-n {} link show dev {}", ns_.name(), a_));
    ASSERT_TRUE(link.ok() && link->is_array() && !link->empty());
    ifindex_ = (*link)[0].value("ifindex", 0);
    ASSERT_GT(ifindex_, 0);
    before_ = LinkJson();
  }

  nlohmann::json LinkJson() {
    Result<nlohmann::json> j = IpJson(fmt::format("-d -n {} link show dev {}", ns_.name(), a_));
    return j.ok() ? *j : nlohmann::json();
  }

  // Runs `fn` in the test's namespace (where ifindex_ means the veth).
  template <typename Fn>
  void InNetns(Fn fn) {
    Status s = RunInNetns(ns_.fd(), [&] {
      fn();
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.message();
  }

  TestNetns ns_{"xdpf"};
  std::string a_ = UniqueName("xfa");
  std::string b_ = UniqueName("xfb");
  int ifindex_ = 0;
  nlohmann::json before_;
};

TEST_F(XdpFeaturesTest, VethReportsNoXskZeroCopyInXdpFeatures) {
  if (!KernelAtLeast(6, 3)) GTEST_SKIP() << "xdp-features (the netdev genl family) is Linux >= 6.3";
  InNetns([&] {
    Result<uint64_t> features = QueryXdpFeatures(ifindex_);
    ASSERT_TRUE(features.ok()) << features.status().message();
    EXPECT_NE(*features & 1u, 0u) << "veth has NETDEV_XDP_ACT_BASIC: " << *features;
    EXPECT_EQ(*features & kXdpActXskZeroCopy, 0u) << *features;
    Result<XskZeroCopySupport> probe = ProbeXskZeroCopy(ifindex_);
    ASSERT_TRUE(probe.ok()) << probe.status().message();
    EXPECT_FALSE(probe->zero_copy);
    EXPECT_TRUE(probe->from_xdp_features);
  });
  EXPECT_EQ(LinkJson(), before_);
}

// The fallback of kernels without xdp-features, called directly: veth refuses a zero-copy bind,
// and the socket is gone with the call (queue 0 is free again: a second trial binds as well).
TEST_F(XdpFeaturesTest, TrialBindOnVethSaysNoZeroCopyAndLeavesNothing) {
  InNetns([&] {
    for (int i = 0; i < 2; ++i) {
      Result<bool> zc = TrialXskZeroCopyBind(ifindex_, 0);
      ASSERT_TRUE(zc.ok()) << zc.status().message();
      EXPECT_FALSE(*zc);
    }
  });
  nlohmann::json after = LinkJson();
  EXPECT_EQ(after, before_) << after.dump(1);
  EXPECT_EQ(after.dump().find("xdp"), std::string::npos) << after.dump(1);
}

TEST_F(XdpFeaturesTest, UnknownInterfaceIsAnError) {
  InNetns([&] {
    Result<XskZeroCopySupport> probe = ProbeXskZeroCopy(999999);
    EXPECT_FALSE(probe.ok());
    EXPECT_FALSE(TrialXskZeroCopyBind(999999).ok());
    EXPECT_FALSE(ProbeXskZeroCopy(0).ok());
  });
}

}  // namespace
}  // namespace uplinkd
