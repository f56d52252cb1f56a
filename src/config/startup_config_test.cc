#include "config/startup_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "drivers/interface_config.h"

namespace uplinkd {
namespace {

std::string Fixture(const std::string& name) {
  return std::string(UPLINKD_STARTUP_FIXTURES) + "/" + name;
}

StartupConfig MustParse(std::string_view text) {
  auto r = ParseStartupConfig(text, "startup.conf");
  EXPECT_TRUE(r.ok()) << r.status().message() << "\n--- text ---\n" << text;
  return r.ok() ? r.value() : StartupConfig{};
}

std::string ErrorOf(std::string_view text) {
  auto r = ParseStartupConfig(text, "startup.conf");
  EXPECT_FALSE(r.ok()) << "parsed:\n" << text;
  return r.ok() ? "" : r.status().message();
}

StartupConfig MustLoad(const std::string& name) {
  auto r = LoadStartupConfig(Fixture(name));
  EXPECT_TRUE(r.ok()) << name << ": " << r.status().message();
  return r.ok() ? r.value() : StartupConfig{};
}

// Format -> Parse gives an equal config, and formatting is a fixed point.
void ExpectRoundTrip(const StartupConfig& config) {
  std::string text = FormatStartupConfig(config);
  auto again = ParseStartupConfig(text, "formatted.conf");
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << text;
  EXPECT_TRUE(*again == config) << text;
  EXPECT_EQ(FormatStartupConfig(*again), text);
}

// ---- grammar
// --------------------------------------------------------------------------------------

TEST(StartupGrammarTest, EmptyAndCommentsOnly) {
  StartupConfig c = MustParse("");
  EXPECT_TRUE(c == StartupConfig{});
  c = MustParse("# nothing here\n   \n\t# still nothing\n");
  EXPECT_TRUE(c == StartupConfig{});
  EXPECT_EQ(c.file, "startup.conf");
}

TEST(StartupGrammarTest, OneLineSectionsAndGluedBraces) {
  StartupConfig c =
      MustParse("api-trace { on } cpu {workers 2} plugins{plugin dpdk_plugin.so{disable}}");
  EXPECT_TRUE(c.api_trace.on);
  EXPECT_EQ(c.cpu.workers, 2u);
  EXPECT_FALSE(PluginEnabled(c, "dpdk_plugin.so"));
}

TEST(StartupGrammarTest, HashInsideWordStaysInWord) {
  StartupConfig c = MustParse("unix {\n  cli-listen /run/vpp/cli#1.sock # trailing comment\n}\n");
  EXPECT_EQ(c.unix_section.cli_listen, "/run/vpp/cli#1.sock");
}

TEST(StartupGrammarTest, AnyWhitespace) {
  StartupConfig c =
      MustParse("\r\n\tunix\n{\n\n nodaemon\r\n\f\vfull-coredump }\ncpu\n{\nmain-core\n3\n}");
  EXPECT_TRUE(c.unix_section.nodaemon);
  EXPECT_TRUE(c.unix_section.full_coredump);
  EXPECT_EQ(c.cpu.main_core, 3u);
}

TEST(StartupGrammarTest, NestedBlocks) {
  StartupConfig c = MustParse(R"(
dpdk {
  dev default { num-rx-queues 2 num-rx-desc 1024 }
  dev 0000:00:08.0 { num-rx-queues 2 name eth0 tag uplink devargs x=1 rss { ipv4 ipv4-tcp ipv6 } }
  dev 00:09.0
  vdev net_af_packet0,iface=eth1
}
plugins { plugin dpdk_plugin.so { enable } }
)");
  ASSERT_TRUE(c.dpdk.present);
  ASSERT_TRUE(c.dpdk.dev_default);
  EXPECT_EQ(c.dpdk.dev_default->num_rx_queues, 2u);
  EXPECT_EQ(c.dpdk.dev_default->num_rx_desc, 1024u);
  ASSERT_EQ(c.dpdk.devs.size(), 2u);
  EXPECT_EQ(c.dpdk.devs[0].pci, "0000:00:08.0");
  EXPECT_EQ(c.dpdk.devs[0].num_rx_queues, 2u);
  EXPECT_EQ(c.dpdk.devs[0].name, "eth0");
  EXPECT_EQ(c.dpdk.devs[0].tag, "uplink");
  EXPECT_EQ(c.dpdk.devs[0].devargs, "x=1");
  EXPECT_EQ(c.dpdk.devs[0].rss, (std::vector<std::string>{"ipv4", "ipv4-tcp", "ipv6"}));
  EXPECT_EQ(c.dpdk.devs[1].pci, "0000:00:09.0");  // canonical long form
  EXPECT_FALSE(c.dpdk.devs[1].num_rx_queues);
  EXPECT_EQ(c.dpdk.vdevs, (std::vector<std::string>{"net_af_packet0,iface=eth1"}));
  ExpectRoundTrip(c);
}

TEST(StartupGrammarTest, EmptyDpdkStanzaIsPresent) {
  StartupConfig c = MustParse("dpdk { }");
  EXPECT_TRUE(c.dpdk.present);
  EXPECT_FALSE(MustParse("unix { }").dpdk.present);
  ExpectRoundTrip(c);
}

TEST(StartupGrammarTest, RepeatedSectionsMerge) {
  StartupConfig c =
      MustParse("unix { nodaemon } unix { log /tmp/x.log } unix { exec /a startup-config /b }");
  EXPECT_TRUE(c.unix_section.nodaemon);
  EXPECT_EQ(c.unix_section.log, "/tmp/x.log");
  EXPECT_EQ(c.unix_section.exec, "/b");  // alias, last wins (as in VPP)
}

// ---- sections and values ---------------------------------------------------------------------

TEST(StartupSectionsTest, AllOptions) {
  StartupConfig c = MustParse(R"(
unix {
  nodaemon interactive full-coredump coredump-size unlimited nosyslog
  log /var/log/vpp.log cli-listen /run/vpp/cli.sock cli-prompt vpp# cli-no-pager cli-no-banner
  pidfile /run/vpp/vpp.pid exec /etc/vpp/startup.exec runtime-dir /run/vpp gid 0
  poll-sleep-usec 100
}
api-trace { on nitems 500 }
api-segment { gid root prefix vpp1 }
socksvr { default }
cpu { main-core 1 corelist-workers 5,2-3 skip-cores 1 scheduler-policy fifo scheduler-priority 50
      thread-prefix up relative }
buffers { buffers-per-numa 65536 default data-size 4096 no-hugetlb page-size 2m }
dpdk {
  iova-mode pa no-hugetlb socket-mem 1024,0 uio-driver vfio-pci log-level pmd.net.*:debug
  no-multi-seg no-pci no-tx-checksum-offload enable-tcp-udp-checksum huge-dir /dev/hugepages
}
plugins { path /usr/lib/vpp_plugins plugin default { disable } plugin af_xdp_plugin.so { enable } }
statseg { socket-name /run/vpp/stats.sock size 512M page-size default-hugepage
          per-node-counters on }
logging { default-log-level info default-syslog-log-level err size 1024
          class dpdk { rate-limit 100 level debug syslog-level warn } }
ip { heap-size 1G }
ip6 { heap-size 64M hash-buckets 65536 }
session { enable use-app-socket-api }
)");
  const auto& u = c.unix_section;
  EXPECT_TRUE(u.nodaemon && u.interactive && u.full_coredump && u.nosyslog && u.cli_no_pager &&
              u.cli_no_banner);
  EXPECT_EQ(u.coredump_size, StartupConfig::kUnlimited);
  EXPECT_EQ(u.log, "/var/log/vpp.log");
  EXPECT_EQ(u.cli_listen, "/run/vpp/cli.sock");
  EXPECT_EQ(u.cli_prompt, "vpp#");
  EXPECT_EQ(u.pidfile, "/run/vpp/vpp.pid");
  EXPECT_EQ(u.exec, "/etc/vpp/startup.exec");
  EXPECT_EQ(u.runtime_dir, "/run/vpp");
  EXPECT_EQ(u.gid, 0u);
  EXPECT_EQ(u.poll_sleep_usec, 100u);
  EXPECT_TRUE(c.api_trace.on);
  EXPECT_EQ(c.api_trace.nitems, 500u);
  EXPECT_EQ(c.api_segment.gid, 0u);  // "root" resolved by name
  EXPECT_EQ(c.api_segment.prefix, "vpp1");
  EXPECT_EQ(c.socksvr.socket_name, StartupConfig::kDefaultApiSocket);
  EXPECT_EQ(c.cpu.main_core, 1u);
  EXPECT_EQ(c.cpu.corelist_workers, (std::vector<uint32_t>{2, 3, 5}));
  EXPECT_EQ(c.cpu.workers, 3u);
  EXPECT_EQ(c.cpu.skip_cores, 1u);
  EXPECT_EQ(c.cpu.scheduler_policy, "fifo");
  EXPECT_EQ(c.cpu.scheduler_priority, 50u);
  EXPECT_EQ(c.cpu.thread_prefix, "up");
  EXPECT_TRUE(c.cpu.relative);
  EXPECT_EQ(c.buffers.buffers_per_numa, 65536u);
  EXPECT_EQ(c.buffers.default_data_size, 4096u);
  EXPECT_TRUE(c.buffers.no_hugetlb);
  EXPECT_EQ(c.buffers.page_size, "2m");
  const auto& d = c.dpdk;
  EXPECT_EQ(d.iova_mode, "pa");
  EXPECT_TRUE(d.no_hugetlb && d.no_multi_seg && d.no_pci && d.no_tx_checksum_offload &&
              d.enable_tcp_udp_checksum);
  EXPECT_EQ(d.socket_mem, (std::vector<uint64_t>{1024, 0}));
  EXPECT_EQ(d.uio_driver, "vfio-pci");
  EXPECT_EQ(d.log_level, "pmd.net.*:debug");
  EXPECT_EQ(d.huge_dir, "/dev/hugepages");
  EXPECT_EQ(c.plugins.path, "/usr/lib/vpp_plugins");
  EXPECT_FALSE(c.plugins.default_enabled);
  EXPECT_EQ(c.statseg.socket_name, "/run/vpp/stats.sock");
  EXPECT_EQ(c.statseg.size, 512ull << 20);
  EXPECT_EQ(c.statseg.page_size, "default-hugepage");
  EXPECT_EQ(c.statseg.per_node_counters, true);
  EXPECT_EQ(c.logging.default_log_level, "info");
  EXPECT_EQ(c.logging.default_syslog_log_level, "err");
  EXPECT_EQ(c.logging.size, 1024u);
  ASSERT_EQ(c.logging.classes.size(), 1u);
  EXPECT_EQ(c.logging.classes[0].name, "dpdk");
  EXPECT_EQ(c.logging.classes[0].rate_limit, 100u);
  EXPECT_EQ(c.logging.classes[0].level, "debug");
  EXPECT_EQ(c.logging.classes[0].syslog_level, "warn");
  EXPECT_EQ(c.ip.heap_size, 1ull << 30);
  EXPECT_EQ(c.ip6.heap_size, 64ull << 20);
  EXPECT_EQ(c.ip6.hash_buckets, 65536u);
  EXPECT_TRUE(c.session.enable && c.session.use_app_socket_api);
  EXPECT_TRUE(c.warnings.empty());
  ExpectRoundTrip(c);
}

TEST(StartupSectionsTest, Defaults) {
  StartupConfig c = MustParse("unix { nodaemon }");
  EXPECT_EQ(c.buffers.buffers_per_numa, 16384u);
  EXPECT_EQ(c.buffers.default_data_size, 2048u);
  EXPECT_EQ(c.cpu.workers, 0u);
  EXPECT_FALSE(c.cpu.main_core);
  EXPECT_FALSE(c.unix_section.gid);
  EXPECT_TRUE(c.plugins.default_enabled);
  EXPECT_EQ(FormatStartupConfig(c), "unix {\n  nodaemon\n}\n");
}

TEST(StartupSectionsTest, Sizes) {
  auto heap = [](std::string_view v) {
    auto r = ParseStartupConfig(fmt::format("ip {{ heap-size {} }}", v), "startup.conf");
    return r.ok() ? r->ip.heap_size : std::nullopt;
  };
  EXPECT_EQ(heap("1G"), 1ull << 30);
  EXPECT_EQ(heap("1g"), 1ull << 30);
  EXPECT_EQ(heap("64M"), 64ull << 20);
  EXPECT_EQ(heap("64m"), 64ull << 20);
  EXPECT_EQ(heap("512k"), 512ull << 10);
  EXPECT_EQ(heap("512K"), 512ull << 10);
  EXPECT_EQ(heap("4096"), 4096u);
  EXPECT_EQ(heap("0"), 0u);
  EXPECT_FALSE(heap("1T"));
  EXPECT_FALSE(heap("G"));
  EXPECT_FALSE(heap("1GB"));
  EXPECT_FALSE(heap("-1M"));
  EXPECT_FALSE(heap("99999999999999G"));  // overflows 64 bits
  EXPECT_EQ(MustParse("unix { coredump-size 2G }").unix_section.coredump_size, 2ull << 30);
  // Formatting picks the largest exact unit.
  StartupConfig c;
  c.ip.heap_size = 3ull << 30;
  c.ip6.heap_size = (1ull << 20) + 1;
  c.statseg.size = 1536ull << 10;
  std::string text = FormatStartupConfig(c);
  EXPECT_NE(text.find("heap-size 3G"), std::string::npos) << text;
  EXPECT_NE(text.find("heap-size 1048577"), std::string::npos) << text;
  EXPECT_NE(text.find("size 1536K"), std::string::npos) << text;
  ExpectRoundTrip(c);
}

TEST(StartupSectionsTest, WorkersAndCorelistAgree) {
  StartupConfig c = MustParse("cpu { workers 2 corelist-workers 2-3 }");
  EXPECT_EQ(c.cpu.workers, 2u);
  c = MustParse("cpu { corelist-workers 4,6 }");
  EXPECT_EQ(c.cpu.workers, 2u);
  ExpectRoundTrip(c);
}

TEST(StartupSectionsTest, ValidatedValues) {
  EXPECT_EQ(MustParse("dpdk { iova-mode va }").dpdk.iova_mode, "va");
  for (auto drv : {"vfio-pci", "igb_uio", "uio_pci_generic", "auto"}) {
    EXPECT_EQ(MustParse(fmt::format("dpdk {{ uio-driver {} }}", drv)).dpdk.uio_driver, drv);
  }
  for (auto lvl : {"debug", "8", "1", "lib.eal:error", "pmd.net.*:7"}) {
    EXPECT_EQ(MustParse(fmt::format("dpdk {{ log-level {} }}", lvl)).dpdk.log_level, lvl);
  }
  EXPECT_EQ(ErrorOf("dpdk {\n uio-driver vfio\n}"),
            "startup.conf:2: invalid value 'vfio' for 'uio-driver' (expected one of vfio-pci, "
            "igb_uio, uio_pci_generic, auto)");
  EXPECT_EQ(ErrorOf("dpdk { log-level loud }"),
            "startup.conf:1: invalid value 'loud' for 'log-level' (expected [pattern:]level with "
            "level emergency, alert, critical, error, warning, notice, info, debug or 1-8)");
  EXPECT_EQ(ErrorOf("dpdk { log-level 9 }").substr(0, 40),
            "startup.conf:1: invalid value '9' for 'l");
  EXPECT_EQ(ErrorOf("dpdk { log-level :debug }").substr(0, 45),
            "startup.conf:1: invalid value ':debug' for 'l");
  EXPECT_EQ(ErrorOf("buffers { page-size 3k }"),
            "startup.conf:1: invalid value '3k' for 'page-size' (expected 4k, 2m, 1g, default or "
            "default-hugepage)");
  EXPECT_EQ(ErrorOf("cpu { scheduler-priority 100 }"),
            "startup.conf:1: value '100' for 'scheduler-priority' is out of range (0..99)");
  EXPECT_EQ(ErrorOf("dpdk { dev 0000:00:08.0 { num-rx-queues 0 } }"),
            "startup.conf:1: num-rx-queues=0: must be at least 1");
  EXPECT_EQ(ErrorOf("dpdk { dev 0000:00:08.0 { rss { ipv5 } } }"),
            "startup.conf:1: unknown rss hash type 'ipv5'");
  EXPECT_EQ(ErrorOf("dpdk { socket-mem 1024,,0 }"),
            "startup.conf:1: expected a list of MiB per NUMA node (like 1024,1024) after "
            "'socket-mem', got '1024,,0'");
  EXPECT_EQ(ErrorOf("logging { default-log-level chatty }"),
            "startup.conf:1: invalid value 'chatty' for 'default-log-level' (expected one of "
            "emerg, alert, crit, err, warn, notice, info, debug, disabled)");
  EXPECT_EQ(ErrorOf("statseg { per-node-counters maybe }"),
            "startup.conf:1: invalid value 'maybe' for 'per-node-counters' (expected one of on, "
            "off, enable, disable)");
}

// The dev options use the interface limits (drivers/interface_config.h) at parse time, with the
// line: DPDK's descriptor counts are uint16_t, so 65536 or 70000 would otherwise be truncated
// when the port is set up.
TEST(StartupSectionsTest, DpdkDevLimits) {
  StartupConfig c = MustParse(fmt::format(
      "dpdk {{ dev 0000:00:08.0 {{ num-rx-queues {} num-tx-queues 1 num-rx-desc {} "
      "num-tx-desc {} }} dev default {{ num-rx-desc 1000 }} }}",
      kMaxInterfaceQueues, kMaxRingSize, kMinRingSize));
  ASSERT_EQ(c.dpdk.devs.size(), 1u);
  EXPECT_EQ(c.dpdk.devs[0].num_rx_queues, kMaxInterfaceQueues);
  EXPECT_EQ(c.dpdk.devs[0].num_rx_desc, kMaxRingSize);
  EXPECT_EQ(c.dpdk.devs[0].num_tx_desc, kMinRingSize);
  EXPECT_EQ(c.dpdk.dev_default->num_rx_desc, 1000u);  // no power-of-two rule for descriptors

  EXPECT_EQ(ErrorOf("dpdk {\n  dev 0000:00:08.0 {\n    num-rx-desc 65536\n  }\n}\n"),
            "startup.conf:3: num-rx-desc=65536: must be at most 32768");
  EXPECT_EQ(ErrorOf("dpdk {\n  dev default {\n\n    num-tx-desc 70000\n  }\n}\n"),
            "startup.conf:4: num-tx-desc=70000: must be at most 32768");
  EXPECT_EQ(ErrorOf("dpdk { dev default { num-tx-desc 32 } }"),
            "startup.conf:1: num-tx-desc=32: must be at least 64");
  EXPECT_EQ(ErrorOf("dpdk { dev default { num-rx-desc 99999999999 } }"),
            "startup.conf:1: num-rx-desc=99999999999: must be at most 32768");
  EXPECT_EQ(ErrorOf("dpdk {\n dev 0000:00:08.0 { num-tx-queues 65 }\n}"),
            "startup.conf:2: num-tx-queues=65: must be at most 64");
  EXPECT_EQ(ErrorOf("dpdk { dev default { num-rx-queues many } }"),
            "startup.conf:1: expected a number after 'num-rx-queues', got 'many'");
}

// ---- errors: one test per class, exact messages ---------------------------------------------

TEST(StartupErrorsTest, UnknownSection) {
  EXPECT_EQ(ErrorOf("unix { nodaemon }\n\nheapsize 4G\n"),
            "startup.conf:3: unknown section 'heapsize'");
}

TEST(StartupErrorsTest, UnknownOption) {
  EXPECT_EQ(ErrorOf("\n\n\n\n\nunix {\n  cli-listn /run/vpp/cli.sock\n}\n"),
            "startup.conf:7: unknown option 'cli-listn' in section 'unix'");
  EXPECT_EQ(
      ErrorOf("dpdk {\n  dev 0000:00:08.0 {\n    num-rx-queue 2\n  }\n}\n"),
      "startup.conf:3: unknown option 'num-rx-queue' in 'dev 0000:00:08.0' in section 'dpdk'");
  EXPECT_EQ(ErrorOf("unix { nodaemon#x }"),
            "startup.conf:1: unknown option 'nodaemon#x' in section 'unix'");
}

TEST(StartupErrorsTest, BadNumber) {
  EXPECT_EQ(ErrorOf("\n\n\n\n\n\n\n\n\n\ncpu {\n  workers two\n}\n"),
            "startup.conf:12: expected a number after 'workers', got 'two'");
  EXPECT_EQ(ErrorOf("cpu { workers 4294967296 }"),
            "startup.conf:1: value '4294967296' for 'workers' is out of range (0..4294967295)");
}

TEST(StartupErrorsTest, MissingValue) {
  EXPECT_EQ(ErrorOf("unix {\n  cli-listen\n}\n"),
            "startup.conf:2: expected a value after 'cli-listen', got '}'");
  EXPECT_EQ(ErrorOf("unix { log"), "startup.conf:1: expected a value after 'log', got end of file");
  EXPECT_EQ(ErrorOf("cpu { main-core }"),
            "startup.conf:1: expected a number after 'main-core', got '}'");
  EXPECT_EQ(ErrorOf("buffers { default 4096 }"),
            "startup.conf:1: expected 'data-size' after 'default', got '4096'");
  EXPECT_EQ(ErrorOf("ip { heap-size big }"),
            "startup.conf:1: expected a size (like 64M or 1G) after 'heap-size', got 'big'");
  EXPECT_EQ(ErrorOf("dpdk { iova-mode }"),
            "startup.conf:1: expected one of va, pa after 'iova-mode', got '}'");
  EXPECT_EQ(ErrorOf("unix { coredump-size lots }"),
            "startup.conf:1: expected a size or 'unlimited' after 'coredump-size', got 'lots'");
  EXPECT_EQ(ErrorOf("dpdk { iova-mode kva }"),
            "startup.conf:1: invalid value 'kva' for 'iova-mode' (expected one of va, pa)");
}

TEST(StartupErrorsTest, MissingCloseBrace) {
  EXPECT_EQ(ErrorOf("unix { nodaemon }\napi-trace { on }\ncpu {\n  main-core 1\n"),
            "startup.conf:3: missing '}' to close section 'cpu' opened here");
  // The next section starts before the '}': still reported where 'cpu' was opened.
  EXPECT_EQ(
      ErrorOf("unix { nodaemon }\napi-trace { on }\ncpu {\n  main-core 1\nunix { nodaemon }\n"),
      "startup.conf:3: missing '}' to close section 'cpu' opened here");
  EXPECT_EQ(ErrorOf("dpdk {\n  dev 0000:00:08.0 {\n    num-rx-queues 1\n}\n"),
            "startup.conf:1: missing '}' to close section 'dpdk' opened here");
  EXPECT_EQ(ErrorOf("dpdk {\n  dev 0000:00:08.0 {\n    num-rx-queues 1\nplugins { }"),
            "startup.conf:2: missing '}' to close 'dev 0000:00:08.0' in section 'dpdk' opened "
            "here");
}

TEST(StartupErrorsTest, ExtraCloseBrace) {
  EXPECT_EQ(ErrorOf("cpu { workers 1 }\n}\n"),
            "startup.conf:2: unexpected '}' with no open section");
}

TEST(StartupErrorsTest, MissingOpenBrace) {
  EXPECT_EQ(ErrorOf("cpu\n  main-core 1\n}\n"),
            "startup.conf:1: expected '{' after section name 'cpu', got 'main-core'");
  EXPECT_EQ(ErrorOf("plugins { plugin dpdk_plugin.so disable }"),
            "startup.conf:1: expected '{' after 'plugin dpdk_plugin.so', got 'disable'");
  EXPECT_EQ(ErrorOf("unix"),
            "startup.conf:1: expected '{' after section name 'unix', got end of file");
}

TEST(StartupErrorsTest, UnexpectedOpenBrace) {
  EXPECT_EQ(ErrorOf("unix { nodaemon { } }"), "startup.conf:1: unexpected '{' in section 'unix'");
  EXPECT_EQ(ErrorOf("{ unix }"), "startup.conf:1: unexpected '{' without a section name");
}

TEST(StartupErrorsTest, UnknownGroup) {
  EXPECT_EQ(ErrorOf("unix {\n  gid uplinkd-no-such-group\n}"),
            "startup.conf:2: unknown group 'uplinkd-no-such-group' for 'gid'");
}

TEST(StartupErrorsTest, WorkersDisagreeWithCorelist) {
  EXPECT_EQ(ErrorOf("cpu {\n  workers 3\n  corelist-workers 2-3\n}"),
            "startup.conf:3: 'workers 3' does not match 'corelist-workers 2-3' (2 cores)");
  EXPECT_EQ(ErrorOf("cpu { corelist-workers 1-4 }\ncpu { workers 1 }"),
            "startup.conf:2: 'workers 1' does not match 'corelist-workers 1-4' (4 cores)");
  EXPECT_EQ(ErrorOf("cpu { corelist-workers 3-1 }"),
            "startup.conf:1: expected a cpu list (like 2-3,5) after 'corelist-workers', got '3-1'");
}

TEST(StartupErrorsTest, PciPlaceholderAndBadPci) {
  EXPECT_EQ(ErrorOf("dpdk {\n  dev __PCI_DEVICE_ID__ { num-rx-queues 1 }\n}"),
            "startup.conf:2: '__PCI_DEVICE_ID__' after 'dev' is a template placeholder; it should "
            "have been replaced by the uplink's PCI address (like 0000:00:08.0)");
  EXPECT_EQ(ErrorOf("dpdk { dev eth0 }"),
            "startup.conf:1: expected a PCI address (like 0000:00:08.0) or 'default' after 'dev', "
            "got 'eth0'");
  EXPECT_EQ(ErrorOf("dpdk { dev 0000:00:08.0 dev 00:08.0 }"),
            "startup.conf:1: device '0000:00:08.0' is configured twice in section 'dpdk'");
}

TEST(StartupErrorsTest, BadPluginLines) {
  EXPECT_EQ(ErrorOf("plugins { plugin dpdk { enable } }"),
            "startup.conf:1: expected a plugin file name (like dpdk_plugin.so) or 'default' after "
            "'plugin', got 'dpdk'");
  EXPECT_EQ(ErrorOf("plugins { plugin dpdk_plugin.so { } }"),
            "startup.conf:1: expected 'enable' or 'disable' in 'plugin dpdk_plugin.so'");
  EXPECT_EQ(ErrorOf("plugins { plugin dpdk_plugin.so { on } }"),
            "startup.conf:1: unknown option 'on' in 'plugin dpdk_plugin.so' in section 'plugins'");
}

TEST(StartupErrorsTest, ControlCharacter) {
  EXPECT_EQ(ErrorOf(std::string_view("unix {\n nodaemon\x01 }", 18)),
            "startup.conf:2: unexpected control character 0x01");
}

TEST(StartupErrorsTest, LongWordsAreShortenedInMessages) {
  std::string word(500, 'x');
  std::string msg = ErrorOf("unix { " + word + " }");
  EXPECT_EQ(msg,
            "startup.conf:1: unknown option '" + std::string(80, 'x') + "...' in section 'unix'");
}

TEST(StartupErrorsTest, UnreadableFileNamesThePath) {
  auto r = LoadStartupConfig("/nonexistent/uplinkd/startup.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ENOENT);
  EXPECT_EQ(r.status().message(),
            "cannot read startup config '/nonexistent/uplinkd/startup.conf': No such file or "
            "directory");
  r = LoadStartupConfig(UPLINKD_STARTUP_FIXTURES);  // a directory
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(UPLINKD_STARTUP_FIXTURES), std::string::npos);
}

TEST(StartupErrorsTest, LoadedFileErrorsNameThePath) {
  auto r = LoadStartupConfig(Fixture("guide_dpdk_hugepages.template"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind(Fixture("guide_dpdk_hugepages.template") + ":15: ", 0), 0u)
      << r.status().message();
}

// ---- plugins
// ---------------------------------------------------------------------------------------

TEST(StartupPluginsTest, DefaultEnabled) {
  StartupConfig c = MustParse("");
  EXPECT_TRUE(PluginEnabled(c, "dpdk_plugin.so"));
  EXPECT_TRUE(PluginEnabled(c, "af_xdp_plugin.so"));
}

TEST(StartupPluginsTest, DefaultDisableWithExceptions) {
  StartupConfig c =
      MustParse("plugins { plugin default { disable } plugin af_packet_plugin.so { enable } }");
  EXPECT_FALSE(PluginEnabled(c, "dpdk_plugin.so"));
  EXPECT_TRUE(PluginEnabled(c, "af_packet_plugin.so"));
}

TEST(StartupPluginsTest, RuleBeatsDefaultAndLastRuleWins) {
  StartupConfig c = MustParse(
      "plugins { plugin dpdk_plugin.so { disable } plugin default { enable }\n"
      "plugin avf_plugin.so { disable } plugin avf_plugin.so { enable } }");
  EXPECT_FALSE(PluginEnabled(c, "dpdk_plugin.so"));
  EXPECT_TRUE(PluginEnabled(c, "avf_plugin.so"));
  EXPECT_TRUE(PluginEnabled(c, "virtio_plugin.so"));
  EXPECT_EQ(c.plugins.rules.size(), 2u);
  ExpectRoundTrip(c);
}

TEST(StartupPluginsTest, DriverNames) {
  EXPECT_EQ(PluginDriver("dpdk_plugin.so"), "dpdk");
  EXPECT_EQ(PluginDriver("af_xdp_plugin.so"), "af_xdp");
  EXPECT_EQ(PluginDriver("af_packet_plugin.so"), "af_packet");
  EXPECT_EQ(PluginDriver("virtio_plugin.so"), "virtio");
  EXPECT_EQ(PluginDriver("avf_plugin.so"), "avf");
  EXPECT_EQ(PluginDriver("calico_plugin.so"), "");
}

TEST(StartupPluginsTest, ForeignPluginsWarn) {
  StartupConfig c = MustParse(
      "plugins {\n  plugin calico_plugin.so { enable }\n  plugin ping_plugin.so { disable }\n"
      "  plugin dpdk_plugin.so { disable }\n}\n");
  EXPECT_EQ(c.warnings,
            (std::vector<std::string>{
                "startup.conf:2: plugin 'calico_plugin.so' is not part of uplinkd; ignored",
                "startup.conf:3: plugin 'ping_plugin.so' is not part of uplinkd; ignored",
            }));
  EXPECT_TRUE(PluginEnabled(c, "calico_plugin.so"));  // still recorded, VPP semantics
}

// ---- fixtures from the Calico/VPP documentation -------------------------------------------------

TEST(StartupFixturesTest, GuideDpdkHugepages) {
  StartupConfig c = MustLoad("guide_dpdk_hugepages.conf");
  EXPECT_TRUE(c.unix_section.nodaemon);
  EXPECT_TRUE(c.unix_section.full_coredump);
  EXPECT_EQ(c.unix_section.cli_listen, "/var/run/vpp/cli.sock");
  EXPECT_TRUE(c.api_trace.on);
  EXPECT_EQ(c.cpu.main_core, 1u);
  EXPECT_EQ(c.cpu.workers, 0u);
  EXPECT_EQ(c.socksvr.socket_name, "/var/run/vpp/vpp-api.sock");
  ASSERT_TRUE(c.dpdk.present);
  ASSERT_EQ(c.dpdk.devs.size(), 1u);
  EXPECT_EQ(c.dpdk.devs[0].pci, "0000:00:08.0");
  EXPECT_EQ(c.dpdk.devs[0].num_rx_queues, 1u);
  EXPECT_EQ(c.dpdk.devs[0].num_tx_queues, 1u);
  EXPECT_FALSE(c.dpdk.no_hugetlb);
  EXPECT_FALSE(c.buffers.no_hugetlb);
  EXPECT_TRUE(PluginEnabled(c, "dpdk_plugin.so"));
  EXPECT_EQ(c.warnings.size(), 1u);  // calico_plugin.so
  EXPECT_NE(c.warnings[0].find(":19: plugin 'calico_plugin.so' is not part of uplinkd"),
            std::string::npos)
      << c.warnings[0];
  ExpectRoundTrip(c);
}

TEST(StartupFixturesTest, GuideDpdkNoHugepages) {
  StartupConfig c = MustLoad("guide_dpdk_no_hugepages.conf");
  ASSERT_EQ(c.dpdk.devs.size(), 1u);
  EXPECT_EQ(c.dpdk.devs[0].pci, "0000:00:08.0");
  EXPECT_EQ(c.dpdk.iova_mode, "va");
  EXPECT_TRUE(c.dpdk.no_hugetlb);
  EXPECT_TRUE(c.buffers.no_hugetlb);
  EXPECT_EQ(c.cpu.main_core, 1u);
  EXPECT_TRUE(PluginEnabled(c, "dpdk_plugin.so"));
  ExpectRoundTrip(c);
}

TEST(StartupFixturesTest, TemplatesNeedRendering) {
  for (auto name : {"guide_dpdk_hugepages.template", "guide_dpdk_no_hugepages.template"}) {
    auto r = LoadStartupConfig(Fixture(name));
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_NE(r.status().message().find(":15: '__PCI_DEVICE_ID__' after 'dev' is a template "
                                        "placeholder"),
              std::string::npos)
        << r.status().message();
  }
}

TEST(StartupFixturesTest, GuideNativeCli) {
  StartupConfig c = MustLoad("guide_native_cli.conf");
  EXPECT_TRUE(c.unix_section.nodaemon);
  EXPECT_EQ(c.unix_section.log, "/var/run/vpp/vpp.log");
  EXPECT_EQ(c.unix_section.cli_listen, "/var/run/vpp/cli.sock");
  EXPECT_EQ(c.unix_section.exec, "/etc/vpp/startup.exec");
  EXPECT_FALSE(c.dpdk.present);
  EXPECT_FALSE(PluginEnabled(c, "dpdk_plugin.so"));
  EXPECT_TRUE(PluginEnabled(c, "af_packet_plugin.so"));
  ExpectRoundTrip(c);
}

TEST(StartupFixturesTest, GuideGeneralPlugins) {
  StartupConfig c = MustLoad("guide_general_plugins.conf");
  EXPECT_FALSE(c.dpdk.present);
  EXPECT_TRUE(c.plugins.default_enabled);
  EXPECT_FALSE(PluginEnabled(c, "dpdk_plugin.so"));
  EXPECT_TRUE(PluginEnabled(c, "af_xdp_plugin.so"));
  EXPECT_EQ(c.warnings.size(), 1u);
  ExpectRoundTrip(c);
}

TEST(StartupFixturesTest, GuideExcerptsWithEllipsisAreRejected) {
  auto r = LoadStartupConfig(Fixture("guide_general_plugins.excerpt"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            Fixture("guide_general_plugins.excerpt") + ":1: unknown section '...'");
  r = LoadStartupConfig(Fixture("guide_native_cli.excerpt"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            Fixture("guide_native_cli.excerpt") + ":8: unknown section '...'");
}

TEST(StartupFixturesTest, CalicoVppDefaultTemplate) {
  StartupConfig c = MustLoad("calico_vpp_default.conf");
  EXPECT_TRUE(c.unix_section.nodaemon);
  EXPECT_TRUE(c.unix_section.full_coredump);
  EXPECT_EQ(c.unix_section.pidfile, "/run/vpp/vpp.pid");
  EXPECT_EQ(c.unix_section.exec, "/etc/vpp/startup.exec");
  EXPECT_TRUE(c.api_trace.on);
  EXPECT_EQ(c.cpu.workers, 0u);
  EXPECT_FALSE(c.cpu.main_core);
  EXPECT_EQ(c.socksvr.socket_name, "/var/run/vpp/vpp-api.sock");
  EXPECT_FALSE(c.dpdk.present);
  EXPECT_FALSE(PluginEnabled(c, "dpdk_plugin.so"));
  EXPECT_EQ(c.warnings.size(), 1u);
  ExpectRoundTrip(c);
}

TEST(StartupFixturesTest, CalicoVppConfiguringDoc) {
  StartupConfig c = MustLoad("calico_vpp_configuring.conf");
  EXPECT_EQ(c.cpu.main_core, 0u);
  EXPECT_EQ(c.cpu.corelist_workers, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(c.cpu.workers, 2u);
  EXPECT_TRUE(c.cpu.relative);
  EXPECT_FALSE(PluginEnabled(c, "dpdk_plugin.so"));
  EXPECT_FALSE(PluginEnabled(c, "ping_plugin.so"));
  EXPECT_EQ(c.warnings.size(), 3u);  // calico, ping, dispatch_trace
  ExpectRoundTrip(c);
}

// ---- round trip
// -----------------------------------------------------------------------------------

TEST(StartupFormatTest, CanonicalText) {
  StartupConfig c = MustParse(
      "cpu{main-core 1 workers 2}dpdk{no-hugetlb dev 0000:00:08.0{num-rx-queues 2} dev default{"
      "num-rx-desc 512}}plugins{plugin default{disable}plugin dpdk_plugin.so{enable}}");
  EXPECT_EQ(FormatStartupConfig(c),
            "cpu {\n"
            "  main-core 1\n"
            "  workers 2\n"
            "}\n"
            "dpdk {\n"
            "  dev default {\n"
            "    num-rx-desc 512\n"
            "  }\n"
            "  dev 0000:00:08.0 {\n"
            "    num-rx-queues 2\n"
            "  }\n"
            "  no-hugetlb\n"
            "}\n"
            "plugins {\n"
            "  plugin default { disable }\n"
            "  plugin dpdk_plugin.so { enable }\n"
            "}\n");
  ExpectRoundTrip(c);
}

TEST(StartupFormatTest, EqualityIgnoresProvenance) {
  StartupConfig a = MustParse("plugins { plugin calico_plugin.so { enable } }");
  StartupConfig b = a;
  b.file = "other.conf";
  b.warnings.clear();
  EXPECT_TRUE(a == b);
  b.cpu.workers = 1;
  EXPECT_FALSE(a == b);
}

TEST(StartupFormatTest, EveryFixtureRoundTrips) {
  for (auto name :
       {"guide_dpdk_hugepages.conf", "guide_dpdk_no_hugepages.conf", "guide_native_cli.conf",
        "guide_general_plugins.conf", "calico_vpp_default.conf", "calico_vpp_configuring.conf"}) {
    SCOPED_TRACE(name);
    ExpectRoundTrip(MustLoad(name));
  }
}

}  // namespace
}  // namespace uplinkd
