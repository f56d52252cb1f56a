#include "manager/env_config.h"

#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "manager/render.h"

namespace uplinkd {
namespace {

using Env = std::map<std::string, std::string>;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

ManagerConfig Parse(const Env& env) {
  Result<ManagerConfig> r = ParseManagerEnv(env);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : ManagerConfig{};
}

std::string Error(const Env& env) {
  Result<ManagerConfig> r = ParseManagerEnv(env);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

// ---- defaults and the single-uplink variables

TEST(ManagerEnv, MinimalDefaults) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACE", "eth0"}});
  ASSERT_EQ(c.uplinks.size(), 1u);
  const UplinkSpec& u = c.uplinks[0];
  EXPECT_EQ(u.interface_name, "eth0");
  EXPECT_EQ(u.name_source, "CALICOVPP_INTERFACE");
  EXPECT_EQ(u.driver, "");
  EXPECT_FALSE(u.rx_mode.has_value());
  EXPECT_EQ(u.num_rx_queues, 0u);
  EXPECT_EQ(u.num_tx_queues, 0u);
  EXPECT_EQ(u.rx_queue_size, 0u);
  EXPECT_EQ(u.tx_queue_size, 0u);
  EXPECT_FALSE(u.mtu.has_value());
  EXPECT_TRUE(u.is_main);
  EXPECT_EQ(u.new_driver, "");
  EXPECT_EQ(c.config_template, DefaultConfigTemplate());
  EXPECT_TRUE(c.config_template_is_default);
  EXPECT_EQ(c.exec_template, "");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.state_file, kDefaultStateFile);
  EXPECT_EQ(c.startup_sleep_seconds, 0u);
  EXPECT_FALSE(c.host_tap.rx_mode.has_value());
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(ManagerEnv, NoUplinkIsAnError) {
  EXPECT_EQ(Error({}),
            "no uplink interface: set CALICOVPP_INTERFACE or CALICOVPP_INTERFACES "
            "(uplinkInterfaces[0].interfaceName)");
  // Empty means unset, as os.Getenv reads it in Calico.
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", ""}, {"CALICOVPP_NATIVE_DRIVER", "af_packet"}}),
            "no uplink interface: set CALICOVPP_INTERFACE or CALICOVPP_INTERFACES "
            "(uplinkInterfaces[0].interfaceName)");
}

TEST(ManagerEnv, InterfaceName) {
  EXPECT_EQ(Parse({{"CALICOVPP_INTERFACE", "enp216s0f1"}}).uplinks[0].interface_name,
            "enp216s0f1");
  const std::string why =
      "not a valid interface name (1 to 15 characters, no '/', ':' or whitespace)";
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "averyveryverylongname"}}),
            "CALICOVPP_INTERFACE=averyveryverylongname: " + why);
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0:1"}}), "CALICOVPP_INTERFACE=eth0:1: " + why);
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "../x"}}), "CALICOVPP_INTERFACE=../x: " + why);
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth 0"}}), "CALICOVPP_INTERFACE=eth 0: " + why);
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", ".."}}), "CALICOVPP_INTERFACE=..: " + why);
}

TEST(ManagerEnv, NativeDriver) {
  for (const char* d : {"af_packet", "af_xdp", "dpdk", "virtio", "avf", "none"}) {
    EXPECT_EQ(Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_NATIVE_DRIVER", d}})
                  .uplinks[0]
                  .driver,
              d);
  }
  // Calico lower-cases it.
  EXPECT_EQ(Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_NATIVE_DRIVER", "AF_XDP"}})
                .uplinks[0]
                .driver,
            "af_xdp");
  EXPECT_EQ(Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_NATIVE_DRIVER", ""}})
                .uplinks[0]
                .driver,
            "");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_NATIVE_DRIVER", "foo"}}),
            "CALICOVPP_NATIVE_DRIVER=foo: unknown driver (af_packet, af_xdp, avf, dpdk, none, "
            "virtio)");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_NATIVE_DRIVER", "rdma"}}),
            "CALICOVPP_NATIVE_DRIVER=rdma: unknown driver (af_packet, af_xdp, avf, dpdk, none, "
            "virtio)");
}

