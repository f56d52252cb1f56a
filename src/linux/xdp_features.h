#pragma once
// Whether AF_XDP sockets can run zero-copy on an interface, asked of the kernel before anything
// on the node changes (the manager ranks af_xdp by it: manager/driver_choice.h).
//
// - Linux >= 6.3 says it in the generic-netlink "netdev" family: NETDEV_CMD_DEV_GET returns the
//   interface's xdp-features bitmask, with NETDEV_XDP_ACT_XSK_ZEROCOPY where the driver has
//   AF_XDP zero-copy. Since 6.3 the kernel refuses a zero-copy bind without that bit, so it is
//   the whole answer.
// - Older kernels have no such family: a trial bind asks instead (TrialXskZeroCopyBind).
// Cold paths; everything acts in the calling thread's network namespace.

#include <cstdint>
#include <string>

#include "common/status.h"

namespace uplinkd {

// NETDEV_XDP_ACT_XSK_ZEROCOPY of <linux/netdev.h> (uapi, Linux >= 6.3: enum netdev_xdp_act,
// `1U << 3`), spelt out because Debian 12's linux-libc-dev (6.1) has no such header.
inline constexpr uint64_t kXdpActXskZeroCopy = uint64_t{1} << 3;

// The xdp-features bitmask of `ifindex` (NETDEV_A_DEV_XDP_FEATURES). ENOENT when the kernel has
// no "netdev" generic-netlink family (Linux < 6.3); ENODEV for an unknown interface.
Result<uint64_t> QueryXdpFeatures(int ifindex);

// Binds an AF_XDP socket with XDP_ZEROCOPY to `queue` of `ifindex` and closes it at once: true
// when the bind took, false when the kernel refused zero-copy (EOPNOTSUPP, or EINVAL where the
// same socket then binds in copy mode, which proves the refusal was about zero-copy). Any other
// failure is an error (EBUSY: an AF_XDP socket already holds the queue; EPERM without
// CAP_NET_RAW). It changes nothing that outlives the call: see the .cc for what it costs on a
// NIC that has zero-copy.
Result<bool> TrialXskZeroCopyBind(int ifindex, uint32_t queue = 0);

struct XskZeroCopySupport {
  bool zero_copy = false;
  bool from_xdp_features = true;  // else from a trial bind (a kernel without the netdev family)
};

// xdp-features where the kernel has them, else the trial bind on queue 0.
Result<XskZeroCopySupport> ProbeXskZeroCopy(int ifindex);

}  // namespace uplinkd
