// `uplinkd manager` for real: takes over a sandbox "node" namespace's eth0, keeps the node
// reachable through the host tap, and restores it exactly (compared as `ip -j` JSON).
//
//   node ns [eth0 198.18.40.2/24, 2001:db8:40::2/64; default routes + a static route]
//     ==veth== [peer0 198.18.40.1, 2001:db8:40::1; lo 198.19.1.1, 198.19.2.1] peer ns
// The veth has 4 queues, 1 in use (ethtool channels), like a multi-queue NIC set to one.
// Each lifecycle case runs with af_packet, af_xdp and dpdk (the template's vdev
// net_af_packet0,iface=eth0: the PCI path needs the virtual node).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/rig/rig.h"
#ifdef UPLINKD_TEST_AF_XDP
#include "tests/common/xdp_pass.h"
#endif

namespace uplinkd::rig {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::string KernelRelease() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

bool KernelAtLeast(int major, int minor) {
  int have_major = 0, have_minor = 0;
  if (std::sscanf(KernelRelease().c_str(), "%d.%d", &have_major, &have_minor) != 2) return false;
  return have_major > major || (have_major == major && have_minor >= minor);
}

// Waits (bounded) until no address of eth0 is still in IPv6 duplicate address detection, so
// that two pictures of the node compare settled states.
void WaitAddressesSettled(Netns& node) {
  for (int i = 0; i < 100; ++i) {
    CommandResult r = node.Exec({"ip", "addr", "show", "dev", "eth0", "tentative"});
    if (r.ok() && r.output.find("inet") == std::string::npos) return;
    usleep(50000);
  }
  ADD_FAILURE() << "eth0 still has tentative addresses after 5 s";
}

// The node's network as `ip -j` shows it, normalised only where the kernel legitimately
// differs run to run (address lifetimes count down; nothing else is dropped).
json NodeState(Netns& node) {
  WaitAddressesSettled(node);
  auto run = [&](std::vector<std::string> argv) {
    CommandResult r = node.Exec(argv);
    EXPECT_TRUE(r.ok()) << JoinArgv(argv) << ": " << r.output;
    json j = json::parse(r.output, nullptr, false);
    return j.is_discarded() ? json() : j;
  };
  json link = run({"ip", "-j", "-d", "link", "show", "dev", "eth0"});
  CommandResult channels = node.Exec({"ethtool", "-l", "eth0"});
  EXPECT_TRUE(channels.ok()) << channels.output;
  json addr = run({"ip", "-j", "addr", "show", "dev", "eth0"});
  for (auto& l : addr) {
    for (auto& a : l["addr_info"]) {
      a.erase("valid_life_time");
      a.erase("preferred_life_time");
    }
  }
  json routes = json::array();
  for (const char* family : {"-4", "-6"}) {
    json r = run({"ip", family, "-j", "route", "show", "table", "all"});
    for (auto& route : r) routes.push_back(route);
  }
  std::vector<std::string> sorted;
  for (auto& r : routes) sorted.push_back(r.dump());
  std::sort(sorted.begin(), sorted.end());
  return json{{"link", link}, {"addr", addr}, {"routes", sorted}, {"channels", channels.output}};
}

class ManagerTest : public testing::Test {
 protected:
  void SetUp() override {
    UPLINKD_RIG_REQUIRE_NETNS();
    node_ = Netns::Create("mn");
    peer_ = Netns::Create("mp");
    dir_ = TempDir::Create();
    ASSERT_TRUE(node_ && peer_ && dir_);
    ASSERT_TRUE(peer_->ExecOrFail({"sysctl", "-qw", "net.ipv6.conf.default.router_solicitations=0"}));
    VethOptions veth;
    veth.name_a = "eth0";
    veth.name_b = "peer0";
    veth.queues = 4;
    ASSERT_TRUE(CreateVeth(*node_, *peer_, veth).ok());
    ASSERT_TRUE(node_->ExecOrFail({"ethtool", "-L", "eth0", "rx", "1", "tx", "1"}));
    ASSERT_TRUE(node_->AddAddress("eth0", "198.18.40.2/24"));
    // With duplicate address detection, as on a real node (AddAddress would add it `nodad`).
    ASSERT_TRUE(node_->Ip({"-6", "addr", "add", "2001:db8:40::2/64", "dev", "eth0"}));
    ASSERT_TRUE(peer_->AddAddress("peer0", "198.18.40.1/24"));
    ASSERT_TRUE(peer_->AddAddress("peer0", "2001:db8:40::1/64"));
    ASSERT_TRUE(peer_->AddAddress("lo", "198.19.1.1/32"));
    ASSERT_TRUE(peer_->AddAddress("lo", "198.19.2.1/32"));
    ASSERT_TRUE(peer_->ExecOrFail({"sysctl", "-qw", "net.ipv4.ip_forward=1"}));
    ASSERT_TRUE(node_->AddRoute("default", "198.18.40.1", "eth0"));
    ASSERT_TRUE(node_->ExecOrFail({"ip", "-6", "route", "add", "default", "via", "2001:db8:40::1",
                                   "dev", "eth0"}));
    ASSERT_TRUE(node_->AddRoute("198.19.1.0/24", "198.18.40.1", "eth0"));
    before_ = NodeState(*node_);
    netns_name_ = UniqueName("mdp");
  }

  std::vector<std::string> Env(const std::string& driver, std::string extra_conf = "") {
    // dpdk drives the veth through a vdev of the template (no hugepages here: the manager adds
    // no-hugetlb and iova-mode va itself).
    if (driver == "dpdk") extra_conf += "\ndpdk { vdev net_af_packet0,iface=eth0 }\n";
    std::vector<std::string> env = {
        "CALICOVPP_INTERFACE=eth0",
        "UPLINKD_STATE_FILE=" + dir_->Path("state.json"),
        "UPLINKD_RUN_DIR=" + dir_->path(),
        "UPLINKD_DATAPLANE_NETNS=" + netns_name_,
        "CALICOVPP_CONFIG_TEMPLATE=" +
            fmt::format("unix {{ nodaemon cli-listen {} }}\nbuffers {{ buffers-per-numa 8192 }}\n{}",
                        dir_->Path("cli.sock"), extra_conf),
    };
    if (!driver.empty()) env.push_back("CALICOVPP_NATIVE_DRIVER=" + driver);
    return env;
  }

  // The manager in the node's network namespace but the host's mount namespace (nsenter, not
  // `ip netns exec`), as on a real node: its named dataplane netns outlives it.
  std::unique_ptr<ChildProcess> StartManager(const std::vector<std::string>& env,
                                             const std::string& log_name = "manager.log") {
    return ChildProcess::Start(
        {"nsenter", "--net=/run/netns/" + node_->name(), UplinkdBinary(), "manager"},
        ChildOptions{.netns = nullptr, .log_path = dir_->Path(log_name), .env = env});
  }

  // Waits until the manager says the node is reachable through the tap.
  bool WaitTakenOver(ChildProcess& manager, milliseconds timeout = milliseconds(30000)) {
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      if (manager.Log().find("node reachable through the host tap") != std::string::npos) return true;
      if (!manager.Running()) break;
      usleep(20000);
    }
    ADD_FAILURE() << "no takeover; manager log:\n" << manager.Log();
    return false;
  }

