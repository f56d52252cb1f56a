#pragma once
// (Named netlink_socket.h, not netlink.h: with -I src, "linux/X.h" files here would shadow the
// kernel uapi <linux/X.h> headers for the whole project.)
// rtnetlink over one NETLINK_ROUTE socket (a NetlinkChannel, libmnl framing): links, addresses
// and routes (every table), as the manager's snapshot/restore (linux/snapshot.h) needs them.
// Every request waits for the kernel's ack, and a failure names the object ("set mtu 70000 on
// link 'veth0' (index 3): Invalid argument (kernel: ...)"), with the kernel's extended-ack text
// when it gives one. Cold paths only.

#include <linux/if_addr.h>
#include <netinet/in.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/parse.h"
#include "common/status.h"
#include "linux/netlink_channel.h"

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

// One leg of a route: a multipath (RTA_MULTIPATH) nexthop, or the route's own gateway/oif.
struct RouteNexthop {
  IpPrefix gateway;    // family AF_UNSPEC when the leg has no gateway (on-link)
  int ifindex = 0;
  uint8_t weight = 1;  // `ip route ... weight N` (rtnh_hops + 1)
  uint8_t flags = 0;   // RTNH_F_ONLINK and friends (RTNH_F_DEAD/LINKDOWN are kernel state)

  bool operator==(const RouteNexthop& o) const = default;
};

// A route as `ip route show table all` prints it, with what re-adding it needs. Routes through
// nexthop objects (RTA_NH_ID, `ip nexthop`) and IPv4 routes via an IPv6 gateway (RTA_VIA) are
// not represented: ListRoutes keeps them with has_unsupported set, and AddRoute refuses them.
struct RouteInfo {
  int family = AF_UNSPEC;
  uint32_t table = 0;     // RT_TABLE_MAIN = 254, RT_TABLE_LOCAL = 255, or any number (RTA_TABLE)
  uint8_t type = 0;       // RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST, RTN_BLACKHOLE, ...
  uint8_t protocol = 0;   // RTPROT_KERNEL, RTPROT_BOOT (`ip route add`), RTPROT_STATIC, RA, ...
  uint8_t scope = 0;      // RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST
  uint8_t tos = 0;
  IpPrefix dst;           // 0.0.0.0/0 or ::/0 for the default route (family always set)
  IpPrefix src;           // IPv6 source-specific routes (`from 2001:db8::/64`); prefix_len 0 = none
  IpPrefix gateway;       // AF_UNSPEC when none
  IpPrefix prefsrc;       // `src ADDR`; AF_UNSPEC when none
  int oif = 0;
  uint32_t priority = 0;  // metric
  uint32_t flags = 0;     // rtm_flags as set by users: RTNH_F_ONLINK
  uint8_t pref = 0;       // IPv6 router preference (RTA_PREF), 0 = none given
  uint32_t expires = 0;   // IPv6: seconds left of an expiring route (RA-learned); 0 = never
  // RTA_METRICS as (RTAX_* type, value): mtu, advmss, hoplimit, ...; RTAX_CC_ALGO is skipped.
  std::vector<std::pair<uint16_t, uint32_t>> metrics;
  std::vector<RouteNexthop> nexthops;  // RTA_MULTIPATH legs; empty for a single-path route
  bool has_unsupported = false;        // RTA_NH_ID or RTA_VIA: see above

