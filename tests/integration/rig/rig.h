#pragma once
// uplinkd integration-test rig: network namespaces, veth pairs, bounded commands, traffic
// (ping, TCP transfer with digests), kernel link counters, child processes and scratch dirs.
//
// Rules the rig keeps so that tests stay short, safe and leak-free:
//  - Nothing here touches the default namespace's interfaces, addresses or routes: every link is
//    created from inside a namespace the rig created (`ip -n NS link add ...`).
//  - Names are unique per process and call (UniqueName), so parallel ctest runs never collide.
//  - Every command, wait and transfer is bounded in time; every loop in count.
//  - Owners clean up in destructors, so an ASSERT that returns early still leaves nothing behind.
//    Namespaces are also recorded under /run/uplinkd-rig/, and the next Netns::Create in any
//    process deletes the ones whose creating process is gone (a SIGKILLed test, a ctest timeout).
//  - Children get PR_SET_PDEATHSIG(SIGKILL), so they die with the test process too.
//
// Failure reporting: functions that return bool / nullptr / `ok == false` have already recorded a
// non-fatal gtest failure (ADD_FAILURE) naming the command and its output; tests just
// `ASSERT_TRUE(...)` / `ASSERT_NE(..., nullptr)` to stop. RunCommand() and Netns::Exec() never
// fail the test: they report, the caller judges.
//
// Threads: everything may be called from any thread unless a comment says otherwise; a Netns,
// ChildProcess or TempDir object itself is not synchronized (one owner).
//
// Binaries: UplinkdBinary() / UplinkctlBinary() return, in order of preference, the environment
// variables UPLINKD_BIN / UPLINKCTL_BIN, else the compile definitions UPLINKD_RIG_UPLINKD_BIN /
// UPLINKD_RIG_UPLINKCTL_BIN that tests/integration/CMakeLists.txt sets to the build tree's paths.
// Add a test there with `uplinkd_add_integration_test(foo_test SOURCES foo_test.cc)`: it links
// this library, labels the test "integration" and builds uplinkd/uplinkctl first.
//
// A test, in short:
//   TEST(AfPacket, ForwardsTcp) {
//     UPLINKD_RIG_REQUIRE_NETNS();
//     auto pair = rig::CreateLinkedPair("afp");           // two netns + veth + addresses
//     ASSERT_NE(pair, nullptr);
//     auto dir = rig::TempDir::Create();
//     std::string conf = dir->WriteFile("startup.conf", "...");
//     rig::ChildOptions opts;
//     opts.netns = pair->a.get();
//     auto dp = rig::ChildProcess::Start({rig::UplinkdBinary(), "dataplane", "-c", conf}, opts);
//     ASSERT_TRUE(dp->WaitForFile(dir->Path("cli.sock"), rig::seconds(10))) << dp->Log();
//     EXPECT_EQ(rig::Ping(*pair->a, pair->b_v4, 3).received, 3);
//     auto t = rig::TcpTransfer(*pair->a, *pair->b, pair->b_v4, 5001, 50 << 20, rig::seconds(60));
//     EXPECT_TRUE(t.ok) << t.error;
//   }  // dp killed and reaped, namespaces and links deleted, dir removed: also after an ASSERT

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/status.h"

