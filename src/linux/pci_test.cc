// PciSysfs against a sysfs tree of the test's own: what it reads, and what it writes where.
#include "linux/pci.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace uplinkd {
namespace {

namespace fs = std::filesystem;

class PciSysfsTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("pci_test_" + std::to_string(getpid()));
    fs::remove_all(root_);
    for (const char* d : {"virtio-pci", "vfio-pci"}) {
      fs::create_directories(root_ / "drivers" / d);
      std::ofstream(root_ / "drivers" / d / "bind");
      std::ofstream(root_ / "drivers" / d / "unbind");
    }
    fs::create_directories(root_ / "devices" / kDev);
    std::ofstream(root_ / "devices" / kDev / "driver_override");
    BindInTree("virtio-pci");
  }
  void TearDown() override { fs::remove_all(root_); }

  // What the kernel would do on a bind: the device's driver link.
  void BindInTree(const std::string& driver) {
    fs::remove(root_ / "devices" / kDev / "driver");
    fs::create_directory_symlink(root_ / "drivers" / driver, root_ / "devices" / kDev / "driver");
  }
  std::string Read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  static constexpr const char* kDev = "0000:00:08.0";
  fs::path root_;
};

TEST_F(PciSysfsTest, ReadsTheBoundDriver) {
  PciSysfs pci(root_.string());
  auto d = pci.CurrentDriver(kDev);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(*d, "virtio-pci");
  EXPECT_TRUE(pci.DriverRegistered("vfio-pci"));
  EXPECT_FALSE(pci.DriverRegistered("igb_uio"));
  auto missing = pci.CurrentDriver("0000:00:09.0");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no PCI device 0000:00:09.0"), std::string::npos);
}

TEST_F(PciSysfsTest, BindWritesUnbindOverrideAndBindThenChecks) {
  PciSysfs pci(root_.string());
  // The tree does not rebind by itself: Bind sees the old driver still there and says so.
  Status s = pci.Bind(kDev, "vfio-pci");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bound to 'virtio-pci' after binding it to vfio-pci"),
            std::string::npos) << s.message();
  EXPECT_EQ(Read(root_ / "drivers" / "virtio-pci" / "unbind"), kDev);
  EXPECT_EQ(Read(root_ / "devices" / kDev / "driver_override"), "vfio-pci");
  EXPECT_EQ(Read(root_ / "drivers" / "vfio-pci" / "bind"), kDev);
  // Bound already: nothing to do.
  BindInTree("vfio-pci");
  EXPECT_TRUE(pci.Bind(kDev, "vfio-pci").ok());
  EXPECT_FALSE(pci.Bind(kDev, "igb_uio").ok());  // not loaded
}

TEST_F(PciSysfsTest, RestoreClearsTheOverrideAndBindsTheOriginal) {
  PciSysfs pci(root_.string());
  BindInTree("vfio-pci");
  std::ofstream(root_ / "devices" / kDev / "driver_override") << "vfio-pci";
  ASSERT_TRUE(pci.Restore(kDev, "virtio-pci").ok());
  EXPECT_EQ(Read(root_ / "devices" / kDev / "driver_override"), "\n");
  EXPECT_EQ(Read(root_ / "drivers" / "vfio-pci" / "unbind"), kDev);
  EXPECT_EQ(Read(root_ / "drivers" / "virtio-pci" / "bind"), kDev);
}

}  // namespace
}  // namespace uplinkd
