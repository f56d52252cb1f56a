// Network namespaces, veth pairs, link counters and ping.

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/rig/rig.h"

namespace uplinkd::rig {
namespace {

using Clock = std::chrono::steady_clock;

// One file per namespace the rig created: "<pid> <starttime>" of the creating process. A test
// killed by SIGKILL (ctest timeout) cannot run destructors; the next Create reaps its leftovers.
constexpr const char* kRegistryDir = "/run/uplinkd-rig";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Field 22 of /proc/PID/stat (start time in ticks since boot): tells a live creator from a
// recycled pid. "" if the process does not exist.
std::string StartTime(pid_t pid) {
  std::string stat = ReadFileOrEmpty(fmt::format("/proc/{}/stat", pid));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return "";
  std::istringstream in(stat.substr(paren + 2));  // fields from 3 (state) on
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
    if (i == 22) return field;
  }
  return "";
}

// SIGKILLs every process whose network namespace is `name` (not us) and waits up to 2 s for
// them to leave it, so that deleting the namespace really frees its links.
void KillProcessesIn(const std::string& name) {
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  for (int i = 0; i < 200; ++i) {
    CommandResult pids = RunCommand({"ip", "netns", "pids", name}, seconds(5));
    if (!pids.ok()) return;
    int others = 0;
    for (const std::string& line : Lines(pids.output)) {
      pid_t pid = static_cast<pid_t>(std::atol(line.c_str()));
      if (pid <= 0 || pid == getpid()) continue;
      ++others;
      kill(pid, SIGKILL);
    }
    if (others == 0 || Clock::now() >= deadline) return;
    usleep(10000);
  }
}

void DeleteNamespace(const std::string& name) {
  KillProcessesIn(name);
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (RunCommand({"ip", "netns", "del", name}, seconds(10)).ok() || !NetnsListed(name)) break;
    usleep(50000);
  }
  std::error_code ignored;
  std::filesystem::remove(fmt::format("{}/{}", kRegistryDir, name), ignored);
}

}  // namespace

int ReapStaleNamespaces() {
  std::error_code ec;
  std::filesystem::directory_iterator it(kRegistryDir, ec);
  if (ec) return 0;
  std::vector<std::string> stale;
  for (int i = 0; i < 1000 && it != std::filesystem::directory_iterator(); ++i, it.increment(ec)) {
    if (ec) break;
    std::istringstream in(ReadFileOrEmpty(it->path().string()));
    pid_t pid = 0;
    std::string start;
    in >> pid >> start;
    if (pid > 0 && !start.empty() && StartTime(pid) == start) continue;  // creator alive
    stale.push_back(it->path().filename().string());
  }
  for (const std::string& name : stale) DeleteNamespace(name);
  return static_cast<int>(stale.size());
}