namespace uplinkd::rig {

class TempDir;

using std::chrono::milliseconds;
using std::chrono::seconds;

// ---------------------------------------------------------------------------------------------
// Names and environment

// "<prefix><pid%100000, 5 digits><counter>", at most 15 chars (IFNAMSIZ - 1), unique within the
// process; the fixed-width pid keeps two processes apart. A long prefix is clipped (keep it ≤ 6
// characters to keep it readable). Thread-safe.
std::string UniqueName(std::string_view prefix);

// Whether this process can run netns tests (root with CAP_SYS_ADMIN, /run/netns usable, `ip`
// present). On false, `why` says what is missing.
bool NetnsAvailable(std::string* why);

// First statement of every integration test: skips loudly (stderr banner + GTEST_SKIP message)
// when netns tests cannot run here, and fails instead when UPLINKD_REQUIRE_INTEGRATION=1 (CI).
#define UPLINKD_RIG_REQUIRE_NETNS()                                           \
  do {                                                                        \
    std::string uplinkd_rig_why_;                                             \
    if (!::uplinkd::rig::NetnsAvailable(&uplinkd_rig_why_)) {                 \
      if (::uplinkd::rig::IntegrationRequired()) {                            \
        FAIL() << "netns integration test cannot run: " << uplinkd_rig_why_;  \
      }                                                                       \
      ::uplinkd::rig::AnnounceSkip(uplinkd_rig_why_);                         \
      GTEST_SKIP() << "SKIPPED netns integration test: " << uplinkd_rig_why_; \
    }                                                                         \
  } while (0)
bool IntegrationRequired();                 // UPLINKD_REQUIRE_INTEGRATION=1
void AnnounceSkip(const std::string& why);  // prints a banner on stderr

// Paths of the built binaries (see the header comment). Empty if unknown.
std::string UplinkdBinary();
std::string UplinkctlBinary();

// ---------------------------------------------------------------------------------------------
// Commands

struct CommandResult {
  int exit_code = -1;  // the exit code; 128+N when killed by signal N; 127 when exec failed
  std::string output;  // stdout and stderr interleaved (capped at 16 MiB)
  bool timed_out = false;
  bool ok() const { return exit_code == 0 && !timed_out; }
};

// Runs argv[0] (looked up in PATH, no shell) with stdin from /dev/null, capturing stdout and
// stderr. After `timeout` its whole process group is SIGKILLed and timed_out is set. Never fails
// the test by itself. (Not "Run": inside a TEST body that name is testing::Test::Run.)
CommandResult RunCommand(const std::vector<std::string>& argv, milliseconds timeout = seconds(30));

// RunCommand(), then ADD_FAILURE (command, exit code, output) unless it exited 0 in time.
bool RunOrFail(const std::vector<std::string>& argv, milliseconds timeout = seconds(30));

// "ip -n ns link add 'a b'": argv joined for messages, arguments with spaces quoted.
std::string JoinArgv(const std::vector<std::string>& argv);

// ---------------------------------------------------------------------------------------------
// Network namespaces

class Netns {
 public:
  // `ip netns add <UniqueName(prefix)>` with `lo` up. On failure: ADD_FAILURE and nullptr.
  static std::unique_ptr<Netns> Create(std::string_view prefix);

  // SIGKILLs every process still in the namespace, closes fd(), `ip netns del`: the namespace
  // and every link in it (a veth's peer elsewhere goes too) are gone. Never throws or fails.
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  const std::string& name() const { return name_; }
  // An open O_RDONLY fd of /run/netns/NAME, owned by this object (for setns()).
  int fd() const { return fd_; }
  // The namespace's inode, as in readlink(/proc/PID/ns/net) == "net:[INODE]".
  ino_t inode() const { return inode_; }

  // `ip netns exec NAME argv...` (sysfs remounted for the namespace). Never fails the test.
  CommandResult Exec(const std::vector<std::string>& argv, milliseconds timeout = seconds(30));
  // Exec(), then ADD_FAILURE unless it exited 0 in time.
  bool ExecOrFail(const std::vector<std::string>& argv, milliseconds timeout = seconds(30));
  // `ip -n NAME args...`, failing the test unless it exits 0: Ip({"link", "set", "x", "up"}).
  bool Ip(const std::vector<std::string>& args);

  // Makes the *calling thread* enter this namespace (setns). Refused on the main thread, whose
  // namespace every child and /proc/self/ns/net inherit. Only for threads the test owns and
  // ends; prefer RunIn()/Call().
  Status EnterOnThisThread() const;

  // Runs fn on a new thread that entered this namespace and waits for it: sockets made there
  // belong to the namespace. Fails (fn not called) if setns failed.
  Status RunIn(const std::function<void()>& fn) const;
  // Same, returning fn's (non-void) value.
  template <typename F, typename R = std::invoke_result_t<F&>>
  Result<R> Call(F fn) const {
    std::optional<R> value;
    Status status = RunIn([&] { value.emplace(fn()); });
    if (!status.ok()) return status;
    return std::move(*value);
  }

