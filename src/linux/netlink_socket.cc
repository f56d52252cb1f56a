#include "linux/netlink_socket.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/time.h>

#include <cstring>

#include "common/parse.h"

namespace uplinkd {
namespace {

// Large enough for any dump batch the kernel sends (it sizes them to the reader's buffer).
constexpr size_t kRxBufferSize = 32768;
// Requests are small: a header, a struct and a few attributes.
constexpr size_t kRequestSize = 1024;
constexpr int kReplyTimeoutSeconds = 5;

struct RequestBuffer {
  alignas(nlmsghdr) char data[kRequestSize];
};

nlmsghdr* StartRequest(RequestBuffer& buf, uint16_t type, uint16_t flags) {
  std::memset(buf.data, 0, sizeof(buf.data));
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  return nlh;
}

ifinfomsg* PutIfinfo(nlmsghdr* nlh, int ifindex) {
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  return ifi;
}

Status CheckIfname(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return Failure(EINVAL, "interface name '{}' must have 1 to {} characters", name, IFNAMSIZ - 1);
  }
  if (name.find_first_of("/: \t\n") != std::string::npos || name == "." || name == "..") {
    return Failure(EINVAL, "invalid interface name '{}'", name);
  }
  return Status::Ok();
}

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

struct LinkAttrs {
  const nlattr* tb[IFLA_MAX + 1] = {};
};

int LinkAttr(const nlattr* attr, void* data) {
  uint16_t type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, IFLA_MAX) > 0) static_cast<LinkAttrs*>(data)->tb[type] = attr;
  return MNL_CB_OK;
}

Netlink::LinkInfo ParseLink(const nlmsghdr* nlh) {
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  LinkAttrs attrs;
  mnl_attr_parse(nlh, sizeof(ifinfomsg), LinkAttr, &attrs);
  Netlink::LinkInfo info;
  info.ifindex = ifi->ifi_index;
  info.admin_up = (ifi->ifi_flags & IFF_UP) != 0;
  info.oper_up = (ifi->ifi_flags & IFF_RUNNING) != 0;
  info.promisc = (ifi->ifi_flags & IFF_PROMISC) != 0;
  const nlattr* name = attrs.tb[IFLA_IFNAME];
  if (name != nullptr && mnl_attr_validate(name, MNL_TYPE_NUL_STRING) >= 0) {
    info.name = mnl_attr_get_str(name);
  }
  if (const nlattr* a = attrs.tb[IFLA_ADDRESS]; a && mnl_attr_get_payload_len(a) == 6) {
    std::memcpy(info.mac.data(), mnl_attr_get_payload(a), 6);
  }
  auto u32 = [&](int type) -> uint32_t {
    const nlattr* a = attrs.tb[type];
    return (a && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) ? mnl_attr_get_u32(a) : 0;
  };
  info.mtu = u32(IFLA_MTU);
  info.num_rx_queues = u32(IFLA_NUM_RX_QUEUES);
  info.num_tx_queues = u32(IFLA_NUM_TX_QUEUES);
  return info;
}

struct AddrAttrs {
  const nlattr* tb[IFA_MAX + 1] = {};
};

int AddrAttr(const nlattr* attr, void* data) {
  uint16_t type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, IFA_MAX) > 0) static_cast<AddrAttrs*>(data)->tb[type] = attr;
  return MNL_CB_OK;
}

}  // namespace

std::string IpPrefix::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family != AF_INET && family != AF_INET6) return "<no address>";
  inet_ntop(family, bytes, text, sizeof(text));
  return fmt::format("{}/{}", text, prefix_len);
}

bool IpPrefix::operator==(const IpPrefix& o) const {
  return family == o.family && prefix_len == o.prefix_len &&
         std::memcmp(bytes, o.bytes, size()) == 0;
}

Result<IpPrefix> ParseCidr(const std::string& cidr) {
  IpPrefix p;
  std::string addr = cidr;
  std::optional<uint64_t> len;
  if (size_t slash = cidr.find('/'); slash != std::string::npos) {
    addr = cidr.substr(0, slash);
    len = ParseUnsigned(std::string_view(cidr).substr(slash + 1));
    if (!len) return Failure(EINVAL, "invalid prefix length in '{}'", cidr);
  }
  if (inet_pton(AF_INET, addr.c_str(), p.bytes) == 1) {
    p.family = AF_INET;
  } else if (inet_pton(AF_INET6, addr.c_str(), p.bytes) == 1) {
    p.family = AF_INET6;
  } else {
    return Failure(EINVAL, "'{}' is not an IPv4 or IPv6 address with a prefix length", cidr);
  }
  uint64_t max = p.family == AF_INET ? 32 : 128;
  if (len && *len > max) return Failure(EINVAL, "prefix length in '{}' exceeds {}", cidr, max);
  p.prefix_len = static_cast<uint8_t>(len ? *len : max);
  return p;
}

