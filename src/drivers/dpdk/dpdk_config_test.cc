// The dpdk stanza as EAL arguments, and what is refused before anything starts.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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

// VPP's binding of each `dev` to the uio-driver, against a PCI sysfs tree of the test's own.
TEST(DpdkConfig, DevicesAreBoundToTheUioDriverUnlessInUse) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("dpdk_bind_" + std::to_string(getpid()));
  fs::remove_all(root);
  const std::string dev = "0000:00:09.0";
  for (const char* d : {"virtio-pci", "vfio-pci"}) {
    fs::create_directories(root / "drivers" / d);
    std::ofstream(root / "drivers" / d / "bind");
    std::ofstream(root / "drivers" / d / "unbind");
  }
  fs::create_directories(root / "devices" / dev / "net" / "eth1");
  std::ofstream(root / "devices" / dev / "driver_override");
  fs::create_directory_symlink(root / "drivers" / "virtio-pci", root / "devices" / dev / "driver");
  auto read = [](const fs::path& p) {
    std::stringstream ss;
    ss << std::ifstream(p).rdbuf();
    return ss.str();
  };
  StartupConfig cfg = Parse("dpdk { dev 0000:00:09.0 no-hugetlb }");

  std::ofstream(root / "devices" / dev / "net" / "eth1" / "flags") << "0x1003\n";  // up
  Status up = BindDpdkDevices(cfg, root.string());
  EXPECT_FALSE(up.ok());
  EXPECT_NE(up.message().find("its interface eth1 is up"), std::string::npos) << up.message();
  EXPECT_EQ(read(root / "drivers" / "virtio-pci" / "unbind"), "");  // untouched

  std::ofstream(root / "devices" / dev / "net" / "eth1" / "flags") << "0x1002\n";  // down
  // The tree does not rebind by itself, so the check after binding fails; the writes are there.
  EXPECT_FALSE(BindDpdkDevices(cfg, root.string()).ok());
  EXPECT_EQ(read(root / "drivers" / "virtio-pci" / "unbind"), dev);
  EXPECT_EQ(read(root / "devices" / dev / "driver_override"), "vfio-pci");
  EXPECT_EQ(read(root / "drivers" / "vfio-pci" / "bind"), dev);

  fs::remove(root / "devices" / dev / "driver");
  fs::create_directory_symlink(root / "drivers" / "vfio-pci", root / "devices" / dev / "driver");
  EXPECT_TRUE(BindDpdkDevices(cfg, root.string()).ok());  // bound already
  EXPECT_TRUE(BindDpdkDevices(Parse("dpdk { dev 0000:00:0a.0 no-pci }"), root.string()).ok());
  fs::remove_all(root);
}

}  // namespace
}  // namespace uplinkd
