#pragma once
// Small helpers shared by the snapshot/routes/ethtool/netns integration tests (test code only).

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "linux/netlink_socket.h"
#include "linux/netns.h"
#include "linux/test_netns.h"

namespace uplinkd::testing {

// A Netlink socket opened on a thread inside `netns_fd`: it lives there, whatever thread uses it.
inline std::unique_ptr<Netlink> NetlinkInFd(int netns_fd) {
  std::unique_ptr<Netlink> nl;
  Status status = RunInNetns(netns_fd, [&] {
    Result<std::unique_ptr<Netlink>> r = Netlink::Open();
    if (!r.ok()) return r.status();
    nl = std::move(r).value();
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.message();
  return nl;
}

inline std::unique_ptr<Netlink> NetlinkIn(const TestNetns& ns) { return NetlinkInFd(ns.fd()); }

// A namespace made by CreateNamedNetns, deleted (if still there) when this goes out of scope.
class NamedNetnsGuard {
 public:
  explicit NamedNetnsGuard(std::string name) : name_(std::move(name)) {}
  ~NamedNetnsGuard() {
    if (NamedNetnsExists(name_)) (void)DeleteNamedNetns(name_);
  }
  NamedNetnsGuard(const NamedNetnsGuard&) = delete;
  NamedNetnsGuard& operator=(const NamedNetnsGuard&) = delete;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

}  // namespace uplinkd::testing
