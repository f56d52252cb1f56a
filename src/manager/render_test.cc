#include "manager/render.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace uplinkd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ReadFixture(const std::string& dir, const std::string& name) {
  std::ifstream in(dir + "/" + name);
  EXPECT_TRUE(in.good()) << dir << "/" << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::string Startup(const std::string& name) {
  return ReadFixture(UPLINKD_STARTUP_FIXTURES, name);
}
std::string Expected(const std::string& name) {
  return ReadFixture(UPLINKD_MANAGER_FIXTURES, name);
}

// UPLINKD_REGENERATE_FIXTURES=1 rewrites the expected files (review the diff before committing).
void ExpectMatchesFixture(const std::string& actual, const std::string& name) {
  if (std::getenv("UPLINKD_REGENERATE_FIXTURES")) {
    std::ofstream(std::string(UPLINKD_MANAGER_FIXTURES) + "/" + name) << actual;
  }
  EXPECT_EQ(actual, Expected(name)) << name;
}

ManagerConfig Config(std::map<std::string, std::string> env) {
  if (!env.count("CALICOVPP_INTERFACE") && !env.count("CALICOVPP_INTERFACES")) {
    env["CALICOVPP_INTERFACE"] = "eth0";
  }
  Result<ManagerConfig> c = ParseManagerEnv(env);
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? c.value() : ManagerConfig{};
}

RenderInputs Inputs(std::string pci = "") {
  RenderInputs in;
  in.pci_id = std::move(pci);
  in.cli_socket = "/run/uplinkd/node/cli.sock";
  in.exec_file = "/run/uplinkd/node/startup.exec";
  return in;
}

Rendered Render(const ManagerConfig& c, const RenderInputs& in) {
  Result<Rendered> r = RenderConfig(c, in);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : Rendered{};
}

std::string RenderError(const ManagerConfig& c, const RenderInputs& in) {
  Result<Rendered> r = RenderConfig(c, in);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(Render, DefaultTemplateOnVeth) {
  Rendered r = Render(Config({}), Inputs());
  ExpectMatchesFixture(r.startup_conf, "default_veth.conf");
  EXPECT_EQ(r.cli_socket, "/run/uplinkd/node/cli.sock");
  EXPECT_EQ(r.exec_file_path, "/run/uplinkd/node/startup.exec");
  EXPECT_EQ(r.exec_contents, "");
  EXPECT_TRUE(r.config.unix_section.nodaemon);
  EXPECT_FALSE(PluginEnabled(r.config, "dpdk_plugin.so"));
  EXPECT_TRUE(PluginEnabled(r.config, "af_packet_plugin.so"));
  EXPECT_THAT(r.warnings, IsEmpty());
}

TEST(Render, DefaultTemplateIsCalicosAdapted) {
  // What was kept of the daemonset's vpp_config_template parses to the same settings, apart from
  // what was dropped on purpose (see render.cc).
  Result<StartupConfig> calico = ParseStartupConfig(Startup("calico_vpp_default.conf"), "calico");
  Result<StartupConfig> ours = ParseStartupConfig(DefaultConfigTemplate(), "default");
  ASSERT_TRUE(calico.ok()) << calico.status().message();
  ASSERT_TRUE(ours.ok()) << ours.status().message();
  EXPECT_EQ(ours->unix_section.nodaemon, calico->unix_section.nodaemon);
  EXPECT_EQ(ours->unix_section.full_coredump, calico->unix_section.full_coredump);
  EXPECT_EQ(ours->api_trace, calico->api_trace);
  EXPECT_EQ(ours->cpu, calico->cpu);
  EXPECT_EQ(PluginEnabled(*ours, "dpdk_plugin.so"), PluginEnabled(*calico, "dpdk_plugin.so"));
  EXPECT_TRUE(ours->unix_section.cli_listen.empty());
  EXPECT_TRUE(ours->unix_section.exec.empty());
  EXPECT_THAT(ours->warnings, IsEmpty());
}

TEST(Render, DpdkTemplateWithPciId) {
  ManagerConfig c = Config({{"CALICOVPP_CONFIG_TEMPLATE", Startup("guide_dpdk_hugepages.template")},
                            {"CALICOVPP_NATIVE_DRIVER", "dpdk"}});
  Rendered r = Render(c, Inputs("0000:00:08.0"));
  ExpectMatchesFixture(r.startup_conf, "dpdk_hugepages_pci.conf");
  ASSERT_EQ(r.config.dpdk.devs.size(), 1u);
  EXPECT_EQ(r.config.dpdk.devs[0].pci, "0000:00:08.0");
  // The template's cli-listen is kept; exec is added.
  EXPECT_EQ(r.cli_socket, "/var/run/vpp/cli.sock");
  EXPECT_EQ(r.exec_file_path, "/run/uplinkd/node/startup.exec");
  // The same settings as the guide's rendering (tests/fixtures/startup), plus exec.
  Result<StartupConfig> guide = ParseStartupConfig(Startup("guide_dpdk_hugepages.conf"), "g");
  ASSERT_TRUE(guide.ok());
  guide->unix_section.exec = "/run/uplinkd/node/startup.exec";
  EXPECT_TRUE(*guide == r.config);
  EXPECT_THAT(r.warnings,
              ElementsAre(HasSubstr("calico_plugin.so")));  // the parser's, passed on
}

TEST(Render, DpdkTemplateWithoutPciIdDropsTheDev) {
  ManagerConfig c =
      Config({{"CALICOVPP_CONFIG_TEMPLATE", Startup("guide_dpdk_no_hugepages.template")}});
  Rendered r = Render(c, Inputs(""));
  ExpectMatchesFixture(r.startup_conf, "dpdk_no_hugepages_nopci.conf");
  EXPECT_TRUE(r.config.dpdk.present);
  EXPECT_THAT(r.config.dpdk.devs, IsEmpty());
  EXPECT_EQ(r.config.dpdk.iova_mode, "va");
  EXPECT_TRUE(r.config.dpdk.no_hugetlb);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0],
            "CALICOVPP_CONFIG_TEMPLATE:15: `dev __PCI_DEVICE_ID__` dropped: eth0 has no PCI id");
}

