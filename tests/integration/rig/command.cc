// Names, environment checks, bounded commands and scratch directories.

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/rig/rig.h"
#include "tests/integration/rig/spawn.h"

extern char** environ;

namespace uplinkd::rig {
namespace internal {

namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned kCloseRangeAll = ~0U;

// Only async-signal-safe calls between fork and exec: the parent is multithreaded.
[[noreturn]] void ChildAfterFork(pid_t parent, int out_fd, int null_fd, char* const* argv,
                                 char* const* envp, const char* exec_error) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(126);  // the parent died before prctl took effect
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  }
  if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) _exit(126);
  syscall(SYS_close_range, 3U, kCloseRangeAll, 0U);  // best effort: fds are O_CLOEXEC anyway
  execvpe(argv[0], argv, envp);
  int err = errno;
  ssize_t ignored = write(2, exec_error, strlen(exec_error));
  const char* reason = err == ENOENT   ? "not found\n"
                       : err == EACCES ? "permission denied\n"
                                       : "exec failed\n";
  ignored = write(2, reason, strlen(reason));
  (void)ignored;
  _exit(127);
}

}  // namespace

Result<pid_t> Spawn(const std::vector<std::string>& argv, int out_fd,
                    const std::vector<std::string>& extra_env) {
  if (argv.empty()) return Failure(EINVAL, "empty command");
  // Everything the child needs is built before fork.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.push_back(*e);
  for (const std::string& kv : extra_env) env.push_back(const_cast<char*>(kv.c_str()));
  env.push_back(nullptr);
  std::string exec_error = fmt::format("uplinkd rig: cannot execute '{}': ", argv[0]);

  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return ErrnoFailure("open /dev/null");
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0)
    ChildAfterFork(parent, out_fd, null_fd, args.data(), env.data(), exec_error.c_str());
  int fork_errno = errno;
  close(null_fd);
  if (pid < 0) {
    errno = fork_errno;
    return ErrnoFailure("fork for '{}'", argv[0]);
  }
  setpgid(pid, pid);  // also from this side, so a group kill right away cannot miss it
  return pid;
}

bool WaitExitNoReap(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1'000'000; ++i) {
    siginfo_t info{};
    int rc = waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    if (rc == 0 && info.si_pid == pid) return true;
    if (rc < 0 && errno != EINTR) return true;  // not our child any more: nothing to wait for
    if (Clock::now() >= deadline) return false;
    usleep(2000);
  }
  return false;
}

int ReapAfterExit(pid_t pid) {
  kill(-pid, SIGKILL);  // stragglers a shell left behind; the exited leader keeps the pgid ours
  int status = 0;
  for (int i = 0; i < 100; ++i) {
    pid_t rc = waitpid(pid, &status, 0);
    if (rc == pid) return status;
    if (rc < 0 && errno != EINTR) return -1;
  }
  return -1;
}

int KillGroupAndReap(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  if (!WaitExitNoReap(pid, std::chrono::seconds(5))) return -1;
  return ReapAfterExit(pid);
}

}  // namespace internal

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxOutput = 16u << 20;

