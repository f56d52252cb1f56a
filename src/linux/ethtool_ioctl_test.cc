// ethtool ioctls on veth, inside namespaces the test creates.
#include "linux/ethtool_ioctl.h"

#include <gtest/gtest.h>

#include "linux/netns_test_helpers.h"

namespace uplinkd {
namespace {

using testing::RunCommand;
using testing::TestNetns;
using testing::UniqueName;

class EthtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ns_.ok());
    ASSERT_TRUE(ns_.Ip(fmt::format("link add {} numrxqueues 4 numtxqueues 4 type veth peer name {} "
                                   "numrxqueues 4 numtxqueues 4",
                                   a_, b_))
                    .ok());
    Result<std::unique_ptr<Ethtool>> e = Ethtool::OpenIn(ns_.fd());
    ASSERT_TRUE(e.ok()) << e.status().message();
    ethtool_ = std::move(e).value();
  }

  TestNetns ns_{"eth"};
  std::string a_ = UniqueName("eta");
  std::string b_ = UniqueName("etb");
  std::unique_ptr<Ethtool> ethtool_;
};

TEST_F(EthtoolTest, DriverInfoOfVeth) {
  Result<EthtoolDriverInfo> info = ethtool_->GetDriverInfo(a_);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->driver, "veth");
  EXPECT_EQ(info->bus_info, "");
  EXPECT_EQ(PciIdFromBusInfo(info->bus_info), "");
}

TEST_F(EthtoolTest, ChannelsGetAndSet) {
  Result<Channels> ch = ethtool_->GetChannels(a_);
  // veth has channel support since Linux 5.10; older kernels answer EOPNOTSUPP, which the
  // snapshot records as "no channels" (nothing to restore).
  if (!ch.ok() && ch.status().code() == EOPNOTSUPP) GTEST_SKIP() << ch.status().message();
  ASSERT_TRUE(ch.ok()) << ch.status().message();
  EXPECT_EQ(ch->max_rx, 4u);
  EXPECT_EQ(ch->max_tx, 4u);
  EXPECT_EQ(ch->rx, 4u);
  EXPECT_EQ(ch->tx, 4u);
  EXPECT_EQ(ch->combined, 0u);

  Channels want = *ch;
  want.rx = 2;
  want.tx = 3;
  Status status = ethtool_->SetChannels(a_, want);
  ASSERT_TRUE(status.ok()) << status.message();
  ch = ethtool_->GetChannels(a_);
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch->rx, 2u);
  EXPECT_EQ(ch->tx, 3u);
  // The ethtool tool agrees, when it is installed.
  testing::CommandResult out =
      RunCommand(fmt::format("ip netns exec {} ethtool -l {} 2>/dev/null", ns_.name(), a_));
  if (out.status == 0) {
    size_t current = out.out.find("Current hardware settings");
    ASSERT_NE(current, std::string::npos) << out.out;
    EXPECT_NE(out.out.find("RX:\t\t2", current), std::string::npos) << out.out;
    EXPECT_NE(out.out.find("TX:\t\t3", current), std::string::npos) << out.out;
  }

  want.rx = 9;  // above the maximum
  status = ethtool_->SetChannels(a_, want);
  EXPECT_EQ(status.code(), EINVAL) << status.message();
  EXPECT_NE(status.message().find(a_), std::string::npos) << status.message();
}

TEST_F(EthtoolTest, WorksInTheSocketsNamespaceOnly) {
  EXPECT_EQ(ethtool_->GetDriverInfo("nosuchif0").status().code(), ENODEV);
  // An Ethtool of this thread's namespace (not the test's) does not see the test's veth: the
  // ioctl follows the socket, not /sys. (Read-only: nothing in our own namespace is changed.)
  Result<std::unique_ptr<Ethtool>> here = Ethtool::Open();
  ASSERT_TRUE(here.ok());
  Result<EthtoolDriverInfo> info = (*here)->GetDriverInfo(a_);
  EXPECT_EQ(info.status().code(), ENODEV) << info.status().message();
  EXPECT_NE(info.status().message().find(a_), std::string::npos);
  EXPECT_EQ(ethtool_->GetChannels("").status().code(), EINVAL);
}

TEST(PciIdTest, FromBusInfo) {
  EXPECT_EQ(PciIdFromBusInfo("0000:00:03.0"), "0000:00:03.0");
  EXPECT_EQ(PciIdFromBusInfo("00:03.0"), "0000:00:03.0");
  EXPECT_EQ(PciIdFromBusInfo(""), "");
  EXPECT_EQ(PciIdFromBusInfo("tap"), "");
  EXPECT_EQ(PciIdFromBusInfo("virtio-no-such-device"), "");
  EXPECT_EQ(PciIdFromBusInfo("virtio/../../etc"), "");
  EXPECT_EQ(PciDriver(""), "");
  EXPECT_EQ(PciDriver("../x"), "");
}

}  // namespace
}  // namespace uplinkd
