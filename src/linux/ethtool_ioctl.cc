#include "linux/ethtool_ioctl.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "common/parse.h"
#include "linux/netns.h"

namespace uplinkd {
namespace {

std::string FixedString(const char* text, size_t size) {
  return std::string(text, strnlen(text, size));
}

// A symlink's target, "" when it is not one.
std::string ReadLinkTarget(const std::string& path) {
  char target[PATH_MAX] = {};
  ssize_t n = readlink(path.c_str(), target, sizeof(target) - 1);
  if (n <= 0) return "";
  return std::string(target, static_cast<size_t>(n));
}

}  // namespace

Result<std::unique_ptr<Ethtool>> Ethtool::Open() {
  // Any socket works for SIOCETHTOOL; a datagram AF_INET one needs no privileges to create.
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoFailure("open a socket for ethtool ioctls");
  return std::unique_ptr<Ethtool>(new Ethtool(fd));
}

Result<std::unique_ptr<Ethtool>> Ethtool::OpenIn(int netns_fd) {
  std::unique_ptr<Ethtool> out;
  Status status = RunInNetns(netns_fd, [&] {
    Result<std::unique_ptr<Ethtool>> r = Open();
    if (!r.ok()) return r.status();
    out = std::move(r).value();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return out;
}

Ethtool::~Ethtool() {
  if (fd_ >= 0) close(fd_);
}

Status Ethtool::Ioctl(const std::string& ifname, void* cmd, const char* what) {
  if (fd_ < 0) return Failure(EBADF, "ethtool socket not open");
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    return Failure(EINVAL, "invalid interface name '{}'", ifname);
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  ifr.ifr_data = static_cast<char*>(cmd);
  if (ioctl(fd_, SIOCETHTOOL, &ifr) != 0) {
    if (errno == ENODEV) {
      return Failure(ENODEV, "ethtool {} on '{}': no such interface in this network namespace",
                     what, ifname);
    }
    return ErrnoFailure("ethtool {} on '{}'", what, ifname);
  }
  return Status::Ok();
}

Result<EthtoolDriverInfo> Ethtool::GetDriverInfo(const std::string& ifname) {
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  UPLINKD_RETURN_IF_ERROR(Ioctl(ifname, &info, "driver info"));
  EthtoolDriverInfo out;
  out.driver = FixedString(info.driver, sizeof(info.driver));
  out.version = FixedString(info.version, sizeof(info.version));
  out.fw_version = FixedString(info.fw_version, sizeof(info.fw_version));
  out.bus_info = FixedString(info.bus_info, sizeof(info.bus_info));
  return out;
}

Result<Channels> Ethtool::GetChannels(const std::string& ifname) {
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  UPLINKD_RETURN_IF_ERROR(Ioctl(ifname, &ch, "get channels"));
  Channels out;
  out.max_rx = ch.max_rx;
  out.max_tx = ch.max_tx;
  out.max_other = ch.max_other;
  out.max_combined = ch.max_combined;
  out.rx = ch.rx_count;
  out.tx = ch.tx_count;
  out.other = ch.other_count;
  out.combined = ch.combined_count;
  return out;
}

Status Ethtool::SetChannels(const std::string& ifname, const Channels& channels) {
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_SCHANNELS;
  ch.rx_count = channels.rx;
  ch.tx_count = channels.tx;
  ch.other_count = channels.other;
  ch.combined_count = channels.combined;
  Status status = Ioctl(ifname, &ch, "set channels");
  if (status.ok()) return status;
  return status.WithContext(fmt::format("rx {} tx {} other {} combined {}", channels.rx,
                                        channels.tx, channels.other, channels.combined));
}

std::string PciIdFromBusInfo(const std::string& bus_info) {
  if (bus_info.empty()) return "";
  if (std::optional<std::string> pci = ParsePciAddress(bus_info)) return *pci;
  // virtio_net reports its virtio device; the PCI function is that device's parent.
  if (bus_info.rfind("virtio", 0) == 0 && bus_info.find('/') == std::string::npos) {
    // ".../devices/pci0000:00/0000:00:03.0/virtio0": the parent directory's name.
    std::string target = ReadLinkTarget("/sys/bus/virtio/devices/" + bus_info);
    size_t last = target.rfind('/');
    if (last == std::string::npos) return "";
    std::string dir = target.substr(0, last);
    std::string parent = dir.substr(dir.rfind('/') + 1);  // npos + 1 == 0: no slash
    if (std::optional<std::string> pci = ParsePciAddress(parent)) return *pci;
  }
  return "";
}

std::string PciDriver(const std::string& pci_id) {
  if (pci_id.empty() || pci_id.find('/') != std::string::npos) return "";
  std::string target = ReadLinkTarget("/sys/bus/pci/devices/" + pci_id + "/driver");
  size_t slash = target.rfind('/');
  return slash == std::string::npos ? target : target.substr(slash + 1);
}

}  // namespace uplinkd