  void ExpectNodeConnected() {
    EXPECT_EQ(Ping(*node_, "198.18.40.1", 3).received, 3);
    EXPECT_EQ(Ping(*node_, "2001:db8:40::1", 3).received, 3);
    EXPECT_EQ(Ping(*node_, "198.19.1.1", 2).received, 2);  // the static route
    EXPECT_EQ(Ping(*node_, "198.19.2.1", 2).received, 2);  // the default route
    TransferResult t = TcpTransfer(*node_, *peer_, "198.18.40.1", 5101, 20 * 1000 * 1000,
                                   std::chrono::seconds(60));
    EXPECT_TRUE(t.ok) << t.error;
  }

  // The dataplane's name for the uplink: af_packet's host-eth0, af_xdp's eth0, dpdk's vdev.
  static std::string UplinkInterface(const std::string& driver) {
    if (driver == "dpdk") return "net_af_packet0";
    return driver == "af_packet" ? "host-eth0" : "eth0";
  }

  // AF_XDP frames and DPDK's af_packet PMD carry no offload metadata: what the peer sends must be
  // finished frames, as from a real NIC (see AfXdpXconnectTest). af_packet takes the veth's
  // partial checksums.
  void PrepareFor(const std::string& driver) {
    if (driver == "af_xdp" || driver == "dpdk") {
      ASSERT_TRUE(peer_->ExecOrFail({"ethtool", "-K", "peer0", "tx", "off"}));
    }
  }

  std::string Ctl(const std::vector<std::string>& words) {
    std::vector<std::string> argv = {UplinkctlBinary(), "-s", dir_->Path("cli.sock"), "--json"};
    argv.insert(argv.end(), words.begin(), words.end());
    CommandResult r = RunCommand(argv);
    EXPECT_TRUE(r.ok()) << r.output;
    return r.output;
  }

  json UplinkCounters(const std::string& driver = "af_packet") {
    CommandResult r = RunCommand({UplinkctlBinary(), "-s", dir_->Path("cli.sock"), "--json",
                                  "show", "interface", UplinkInterface(driver)});
    EXPECT_TRUE(r.ok()) << r.output;
    json j = json::parse(r.output, nullptr, false);
    return j.is_array() && !j.empty() ? j[0]["counters"] : json::object();
  }

  void ExpectRestored() {
    json after = NodeState(*node_);
    EXPECT_EQ(after, before_) << "before:\n" << before_.dump(1) << "\nafter:\n" << after.dump(1);
    EXPECT_FALSE(NetnsListed(netns_name_)) << "dataplane netns left behind";
    EXPECT_FALSE(std::ifstream(dir_->Path("state.json")).good()) << "state file left behind";
    EXPECT_EQ(Ping(*node_, "198.18.40.1", 2).received, 2);  // and it works
  }

  // Prints the manager's timing lines (takeover and restore), for the record.
  static void PrintTimings(ChildProcess& manager) {
    std::string log = manager.Log();
    size_t pos = 0;
    while (pos < log.size()) {
      size_t end = log.find('\n', pos);
      if (end == std::string::npos) end = log.size();
      std::string line = log.substr(pos, end - pos);
      if (line.find(" ms") != std::string::npos) std::printf("  [manager] %s\n", line.c_str());
      pos = end + 1;
    }
  }

  pid_t DataplanePid() {
    json state = json::parse(ReadFileOrEmpty(dir_->Path("state.json")), nullptr, false);
    return state.is_object() ? state.value("dataplane_pid", 0) : 0;
  }

  std::unique_ptr<Netns> node_, peer_;
  std::unique_ptr<TempDir> dir_;
  json before_;
  std::string netns_name_;
};

class ManagerDriverTest : public ManagerTest, public testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    ManagerTest::SetUp();
    if (!HasFatalFailure()) PrepareFor(GetParam());
  }
};

TEST_P(ManagerDriverTest, TakeoverThenSigtermRestoresExactly) {
  auto manager = StartManager(Env(GetParam()));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  ExpectNodeConnected();
  json c = UplinkCounters(GetParam());
  // The 20 MB transfer left through the uplink (af_packet: as GSO super-frames, few packets;
  // af_xdp: segmented by uplinkd) and its ACKs came back in.
  EXPECT_GE(c.value("tx_bytes", uint64_t{0}), uint64_t{20 * 1000 * 1000}) << c.dump();
  EXPECT_GT(c.value("rx_packets", uint64_t{0}), uint64_t{50}) << c.dump();
  EXPECT_EQ(c.value("tx_offload", uint64_t{0}), 0u) << c.dump();
  if (std::string(GetParam()) == "af_xdp") {
    // Parked in the dataplane's netns: promiscuous, our XDP program attached.
    CommandResult link = RunCommand({"ip", "-n", netns_name_, "-d", "link", "show", "eth0"});
    EXPECT_NE(link.output.find("PROMISC"), std::string::npos) << link.output;
    EXPECT_NE(link.output.find("uplinkd_xsk"), std::string::npos) << link.output;
  }
  manager->Signal(SIGTERM);
  ExitStatus st = manager->Wait(std::chrono::seconds(20));
  EXPECT_TRUE(st.exited && st.code == 0) << st.ToString() << "\n" << manager->Log();
  PrintTimings(*manager);
  ExpectRestored();
}

TEST_P(ManagerDriverTest, DataplaneKilledDuringTransferRestoresTheNode) {
  auto manager = StartManager(Env(GetParam()));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  pid_t dp = DataplanePid();
  ASSERT_GT(dp, 0);
  std::thread killer([dp] {
    usleep(150000);
    kill(dp, SIGKILL);
  });
  // The transfer breaks when the dataplane dies: that is the point; it must end in time.
  TransferResult t = TcpTransfer(*node_, *peer_, "198.18.40.1", 5102, 500ull * 1000 * 1000,
                                 std::chrono::seconds(20));
  killer.join();
  ExitStatus st = manager->Wait(std::chrono::seconds(20));
  EXPECT_TRUE(st.exited && st.code == 1) << st.ToString() << "\n" << manager->Log();
  EXPECT_NE(manager->Log().find("restored"), std::string::npos) << manager->Log();
  PrintTimings(*manager);
  ExpectRestored();  // no XDP program left, MTU, channels and promisc back
}

TEST_P(ManagerDriverTest, ManagerKilledThenNextStartRestoresFirst) {
  auto manager = StartManager(Env(GetParam()));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  manager->Signal(SIGKILL);
  manager->Wait(std::chrono::seconds(10));
  // The node is broken now (its eth0 is parked in the dataplane's netns); a new manager fixes it.
  auto second = StartManager(Env(GetParam()), "manager2.log");
  ASSERT_TRUE(second);
  ASSERT_TRUE(WaitTakenOver(*second));
  EXPECT_NE(second->Log().find("from an earlier run"), std::string::npos) << second->Log();
  ExpectNodeConnected();
  second->Signal(SIGTERM);
  EXPECT_EQ(second->Wait(std::chrono::seconds(20)).code, 0) << second->Log();
  ExpectRestored();
}

