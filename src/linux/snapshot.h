#pragma once
// Snapshot and restore of an uplink's Linux state: what the manager records before it changes
// anything (and persists with linux/state_file.h), puts on the host tap, and gives back to the
// node when it stops or after a crash.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/parse.h"
#include "common/status.h"
#include "linux/ethtool_ioctl.h"
#include "linux/netlink_socket.h"

namespace uplinkd {

using AddressInfo = Netlink::AddressInfo;

struct LinkSnapshot {
  std::string name;
  int ifindex = 0;
  MacAddress mac{};
  uint32_t mtu = 0;
  bool admin_up = false;
  bool oper_up = false;
  bool promisc = false;      // the user's IFF_PROMISC flag (what restore sets back)
  uint32_t promiscuity = 0;  // the kernel's count at snapshot time (flag + packet sockets)
  uint32_t num_rx_queues = 0;
  uint32_t num_tx_queues = 0;
  std::optional<Channels> channels;  // nullopt when the driver has no ETHTOOL_GCHANNELS
  std::string driver;                // ethtool drvinfo driver ("veth", "virtio_net", ...)
  std::string bus_info;              // ethtool drvinfo bus_info as the driver reports it
  std::string pci_id;                // "0000:00:03.0"; "" when not a PCI device
  std::string pci_driver;            // kernel driver bound to pci_id ("virtio-pci"); "" if none
  uint64_t netns_inode = 0;          // the namespace it lives in
  // CLOCK_BOOTTIME seconds when taken: finite address and route lifetimes are shortened by the
  // time since then when they are applied.
  int64_t taken_at_boottime = 0;
  // IPv4 and IPv6, in the kernel's order, with every attribute ListAddresses reads.
  std::vector<AddressInfo> addresses;
  // Every route in every table that uses the link (its oif or a nexthop), both families,
  // kernel-generated ones included (see RouteInfo::IsKernelGenerated; restore skips them).
  std::vector<RouteInfo> routes;
};

// Reads `ifname`'s state through `nl` and `ethtool` (both in the link's namespace).
Result<LinkSnapshot> TakeSnapshot(Netlink& nl, Ethtool& ethtool, const std::string& ifname);
// Same, with an Ethtool opened in the namespace of `nl`'s socket.
Result<LinkSnapshot> TakeSnapshot(Netlink& nl, const std::string& ifname);

// JSON for the state file (a "version" field guards the format). FromJson checks every field's
// type and range and names the first bad one; it never throws.
nlohmann::json SnapshotToJson(const LinkSnapshot& snap);
Result<LinkSnapshot> SnapshotFromJson(const nlohmann::json& json);

// Puts the snapshot's addresses, then its routes that are not kernel-generated, on `ifindex`
// (the host tap, or the uplink on restore). Routes through snap.ifindex go through `ifindex`
// instead; other legs of a multipath route keep their links. IPv4 labels "NAME" and "NAME:x"
// follow the target link's name. Idempotent: what is already there (EEXIST) is fine. On-link
// routes go before gateway routes, and routes the kernel refuses for a reason that can pass
// (gateway not reachable yet, prefsrc still tentative) are retried for a few seconds. Every
// address and route is tried; the Status lists all failures.
Status ApplyAddressesAndRoutes(Netlink& nl, int ifindex, const LinkSnapshot& snap);

// Restores name, MAC, MTU, promisc flag, channels and admin state, then addresses and routes, on
// the link now indexed `ifindex`, from whatever partial state it is in. Addresses of a family
// that do not match the snapshot exactly (missing, extra, different attributes or order) are
// removed and re-added in order; extra non-kernel routes that only use this link are removed.
// Never touches another link: if another link holds snap.name, the rename fails (EEXIST) and the
// rest is still restored. Every step is tried; the Status lists all failures.
Status RestoreLink(Netlink& nl, Ethtool& ethtool, int ifindex, const LinkSnapshot& snap);
// Same, with an Ethtool opened in the namespace of `nl`'s socket.
Status RestoreLink(Netlink& nl, int ifindex, const LinkSnapshot& snap);

}  // namespace uplinkd