TEST(ManagerEnv, RxMode) {
  auto mode = [](const char* v) {
    return Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_MODE", v}}).uplinks[0].rx_mode;
  };
  EXPECT_EQ(mode("polling"), RxMode::kPolling);
  EXPECT_EQ(mode("interrupt"), RxMode::kInterrupt);
  EXPECT_EQ(mode("adaptive"), RxMode::kAdaptive);
  EXPECT_EQ(mode("Polling"), RxMode::kPolling);
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_MODE", "turbo"}}),
            "CALICOVPP_RX_MODE=turbo: unknown rx mode (adaptive, interrupt, polling)");
}

TEST(ManagerEnv, DefaultRxModePerDriver) {
  EXPECT_EQ(DefaultRxMode("af_packet"), RxMode::kInterrupt);
  for (const char* d : {"af_xdp", "dpdk", "virtio", "avf", "none", ""}) {
    EXPECT_EQ(DefaultRxMode(d), RxMode::kAdaptive) << d;
  }
  EXPECT_EQ(ParseRxModeName("INTERRUPT"), RxMode::kInterrupt);
  EXPECT_FALSE(ParseRxModeName("poll").has_value());
}

TEST(ManagerEnv, RxQueues) {
  EXPECT_EQ(Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_QUEUES", "4"}})
                .uplinks[0]
                .num_rx_queues,
            4u);
  EXPECT_EQ(Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_QUEUES", "4"}})
                .uplinks[0]
                .rx_queues_source,
            "CALICOVPP_RX_QUEUES=4");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_QUEUES", "0"}}),
            "CALICOVPP_RX_QUEUES=0: must be at least 1");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_QUEUES", "two"}}),
            "CALICOVPP_RX_QUEUES=two: not a number");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_QUEUES", "-1"}}),
            "CALICOVPP_RX_QUEUES=-1: not a number");
  // The dataplane's limit (drivers/interface_config.h), not a wider one of the manager's own.
  EXPECT_EQ(Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_QUEUES", "64"}})
                .uplinks[0]
                .num_rx_queues,
            64u);
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_QUEUES", "65"}}),
            "CALICOVPP_RX_QUEUES=65: must be at most 64");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_QUEUES", "70000"}}),
            "CALICOVPP_RX_QUEUES=70000: must be at most 64");
}

TEST(ManagerEnv, RingSize) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RING_SIZE", "2048"}});
  EXPECT_EQ(c.uplinks[0].rx_queue_size, 2048u);
  EXPECT_EQ(c.uplinks[0].tx_queue_size, 2048u);
  // Calico's parseRingSize also takes "RX,TX".
  c = Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RING_SIZE", "1024,512"}});
  EXPECT_EQ(c.uplinks[0].rx_queue_size, 1024u);
  EXPECT_EQ(c.uplinks[0].tx_queue_size, 512u);
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RING_SIZE", "1000"}}),
            "CALICOVPP_RING_SIZE=1000: not a power of two");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RING_SIZE", "0"}}),
            "CALICOVPP_RING_SIZE=0: not a power of two");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RING_SIZE", "1024,500"}}),
            "CALICOVPP_RING_SIZE=1024,500: not a power of two");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RING_SIZE", "65536"}}),
            "CALICOVPP_RING_SIZE=65536: must be at most 32768");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RING_SIZE", "1024,32"}}),
            "CALICOVPP_RING_SIZE=1024,32: must be at least 64");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RING_SIZE", "big"}}),
            "CALICOVPP_RING_SIZE=big: not a number");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RING_SIZE", "1024,"}}),
            "CALICOVPP_RING_SIZE=1024,: not a number");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RING_SIZE", "1,2,4"}}),
            "CALICOVPP_RING_SIZE=1,2,4: expected SIZE or RX,TX");
}

TEST(ManagerEnv, SwapDriver) {
  EXPECT_EQ(Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_SWAP_DRIVER", "vfio-pci"}})
                .uplinks[0]
                .new_driver,
            "vfio-pci");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_SWAP_DRIVER", "../../bind"}}),
            "CALICOVPP_SWAP_DRIVER=../../bind: not a kernel driver name (letters, digits, '_' "
            "and '-')");
}

TEST(ManagerEnv, TapMtu) {
  EXPECT_EQ(
      Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_TAP_MTU", "1400"}}).uplinks[0].mtu,
      1400u);
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_TAP_MTU", "40"}}),
            "CALICOVPP_TAP_MTU=40: must be between 68 and 65535");
}