TEST_P(ManagerDriverTest, PartialStateAfterACrashIsRestored) {
  auto manager = StartManager(Env(GetParam()));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  manager->Signal(SIGKILL);
  manager->Wait(std::chrono::seconds(10));
  // Make it worse, as a crash in the middle of pre-configuration could: the parked uplink is
  // down, renamed, promiscuous and has another MTU.
  std::vector<std::string> in_dp = {"ip", "-n", netns_name_, "link", "set", "dev", "eth0"};
  for (std::vector<std::string> change : {std::vector<std::string>{"down"},
                                          std::vector<std::string>{"mtu", "1400"},
                                          std::vector<std::string>{"promisc", "on"},
                                          std::vector<std::string>{"name", "parked9"}}) {
    std::vector<std::string> argv = in_dp;
    argv.insert(argv.end(), change.begin(), change.end());
    ASSERT_TRUE(RunOrFail(argv));
    if (change[0] == "name") in_dp[6] = "parked9";
  }
  // Only the state file knows where eth0 is: a new manager restores, then takes over again.
  auto second = StartManager(Env(GetParam()), "manager2.log");
  ASSERT_TRUE(second);
  ASSERT_TRUE(WaitTakenOver(*second));
  EXPECT_EQ(Ping(*node_, "198.18.40.1", 2).received, 2);
  second->Signal(SIGTERM);
  EXPECT_EQ(second->Wait(std::chrono::seconds(20)).code, 0) << second->Log();
  ExpectRestored();
}

// 200 MB each way through the node path (host tap <-> engine <-> uplink), SHA-256 compared at
// both ends: what the offloads do on the way (GSO super-frames whole or segmented, checksums
// completed, segments coalesced toward the tap) never changes a byte. `peer_offloads`: the
// peer's TSO and checksum offload on (af_packet then carries the veth's super-frames whole) or
// off (MTU-size frames with finished checksums, as from a wire).
void ExpectExactTransfersEachWay(Netns& node, Netns& peer, uint16_t port) {
  constexpr uint64_t kBytes = 200ull * 1000 * 1000;
  TransferResult out = TcpTransfer(node, peer, "198.18.40.1", port, kBytes,
                                   std::chrono::seconds(120), TransferOptions{.seed = 11});
  EXPECT_TRUE(out.ok) << "node -> peer: " << out.error;
  EXPECT_EQ(out.sent_digest, out.received_digest);
  TransferResult in = TcpTransfer(peer, node, "198.18.40.2", port + 1, kBytes,
                                  std::chrono::seconds(120), TransferOptions{.seed = 12});
  EXPECT_TRUE(in.ok) << "peer -> node: " << in.error;
  EXPECT_EQ(in.sent_digest, in.received_digest);
  std::printf("  [transfer] node -> peer %.2f Gbit/s, peer -> node %.2f Gbit/s (200 MB each, "
              "SHA-256 equal)\n", out.gbit_per_second, in.gbit_per_second);
}

TEST_P(ManagerDriverTest, TwoHundredMegabytesEachWayArriveExactly) {
  auto manager = StartManager(Env(GetParam()));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  ExpectExactTransfersEachWay(*node_, *peer_, 5131);
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ExpectRestored();
}

// af_packet with a peer that sends MTU-size frames with finished checksums (no TSO), as a host
// across a wire does: the receive side then carries many small segments toward the tap.
TEST_F(ManagerTest, TwoHundredMegabytesEachWayArriveExactlyAfPacketFromAWire) {
  ASSERT_TRUE(peer_->ExecOrFail({"ethtool", "-K", "peer0", "tx", "off"}));
  auto manager = StartManager(Env("af_packet"));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  ExpectExactTransfersEachWay(*node_, *peer_, 5141);
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ExpectRestored();
}

#if defined(UPLINKD_TEST_AF_XDP) && defined(UPLINKD_TEST_DPDK)
INSTANTIATE_TEST_SUITE_P(Drivers, ManagerDriverTest,
                         testing::Values("af_packet", "af_xdp", "dpdk"),
                         [](const auto& p) { return std::string(p.param); });
#elif defined(UPLINKD_TEST_AF_XDP)
INSTANTIATE_TEST_SUITE_P(Drivers, ManagerDriverTest, testing::Values("af_packet", "af_xdp"),
                         [](const auto& p) { return std::string(p.param); });
#endif

#ifdef UPLINKD_TEST_DPDK
// dpdk on an uplink with no PCI id and no vdev for it in the template: refused before anything
// changes, saying why; the node keeps its interface exactly as it was.
TEST_F(ManagerTest, DpdkWithoutPciIdOrVdevIsRefused) {
  std::vector<std::string> env = Env("dpdk");
  for (std::string& e : env) {
    if (e.rfind("CALICOVPP_CONFIG_TEMPLATE=", 0) == 0) e = e.substr(0, e.find("\ndpdk {"));
  }
  auto manager = StartManager(env);
  ASSERT_TRUE(manager);
  ExitStatus st = manager->Wait(std::chrono::seconds(30));
  EXPECT_TRUE(st.exited && st.code == 1) << st.ToString() << "\n" << manager->Log();
  EXPECT_NE(manager->Log().find("eth0 is not a PCI device"), std::string::npos) << manager->Log();
  EXPECT_EQ(manager->Log().find("parking"), std::string::npos) << manager->Log();
  ExpectRestored();
}

// The dpdk stanza the manager runs: the vdev kept, no-hugetlb and iova-mode va added where no
// hugepages are free; the uplink is the vdev's port.
TEST_F(ManagerTest, DpdkRendersTheStanzaAndDrivesTheUplink) {
  PrepareFor("dpdk");
  auto manager = StartManager(Env("dpdk"));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  std::string conf = ReadFileOrEmpty(dir_->Path("startup.conf"));
  EXPECT_NE(conf.find("vdev net_af_packet0,iface=eth0"), std::string::npos) << conf;
  std::string meminfo = ReadFileOrEmpty("/proc/meminfo");
  if (meminfo.find("HugePages_Free:        0") != std::string::npos) {
    EXPECT_NE(conf.find("iova-mode va"), std::string::npos) << conf;
    EXPECT_NE(conf.find("buffers {\n  buffers-per-numa 8192\n  no-hugetlb"), std::string::npos)
        << conf;
  }
  json hw = json::parse(Ctl({"show", "hardware-interfaces", "net_af_packet0"}), nullptr, false);
  ASSERT_TRUE(hw.is_array() && !hw.empty()) << hw.dump();
  EXPECT_EQ(hw[0]["driver"], "dpdk");
  ExpectNodeConnected();
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ExpectRestored();
}
#endif

#ifdef UPLINKD_TEST_AF_XDP

