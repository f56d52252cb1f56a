#include "linux/xdp_features.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/if_xdp.h>
#include <linux/netlink.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "linux/netlink_channel.h"

namespace uplinkd {
namespace {

// The generic-netlink "netdev" family of <linux/netdev.h> (uapi, Linux >= 6.3), spelt out
// because Debian 12's linux-libc-dev (6.1) has no such header: NETDEV_FAMILY_NAME,
// NETDEV_FAMILY_VERSION, NETDEV_CMD_DEV_GET, NETDEV_A_DEV_IFINDEX and NETDEV_A_DEV_XDP_FEATURES.
constexpr const char* kNetdevFamilyName = "netdev";
constexpr uint8_t kNetdevFamilyVersion = 1;
constexpr uint8_t kNetdevCmdDevGet = 1;
constexpr uint16_t kNetdevAttrDevIfindex = 1;
constexpr uint16_t kNetdevAttrDevXdpFeatures = 3;  // u64 (NETDEV_A_DEV_PAD = 2 pads it)

struct GenlRequest {
  alignas(nlmsghdr) char data[256];
};

nlmsghdr* StartGenlRequest(GenlRequest& buf, uint16_t family, uint8_t cmd, uint8_t version) {
  std::memset(buf.data, 0, sizeof(buf.data));
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data);
  nlh->nlmsg_type = family;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
  genl->cmd = cmd;
  genl->version = version;
  return nlh;
}

// The attribute of type `type` in a generic-netlink reply, or nullptr.
const nlattr* FindGenlAttr(const nlmsghdr* nlh, uint16_t type) {
  struct Found {
    uint16_t type;
    const nlattr* attr;
  } found{type, nullptr};
  mnl_attr_parse(nlh, sizeof(genlmsghdr), [](const nlattr* attr, void* data) {
    auto* f = static_cast<Found*>(data);
    if (mnl_attr_get_type(attr) == f->type) f->attr = attr;
    return MNL_CB_OK;
  }, &found);
  return found.attr;
}

// The id the kernel gave the family `name` (CTRL_CMD_GETFAMILY); ENOENT when it has none.
Result<uint16_t> ResolveGenlFamily(NetlinkChannel& channel, const char* name) {
  GenlRequest buf;
  nlmsghdr* nlh = StartGenlRequest(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
  mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
  uint16_t id = 0;
  Status status = channel.Transact(nlh, [&](const nlmsghdr* reply) {
    const nlattr* a = FindGenlAttr(reply, CTRL_ATTR_FAMILY_ID);
    if (a != nullptr && mnl_attr_validate(a, MNL_TYPE_U16) >= 0) id = mnl_attr_get_u16(a);
    return Status::Ok();
  });
  if (!status.ok()) return status.WithContext(fmt::format("generic netlink family '{}'", name));
  if (id == 0) return Failure(EPROTO, "generic netlink family '{}': no id in the reply", name);
  return id;
}

// An AF_XDP socket with a one-chunk UMEM and the rings a bind needs (fill, completion, rx); the
// rings are never mapped: nothing is ever received on it. Closed (and its UMEM unpinned) on
// destruction.
class TrialXsk {
 public:
  TrialXsk() = default;
  ~TrialXsk() {
    if (fd_ >= 0) ::close(fd_);
    if (umem_ != MAP_FAILED) munmap(umem_, kUmemSize);
  }
  TrialXsk(const TrialXsk&) = delete;
  TrialXsk& operator=(const TrialXsk&) = delete;

  Status Open() {
    umem_ = mmap(nullptr, kUmemSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (umem_ == MAP_FAILED) return ErrnoFailure("mmap {} bytes for a UMEM", kUmemSize);
    fd_ = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return ErrnoFailure("AF_XDP socket");
    xdp_umem_reg reg;
    std::memset(&reg, 0, sizeof(reg));  // padding too: newer kernels read a field there
    reg.addr = reinterpret_cast<uintptr_t>(umem_);
    reg.len = kUmemSize;
    reg.chunk_size = kUmemSize;  // one page-sized chunk: the largest aligned chunk
    if (setsockopt(fd_, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) != 0) {
      return ErrnoFailure("register a UMEM");
    }
    int entries = kRingEntries;
    for (int ring : {XDP_UMEM_FILL_RING, XDP_UMEM_COMPLETION_RING, XDP_RX_RING}) {
      if (setsockopt(fd_, SOL_XDP, ring, &entries, sizeof(entries)) != 0) {
        return ErrnoFailure("size AF_XDP ring {}", ring);
      }
    }
    return Status::Ok();
  }

  // 0 when the bind took, else its errno.
  int Bind(int ifindex, uint32_t queue, uint16_t flags) {
    sockaddr_xdp sxdp{};
    sxdp.sxdp_family = AF_XDP;
    sxdp.sxdp_flags = flags;
    sxdp.sxdp_ifindex = static_cast<uint32_t>(ifindex);
    sxdp.sxdp_queue_id = queue;
    return bind(fd_, reinterpret_cast<const sockaddr*>(&sxdp), sizeof(sxdp)) == 0 ? 0 : errno;
  }

 private:
  static constexpr size_t kUmemSize = 4096;
  static constexpr int kRingEntries = 64;
  int fd_ = -1;
  void* umem_ = MAP_FAILED;
};

// One trial socket bound with `flags`: 0 or the bind's errno; setup failures as errors.
Result<int> TrialBind(int ifindex, uint32_t queue, uint16_t flags) {
  TrialXsk xsk;
  UPLINKD_RETURN_IF_ERROR(xsk.Open());
  return xsk.Bind(ifindex, queue, flags);
}

}  // namespace

Result<uint64_t> QueryXdpFeatures(int ifindex) {
  if (ifindex <= 0) return Failure(EINVAL, "invalid interface index {}", ifindex);
  auto channel = NetlinkChannel::Open(NETLINK_GENERIC);
  if (!channel.ok()) return channel.status().WithContext("generic netlink");
  auto family = ResolveGenlFamily(**channel, kNetdevFamilyName);
  if (!family.ok()) return family.status();
  GenlRequest buf;
  nlmsghdr* nlh = StartGenlRequest(buf, *family, kNetdevCmdDevGet, kNetdevFamilyVersion);
  mnl_attr_put_u32(nlh, kNetdevAttrDevIfindex, static_cast<uint32_t>(ifindex));
  bool found = false;
  uint64_t features = 0;
  Status status = (*channel)->Transact(nlh, [&](const nlmsghdr* reply) {
    const nlattr* a = FindGenlAttr(reply, kNetdevAttrDevXdpFeatures);
    if (a != nullptr && mnl_attr_validate(a, MNL_TYPE_U64) >= 0) {
      features = mnl_attr_get_u64(a);
      found = true;
    }
    return Status::Ok();
  });
  if (!status.ok()) {
    return status.WithContext(fmt::format("netdev dev-get of interface index {}", ifindex));
  }
  if (!found) {
    return Failure(EPROTO, "netdev dev-get of interface index {}: no xdp-features in the reply",
                   ifindex);
  }
  return features;
}

// What the trial costs. The socket never gets an XSKMAP entry, so no packet is redirected to it,
// no XDP program is loaded or attached, and no link setting changes; it pins and (on a
// zero-copy NIC) DMA-maps one page for a moment. Without zero-copy (veth, virtio_net on old
// kernels, most drivers) the kernel refuses before calling the driver: nothing happens at all.
// On a NIC whose driver has zero-copy (i40e, ice, ixgbe, igc, mlx5, stmmac...) the bind hands the
// driver an XSK buffer pool for queue 0 (ndo_bpf XDP_SETUP_XSK_POOL: the page is DMA-mapped) and
// the close takes it back. i40e and ixgbe (and the drivers written like them) restart that queue
// pair only while an XDP program runs on the interface, and mlx5 opens its XSK queues only then;
// the manager probes only when no XDP program is attached (af_xdp_blocker), so nothing is
// restarted and no packet is lost. For the moment the
// socket is bound, queue 0 is taken: another AF_XDP user binding it then gets EBUSY.
Result<bool> TrialXskZeroCopyBind(int ifindex, uint32_t queue) {
  if (ifindex <= 0) return Failure(EINVAL, "invalid interface index {}", ifindex);
  auto zero_copy = TrialBind(ifindex, queue, XDP_ZEROCOPY);
  if (!zero_copy.ok()) return zero_copy.status().WithContext("trial zero-copy bind");
  if (*zero_copy == 0) return true;
  if (*zero_copy == EOPNOTSUPP) return false;
  if (*zero_copy == EINVAL) {
    // Drivers refuse a pool they cannot run with EINVAL too; a copy bind of the same socket
    // tells that apart from a mistake in the socket itself.
    auto copy = TrialBind(ifindex, queue, XDP_COPY);
    if (!copy.ok()) return copy.status().WithContext("trial copy bind");
    if (*copy == 0) return false;
    return Failure(*copy, "trial AF_XDP bind to queue {} of interface index {}: {}", queue,
                   ifindex, std::strerror(*copy));
  }
  return Failure(*zero_copy, "trial zero-copy AF_XDP bind to queue {} of interface index {}: {}",
                 queue, ifindex, std::strerror(*zero_copy));
}

Result<XskZeroCopySupport> ProbeXskZeroCopy(int ifindex) {
  auto features = QueryXdpFeatures(ifindex);
  if (features.ok()) return XskZeroCopySupport{(*features & kXdpActXskZeroCopy) != 0, true};
  if (features.status().code() != ENOENT) return features.status();
  auto bound = TrialXskZeroCopyBind(ifindex, 0);
  if (!bound.ok()) return bound.status();
  return XskZeroCopySupport{*bound, false};
}

}  // namespace uplinkd
