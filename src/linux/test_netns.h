#pragma once
// Test helpers for netns integration tests (linux_test, tap_test, later the manager's): a
// namespace that is removed even when the test fails, and `ip -j` output as JSON.
// Test code only: it runs `ip` through the shell.

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace uplinkd::testing {

// A unique name: prefix + pid + a counter, at most 15 characters (fits an interface name too).
std::string UniqueName(const std::string& prefix);

// Runs a shell command; returns its exit status and stdout (stderr goes to the test's stderr).
struct CommandResult {
  int status = -1;
  std::string out;
};
CommandResult RunCommand(const std::string& command);

// Runs `ip -j ARGS` (e.g. "-n ns1 link show dev veth0") and parses the output.
Result<nlohmann::json> IpJson(const std::string& args);

// `ip netns add NAME` now, `ip netns del NAME` when destroyed. fd() is an open handle to it.
class TestNetns {
 public:
  explicit TestNetns(const std::string& prefix);
  ~TestNetns();
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& name() const { return name_; }
  int fd() const { return fd_; }
  // Runs `ip -n NAME ...`; fails the status on a non-zero exit.
  Status Ip(const std::string& args) const;

 private:
  std::string name_;
  int fd_ = -1;
};

}  // namespace uplinkd::testing
