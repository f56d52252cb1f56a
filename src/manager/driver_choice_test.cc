#include "manager/driver_choice.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

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

// As the manager fills them where the probe answered from xdp-features.
UplinkFacts ProbedFacts(const std::string& driver, bool zero_copy) {
  UplinkFacts f = Facts(driver, "", 1500);
  f.af_xdp_zero_copy = zero_copy;
  f.af_xdp_zero_copy_evidence = UplinkFacts::ZeroCopyEvidence::kXdpFeatures;
  return f;
}

const DriverSupport& Find(const std::vector<DriverSupport>& table, const std::string& driver) {
  for (const DriverSupport& d : table) {
    if (d.driver == driver) return d;
  }
  static const DriverSupport kMissing{"missing", false, "not in the table"};
  ADD_FAILURE() << driver << " is not in the table";
  return kMissing;
}

std::vector<std::string> Names(const std::vector<DriverSupport>& list) {
  std::vector<std::string> names;
  for (const DriverSupport& d : list) names.push_back(d.driver);
  return names;
}

using Order = std::vector<std::string>;

// A veth has no AF_XDP zero-copy: af_packet first (it carries GSO super-frames whole), af_xdp
// after it, and the reasons say so.
TEST(DriverChoiceTest, AutoOnAVethTriesAfPacketThenAfXdpAndSaysWhy) {
  auto table = CheckDrivers(ProbedFacts("veth", false));
  ASSERT_EQ(table.size(), 6u);
  EXPECT_EQ(table.front().driver, "virtio");  // most performant first
  EXPECT_NE(table[0].reason.find("'veth', not virtio_net"), std::string::npos);
  EXPECT_EQ(Names(table), (Order{"virtio", "avf", "dpdk", "af_packet", "af_xdp", "none"}));
  EXPECT_EQ(Names(Candidates(table, "")), (Order{"af_packet", "af_xdp"}));
  const DriverSupport& af_xdp = Find(table, "af_xdp");
  EXPECT_TRUE(af_xdp.supported);
  EXPECT_EQ(af_xdp.reason,
            "AF_XDP sockets on eth0; copy mode only (driver veth reports no XSK zero-copy in "
            "xdp-features): ranked after af_packet, which carries GSO super-frames whole");
  EXPECT_NE(Find(table, "dpdk").reason.find("no dpdk driver"), std::string::npos);
  for (const DriverSupport& d : table) EXPECT_FALSE(d.reason.empty()) << d.driver;
}

TEST(DriverChoiceTest, ZeroCopyRanksAfXdpFirst) {
  auto table = CheckDrivers(ProbedFacts("ixgbe", true));
  EXPECT_EQ(Names(table), (Order{"virtio", "avf", "af_xdp", "dpdk", "af_packet", "none"}));
  EXPECT_EQ(Names(Candidates(table, "")), (Order{"af_xdp", "af_packet"}));
  EXPECT_EQ(Find(table, "af_xdp").reason, "AF_XDP sockets on eth0; zero-copy (xdp-features)");
}

TEST(DriverChoiceTest, ZeroCopyFromATrialBindOrUnknown) {
  UplinkFacts trial = Facts("virtio_net", "", 1500);
  trial.af_xdp_zero_copy_evidence = UplinkFacts::ZeroCopyEvidence::kTrialBind;
  EXPECT_EQ(Names(Candidates(CheckDrivers(trial), "")), (Order{"af_packet", "af_xdp"}));
  EXPECT_NE(Find(CheckDrivers(trial), "af_xdp")
                .reason.find("copy mode only (driver virtio_net refused a zero-copy AF_XDP bind "
                             "on queue 0): ranked after af_packet"),
            std::string::npos);
  trial.af_xdp_zero_copy = true;
  EXPECT_EQ(Names(Candidates(CheckDrivers(trial), "")), (Order{"af_xdp", "af_packet"}));
  EXPECT_NE(Find(CheckDrivers(trial), "af_xdp").reason.find("zero-copy (a trial bind on queue 0)"),
            std::string::npos);

  // The probe failed: af_xdp stays supported, as copy mode.
  UplinkFacts unknown = Facts("veth", "", 1500);
  unknown.af_xdp_zero_copy_error = "trial zero-copy AF_XDP bind: Device or resource busy";
  auto table = CheckDrivers(unknown);
  EXPECT_EQ(Names(Candidates(table, "")), (Order{"af_packet", "af_xdp"}));
  EXPECT_TRUE(Find(table, "af_xdp").supported);
  EXPECT_NE(Find(table, "af_xdp").reason.find("copy mode assumed (zero-copy unknown: trial "
                                              "zero-copy AF_XDP bind: Device or resource busy)"),
            std::string::npos) << Find(table, "af_xdp").reason;
}

