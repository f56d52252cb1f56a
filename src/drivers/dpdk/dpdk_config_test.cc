// The dpdk stanza as EAL arguments, and what is refused before anything starts.
#include <gtest/gtest.h>

#include "config/startup_config.h"
#include "drivers/dpdk/dpdk.h"

namespace uplinkd {
namespace {

StartupConfig Parse(const std::string& text) {
  auto cfg = ParseStartupConfig(text, "startup.conf");
  EXPECT_TRUE(cfg.ok()) << cfg.status().message();
  return cfg.ok() ? *cfg : StartupConfig{};
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

TEST(DpdkConfig, WantedOnlyWithDevicesAndThePluginEnabled) {
  EXPECT_FALSE(DpdkWanted(Parse("")));
  EXPECT_FALSE(DpdkWanted(Parse("dpdk { no-hugetlb }")));
  EXPECT_TRUE(DpdkWanted(Parse("dpdk { vdev net_af_packet0,iface=eth1 }")));
  EXPECT_TRUE(DpdkWanted(Parse("dpdk { dev 0000:00:08.0 }")));
  EXPECT_FALSE(DpdkWanted(Parse("dpdk { dev 0000:00:08.0 }\n"
                                "plugins { plugin dpdk_plugin.so { disable } }")));
  EXPECT_FALSE(DpdkWanted(Parse("dpdk { dev 0000:00:08.0 }\n"
                                "plugins { plugin default { disable } }")));
  EXPECT_TRUE(DpdkWanted(Parse("dpdk { dev 0000:00:08.0 }\n"
                               "plugins { plugin default { disable } plugin dpdk_plugin.so { enable } }")));
}

TEST(DpdkConfig, EalArgumentsWithoutHugepages) {
  StartupConfig cfg = Parse(
      "dpdk { dev 0000:00:08.0 { num-rx-queues 2 devargs txq_inline=64 } iova-mode va no-hugetlb\n"
      "       vdev net_af_packet0,iface=eth1 log-level debug }");
  std::string args = Join(DpdkEalArguments(cfg, 1));
  EXPECT_EQ(args.rfind("uplinkd --no-telemetry -l 1 --main-lcore 1 ", 0), 0u) << args;
  EXPECT_NE(args.find(" --no-huge -m 256 --no-shconf --file-prefix uplinkd-"), std::string::npos) << args;
  EXPECT_EQ(args.find("--in-memory"), std::string::npos) << args;
  EXPECT_NE(args.find(" --iova-mode=va"), std::string::npos) << args;
  EXPECT_NE(args.find(" -a 0000:00:08.0,txq_inline=64"), std::string::npos) << args;
  EXPECT_NE(args.find(" --vdev net_af_packet0,iface=eth1"), std::string::npos) << args;
  EXPECT_NE(args.find(" --log-level=debug"), std::string::npos) << args;
  EXPECT_EQ(args.find("--no-pci"), std::string::npos) << args;
}

TEST(DpdkConfig, EalArgumentsWithHugepages) {
  StartupConfig cfg = Parse("dpdk { vdev net_tap0 socket-mem 512 huge-dir /mnt/huge }");
  std::string args = Join(DpdkEalArguments(cfg, 0));
  EXPECT_NE(args.find(" --in-memory"), std::string::npos) << args;
  EXPECT_NE(args.find(" --socket-mem 512"), std::string::npos) << args;
  EXPECT_NE(args.find(" --huge-dir /mnt/huge"), std::string::npos) << args;
  EXPECT_NE(args.find(" --no-pci"), std::string::npos) << args;  // no dev listed: no PCI scan
  EXPECT_NE(args.find(" --log-level=notice"), std::string::npos) << args;
  EXPECT_EQ(args.find("--no-huge"), std::string::npos) << args;
}

TEST(DpdkConfig, RefusedBeforeAnythingStarts) {
  Status empty = CheckDpdkConfig(Parse("dpdk { no-hugetlb }"));
  EXPECT_FALSE(empty.ok());
  EXPECT_NE(empty.message().find("lists no device"), std::string::npos) << empty.message();
  Status pa = CheckDpdkConfig(Parse("dpdk { no-hugetlb iova-mode pa vdev net_tap0 }"));
  EXPECT_FALSE(pa.ok());
  EXPECT_NE(pa.message().find("iova-mode pa"), std::string::npos) << pa.message();
  EXPECT_TRUE(CheckDpdkConfig(Parse("dpdk { no-hugetlb iova-mode va vdev net_tap0 }")).ok());
}

}  // namespace
}  // namespace uplinkd