TEST(ManagerEnv, Templates) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACE", "eth0"},
                           {"CALICOVPP_CONFIG_TEMPLATE", "unix { nodaemon }"},
                           {"CALICOVPP_CONFIG_EXEC_TEMPLATE", "show version"}});
  EXPECT_EQ(c.config_template, "unix { nodaemon }");
  EXPECT_FALSE(c.config_template_is_default);
  EXPECT_EQ(c.exec_template, "show version");
}

TEST(ManagerEnv, LogLevel) {
  auto level = [](const char* v) {
    return Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_LOG_LEVEL", v}}).log_level;
  };
  EXPECT_EQ(level("trace"), "trace");
  EXPECT_EQ(level("debug"), "debug");
  EXPECT_EQ(level("info"), "info");
  EXPECT_EQ(level("warn"), "warn");
  EXPECT_EQ(level("warning"), "warn");
  EXPECT_EQ(level("error"), "error");
  EXPECT_EQ(level("DEBUG"), "debug");
  EXPECT_EQ(level("fatal"), "critical");  // logrus names Calico users may have
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_LOG_LEVEL", "loud"}}),
            "CALICOVPP_LOG_LEVEL=loud: unknown log level (trace, debug, info, warn, warning, "
            "error)");
}

TEST(ManagerEnv, StateFileAndStartupSleep) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACE", "eth0"},
                           {"CALICOVPP_IF_CONFIG_PATH", "/var/lib/uplinkd/state"},
                           {"CALICOVPP_VPP_STARTUP_SLEEP", "2"}});
  EXPECT_EQ(c.state_file, "/var/lib/uplinkd/state");
  EXPECT_EQ(c.startup_sleep_seconds, 2u);
  // CALICOVPP_INITIAL_CONFIG is the current form and wins.
  c = Parse({{"CALICOVPP_INTERFACE", "eth0"},
             {"CALICOVPP_IF_CONFIG_PATH", "/var/lib/uplinkd/state"},
             {"CALICOVPP_INITIAL_CONFIG",
              R"({"vppStartupSleepSeconds": 1, "ifConfigSavePath": "/run/s.json",
                  "corePattern": "/var/lib/vpp/vppcore.%e.%p"})"}});
  EXPECT_EQ(c.state_file, "/run/s.json");
  EXPECT_EQ(c.startup_sleep_seconds, 1u);
  EXPECT_THAT(c.warnings, ElementsAre("CALICOVPP_INITIAL_CONFIG: corePattern is not acted on by "
                                      "uplinkd; ignored"));
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_IF_CONFIG_PATH", "state"}}),
            "CALICOVPP_IF_CONFIG_PATH=state: must be an absolute path");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_VPP_STARTUP_SLEEP", "1s"}}),
            "CALICOVPP_VPP_STARTUP_SLEEP=1s: not a number");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"},
                   {"CALICOVPP_INITIAL_CONFIG", R"({"ifConfigSavePath": "x"})"}}),
            "CALICOVPP_INITIAL_CONFIG: ifConfigSavePath=x: must be an absolute path");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"},
                   {"CALICOVPP_INITIAL_CONFIG", R"({"vppStartupSleepSeconds": "1"})"}}),
            "CALICOVPP_INITIAL_CONFIG: vppStartupSleepSeconds: expected a number, got \"1\"");
  // Calico's own docs show this one with a trailing comma; it is not JSON.
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"},
                   {"CALICOVPP_INITIAL_CONFIG", R"({"defaultGWs": "192.168.0.1",})"}}),
            "CALICOVPP_INITIAL_CONFIG: malformed JSON at byte 30: syntax error while parsing "
            "object key - unexpected '}'; expected string literal");
}

TEST(ManagerEnv, UnsupportedCalicoVariablesWarn) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACE", "eth0"},
                           {"CALICOVPP_IPSEC_ENABLED", "true"},
                           {"CALICOVPP_DEBUG", "{}"},
                           {"HOME", "/root"}});
  EXPECT_THAT(c.warnings, ElementsAre("CALICOVPP_DEBUG is not supported by uplinkd; ignored",
                                      "CALICOVPP_IPSEC_ENABLED is not supported by uplinkd; "
                                      "ignored"));
}