int StatusToExitCode(int status) {
  if (status < 0) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string UniqueName(std::string_view prefix) {
  static std::atomic<uint32_t> counter{0};
  std::string suffix = fmt::format("{:05d}{}", getpid() % 100000, counter.fetch_add(1));
  constexpr size_t kMaxName = 15;  // IFNAMSIZ - 1
  size_t room = suffix.size() < kMaxName ? kMaxName - suffix.size() : 0;
  return std::string(prefix.substr(0, room)) + suffix;
}

bool IntegrationRequired() {
  const char* value = std::getenv("UPLINKD_REQUIRE_INTEGRATION");
  return value != nullptr && std::string_view(value) == "1";
}

void AnnounceSkip(const std::string& why) {
  std::fprintf(stderr,
               "\n**************************************************************\n"
               "** SKIPPING netns integration test: %s\n"
               "** (run as root; set UPLINKD_REQUIRE_INTEGRATION=1 to fail instead)\n"
               "**************************************************************\n\n",
               why.c_str());
}

bool NetnsAvailable(std::string* why) {
  static const std::string reason = [] {
    if (geteuid() != 0) return std::string("not running as root");
    // CAP_SYS_ADMIN (bit 21) in the effective set: needed for setns and mounting /run/netns.
    std::ifstream in("/proc/self/status");
    std::string line;
    bool has_admin = false;
    for (int i = 0; i < 200 && std::getline(in, line); ++i) {
      if (line.rfind("CapEff:", 0) == 0) {
        uint64_t caps = std::strtoull(line.c_str() + 7, nullptr, 16);
        has_admin = (caps >> 21) & 1;
      }
    }
    if (!has_admin) return std::string("no CAP_SYS_ADMIN");
    if (!RunCommand({"ip", "-V"}, seconds(10)).ok())
      return std::string("`ip` (iproute2) not usable");
    return std::string();
  }();
  if (why != nullptr) *why = reason;
  return reason.empty();
}

namespace {

std::string BinaryFrom(const char* env_name, const char* built) {
  const char* value = std::getenv(env_name);
  if (value != nullptr && *value != '\0') return value;
  return built;
}

}  // namespace

#ifndef UPLINKD_RIG_UPLINKD_BIN
#define UPLINKD_RIG_UPLINKD_BIN ""
#endif
#ifndef UPLINKD_RIG_UPLINKCTL_BIN
#define UPLINKD_RIG_UPLINKCTL_BIN ""
#endif

std::string UplinkdBinary() { return BinaryFrom("UPLINKD_BIN", UPLINKD_RIG_UPLINKD_BIN); }
std::string UplinkctlBinary() { return BinaryFrom("UPLINKCTL_BIN", UPLINKD_RIG_UPLINKCTL_BIN); }

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out += ' ';
    bool quote = arg.empty() || arg.find_first_of(" \t\n'\"") != std::string::npos;
    out += quote ? "'" + arg + "'" : arg;
  }
  return out;
}

CommandResult RunCommand(const std::vector<std::string>& argv, milliseconds timeout) {
  CommandResult result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.output = ErrnoFailure("pipe").message();
    return result;
  }
  Result<pid_t> pid = internal::Spawn(argv, fds[1]);
  close(fds[1]);
  if (!pid.ok()) {
    close(fds[0]);
    result.output = pid.status().message();
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  bool eof = false;
  bool exited = false;
  std::optional<Clock::time_point> grace_end;  // a background grandchild may keep the pipe open
  char buf[16384];
  for (int i = 0; i < 10'000'000; ++i) {
    if (!eof) {
      pollfd pfd{fds[0], POLLIN, 0};
      if (poll(&pfd, 1, 10) > 0) {
        ssize_t n = read(fds[0], buf, sizeof(buf));
        if (n > 0) {
          size_t room = kMaxOutput - std::min(kMaxOutput, result.output.size());
          result.output.append(buf, std::min(static_cast<size_t>(n), room));
          continue;  // drain before checking anything else
        }
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) eof = true;
      }
    }
    if (!exited) {
      siginfo_t info{};
      exited = waitid(P_PID, static_cast<id_t>(*pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
               info.si_pid == *pid;
      if (exited) grace_end = Clock::now() + milliseconds(100);
    }
    if (exited && (eof || Clock::now() >= *grace_end)) break;
    if (Clock::now() >= deadline) {
      result.timed_out = true;
      break;
    }
    if (eof) usleep(2000);
  }
  close(fds[0]);
  int status = result.timed_out ? internal::KillGroupAndReap(*pid) : internal::ReapAfterExit(*pid);
  result.exit_code = StatusToExitCode(status);
  return result;
}

bool RunOrFail(const std::vector<std::string>& argv, milliseconds timeout) {
  CommandResult r = RunCommand(argv, timeout);
  if (r.ok()) return true;
  ADD_FAILURE() << "command failed: " << JoinArgv(argv) << "\n  "
                << (r.timed_out ? fmt::format("timed out after {} ms", timeout.count())
                                : fmt::format("exit code {}", r.exit_code))
                << "\n  output: " << r.output;
  return false;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::unique_ptr<TempDir> TempDir::Create() {
  char tmpl[] = "/tmp/uplinkd-rig-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    ADD_FAILURE() << ErrnoFailure("mkdtemp {}", tmpl).message();
    return nullptr;
  }
  return std::unique_ptr<TempDir>(new TempDir(tmpl));
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Path(std::string_view name) const { return fmt::format("{}/{}", path_, name); }

std::string TempDir::WriteFile(std::string_view name, std::string_view content) const {
  std::string path = Path(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    ADD_FAILURE() << "cannot write " << path;
    return "";
  }
  return path;
}

std::string TempDir::ReadFile(std::string_view name) const { return ReadFileOrEmpty(Path(name)); }

}  // namespace uplinkd::rig