// Someone else's XDP program on the uplink: auto leaves af_xdp out (saying why) and takes the
// node with af_packet; asked for explicitly, af_xdp refuses and the node keeps its interface.
// The program stays attached throughout.
TEST_F(ManagerTest, ForeignXdpProgramMakesAutoUseAfPacket) {
  int prog_fd = -1;
  ASSERT_TRUE(node_->RunIn([&] {
    prog_fd = testing_util::AttachForeignXdpPass("eth0", "foreign_pass");
  }).ok());
  ASSERT_GE(prog_fd, 0) << std::strerror(errno);
  before_ = NodeState(*node_);
  ASSERT_NE(before_["link"].dump().find("foreign_pass"), std::string::npos) << before_.dump();

  auto manager = StartManager(Env(""));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  std::string log = manager->Log();
  EXPECT_EQ(log.find("trying driver af_xdp"), std::string::npos) << log;
  EXPECT_NE(log.find("trying driver af_packet"), std::string::npos) << log;
  ExpectNodeConnected();
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ExpectRestored();

  auto explicit_xdp = StartManager(Env("af_xdp"), "manager2.log");
  ASSERT_TRUE(explicit_xdp);
  ExitStatus st = explicit_xdp->Wait(std::chrono::seconds(30));
  EXPECT_TRUE(st.exited && st.code == 1) << st.ToString() << "\n" << explicit_xdp->Log();
  EXPECT_NE(explicit_xdp->Log().find("already attached: 'foreign_pass'"), std::string::npos)
      << explicit_xdp->Log();
  ExpectRestored();
  close(prog_fd);
}

// A dataplane on a kernel without XDP links (< 5.9) attaches through netlink, and its program
// outlives it. Here: kill manager and dataplane, then leave an `uplinkd_xsk` program attached to
// the parked uplink by netlink, as such a dataplane would; the next manager's restore removes it
// (only ours: a foreign one is left, see ForeignXdpProgramMakesAutoUseAfPacket).
TEST_F(ManagerTest, RestoreDetachesAnXdpProgramADeadDataplaneLeft) {
  PrepareFor("af_xdp");
  auto manager = StartManager(Env("af_xdp"));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  pid_t dp = DataplanePid();
  manager->Signal(SIGKILL);
  manager->Wait(std::chrono::seconds(10));
  for (int i = 0; i < 200 && dp > 0 && kill(dp, 0) == 0; ++i) usleep(10000);  // PDEATHSIG
  int prog_fd = -1;
  std::thread in_dp([&] {
    int fd = open(("/run/netns/" + netns_name_).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && setns(fd, CLONE_NEWNET) == 0) {
      prog_fd = testing_util::AttachForeignXdpPass("eth0", "uplinkd_xsk");
    }
    if (fd >= 0) close(fd);
  });
  in_dp.join();
  ASSERT_GE(prog_fd, 0) << std::strerror(errno);
  close(prog_fd);  // attached by netlink: it stays
  CommandResult parked = RunCommand({"ip", "-n", netns_name_, "link", "show", "eth0"});
  ASSERT_NE(parked.output.find("xdp"), std::string::npos) << parked.output;

  auto second = StartManager(Env("af_packet"), "manager2.log");
  ASSERT_TRUE(second);
  ASSERT_TRUE(WaitTakenOver(*second));
  EXPECT_NE(second->Log().find("detached uplinkd's XDP program"), std::string::npos)
      << second->Log();
  second->Signal(SIGTERM);
  EXPECT_EQ(second->Wait(std::chrono::seconds(20)).code, 0) << second->Log();
  ExpectRestored();  // no "xdp" on the link: before_ had none
}

// af_packet fails to start for real (the template disables its plugin, which only the dataplane
// finds out): the attempt is undone completely and auto goes on to af_xdp, its next choice on a
// veth.
TEST_F(ManagerTest, AfPacketStartFailureFallsBackToAfXdp) {
  PrepareFor("af_xdp");
  auto manager = StartManager(
      Env("", "plugins { plugin af_packet_plugin.so { disable } }\n"));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  std::string log = manager->Log();
  size_t failed = log.find("driver af_packet failed");
  size_t next = log.find("trying driver af_xdp");
  EXPECT_NE(failed, std::string::npos) << log;
  EXPECT_NE(log.find("af_packet_plugin.so is disabled"), std::string::npos) << log;
  EXPECT_NE(next, std::string::npos) << log;
  EXPECT_LT(failed, next) << log;
  EXPECT_NE(log.find("taken over with af_xdp"), std::string::npos) << log;
  ExpectNodeConnected();
  json c = UplinkCounters("af_xdp");
  EXPECT_GE(c.value("tx_bytes", uint64_t{0}), uint64_t{20 * 1000 * 1000}) << c.dump();
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ExpectRestored();
}

// A jumbo uplink, 9000-byte MTU: with multi-buffer (Linux >= 6.6) it keeps its MTU and
// 9000-byte packets pass whole; without it (an older kernel, or
// UPLINKD_AF_XDP_MULTI_BUFFER=0 as for a NIC driver lacking it) the MTU is lowered to 3072 for the
// run (uplink and tap) and comes back at exit.
class ManagerJumboTest : public ManagerTest, public testing::WithParamInterface<bool> {};

TEST_P(ManagerJumboTest, AfXdpJumboMtu) {
  const bool multi_buffer = GetParam();
  if (multi_buffer && !KernelAtLeast(6, 6)) {
    GTEST_SKIP() << "multi-buffer AF_XDP needs Linux >= 6.6; this kernel is " << KernelRelease()
                 << " (its capped path is AfXdpJumboMtu/capped)";
  }
  PrepareFor("af_xdp");
  ASSERT_TRUE(node_->SetMtu("eth0", 9000));
  ASSERT_TRUE(peer_->SetMtu("peer0", 9000));
  before_ = NodeState(*node_);
  std::vector<std::string> env = Env("af_xdp");
  if (!multi_buffer) {
    // Buffers large enough for 3072-byte MTU frames in one piece.
    env = Env("af_xdp", "buffers { default data-size 3264 }\n");
    env.push_back("UPLINKD_AF_XDP_MULTI_BUFFER=0");
  }
  auto manager = StartManager(env);
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  uint32_t want = multi_buffer ? 9000 : 3072;
  CommandResult parked = RunCommand({"ip", "-n", netns_name_, "link", "show", "eth0"});
  EXPECT_NE(parked.output.find(fmt::format("mtu {} ", want)), std::string::npos) << parked.output;
  CommandResult tap = node_->Exec({"ip", "link", "show", "eth0"});
  EXPECT_NE(tap.output.find(fmt::format("mtu {} ", want)), std::string::npos) << tap.output;
  // The largest unfragmented IPv4 packet the run's MTU allows, both ways.
  std::string size = std::to_string(want - 28);
  CommandResult ping = node_->Exec({"ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-M", "do",
                                    "-s", size, "198.18.40.1"}, std::chrono::seconds(10));
  EXPECT_TRUE(ping.ok()) << ping.output << "\n" << manager->Log();
  ExpectNodeConnected();
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ExpectRestored();
}

INSTANTIATE_TEST_SUITE_P(MultiBuffer, ManagerJumboTest, testing::Values(true, false),
                         [](const auto& p) { return p.param ? "multi_buffer" : "capped"; });