TEST(Render, DevWithoutBlockDroppedAndLinesKept) {
  ManagerConfig c = Config({{"CALICOVPP_CONFIG_TEMPLATE",
                             "dpdk {\n  dev __PCI_DEVICE_ID__\n  dev 0000:00:09.0\n}\nbogus\n"}});
  // The error after the dropped dev still names the template's own line.
  EXPECT_EQ(RenderError(c, Inputs()), "CALICOVPP_CONFIG_TEMPLATE:5: unknown section 'bogus'");
  c.config_template = "dpdk {\n  dev __PCI_DEVICE_ID__\n  dev 0000:00:09.0\n}\n";
  Rendered r = Render(c, Inputs());
  ASSERT_EQ(r.config.dpdk.devs.size(), 1u);
  EXPECT_EQ(r.config.dpdk.devs[0].pci, "0000:00:09.0");
}

TEST(Render, EmptyPciIdElsewhereIsAnError) {
  ManagerConfig c = Config({{"CALICOVPP_CONFIG_TEMPLATE",
                             "unix { nodaemon }\ndpdk {\n  vdev x,pci=__PCI_DEVICE_ID__\n}\n"}});
  EXPECT_EQ(RenderError(c, Inputs()),
            "CALICOVPP_CONFIG_TEMPLATE:3: __PCI_DEVICE_ID__ is used but eth0 has no PCI id");
}

TEST(Render, CliListenAndExecKeptWhenGiven) {
  ManagerConfig c = Config({{"CALICOVPP_CONFIG_TEMPLATE", Startup("calico_vpp_configuring.conf")},
                            {"CALICOVPP_CONFIG_EXEC_TEMPLATE",
                             "create host-interface name __VPP_DATAPLANE_IF__\n\n"
                             "  set interface state host-eth0 up  \r\n# done\n"}});
  Rendered r = Render(c, Inputs());
  ExpectMatchesFixture(r.startup_conf, "calico_configuring.conf");
  ExpectMatchesFixture(r.exec_contents, "calico_configuring.exec");
  EXPECT_EQ(r.cli_socket, "/var/run/vpp/cli.sock");
  EXPECT_EQ(r.exec_file_path, "/etc/vpp/startup.exec");
}

