// Self-test of the integration-test rig: every helper against the real kernel, in namespaces
// created here, plus the failure paths (an absent peer, a closed port, a test that stops
// half-way) so that the assertions other tests build on can actually fail.

#include "tests/integration/rig/rig.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace uplinkd::rig {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string NsLink(const std::string& proc_path) {
  char buf[PATH_MAX] = {};
  ssize_t n = readlink(proc_path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// Names of the default namespace's links: the rig must never add one, even transiently.
std::set<std::string> HostLinks() {
  CommandResult r = RunCommand({"ip", "-o", "link", "show"});
  std::set<std::string> names;
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string rest = line.substr(colon + 2);
    names.insert(rest.substr(0, rest.find_first_of(":@")));
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// Pure helpers (no root needed)

TEST(RigNames, UniqueShortAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string name = UniqueName("ns");
    EXPECT_LE(name.size(), 15u) << name;
    EXPECT_EQ(name.rfind("ns", 0), 0u) << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate " << name;
  }
  std::string clipped = UniqueName("averyverylongprefix");
  EXPECT_LE(clipped.size(), 15u) << clipped;
  EXPECT_EQ(clipped.rfind("avery", 0), 0u) << clipped;
}

TEST(RigSha256, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(RigRun, CapturesOutputAndExitCode) {
  CommandResult r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.output.find("out"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("err"), std::string::npos) << r.output;
  EXPECT_TRUE(RunCommand({"true"}).ok());
}

TEST(RigRun, KillsOnTimeoutIncludingBackgroundChildren) {
  auto start = Clock::now();
  CommandResult r = RunCommand({"sh", "-c", "sleep 30 & sleep 30"}, milliseconds(300));
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_LT(SecondsSince(start), 3.0);
  // A background child that outlives its shell must not keep RunCommand() waiting either.
  start = Clock::now();
  r = RunCommand({"sh", "-c", "sleep 30 & echo started"}, seconds(10));
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_LT(SecondsSince(start), 3.0);
}

TEST(RigRun, MissingBinaryAndRunOrFail) {
  CommandResult r = RunCommand({"/nonexistent/uplinkd-rig-binary"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.output.find("not found"), std::string::npos) << r.output;
  EXPECT_NONFATAL_FAILURE(RunOrFail({"sh", "-c", "echo why-it-failed; exit 3"}), "why-it-failed");
}

TEST(RigTempDir, WritesAndRemoves) {
  std::string path;
  {
    auto dir = TempDir::Create();
    ASSERT_NE(dir, nullptr);
    path = dir->path();
    std::string file = dir->WriteFile("startup.conf", "unix { nodaemon }\n");
    ASSERT_FALSE(file.empty());
    EXPECT_EQ(ReadFileOrEmpty(file), "unix { nodaemon }\n");
    EXPECT_LT(dir->Path("cli.sock").size(), 60u);
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0) << path << " still exists";
}

// ---------------------------------------------------------------------------------------------
// Two namespaces joined by a veth

class RigPairTest : public testing::Test {
 protected:
  void SetUp() override {
    UPLINKD_RIG_REQUIRE_NETNS();
    pair_ = CreateLinkedPair("rig");
    ASSERT_NE(pair_, nullptr);
  }

  Netns& a() { return *pair_->a; }
  Netns& b() { return *pair_->b; }

  std::unique_ptr<LinkedPair> pair_;
};

TEST_F(RigPairTest, PingV4AndV6) {
  PingResult v4 = Ping(a(), pair_->b_v4, 3);
  EXPECT_EQ(v4.sent, 3) << v4.output;
  EXPECT_EQ(v4.received, 3) << v4.output;
  PingResult v6 = Ping(b(), pair_->a_v6, 3);
  EXPECT_EQ(v6.sent, 3) << v6.output;
  EXPECT_EQ(v6.received, 3) << v6.output;
}

TEST_F(RigPairTest, PingToAbsentAddressFails) {
  auto start = Clock::now();
  PingResult v4 = Ping(a(), "198.18.0.77", 2);
  EXPECT_EQ(v4.sent, 2) << v4.output;
  EXPECT_EQ(v4.received, 0) << v4.output;
  PingResult v6 = Ping(a(), "2001:db8::77", 2);
  EXPECT_EQ(v6.received, 0) << v6.output;
  EXPECT_LT(SecondsSince(start), 10.0);
  // And a timeout shorter than ping's own run is enforced.
  PingResult cut = Ping(a(), "198.18.0.77", 50, milliseconds(500));
  EXPECT_TRUE(cut.timed_out);
  EXPECT_EQ(cut.received, 0);
}

TEST_F(RigPairTest, TcpTransfer50MbV4) {
  constexpr uint64_t kBytes = 50ull << 20;
  TransferResult r = TcpTransfer(a(), b(), pair_->b_v4, 5001, kBytes, seconds(60));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.bytes_sent, kBytes);
  EXPECT_EQ(r.bytes_received, kBytes);
  EXPECT_EQ(r.sent_digest, r.received_digest);
  EXPECT_EQ(r.sent_digest.size(), 64u);
  EXPECT_GT(r.seconds, 0);
  std::fprintf(stderr, "50 MB over veth: %.3f s, %.2f Gbit/s, %d connect attempt(s)\n", r.seconds,
               r.gbit_per_second, r.connect_attempts);
}

TEST_F(RigPairTest, TcpTransferV6AndSeedChangesDigest) {
  constexpr uint64_t kBytes = (5ull << 20) + 3;  // not a multiple of the chunk or of 8
  TransferResult one = TcpTransfer(b(), a(), pair_->a_v6, 5002, kBytes, seconds(30));
  ASSERT_TRUE(one.ok) << one.error;
  EXPECT_EQ(one.bytes_received, kBytes);
  EXPECT_EQ(one.sent_digest, one.received_digest);
  TransferOptions options;
  options.seed = 2;
  options.chunk = 1000;
  TransferResult two = TcpTransfer(b(), a(), pair_->a_v6, 5002, kBytes, seconds(30), options);
  ASSERT_TRUE(two.ok) << two.error;
  EXPECT_NE(two.sent_digest, one.sent_digest);
}

TEST_F(RigPairTest, TransferToClosedPortFailsWithinDeadline) {
  TransferOptions options;
  options.listen = false;
  auto start = Clock::now();
  TransferResult r = TcpTransfer(a(), b(), pair_->b_v4, 5003, 1 << 20, seconds(2), options);
  double took = SecondsSince(start);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("Connection refused"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("198.18.0.2:5003"), std::string::npos) << r.error;
  EXPECT_GT(r.connect_attempts, 1);
  EXPECT_EQ(r.bytes_received, 0u);
  EXPECT_LT(took, 3.0);
  std::fprintf(stderr, "closed port: %s (%.2f s)\n", r.error.c_str(), took);
}

TEST_F(RigPairTest, TransferToUnreachableAddressFailsWithinDeadline) {
  // The server cannot bind an address the namespace does not have: both threads still end.
  auto start = Clock::now();
  TransferResult r = TcpTransfer(a(), b(), "198.18.0.99", 5004, 1 << 20, seconds(2));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("server: bind/listen"), std::string::npos) << r.error;
  EXPECT_LT(SecondsSince(start), 3.0);
}

TEST_F(RigPairTest, LinkStatsCountWhatPingSent) {
  LinkStats before_a = ReadLinkStats(a(), pair_->veth.a);
  LinkStats before_b = ReadLinkStats(b(), pair_->veth.b);
  ASSERT_TRUE(before_a.ok && before_b.ok);
  PingResult ping = Ping(a(), pair_->b_v4, 5);
  ASSERT_EQ(ping.received, 5) << ping.output;
  LinkStats after_a = ReadLinkStats(a(), pair_->veth.a);
  LinkStats after_b = ReadLinkStats(b(), pair_->veth.b);
  // At least the echo requests (plus ARP/ND/MLD chatter, a handful at most in a private netns).
  uint64_t sent = after_a.tx_packets - before_a.tx_packets;
  EXPECT_GE(sent, 5u);
  EXPECT_LE(sent, 20u);
  EXPECT_GE(after_b.rx_packets - before_b.rx_packets, 5u);
  EXPECT_GE(after_a.rx_packets - before_a.rx_packets, 5u);
  EXPECT_GE(after_a.tx_bytes - before_a.tx_bytes, 5u * 98);  // 84-byte IP packet + 14 Ethernet
  EXPECT_EQ(after_a.tx_dropped, before_a.tx_dropped);
}

TEST_F(RigPairTest, ThreadsInsideANamespace) {
  std::string ours = NsLink("/proc/self/ns/net");
  Result<std::string> inside = a().Call([] { return NsLink("/proc/thread-self/ns/net"); });
  ASSERT_TRUE(inside.ok()) << inside.status().message();
  EXPECT_EQ(*inside, fmt::format("net:[{}]", a().inode()));
  EXPECT_NE(*inside, ours);
  EXPECT_EQ(NsLink("/proc/thread-self/ns/net"), ours);  // the caller did not move
  EXPECT_FALSE(a().EnterOnThisThread().ok());           // main thread refused
}

TEST_F(RigPairTest, AddressesRoutesAndLinkJson) {
  EXPECT_EQ(a().Addresses(pair_->veth.a),
            (std::vector<std::string>{"198.18.0.1/24", "2001:db8::1/64"}));
  ASSERT_TRUE(a().AddRoute("198.19.0.0/16", pair_->b_v4));
  ASSERT_TRUE(a().AddRoute("2001:db8:1::/48", pair_->b_v6, pair_->veth.a));
  std::vector<std::string> v4 = a().Routes(false);
  EXPECT_NE(std::find(v4.begin(), v4.end(),
                      fmt::format("198.19.0.0/16 via 198.18.0.2 dev {}", pair_->veth.a)),
            v4.end());
  std::vector<std::string> v6 = a().Routes(true);
  bool found = false;
  for (const std::string& line : v6) found |= line.rfind("2001:db8:1::/48 via 2001:db8::2", 0) == 0;
  EXPECT_TRUE(found);
  EXPECT_NE(a().LinkJson(pair_->veth.a).find("\"veth\""), std::string::npos);
  EXPECT_FALSE(a().HasLink("nosuchlink0"));
  EXPECT_FALSE(a().WaitForLink("nosuchlink0", milliseconds(100)));
}

// ---------------------------------------------------------------------------------------------
// Veth options and the default namespace

TEST(RigVeth, NamedEth0AndMtuStayOutOfTheDefaultNamespace) {
  UPLINKD_RIG_REQUIRE_NETNS();
  std::set<std::string> host_before = HostLinks();
  {
    auto node = Netns::Create("node");
    auto peer = Netns::Create("peer");
    ASSERT_NE(node, nullptr);
    ASSERT_NE(peer, nullptr);
    VethOptions options;
    options.name_a = "eth0";  // the name the manager takes over in a node namespace
    options.mtu = 9000;
    VethPair veth = CreateVeth(*node, *peer, options);
    ASSERT_TRUE(veth.ok());
    EXPECT_EQ(veth.a, "eth0");
    EXPECT_TRUE(node->HasLink("eth0"));
    EXPECT_TRUE(peer->HasLink(veth.b));
    EXPECT_NE(node->LinkJson("eth0").find("\"mtu\":9000"), std::string::npos);
    EXPECT_EQ(HostLinks(), host_before);
    // Both ends in one namespace.
    VethPair local = CreateVeth(*peer, *peer);
    ASSERT_TRUE(local.ok());
    EXPECT_TRUE(peer->HasLink(local.a));
    EXPECT_TRUE(peer->HasLink(local.b));
  }
  EXPECT_EQ(HostLinks(), host_before);
}

// ---------------------------------------------------------------------------------------------
// Child processes

TEST(RigChild, SleepInsideNamespaceIsIdleAndKilledByDestructor) {
  UPLINKD_RIG_REQUIRE_NETNS();
  auto ns = Netns::Create("chld");
  ASSERT_NE(ns, nullptr);
  pid_t pid = -1;
  {
    ChildOptions options;
    options.netns = ns.get();
    auto child = ChildProcess::Start({"sleep", "30"}, options);
    ASSERT_NE(child, nullptr);
    pid = child->pid();
    // `ip netns exec` becomes `sleep` in place; wait for that before looking at its namespace.
    std::string comm;
    for (int i = 0; i < 500 && comm != "sleep\n"; ++i) {
      comm = ReadFileOrEmpty(fmt::format("/proc/{}/comm", pid));
      if (comm != "sleep\n") usleep(10000);
    }
    ASSERT_EQ(comm, "sleep\n") << child->Log();
    std::string child_ns = NsLink(fmt::format("/proc/{}/ns/net", pid));
    EXPECT_NE(child_ns, NsLink("/proc/self/ns/net"));
    EXPECT_EQ(child_ns, fmt::format("net:[{}]", ns->inode()));
    EXPECT_TRUE(child->Running());
    double cpu = child->CpuSecondsOver(milliseconds(300));
    EXPECT_GE(cpu, 0.0);
    EXPECT_LT(cpu, 0.05);
    EXPECT_GE(child->CpuSeconds(), 0.0);
    EXPECT_LT(child->CpuSeconds(), 0.5);
  }
  // Killed and reaped: no longer our child, no longer alive (not even a zombie).
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_NE(kill(pid, 0), 0);
}

TEST(RigChild, ExitStatusSignalLogAndWaitForFile) {
  auto dir = TempDir::Create();
  ASSERT_NE(dir, nullptr);
  std::string ready = dir->Path("ready");
  auto child = ChildProcess::Start(
      {"sh", "-c",
       fmt::format("echo hello; echo oops >&2; sleep 0.2; touch {}; exec sleep 30", ready)});
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForFile(ready, seconds(5))) << child->Log();
  EXPECT_NE(child->Log().find("hello"), std::string::npos);
  EXPECT_NE(child->Log().find("oops"), std::string::npos);
  EXPECT_FALSE(child->Wait(milliseconds(50)).exited);
  ASSERT_TRUE(child->Signal(SIGTERM));
  ExitStatus status = child->Wait(seconds(5));
  EXPECT_TRUE(status.exited);
  EXPECT_EQ(status.signal, SIGTERM) << status.ToString();
  EXPECT_FALSE(child->Signal(SIGTERM));  // reaped: never signal a recycled pid

  auto quick = ChildProcess::Start({"sh", "-c", "exit 3"});
  ASSERT_NE(quick, nullptr);
  EXPECT_EQ(quick->Wait(seconds(5)).code, 3);
  EXPECT_FALSE(quick->WaitForFile(dir->Path("never"), seconds(5)));  // gives up: child exited

  auto missing = ChildProcess::Start({"/nonexistent/uplinkd"});
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->Wait(seconds(5)).code, 127);
  EXPECT_NE(missing->Log().find("not found"), std::string::npos) << missing->Log();
  EXPECT_FALSE(WaitForFile(dir->Path("never"), milliseconds(50)));
}

