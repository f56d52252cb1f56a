#include "manager/manager.h"

#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/client.h"
#include "common/log.h"
#include "common/parse.h"
#include "drivers/af_packet/af_packet.h"
#include "drivers/tap/host_tap_marker.h"
#include "buffer/buffer.h"
#include "buffer/buffer_pool.h"
#include "linux/ethtool_ioctl.h"
#include "linux/netlink_socket.h"
#include "linux/netns.h"
#include "linux/pci.h"
#include "linux/snapshot.h"
#include "linux/state_file.h"
#include "linux/xdp_features.h"
#include "manager/dpdk_template.h"
#include "manager/driver_choice.h"
#include "manager/env_config.h"
#include "manager/render.h"

#ifdef UPLINKD_WITH_XDP
#include "drivers/af_xdp/af_xdp.h"
#endif

namespace uplinkd {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kStateVersion = 1;
constexpr auto kDataplaneStartTimeout = std::chrono::seconds(20);
constexpr auto kTapTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(10);
// A PCI device given back to its kernel driver: how long its network interface may take to
// appear again.
constexpr auto kNetdevReturnTimeout = std::chrono::seconds(10);
// A host tap whose index was never recorded belongs to a dataplane that died with its manager:
// how long it may take to go away with that dataplane.
constexpr auto kUnrecordedTapTimeout = std::chrono::seconds(2);
// What the dpdk driver binds a PCI uplink to when CALICOVPP_SWAP_DRIVER does not say.
constexpr const char* kDefaultDpdkPciDriver = "vfio-pci";

bool HugepagesFree() { return ReadHugepageInfo().free_pages > 0; }

std::string Get(const std::map<std::string, std::string>& env, const char* key,
                const std::string& fallback) {
  auto it = env.find(key);
  return it == env.end() || it->second.empty() ? fallback : it->second;
}

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Writes `text` to `path` (0644), creating its directory.
Status WriteTextFile(const std::string& path, const std::string& text) {
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) mkdir(dir.c_str(), 0755);
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return ErrnoFailure("write {}", path);
  return Status::Ok();
}

Status WriteSysctl(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  if (!out) return ErrnoFailure("write {}", path);
  return Status::Ok();
}

// What the manager is doing, kept in the state file next to the snapshot so that a later start
// can undo whatever a killed manager left half-done.
struct State {
  LinkSnapshot snapshot;
  std::string dataplane_netns;
  std::string driver;
  pid_t dataplane_pid = 0;
  // "snapshot", "preconfig", "swapping", "moving", "starting", "configuring", "running"
  std::string phase;
  // dpdk on a PCI uplink: the PCI driver the device was bound to for the run ("" = none); the
  // snapshot's pci_driver is the one it goes back to.
  std::string swapped_to;
  // The host tap, once it appeared: its index and the alias its dataplane gave it (which names
  // that dataplane's pid), for IsOurTap.
  int tap_ifindex = 0;
  std::string tap_alias;
  // The uplink's index at home after a restore handed it back under another index than the
  // snapshot's (PCI rebind, a move back into a namespace where its old index was taken): a
  // restore interrupted after that finds it there. 0 = the snapshot's.
  int uplink_ifindex = 0;
  // Files the run writes (startup.conf, exec file, CLI socket), recorded before they are.
  std::vector<std::string> runtime_files;

  json ToJson() const {
    return json{{"version", kStateVersion},
                {"snapshot", SnapshotToJson(snapshot)},
                {"dataplane_netns", dataplane_netns},
                {"driver", driver},
                {"dataplane_pid", dataplane_pid},
                {"phase", phase},
                {"swapped_to", swapped_to},
                {"tap_ifindex", tap_ifindex},
                {"tap_alias", tap_alias},
                {"uplink_ifindex", uplink_ifindex},
                {"runtime_files", runtime_files}};
  }
  static Result<State> FromJson(const json& j, const std::string& path) {
    if (!j.is_object() || !j.contains("snapshot") || !j.value("version", 0)) {
      return Failure(EINVAL, "{}: not an uplinkd manager state file", path);
    }
    auto snap = SnapshotFromJson(j["snapshot"]);
    if (!snap.ok()) return snap.status().WithContext(path);
    State s;
    s.snapshot = std::move(snap).value();
    s.dataplane_netns = j.value("dataplane_netns", "");
    s.driver = j.value("driver", "");
    s.dataplane_pid = j.value("dataplane_pid", 0);
    s.phase = j.value("phase", "");
    s.swapped_to = j.value("swapped_to", "");
    s.tap_ifindex = j.value("tap_ifindex", 0);
    s.tap_alias = j.value("tap_alias", "");
    s.uplink_ifindex = j.value("uplink_ifindex", 0);
    if (auto files = j.find("runtime_files"); files != j.end() && files->is_array()) {
      for (const json& f : *files) {
        if (f.is_string()) s.runtime_files.push_back(f.get<std::string>());
      }
    }
    return s;
  }
};

class Manager {
 public:
  Manager(const ManagerOptions& options, ManagerConfig config)
      : options_(options), config_(std::move(config)), log_(Logger("manager")) {}

  int Run();

 private:
  struct RestoreOutcome {
    Status status;              // every failure, in one message
    bool uplink_found = true;   // false: the uplink is nowhere (unplugged, deleted)
  };

  Status Open();
  // Undoes an earlier run's state file, if any; `uplink_missing` says whether its uplink is gone.
  Status RestoreFromStateFile(bool* uplink_missing);
  RestoreOutcome Restore(const State& state);
  void StopEarlierDataplane(pid_t pid);
  void RemoveStaleDpdkRuntimeDirs();
  // Moves the parked uplink home (renamed back first if it was renamed there); `still_parked`
  // says whether it is still in the dataplane's netns afterwards.
  Status BringUplinkHome(const State& state, bool name_taken, bool* still_parked);
  // Our host tap, positively: a tun device at the index recorded for it, with the alias recorded
  // for it (uplinkd's, naming the dataplane that made it).
  bool IsOurTap(const Netlink::LinkInfo& link, const State& state) const;
  // Renames the state file to STATE.failed-TIME (for the operator); returns the new name.
  std::string MoveStateFileAside();
  Status SaveState();
  // A SIGTERM or SIGINT is pending (they are blocked and taken by Supervise): the takeover
  // stops at its next step and the node is restored.
  bool StopRequested() const;
  UplinkFacts Facts(const LinkSnapshot& snap) const;
  // `rendered` is the configuration rendered (and validated) once for every driver.
  Status Takeover(const DriverSupport& driver, Rendered rendered);
  Result<Rendered> Render() const;
  Status PreconfigureAfXdp(uint32_t buffer_data_size);
  // dpdk: the driver's startup.conf edits; on a PCI uplink the device is bound to vfio-pci (or
  // CALICOVPP_SWAP_DRIVER) and leaves Linux.
  Status PreconfigureDpdk(Rendered& rendered);
  std::string DpdkPciDriver() const;
  // Gives a swapped PCI uplink back to its kernel driver and waits for its interface; returns
  // its index (named as in the snapshot again, unless another link has that name).
  Result<int> ReturnPciUplink(const State& state, bool name_taken);
  // Binds the PCI uplink to `target` for the run (dpdk; `none` with CALICOVPP_SWAP_DRIVER),
  // recorded first in the state file so that any restore gives it back.
  Status SwapPciDriver(const std::string& target);
  void DetachLeftoverXdp(int ifindex);
  Status StartDataplane(const std::string& netns, const Rendered& rendered);
  Status ConfigureDataplane(const DriverSupport& driver, const Rendered& rendered);
  // The host tap just made by `create tap`: checked to be ours and recorded.
  Status AdoptTap();
  void StopDataplane();
  // Watches the parked uplink from inside the dataplane's netns (vanished, carrier).
  Status WatchParkedUplink();
  int Supervise();

