// The manager and the dataplane agree on an interface's limits (issue 10): whatever
// ParseManagerEnv accepts, the dataplane's parsers accept too, so the manager never changes the
// NIC for a value the dataplane then refuses; the first value past a limit is refused by every
// one of them, each naming where it came from. And the manager's create command, printed by the
// driver's formatter, parses back to the values the environment gave.

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cli/args.h"
#include "config/startup_config.h"
#include "drivers/af_packet/af_packet.h"
#include "drivers/interface_config.h"
#include "manager/env_config.h"

#ifdef UPLINKD_WITH_XDP
#include "drivers/af_xdp/af_xdp.h"
#endif

namespace uplinkd {
namespace {

using Env = std::map<std::string, std::string>;

Status EnvStatus(const Env& env) {
  Env with_uplink = env;
  with_uplink.emplace("CALICOVPP_INTERFACE", "eth0");
  return ParseManagerEnv(with_uplink).status();
}

Status AfPacket(std::vector<std::string> words) {
  words.insert(words.begin(), {"name", "eth0"});
  AfPacketArgs a;
  return ParseAfPacketCreateArgs(words, &a);
}

Status AfXdp(std::vector<std::string> words) {
#ifdef UPLINKD_WITH_XDP
  words.insert(words.begin(), {"host-if", "eth0"});
  AfXdpArgs a;
  return ParseAfXdpCreateArgs(words, &a);
#else
  (void)words;
  return Status::Ok();  // not built: nothing to disagree with
#endif
}

Status Dpdk(const std::string& option, uint64_t n) {
  return ParseStartupConfig(fmt::format("dpdk {{ dev 0000:00:08.0 {{ {} {} }} }}", option, n),
                            "startup.conf")
      .status();
}

// Numbers around every power of two up to twice the largest limit, plus the limits' neighbours.
std::vector<uint64_t> Candidates() {
  std::vector<uint64_t> out = {kMaxInterfaceQueues - 1u, kMaxInterfaceQueues + 1u, 1000, 5000};
  for (uint64_t p = 1; p <= 2u * kMaxRingSize; p *= 2) out.insert(out.end(), {p - 1, p, p + 1});
  return out;
}

TEST(InterfaceLimits, QueueCountsAcceptedByTheManagerAreAcceptedByTheDataplane) {
  int accepted = 0;
  for (uint64_t n : Candidates()) {
    std::string v = std::to_string(n);
    if (!EnvStatus({{"CALICOVPP_RX_QUEUES", v}}).ok()) continue;
    ++accepted;
    EXPECT_TRUE(AfPacket({"num-rx-queues", v, "num-tx-queues", v}).ok()) << n;
    EXPECT_TRUE(AfXdp({"num-rx-queues", v}).ok()) << n;
    EXPECT_TRUE(Dpdk("num-rx-queues", n).ok()) << n;
    EXPECT_TRUE(Dpdk("num-tx-queues", n).ok()) << n;
  }
  EXPECT_GT(accepted, 5);  // the loop must have compared something
}

TEST(InterfaceLimits, OnePastTheQueueLimitIsRefusedByAllNamingTheSource) {
  const uint64_t n = kMaxInterfaceQueues + 1u;
  EXPECT_EQ(EnvStatus({{"CALICOVPP_RX_QUEUES", "65"}}).message(),
            "CALICOVPP_RX_QUEUES=65: must be at most 64");
  EXPECT_EQ(EnvStatus({{"CALICOVPP_INTERFACES",
                        R"({"uplinkInterfaces": [{"interfaceName": "eth1", "vppDriver": "af_packet",
                            "numTxQueues": 65}]})"}})
                .message(),
            "CALICOVPP_INTERFACES: uplinkInterfaces[0].numTxQueues=65: must be at most 64");
  EXPECT_EQ(AfPacket({"num-rx-queues", "65"}).message(), "num-rx-queues=65: must be at most 64");
  EXPECT_EQ(AfPacket({"num-tx-queues", "65"}).message(), "num-tx-queues=65: must be at most 64");
#ifdef UPLINKD_WITH_XDP
  EXPECT_EQ(AfXdp({"num-rx-queues", "65"}).message(), "num-rx-queues=65: must be at most 64");
#endif
  EXPECT_EQ(Dpdk("num-rx-queues", n).message(),
            "startup.conf:1: num-rx-queues=65: must be at most 64");
}

TEST(InterfaceLimits, RingSizesAcceptedByTheManagerAreAcceptedByTheDataplane) {
  int accepted = 0;
  for (uint64_t n : Candidates()) {
    std::string v = std::to_string(n);
    if (!EnvStatus({{"CALICOVPP_RING_SIZE", v}}).ok()) {
      // Nor in the JSON form: one rule for both.
      EXPECT_FALSE(EnvStatus({{"CALICOVPP_INTERFACES",
                               fmt::format(R"({{"uplinkInterfaces": [{{"interfaceName": "eth0",
                                               "rxQueueSize": {}}}]}})",
                                           n)}})
                       .ok())
          << n;
      continue;
    }
    ++accepted;
    EXPECT_TRUE(AfPacket({"rx-size", v, "tx-size", v}).ok()) << n;
    EXPECT_TRUE(AfXdp({"rx-queue-size", v, "tx-queue-size", v}).ok()) << n;
    EXPECT_TRUE(Dpdk("num-rx-desc", n).ok()) << n;
    EXPECT_TRUE(Dpdk("num-tx-desc", n).ok()) << n;
  }
  EXPECT_EQ(accepted, 10);  // 64, 128, ..., 32768
}