// CALICOVPP_RX_QUEUES=2: the uplink's rx channels go from 1 to 2 for two AF_XDP sockets, and
// back to 1 at exit.
TEST_F(ManagerTest, AfXdpRxQueuesSetTheChannelCount) {
  PrepareFor("af_xdp");
  std::vector<std::string> env = Env("af_xdp");
  env.push_back("CALICOVPP_RX_QUEUES=2");
  auto manager = StartManager(env);
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  CommandResult ch = RunCommand({"ip", "netns", "exec", netns_name_, "ethtool", "-l", "eth0"});
  std::string current = ch.output.substr(ch.output.find("Current hardware settings"));
  EXPECT_NE(current.find("RX:\t\t2"), std::string::npos) << ch.output;
  json hw = json::parse(Ctl({"show", "hardware-interfaces", "eth0"}), nullptr, false);
  ASSERT_TRUE(hw.is_array() && !hw.empty()) << hw.dump();
  EXPECT_EQ(hw[0]["rx_queues"].size(), 2u) << hw.dump();
  ExpectNodeConnected();
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ExpectRestored();
}
#else
INSTANTIATE_TEST_SUITE_P(Drivers, ManagerDriverTest, testing::Values("af_packet"),
                         [](const auto& p) { return std::string(p.param); });
#endif

// A veth has no AF_XDP zero-copy (its xdp-features say so), so auto takes af_packet, which
// carries the node's GSO super-frames whole; af_xdp stays next in line (and is covered by
// naming it: ManagerDriverTest, AfPacketStartFailureFallsBackToAfXdp).
TEST_F(ManagerTest, AutoChoosesAfPacketOnAVethAndRestores) {
  auto manager = StartManager(Env(""));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  std::string log = manager->Log();
  EXPECT_NE(log.find("trying driver af_packet"), std::string::npos) << log;
  EXPECT_NE(log.find("taken over with af_packet"), std::string::npos) << log;
  EXPECT_EQ(log.find("trying driver af_xdp"), std::string::npos) << log;
#ifdef UPLINKD_TEST_AF_XDP
  EXPECT_NE(log.find("auto: trying af_packet (works on any interface), then af_xdp (AF_XDP "
                     "sockets on eth0; copy mode only (driver veth reports no XSK zero-copy in "
                     "xdp-features): ranked after af_packet, which carries GSO super-frames "
                     "whole)"),
            std::string::npos) << log;
#endif
  ExpectNodeConnected();
  json c = UplinkCounters("af_packet");
  EXPECT_GE(c.value("tx_bytes", uint64_t{0}), uint64_t{20 * 1000 * 1000}) << c.dump();
  EXPECT_GT(c.value("rx_packets", uint64_t{0}), uint64_t{50}) << c.dump();
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ExpectRestored();
}

TEST_F(ManagerTest, FailingDriverStartIsUndoneCompletely) {
  std::vector<std::string> env = Env("");
  env.push_back("CALICOVPP_CONFIG_EXEC_TEMPLATE=frobnicate the uplink");
  auto manager = StartManager(env);
  ASSERT_TRUE(manager);
  ExitStatus st = manager->Wait(std::chrono::seconds(30));
  EXPECT_TRUE(st.exited && st.code == 1) << st.ToString() << "\n" << manager->Log();
  EXPECT_NE(manager->Log().find("driver af_packet failed"), std::string::npos) << manager->Log();
  EXPECT_NE(manager->Log().find("no driver could take eth0"), std::string::npos) << manager->Log();
  ExpectRestored();
}

TEST_F(ManagerTest, InvalidVariableChangesNothing) {
  std::vector<std::string> env = Env("af_packet");
  env.push_back("CALICOVPP_RING_SIZE=1000");
  auto manager = StartManager(env);
  ASSERT_TRUE(manager);
  ExitStatus st = manager->Wait(std::chrono::seconds(10));
  EXPECT_TRUE(st.exited && st.code == 2) << st.ToString();
  EXPECT_NE(manager->Log().find("CALICOVPP_RING_SIZE=1000"), std::string::npos) << manager->Log();
  ExpectRestored();
}

// Values the environment used to accept and the dataplane then refused, after the uplink was
// already parked: now the manager's check is the dataplane's (drivers/interface_config.h).
TEST_F(ManagerTest, ValueTheDataplaneWouldRefuseChangesNothing) {
  const std::pair<std::string, std::string> cases[] = {
      {"CALICOVPP_RX_QUEUES=65", "CALICOVPP_RX_QUEUES=65: must be at most 64"},
      {R"(CALICOVPP_INTERFACES={"uplinkInterfaces": [{"interfaceName": "eth0",)"
       R"( "numTxQueues": 65}]})",
       "uplinkInterfaces[0].numTxQueues=65: must be at most 64"},
  };
  for (const auto& [variable, message] : cases) {
    SCOPED_TRACE(variable);
    std::vector<std::string> env = Env("af_packet");
    env.push_back(variable);
    auto manager = StartManager(env);
    ASSERT_TRUE(manager);
    ExitStatus st = manager->Wait(std::chrono::seconds(10));
    EXPECT_TRUE(st.exited && st.code == 2) << st.ToString();
    EXPECT_NE(manager->Log().find(message), std::string::npos) << manager->Log();
    ExpectRestored();
  }
}

TEST_F(ManagerTest, MissingInterfaceChangesNothing) {
  std::vector<std::string> env = Env("af_packet");
  env[0] = "CALICOVPP_INTERFACE=eth9";
  auto manager = StartManager(env);
  ASSERT_TRUE(manager);
  ExitStatus st = manager->Wait(std::chrono::seconds(10));
  EXPECT_TRUE(st.exited && st.code == 2) << st.ToString();
  EXPECT_NE(manager->Log().find("eth9"), std::string::npos) << manager->Log();
  ExpectRestored();
}

TEST_F(ManagerTest, CheckPrintsTheDriverTableAndChangesNothing) {
  std::vector<std::string> argv = {"nsenter", "--net=/run/netns/" + node_->name(),
                                   "env"};
  for (const std::string& e : Env("")) argv.push_back(e);
  argv.push_back(UplinkdBinary());
  argv.push_back("manager");
  argv.push_back("--check");
  CommandResult r = RunCommand(argv);
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_NE(r.output.find("af_packet"), std::string::npos) << r.output;
#ifdef UPLINKD_TEST_AF_XDP
  EXPECT_NE(r.output.find("would try: af_packet af_xdp"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("copy mode only (driver veth reports no XSK zero-copy in xdp-features)"),
            std::string::npos) << r.output;
#else
  EXPECT_NE(r.output.find("would try: af_packet"), std::string::npos) << r.output;
#endif
  ExpectRestored();
}


// ---- Safety under faults (issue 10) ----

// Longest run of lost replies of `ping -i INTERVAL` output: consecutive icmp_seq numbers in
// 1..sent that never answered.
int LongestLoss(const std::string& output, int sent) {
  std::vector<bool> got(static_cast<size_t>(sent) + 1, false);
  size_t pos = 0;
  while ((pos = output.find("icmp_seq=", pos)) != std::string::npos) {
    pos += 9;
    int seq = std::atoi(output.c_str() + pos);
    if (seq >= 1 && seq <= sent) got[static_cast<size_t>(seq)] = true;
  }
  int longest = 0, run = 0;
  for (int seq = 1; seq <= sent; ++seq) {
    run = got[static_cast<size_t>(seq)] ? 0 : run + 1;
    longest = std::max(longest, run);
  }
  return longest;
}

int LinkIndexIn(Netns& ns, const std::string& ifname) {
  CommandResult r = ns.Exec({"ip", "-j", "link", "show", "dev", ifname});
  json j = json::parse(r.output, nullptr, false);
  return j.is_array() && !j.empty() ? j[0].value("ifindex", 0) : 0;
}

bool WaitForLog(ChildProcess& process, const std::string& text, milliseconds timeout) {
  auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (process.Log().find(text) != std::string::npos) return true;
    usleep(20000);
  }
  return process.Log().find(text) != std::string::npos;
}