TEST(ManagerEnv, HostTap) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACE", "eth0"},
                           {"CALICOVPP_TAP_RX_MODE", "polling"},
                           {"CALICOVPP_TAP_RING_SIZE", "512"}});
  EXPECT_EQ(c.host_tap.rx_mode, RxMode::kPolling);
  EXPECT_EQ(c.host_tap.rx_queue_size, 512u);
  EXPECT_EQ(c.host_tap.tx_queue_size, 512u);
  c = Parse({{"CALICOVPP_INTERFACE", "eth0"},
             {"CALICOVPP_TAP_RING_SIZE", "512"},
             {"CALICOVPP_INTERFACES",
              R"({"vppHostTapSpec": {"rx": 2, "tx": 2, "rxqsz": 1024, "isl3": false}})"}});
  EXPECT_EQ(c.host_tap.num_rx_queues, 2u);
  EXPECT_EQ(c.host_tap.num_tx_queues, 2u);
  EXPECT_EQ(c.host_tap.rx_queue_size, 1024u);
  EXPECT_EQ(c.host_tap.tx_queue_size, 512u);
  EXPECT_THAT(c.warnings, ElementsAre("CALICOVPP_TAP_RING_SIZE=512 is overridden by "
                                      "CALICOVPP_INTERFACES: vppHostTapSpec.rxqsz=1024"));
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_TAP_RX_MODE", "fast"}}),
            "CALICOVPP_TAP_RX_MODE=fast: unknown rx mode (adaptive, interrupt, polling)");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"},
                   {"CALICOVPP_INTERFACES", R"({"vppHostTapSpec": {"rxqsz": 1000}})"}}),
            "CALICOVPP_INTERFACES: vppHostTapSpec.rxqsz=1000: not a power of two");
}

// ---- CALICOVPP_INTERFACES

TEST(ManagerEnvJson, SingleUplinkCalicoKeys) {
  // The shape of the Calico docs' example, with Calico's InterfaceSpec keys.
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACES", R"({
      "maxPodIfSpec": {"rx": 10, "tx": 10, "rxqsz": 1024, "txqsz": 1024},
      "defaultPodIfSpec": {"rx": 1, "tx": 1, "isl3": true},
      "vppHostTapSpec": {"rx": 1, "tx": 1, "rxqsz": 1024, "txqsz": 1024, "isl3": false},
      "uplinkInterfaces": [
        {"interfaceName": "eth1", "vppDriver": "af_packet", "mtu": 1400, "rxMode": "adaptive",
         "physicalNetworkName": "", "rx": 2, "tx": 3, "rxqsz": 2048, "txqsz": 512,
         "newDriver": "vfio-pci", "annotations": {"a": "b"}}
      ]})"}});
  ASSERT_EQ(c.uplinks.size(), 1u);
  const UplinkSpec& u = c.uplinks[0];
  EXPECT_EQ(u.interface_name, "eth1");
  EXPECT_EQ(u.name_source, "CALICOVPP_INTERFACES: uplinkInterfaces[0].interfaceName");
  EXPECT_EQ(u.driver, "af_packet");
  EXPECT_EQ(u.mtu, 1400u);
  EXPECT_EQ(u.rx_mode, RxMode::kAdaptive);
  EXPECT_EQ(u.num_rx_queues, 2u);
  EXPECT_EQ(u.num_tx_queues, 3u);
  EXPECT_EQ(u.rx_queue_size, 2048u);
  EXPECT_EQ(u.tx_queue_size, 512u);
  EXPECT_EQ(u.new_driver, "vfio-pci");
  EXPECT_TRUE(u.is_main);
  EXPECT_EQ(u.rx_queues_source, "CALICOVPP_INTERFACES: uplinkInterfaces[0].rx=2");
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(ManagerEnvJson, DescriptiveKeys) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
      {"interfaceName": "eth0", "vppDriver": "af_xdp", "rxMode": "polling", "numRxQueues": 4,
       "numTxQueues": 2, "rxQueueSize": 4096, "txQueueSize": 1024}]})"}});
  const UplinkSpec& u = c.uplinks[0];
  EXPECT_EQ(u.num_rx_queues, 4u);
  EXPECT_EQ(u.num_tx_queues, 2u);
  EXPECT_EQ(u.rx_queue_size, 4096u);
  EXPECT_EQ(u.tx_queue_size, 1024u);
  EXPECT_EQ(u.rx_mode, RxMode::kPolling);
  EXPECT_EQ(u.tx_queues_source, "CALICOVPP_INTERFACES: uplinkInterfaces[0].numTxQueues=2");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
      {"interfaceName": "eth0", "rx": 1, "numRxQueues": 1}]})"}}),
            "CALICOVPP_INTERFACES: uplinkInterfaces[0]: both rx and numRxQueues are given");
}