TEST(InterfaceLimits, OnePastTheRingLimitIsRefusedByAllNamingTheSource) {
  for (uint64_t n : {uint64_t{kMaxRingSize} + 1, uint64_t{kMaxRingSize} * 2}) {
    std::string v = std::to_string(n);
    std::string why = n == kMaxRingSize * 2 ? "must be at most 32768" : "not a power of two";
    EXPECT_EQ(EnvStatus({{"CALICOVPP_RING_SIZE", v}}).message(),
              fmt::format("CALICOVPP_RING_SIZE={}: {}", n, why));
    EXPECT_EQ(AfPacket({"rx-size", v}).message(),
              fmt::format("rx-size={}: must be at most 32768", n));
#ifdef UPLINKD_WITH_XDP
    EXPECT_EQ(AfXdp({"tx-queue-size", v}).message(), fmt::format("tx-queue-size={}: {}", n, why));
#endif
    EXPECT_EQ(Dpdk("num-tx-desc", n).message(),
              fmt::format("startup.conf:1: num-tx-desc={}: must be at most 32768", n));
  }
}

// What Manager::ConfigureDataplane sends for an af_packet uplink: the env's values, formatted
// by the driver's formatter, joined as a CLI line, tokenized and parsed as the dataplane does.
TEST(InterfaceLimits, ManagerCreateCommandParsesBackToTheEnvironmentsValues) {
  Result<ManagerConfig> c = ParseManagerEnv(
      {{"CALICOVPP_INTERFACES",
        R"({"uplinkInterfaces": [{"interfaceName": "eth0", "vppDriver": "af_packet",
            "numRxQueues": 64, "numTxQueues": 3, "rxQueueSize": 32768, "txQueueSize": 64}]})"}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  const UplinkSpec& uplink = c->uplinks[0];

  std::string line = JoinCliWords(FormatAfPacketCreateArgs(AfPacketArgsFor("eth0", uplink)));
  EXPECT_EQ(line, "name eth0 num-rx-queues 64 num-tx-queues 3 rx-size 32768 tx-size 64");
  Result<std::vector<std::string>> words = TokenizeCliLine(line);
  ASSERT_TRUE(words.ok());
  AfPacketArgs parsed;
  ASSERT_TRUE(ParseAfPacketCreateArgs(*words, &parsed).ok());
  EXPECT_EQ(parsed.num_rx_queues, uplink.num_rx_queues);
  EXPECT_EQ(parsed.num_tx_queues, uplink.num_tx_queues);
  EXPECT_EQ(parsed.rx_size, uplink.rx_queue_size);
  EXPECT_EQ(parsed.tx_size, uplink.tx_queue_size);

#ifdef UPLINKD_WITH_XDP
  line = JoinCliWords(FormatAfXdpCreateArgs(AfXdpArgsFor("eth0", uplink)));
  EXPECT_EQ(line, "host-if eth0 num-rx-queues 64 rx-queue-size 32768 tx-queue-size 64");
  words = TokenizeCliLine(line);
  ASSERT_TRUE(words.ok());
  AfXdpArgs xdp;
  ASSERT_TRUE(ParseAfXdpCreateArgs(*words, &xdp).ok());
  EXPECT_EQ(xdp.num_rx_queues, uplink.num_rx_queues);
  EXPECT_EQ(xdp.rx_queue_size, uplink.rx_queue_size);
  EXPECT_EQ(xdp.tx_queue_size, uplink.tx_queue_size);
#endif
}

}  // namespace
}  // namespace uplinkd