class ManagerFaultTest : public ManagerTest {
 protected:
  // Takes the node over, then kills the manager (its dataplane dies with it), as a crash would.
  void TakeOverAndCrash(const std::string& driver = "af_packet") {
    auto manager = StartManager(Env(driver), "crashed.log");
    ASSERT_TRUE(manager);
    ASSERT_TRUE(WaitTakenOver(*manager));
    pid_t dp = DataplanePid();
    manager->Signal(SIGKILL);
    manager->Wait(std::chrono::seconds(10));
    for (int i = 0; i < 300 && dp > 0 && kill(dp, 0) == 0; ++i) usleep(10000);  // PDEATHSIG
  }

  // The uplink vanishes for good (a veth's pair goes with it), wherever it is parked.
  void RemoveParkedUplink() {
    ASSERT_TRUE(RunOrFail({"ip", "-n", netns_name_, "link", "del", "eth0"}));
  }

  // A new eth0/peer0 veth (as a CNI or a re-plugged NIC would bring), with addresses of its own.
  void PlugNewUplink() {
    VethOptions veth;
    veth.name_a = "eth0";
    veth.name_b = "peer0";
    ASSERT_TRUE(CreateVeth(*node_, *peer_, veth).ok());
    ASSERT_TRUE(node_->AddAddress("eth0", "198.18.40.2/24"));
    ASSERT_TRUE(peer_->AddAddress("peer0", "198.18.40.1/24"));
    ASSERT_TRUE(node_->AddRoute("default", "198.18.40.1", "eth0"));
  }

  std::vector<std::string> StateFilesAside() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_->path(), ec)) {
      std::string name = e.path().filename().string();
      if (name.rfind("state.json.failed-", 0) == 0) out.push_back(name);
    }
    return out;
  }
};

// Fault 1. The uplink vanished while parked and a new interface took its name: the next manager
// must not take that interface for its tap. It keeps its index and is taken over afresh.
TEST_F(ManagerFaultTest, AnInterfaceWithTheUplinksNameIsNeverDeleted) {
  TakeOverAndCrash();
  RemoveParkedUplink();
  PlugNewUplink();
  int new_index = LinkIndexIn(*node_, "eth0");
  ASSERT_GT(new_index, 0);
  before_ = NodeState(*node_);

  auto manager = StartManager(Env("af_packet"), "manager2.log");
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  std::string log = manager->Log();
  EXPECT_EQ(log.find("removing the host tap"), std::string::npos) << log;
  EXPECT_NE(log.find("is not uplinkd's host tap"), std::string::npos) << log;
  EXPECT_NE(log.find("is gone"), std::string::npos) << log;
  EXPECT_EQ(StateFilesAside().size(), 1u) << log;
  EXPECT_EQ(Ping(*node_, "198.18.40.1", 3).received, 3);
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ExpectRestored();
  EXPECT_EQ(LinkIndexIn(*node_, "eth0"), new_index);
}

// Fault 1, the closest lookalike: a tap with uplinkd's alias but not at the recorded index (a
// copy, a leftover of something else) is not ours either; a later explicit driver that cannot
// run (virtio here) stops the manager after its restore, before anything else.
TEST_F(ManagerFaultTest, ATapNotProvenOursIsNeverDeleted) {
  TakeOverAndCrash();
  RemoveParkedUplink();
  ASSERT_TRUE(node_->Ip({"tuntap", "add", "dev", "eth0", "mode", "tap"}));
  ASSERT_TRUE(node_->Ip({"link", "set", "dev", "eth0", "alias", "uplinkd host tap tap0 pid 1"}));
  int lookalike = LinkIndexIn(*node_, "eth0");
  ASSERT_GT(lookalike, 0);

  auto manager = StartManager(Env("virtio"), "manager2.log");
  ASSERT_TRUE(manager);
  ExitStatus st = manager->Wait(std::chrono::seconds(30));
  EXPECT_TRUE(st.exited && st.code == 1) << st.ToString() << "\n" << manager->Log();
  EXPECT_NE(manager->Log().find("is not uplinkd's host tap"), std::string::npos) << manager->Log();
  EXPECT_EQ(LinkIndexIn(*node_, "eth0"), lookalike);
  EXPECT_NE(node_->Exec({"ip", "link", "show", "eth0"}).output.find("uplinkd host tap tap0 pid 1"),
            std::string::npos);
  EXPECT_FALSE(NetnsListed(netns_name_));
  EXPECT_FALSE(std::ifstream(dir_->Path("state.json")).good());
}

// Fault 2. A state file whose uplink is gone: the next start removes what is ours, keeps the file
// aside and says the uplink is missing (exit 3); later starts are not blocked, and once an uplink
// is back it is taken over and restored as usual.
TEST_F(ManagerFaultTest, AStaleStateFileNeverBlocksLaterStarts) {
  TakeOverAndCrash();
  RemoveParkedUplink();
  auto second = StartManager(Env("af_packet"), "manager2.log");
  ASSERT_TRUE(second);
  ExitStatus st = second->Wait(std::chrono::seconds(30));
  EXPECT_TRUE(st.exited && st.code == 3) << st.ToString() << "\n" << second->Log();
  EXPECT_NE(second->Log().find("is missing"), std::string::npos) << second->Log();
  EXPECT_FALSE(NetnsListed(netns_name_));
  EXPECT_FALSE(std::ifstream(dir_->Path("state.json")).good());
  EXPECT_EQ(StateFilesAside().size(), 1u);
  EXPECT_FALSE(node_->HasLink("eth0"));

  auto third = StartManager(Env("af_packet"), "manager3.log");
  ASSERT_TRUE(third);
  st = third->Wait(std::chrono::seconds(30));
  EXPECT_TRUE(st.exited && st.code == 2) << st.ToString() << "\n" << third->Log();

  PlugNewUplink();
  before_ = NodeState(*node_);
  auto fourth = StartManager(Env("af_packet"), "manager4.log");
  ASSERT_TRUE(fourth);
  ASSERT_TRUE(WaitTakenOver(*fourth));
  EXPECT_EQ(Ping(*node_, "198.18.40.1", 3).received, 3);
  fourth->Signal(SIGTERM);
  EXPECT_EQ(fourth->Wait(std::chrono::seconds(20)).code, 0) << fourth->Log();
  ExpectRestored();
}

