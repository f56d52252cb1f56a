#pragma once
// One netlink socket of any protocol (rtnetlink for linux/netlink_socket.h, generic netlink for
// linux/xdp_features.h) with libmnl framing: a request goes out and replies are read until its
// ack, NLMSG_DONE or an error, whose message carries the kernel's extended-ack text when it
// gives one. Cold paths only; one thread at a time.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/status.h"

struct mnl_socket;
struct nlmsghdr;

namespace uplinkd {

class NetlinkChannel {
 public:
  using MessageFn = std::function<Status(const nlmsghdr*)>;
  // Large enough for any dump batch the kernel sends (it sizes them to the reader's buffer).
  static constexpr size_t kRxBufferSize = 32768;

  // Opens and binds a socket of `protocol` (NETLINK_ROUTE, NETLINK_GENERIC) in the calling
  // thread's network namespace; it stays there for its life.
  static Result<std::unique_ptr<NetlinkChannel>> Open(int protocol);
  ~NetlinkChannel();
  NetlinkChannel(const NetlinkChannel&) = delete;
  NetlinkChannel& operator=(const NetlinkChannel&) = delete;

  // Sends `req` (its seq is set here; NLM_F_ACK is added unless it is a dump) and reads replies
  // until the ack, NLMSG_DONE or an error. Data messages go to `on_message` when given; its
  // first failure is returned once the kernel has finished answering.
  Status Transact(nlmsghdr* req, const MessageFn& on_message = nullptr);

  int fd() const;

 private:
  explicit NetlinkChannel(mnl_socket* nl) : nl_(nl) {}

  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
  std::vector<char> rx_buffer_;
};

}  // namespace uplinkd