TEST(Render, CliListenAndExecAdded) {
  ManagerConfig c = Config({{"CALICOVPP_CONFIG_TEMPLATE", "unix { full-coredump }\n"}});
  Rendered r = Render(c, Inputs());
  EXPECT_EQ(r.startup_conf,
            "unix {\n"
            "  nodaemon\n"
            "  full-coredump\n"
            "  cli-listen /run/uplinkd/node/cli.sock\n"
            "  exec /run/uplinkd/node/startup.exec\n"
            "}\n");
}

TEST(Render, InteractiveIsTurnedOff) {
  ManagerConfig c = Config({{"CALICOVPP_CONFIG_TEMPLATE", "unix { interactive }\n"}});
  Rendered r = Render(c, Inputs());
  EXPECT_FALSE(r.config.unix_section.interactive);
  EXPECT_THAT(r.warnings, ElementsAre("CALICOVPP_CONFIG_TEMPLATE: unix { interactive } ignored: "
                                      "the manager runs the dataplane without a terminal"));
}

TEST(Render, NoSocketAnywhereIsAnError) {
  ManagerConfig c = Config({{"CALICOVPP_CONFIG_TEMPLATE", "unix { nodaemon }\n"}});
  RenderInputs in = Inputs();
  in.cli_socket.clear();
  EXPECT_EQ(RenderError(c, in),
            "CALICOVPP_CONFIG_TEMPLATE: no unix { cli-listen } and no socket chosen by the "
            "manager");
  in = Inputs();
  in.exec_file.clear();
  EXPECT_EQ(RenderError(c, in),
            "CALICOVPP_CONFIG_TEMPLATE: no unix { exec } and no exec file chosen by the manager");
}

TEST(Render, TemplateThatDoesNotParse) {
  ManagerConfig c =
      Config({{"CALICOVPP_CONFIG_TEMPLATE", "unix {\n  nodaemon\n  turbo-mode\n}\n"}});
  EXPECT_EQ(RenderError(c, Inputs()),
            "CALICOVPP_CONFIG_TEMPLATE:3: unknown option 'turbo-mode' in section 'unix'");
  // The guide's excerpt keeps its `...` lines: a user pasting it gets the line that is wrong.
  c.config_template = Startup("guide_native_cli.excerpt");
  EXPECT_THAT(RenderError(c, Inputs()), HasSubstr("CALICOVPP_CONFIG_TEMPLATE:"));
}

TEST(Render, UnknownPlaceholder) {
  ManagerConfig c = Config({{"CALICOVPP_CONFIG_TEMPLATE",
                             "unix { nodaemon }\ncpu { main-core __NODE_ANNOTATION:core__ }\n"}});
  EXPECT_EQ(RenderError(c, Inputs()),
            "CALICOVPP_CONFIG_TEMPLATE:2: unknown placeholder __NODE_ANNOTATION:core__ (uplinkd "
            "replaces __PCI_DEVICE_ID__, __PCI_DEVICE_ID_<n>__, __VPP_DATAPLANE_IF__, "
            "__VPP_DATAPLANE_IF_<n>__ and __CPUSET_CPUS_FIRST__)");
  // Not placeholders: lower case, or no closing `__` in the word.
  c.config_template = "unix { log /var/log/__vpp__.log cli-listen /run/__X }\n";
  Rendered r = Render(c, Inputs());
  EXPECT_EQ(r.config.unix_section.log, "/var/log/__vpp__.log");
  EXPECT_EQ(r.config.unix_section.cli_listen, "/run/__X");
}