// Fault 2. A manager killed while creating the dataplane's netns leaves /run/netns/NAME as a
// bare file (created, not yet mounted). The next manager removes it and takes the node over.
TEST_F(ManagerFaultTest, AHalfMadeNetnsOfAKilledManagerIsRemoved) {
  // The state file such a manager leaves: its snapshot, nothing else done yet. Taken from a real
  // run (which is then stopped and restores the node), cut back to that instant.
  auto first = StartManager(Env("af_packet"), "first.log");
  ASSERT_TRUE(first);
  ASSERT_TRUE(WaitTakenOver(*first));
  json state = json::parse(ReadFileOrEmpty(dir_->Path("state.json")), nullptr, false);
  ASSERT_TRUE(state.is_object());
  first->Signal(SIGTERM);
  ASSERT_EQ(first->Wait(std::chrono::seconds(20)).code, 0) << first->Log();
  ExpectRestored();
  state["phase"] = "snapshot";
  state["dataplane_pid"] = 0;
  state.erase("tap_ifindex");
  state.erase("tap_alias");
  state.erase("runtime_files");
  dir_->WriteFile("state.json", state.dump());
  std::string path = "/run/netns/" + netns_name_;
  std::ofstream(path).flush();  // created, not yet bind-mounted

  auto next = StartManager(Env("af_packet"), "next.log");
  ASSERT_TRUE(next);
  ASSERT_TRUE(WaitTakenOver(*next));
  EXPECT_EQ(Ping(*node_, "198.18.40.1", 2).received, 2);
  next->Signal(SIGTERM);
  EXPECT_EQ(next->Wait(std::chrono::seconds(20)).code, 0) << next->Log();
  ExpectRestored();
  EXPECT_FALSE(std::ifstream(path).good()) << path << " left behind";
}

// Fault 5. A mistake in the template is a configuration error, found once before any driver.
TEST_F(ManagerFaultTest, TemplateErrorIsFoundOnceBeforeAnyDriver) {
  auto manager = StartManager(Env("", "frobnicate { on }\n"));
  ASSERT_TRUE(manager);
  ExitStatus st = manager->Wait(std::chrono::seconds(30));
  EXPECT_TRUE(st.exited && st.code == 2) << st.ToString() << "\n" << manager->Log();
  std::string log = manager->Log();
  size_t first = log.find("unknown section 'frobnicate'");
  EXPECT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("unknown section 'frobnicate'", first + 1), std::string::npos) << log;
  EXPECT_EQ(log.find("trying driver"), std::string::npos) << log;
  ExpectRestored();
}

#ifdef UPLINKD_TEST_AF_XDP
// Fault 4. An explicit driver that cannot run (af_xdp, with someone else's XDP program on the
// uplink) is refused before the node sees any change: not a single link, address or route event
// in the node while the manager runs.
TEST_F(ManagerFaultTest, ExplicitDriverThatCannotRunChangesNothing) {
  int prog_fd = -1;
  ASSERT_TRUE(node_->RunIn([&] {
    prog_fd = testing_util::AttachForeignXdpPass("eth0", "foreign_pass");
  }).ok());
  ASSERT_GE(prog_fd, 0) << std::strerror(errno);
  before_ = NodeState(*node_);
  // Events on stdout; its stderr (e.g. "Peer netns reference is invalid" when a namespace of
  // another test goes away) is not an event in this node.
  auto monitor = ChildProcess::Start({"sh", "-c", "exec ip monitor link address route 2>/dev/null"},
                                     ChildOptions{.netns = node_.get(),
                                                  .log_path = dir_->Path("monitor.log"),
                                                  .env = {}});
  ASSERT_TRUE(monitor);
  usleep(300000);  // `ip monitor` has subscribed
  auto manager = StartManager(Env("af_xdp"));
  ASSERT_TRUE(manager);
  ExitStatus st = manager->Wait(std::chrono::seconds(30));
  EXPECT_TRUE(st.exited && st.code == 1) << st.ToString() << "\n" << manager->Log();
  EXPECT_NE(manager->Log().find("nothing was changed"), std::string::npos) << manager->Log();
  usleep(300000);
  monitor->Signal(SIGTERM);
  monitor->Wait(std::chrono::seconds(5));
  EXPECT_EQ(monitor->Log(), "") << "events in the node while the manager refused:\n"
                                << monitor->Log();
  ExpectRestored();
  // In auto mode the log says why af_xdp is left out, as --check does.
  auto automatic = StartManager(Env(""), "auto.log");
  ASSERT_TRUE(automatic);
  ASSERT_TRUE(WaitTakenOver(*automatic));
  EXPECT_NE(automatic->Log().find("auto: not af_xdp: an XDP program is already attached"),
            std::string::npos) << automatic->Log();
  automatic->Signal(SIGTERM);
  EXPECT_EQ(automatic->Wait(std::chrono::seconds(20)).code, 0) << automatic->Log();
  ExpectRestored();
  close(prog_fd);
}
#endif

class ManagerFaultDriverTest : public ManagerFaultTest,
                               public testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    ManagerFaultTest::SetUp();
    if (!HasFatalFailure()) PrepareFor(GetParam());
  }

  // One whole takeover, from the manager's start to the node reachable, then stopped; 0 on
  // failure (recorded). The kill and SIGTERM points are spread over this time.
  std::chrono::microseconds TimeOneTakeover() {
    Clock::time_point t0 = Clock::now();
    auto full = StartManager(Env(GetParam()), "full.log");
    if (!full || !WaitTakenOver(*full)) return std::chrono::microseconds(0);
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
    full->Signal(SIGTERM);
    ExitStatus st = full->Wait(std::chrono::seconds(20));
    if (!st.exited || st.code != 0) {
      ADD_FAILURE() << st.ToString() << "\n" << full->Log();
      return std::chrono::microseconds(0);
    }
    return took;
  }
};

// Fault 2. The manager killed at many points of its takeover, every few ms from its start to the
// node being reachable: each time the next manager restores the node and takes it over cleanly,
// and its own stop restores it exactly.
TEST_P(ManagerFaultDriverTest, KilledAnywhereInTheTakeoverThenRestoredAndTakenOverAgain) {
  std::chrono::microseconds takeover = TimeOneTakeover();
  ASSERT_GT(takeover.count(), 0);
  ExpectRestored();
  constexpr int kPoints = 12;
  std::printf("  takeover took %.0f ms: killing the manager at %d points in it\n",
              takeover.count() / 1000.0, kPoints + 1);
  for (int i = 0; i <= kPoints && !HasFailure(); ++i) {
    auto delay = takeover * i / kPoints;
    SCOPED_TRACE(fmt::format("killed {} us after its start", delay.count()));
    auto victim = StartManager(Env(GetParam()), fmt::format("killed{}.log", i));
    ASSERT_TRUE(victim);
    usleep(static_cast<useconds_t>(delay.count()));
    victim->Signal(SIGKILL);
    victim->Wait(std::chrono::seconds(10));
    auto next = StartManager(Env(GetParam()), fmt::format("next{}.log", i));
    ASSERT_TRUE(next);
    ASSERT_TRUE(WaitTakenOver(*next)) << "killed manager's log:\n" << victim->Log();
    EXPECT_EQ(Ping(*node_, "198.18.40.1", 1).received, 1);
    next->Signal(SIGTERM);
    ExitStatus st = next->Wait(std::chrono::seconds(20));
    EXPECT_TRUE(st.exited && st.code == 0) << st.ToString() << "\n" << next->Log();
    ExpectRestored();
    EXPECT_TRUE(StateFilesAside().empty()) << next->Log();
  }
}