namespace {

void Register(const std::string& name) {
  std::error_code ignored;
  std::filesystem::create_directories(kRegistryDir, ignored);
  std::ofstream out(fmt::format("{}/{}", kRegistryDir, name));
  out << getpid() << ' ' << StartTime(getpid()) << '\n';
}

bool IsV6(const std::string& address) { return address.find(':') != std::string::npos; }

nlohmann::json ParseFirst(const std::string& text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array() || doc.empty() || !doc[0].is_object()) return nlohmann::json();
  return doc[0];
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Netns

std::unique_ptr<Netns> Netns::Create(std::string_view prefix) {
  static std::once_flag reaped;
  std::call_once(reaped, [] { ReapStaleNamespaces(); });

  std::string name;
  CommandResult added;
  for (int attempt = 0; attempt < 5; ++attempt) {
    name = UniqueName(prefix);
    added = RunCommand({"ip", "netns", "add", name}, seconds(10));
    // Another process with the same pid%100000 may own the name: take the next counter.
    if (added.ok() || added.output.find("File exists") == std::string::npos) break;
  }
  if (!added.ok()) {
    ADD_FAILURE() << "ip netns add " << name << " failed (exit " << added.exit_code
                  << "): " << added.output;
    return nullptr;
  }
  Register(name);
  int fd = open(fmt::format("/run/netns/{}", name).c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) {
    ADD_FAILURE() << ErrnoFailure("open /run/netns/{}", name).message();
    if (fd >= 0) close(fd);
    DeleteNamespace(name);
    return nullptr;
  }
  std::unique_ptr<Netns> ns(new Netns(name, fd, st.st_ino));
  if (!ns->SetUp("lo")) return nullptr;  // ns's destructor deletes it
  return ns;
}

Netns::~Netns() {
  // Our fd would keep the namespace (and its links) alive after `ip netns del`.
  if (fd_ >= 0) close(fd_);
  DeleteNamespace(name_);
}

CommandResult Netns::Exec(const std::vector<std::string>& argv, milliseconds timeout) {
  std::vector<std::string> full = {"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return RunCommand(full, timeout);
}

bool Netns::ExecOrFail(const std::vector<std::string>& argv, milliseconds timeout) {
  std::vector<std::string> full = {"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return RunOrFail(full, timeout);
}

bool Netns::Ip(const std::vector<std::string>& args) {
  std::vector<std::string> full = {"ip", "-n", name_};
  full.insert(full.end(), args.begin(), args.end());
  return RunOrFail(full, seconds(10));
}

Status Netns::EnterOnThisThread() const {
  if (gettid() == getpid()) {
    return Failure(EPERM, "refusing to move the main thread into netns {}", name_);
  }
  if (setns(fd_, CLONE_NEWNET) != 0) return ErrnoFailure("setns into {}", name_);
  return Status::Ok();
}

Status Netns::RunIn(const std::function<void()>& fn) const {
  Status status;
  std::thread thread([&] {
    status = EnterOnThisThread();
    if (status.ok()) fn();
  });
  thread.join();
  return status;
}

bool Netns::SetUp(const std::string& ifname) { return Ip({"link", "set", "dev", ifname, "up"}); }

bool Netns::SetDown(const std::string& ifname) {
  return Ip({"link", "set", "dev", ifname, "down"});
}

bool Netns::SetMtu(const std::string& ifname, uint32_t mtu) {
  return Ip({"link", "set", "dev", ifname, "mtu", std::to_string(mtu)});
}

bool Netns::AddAddress(const std::string& ifname, const std::string& cidr) {
  // Without nodad an IPv6 address stays "tentative" (unusable) for a second or two.
  if (IsV6(cidr)) return Ip({"-6", "addr", "add", cidr, "dev", ifname, "nodad"});
  return Ip({"addr", "add", cidr, "dev", ifname});
}

bool Netns::AddRoute(const std::string& prefix, const std::string& via, const std::string& dev) {
  std::vector<std::string> args;
  if (IsV6(prefix) || IsV6(via)) args.push_back("-6");
  args.insert(args.end(), {"route", "add", prefix});
  if (!via.empty()) args.insert(args.end(), {"via", via});
  if (!dev.empty()) args.insert(args.end(), {"dev", dev});
  return Ip(args);
}

std::string Netns::LinkJson(const std::string& ifname) {
  CommandResult r =
      RunCommand({"ip", "-n", name_, "-j", "-d", "-s", "link", "show", "dev", ifname});
  if (r.ok()) return r.output;
  ADD_FAILURE() << "ip -n " << name_ << " link show dev " << ifname << ": " << r.output;
  return "";
}

std::string Netns::AddrJson(const std::string& ifname) {
  CommandResult r = RunCommand({"ip", "-n", name_, "-j", "addr", "show", "dev", ifname});
  if (r.ok()) return r.output;
  ADD_FAILURE() << "ip -n " << name_ << " addr show dev " << ifname << ": " << r.output;
  return "";
}

std::vector<std::string> Netns::Addresses(const std::string& ifname) {
  std::vector<std::string> out;
  nlohmann::json link = ParseFirst(AddrJson(ifname));
  if (!link.is_object() || !link.contains("addr_info")) return out;
  for (const nlohmann::json& a : link["addr_info"]) {
    if (a.value("scope", "") != "global") continue;
    out.push_back(fmt::format("{}/{}", a.value("local", ""), a.value("prefixlen", 0)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Netns::Routes(bool ipv6) {
  CommandResult r = RunCommand({"ip", "-n", name_, ipv6 ? "-6" : "-4", "route", "show"});
  if (!r.ok()) {
    ADD_FAILURE() << "ip -n " << name_ << " route show: " << r.output;
    return {};
  }
  std::vector<std::string> lines = Lines(r.output);
  std::sort(lines.begin(), lines.end());
  return lines;
}

bool Netns::HasLink(const std::string& ifname) {
  return RunCommand({"ip", "-n", name_, "link", "show", "dev", ifname}, seconds(10)).ok();
}

bool Netns::WaitForLink(const std::string& ifname, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 100000; ++i) {
    if (HasLink(ifname)) return true;
    if (Clock::now() >= deadline) return false;
    usleep(20000);
  }
  return false;
}

bool NetnsListed(const std::string& name) {
  CommandResult r = RunCommand({"ip", "netns", "list"}, seconds(10));
  for (const std::string& line : Lines(r.output)) {
    if (line.substr(0, line.find(' ')) == name) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Veth pairs

VethPair CreateVeth(Netns& ns_a, Netns& ns_b, std::optional<uint32_t> mtu) {
  VethOptions options;
  options.mtu = mtu;
  return CreateVeth(ns_a, ns_b, options);
}

VethPair CreateVeth(Netns& ns_a, Netns& ns_b, const VethOptions& options) {
  VethPair pair;
  std::string a = options.name_a.empty() ? UniqueName("va") : options.name_a;
  std::string b = options.name_b.empty() ? UniqueName("vb") : options.name_b;
  // Run in ns_a with the peer placed straight into ns_b: the default namespace never holds it.
  std::vector<std::string> add = {"link", "add", a};
  std::vector<std::string> peer = {"peer", "name", b, "netns", ns_b.name()};
  if (options.queues > 0) {
    std::string q = std::to_string(options.queues);
    for (auto* side : {&add, &peer}) {
      side->insert(side->end(), {"numrxqueues", q, "numtxqueues", q});
    }
  }
  add.insert(add.end(), {"type", "veth"});
  add.insert(add.end(), peer.begin(), peer.end());
  if (!ns_a.Ip(add)) return pair;
  bool ok = true;
  if (options.mtu) ok = ns_a.SetMtu(a, *options.mtu) && ns_b.SetMtu(b, *options.mtu);
  if (ok && options.up) ok = ns_a.SetUp(a) && ns_b.SetUp(b);
  if (!ok) {
    RunCommand({"ip", "-n", ns_a.name(), "link", "del", a}, seconds(10));  // takes b with it
    return pair;
  }
  pair.a = a;
  pair.b = b;
  return pair;
}

std::unique_ptr<LinkedPair> CreateLinkedPair(std::string_view prefix, int subnet) {
  auto pair = std::make_unique<LinkedPair>();
  pair->a = Netns::Create(prefix);
  if (pair->a == nullptr) return nullptr;
  pair->b = Netns::Create(prefix);
  if (pair->b == nullptr) return nullptr;
  pair->veth = CreateVeth(*pair->a, *pair->b);
  if (!pair->veth.ok()) return nullptr;
  pair->a_v4 = fmt::format("198.18.{}.1", subnet);
  pair->b_v4 = fmt::format("198.18.{}.2", subnet);
  pair->a_v6 = fmt::format("2001:db8:{:x}::1", subnet);
  pair->b_v6 = fmt::format("2001:db8:{:x}::2", subnet);
  if (!pair->a->AddAddress(pair->veth.a, pair->a_v4 + "/24") ||
      !pair->b->AddAddress(pair->veth.b, pair->b_v4 + "/24") ||
      !pair->a->AddAddress(pair->veth.a, pair->a_v6 + "/64") ||
      !pair->b->AddAddress(pair->veth.b, pair->b_v6 + "/64")) {
    return nullptr;
  }
  return pair;
}

// ---------------------------------------------------------------------------------------------
// Counters and ping

LinkStats ReadLinkStats(Netns& ns, const std::string& ifname) {
  LinkStats stats;
  CommandResult r = RunCommand({"ip", "-n", ns.name(), "-j", "-s", "link", "show", "dev", ifname});
  nlohmann::json link = r.ok() ? ParseFirst(r.output) : nlohmann::json();
  if (!link.is_object() || !link.contains("stats64")) {
    ADD_FAILURE() << "no stats for " << ifname << " in " << ns.name() << ": " << r.output;
    return stats;
  }
  const nlohmann::json& rx = link["stats64"]["rx"];
  const nlohmann::json& tx = link["stats64"]["tx"];
  stats.rx_packets = rx.value("packets", uint64_t{0});
  stats.rx_bytes = rx.value("bytes", uint64_t{0});
  stats.rx_dropped = rx.value("dropped", uint64_t{0});
  stats.rx_errors = rx.value("errors", uint64_t{0});
  stats.tx_packets = tx.value("packets", uint64_t{0});
  stats.tx_bytes = tx.value("bytes", uint64_t{0});
  stats.tx_dropped = tx.value("dropped", uint64_t{0});
  stats.tx_errors = tx.value("errors", uint64_t{0});
  stats.ok = true;
  return stats;
}

PingResult Ping(Netns& from, const std::string& address, int count, milliseconds timeout) {
  std::vector<std::string> argv = {"ping"};
  if (IsV6(address)) argv.push_back("-6");
  argv.insert(argv.end(), {"-n", "-c", std::to_string(count), "-i", "0.2", "-W", "1", address});
  CommandResult r = from.Exec(argv, timeout);
  PingResult result;
  result.timed_out = r.timed_out;
  result.output = std::move(r.output);
  // "3 packets transmitted, 3 received, 0% packet loss, time 402ms"
  size_t pos = result.output.find(" packets transmitted, ");
  if (pos != std::string::npos) {
    size_t start = result.output.rfind('\n', pos);
    start = start == std::string::npos ? 0 : start + 1;
    std::sscanf(result.output.c_str() + start, "%d packets transmitted, %d received", &result.sent,
                &result.received);
  }
  return result;
}

}  // namespace uplinkd::rig
