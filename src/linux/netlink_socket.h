#pragma once
// (Named netlink_socket.h, not netlink.h: with -I src, "linux/X.h" files here would shadow the
// kernel uapi <linux/X.h> headers for the whole project.)
// rtnetlink over one NETLINK_ROUTE socket (libmnl framing): links and addresses today; the
// manager's snapshot/restore of routes grows here too. Every request waits for the kernel's ack,
// and a failure names the object ("set mtu 70000 on link 'veth0' (index 3): Invalid argument
// (kernel: ...)"), with the kernel's extended-ack text when it gives one. Cold paths only.

#include <netinet/in.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/parse.h"
#include "common/status.h"

struct mnl_socket;
struct nlmsghdr;

namespace uplinkd {

// An address with its prefix length: "198.18.0.1/24", "2001:db8::1/64".
struct IpPrefix {
  int family = AF_UNSPEC;  // AF_INET or AF_INET6
  uint8_t bytes[16] = {};  // network order; 4 used for AF_INET
  uint8_t prefix_len = 0;

  size_t size() const { return family == AF_INET ? 4 : 16; }
  std::string ToString() const;  // "198.18.0.1/24"
  bool operator==(const IpPrefix& o) const;
};

// Parses "ADDR/LEN" (or a bare ADDR: a host prefix, as `ip addr add` takes it).
Result<IpPrefix> ParseCidr(const std::string& cidr);

class Netlink {
 public:
  struct LinkInfo {
    int ifindex = 0;
    std::string name;
    MacAddress mac{};
    uint32_t mtu = 0;
    bool admin_up = false;  // IFF_UP
    bool oper_up = false;   // IFF_RUNNING: up and the kernel says the link works
    bool promisc = false;
    uint32_t num_rx_queues = 0;
    uint32_t num_tx_queues = 0;
  };
  struct AddressInfo {
    int ifindex = 0;
    IpPrefix prefix;
    uint8_t scope = 0;   // RT_SCOPE_*
    uint32_t flags = 0;  // IFA_F_* (IFA_FLAGS when present)
  };

  // Opens a socket in the calling thread's network namespace; it stays there for its life (use
  // RunInNetns to open one elsewhere, then use it from any single thread).
  static Result<std::unique_ptr<Netlink>> Open();
  virtual ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // Links. A missing interface is ENODEV with its name in the message.
  virtual Result<int> LinkIndex(const std::string& ifname);
  virtual Result<LinkInfo> GetLink(const std::string& ifname);
  virtual Result<LinkInfo> GetLink(int ifindex);
  virtual Status SetLinkUp(int ifindex, bool up);
  virtual Status SetLinkMac(int ifindex, const MacAddress& mac);
  virtual Status SetLinkMtu(int ifindex, uint32_t mtu);
  // Most drivers refuse to rename a link that is up (EBUSY): set it down first.
  virtual Status SetLinkName(int ifindex, const std::string& name);
  // The link keeps its name; its index may change in the target namespace (look it up there).
  virtual Status MoveLinkToNetns(int ifindex, int netns_fd);
  virtual Status DeleteLink(int ifindex);

  // Addresses, "198.18.0.1/24" or "2001:db8::1/64". Adding one that exists is EEXIST.
  virtual Status AddAddress(int ifindex, const std::string& cidr);
  virtual Status DeleteAddress(int ifindex, const std::string& cidr);
  // Every address of `ifindex` (0: of every link), IPv4 and IPv6.
  virtual Result<std::vector<AddressInfo>> ListAddresses(int ifindex);

 protected:
  // For test doubles (tests/mocks): the methods are virtual so the manager's snapshot/restore can
  // be unit-tested against a fake; such a double has no socket.
  Netlink() = default;

 private:
  using MessageFn = std::function<Status(const nlmsghdr*)>;

  explicit Netlink(mnl_socket* nl) : nl_(nl) {}
  // Sends `req` (its seq is set here) and reads replies until the ack, NLMSG_DONE or an error.
  // Data messages go to `on_message` when given.
  Status Transact(nlmsghdr* req, const MessageFn& on_message = nullptr);
  Status SetLinkAttribute(int ifindex, const std::function<void(nlmsghdr*)>& fill);
  Status ChangeAddress(int ifindex, const std::string& cidr, bool add);
  // "link 'veth0' (index 3)", or "link index 3" when the kernel no longer knows it.
  std::string DescribeLink(int ifindex);

  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
  std::vector<char> rx_buffer_;
};

}  // namespace uplinkd
