#include "manager/driver_choice.h"

#include <gtest/gtest.h>

namespace uplinkd {
namespace {

TEST(DriverChoiceTest, AutoOnAVethTriesAfPacketOnlyAndSaysWhyNotTheOthers) {
  auto table = CheckDrivers({"eth0", "veth", "", 1500});
  ASSERT_EQ(table.size(), 6u);
  EXPECT_EQ(table.front().driver, "virtio");  // most performant first
  EXPECT_NE(table[0].reason.find("'veth', not virtio_net"), std::string::npos);
  auto candidates = Candidates(table, "");
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0].driver, "af_packet");
  for (const DriverSupport& d : table) EXPECT_FALSE(d.reason.empty()) << d.driver;
}

TEST(DriverChoiceTest, ExplicitDriverIsTriedEvenWhenAChecksFails) {
  auto table = CheckDrivers({"eth0", "veth", "", 1500});
  auto candidates = Candidates(table, "af_xdp");
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0].driver, "af_xdp");
  EXPECT_FALSE(candidates[0].supported);
  EXPECT_EQ(Candidates(table, "none")[0].driver, "none");
}

TEST(DriverChoiceTest, VirtioDeviceIsRecognised) {
  auto table = CheckDrivers({"eth0", "virtio_net", "0000:00:08.0", 1500});
  EXPECT_NE(table[0].reason.find("not part of this build"), std::string::npos);
}

TEST(DriverChoiceTest, TableFormat) {
  std::string text = FormatDriverTable(CheckDrivers({"eth0", "veth", "", 1500}));
  EXPECT_NE(text.find("af_packet   yes"), std::string::npos) << text;
  EXPECT_NE(text.find("dpdk        no"), std::string::npos) << text;
}

}  // namespace
}  // namespace uplinkd
