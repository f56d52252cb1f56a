#include "common/parse.h"

#include <gtest/gtest.h>

namespace uplinkd {
namespace {

TEST(ParseTest, Unsigned) {
  EXPECT_EQ(ParseUnsigned("0"), 0u);
  EXPECT_EQ(ParseUnsigned("1024"), 1024u);
  EXPECT_EQ(ParseUnsigned("0x10"), 16u);
  EXPECT_FALSE(ParseUnsigned(""));
  EXPECT_FALSE(ParseUnsigned("12a"));
  EXPECT_FALSE(ParseUnsigned("-1"));
  EXPECT_FALSE(ParseUnsigned("99999999999999999999999"));
}

TEST(ParseTest, Mac) {
  auto mac = ParseMac("02:fe:0a:0B:0c:ff");
  ASSERT_TRUE(mac);
  EXPECT_EQ(FormatMac(*mac), "02:fe:0a:0b:0c:ff");
  EXPECT_FALSE(ParseMac("02:fe:0a:0b:0c"));
  EXPECT_FALSE(ParseMac("02:fe:0a:0b:0c:fg"));
  EXPECT_FALSE(ParseMac("02:fe:0a:0b:0cff:"));
}

TEST(ParseTest, CpuList) {
  auto cpus = ParseCpuList("0-2,5,7-8");
  ASSERT_TRUE(cpus);
  EXPECT_EQ(*cpus, (std::vector<uint32_t>{0, 1, 2, 5, 7, 8}));
  EXPECT_FALSE(ParseCpuList("3-1"));
  EXPECT_FALSE(ParseCpuList("1,"));
  EXPECT_FALSE(ParseCpuList("a"));
}

TEST(ParseTest, Pci) {
  EXPECT_EQ(ParsePciAddress("0000:00:08.0"), "0000:00:08.0");
  EXPECT_EQ(ParsePciAddress("00:08.0"), "0000:00:08.0");
  EXPECT_EQ(ParsePciAddress("0000:ab:cd.1"), "0000:ab:cd.1");  // as the Calico guide writes it
  EXPECT_EQ(ParsePciAddress("0000:ab:0d.1"), "0000:ab:0d.1");
  EXPECT_FALSE(ParsePciAddress("eth0"));
  EXPECT_FALSE(ParsePciAddress("0000:00:08.9"));
}

TEST(ParseTest, PowerOfTwo) {
  EXPECT_TRUE(IsPowerOfTwo(1024));
  EXPECT_FALSE(IsPowerOfTwo(0));
  EXPECT_FALSE(IsPowerOfTwo(1000));
}

}  // namespace
}  // namespace uplinkd
