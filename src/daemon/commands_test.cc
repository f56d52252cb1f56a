#include "daemon/commands.h"

#include <gtest/gtest.h>

#include "drivers/mem/mem.h"

namespace uplinkd {
namespace {

class CommandsTest : public testing::Test {
 protected:
  void SetUp() override {
    EngineConfig cfg;
    cfg.buffers = {.buffers = 1024, .data_size = 2048, .allow_hugepages = false};
    engine_ = std::move(Engine::Create(cfg)).value();
    for (const char* name : {"mem0", "mem1"}) {
      MemArgs args;
      args.name = name;
      ASSERT_TRUE(engine_->AddInterface(name, std::make_unique<MemDriver>(args), RxMode::kPolling).ok());
    }
    ASSERT_TRUE(RegisterDataplaneCommands(table_, *engine_).ok());
  }
  CliReply Run(std::string_view line) { return table_.Execute(line); }

  std::unique_ptr<Engine> engine_;
  CommandTable table_;
};

TEST_F(CommandsTest, ShowInterfaceListsLocal0AndDevicesWithVppColumns) {
  CliReply r = Run("show interface");
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_NE(r.text.find("Name"), std::string::npos);
  EXPECT_NE(r.text.find("MTU (L3/IP4/IP6/MPLS)"), std::string::npos);
  EXPECT_NE(r.text.find("local0"), std::string::npos);
  EXPECT_NE(r.text.find("mem1"), std::string::npos);
  ASSERT_TRUE(r.data.is_array());
  ASSERT_EQ(r.data.size(), 3u);
  EXPECT_EQ(r.data[1]["name"], "mem0");
  EXPECT_EQ(r.data[1]["state"], "down");
  EXPECT_EQ(r.data[1]["counters"]["rx_packets"], 0);
}

TEST_F(CommandsTest, StateXconnectAndRxModeChangeTheEngine) {
  ASSERT_TRUE(Run("set interface state mem0 up").status.ok());
  ASSERT_TRUE(Run("set int state mem1 up").status.ok());  // VPP abbreviations work
  ASSERT_TRUE(Run("set interface l2 xconnect mem0 mem1").status.ok());
  ASSERT_TRUE(Run("set interface rx-mode mem0 queue 0 interrupt").status.ok());
  CliReply r = Run("show interface mem0");
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.data.size(), 1u);
  EXPECT_EQ(r.data[0]["state"], "up");
  EXPECT_EQ(r.data[0]["l2_xconnect"], "mem1");
  CliReply hw = Run("show hardware-interfaces mem0");
  ASSERT_TRUE(hw.status.ok());
  EXPECT_EQ(hw.data[0]["rx_queues"][0]["mode"], "interrupt");
  EXPECT_NE(hw.text.find("interrupt"), std::string::npos);
  CliReply placement = Run("show interface rx-placement");
  EXPECT_NE(placement.text.find("mem0 queue 0 (interrupt)"), std::string::npos);
}

TEST_F(CommandsTest, ErrorsNameTheOffendingWord) {
  CliReply r = Run("set interface state nosuch up");
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("unknown interface 'nosuch'"), std::string::npos);
  r = Run("set interface state mem0 sideways");
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("sideways"), std::string::npos);
  r = Run("set interface rx-mode mem0 queue 7 polling");
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("no queue 7"), std::string::npos);
  r = Run("set interface l2 xconnect mem0 mem0");
  EXPECT_FALSE(r.status.ok());
  r = Run("show interface mem0 extra");
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("extra"), std::string::npos);
  r = Run("create host-interface name");
  EXPECT_FALSE(r.status.ok());
  r = Run("frobnicate the widgets");
  EXPECT_FALSE(r.status.ok());
}

TEST_F(CommandsTest, ShowBuffersRuntimeErrorsAndClear) {
  CliReply b = Run("show buffers");
  ASSERT_TRUE(b.status.ok());
  EXPECT_EQ(b.data[0]["total"], 1024);
  EXPECT_EQ(b.data[0]["avail"].get<uint32_t>() + b.data[0]["cached"].get<uint32_t>(), 1024u);
  EXPECT_NE(b.text.find("default-numa-0"), std::string::npos);
  EXPECT_TRUE(Run("show runtime").status.ok());
  EXPECT_TRUE(Run("clear runtime").status.ok());
  CliReply e = Run("show errors");
  ASSERT_TRUE(e.status.ok());
  EXPECT_TRUE(e.data.is_array());
  EXPECT_TRUE(Run("clear interfaces").status.ok());
}

}  // namespace
}  // namespace uplinkd

namespace uplinkd {
namespace {

TEST(CommandsPluginTest, DisabledAfPacketPluginRefusesToCreate) {
  EngineConfig cfg;
  cfg.buffers = {.buffers = 256, .data_size = 2048, .allow_hugepages = false};
  auto engine = std::move(Engine::Create(cfg)).value();
  CommandTable table;
  ASSERT_TRUE(RegisterDataplaneCommands(table, *engine, EnabledDrivers{.af_packet = false}).ok());
  CliReply r = table.Execute("create host-interface name eth1");
  EXPECT_EQ(r.status.code(), ENOTSUP);
  EXPECT_NE(r.status.message().find("af_packet_plugin.so is disabled"), std::string::npos)
      << r.status.message();
}

}  // namespace
}  // namespace uplinkd