Result<std::unique_ptr<Netlink>> Netlink::Open() {
  mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (nl == nullptr) return ErrnoFailure("open netlink socket");
  std::unique_ptr<Netlink> self(new Netlink(nl));
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

Netlink::~Netlink() {
  if (nl_ != nullptr) mnl_socket_close(nl_);
}

Status Netlink::Transact(nlmsghdr* req, const MessageFn& on_message) {
  if (nl_ == nullptr) return Failure(EBADF, "netlink socket not open");
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

std::string Netlink::DescribeLink(int ifindex) {
  Result<LinkInfo> info = GetLink(ifindex);
  if (!info.ok()) return fmt::format("link index {}", ifindex);
  return fmt::format("link '{}' (index {})", info->name, ifindex);
}

Result<Netlink::LinkInfo> Netlink::GetLink(const std::string& ifname) {
  UPLINKD_RETURN_IF_ERROR(CheckIfname(ifname));
  RequestBuffer buf;
  nlmsghdr* nlh = StartRequest(buf, RTM_GETLINK, 0);
  PutIfinfo(nlh, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname.c_str());
  // Keeps the reply small: no VF or stats blocks.
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, 0);
  LinkInfo info;
  Status status = Transact(nlh, [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type == RTM_NEWLINK) info = ParseLink(reply);
    return Status::Ok();
  });
  if (status.code() == ENODEV) {
    return Failure(ENODEV, "interface '{}' does not exist in this network namespace", ifname);
  }
  if (!status.ok()) return status.WithContext(fmt::format("get link '{}'", ifname));
  return info;
}

Result<Netlink::LinkInfo> Netlink::GetLink(int ifindex) {
  if (ifindex <= 0) return Failure(EINVAL, "invalid interface index {}", ifindex);
  RequestBuffer buf;
  nlmsghdr* nlh = StartRequest(buf, RTM_GETLINK, 0);
  PutIfinfo(nlh, ifindex);
  LinkInfo info;
  Status status = Transact(nlh, [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type == RTM_NEWLINK) info = ParseLink(reply);
    return Status::Ok();
  });
  if (status.code() == ENODEV) {
    return Failure(ENODEV, "no interface with index {} in this network namespace", ifindex);
  }
  if (!status.ok()) return status.WithContext(fmt::format("get link index {}", ifindex));
  return info;
}

Result<int> Netlink::LinkIndex(const std::string& ifname) {
  Result<LinkInfo> info = GetLink(ifname);
  if (!info.ok()) return info.status();
  return info->ifindex;
}

Status Netlink::SetLinkAttribute(int ifindex, const std::function<void(nlmsghdr*)>& fill) {
  if (ifindex <= 0) return Failure(EINVAL, "invalid interface index {}", ifindex);
  RequestBuffer buf;
  nlmsghdr* nlh = StartRequest(buf, RTM_NEWLINK, 0);
  PutIfinfo(nlh, ifindex);
  fill(nlh);
  return Transact(nlh);
}

Status Netlink::SetLinkUp(int ifindex, bool up) {
  Status status = SetLinkAttribute(ifindex, [&](nlmsghdr* nlh) {
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = up ? IFF_UP : 0;
  });
  if (status.ok()) return status;
  return status.WithContext(fmt::format("set {} {}", DescribeLink(ifindex), up ? "up" : "down"));
}

Status Netlink::SetLinkMac(int ifindex, const MacAddress& mac) {
  Status status = SetLinkAttribute(
      ifindex, [&](nlmsghdr* nlh) { mnl_attr_put(nlh, IFLA_ADDRESS, mac.size(), mac.data()); });
  if (status.ok()) return status;
  return status.WithContext(fmt::format("set mac {} on {}", FormatMac(mac), DescribeLink(ifindex)));
}

Status Netlink::SetLinkMtu(int ifindex, uint32_t mtu) {
  Status status =
      SetLinkAttribute(ifindex, [&](nlmsghdr* nlh) { mnl_attr_put_u32(nlh, IFLA_MTU, mtu); });
  if (status.ok()) return status;
  return status.WithContext(fmt::format("set mtu {} on {}", mtu, DescribeLink(ifindex)));
}