// Named explicitly, af_xdp is taken in copy mode too.
TEST(DriverChoiceTest, ExplicitAfXdpWithoutZeroCopyIsStillACandidate) {
  auto table = CheckDrivers(ProbedFacts("veth", false));
  auto candidates = Candidates(table, "af_xdp");
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0].driver, "af_xdp");
  EXPECT_TRUE(candidates[0].supported);
}

TEST(DriverChoiceTest, AutoOrderIsLoggedWithReasons) {
  auto candidates = Candidates(CheckDrivers(ProbedFacts("veth", false)), "");
  std::string order = FormatAutoOrder(candidates);
  EXPECT_EQ(order.rfind("af_packet (works on any interface), then af_xdp (AF_XDP sockets on eth0; "
                        "copy mode only", 0),
            0u) << order;
  EXPECT_EQ(FormatAutoOrder({}), "no driver");
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
  EXPECT_NE(Find(CheckDrivers(facts), "af_xdp").reason.find("MTU 9000 lowered to 3072"),
            std::string::npos);
  facts.af_xdp_multi_buffer = true;
  EXPECT_NE(Find(CheckDrivers(facts), "af_xdp").reason.find("multi-buffer"), std::string::npos);
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
  const DriverSupport dpdk = Find(CheckDrivers(pci), "dpdk");
  EXPECT_TRUE(dpdk.supported);
  EXPECT_NE(dpdk.reason.find("PCI 0000:00:08.0 bound to vfio-pci for the run (from virtio-pci)"),
            std::string::npos) << dpdk.reason;
  pci.dpdk_noiommu_without_hugepages = true;
  EXPECT_FALSE(Find(CheckDrivers(pci), "dpdk").supported);
  EXPECT_NE(Find(CheckDrivers(pci), "dpdk").reason.find("needs an IOMMU"), std::string::npos);

  UplinkFacts veth = ProbedFacts("veth", false);
  veth.dpdk_built = true;
  EXPECT_FALSE(Find(CheckDrivers(veth), "dpdk").supported);
  veth.dpdk_vdev = "net_af_packet0";
  EXPECT_TRUE(Find(CheckDrivers(veth), "dpdk").supported);
  EXPECT_NE(Find(CheckDrivers(veth), "dpdk").reason.find("vdev net_af_packet0 on eth0"),
            std::string::npos);
  // On a veth (no zero-copy) af_xdp comes last; with zero-copy it comes before dpdk.
  EXPECT_EQ(Names(Candidates(CheckDrivers(veth), "")), (Order{"dpdk", "af_packet", "af_xdp"}));
  veth.af_xdp_zero_copy = true;
  EXPECT_EQ(Names(Candidates(CheckDrivers(veth), "")), (Order{"af_xdp", "dpdk", "af_packet"}));
}

TEST(DriverChoiceTest, VirtioDeviceIsRecognised) {
  auto table = CheckDrivers(Facts("virtio_net", "0000:00:08.0", 1500));
  EXPECT_NE(Find(table, "virtio").reason.find("not part of this build"), std::string::npos);
}

TEST(DriverChoiceTest, TableFormat) {
  std::string text = FormatDriverTable(CheckDrivers(Facts("veth", "", 1500)));
  EXPECT_NE(text.find("af_packet   yes"), std::string::npos) << text;
  EXPECT_NE(text.find("dpdk        no"), std::string::npos) << text;  // not built in these facts
}

}  // namespace
}  // namespace uplinkd