  // Link and address helpers; each fails the test (and returns false / "") on error.
  bool SetUp(const std::string& ifname);
  bool SetDown(const std::string& ifname);
  bool SetMtu(const std::string& ifname, uint32_t mtu);
  // "198.18.0.1/24" or "2001:db8::1/64" (IPv6 gets `nodad`, usable at once).
  bool AddAddress(const std::string& ifname, const std::string& cidr);
  // `ip route add PREFIX [via VIA] [dev DEV]`; PREFIX may be "default". Family from PREFIX/VIA.
  bool AddRoute(const std::string& prefix, const std::string& via, const std::string& dev = "");
  // Raw `ip -j -d -s link show dev IF` / `ip -j addr show dev IF` output (JSON arrays).
  std::string LinkJson(const std::string& ifname);
  std::string AddrJson(const std::string& ifname);
  // Global-scope addresses of IF as "198.18.0.1/24", sorted; for snapshot comparisons.
  std::vector<std::string> Addresses(const std::string& ifname);
  // `ip [-6] route show` lines (main table), sorted; for snapshot comparisons.
  std::vector<std::string> Routes(bool ipv6);
  // Whether IF exists in the namespace (no failure recorded either way).
  bool HasLink(const std::string& ifname);
  // Polls HasLink every 20 ms until `timeout` (e.g. a tap the dataplane moves in here).
  bool WaitForLink(const std::string& ifname, milliseconds timeout);

 private:
  Netns(std::string name, int fd, ino_t inode) : name_(std::move(name)), fd_(fd), inode_(inode) {}

