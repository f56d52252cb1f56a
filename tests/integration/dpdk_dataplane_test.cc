// The dpdk driver for real: the Calico guide's two dpdk startup.conf blocks (with hugepages;
// without: `iova-mode va`, `no-hugetlb`, `buffers { no-hugetlb }`), their PCI `dev` line replaced
// by a vdev on a veth of the test's own topology, forwarding pings and TCP between two peers:
// a dpdk interface cross-connected to an af_packet one, and two dpdk vdevs.
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/integration/dataplane_fixture.h"

namespace uplinkd::rig {
namespace {

constexpr uint64_t k50MB = 50ull * 1000 * 1000;

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(UPLINKD_STARTUP_FIXTURES) + "/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The guide's block as the test runs it: its CLI socket and exec file are the test's, and its
// `dev 0000:00:08.0 { num-rx-queues 1 num-tx-queues 1 }` line becomes the given vdevs, the
// queue settings kept as `dev default`.
Dataplane::ConfMaker GuideConf(const std::string& fixture, const std::vector<std::string>& vdevs) {
  std::string text = ReadFixture(fixture);
  return [text, vdevs](const std::string& socket, const std::string& exec) {
    std::string conf = text;
    std::string lines = "dev default { num-rx-queues 1  num-tx-queues 1 }\n";
    for (const std::string& v : vdevs) lines += "  vdev " + v + "\n";
    conf = std::regex_replace(conf, std::regex(R"(dev 0000:00:08\.0 \{[^}]*\}\n)"), lines);
    conf = std::regex_replace(conf, std::regex(R"(cli-listen \S+)"),
                              "cli-listen " + socket + "\n  exec " + exec);
    // The guide pins the main thread to core 1; the test machine may have fewer cores.
    conf = std::regex_replace(conf, std::regex(R"(main-core 1)"), "main-core 0");
    return conf;
  };
}

void ExpectTraffic(Topology& t, uint16_t port) {
  ExpectPings(t);
  ExpectTransfer(t, t.p2_v4, k50MB, port);
  ExpectTransfer(t, t.p2_v6, 5 * 1000 * 1000, static_cast<uint16_t>(port + 1));
}

// The peers put finished frames on the wire, as a NIC delivers them: DPDK's af_packet PMD reads
// no virtio-net header, so a veth's partial checksums or GSO super-frames would reach uplinkd
// unfinished.
bool PeersFinishTheirFrames(Topology& t) {
  return t.peer1->ExecOrFail({"ethtool", "-K", t.left.a, "tx", "off"}) &&
         t.peer2->ExecOrFail({"ethtool", "-K", t.right.b, "tx", "off"});
}

// Every buffer is back in the pool once traffic stopped: what the PMDs allocated and freed went
// through the mempool ops into the engine's own pool.
void ExpectBuffersBalanced(Dataplane& dp) {
  nlohmann::json b;
  for (int i = 0; i < 50; ++i) {
    b = dp.CtlJson("show buffers");
    if (b[0]["avail"].get<uint64_t>() + b[0]["cached"].get<uint64_t>() == b[0]["total"].get<uint64_t>()) break;
    usleep(100000);
  }
  EXPECT_EQ(b[0]["used"].get<uint64_t>(), 0u) << b.dump();
}

// Reserves 2 MB hugepages for one test and gives them back after, even when the test fails.
class HugepageReservation {
 public:
  explicit HugepageReservation(uint64_t pages) {
    before_ = Read();
    Write(before_ + pages);
    ok_ = Read() >= before_ + pages;
  }
  ~HugepageReservation() { Write(before_); }
  bool ok() const { return ok_; }