// ---------------------------------------------------------------------------------------------
// Cleanup

TEST(RigCleanup, NamespaceAndItsLinksGoAtScopeEnd) {
  UPLINKD_RIG_REQUIRE_NETNS();
  std::string name;
  {
    auto pair = CreateLinkedPair("cln");
    ASSERT_NE(pair, nullptr);
    name = pair->a->name();
    ASSERT_TRUE(NetnsListed(name));  // so the check below is not vacuous
    ASSERT_TRUE(NetnsListed(pair->b->name()));
  }
  EXPECT_FALSE(NetnsListed(name));
}

// A test body that fails fatally half-way, as an ASSERT in a real test would.
std::string g_halfway_name;  // NOLINT: EXPECT_FATAL_FAILURE's statement can't see locals
std::string g_halfway_child_pid;
void FailHalfway() {
  auto ns = Netns::Create("half");
  ASSERT_NE(ns, nullptr);
  g_halfway_name = ns->name();
  ChildOptions options;
  options.netns = ns.get();
  auto child = ChildProcess::Start({"sleep", "30"}, options);
  ASSERT_NE(child, nullptr);
  g_halfway_child_pid = std::to_string(child->pid());
  ASSERT_TRUE(NetnsListed(g_halfway_name));
  ASSERT_EQ(1, 2) << "deliberate failure half-way";
  ADD_FAILURE() << "not reached";
}

