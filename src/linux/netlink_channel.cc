#include "linux/netlink_channel.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>
#include <string>

namespace uplinkd {
namespace {

constexpr int kReplyTimeoutSeconds = 5;

// The kernel's extended ack text (NLMSGERR_ATTR_MSG), if any.
struct ExtAck {
  std::string message;
};

int ExtAckAttr(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
      mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
    static_cast<ExtAck*>(data)->message = mnl_attr_get_str(attr);
  }
  return MNL_CB_OK;
}

Status ErrorFromAck(const nlmsghdr* nlh) {
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
    return Failure(EBADMSG, "truncated netlink error message");
  }
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  if (err->error == 0) return Status::Ok();
  int code = -err->error;
  ExtAck ext;
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    size_t offset = sizeof(nlmsgerr);
    // Without NETLINK_CAP_ACK the kernel echoes our request before the TLVs.
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
    if (mnl_nlmsg_size(offset) < nlh->nlmsg_len) {
      mnl_attr_parse(nlh, offset, ExtAckAttr, &ext);
    }
  }
  if (ext.message.empty()) return Status(code, std::strerror(code));
  return Status(code, fmt::format("{} (kernel: {})", std::strerror(code), ext.message));
}

}  // namespace

Result<std::unique_ptr<NetlinkChannel>> NetlinkChannel::Open(int protocol) {
  mnl_socket* nl = mnl_socket_open2(protocol, SOCK_CLOEXEC);
  if (nl == nullptr) return ErrnoFailure("open netlink socket");
  std::unique_ptr<NetlinkChannel> self(new NetlinkChannel(nl));
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) return ErrnoFailure("bind netlink socket");
  self->portid_ = mnl_socket_get_portid(nl);
  // Kernel error texts make messages useful; capped acks keep them small. Both are best effort
  // (older kernels lack them), so failures are ignored.
  int on = 1;
  mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &on, sizeof(on));
  mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &on, sizeof(on));
  // The kernel answers at once; a bound wait keeps a lost reply from hanging the control thread.
  timeval timeout{kReplyTimeoutSeconds, 0};
  setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  self->rx_buffer_.resize(kRxBufferSize);
  return self;
}

NetlinkChannel::~NetlinkChannel() {
  if (nl_ != nullptr) mnl_socket_close(nl_);
}

int NetlinkChannel::fd() const { return mnl_socket_get_fd(nl_); }

Status NetlinkChannel::Transact(nlmsghdr* req, const MessageFn& on_message) {
  const uint32_t seq = ++seq_;
  req->nlmsg_seq = seq;
  const bool dump = (req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!dump) req->nlmsg_flags |= NLM_F_ACK;
  if (mnl_socket_sendto(nl_, req, req->nlmsg_len) < 0) return ErrnoFailure("netlink send");

  Status first_error;  // from on_message; we keep reading so the socket stays in step
  while (true) {
    ssize_t n = mnl_socket_recvfrom(nl_, rx_buffer_.data(), rx_buffer_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoFailure("netlink receive");
    }
    int len = static_cast<int>(n);
    for (const auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_buffer_.data());
         mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      // Replies to an earlier request that timed out are skipped.
      if (!mnl_nlmsg_portid_ok(nlh, portid_) || !mnl_nlmsg_seq_ok(nlh, seq)) continue;
      switch (nlh->nlmsg_type) {
        case NLMSG_NOOP:
          continue;
        case NLMSG_ERROR: {
          Status status = ErrorFromAck(nlh);
          return status.ok() ? first_error : status;
        }
        case NLMSG_DONE: {
          // A dump that failed halfway says so in DONE's payload.
          if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
            int err = *static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
            if (err < 0) return Status(-err, std::strerror(-err));
          }
          return first_error;
        }
        case NLMSG_OVERRUN:
          return Failure(ENOBUFS, "netlink overrun");
        default:
          if (on_message && first_error.ok()) first_error = on_message(nlh);
      }
    }
  }
}

}  // namespace uplinkd
