// The dpdk driver's startup.conf edits, byte for byte against expected files
// (tests/fixtures/manager/dpdk_edit_*.conf): stanza absent or present, hugepages free or not,
// the plugin disabled or enabled, a PCI uplink or a vdev on the Linux interface.
#include "manager/dpdk_template.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "manager/render.h"

namespace uplinkd {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// UPLINKD_REGENERATE_FIXTURES=1 rewrites the expected files (review the diff before committing).
void ExpectMatchesFixture(const std::string& actual, const std::string& name) {
  std::string path = std::string(UPLINKD_MANAGER_FIXTURES) + "/" + name;
  if (std::getenv("UPLINKD_REGENERATE_FIXTURES")) std::ofstream(path) << actual;
  EXPECT_EQ(actual, ReadFile(path)) << name;
}

// Renders `template_text` for eth0 (PCI id `pci`) as the manager does, then edits it for dpdk.
struct Edited {
  std::string conf;
  DpdkTemplateEdit edit;
};
Edited Edit(const std::string& template_text, const std::string& pci, bool hugepages,
            std::map<std::string, std::string> env = {}) {
  env["CALICOVPP_INTERFACE"] = "eth0";
  env["CALICOVPP_NATIVE_DRIVER"] = "dpdk";
  env["CALICOVPP_CONFIG_TEMPLATE"] = template_text;
  auto config = ParseManagerEnv(env);
  EXPECT_TRUE(config.ok()) << config.status().message();
  RenderInputs in;
  in.pci_id = pci;
  in.cli_socket = "/run/uplinkd/node/cli.sock";
  in.exec_file = "/run/uplinkd/node/startup.exec";
  auto rendered = RenderConfig(*config, in);
  EXPECT_TRUE(rendered.ok()) << rendered.status().message();
  DpdkTemplateInputs din;
  din.interface_name = "eth0";
  din.pci_id = pci;
  din.hugepages_free = hugepages;
  const UplinkSpec& u = config->uplinks[0];
  if (u.num_rx_queues) din.rx_queues = u.num_rx_queues;
  if (u.num_tx_queues) din.tx_queues = u.num_tx_queues;
  if (u.rx_queue_size) din.rx_desc = u.rx_queue_size;
  if (u.tx_queue_size) din.tx_desc = u.tx_queue_size;
  auto edit = EditTemplateForDpdk(rendered->config, din);
  EXPECT_TRUE(edit.ok()) << edit.status().message();
  return {FormatStartupConfig(rendered->config), edit.ok() ? *edit : DpdkTemplateEdit{}};
}

std::string Startup(const std::string& name) {
  return ReadFile(std::string(UPLINKD_STARTUP_FIXTURES) + "/" + name);
}

// The calico-vpp default template: dpdk_plugin.so disabled, no stanza.
constexpr const char* kNoStanza =
    "unix { nodaemon }\n"
    "cpu { workers 0 }\n"
    "plugins {\n"
    "  plugin default { enable }\n"
    "  plugin dpdk_plugin.so { disable }\n"
    "}\n";

TEST(DpdkTemplate, NoStanzaWithHugepagesAddsOneSizedFromTheSpec) {
  Edited e = Edit(kNoStanza, "0000:00:08.0", true,
                  {{"CALICOVPP_RX_QUEUES", "2"}, {"CALICOVPP_RING_SIZE", "2048"}});
  ExpectMatchesFixture(e.conf, "dpdk_edit_no_stanza_hugepages.conf");
  EXPECT_EQ(e.edit.uplink_interface, "main-eth0");
  EXPECT_FALSE(e.edit.uplink_is_vdev);
  EXPECT_THAT(e.edit.notes, Contains(HasSubstr("disable } -> { enable }")));
}

TEST(DpdkTemplate, NoStanzaWithoutHugepagesGoesNoHugetlb) {
  Edited e = Edit(kNoStanza, "0000:00:08.0", false);
  ExpectMatchesFixture(e.conf, "dpdk_edit_no_stanza_no_hugepages.conf");
  EXPECT_EQ(e.edit.uplink_interface, "main-eth0");
}

TEST(DpdkTemplate, GuideStanzaWithHugepagesKeepsItAndTagsTheUplink) {
  Edited e = Edit(Startup("guide_dpdk_hugepages.template"), "0000:00:08.0", true,
                  {{"CALICOVPP_RX_QUEUES", "4"}});
  ExpectMatchesFixture(e.conf, "dpdk_edit_guide_hugepages.conf");
  EXPECT_EQ(e.edit.uplink_interface, "main-eth0");
  EXPECT_THAT(e.edit.notes, Contains(HasSubstr("CALICOVPP_RX_QUEUES and CALICOVPP_RING_SIZE have "
                                               "no effect")));
}

TEST(DpdkTemplate, GuideStanzaWithoutHugepagesIsAlreadyRight) {
  Edited e = Edit(Startup("guide_dpdk_no_hugepages.template"), "0000:00:08.0", false);
  ExpectMatchesFixture(e.conf, "dpdk_edit_guide_no_hugepages.conf");
}

TEST(DpdkTemplate, GuideHugepagesStanzaOnAMachineWithoutThemGetsTheNoHugepagesEdits) {
  Edited e = Edit(Startup("guide_dpdk_hugepages.template"), "0000:00:08.0", false);
  ExpectMatchesFixture(e.conf, "dpdk_edit_guide_hugepages_none_free.conf");
}

TEST(DpdkTemplate, VdevOnTheLinuxInterfaceWithoutPciId) {
  Edited e = Edit("unix { nodaemon }\n"
                  "dpdk { vdev net_af_packet0,iface=eth0,qdisc_bypass=1 }\n"
                  "plugins { plugin default { disable } }\n",
                  "", false);
  ExpectMatchesFixture(e.conf, "dpdk_edit_vdev.conf");
  EXPECT_EQ(e.edit.uplink_interface, "net_af_packet0");
  EXPECT_TRUE(e.edit.uplink_is_vdev);
}

TEST(DpdkTemplate, NoPciIdAndNoVdevIsRefused) {
  auto config = ParseManagerEnv({{"CALICOVPP_INTERFACE", "eth0"}});
  ASSERT_TRUE(config.ok());
  auto rendered = RenderConfig(*config, RenderInputs{});
  ASSERT_TRUE(rendered.ok());
  DpdkTemplateInputs in;
  in.interface_name = "eth0";
  auto edit = EditTemplateForDpdk(rendered->config, in);
  ASSERT_FALSE(edit.ok());
  EXPECT_THAT(edit.status().message(), HasSubstr("eth0 has no PCI id"));
  EXPECT_THAT(edit.status().message(), HasSubstr("vdev ...,iface=eth0"));
}

TEST(DpdkTemplate, VdevForInterfaceReadsIfaceArguments) {
  auto cfg = ParseStartupConfig("dpdk { vdev net_tap0 vdev net_af_xdp0,start_queue=0,iface=eth1 }",
                                "t");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(VdevForInterface(*cfg, "eth1"), "net_af_xdp0");
  EXPECT_EQ(VdevForInterface(*cfg, "eth"), "");
}

}  // namespace
}  // namespace uplinkd