// A SIGTERM at any point of the takeover stops it promptly and restores the node.
TEST_P(ManagerFaultDriverTest, SigtermDuringTheTakeoverStopsAndRestores) {
  std::chrono::microseconds takeover = TimeOneTakeover();
  ASSERT_GT(takeover.count(), 0);
  constexpr int kPoints = 6;
  for (int i = 1; i <= kPoints && !HasFailure(); ++i) {
    auto delay = takeover * i / kPoints;
    SCOPED_TRACE(fmt::format("SIGTERM {} us after its start", delay.count()));
    auto manager = StartManager(Env(GetParam()), fmt::format("term{}.log", i));
    ASSERT_TRUE(manager);
    usleep(static_cast<useconds_t>(delay.count()));
    manager->Signal(SIGTERM);
    ExitStatus st = manager->Wait(std::chrono::seconds(10));
    // Before it blocks signals (nothing changed yet) SIGTERM simply ends it.
    EXPECT_TRUE(st.exited && (st.code == 0 || st.signal == SIGTERM))
        << st.ToString() << "\n" << manager->Log();
    // Stopped at its next step, not after finishing the takeover (the second half may
    // legitimately finish it: the last step is short and not interrupted).
    if (i <= kPoints / 2) {
      EXPECT_EQ(manager->Log().find("node reachable through the host tap"), std::string::npos)
          << manager->Log();
    }
    ExpectRestored();
  }
}

// Fault 3. The parked uplink vanishes at run time: the manager notices, removes what is ours
// (tap, netns, dataplane) and exits saying the uplink is missing.
TEST_P(ManagerFaultDriverTest, UplinkVanishingAtRunTimeIsNoticed) {
  auto manager = StartManager(Env(GetParam()));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  pid_t dp = DataplanePid();
  ASSERT_TRUE(peer_->Ip({"link", "del", "peer0"}));  // the veth pair goes, our uplink with it
  ExitStatus st = manager->Wait(std::chrono::seconds(20));
  EXPECT_TRUE(st.exited && st.code == 3) << st.ToString() << "\n" << manager->Log();
  EXPECT_NE(manager->Log().find("eth0 vanished"), std::string::npos) << manager->Log();
  EXPECT_FALSE(NetnsListed(netns_name_));
  EXPECT_FALSE(node_->HasLink("eth0"));  // the tap is gone with its dataplane
  EXPECT_FALSE(dp > 0 && kill(dp, 0) == 0) << "dataplane " << dp << " still running";
  EXPECT_FALSE(std::ifstream(dir_->Path("state.json")).good());
}

// Fault 3. The uplink loses its carrier and gets it back: counted, logged, and traffic flows
// again without a restart.
TEST_P(ManagerFaultDriverTest, UplinkCarrierFlapIsLoggedAndTrafficResumes) {
  auto manager = StartManager(Env(GetParam()));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  ASSERT_TRUE(peer_->Ip({"link", "set", "dev", "peer0", "down"}));
  EXPECT_TRUE(WaitForLog(*manager, "lost its carrier (flap 1)", milliseconds(5000)))
      << manager->Log();
  ASSERT_TRUE(peer_->Ip({"link", "set", "dev", "peer0", "up"}));
  EXPECT_TRUE(WaitForLog(*manager, "has its carrier again", milliseconds(5000)))
      << manager->Log();
  int received = 0;
  for (int i = 0; i < 20 && received == 0; ++i) received = Ping(*node_, "198.18.40.1", 1).received;
  EXPECT_EQ(received, 1);
  EXPECT_EQ(Ping(*node_, "198.18.40.1", 3).received, 3);
  EXPECT_TRUE(manager->Running()) << manager->Log();
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ExpectRestored();
}

// Fault 6. IPv6 comes back as fast as IPv4 at takeover and at restore, on a node whose address
// had duplicate address detection: 20 ms pings of both families across the whole run.
TEST_P(ManagerFaultDriverTest, Ipv6GapIsNoLongerThanIpv4Gap) {
  constexpr int kCount = 400;  // 8 s at 20 ms
  auto ping = [&](const char* family, const char* address, const char* log) {
    return ChildProcess::Start({"ping", family, "-n", "-i", "0.02", "-W", "1", "-c",
                                std::to_string(kCount), address},
                               ChildOptions{.netns = node_.get(), .log_path = dir_->Path(log), .env = {}});
  };
  auto ping4 = ping("-4", "198.18.40.1", "ping4.log");
  auto ping6 = ping("-6", "2001:db8:40::1", "ping6.log");
  ASSERT_TRUE(ping4 && ping6);
  usleep(1000000);
  auto manager = StartManager(Env(GetParam()));
  ASSERT_TRUE(manager);
  ASSERT_TRUE(WaitTakenOver(*manager));
  usleep(2000000);
  manager->Signal(SIGTERM);
  EXPECT_EQ(manager->Wait(std::chrono::seconds(20)).code, 0) << manager->Log();
  ping4->Wait(std::chrono::seconds(20));
  ping6->Wait(std::chrono::seconds(20));
  int gap4 = LongestLoss(ping4->Log(), kCount);
  int gap6 = LongestLoss(ping6->Log(), kCount);
  std::printf("  longest loss: IPv4 %d, IPv6 %d pings of 20 ms\n", gap4, gap6);
  // Two pings of slack: the two pings are not in step, so each edge of a gap may fall one
  // interval apart. (Before IPv6 moved without DAD its gap was 20 pings and more longer.)
  EXPECT_LE(gap6, gap4 + 2) << "IPv4:\n" << ping4->Log() << "\nIPv6:\n" << ping6->Log();
  ExpectRestored();
}

#if defined(UPLINKD_TEST_AF_XDP) && defined(UPLINKD_TEST_DPDK)
INSTANTIATE_TEST_SUITE_P(Drivers, ManagerFaultDriverTest,
                         testing::Values("af_packet", "af_xdp", "dpdk"),
                         [](const auto& p) { return std::string(p.param); });
#elif defined(UPLINKD_TEST_AF_XDP)
INSTANTIATE_TEST_SUITE_P(Drivers, ManagerFaultDriverTest, testing::Values("af_packet", "af_xdp"),
                         [](const auto& p) { return std::string(p.param); });
#else
INSTANTIATE_TEST_SUITE_P(Drivers, ManagerFaultDriverTest, testing::Values("af_packet"),
                         [](const auto& p) { return std::string(p.param); });
#endif

}  // namespace
}  // namespace uplinkd::rig