  const ManagerOptions options_;
  const ManagerConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<Netlink> nl_;
  int own_netns_fd_ = -1;
  State state_;
  pid_t child_ = -1;
  // af_xdp: frames larger than a buffer as multi-buffer (else the MTU is capped), and what
  // pre-configuration settled on.
  bool af_xdp_multi_buffer_ = false;
  uint32_t run_mtu_ = 0;          // the uplink's MTU during the run (0 = unchanged)
  uint32_t af_xdp_queues_ = 1;    // rx queues (AF_XDP sockets)
  // dpdk: how the dataplane names (or tags) the uplink, and whether it is a vdev on the Linux
  // interface (parked in the dataplane's netns) rather than the PCI device itself.
  std::string dpdk_uplink_;
  bool dpdk_vdev_ = false;
  // The uplink parked in the dataplane's netns: its index there (0 = not parked) and a
  // subscription to its link notifications.
  int parked_ifindex_ = 0;
  std::unique_ptr<LinkMonitor> uplink_monitor_;
};

Status Manager::Open() {
  auto nl = Netlink::Open();
  if (!nl.ok()) return nl.status();
  nl_ = std::move(nl).value();
  auto fd = OpenCurrentNetns();
  if (!fd.ok()) return fd.status();
  own_netns_fd_ = *fd;
  return Status::Ok();
}

Status Manager::SaveState() {
  return WriteStateFileAtomic(options_.state_file, state_.ToJson());
}

Status Manager::RestoreFromStateFile(bool* uplink_missing) {
  *uplink_missing = false;
  auto read = ReadStateFile(options_.state_file);
  if (!read.ok()) {
    std::string aside = MoveStateFileAside();
    return read.status().WithContext(fmt::format("kept as {}", aside));
  }
  if (!read->has_value()) return Status::Ok();
  auto state = State::FromJson(**read, options_.state_file);
  if (!state.ok()) {
    // Unreadable: nothing in it can be undone. Kept aside for the operator, never in the way of
    // the next start.
    std::string aside = MoveStateFileAside();
    return state.status().WithContext(fmt::format("kept as {}", aside));
  }
  log_->warn("found {} from an earlier run (phase '{}'): restoring {} first",
             options_.state_file, state->phase, state->snapshot.name);
  RestoreOutcome outcome = Restore(*state);
  *uplink_missing = !outcome.uplink_found;
  return outcome.status;
}

std::string Manager::MoveStateFileAside() {
  char stamp[32] = {0};
  time_t now = time(nullptr);
  tm utc{};
  gmtime_r(&now, &utc);
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  std::string aside = fmt::format("{}.failed-{}", options_.state_file, stamp);
  if (rename(options_.state_file.c_str(), aside.c_str()) != 0 && errno != ENOENT) {
    // It must not block the next start: remove it rather than keep it in place.
    log_->error("cannot keep {} as {}: {}; removing it", options_.state_file, aside,
                std::strerror(errno));
    unlink(options_.state_file.c_str());
    return "(removed)";
  }
  return aside;
}

// Gone, or a zombie: either way it holds no fd any more (files are closed before exit turns a
// process into a zombie).
bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

// Whether `pid` runs the uplinkd binary. While a killed process exits, its exe link is gone
// before its fds are closed (the tap, AF_XDP sockets, a BPF link): its comm still says.
bool IsUplinkdProcess(pid_t pid) {
  char exe[256] = {0};
  ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), exe, sizeof exe - 1);
  if (n > 0) return std::string(exe).find("uplinkd") != std::string::npos;
  std::ifstream comm(fmt::format("/proc/{}/comm", pid));
  std::string name;
  std::getline(comm, name);
  return name == "uplinkd";
}

void Manager::StopEarlierDataplane(pid_t pid) {
  if (pid <= 0 || pid == child_ || ProcessGone(pid)) return;
  // A recycled pid belongs to someone else: only an uplinkd process is ours to stop.
  if (!IsUplinkdProcess(pid)) return;
  log_->info("stopping the earlier dataplane (pid {})", pid);
  kill(pid, SIGKILL);
  for (int i = 0; i < 300 && !ProcessGone(pid); ++i) usleep(10000);
}

// EAL runtime directories (/var/run/dpdk/uplinkd-PID) of dataplanes that are gone: a dataplane
// killed before the state file recorded its pid is found by this name.
void Manager::RemoveStaleDpdkRuntimeDirs() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/var/run/dpdk", ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("uplinkd-", 0) != 0) continue;
    std::optional<uint64_t> pid = ParseUnsigned(name.substr(8));
    if (!pid || *pid == 0 || *pid > INT32_MAX) continue;
    if (kill(static_cast<pid_t>(*pid), 0) == 0 || errno != ESRCH) continue;
    std::filesystem::remove_all(entry.path(), ec);
  }
}

bool Manager::IsOurTap(const Netlink::LinkInfo& link, const State& state) const {
  return link.kind == "tun" && HasHostTapAlias(link.alias) && link.alias == state.tap_alias &&
         link.ifindex == state.tap_ifindex;
}

