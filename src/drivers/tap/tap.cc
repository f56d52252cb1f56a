// Tap setup: /dev/net/tun queues, the Linux side's namespace, name, MAC, MTU, addresses.
#include "drivers/tap/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/check.h"
#include "common/log.h"
#include "drivers/tap/host_tap_marker.h"
#include "drivers/tap/tap_internal.h"
#ifdef UPLINKD_WITH_URING
#include "drivers/tap/uring.h"
#endif
#include "linux/netlink_socket.h"
#include "linux/netns.h"

namespace uplinkd {
namespace {

constexpr char kTunDevice[] = "/dev/net/tun";
// The kernel picks a free name from this pattern; the final name is set in the host netns, so a
// name that exists in the dataplane's netns (the parked uplink "eth0") never collides, and an
// existing tap of the wanted name is never attached to by mistake.
constexpr char kTempNamePattern[] = "uptap%d";
constexpr uint16_t kMaxQueues = 256;  // tun's MAX_TAP_QUEUES
constexpr uint32_t kMaxRingSize = 32768;
// What tun may hand us (its netdev's tx features): partial checksums and TCP super-frames. Our
// writes need no flag: tun_get_user takes any GSO/NEEDS_CSUM vnet header (virtio_net_hdr_to_skb),
// which is how gro-coalesce's super-frames reach the host's stack.
constexpr unsigned kOffloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

MacAddress RandomEngineMac() {
  MacAddress mac = {0x02, 0xfe, 0, 0, 0, 0};  // locally administered, unicast, as VPP does
  if (getrandom(mac.data() + 2, 4, 0) != 4) {
    uint32_t fallback = static_cast<uint32_t>(getpid()) * 2654435761u;
    std::memcpy(mac.data() + 2, &fallback, 4);
  }
  return mac;
}

// kTapNoUringEnv set, and not to "0".
bool NoUringFromEnvironment() {
  const char* v = std::getenv(kTapNoUringEnv);
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

// Opens one queue of tap `name` (a pattern creates the device; a plain name attaches to it).
Result<int> OpenTunQueue(const std::string& name, std::string* actual_name) {
  int fd = open(kTunDevice, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ErrnoFailure("open {}", kTunDevice);
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    Status status = ErrnoFailure("TUNSETIFF '{}'", name);
    close(fd);
    return status;
  }
  *actual_name = ifr.ifr_name;
  return fd;
}

Status ValidateArgs(const TapArgs& args) {
  if (args.num_rx_queues == 0 || args.num_rx_queues > kMaxQueues) {
    return Failure(EINVAL, "num-rx-queues {} is out of range (1..{})", args.num_rx_queues,
                   kMaxQueues);
  }
  for (uint32_t size : {args.rx_ring_size, args.tx_ring_size}) {
    if (!IsPowerOfTwo(size) || size > kMaxRingSize) {
      return Failure(EINVAL, "ring size {} is not a power of two up to {}", size, kMaxRingSize);
    }
  }
  if (args.host_mtu && (*args.host_mtu < 68 || *args.host_mtu > 65535)) {
    return Failure(EINVAL, "host-mtu-size {} is out of range (68..65535)", *args.host_mtu);
  }
  for (const std::string& cidr : args.host_ip4_addr) {
    Result<IpPrefix> p = ParseCidr(cidr);
    if (!p.ok()) return p.status();
    if (p->family != AF_INET) return Failure(EINVAL, "host-ip4-addr '{}' is not IPv4", cidr);
  }
  for (const std::string& cidr : args.host_ip6_addr) {
    Result<IpPrefix> p = ParseCidr(cidr);
    if (!p.ok()) return p.status();
    if (p->family != AF_INET6) return Failure(EINVAL, "host-ip6-addr '{}' is not IPv6", cidr);
  }
  return Status::Ok();
}

class TapDriver final : public Driver {
 public:
  explicit TapDriver(BufferPool& pool) : pool_(pool) {}
  ~TapDriver() override { Close(); }

  Status Setup(const TapArgs& args);

  Status Start() override { return Status::Ok(); }  // the queues move packets from creation on
  void Close() noexcept override;
  DriverInfo Info() const override;
  RxQueue& rx(uint16_t queue) override {
    UPLINKD_CHECK(queue < rxq_.size());
    return *rxq_[queue];
  }
  TxQueue& tx(uint16_t queue) override {
    UPLINKD_CHECK(queue < txq_.size());
    return *txq_[queue];
  }
  Status SetMac(const MacAddress& mac) override {
    mac_ = mac;  // the engine side's address lives in the engine only
    return Status::Ok();
  }
  Status SetMtu(uint32_t mtu) override;

 private:
  // Runs `fn` with a netlink socket in the host netns.
  Status InHostNetns(const std::function<Status(Netlink&)>& fn);
  Status ConfigureHostSide(const TapArgs& args, const std::string& current_name);
  // Makes io_uring queues for every fd; on failure none (the caller falls back to plain ones).
  Status MakeUringQueues();

  BufferPool& pool_;
  std::vector<int> fds_;
  std::vector<std::unique_ptr<TapRxQueue>> rxq_;
  std::vector<std::unique_ptr<TapTxQueueBase>> txq_;
  std::string io_;  // how the queues read and write, for Info
  int host_ns_fd_ = -1;
  bool closed_ = false;

  std::string name_;     // engine side, "tapN"
  std::string host_ns_;  // as given; empty = the dataplane's
  std::string host_if_;
  int host_ifindex_ = 0;
  MacAddress mac_{};  // engine side
  MacAddress host_mac_{};
  uint32_t mtu_ = 1500;  // host side
  bool host_up_ = false;
  uint32_t rx_ring_size_ = 0;
  uint32_t tx_ring_size_ = 0;
  bool gro_coalesce_ = false;
  std::vector<std::string> host_addresses_;
};

Status TapDriver::InHostNetns(const std::function<Status(Netlink&)>& fn) {
  return RunInNetns(host_ns_fd_, [&]() -> Status {
    Result<std::unique_ptr<Netlink>> nl = Netlink::Open();
    if (!nl.ok()) return nl.status();
    return fn(**nl);
  });
}

Status TapDriver::ConfigureHostSide(const TapArgs& args, const std::string& current_name) {
  return InHostNetns([&](Netlink& nl) -> Status {
    Result<int> index = nl.LinkIndex(current_name);
    if (!index.ok()) return index.status();
    host_ifindex_ = *index;
    // Marked before it takes its final name, so that a link with that name and no mark is never
    // taken for ours.
    UPLINKD_RETURN_IF_ERROR(nl.SetLinkAlias(
        *index, fmt::format("{} {} pid {}", kHostTapAliasPrefix, name_, getpid())));
    if (current_name != host_if_) UPLINKD_RETURN_IF_ERROR(nl.SetLinkName(*index, host_if_));
    if (args.host_mac) UPLINKD_RETURN_IF_ERROR(nl.SetLinkMac(*index, *args.host_mac));
    if (args.host_mtu) UPLINKD_RETURN_IF_ERROR(nl.SetLinkMtu(*index, *args.host_mtu));
    if (args.host_up) UPLINKD_RETURN_IF_ERROR(nl.SetLinkUp(*index, true));
    for (const auto* list : {&args.host_ip4_addr, &args.host_ip6_addr}) {
      for (const std::string& cidr : *list) {
        UPLINKD_RETURN_IF_ERROR(nl.AddAddress(*index, cidr));
        host_addresses_.push_back(cidr);
      }
    }
    Result<Netlink::LinkInfo> info = nl.GetLink(*index);
    if (!info.ok()) return info.status();
    host_mac_ = info->mac;
    mtu_ = info->mtu;
    host_up_ = info->admin_up;
    return Status::Ok();
  });
}

Status TapDriver::MakeUringQueues() {
#ifdef UPLINKD_WITH_URING
  // Each read holds a frame's worth of buffers: at most a quarter of the pool for all of them.
  uint32_t per_read = TapMaxSegments(pool_.data_size());
  uint32_t reads = std::min<uint32_t>(
      kTapUringDefaultReads,
      pool_.total() / (4 * per_read * static_cast<uint32_t>(fds_.size())));
  if (reads < 2) {
    return Failure(ENOBUFS, "{} buffers are too few for 2 reads in flight per queue",
                   pool_.total());
  }
  std::vector<std::unique_ptr<TapRxQueue>> rx;
  std::vector<std::unique_ptr<TapTxQueueBase>> tx;
  const char* name = "";
  for (int fd : fds_) {
    Result<std::unique_ptr<TapUringRxQueue>> rxq =
        TapUringRxQueue::Create(fd, pool_.data_size(), reads);
    if (!rxq.ok()) return rxq.status();
    name = (*rxq)->io_name();
    rx.push_back(std::move(rxq).value());
    auto txq = std::make_unique<TapUringTxQueue>(gro_coalesce_, fd);
    UPLINKD_RETURN_IF_ERROR(txq->writer().Init());
    tx.push_back(std::move(txq));
  }
  rxq_ = std::move(rx);
  txq_ = std::move(tx);
  io_ = fmt::format("{} ({} reads in flight per queue)", name, reads);
  return Status::Ok();
#else
  return Failure(ENOTSUP, "built without liburing");
#endif
}

Status TapDriver::Setup(const TapArgs& args) {
  uint32_t id = args.id.value_or(0);
  name_ = TapInterfaceName(id);
  host_if_ = args.host_if_name.empty() ? name_ : args.host_if_name;
  host_ns_ = args.host_ns;
  mac_ = args.hw_addr.value_or(RandomEngineMac());
  rx_ring_size_ = args.rx_ring_size;
  tx_ring_size_ = args.tx_ring_size;
  gro_coalesce_ = args.gro_coalesce;
  UPLINKD_RETURN_IF_ERROR(ValidateArgs(args));

  // Kept open for the driver's life: later SetMtu calls work there even if its name goes away.
  Result<int> ns = host_ns_.empty() ? OpenCurrentNetns() : OpenNetns(host_ns_);
  if (!ns.ok()) return ns.status();
  host_ns_fd_ = *ns;

  std::string tun_name = kTempNamePattern;
  for (uint16_t q = 0; q < args.num_rx_queues; ++q) {
    Result<int> fd = OpenTunQueue(tun_name, &tun_name);
    if (!fd.ok()) return fd.status().WithContext(fmt::format("queue {}", q));
    fds_.push_back(*fd);
    if (q == 0) {
      // Per device, so the first queue sets them for all.
      int header_size = kVnetHeaderSize;
      if (ioctl(*fd, TUNSETVNETHDRSZ, &header_size) != 0) {
        return ErrnoFailure("TUNSETVNETHDRSZ {}", header_size);
      }
      if (ioctl(*fd, TUNSETOFFLOAD, static_cast<unsigned long>(kOffloads)) != 0) {
        return ErrnoFailure("TUNSETOFFLOAD");
      }
    }
  }
  // While the tap is still down (the io_uring probe reads it).
  if (!args.uring) {
    io_ = "readv/writev (no-uring)";
  } else if (NoUringFromEnvironment()) {
    io_ = fmt::format("readv/writev ({} is set)", kTapNoUringEnv);
  } else if (Status uring = MakeUringQueues(); !uring.ok()) {
    Logger("tap")->warn("{}: io_uring is not used ({}); reads and writes are readv/writev",
                        name_, uring.message());
    io_ = fmt::format("readv/writev (io_uring: {})", uring.message());
  }
  if (rxq_.empty()) {
    for (int fd : fds_) {
      rxq_.push_back(std::make_unique<TapPlainRxQueue>(fd, pool_.data_size()));
      txq_.push_back(std::make_unique<TapTxQueue<PlainTapWriter>>(gro_coalesce_, fd));
    }
  }

  if (!host_ns_.empty()) {
    Result<std::unique_ptr<Netlink>> nl = Netlink::Open();
    if (!nl.ok()) return nl.status();
    Result<int> index = (*nl)->LinkIndex(tun_name);
    if (!index.ok()) return index.status();
    UPLINKD_RETURN_IF_ERROR((*nl)->MoveLinkToNetns(*index, host_ns_fd_));
  }
  UPLINKD_RETURN_IF_ERROR(ConfigureHostSide(args, tun_name));
  Logger("tap")->info(
      "{}: host interface '{}' in netns '{}', {} queue(s), mac {}, host mac {}, io {}", name_,
      host_if_, host_ns_.empty() ? "(dataplane)" : host_ns_, fds_.size(), FormatMac(mac_),
      FormatMac(host_mac_), io_);
  return Status::Ok();
}

void TapDriver::Close() noexcept {
  if (closed_) return;
  closed_ = true;
  // The queues first: an io_uring queue ends its reads and writes, which hold the fds.
  for (auto& q : rxq_) q->Close(pool_);
  for (auto& q : txq_) q->Close(pool_);
  // Closing the last queue of a non-persistent tap deletes the interface, wherever it is.
  bool had_queues = !fds_.empty();
  for (int fd : fds_) close(fd);
  fds_.clear();
  if (host_ns_fd_ >= 0) close(host_ns_fd_);
  host_ns_fd_ = -1;
  if (had_queues) Logger("tap")->info("{}: closed, host interface '{}' removed", name_, host_if_);
}

DriverInfo TapDriver::Info() const {
  DriverInfo info;
  info.driver = "tap";
  info.host_if = host_if_;
  info.mac = mac_;
  info.mtu = mtu_;
  info.num_rx_queues = static_cast<uint16_t>(rxq_.size());
  info.num_tx_queues = static_cast<uint16_t>(txq_.size());
  info.rx_ring_size = rx_ring_size_;
  info.tx_ring_size = tx_ring_size_;
  info.link_up = !closed_ && host_up_;
  info.details.push_back(
      fmt::format("host-ns {}", host_ns_.empty() ? "(dataplane's own)" : host_ns_));
  info.details.push_back(fmt::format("host-if {} ifindex {}", host_if_, host_ifindex_));
  info.details.push_back(fmt::format("host-mac-addr {}", FormatMac(host_mac_)));
  info.details.push_back(fmt::format("host-mtu-size {}", mtu_));
  for (const std::string& cidr : host_addresses_) {
    info.details.push_back(fmt::format("host-ip-addr {}", cidr));
  }
  info.details.push_back(fmt::format(
      "vnet-hdr virtio_net_hdr_v1 ({} bytes), offloads csum tso4 tso6{}", kVnetHeaderSize,
      gro_coalesce_ ? ", gro-coalesce" : ""));
  info.details.push_back(fmt::format("io {}", io_));
  if (closed_) info.details.push_back("closed");
  return info;
}

Status TapDriver::SetMtu(uint32_t mtu) {
  if (closed_) return Failure(ENODEV, "{} is closed", name_);
  Status status = InHostNetns([&](Netlink& nl) { return nl.SetLinkMtu(host_ifindex_, mtu); });
  if (!status.ok()) return status.WithContext(name_);
  mtu_ = mtu;
  return Status::Ok();
}

}  // namespace

std::string TapInterfaceName(uint32_t id) { return fmt::format("tap{}", id); }

Result<std::unique_ptr<Driver>> CreateTapDriver(const TapArgs& args, BufferPool& pool) {
  auto driver = std::make_unique<TapDriver>(pool);
  Status status = driver->Setup(args);
  if (!status.ok()) {
    // The destructor closes the queue fds, which deletes the half-made interface.
    return status.WithContext(fmt::format("create tap {}", TapInterfaceName(args.id.value_or(0))));
  }
  return std::unique_ptr<Driver>(std::move(driver));
}

}  // namespace uplinkd