Status Netlink::SetLinkName(int ifindex, const std::string& name) {
  Status status = CheckIfname(name);
  if (status.ok()) {
    status = SetLinkAttribute(
        ifindex, [&](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str()); });
  }
  if (status.ok()) return status;
  return status.WithContext(fmt::format("rename {} to '{}'", DescribeLink(ifindex), name));
}

Status Netlink::MoveLinkToNetns(int ifindex, int netns_fd) {
  Status status = SetLinkAttribute(ifindex, [&](nlmsghdr* nlh) {
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
  });
  if (status.ok()) return status;
  return status.WithContext(
      fmt::format("move {} to network namespace fd {}", DescribeLink(ifindex), netns_fd));
}

Status Netlink::DeleteLink(int ifindex) {
  Status status;
  if (ifindex <= 0) {
    status = Failure(EINVAL, "invalid interface index {}", ifindex);
  } else {
    RequestBuffer buf;
    nlmsghdr* nlh = StartRequest(buf, RTM_DELLINK, 0);
    PutIfinfo(nlh, ifindex);
    status = Transact(nlh);
  }
  if (status.ok()) return status;
  return status.WithContext(fmt::format("delete {}", DescribeLink(ifindex)));
}

Status Netlink::ChangeAddress(int ifindex, const std::string& cidr, bool add) {
  Result<IpPrefix> prefix = ParseCidr(cidr);
  Status status = prefix.status();
  if (status.ok() && ifindex <= 0) status = Failure(EINVAL, "invalid interface index {}", ifindex);
  if (status.ok()) {
    RequestBuffer buf;
    nlmsghdr* nlh = add ? StartRequest(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
                        : StartRequest(buf, RTM_DELADDR, 0);
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = static_cast<uint8_t>(prefix->family);
    ifa->ifa_prefixlen = prefix->prefix_len;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = static_cast<uint32_t>(ifindex);
    // As `ip addr` does: IPv4 needs IFA_LOCAL (the address itself; IFA_ADDRESS is the peer).
    mnl_attr_put(nlh, IFA_LOCAL, prefix->size(), prefix->bytes);
    mnl_attr_put(nlh, IFA_ADDRESS, prefix->size(), prefix->bytes);
    status = Transact(nlh);
  }
  if (status.ok()) return status;
  return status.WithContext(fmt::format("{} address {} {} {}", add ? "add" : "delete", cidr,
                                        add ? "to" : "from", DescribeLink(ifindex)));
}

Status Netlink::AddAddress(int ifindex, const std::string& cidr) {
  return ChangeAddress(ifindex, cidr, true);
}

Status Netlink::DeleteAddress(int ifindex, const std::string& cidr) {
  return ChangeAddress(ifindex, cidr, false);
}

Result<std::vector<Netlink::AddressInfo>> Netlink::ListAddresses(int ifindex) {
  RequestBuffer buf;
  nlmsghdr* nlh = StartRequest(buf, RTM_GETADDR, NLM_F_DUMP);
  auto* req = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  req->ifa_family = AF_UNSPEC;
  std::vector<AddressInfo> out;
  Status status = Transact(nlh, [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type != RTM_NEWADDR) return Status::Ok();
    const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(reply));
    if (ifindex != 0 && static_cast<int>(ifa->ifa_index) != ifindex) return Status::Ok();
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return Status::Ok();
    AddrAttrs attrs;
    mnl_attr_parse(reply, sizeof(ifaddrmsg), AddrAttr, &attrs);
    AddressInfo info;
    info.ifindex = static_cast<int>(ifa->ifa_index);
    info.scope = ifa->ifa_scope;
    info.flags = ifa->ifa_flags;
    info.prefix.family = ifa->ifa_family;
    info.prefix.prefix_len = ifa->ifa_prefixlen;
    const nlattr* a = attrs.tb[IFA_LOCAL] ? attrs.tb[IFA_LOCAL] : attrs.tb[IFA_ADDRESS];
    if (a == nullptr || mnl_attr_get_payload_len(a) != info.prefix.size()) return Status::Ok();
    std::memcpy(info.prefix.bytes, mnl_attr_get_payload(a), info.prefix.size());
    if (const nlattr* f = attrs.tb[IFA_FLAGS]; f && mnl_attr_validate(f, MNL_TYPE_U32) >= 0) {
      info.flags = mnl_attr_get_u32(f);
    }
    out.push_back(info);
    return Status::Ok();
  });
  if (!status.ok()) return status.WithContext("list addresses");
  return out;
}

}  // namespace uplinkd