// Puts the uplink back as the snapshot describes it, from whatever state a run left: dataplane
// alive or dead, uplink parked in the dataplane's netns or already back, tap present or gone,
// the uplink itself gone. Every step is tried; everything that is ours is removed; a link that
// is not positively ours is never deleted, renamed or reconfigured. The state file is removed
// when all went well, else kept aside (STATE.failed-TIME) with every failure in the log.
Manager::RestoreOutcome Manager::Restore(const State& recorded) {
  Clock::time_point start = Clock::now();
  State state = recorded;
  const LinkSnapshot& snap = state.snapshot;
  Failures failures;
  RestoreOutcome outcome;
  // 1. No dataplane may hold the uplink any more.
  StopEarlierDataplane(state.dataplane_pid);
  RemoveStaleDpdkRuntimeDirs();

  // 2. Whatever holds the uplink's name here. Our tap goes; a tap of ours whose index was never
  //    recorded belongs to a dataplane that died with its manager and goes by itself; anything
  //    else is not ours and stays as it is.
  bool uplink_here = false;
  bool name_taken = false;
  int foreign_ifindex = 0;  // the link that has the uplink's name and is not ours
  Clock::time_point tap_deadline = Clock::now() + kUnrecordedTapTimeout;
  while (true) {
    auto here = nl_->GetLink(snap.name);
    if (!here.ok()) break;
    if ((here->ifindex == snap.ifindex || here->ifindex == state.uplink_ifindex) &&
        !HasHostTapAlias(here->alias)) {
      uplink_here = true;
      break;
    }
    if (IsOurTap(*here, state)) {
      log_->info("removing the host tap {} (index {})", snap.name, here->ifindex);
      Status deleted = nl_->DeleteLink(here->ifindex);
      if (!deleted.ok() && deleted.code() != ENODEV) {
        failures.Add(deleted);
        name_taken = true;
      }
      break;
    }
    bool dying_tap = here->kind == "tun" && HasHostTapAlias(here->alias);
    if (dying_tap && Clock::now() < tap_deadline) {
      usleep(10000);
      continue;
    }
    log_->warn("{} (index {}, kind '{}', alias '{}') is not uplinkd's host tap{}: left as it is",
               snap.name, here->ifindex, here->kind.empty() ? "device" : here->kind, here->alias,
               state.tap_ifindex ? fmt::format(" (ours was index {})", state.tap_ifindex) : "");
    name_taken = true;
    foreign_ifindex = here->ifindex;
    break;
  }

  // 3. dpdk on a PCI uplink: the device goes back to its kernel driver, its interface comes
  //    back (with a new index, recorded at once) and gets its name again.
  std::optional<int> pci_index;
  if (!state.swapped_to.empty()) {
    auto back = ReturnPciUplink(state, name_taken);
    if (back.ok()) {
      pci_index = *back;
      uplink_here = true;
      state.uplink_ifindex = *back;
      state.swapped_to.clear();
      failures.Add(WriteStateFileAtomic(options_.state_file, state.ToJson()));
    } else {
      failures.Add(back.status());
    }
  }

  // 4. Bring the uplink home from the dataplane's netns.
  bool uplink_parked = false;
  if (!uplink_here && !state.dataplane_netns.empty() && NamedNetnsExists(state.dataplane_netns)) {
    Status moved = BringUplinkHome(state, name_taken, &uplink_parked);
    failures.Add(moved.WithContext("moving " + snap.name + " back"));
    auto home = nl_->GetLink(snap.name);
    if (moved.ok() && home.ok() && home->ifindex != snap.ifindex) {
      state.uplink_ifindex = home->ifindex;
      failures.Add(WriteStateFileAtomic(options_.state_file, state.ToJson()));
    }
  }

  // 5. The uplink, at home: by name when it is the one we took, else by its index.
  std::optional<int> idx = pci_index;
  if (!idx) {
    auto by_name = nl_->GetLink(snap.name);
    auto by_index = nl_->GetLink(state.uplink_ifindex ? state.uplink_ifindex : snap.ifindex);
    if (by_name.ok() && by_name->ifindex != foreign_ifindex && !HasHostTapAlias(by_name->alias)) {
      idx = by_name->ifindex;
    } else if (by_index.ok() && by_index->ifindex != foreign_ifindex &&
               !HasHostTapAlias(by_index->alias)) {
      idx = by_index->ifindex;
    }
  }
  if (!idx && !uplink_parked) {
    outcome.uplink_found = false;
    failures.Add(Failure(ENODEV, "{} (index {}) is gone: neither here nor in netns '{}'",
                         snap.name, snap.ifindex, state.dataplane_netns));
  } else if (idx) {
    if (state.driver == "af_xdp") DetachLeftoverXdp(*idx);
    failures.Add(RestoreLink(*nl_, *idx, snap));
  }

  // 6. The rest of what is ours: the dataplane's netns (even half-made: a bare file), unless
  //    the uplink could not leave it (deleting the netns would destroy a veth or send a NIC to
  //    the init namespace), and the runtime files.
  if (!state.dataplane_netns.empty() && NamedNetnsPathExists(state.dataplane_netns)) {
    if (uplink_parked) {
      failures.Add(Failure(EBUSY, "netns '{}' kept: {} is still in it", state.dataplane_netns,
                           snap.name));
    } else {
      failures.Add(DeleteNamedNetns(state.dataplane_netns));
    }
  }
  for (const std::string& path : state.runtime_files) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) failures.Add(ErrnoFailure("remove {}", path));
  }

  outcome.status = failures.ToStatus(fmt::format("restoring {}", snap.name));
  if (outcome.status.ok()) {
    Status removed = RemoveStateFile(options_.state_file);
    if (!removed.ok()) outcome.status = removed;
    log_->info("{} restored in {:.0f} ms", snap.name, MsSince(start));
  } else {
    std::string aside = MoveStateFileAside();
    log_->error("{} (in {:.0f} ms); the state file is kept as {}", outcome.status.message(),
                MsSince(start), aside);
  }
  return outcome;
}

Status Manager::BringUplinkHome(const State& state, bool name_taken, bool* still_parked) {
  const LinkSnapshot& snap = state.snapshot;
  auto dp_fd = OpenNetns(state.dataplane_netns);
  if (!dp_fd.ok()) return dp_fd.status();
  int own = own_netns_fd_;
  Status moved = RunInNetns(*dp_fd, [&]() -> Status {
    auto dp_nl = Netlink::Open();
    if (!dp_nl.ok()) return dp_nl.status();
    Netlink& dp = **dp_nl;
    auto idx = dp.LinkIndex(snap.name);
    if (!idx.ok()) {
      // Renamed while parked (a crash half-way, a user): it keeps its index there. Give it its
      // name back here, where nothing else can hold that name, so it arrives home as itself.
      auto by_index = dp.GetLink(snap.ifindex);
      if (!by_index.ok()) return Status::Ok();  // not there: nothing to move
      idx = by_index->ifindex;
      UPLINKD_RETURN_IF_ERROR(dp.SetLinkUp(*idx, false));  // a link is renamed only when down
      UPLINKD_RETURN_IF_ERROR(dp.SetLinkName(*idx, snap.name));
    }
    if (name_taken) {
      *still_parked = true;
      return Failure(EEXIST, "a link that is not uplinkd's has the name {} here", snap.name);
    }
    Status status = dp.MoveLinkToNetns(*idx, own);
    if (!status.ok()) *still_parked = true;
    return status;
  });
  close(*dp_fd);
  return moved;
}