TEST(ManagerEnvJson, MultipleUplinksFirstIsMain) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
      {"interfaceName": "eth0"},
      {"interfaceName": "eth1", "vppDriver": "af_packet"},
      {"interfaceName": "eth2", "vppDriver": "af_xdp"}]})"}});
  ASSERT_EQ(c.uplinks.size(), 3u);
  EXPECT_EQ(c.uplinks[0].interface_name, "eth0");
  EXPECT_TRUE(c.uplinks[0].is_main);
  EXPECT_EQ(c.uplinks[1].interface_name, "eth1");
  EXPECT_FALSE(c.uplinks[1].is_main);
  EXPECT_EQ(c.uplinks[2].interface_name, "eth2");
  EXPECT_FALSE(c.uplinks[2].is_main);
}

TEST(ManagerEnvJson, IsMainMovesToFront) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
      {"interfaceName": "eth0", "vppDriver": "af_packet"},
      {"interfaceName": "eth1", "vppDriver": "af_packet"},
      {"interfaceName": "eth2", "isMain": true}]})"}});
  ASSERT_EQ(c.uplinks.size(), 3u);
  EXPECT_EQ(c.uplinks[0].interface_name, "eth2");
  EXPECT_TRUE(c.uplinks[0].is_main);
  EXPECT_EQ(c.uplinks[1].interface_name, "eth0");
  EXPECT_EQ(c.uplinks[2].interface_name, "eth1");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
      {"interfaceName": "eth0", "isMain": true},
      {"interfaceName": "eth1", "isMain": true, "vppDriver": "af_packet"}]})"}}),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].isMain: only one uplink may be main "
            "(uplinkInterfaces[0] already is)");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACES",
                    R"({"uplinkInterfaces": [{"interfaceName": "eth0", "isMain": "yes"}]})"}}),
            "CALICOVPP_INTERFACES: uplinkInterfaces[0].isMain: expected true or false, got "
            "\"yes\"");
}

TEST(ManagerEnvJson, SecondaryNeedsADriver) {
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
      {"interfaceName": "eth0"}, {"interfaceName": "eth1"}]})"}}),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].interfaceName=eth1: a secondary uplink "
            "needs a driver (uplinkInterfaces[1].vppDriver)");
}

