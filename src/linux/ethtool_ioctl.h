#pragma once
// ethtool through SIOCETHTOOL ioctls (named ethtool_ioctl.h: "linux/ethtool.h" is a kernel header).
// An ioctl acts in the network namespace of the socket it is issued on, so an Ethtool object is
// bound to one namespace for its life; nothing here reads /sys/class/net, which shows the
// namespace of the sysfs mount rather than the caller's. Cold paths only.

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace uplinkd {

// ETHTOOL_GDRVINFO.
struct EthtoolDriverInfo {
  std::string driver;  // "veth", "virtio_net", "ixgbe", ...
  std::string version;
  std::string fw_version;
  std::string bus_info;  // "0000:00:03.0" for a PCI device, "virtio0", "" for veth, ...
};

// ETHTOOL_GCHANNELS / ETHTOOL_SCHANNELS.
struct Channels {
  uint32_t max_rx = 0, max_tx = 0, max_other = 0, max_combined = 0;
  uint32_t rx = 0, tx = 0, other = 0, combined = 0;

  bool SameCounts(const Channels& o) const {
    return rx == o.rx && tx == o.tx && other == o.other && combined == o.combined;
  }
  bool operator==(const Channels& o) const = default;
};

class Ethtool {
 public:
  // A socket in the calling thread's network namespace.
  static Result<std::unique_ptr<Ethtool>> Open();
  // A socket in the namespace `netns_fd` (made on a helper thread; usable from any thread).
  static Result<std::unique_ptr<Ethtool>> OpenIn(int netns_fd);
  virtual ~Ethtool();
  Ethtool(const Ethtool&) = delete;
  Ethtool& operator=(const Ethtool&) = delete;

  virtual Result<EthtoolDriverInfo> GetDriverInfo(const std::string& ifname);
  // EOPNOTSUPP when the driver has no channel support (e.g. veth before Linux 5.10).
  virtual Result<Channels> GetChannels(const std::string& ifname);
  // Sets rx/tx/other/combined counts (the max fields are ignored).
  virtual Status SetChannels(const std::string& ifname, const Channels& channels);

 protected:
  Ethtool() = default;  // for test doubles: no socket

 private:
  explicit Ethtool(int fd) : fd_(fd) {}
  Status Ioctl(const std::string& ifname, void* cmd, const char* what);

  int fd_ = -1;
};

// The PCI address behind an ethtool bus_info: the bus_info itself when it is one
// ("0000:00:03.0"), the PCI parent of a virtio device ("virtio0" -> /sys/bus/virtio/devices/
// virtio0's parent; that path names a device, not a netns-filtered link), "" otherwise.
std::string PciIdFromBusInfo(const std::string& bus_info);
// The kernel driver bound to a PCI device ("virtio-pci", "vfio-pci"), "" when none or unknown.
std::string PciDriver(const std::string& pci_id);

}  // namespace uplinkd