Result<int> Manager::ReturnPciUplink(const State& state, bool name_taken) {
  const LinkSnapshot& snap = state.snapshot;
  PciSysfs pci;
  UPLINKD_RETURN_IF_ERROR(pci.Restore(snap.pci_id, snap.pci_driver)
                              .WithContext("giving " + snap.pci_id + " back to " + snap.pci_driver));
  Clock::time_point deadline = Clock::now() + kNetdevReturnTimeout;
  std::string name = pci.NetdevName(snap.pci_id);
  while (name.empty() && Clock::now() < deadline) {
    usleep(50000);
    name = pci.NetdevName(snap.pci_id);
  }
  if (name.empty()) {
    return Failure(ENODEV, "{} is bound to {} again but no network interface appeared",
                   snap.pci_id, snap.pci_driver);
  }
  auto link = nl_->GetLink(name);
  if (!link.ok()) return link.status().WithContext(snap.pci_id + "'s interface " + name);
  if (name != snap.name && !name_taken) {
    // A link is renamed only when down; RestoreLink sets its admin state afterwards.
    UPLINKD_RETURN_IF_ERROR(nl_->SetLinkUp(link->ifindex, false));
    UPLINKD_RETURN_IF_ERROR(nl_->SetLinkName(link->ifindex, snap.name));
    log_->info("{} is back from {} as {} (index {}), renamed {}", snap.pci_id, state.swapped_to,
               name, link->ifindex, snap.name);
  }
  return link->ifindex;
}

