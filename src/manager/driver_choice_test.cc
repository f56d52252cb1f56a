#include "manager/driver_choice.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace uplinkd {
namespace {

UplinkFacts Facts(const std::string& driver, const std::string& pci, uint32_t mtu) {
  UplinkFacts f;
  f.name = "eth0";
  f.kernel_driver = driver;
  f.pci_id = pci;
  f.mtu = mtu;
  return f;
}

TEST(DriverChoiceTest, AutoOnAVethTriesAfXdpThenAfPacketAndSaysWhyNotTheOthers) {
  auto table = CheckDrivers(Facts("veth", "", 1500));
  ASSERT_EQ(table.size(), 6u);
  EXPECT_EQ(table.front().driver, "virtio");  // most performant first
  EXPECT_NE(table[0].reason.find("'veth', not virtio_net"), std::string::npos);
  auto candidates = Candidates(table, "");
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[0].driver, "af_xdp");
  EXPECT_EQ(candidates[1].driver, "af_packet");
  EXPECT_NE(table[3].reason.find("no dpdk driver"), std::string::npos) << table[3].reason;
  for (const DriverSupport& d : table) EXPECT_FALSE(d.reason.empty()) << d.driver;
}

TEST(DriverChoiceTest, ForeignXdpProgramLeavesAfPacket) {
  UplinkFacts facts = Facts("veth", "", 1500);
  facts.af_xdp_blocker = "an XDP program is already attached: 'felix' (id 7, native)";
  auto table = CheckDrivers(facts);
  auto candidates = Candidates(table, "");
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0].driver, "af_packet");
  EXPECT_NE(FormatDriverTable(table).find("'felix'"), std::string::npos);
}

TEST(DriverChoiceTest, JumboMtuIsCappedWithoutMultiBuffer) {
  UplinkFacts facts = Facts("veth", "", 9000);
  EXPECT_NE(CheckDrivers(facts)[2].reason.find("MTU 9000 lowered to 3072"), std::string::npos);
  facts.af_xdp_multi_buffer = true;
  EXPECT_NE(CheckDrivers(facts)[2].reason.find("multi-buffer"), std::string::npos);
  EXPECT_EQ(AfXdpRunMtu(9000, false), 3072u);
  EXPECT_EQ(AfXdpRunMtu(9000, true), 9000u);
  EXPECT_EQ(AfXdpRunMtu(1500, false), 1500u);
  EXPECT_EQ(AfXdpRunMtu(9000, false, 1902), 1902u);  // 2048-byte buffers
  EXPECT_EQ(AfXdpRunMtu(9000, true, 1902), 9000u);
}

TEST(DriverChoiceTest, ExplicitDriverIsTheOnlyCandidateEvenWhenItsCheckFails) {
  UplinkFacts facts = Facts("veth", "", 1500);
  facts.af_xdp_blocker = "kernel 5.3 is older than 5.4, which AF_XDP needs";
  auto table = CheckDrivers(facts);
  auto candidates = Candidates(table, "af_xdp");
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0].driver, "af_xdp");
  EXPECT_FALSE(candidates[0].supported);
  EXPECT_EQ(Candidates(table, "none")[0].driver, "none");
  EXPECT_TRUE(Candidates(table, "none")[0].supported);
  for (const DriverSupport& d : Candidates(table, "")) EXPECT_NE(d.driver, "none");
}

TEST(DriverChoiceTest, DpdkTakesAPciDeviceOrATemplateVdev) {
  UplinkFacts pci = Facts("virtio_net", "0000:00:08.0", 1500);
  pci.dpdk_built = true;
  pci.pci_driver = "virtio-pci";
  auto table = CheckDrivers(pci);
  EXPECT_TRUE(table[3].supported);
  EXPECT_NE(table[3].reason.find("PCI 0000:00:08.0 bound to vfio-pci for the run (from virtio-pci)"),
            std::string::npos) << table[3].reason;
  pci.dpdk_noiommu_without_hugepages = true;
  EXPECT_FALSE(CheckDrivers(pci)[3].supported);
  EXPECT_NE(CheckDrivers(pci)[3].reason.find("needs an IOMMU"), std::string::npos);

  UplinkFacts veth = Facts("veth", "", 1500);
  veth.dpdk_built = true;
  EXPECT_FALSE(CheckDrivers(veth)[3].supported);
  veth.dpdk_vdev = "net_af_packet0";
  EXPECT_TRUE(CheckDrivers(veth)[3].supported);
  EXPECT_NE(CheckDrivers(veth)[3].reason.find("vdev net_af_packet0 on eth0"), std::string::npos);
  // Auto keeps af_xdp first on a veth.
  auto candidates = Candidates(CheckDrivers(veth), "");
  ASSERT_EQ(candidates.size(), 3u);
  EXPECT_EQ(candidates[0].driver, "af_xdp");
  EXPECT_EQ(candidates[1].driver, "dpdk");
}

TEST(DriverChoiceTest, VirtioDeviceIsRecognised) {
  auto table = CheckDrivers(Facts("virtio_net", "0000:00:08.0", 1500));
  EXPECT_NE(table[0].reason.find("not part of this build"), std::string::npos);
}

TEST(DriverChoiceTest, TableFormat) {
  std::string text = FormatDriverTable(CheckDrivers(Facts("veth", "", 1500)));
  EXPECT_NE(text.find("af_packet   yes"), std::string::npos) << text;
  EXPECT_NE(text.find("dpdk        no"), std::string::npos) << text;  // not built in these facts
}

}  // namespace
}  // namespace uplinkd