  std::string name_;
  int fd_ = -1;
  ino_t inode_ = 0;
};

// Deletes the namespaces recorded under /run/uplinkd-rig/ whose creating process is gone (pid
// dead or recycled); returns how many. Netns::Create calls it once per process.
int ReapStaleNamespaces();

// Whether `ip netns list` shows NAME now.
bool NetnsListed(const std::string& name);

// ---------------------------------------------------------------------------------------------
// Veth pairs

struct VethPair {
  std::string a, b;  // a lives in ns_a, b in ns_b; both empty on failure
  bool ok() const { return !a.empty(); }
};

struct VethOptions {
  std::optional<uint32_t> mtu;
  std::string name_a, name_b;  // default UniqueName("va") / UniqueName("vb"); may be "eth0"
  bool up = true;              // set both ends up
  uint32_t queues = 0;         // rx and tx queues of each end (0 = the kernel's default, 1)
};

// Creates the pair from inside ns_a (`ip -n A link add a type veth peer name b netns B`), so the
// default namespace never sees it; ns_a and ns_b may be the same namespace. It disappears with
// either namespace. On failure: ADD_FAILURE and an empty pair.
VethPair CreateVeth(Netns& ns_a, Netns& ns_b, std::optional<uint32_t> mtu = {});
VethPair CreateVeth(Netns& ns_a, Netns& ns_b, const VethOptions& options);

// The common two-host topology: namespaces a and b joined by a veth (both ends up) with
// a: 198.18.<subnet>.1/24, 2001:db8:<subnet>::1/64 and b: .2 / ::2. Members are destroyed in
// reverse order (b, then a). Null (after ADD_FAILURE) on failure.
struct LinkedPair {
  std::unique_ptr<Netns> a, b;
  VethPair veth;
  std::string a_v4, b_v4, a_v6, b_v6;  // addresses without prefix length
};
std::unique_ptr<LinkedPair> CreateLinkedPair(std::string_view prefix, int subnet = 0);

// ---------------------------------------------------------------------------------------------
// Traffic

struct PingResult {
  int sent = 0;
  int received = 0;
  bool timed_out = false;
  std::string output;
};
// `ping [-6] -n -c COUNT -i 0.2 -W 1 ADDRESS` in `from` (IPv6 when the address has a ':').
// The process is killed after `timeout`. Never fails the test: assert on `received`.
PingResult Ping(Netns& from, const std::string& address, int count = 3,
                milliseconds timeout = seconds(10));

struct TransferOptions {
  uint64_t seed = 1;   // the pseudo-random payload (splitmix64 stream) depends only on this
  bool listen = true;  // false: no server at all (negative tests: connect must fail)
  size_t chunk = 64 * 1024;
};
struct TransferResult {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  std::string sent_digest;      // SHA-256, lowercase hex, over what the client wrote
  std::string received_digest;  // over what the server read
  double seconds = 0;           // connected → the client saw the server's close
  double gbit_per_second = 0;   // bytes_received over `seconds`
  int connect_attempts = 0;
  bool ok = false;  // both ends finished, all bytes arrived and the digests match
  std::string error;
};
// A TCP transfer of `bytes` from a client thread in client_ns to a server thread in server_ns
// that listens on server_address:port (v4 or v6). The client retries refused/unreachable
// connects every 50 ms. `deadline` bounds everything (connect retries included): every blocking
// call polls in 50 ms slices, so on expiry or on either side's failure both threads close their
// sockets and return within a slice. Never fails the test: assert on `ok` and print `error`.
TransferResult TcpTransfer(Netns& client_ns, Netns& server_ns, const std::string& server_address,
                           uint16_t port, uint64_t bytes, seconds deadline,
                           const TransferOptions& options = {});

// SHA-256 of `data` as lowercase hex (exposed for tests that hash files).
std::string Sha256Hex(std::string_view data);

// ---------------------------------------------------------------------------------------------
// Kernel link counters

struct LinkStats {
  uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
  uint64_t rx_dropped = 0, tx_dropped = 0, rx_errors = 0, tx_errors = 0;
  bool ok = false;
};
// The kernel's stats64 for IF (`ip -j -s link show dev IF`). On failure: ADD_FAILURE, ok=false.
LinkStats ReadLinkStats(Netns& ns, const std::string& ifname);

// ---------------------------------------------------------------------------------------------
// Child processes

struct ExitStatus {
  bool exited = false;           // false: still running when Wait() gave up
  int code = -1;                 // exit code, or -1 when killed by a signal
  int signal = 0;                // terminating signal, 0 when it exited
  std::string ToString() const;  // "exit 0", "signal 9 (Killed)", "running"
};

struct ChildOptions {
  Netns* netns = nullptr;        // run inside it (via `ip netns exec`); null: our namespace
  std::string log_path;          // stdout+stderr; default: <own TempDir>/child.log
  std::vector<std::string> env;  // extra "KEY=VALUE" entries on top of our environment
};

// A long-running child (e.g. `uplinkd dataplane -c FILE`). Started with fork+exec as the leader
// of its own process group, with PR_SET_PDEATHSIG(SIGKILL): it dies if the thread that started
// it ends, so start it from the test's own thread. The destructor SIGKILLs the group and reaps.
class ChildProcess {
 public:
  // On failure (exec failures show up as exit 127 with the reason in Log()): ADD_FAILURE, null.
  static std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv,
                                             const ChildOptions& options = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // What it printed so far (stdout and stderr).
  std::string Log() const;
  // kill(pid, sig); false if it is already reaped or kill failed.
  bool Signal(int sig);
  // Waits up to `timeout` for it to exit and reaps it; later calls return the same status.
  ExitStatus Wait(milliseconds timeout);
  bool Running();
  // Polls every 10 ms until `path` exists; gives up early (false) when the child exits.
  bool WaitForFile(const std::string& path, milliseconds timeout);
  // utime+stime of all its threads from /proc/PID/stat, in seconds; -1 once reaped.
  double CpuSeconds() const;
  // CPU seconds it used during the next `window` (sleeps that long): ~0 for an idle process.
  double CpuSecondsOver(milliseconds window) const;

 private:
  ChildProcess() = default;

  pid_t pid_ = -1;
  bool reaped_ = false;
  ExitStatus status_;
  std::string log_path_;
  std::unique_ptr<TempDir> own_dir_;  // holds the default log
};

// Polls every 10 ms until `path` exists or `timeout` passes.
bool WaitForFile(const std::string& path, milliseconds timeout);

// ---------------------------------------------------------------------------------------------
// Scratch directories

// mkdtemp("/tmp/uplinkd-rig-XXXXXX"), removed recursively by the destructor. Under /tmp rather
// than $TMPDIR so unix socket paths in it stay well under the 108-byte limit.
class TempDir {
 public:
  static std::unique_ptr<TempDir> Create();  // ADD_FAILURE and null on failure
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Path(std::string_view name) const;  // path()/name
  // Writes `content` to path()/name (creating or truncating); returns the full path, or "" after
  // ADD_FAILURE.
  std::string WriteFile(std::string_view name, std::string_view content) const;
  std::string ReadFile(std::string_view name) const;  // "" if unreadable

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Whole file as a string; "" if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace uplinkd::rig