TEST(RigCleanup, NamespaceGoesWhenTheTestFailsHalfway) {
  UPLINKD_RIG_REQUIRE_NETNS();
  EXPECT_FATAL_FAILURE(FailHalfway(), "deliberate failure half-way");
  ASSERT_FALSE(g_halfway_name.empty());
  EXPECT_FALSE(NetnsListed(g_halfway_name));
  pid_t pid = static_cast<pid_t>(std::atol(g_halfway_child_pid.c_str()));
  ASSERT_GT(pid, 0);
  EXPECT_NE(kill(pid, 0), 0) << "child " << pid << " survived";
}

TEST(RigCleanup, StaleNamespaceOfADeadProcessIsReaped) {
  UPLINKD_RIG_REQUIRE_NETNS();
  // What a SIGKILLed test leaves behind: a namespace and its registry entry.
  std::string name = UniqueName("stale");
  ASSERT_TRUE(RunOrFail({"ip", "netns", "add", name}));
  {
    std::error_code ignored;
    std::filesystem::create_directories("/run/uplinkd-rig", ignored);
    std::ofstream entry("/run/uplinkd-rig/" + name);
    entry << "1 not-a-start-time\n";  // pid 1 with another start time: a dead creator
  }
  EXPECT_GE(ReapStaleNamespaces(), 1);
  EXPECT_FALSE(NetnsListed(name));
  if (NetnsListed(name)) RunCommand({"ip", "netns", "del", name});
}

}  // namespace
}  // namespace uplinkd::rig