TEST(Render, IndexedPlaceholdersAndCpuset) {
  ManagerConfig c = Config({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
      {"interfaceName": "eth0", "vppDriver": "dpdk"},
      {"interfaceName": "eth1", "vppDriver": "dpdk"}]})"},
                            {"CALICOVPP_CONFIG_TEMPLATE",
                             "cpu { main-core __CPUSET_CPUS_FIRST__ }\n"
                             "dpdk {\n"
                             "  dev __PCI_DEVICE_ID_0__ { name __VPP_DATAPLANE_IF_0__ }\n"
                             "  dev __PCI_DEVICE_ID_1__ { name __VPP_DATAPLANE_IF_1__ }\n"
                             "}\n"}});
  RenderInputs in = Inputs("0000:00:08.0");
  in.pci_ids = {"", "0000:00:09.0"};
  in.cpuset_cpus_first = "2";
  Rendered r = Render(c, in);
  EXPECT_EQ(r.config.cpu.main_core, 2u);
  ASSERT_EQ(r.config.dpdk.devs.size(), 2u);
  EXPECT_EQ(r.config.dpdk.devs[0].pci, "0000:00:08.0");
  EXPECT_EQ(r.config.dpdk.devs[0].name, "eth0");
  EXPECT_EQ(r.config.dpdk.devs[1].pci, "0000:00:09.0");
  EXPECT_EQ(r.config.dpdk.devs[1].name, "eth1");

  in.cpuset_cpus_first.clear();
  EXPECT_EQ(RenderError(c, in),
            "CALICOVPP_CONFIG_TEMPLATE:1: __CPUSET_CPUS_FIRST__ is used but the cpuset is not "
            "known");
  c.config_template = "dpdk { dev __PCI_DEVICE_ID_2__ }\n";
  EXPECT_THAT(RenderError(c, Inputs()),
              HasSubstr("CALICOVPP_CONFIG_TEMPLATE:1: unknown placeholder __PCI_DEVICE_ID_2__"));
}

TEST(Render, PlaceholderValuesMustBeSingleWords) {
  ManagerConfig c = Config({});
  RenderInputs in = Inputs();
  in.cpuset_cpus_first = "0-3\n";
  EXPECT_TRUE(RenderConfig(c, in).ok());  // not used: not checked
  c.config_template = "cpu { main-core __CPUSET_CPUS_FIRST__ }\n";
  EXPECT_EQ(RenderError(c, in),
            "built-in default template: the value of __CPUSET_CPUS_FIRST__ is not a single word: "
            "'0-3\n'");
}

TEST(Render, ExecTemplate) {
  ManagerConfig c = Config({{"CALICOVPP_CONFIG_EXEC_TEMPLATE",
                             "create interface avf __PCI_DEVICE_ID__ num-rx-queues 1\n"}});
  Rendered r = Render(c, Inputs("0000:ab:cd.1"));
  EXPECT_EQ(r.exec_contents, "create interface avf 0000:ab:cd.1 num-rx-queues 1\n");
  EXPECT_EQ(RenderError(c, Inputs()),
            "CALICOVPP_CONFIG_EXEC_TEMPLATE:1: __PCI_DEVICE_ID__ is used but eth0 has no PCI id");
  c.exec_template = "show version\nshow \x01interface\n";
  EXPECT_EQ(RenderError(c, Inputs()),
            "CALICOVPP_CONFIG_EXEC_TEMPLATE:2: control character 0x01");
  c.exec_template = "show version";  // no final newline
  EXPECT_EQ(Render(c, Inputs()).exec_contents, "show version\n");
}

TEST(Render, BuiltInTemplateErrorsSaySo) {
  // Only reachable through a placeholder the manager cannot fill; the label must not blame a
  // variable the user never set.
  ManagerConfig c = Config({});
  c.config_template = "cpu { main-core __CPUSET_CPUS_FIRST__ }\n";
  EXPECT_EQ(RenderError(c, Inputs()),
            "built-in default template:1: __CPUSET_CPUS_FIRST__ is used but the cpuset is not "
            "known");
}

TEST(Render, OutputParsesToTheSameConfig) {
  for (const char* name : {"guide_dpdk_hugepages.template", "guide_dpdk_no_hugepages.template",
                           "calico_vpp_configuring.conf", "guide_native_cli.conf"}) {
    ManagerConfig c = Config({{"CALICOVPP_CONFIG_TEMPLATE", Startup(name)}});
    Rendered r = Render(c, Inputs("0000:00:08.0"));
    Result<StartupConfig> again = ParseStartupConfig(r.startup_conf, "rendered");
    ASSERT_TRUE(again.ok()) << name << ": " << again.status().message();
    EXPECT_TRUE(*again == r.config) << name;
  }
}

}  // namespace
}  // namespace uplinkd