Status Manager::StartDataplane(const std::string& netns, const Rendered& rendered) {
  std::string conf = options_.run_dir + "/startup.conf";
  state_.runtime_files = {conf, rendered.exec_file_path, rendered.cli_socket};
  state_.phase = "starting";
  UPLINKD_RETURN_IF_ERROR(SaveState());  // the files are recorded before they exist
  UPLINKD_RETURN_IF_ERROR(WriteTextFile(conf, rendered.startup_conf));
  UPLINKD_RETURN_IF_ERROR(WriteTextFile(rendered.exec_file_path, rendered.exec_contents));
  int netns_fd = -1;
  if (!netns.empty()) {
    auto fd = OpenNetns(netns);
    if (!fd.ok()) return fd.status();
    netns_fd = *fd;
  }
  const pid_t manager_pid = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    Status failed = ErrnoFailure("fork");
    if (netns_fd >= 0) close(netns_fd);
    return failed;
  }
  if (pid == 0) {
    // The dataplane dies with the manager: a dataplane nobody supervises must not keep the uplink.
    // A manager that died before prctl took effect would go unnoticed: check it is still ours.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != manager_pid) _exit(125);
    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) _exit(126);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    execl(options_.self_exe.c_str(), "uplinkd", "dataplane", "-c", conf.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  if (netns_fd >= 0) close(netns_fd);
  child_ = pid;
  state_.dataplane_pid = pid;
  UPLINKD_RETURN_IF_ERROR(SaveState());
  // Ready when the CLI answers (the exec file has run by then).
  Clock::time_point deadline = Clock::now() + kDataplaneStartTimeout;
  while (Clock::now() < deadline) {
    if (StopRequested()) return Failure(ECANCELED, "stop requested while the dataplane started");
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      child_ = -1;
      return Failure(EIO, "the dataplane exited during start ({} {})",
                     WIFEXITED(status) ? "exit" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    auto client = CliClient::Connect(rendered.cli_socket);
    if (client.ok()) {
      auto reply = (*client)->Call("show version", false);
      if (reply.ok() && reply->status.ok()) return Status::Ok();
    }
    usleep(20000);
  }
  return Failure(ETIMEDOUT, "the dataplane did not answer on {} within {} s", rendered.cli_socket,
                 kDataplaneStartTimeout.count());
}

bool Manager::StopRequested() const {
  sigset_t pending;
  sigemptyset(&pending);
  if (sigpending(&pending) != 0) return false;
  return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1;
}

Status Manager::ConfigureDataplane(const DriverSupport& driver, const Rendered& rendered) {
  const UplinkSpec& uplink = config_.uplinks[0];
  const LinkSnapshot& snap = state_.snapshot;
  std::string uplink_if;
  std::vector<std::string> commands;
  // The create commands are printed from the typed queues ParseManagerEnv checked with the
  // dataplane's limits, by the formatter beside the dataplane's parser: it reads back the same.
  if (driver.driver == "af_packet") {
    AfPacketArgs args = AfPacketArgsFor(snap.name, uplink);
    uplink_if = AfPacketInterfaceName(args);
    commands.push_back("create host-interface " + JoinCliWords(FormatAfPacketCreateArgs(args)));
  } else if (driver.driver == "af_xdp") {
#ifdef UPLINKD_WITH_XDP
    // One socket per rx channel: af_xdp_queues_, the uplink's count unless the channels could
    // not be raised to it (PreconfigureAfXdp).
    InterfaceQueues queues = uplink;
    Result<uint16_t> sockets = CheckQueueCount("num-rx-queues", af_xdp_queues_);
    if (!sockets.ok()) return sockets.status();
    queues.num_rx_queues = *sockets;
    AfXdpArgs args = AfXdpArgsFor(snap.name, queues);
    args.multi_buffer = af_xdp_multi_buffer_;
    uplink_if = AfXdpInterfaceName(args);
    commands.push_back("create interface af_xdp " + JoinCliWords(FormatAfXdpCreateArgs(args)));
#else
    return Failure(ENOTSUP, "driver af_xdp: uplinkd was built without it");
#endif
  } else if (driver.driver == "dpdk") {
    uplink_if = dpdk_uplink_;  // made by the dpdk stanza; found by its tag or its vdev name
  } else {
    return Failure(ENOTSUP, "driver {}: {}", driver.driver, driver.reason);
  }
  RxMode mode = uplink.rx_mode.value_or(driver.driver == "af_packet" ? RxMode::kInterrupt
                                                                     : RxMode::kAdaptive);
  if (driver.driver == "dpdk" && mode != RxMode::kPolling) {
    if (uplink.rx_mode) {
      log_->warn("dpdk ports are polled (their rx interrupts are not used): rx mode {} does not "
                 "apply", RxModeName(mode));
    }
    mode = RxMode::kPolling;
  }
  uint32_t mtu = uplink.mtu.value_or(snap.mtu);
  if (run_mtu_ != 0) mtu = std::min(mtu, run_mtu_);  // the host must not send what cannot pass
  // gro-coalesce: the uplink hands us wire-sized TCP segments (af_xdp, af_packet without GRO,
  // DPDK); one super-frame per flow and burst spares the node's stack a write and a pass per
  // segment, as the kernel's own GRO would have on the NIC.
  commands.push_back(fmt::format(
      "create tap id 0 host-if-name {} host-ns /proc/{}/ns/net host-mac-addr {} host-mtu-size {} "
      "gro-coalesce",
      snap.name, getpid(), FormatMac(snap.mac), mtu));
  commands.push_back(fmt::format("set interface rx-mode {} {}", uplink_if, RxModeName(mode)));
  commands.push_back(fmt::format("set interface l2 xconnect {} tap0", uplink_if));
  commands.push_back(fmt::format("set interface l2 xconnect tap0 {}", uplink_if));
  commands.push_back(fmt::format("set interface state {} up", uplink_if));
  commands.push_back("set interface state tap0 up");
  auto client = CliClient::Connect(rendered.cli_socket);
  if (!client.ok()) return client.status();
  state_.phase = "configuring";
  UPLINKD_RETURN_IF_ERROR(SaveState());
  for (const std::string& command : commands) {
    if (StopRequested()) return Failure(ECANCELED, "stop requested while configuring");
    auto reply = (*client)->Call(command, false);
    if (!reply.ok()) return reply.status().WithContext(command);
    if (!reply->status.ok()) return reply->status.WithContext(command);
    log_->info("dataplane: {}", command);
    if (command.rfind("create tap ", 0) == 0) UPLINKD_RETURN_IF_ERROR(AdoptTap());
  }
  return Status::Ok();
}

Status Manager::AdoptTap() {
  const std::string& name = state_.snapshot.name;
  auto tap = nl_->GetLink(name);
  if (!tap.ok()) return tap.status().WithContext("host tap");
  if (tap->kind != "tun" || !HasHostTapAlias(tap->alias)) {
    return Failure(EEXIST, "{} (index {}, kind '{}') here is not the host tap the dataplane made",
                   name, tap->ifindex, tap->kind);
  }
  state_.tap_ifindex = tap->ifindex;
  state_.tap_alias = tap->alias;
  return SaveState();
}

UplinkFacts Manager::Facts(const LinkSnapshot& snap) const {
  UplinkFacts f;
  f.name = snap.name;
  f.kernel_driver = snap.driver;
  f.pci_id = snap.pci_id;
  f.mtu = snap.mtu;
#ifdef UPLINKD_WITH_XDP
  if (Status k = CheckAfXdpKernel(); !k.ok()) {
    f.af_xdp_blocker = k.message();
  } else if (auto attached = QueryAttachedXdp(snap.ifindex); !attached.ok()) {
    f.af_xdp_blocker = attached.status().message();
  } else if (attached->has_value()) {
    f.af_xdp_blocker = ForeignXdpFailure(**attached).message();
  }
  // Only where af_xdp can run (no XDP program attached: the trial bind of older kernels then
  // restarts no queue) and before anything changes. Unknown ranks af_xdp as copy mode.
  if (f.af_xdp_blocker.empty()) {
    if (auto zc = ProbeXskZeroCopy(snap.ifindex); zc.ok()) {
      f.af_xdp_zero_copy = zc->zero_copy;
      f.af_xdp_zero_copy_evidence = zc->from_xdp_features
                                        ? UplinkFacts::ZeroCopyEvidence::kXdpFeatures
                                        : UplinkFacts::ZeroCopyEvidence::kTrialBind;
    } else {
      f.af_xdp_zero_copy_error = zc.status().message();
    }
  }
  f.af_xdp_multi_buffer = options_.af_xdp_multi_buffer && KernelHasAfXdpMultiBuffer();
#else
  f.af_xdp_blocker = "this build has no af_xdp driver (UPLINKD_WITH_XDP=OFF)";
#endif
#ifdef UPLINKD_WITH_DPDK
  f.dpdk_built = true;
  // A vdev of the template's dpdk stanza may drive the Linux interface; else the PCI device.
  RenderInputs in;
  in.pci_id = snap.pci_id;
  auto rendered = RenderConfig(config_, in);
  if (rendered.ok()) f.dpdk_vdev = VdevForInterface(rendered->config, snap.name);
  f.pci_driver = snap.pci_driver;
  f.dpdk_pci_driver = DpdkPciDriver();
  f.dpdk_noiommu_without_hugepages = !HugepagesFree() && VfioNoIommuMode();
#endif
  return f;
}

std::string Manager::DpdkPciDriver() const {
  const std::string& wanted = config_.uplinks[0].new_driver;  // CALICOVPP_SWAP_DRIVER / newDriver
  return wanted.empty() ? kDefaultDpdkPciDriver : wanted;
}

Status Manager::PreconfigureDpdk(Rendered& rendered) {
  const LinkSnapshot& snap = state_.snapshot;
  const UplinkSpec& uplink = config_.uplinks[0];
  DpdkTemplateInputs in;
  in.interface_name = snap.name;
  in.pci_id = snap.pci_id;
  if (uplink.num_rx_queues) in.rx_queues = uplink.num_rx_queues;
  if (uplink.num_tx_queues) in.tx_queues = uplink.num_tx_queues;
  if (uplink.rx_queue_size) in.rx_desc = uplink.rx_queue_size;
  if (uplink.tx_queue_size) in.tx_desc = uplink.tx_queue_size;
  in.hugepages_free = HugepagesFree();
  auto edit = EditTemplateForDpdk(rendered.config, in);
  if (!edit.ok()) return edit.status();
  for (const std::string& note : edit->notes) log_->info("dpdk: {}", note);
  rendered.startup_conf = FormatStartupConfig(rendered.config);
  dpdk_uplink_ = edit->uplink_interface;
  dpdk_vdev_ = edit->uplink_is_vdev;
  if (dpdk_vdev_) return Status::Ok();  // parked in the dataplane's netns, as for af_packet

  // The PCI device leaves Linux: refused first where that cannot work.
  if (!in.hugepages_free && VfioNoIommuMode()) {
    return Failure(EINVAL, "dpdk: no free hugepages and vfio in no-IOMMU mode: DPDK without "
                   "hugepages needs an IOMMU; reserve hugepages");
  }
  return SwapPciDriver(DpdkPciDriver());
}

Status Manager::SwapPciDriver(const std::string& target) {
  const LinkSnapshot& snap = state_.snapshot;
  PciSysfs pci;
  if (!pci.DriverRegistered(target)) {
    Status loaded = LoadKernelModule(target);
    if (!pci.DriverRegistered(target)) {
      return Failure(ENOENT, "PCI driver {} is not available ({})", target,
                     loaded.ok() ? "not registered after modprobe" : loaded.message());
    }
  }
  state_.swapped_to = target;
  state_.phase = "swapping";
  UPLINKD_RETURN_IF_ERROR(SaveState());  // a crash from here on rebinds the original driver
  UPLINKD_RETURN_IF_ERROR(nl_->SetLinkUp(snap.ifindex, false));
  return pci.Bind(snap.pci_id, target);
}

// Before the uplink is parked (the settings travel with it): promiscuous mode (the tap's MAC is
// the uplink's, but multicast and the addresses of pods behind us are not), the MTU cap where
// jumbo frames cannot be multi-buffer, and the rx channel count CALICOVPP_RX_QUEUES asks for.
// Restore puts all three back from the snapshot.
Status Manager::PreconfigureAfXdp(uint32_t buffer_data_size) {
  const LinkSnapshot& snap = state_.snapshot;
  const UplinkSpec& uplink = config_.uplinks[0];
  state_.phase = "preconfig";
  UPLINKD_RETURN_IF_ERROR(SaveState());
  UPLINKD_RETURN_IF_ERROR(nl_->SetLinkPromisc(snap.ifindex, true).WithContext("promisc on"));
#ifdef UPLINKD_WITH_XDP
  uint32_t buffer_mtu = AfXdpSingleBufferMtu(buffer_data_size);
#else
  uint32_t buffer_mtu = buffer_data_size;
#endif
  run_mtu_ = AfXdpRunMtu(snap.mtu, af_xdp_multi_buffer_, buffer_mtu);
  if (run_mtu_ != snap.mtu) {
    log_->warn("{}: MTU {} lowered to {} for the run (restored at exit): no multi-buffer AF_XDP "
               "here, and frames must fit one buffer ({}: data-size {}{})",
               snap.name, snap.mtu, run_mtu_, run_mtu_ == kAfXdpMtuCap ? "cap" : "limit",
               buffer_data_size,
               run_mtu_ < kAfXdpMtuCap ? "; buffers { default data-size 3264 } allows 3072" : "");
    UPLINKD_RETURN_IF_ERROR(nl_->SetLinkMtu(snap.ifindex, run_mtu_).WithContext("lowering MTU"));
  }
  af_xdp_queues_ = uplink.num_rx_queues ? uplink.num_rx_queues : 1;
  // Rx queues in use now: the channel count (IFLA_NUM_RX_QUEUES is the most there can be).
  uint32_t have = snap.num_rx_queues ? snap.num_rx_queues : 1;
  if (snap.channels) {
    uint32_t now = snap.channels->max_combined > 0 ? snap.channels->combined : snap.channels->rx;
    if (now > 0) have = now;
  }
  if (af_xdp_queues_ != have) {
    Status set = Failure(EOPNOTSUPP, "the driver has no ethtool channels");
    if (snap.channels) {
      Channels want = *snap.channels;
      if (want.max_combined > 0) {
        want.combined = af_xdp_queues_;
      } else {
        want.rx = af_xdp_queues_;
      }
      auto ethtool = Ethtool::Open();
      set = ethtool.ok() ? (*ethtool)->SetChannels(snap.name, want) : ethtool.status();
    }
    if (set.ok()) {
      log_->info("{}: {} rx channels for {} AF_XDP sockets (was {})", snap.name, af_xdp_queues_,
                 af_xdp_queues_, have);
    } else {
      log_->warn("{}: cannot set {} rx channels ({}); using the current {}", snap.name,
                 af_xdp_queues_, set.message(), have);
      af_xdp_queues_ = std::min(af_xdp_queues_, have);
    }
  }
  return Status::Ok();
}

// A dataplane that died leaves no XDP program where it attached through a BPF link (the kernel
// drops it with the last fd); one attached through netlink (kernels < 5.9) stays: remove it, but
// only if it is uplinkd's.
void Manager::DetachLeftoverXdp(int ifindex) {
#ifdef UPLINKD_WITH_XDP
  auto attached = QueryAttachedXdp(ifindex);
  if (!attached.ok() || !attached->has_value()) return;
  if (!IsUplinkdXdpProgram(**attached)) {
    log_->warn("{}: XDP program '{}' (id {}) is not uplinkd's: left attached",
               state_.snapshot.name, (*attached)->name, (*attached)->id);
    return;
  }
  Status s = DetachXdpProgram(ifindex, **attached);
  // Attached by a BPF link that a dying dataplane still holds (one whose pid was never
  // recorded): it goes with that process's last fd.
  for (int i = 0; i < 100 && !s.ok(); ++i) {
    usleep(20000);
    auto now = QueryAttachedXdp(ifindex);
    if (now.ok() && (!now->has_value() || (*now)->id != (*attached)->id)) s = Status::Ok();
  }
  if (s.ok()) {
    log_->info("{}: detached uplinkd's XDP program (id {}) left by the dataplane",
               state_.snapshot.name, (*attached)->id);
  } else {
    log_->error("{}: {}", state_.snapshot.name, s.message());
  }
#else
  (void)ifindex;
#endif
}

Status Manager::Takeover(const DriverSupport& driver, Rendered rendered_config) {
  Clock::time_point start = Clock::now();
  const LinkSnapshot& snap = state_.snapshot;
  state_.driver = driver.driver;
  Rendered* rendered = &rendered_config;
  run_mtu_ = 0;
  parked_ifindex_ = 0;
  if (driver.driver == "dpdk") UPLINKD_RETURN_IF_ERROR(PreconfigureDpdk(*rendered));
  if (driver.driver == "none" && !config_.uplinks[0].new_driver.empty()) {
    // As Calico's `none`: the PCI device goes to CALICOVPP_SWAP_DRIVER for the template's own
    // dpdk stanza (or exec commands) to take.
    if (snap.pci_id.empty()) {
      log_->warn("{} has no PCI id: CALICOVPP_SWAP_DRIVER={} not applied", snap.name,
                 config_.uplinks[0].new_driver);
    } else {
      UPLINKD_RETURN_IF_ERROR(SwapPciDriver(config_.uplinks[0].new_driver));
    }
  }
  // The uplink is parked in the dataplane's netns when a driver there opens it by name; a PCI
  // device taken by DPDK has left Linux, and `none` leaves everything to the exec template.
  const bool park = driver.driver != "none" && (driver.driver != "dpdk" || dpdk_vdev_);
  std::string netns = park ? state_.dataplane_netns : "";
  if (driver.driver == "af_xdp") {
    // AF_XDP needs UMEM chunks of 2048 bytes at least: a buffer's headroom plus its data.
    uint32_t data_size = rendered->config.buffers.default_data_size;
    if (data_size + kBufferHeadroom < 2048) {
      return Failure(EINVAL, "af_xdp needs buffers {{ default data-size {} }} or more, the "
                     "template has {}", 2048 - kBufferHeadroom, data_size);
    }
    UPLINKD_RETURN_IF_ERROR(PreconfigureAfXdp(data_size));
  }

  if (StopRequested()) return Failure(ECANCELED, "stop requested before the uplink was parked");
  if (!netns.empty()) {
    // Ours (its name is in the state file since the snapshot), maybe half-made by a manager
    // killed while creating it.
    if (NamedNetnsPathExists(netns)) UPLINKD_RETURN_IF_ERROR(DeleteNamedNetns(netns));
    UPLINKD_RETURN_IF_ERROR(CreateNamedNetns(netns));
    auto dp_fd = OpenNetns(netns);
    if (!dp_fd.ok()) return dp_fd.status();
    // The dataplane's netns has no IP stack of its own to speak on the uplink (no RS, ND, MLD).
    Status quiet = RunInNetns(*dp_fd, [] {
      Status s = WriteSysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
      if (!s.ok()) return s;
      return WriteSysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
    });
    state_.phase = "moving";
    Status saved = SaveState();
    Status moved = quiet.ok() && saved.ok() ? nl_->MoveLinkToNetns(snap.ifindex, *dp_fd) : Status();
    if (quiet.ok() && saved.ok() && moved.ok()) {
      moved = RunInNetns(*dp_fd, [&]() -> Status {
        auto dp_nl = Netlink::Open();
        if (!dp_nl.ok()) return dp_nl.status();
        auto idx = (*dp_nl)->LinkIndex(snap.name);
        if (!idx.ok()) return idx.status();
        parked_ifindex_ = *idx;
        return (*dp_nl)->SetLinkUp(*idx, true);
      });
    }
    close(*dp_fd);
    UPLINKD_RETURN_IF_ERROR(quiet);
    UPLINKD_RETURN_IF_ERROR(saved);
    UPLINKD_RETURN_IF_ERROR(moved.WithContext("parking " + snap.name + " in netns " + netns));
  }
  UPLINKD_RETURN_IF_ERROR(StartDataplane(netns, *rendered));
  if (driver.driver != "none") UPLINKD_RETURN_IF_ERROR(ConfigureDataplane(driver, *rendered));
  state_.phase = "running";
  UPLINKD_RETURN_IF_ERROR(SaveState());
  if (driver.driver == "none") return Status::Ok();

  // The tap appears in our netns under the uplink's name; give it the uplink's addresses and routes.
  Clock::time_point deadline = Clock::now() + kTapTimeout;
  Result<int> tap = nl_->LinkIndex(snap.name);
  while (!tap.ok() && Clock::now() < deadline && !StopRequested()) {
    usleep(10000);
    tap = nl_->LinkIndex(snap.name);
  }
  if (!tap.ok()) return tap.status().WithContext("host tap");
  if (*tap != state_.tap_ifindex) {
    return Failure(EEXIST, "{} here is index {}, not the host tap (index {})", snap.name, *tap,
                   state_.tap_ifindex);
  }
  if (StopRequested()) return Failure(ECANCELED, "stop requested before the tap was configured");
  UPLINKD_RETURN_IF_ERROR(ApplyAddressesAndRoutes(*nl_, *tap, snap));
  log_->info("{} taken over with {}: node reachable through the host tap after {:.0f} ms",
             snap.name, driver.driver, MsSince(start));
  return Status::Ok();
}

void Manager::StopDataplane() {
  if (child_ <= 0) return;
  kill(child_, SIGTERM);
  Clock::time_point deadline = Clock::now() + kStopTimeout;
  int status;
  while (Clock::now() < deadline) {
    if (waitpid(child_, &status, WNOHANG) == child_) {
      child_ = -1;
      return;
    }
    usleep(10000);
  }
  log_->warn("the dataplane did not stop within {} s: killing it", kStopTimeout.count());
  kill(child_, SIGKILL);
  waitpid(child_, &status, 0);
  child_ = -1;
}

Result<Rendered> Manager::Render() const {
  RenderInputs inputs;
  inputs.pci_id = state_.snapshot.pci_id;
  inputs.cli_socket = options_.run_dir + "/cli.sock";
  inputs.exec_file = options_.run_dir + "/startup.exec";
  return RenderConfig(config_, inputs);
}

Status Manager::WatchParkedUplink() {
  uplink_monitor_.reset();
  if (parked_ifindex_ == 0) return Status::Ok();  // not parked: nothing of it to watch here
  auto dp_fd = OpenNetns(state_.dataplane_netns);
  if (!dp_fd.ok()) return dp_fd.status();
  Status opened = RunInNetns(*dp_fd, [&]() -> Status {
    auto monitor = LinkMonitor::Open();
    if (!monitor.ok()) return monitor.status();
    uplink_monitor_ = std::move(monitor).value();
    return Status::Ok();
  });
  close(*dp_fd);
  return opened.WithContext("watching " + state_.snapshot.name);
}

int Manager::Supervise() {
  const std::string& name = state_.snapshot.name;
  if (Status s = WatchParkedUplink(); !s.ok()) log_->warn("{}", s.message());
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGCHLD);
  int sig_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sig_fd < 0) log_->warn("signalfd: {}; signals are checked every second", std::strerror(errno));
  bool carrier = true;
  uint64_t flaps = 0;
  Clock::time_point carrier_lost;
  // Ends the run: restores the node and says how it went.
  auto finish = [&](int code) {
    if (sig_fd >= 0) close(sig_fd);
    uplink_monitor_.reset();
    RestoreOutcome restored = Restore(state_);
    if (!restored.status.ok()) return code == kManagerExitUplinkMissing ? code : kManagerExitFailed;
    return code;
  };
  while (true) {
    pollfd fds[2] = {{sig_fd, POLLIN, 0},
                     {uplink_monitor_ ? uplink_monitor_->fd() : -1, POLLIN, 0}};
    poll(fds, 2, 1000);
    int sig = 0;
    if (sig_fd >= 0) {
      signalfd_siginfo info{};
      while (read(sig_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo != SIGCHLD) sig = static_cast<int>(info.ssi_signo);
      }
    } else {
      timespec zero{0, 0};
      int got = sigtimedwait(&signals, nullptr, &zero);
      if (got == SIGTERM || got == SIGINT) sig = got;
    }
    int status;
    if (child_ > 0 && waitpid(child_, &status, WNOHANG) == child_) {
      child_ = -1;
      log_->error("the dataplane exited ({} {}): restoring {}",
                  WIFEXITED(status) ? "exit" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), name);
      Clock::time_point start = Clock::now();
      int code = finish(kManagerExitFailed);
      log_->info("node restored {:.0f} ms after the dataplane died", MsSince(start));
      return code;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      log_->info("signal {}: stopping the dataplane and restoring {}", sig, name);
      StopDataplane();
      return finish(kManagerExitStopped);
    }
    if (!uplink_monitor_) continue;
    auto events = uplink_monitor_->Drain();
    if (!events.ok()) {
      log_->warn("{}: {}", name, events.status().message());
      continue;
    }
    for (const LinkMonitor::Event& e : *events) {
      if (e.link.ifindex != parked_ifindex_) continue;
      if (e.deleted) {
        log_->error("{} vanished from netns '{}' (removed, unplugged or moved away): stopping the "
                    "dataplane and removing what is uplinkd's", name, state_.dataplane_netns);
        StopDataplane();
        return finish(kManagerExitUplinkMissing);
      }
      if (e.link.oper_up == carrier) continue;
      carrier = e.link.oper_up;
      if (!carrier) {
        ++flaps;
        carrier_lost = Clock::now();
        log_->warn("{} lost its carrier (flap {}): no traffic until it comes back", name, flaps);
      } else {
        log_->info("{} has its carrier again after {:.0f} ms (flap {})", name,
                   MsSince(carrier_lost), flaps);
      }
    }
  }
}