TEST(ManagerEnvJson, Errors) {
  auto err = [](const std::string& uplink) {
    return Error({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [{"interfaceName": "eth0"}, )" +
                                               uplink + "]}"}});
  };
  EXPECT_EQ(err(R"({"interfaceName": "eth1", "vppDriver": "af_packet", "numRxQueues": "two"})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].numRxQueues: expected a number, got "
            "\"two\"");
  EXPECT_EQ(err(R"({"interfaceName": "eth1", "vppDriver": "af_packet", "rx": 0})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].rx=0: must be at least 1");
  EXPECT_EQ(err(R"({"interfaceName": "eth1", "vppDriver": "af_packet", "rx": -2})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].rx: expected a whole number of at least "
            "0, got -2");
  EXPECT_EQ(err(R"({"interfaceName": "eth1", "vppDriver": "af_packet", "rx": 1.5})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].rx: expected a whole number of at least "
            "0, got 1.5");
  EXPECT_EQ(err(R"({"interfaceName": "eth1", "vppDriver": "af_packet", "rxQueueSize": 1000})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].rxQueueSize=1000: not a power of two");
  EXPECT_EQ(err(R"({"interfaceName": "eth1", "vppDriver": "foo"})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].vppDriver=foo: unknown driver "
            "(af_packet, af_xdp, avf, dpdk, none, virtio)");
  EXPECT_EQ(err(R"({"interfaceName": "eth1", "vppDriver": "af_packet", "rxMode": "turbo"})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].rxMode=turbo: unknown rx mode "
            "(adaptive, interrupt, polling)");
  EXPECT_EQ(err(R"({"interfaceName": "eth1", "vppDriver": "af_packet", "rxMode": 1})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].rxMode: expected a string, got 1");
  EXPECT_EQ(err(R"({"interfaceName": "eth1", "vppDriver": "af_packet", "mtu": 20})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].mtu=20: must be between 68 and 65535");
  EXPECT_EQ(err(R"({"vppDriver": "af_packet"})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].interfaceName: missing");
  EXPECT_EQ(err(R"({"interfaceName": "", "vppDriver": "af_packet"})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].interfaceName: missing");
  EXPECT_EQ(err(R"({"interfaceName": 7})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].interfaceName: expected a string, got 7");
  EXPECT_EQ(err(R"({"interfaceName": "eth0/1"})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].interfaceName=eth0/1: not a valid "
            "interface name (1 to 15 characters, no '/', ':' or whitespace)");
  EXPECT_EQ(err(R"({"interfaceName": "eth0", "vppDriver": "af_packet"})"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1].interfaceName=eth0: listed twice");
  EXPECT_EQ(err(R"("eth1")"),
            "CALICOVPP_INTERFACES: uplinkInterfaces[1]: expected an object, got \"eth1\"");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": {"interfaceName": "e"}})"}}),
            "CALICOVPP_INTERFACES: uplinkInterfaces: expected an array, got "
            "{\"interfaceName\":\"e\"}");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACES", R"([1, 2])"}}),
            "CALICOVPP_INTERFACES: top level: expected an object, got [1,2]");
  // null is "not given", as in Go.
  EXPECT_EQ(Parse({{"CALICOVPP_INTERFACES",
                    R"({"uplinkInterfaces": [{"interfaceName": "eth0", "rx": null}]})"}})
                .uplinks[0]
                .num_rx_queues,
            0u);
}

TEST(ManagerEnvJson, Malformed) {
  // Bytes count from 1: the offending character, or one past the end when the input stops short.
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces" [}])"}}),
            "CALICOVPP_INTERFACES: malformed JSON at byte 21: syntax error while parsing object "
            "separator - unexpected '['; expected ':'");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [)"}}),
            "CALICOVPP_INTERFACES: malformed JSON at byte 23: syntax error while parsing value - "
            "unexpected end of input; expected '[', '{', or a literal");
}

TEST(ManagerEnvJson, UnknownKeysWarn) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
      {"interfaceName": "eth0", "newDriverName": "vfio-pci"}], "extra": 1})"}});
  EXPECT_THAT(c.warnings,
              ElementsAre("CALICOVPP_INTERFACES: uplinkInterfaces[0].newDriverName is not a "
                          "setting uplinkd knows; ignored",
                          "CALICOVPP_INTERFACES: extra is not a setting uplinkd knows; ignored"));
}

// ---- the old variables and CALICOVPP_INTERFACES together

TEST(ManagerEnvCombined, LegacyInterfaceComesFirst) {
  // Calico's vpp-manager: the CALICOVPP_INTERFACE uplink first, then uplinkInterfaces.
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACE", "eth0"},
                           {"CALICOVPP_NATIVE_DRIVER", "af_packet"},
                           {"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
                               {"interfaceName": "eth1", "vppDriver": "af_xdp"}]})"}});
  ASSERT_EQ(c.uplinks.size(), 2u);
  EXPECT_EQ(c.uplinks[0].interface_name, "eth0");
  EXPECT_EQ(c.uplinks[0].driver, "af_packet");
  EXPECT_TRUE(c.uplinks[0].is_main);
  EXPECT_EQ(c.uplinks[1].interface_name, "eth1");
  EXPECT_FALSE(c.uplinks[1].is_main);
}

