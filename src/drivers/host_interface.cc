#include "drivers/host_interface.h"

#include <net/if_arp.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cstring>

namespace uplinkd {

Status InterfaceIoctl(int fd, const std::string& name, unsigned long request, ifreq* ifr) {
  std::memset(ifr, 0, sizeof(*ifr));
  std::memcpy(ifr->ifr_name, name.data(), std::min(name.size(), size_t{IFNAMSIZ - 1}));
  if (ioctl(fd, request, ifr) < 0) {
    if (errno == ENODEV) return Failure(ENODEV, "interface '{}' not found", name);
    return ErrnoFailure("ioctl on interface '{}'", name);
  }
  return Status::Ok();
}

Result<HostInterfaceBasics> QueryHostInterface(int ctl_fd, const std::string& name) {
  HostInterfaceBasics basics;
  ifreq ifr;
  UPLINKD_RETURN_IF_ERROR(InterfaceIoctl(ctl_fd, name, SIOCGIFINDEX, &ifr));
  basics.ifindex = ifr.ifr_ifindex;
  UPLINKD_RETURN_IF_ERROR(InterfaceIoctl(ctl_fd, name, SIOCGIFMTU, &ifr));
  basics.mtu = static_cast<uint32_t>(ifr.ifr_mtu);
  UPLINKD_RETURN_IF_ERROR(InterfaceIoctl(ctl_fd, name, SIOCGIFHWADDR, &ifr));
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    return Failure(ENOTSUP, "not an Ethernet interface (type {})", ifr.ifr_hwaddr.sa_family);
  }
  std::memcpy(basics.mac.data(), ifr.ifr_hwaddr.sa_data, basics.mac.size());
  return basics;
}

}  // namespace uplinkd