 private:
  static constexpr const char* kPath = "/proc/sys/vm/nr_hugepages";
  static uint64_t Read() {
    std::ifstream in(kPath);
    uint64_t n = 0;
    in >> n;
    return n;
  }
  static void Write(uint64_t n) { std::ofstream(kPath) << n << "\n"; }
  uint64_t before_ = 0;
  bool ok_ = false;
};

struct GuideCase {
  const char* fixture;
  bool hugepages;
};

class DpdkGuideTest : public testing::TestWithParam<GuideCase> {};

// A dpdk vdev (net_af_packet on the left veth) cross-connected to an af_packet host-interface on
// the right one.
TEST_P(DpdkGuideTest, VdevCrossConnectedToAfPacket) {
  UPLINKD_RIG_REQUIRE_NETNS();
  std::unique_ptr<HugepageReservation> huge;
  if (GetParam().hugepages) {
    huge = std::make_unique<HugepageReservation>(128);
    ASSERT_TRUE(huge->ok()) << "cannot reserve 128 hugepages";
  }
  auto t = MakeTopology(60 + (GetParam().hugepages ? 1 : 0));
  ASSERT_TRUE(t);
  ASSERT_TRUE(PeersFinishTheirFrames(*t));
  std::string host = "host-" + t->right.a;
  auto dp = Dataplane::StartWithConf(*t->dut,
                                     GuideConf(GetParam().fixture, {"net_af_packet0,iface=" + t->left.b}),
                                     {"create host-interface name " + t->right.a,
                                      "set interface l2 xconnect net_af_packet0 " + host,
                                      "set interface l2 xconnect " + host + " net_af_packet0",
                                      "set interface state net_af_packet0 up",
                                      "set interface state " + host + " up"});
  ASSERT_TRUE(dp);
  auto hw = dp->CtlJson("show hardware-interfaces net_af_packet0");
  ASSERT_TRUE(hw.is_array() && !hw.empty()) << hw.dump();
  EXPECT_EQ(hw[0]["driver"], "dpdk");
  EXPECT_NE(hw[0].dump().find("pmd: net_af_packet"), std::string::npos) << hw.dump();
  auto buffers = dp->CtlJson("show buffers");
  EXPECT_EQ(buffers[0]["hugepages"].get<bool>(), GetParam().hugepages) << buffers.dump();

  ExpectTraffic(*t, 5060);
  auto dpdk_if = dp->Counters("net_af_packet0");
  EXPECT_GT(dpdk_if["rx_bytes"].get<uint64_t>(), k50MB);
  EXPECT_GT(dpdk_if["tx_packets"].get<uint64_t>(), 1000u);  // the ACKs, frame by frame
  EXPECT_EQ(dpdk_if["drops"].get<uint64_t>(), 0u);
  ExpectBuffersBalanced(*dp);
}

INSTANTIATE_TEST_SUITE_P(Guide, DpdkGuideTest,
                         testing::Values(GuideCase{"guide_dpdk_no_hugepages.conf", false},
                                         GuideCase{"guide_dpdk_hugepages.conf", true}),
                         [](const auto& p) {
                           return std::string(p.param.hugepages ? "Hugepages" : "NoHugepages");
                         });

// Two dpdk vdevs cross-connected, without hugepages; the second named by its tag-less device
// name, the first found by its engine name.
TEST(DpdkVdevTest, TwoVdevsCrossConnected) {
  UPLINKD_RIG_REQUIRE_NETNS();
  auto t = MakeTopology(62);
  ASSERT_TRUE(t);
  ASSERT_TRUE(PeersFinishTheirFrames(*t));
  auto dp = Dataplane::StartWithConf(
      *t->dut,
      GuideConf("guide_dpdk_no_hugepages.conf",
                {"net_af_packet0,iface=" + t->left.b, "net_af_packet1,iface=" + t->right.a}),
      {"set interface l2 xconnect net_af_packet0 net_af_packet1",
       "set interface l2 xconnect net_af_packet1 net_af_packet0",
       "set interface state net_af_packet0 up", "set interface state net_af_packet1 up"});
  ASSERT_TRUE(dp);
  ExpectTraffic(*t, 5062);
  auto left = dp->Counters("net_af_packet0");
  auto right = dp->Counters("net_af_packet1");
  EXPECT_GT(left["rx_bytes"].get<uint64_t>(), k50MB);
  EXPECT_GT(right["tx_bytes"].get<uint64_t>(), k50MB);
  EXPECT_EQ(left["drops"].get<uint64_t>(), 0u);
  ExpectBuffersBalanced(*dp);
}

// The stanza is used only when dpdk_plugin.so is enabled: disabled, no port appears.
TEST(DpdkVdevTest, DisabledPluginIgnoresTheStanza) {
  UPLINKD_RIG_REQUIRE_NETNS();
  auto t = MakeTopology(63);
  ASSERT_TRUE(t);
  auto dp = Dataplane::Start(*t->dut,
                             "dpdk { no-hugetlb vdev net_af_packet0,iface=" + t->left.b + " }\n"
                             "plugins { plugin dpdk_plugin.so { disable } }",
                             {});
  ASSERT_TRUE(dp);
  auto all = dp->CtlJson("show interface");
  EXPECT_EQ(all.dump().find("net_af_packet0"), std::string::npos) << all.dump();
  EXPECT_NE(dp->process().Log().find("dpdk { } is not used: dpdk_plugin.so is disabled"),
            std::string::npos)
      << dp->process().Log();
}

// Bad stanzas stop the dataplane before anything starts, naming the problem.
TEST(DpdkVdevTest, UnknownVdevIsAClearError) {
  UPLINKD_RIG_REQUIRE_NETNS();
  auto t = MakeTopology(64);
  ASSERT_TRUE(t);
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir);
  std::string conf = dir->WriteFile(
      "startup.conf", "unix { nodaemon cli-listen " + dir->Path("cli.sock") +
                          " }\ndpdk { no-hugetlb iova-mode va vdev net_af_packet0,iface=nosuch0 }\n");
  CommandResult r = t->dut->Exec({UplinkdBinary(), "dataplane", "-c", conf}, seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("net_af_packet0"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace uplinkd::rig