TEST(ManagerEnvCombined, JsonIsMainWinsOverLegacyPosition) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACE", "eth0"},
                           {"CALICOVPP_NATIVE_DRIVER", "af_packet"},
                           {"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
                               {"interfaceName": "eth1", "isMain": true}]})"}});
  ASSERT_EQ(c.uplinks.size(), 2u);
  EXPECT_EQ(c.uplinks[0].interface_name, "eth1");
  EXPECT_EQ(c.uplinks[1].interface_name, "eth0");
  EXPECT_EQ(Error({{"CALICOVPP_INTERFACE", "eth0"},
                   {"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
                       {"interfaceName": "eth1", "isMain": true}]})"}}),
            "CALICOVPP_INTERFACE=eth0: a secondary uplink needs a driver "
            "(CALICOVPP_NATIVE_DRIVER)");
}

TEST(ManagerEnvCombined, SameInterfaceMergesJsonWins) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACE", "eth0"},
                           {"CALICOVPP_NATIVE_DRIVER", "af_packet"},
                           {"CALICOVPP_RX_QUEUES", "2"},
                           {"CALICOVPP_RX_MODE", "polling"},
                           {"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
                               {"interfaceName": "eth0", "rxMode": "interrupt"}]})"}});
  ASSERT_EQ(c.uplinks.size(), 1u);
  EXPECT_EQ(c.uplinks[0].driver, "af_packet");
  EXPECT_EQ(c.uplinks[0].num_rx_queues, 2u);
  EXPECT_EQ(c.uplinks[0].rx_queues_source, "CALICOVPP_RX_QUEUES=2");
  EXPECT_EQ(c.uplinks[0].rx_mode, RxMode::kInterrupt);
  EXPECT_THAT(c.warnings,
              ElementsAre("CALICOVPP_RX_MODE=polling is overridden by "
                          "CALICOVPP_INTERFACES: uplinkInterfaces[0].rxMode=interrupt"));
}

TEST(ManagerEnvCombined, LegacyKnobsWithoutInterfaceFillTheMainUplink) {
  ManagerConfig c = Parse({{"CALICOVPP_NATIVE_DRIVER", "af_xdp"},
                           {"CALICOVPP_RING_SIZE", "2048"},
                           {"CALICOVPP_INTERFACES", R"({"uplinkInterfaces": [
                               {"interfaceName": "eth0", "vppDriver": "af_packet"},
                               {"interfaceName": "eth1", "isMain": true}]})"}});
  ASSERT_EQ(c.uplinks.size(), 2u);
  EXPECT_EQ(c.uplinks[0].interface_name, "eth1");
  EXPECT_EQ(c.uplinks[0].driver, "af_xdp");
  EXPECT_EQ(c.uplinks[0].rx_queue_size, 2048u);
  EXPECT_EQ(c.uplinks[1].driver, "af_packet");
  EXPECT_EQ(c.uplinks[1].rx_queue_size, 0u);
  EXPECT_THAT(c.warnings, IsEmpty());
}

// ---- device checks and the real environment

TEST(ManagerEnv, ValidateAgainstDevice) {
  ManagerConfig c = Parse({{"CALICOVPP_INTERFACE", "eth0"}, {"CALICOVPP_RX_QUEUES", "8"}});
  EXPECT_TRUE(ValidateAgainstDevice(c.uplinks[0], 8, 8).ok());
  EXPECT_TRUE(ValidateAgainstDevice(c.uplinks[0], 0, 0).ok());  // unknown maximum
  Status st = ValidateAgainstDevice(c.uplinks[0], 4, 4);
  EXPECT_EQ(st.message(), "CALICOVPP_RX_QUEUES=8: eth0 has only 4 rx queues");
  c = Parse({{"CALICOVPP_INTERFACES",
              R"({"uplinkInterfaces": [{"interfaceName": "eth0", "numTxQueues": 2}]})"}});
  EXPECT_EQ(ValidateAgainstDevice(c.uplinks[0], 4, 1).message(),
            "CALICOVPP_INTERFACES: uplinkInterfaces[0].numTxQueues=2: eth0 has only 1 tx queue");
}

TEST(ManagerEnv, CurrentEnvironment) {
  ASSERT_EQ(setenv("UPLINKD_TEST_VAR", "a=b", 1), 0);
  std::map<std::string, std::string> env = CurrentEnvironment();
  EXPECT_EQ(env["UPLINKD_TEST_VAR"], "a=b");
  unsetenv("UPLINKD_TEST_VAR");
}

}  // namespace
}  // namespace uplinkd
