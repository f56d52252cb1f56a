#pragma once
// The Linux interface behind a socket-based driver (af_packet, af_xdp): name-based ioctls on a
// control socket made in the interface's netns (names resolve in the socket's netns).

#include <net/if.h>

#include <cstdint>
#include <string>

#include "common/parse.h"
#include "common/status.h"

namespace uplinkd {

// ioctl(fd, request) on interface `name`; ENODEV reads "interface 'X' not found".
Status InterfaceIoctl(int fd, const std::string& name, unsigned long request, ifreq* ifr);

struct HostInterfaceBasics {
  int ifindex = 0;
  uint32_t mtu = 0;
  MacAddress mac{};
};

// Index, MTU and MAC of an Ethernet interface; ENOTSUP for any other link type.
Result<HostInterfaceBasics> QueryHostInterface(int ctl_fd, const std::string& name);

}  // namespace uplinkd