  // Whether the kernel made this route by itself and makes it again when the link comes up and
  // its addresses come back: protocol kernel, anything in the local table, local/broadcast/
  // anycast/multicast types, IPv6 multicast (ff00::/8) and link-local (fe80::/64). Restoring
  // such a route would fight the kernel (or leave a stale copy), so restore skips them.
  bool IsKernelGenerated() const;
  // Whether the route goes through `ifindex` (its oif or any multipath leg).
  bool UsesLink(int ifindex) const;
  // "default via 198.18.0.1 dev 3 table 100 proto static metric 10": for messages.
  std::string ToString() const;
  bool operator==(const RouteInfo& o) const = default;
};

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
    uint32_t promiscuity = 0;  // IFLA_PROMISCUITY: the kernel's count (user flag + sockets)
    uint32_t num_rx_queues = 0;
    uint32_t num_tx_queues = 0;
    std::string kind{};   // IFLA_INFO_KIND: "veth", "tun", ...; "" for a physical device
    std::string alias{};  // IFLA_IFALIAS (`ip link set dev X alias TEXT`); "" when none
  };
  struct AddressInfo {
    static constexpr uint32_t kForever = 0xffffffff;  // INFINITY_LIFE_TIME

    int ifindex = 0;
    IpPrefix prefix;
    uint8_t scope = 0;   // RT_SCOPE_*
    uint32_t flags = 0;  // IFA_F_* (IFA_FLAGS when present)
    // The rest is what ListAddresses reads and AddAddressInfo writes back.
    IpPrefix peer;       // point-to-point peer (IFA_ADDRESS != IFA_LOCAL); AF_UNSPEC when none
    IpPrefix broadcast;  // IPv4 `brd`; AF_UNSPEC when none
    std::string label;   // IPv4 label ("eth0", "eth0:1"); empty for IPv6
    uint32_t valid_lft = kForever;      // seconds left, as `ip addr` shows them
    uint32_t preferred_lft = kForever;
    uint32_t metric = 0;  // IFA_RT_PRIORITY: metric of the prefix route the address makes
    uint8_t proto = 0;    // IFA_PROTO (kernel >= 5.18); 0 = unspecified
  };
  // IFA_F_* flags a user can ask for (`ip addr add ... nodad noprefixroute ...`); the others are
  // kernel state (permanent, tentative, secondary, deprecated, dadfailed, temporary).
  static constexpr uint32_t kSettableAddressFlags =
      IFA_F_NODAD | IFA_F_OPTIMISTIC | IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR |
      IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN;

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
  // The user's IFF_PROMISC flag (`ip link set promisc on|off`); packet sockets count apart.
  virtual Status SetLinkPromisc(int ifindex, bool on);
  // Most drivers refuse to rename a link that is up (EBUSY): set it down first.
  virtual Status SetLinkName(int ifindex, const std::string& name);
  // IFLA_IFALIAS; an empty text removes the alias.
  virtual Status SetLinkAlias(int ifindex, const std::string& alias);
  // The link keeps its name; its index may change in the target namespace (look it up there).
  virtual Status MoveLinkToNetns(int ifindex, int netns_fd);
  virtual Status DeleteLink(int ifindex);

  // Addresses, "198.18.0.1/24" or "2001:db8::1/64". Adding one that exists is EEXIST.
  virtual Status AddAddress(int ifindex, const std::string& cidr);
  virtual Status DeleteAddress(int ifindex, const std::string& cidr);
  // Every address of `ifindex` (0: of every link), IPv4 and IPv6, in the kernel's order.
  virtual Result<std::vector<AddressInfo>> ListAddresses(int ifindex);
  // Adds `addr` on addr.ifindex with its settable flags, scope, peer, broadcast, label, metric,
  // proto and lifetimes (finite ones are taken as given: adjust them before). EEXIST if present.
  virtual Status AddAddressInfo(const AddressInfo& addr);
  virtual Status DeleteAddressInfo(const AddressInfo& addr);
  // Sets the flags, lifetimes and metric of an existing address (NLM_F_REPLACE); ENOENT when
  // there is none. Dropping IFA_F_NODAD this way starts no duplicate address detection.
  virtual Status ReplaceAddressInfo(const AddressInfo& addr);

  // Routes of `family` (AF_INET, AF_INET6, or AF_UNSPEC for both) in every table, IPv6 cache
  // clones excluded.
  virtual Result<std::vector<RouteInfo>> ListRoutes(int family);
  // Adds `route` exactly (NLM_F_CREATE | NLM_F_EXCL): EEXIST when the kernel already has it.
  virtual Status AddRoute(const RouteInfo& route);
  // Deletes the route matching `route`'s table, dst, src, tos, metric and, when set, gateway,
  // oif and type. ESRCH when there is none.
  virtual Status DeleteRoute(const RouteInfo& route);

  // Opens the network namespace this socket lives in (SIOCGSKNS): an O_CLOEXEC fd the caller
  // owns, for RunInNetns (ethtool ioctls) and the namespace's inode.
  virtual Result<int> OpenSocketNetns();

 protected:
  // For test doubles (tests/mocks): the methods are virtual so the manager's snapshot/restore can
  // be unit-tested against a fake; such a double has no socket.
  Netlink() = default;

 private:
  using MessageFn = NetlinkChannel::MessageFn;

  explicit Netlink(std::unique_ptr<NetlinkChannel> channel) : channel_(std::move(channel)) {}
  // NetlinkChannel::Transact; EBADF for a test double (no socket).
  Status Transact(nlmsghdr* req, const MessageFn& on_message = nullptr);
  Status SetLinkAttribute(int ifindex, const std::function<void(nlmsghdr*)>& fill);
  Status ChangeAddress(int ifindex, const std::string& cidr, bool add);
  enum class AddressChange { kAdd, kReplace, kDelete };
  Status ChangeAddressInfo(const AddressInfo& addr, AddressChange change);
  Status ChangeRoute(const RouteInfo& route, bool add);
  // "link 'veth0' (index 3)", or "link index 3" when the kernel no longer knows it.
  std::string DescribeLink(int ifindex);

  std::unique_ptr<NetlinkChannel> channel_;
};

// Link notifications (RTNLGRP_LINK) of the network namespace it is opened in: the manager
// watches the parked uplink with one. Cold path; one thread.
class LinkMonitor {
 public:
  struct Event {
    bool deleted = false;  // RTM_DELLINK: gone from this namespace (removed or moved away)
    Netlink::LinkInfo link;
  };
  // Subscribes in the calling thread's network namespace (RunInNetns to watch another).
  static Result<std::unique_ptr<LinkMonitor>> Open();
  ~LinkMonitor();
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;

  // Readable when notifications are pending (for poll).
  int fd() const;
  // Every pending notification, without blocking. ENOBUFS means some were lost (the socket
  // overran): the caller must re-read the state it cares about.
  Result<std::vector<Event>> Drain();

 private:
  explicit LinkMonitor(mnl_socket* nl) : nl_(nl) {}
  mnl_socket* nl_ = nullptr;
  std::vector<char> rx_buffer_;
};

}  // namespace uplinkd
