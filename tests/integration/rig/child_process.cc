// Long-running child processes (the dataplane under test), with logs and CPU accounting.

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "tests/integration/rig/rig.h"
#include "tests/integration/rig/spawn.h"

namespace uplinkd::rig {
namespace {

using Clock = std::chrono::steady_clock;

ExitStatus FromWaitStatus(int status) {
  ExitStatus out;
  out.exited = true;
  if (status >= 0 && WIFEXITED(status)) out.code = WEXITSTATUS(status);
  if (status >= 0 && WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  return out;
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (!exited) return "running";
  if (signal != 0) return fmt::format("signal {} ({})", signal, strsignal(signal));
  return fmt::format("exit {}", code);
}

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                                  const ChildOptions& options) {
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->log_path_ = options.log_path;
  if (child->log_path_.empty()) {
    child->own_dir_ = TempDir::Create();
    if (child->own_dir_ == nullptr) return nullptr;
    child->log_path_ = child->own_dir_->Path("child.log");
  }
  int log_fd = open(child->log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    ADD_FAILURE() << ErrnoFailure("open log {}", child->log_path_).message();
    return nullptr;
  }
  // `ip netns exec` execs the program in place (same pid) after also remounting /sys for the
  // namespace, which a plain setns() would not do.
  std::vector<std::string> full;
  if (options.netns != nullptr) full = {"ip", "netns", "exec", options.netns->name()};
  full.insert(full.end(), argv.begin(), argv.end());
  Result<pid_t> pid = internal::Spawn(full, log_fd, options.env);
  close(log_fd);
  if (!pid.ok()) {
    ADD_FAILURE() << "start " << JoinArgv(full) << ": " << pid.status().message();
    return nullptr;
  }
  child->pid_ = *pid;
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) internal::KillGroupAndReap(pid_);
}

std::string ChildProcess::Log() const { return ReadFileOrEmpty(log_path_); }

bool ChildProcess::Signal(int sig) {
  if (pid_ <= 0 || reaped_) return false;
  return kill(pid_, sig) == 0;
}

ExitStatus ChildProcess::Wait(milliseconds timeout) {
  if (reaped_) return status_;
  if (pid_ <= 0 || !internal::WaitExitNoReap(pid_, timeout)) return ExitStatus();
  status_ = FromWaitStatus(internal::ReapAfterExit(pid_));
  reaped_ = true;
  return status_;
}

bool ChildProcess::Running() { return !Wait(milliseconds(0)).exited; }

bool ChildProcess::WaitForFile(const std::string& path, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1'000'000; ++i) {
    if (access(path.c_str(), F_OK) == 0) return true;
    if (!Running() || Clock::now() >= deadline) return false;
    usleep(10000);
  }
  return false;
}

double ChildProcess::CpuSeconds() const {
  if (pid_ <= 0 || reaped_) return -1;
  std::string stat = ReadFileOrEmpty(fmt::format("/proc/{}/stat", pid_));
  size_t paren = stat.rfind(')');  // comm may contain spaces and parentheses
  if (paren == std::string::npos) return -1;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double ChildProcess::CpuSecondsOver(milliseconds window) const {
  double before = CpuSeconds();
  std::this_thread::sleep_for(window);
  double after = CpuSeconds();
  if (before < 0 || after < 0) return -1;
  return after - before;
}

bool WaitForFile(const std::string& path, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1'000'000; ++i) {
    if (access(path.c_str(), F_OK) == 0) return true;
    if (Clock::now() >= deadline) return false;
    usleep(10000);
  }
  return false;
}

}  // namespace uplinkd::rig