int Manager::Run() {
  if (Status s = Open(); !s.ok()) {
    log_->error("{}", s.message());
    return kManagerExitFailed;
  }
  const UplinkSpec& uplink = config_.uplinks[0];
  // A killed manager left its state behind: undo that first, as far as it goes, and go on.
  bool earlier_uplink_missing = false;
  if (!options_.check_only) {
    if (Status s = RestoreFromStateFile(&earlier_uplink_missing); !s.ok()) {
      log_->error("the earlier run's state could not be fully restored: {}", s.message());
    }
  }
  auto snap = TakeSnapshot(*nl_, uplink.interface_name);
  if (!snap.ok()) {
    log_->error("{}: {}", uplink.name_source.empty() ? "CALICOVPP_INTERFACE=" + uplink.interface_name
                                                     : uplink.name_source,
                snap.status().message());
    if (earlier_uplink_missing) {
      log_->error("the uplink {} is missing: nothing to take over", uplink.interface_name);
      return kManagerExitUplinkMissing;
    }
    return kManagerExitConfig;
  }
  if (Status s = ValidateAgainstDevice(uplink, snap->num_rx_queues, snap->num_tx_queues); !s.ok()) {
    log_->error("{}", s.message());
    return kManagerExitConfig;
  }
  state_.snapshot = *snap;
  // The template once, before any driver: its mistakes are configuration errors.
  auto rendered = Render();
  if (!rendered.ok()) {
    log_->error("{}", rendered.status().message());
    if (options_.check_only) std::printf("configuration: %s\n", rendered.status().message().c_str());
    return kManagerExitConfig;
  }
  af_xdp_multi_buffer_ = options_.af_xdp_multi_buffer;
  UplinkFacts facts = Facts(*snap);
  af_xdp_multi_buffer_ = facts.af_xdp_multi_buffer;
  std::vector<DriverSupport> table = CheckDrivers(facts);
  std::vector<DriverSupport> candidates = Candidates(table, uplink.driver);
  if (options_.check_only) {
    std::printf("uplink %s: driver %s, pci %s, mtu %u, %u rx / %u tx queues, %zu addresses, %zu routes\n",
                snap->name.c_str(), snap->driver.c_str(),
                snap->pci_id.empty() ? "none" : snap->pci_id.c_str(), snap->mtu,
                snap->num_rx_queues, snap->num_tx_queues, snap->addresses.size(),
                snap->routes.size());
    std::printf("%s", FormatDriverTable(table).c_str());
    std::printf("would try: ");
    for (const auto& c : candidates) {
      if (c.supported) std::printf("%s ", c.driver.c_str());
    }
    std::printf("\n");
    return 0;
  }
  // An explicit driver that cannot run here is refused before anything changes.
  if (!uplink.driver.empty() && !candidates[0].supported) {
    log_->error("driver {} cannot take {}: {}; nothing was changed", uplink.driver, snap->name,
                candidates[0].reason);
    return kManagerExitFailed;
  }
  for (const std::string& w : rendered->warnings) log_->warn("{}", w);
  if (uplink.driver.empty()) {
    for (const DriverSupport& d : table) {
      if (d.automatic && !d.supported) log_->info("auto: not {}: {}", d.driver, d.reason);
    }
    log_->info("auto: trying {}", FormatAutoOrder(candidates));
  }
  state_.dataplane_netns = options_.dataplane_netns.empty()
                               ? "uplinkd-" + state_.snapshot.name
                               : options_.dataplane_netns;
  state_.phase = "snapshot";
  if (Status s = SaveState(); !s.ok()) {
    log_->error("{}", s.message());  // nothing changed yet
    return kManagerExitFailed;
  }
  for (const DriverSupport& candidate : candidates) {
    log_->info("trying driver {}: {}", candidate.driver, candidate.reason);
    Status s = Takeover(candidate, *rendered);
    if (s.ok()) return Supervise();
    bool stopping = s.code() == ECANCELED;
    if (stopping) {
      log_->info("{}; restoring {}", s.message(), state_.snapshot.name);
    } else {
      log_->error("driver {} failed: {}; undoing", candidate.driver, s.message());
    }
    StopDataplane();
    RestoreOutcome restored = Restore(state_);
    if (!restored.status.ok()) return kManagerExitFailed;
    if (stopping) return kManagerExitStopped;
    State fresh;  // what the next candidate starts from: the snapshot and nothing done
    fresh.snapshot = state_.snapshot;
    fresh.dataplane_netns = state_.dataplane_netns;
    fresh.phase = "snapshot";
    state_ = std::move(fresh);
    if (Status w = SaveState(); !w.ok()) return kManagerExitFailed;
  }
  log_->error("no driver could take {}; the node keeps its interface", state_.snapshot.name);
  if (Status s = RemoveStateFile(options_.state_file); !s.ok()) log_->warn("{}", s.message());
  return kManagerExitFailed;
}

}  // namespace

ManagerOptions DefaultManagerOptions(const std::map<std::string, std::string>& env) {
  ManagerOptions o;
  o.state_file = Get(env, "UPLINKD_STATE_FILE", "");  // "" = the configuration's (Calico's knobs)
  o.run_dir = Get(env, "UPLINKD_RUN_DIR", "/run/uplinkd");
  o.dataplane_netns = Get(env, "UPLINKD_DATAPLANE_NETNS", "");
  o.af_xdp_multi_buffer = Get(env, "UPLINKD_AF_XDP_MULTI_BUFFER", "1") != "0";
  char exe[4096] = {0};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  o.self_exe = n > 0 ? std::string(exe, n) : "uplinkd";
  return o;
}

int RunManager(const ManagerOptions& options, const std::map<std::string, std::string>& env) {
  auto config = ParseManagerEnv(env);
  if (!config.ok()) {
    std::fprintf(stderr, "uplinkd manager: %s\n", config.status().message().c_str());
    return 2;
  }
  if (!SetLogLevel(config->log_level == "warning" ? "warn" : config->log_level)) {
    SetLogLevel("info");
  }
  for (const std::string& w : config->warnings) Logger("manager")->warn("{}", w);
  ManagerOptions resolved = options;
  if (resolved.state_file.empty()) resolved.state_file = config->state_file;
  // Signals are taken synchronously by the supervisor; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  mkdir(resolved.run_dir.c_str(), 0755);
  Manager manager(resolved, std::move(config).value());
  return manager.Run();
}

}  // namespace uplinkd
