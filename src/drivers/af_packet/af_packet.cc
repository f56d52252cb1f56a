// af_packet setup and teardown: ring sizing, sockets, fanout, promiscuous mode, Info().

#include "drivers/af_packet/af_packet.h"
#include "drivers/host_interface.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

#include "common/log.h"
#include "drivers/af_packet/af_packet_internal.h"

// Newer than the uapi headers of the build host (kernel 6.8+): one fanout-wide
// PACKET_IGNORE_OUTGOING, since the per-socket option is not consulted for fanout members.
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif

namespace uplinkd {
namespace af_packet {

MappedSocket& MappedSocket::operator=(MappedSocket&& o) noexcept {
  if (this != &o) {
    Reset();
    fd_ = std::exchange(o.fd_, -1);
    ring_ = std::exchange(o.ring_, nullptr);
    ring_bytes_ = std::exchange(o.ring_bytes_, 0);
  }
  return *this;
}

void MappedSocket::Reset() noexcept {
  if (ring_ != nullptr) munmap(ring_, ring_bytes_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ring_ = nullptr;
  ring_bytes_ = 0;
}

}  // namespace af_packet

namespace {

using af_packet::AfPacketRxQueue;
using af_packet::AfPacketTxQueue;
using af_packet::kMaxGsoFrameBytes;
using af_packet::kTxDataOffset;
using af_packet::kVnetHdrSize;
using af_packet::MappedSocket;
using af_packet::RingLayout;

constexpr uint32_t kEthVlanOverhead = ETH_HLEN + 4;  // MTU counts neither
// Room in front of the frame data in an RX frame: tpacket header, sockaddr_ll, alignment, the
// virtio-net header, and (V3) the block descriptor.
constexpr uint32_t kRxHeadroom = 256;
constexpr uint32_t kDefaultFrameSize = 2048;
constexpr uint32_t kDefaultRxFramesV3 = 4096;  // 8 MiB of 2 KiB frame units
constexpr uint32_t kDefaultRxFramesV2 = 2048;
constexpr uint32_t kDefaultRxFramesV2Gso = 256;  // each frame holds a 64 KiB super-frame
constexpr uint32_t kDefaultTxFrames = 1024;
constexpr uint32_t kMinV3BlockSize = 64 * 1024;
constexpr uint32_t kV3BlockHeader = 64;  // tpacket_block_desc, aligned
// Blocks are retired after this long even when not full, so a lone frame waits at most ~1 ms
// (the kernel's granularity) before poll() reports it: low latency in interrupt mode.
constexpr uint32_t kRetireTimeoutMs = 1;
constexpr uint32_t kMinFrameSize = 128;
constexpr size_t kMaxRingBytes = size_t{1} << 30;
constexpr size_t kMaxBlockBytes = size_t{64} << 20;
constexpr int kSocketBufferBytes = 4 << 20;

uint32_t RoundUp(uint64_t v, uint64_t align) {
  return static_cast<uint32_t>((v + align - 1) / align * align);
}

struct Plan {
  RingLayout rx;
  RingLayout tx;
  uint32_t max_rx_frame = 0;  // longest frame the rx ring must hold whole
  uint32_t max_plain_frame = 0;
  uint32_t max_gso_frame = 0;
};

Status CheckFrameSize(const char* what, uint32_t size) {
  if (size < kMinFrameSize || size % TPACKET_ALIGNMENT != 0 || size > (1u << 24)) {
    return Failure(EINVAL, "{} {} must be a multiple of {} in {}..{}", what, size,
                   TPACKET_ALIGNMENT, kMinFrameSize, 1u << 24);
  }
  return Status::Ok();
}

// Blocks are whole pages holding at least `min_frames_per_block` frames; the frame count is
// rounded up to whole blocks.
Result<RingLayout> MakeLayout(const char* what, uint32_t frame_size, uint32_t min_frames_per_block,
                              uint32_t frames, uint32_t page) {
  RingLayout l;
  l.frame_size = frame_size;
  uint64_t block = static_cast<uint64_t>(frame_size) * min_frames_per_block;
  if (block > kMaxBlockBytes) {
    return Failure(EINVAL, "{} block of {} frames of {} bytes is larger than {} MiB", what,
                   min_frames_per_block, frame_size, kMaxBlockBytes >> 20);
  }
  l.block_size = RoundUp(block, page);
  uint64_t per_block = l.block_size / frame_size;
  uint64_t block_nr = (uint64_t{frames} + per_block - 1) / per_block;
  if (block_nr * l.block_size > kMaxRingBytes) {
    return Failure(EINVAL, "{} ring of {} frames of {} bytes is larger than {} MiB", what, frames,
                   frame_size, kMaxRingBytes >> 20);
  }
  l.block_nr = static_cast<uint32_t>(block_nr);
  l.frame_nr = static_cast<uint32_t>(block_nr * per_block);
  return l;
}

Result<Plan> PlanRings(const AfPacketArgs& args, uint32_t mtu, uint32_t page) {
  Plan p;
  p.max_plain_frame = mtu + kEthVlanOverhead;
  p.max_gso_frame = args.offloads ? std::max(kMaxGsoFrameBytes, p.max_plain_frame)
                                  : p.max_plain_frame;
  p.max_rx_frame = p.max_gso_frame;
  uint32_t rx_need = kRxHeadroom + p.max_rx_frame;

  // RX.
  uint32_t frame = args.rx_frame_size;
  uint32_t per_block = args.rx_frames_per_block;
  uint32_t frames = args.rx_size;
  if (!args.use_v2) {
    // V3 packs frames of any size into blocks: only the block must hold the largest frame.
    if (frame == 0) frame = kDefaultFrameSize;
    UPLINKD_RETURN_IF_ERROR(CheckFrameSize("rx-frame-size", frame));
    if (per_block == 0) {
      // Blocks of a power of two holding the largest frame, 64 KiB at least (fewer block
      // switches and retire timers for small frames).
      uint32_t block = std::max(kMinV3BlockSize, std::bit_ceil(rx_need + kV3BlockHeader));
      per_block = std::max(1u, (block + frame - 1) / frame);
    }
    if (frames == 0) frames = kDefaultRxFramesV3;
  } else {
    // V2 has one frame per packet: each must hold the largest frame.
    if (frame == 0) frame = rx_need <= kDefaultFrameSize ? kDefaultFrameSize : RoundUp(rx_need, 16);
    UPLINKD_RETURN_IF_ERROR(CheckFrameSize("rx-frame-size", frame));
    if (per_block == 0) per_block = std::max(1u, page / frame);
    if (frames == 0) frames = args.offloads ? kDefaultRxFramesV2Gso : kDefaultRxFramesV2;
  }
  Result<RingLayout> rx = MakeLayout("rx", frame, per_block, frames, page);
  if (!rx.ok()) return rx.status();
  p.rx = *rx;

  // TX: always TPACKET_V2 frames. They hold MTU-size frames; larger ones take the sendmsg path.
  uint32_t tx_need = kTxDataOffset + (args.offloads ? kVnetHdrSize : 0) + p.max_plain_frame;
  frame = args.tx_frame_size;
  if (frame == 0) frame = tx_need <= kDefaultFrameSize ? kDefaultFrameSize : RoundUp(tx_need, 16);
  UPLINKD_RETURN_IF_ERROR(CheckFrameSize("tx-frame-size", frame));
  per_block = args.tx_frames_per_block != 0 ? args.tx_frames_per_block : std::max(1u, page / frame);
  frames = args.tx_size != 0 ? args.tx_size : kDefaultTxFrames;
  Result<RingLayout> tx = MakeLayout("tx", frame, per_block, frames, page);
  if (!tx.ok()) return tx.status();
  p.tx = *tx;
  return p;
}

Status SetOpt(int fd, int level, int name, const void* value, socklen_t len, const char* what) {
  if (setsockopt(fd, level, name, value, len) < 0) return ErrnoFailure("setsockopt {}", what);
  return Status::Ok();
}

Status SetIntOpt(int fd, int level, int name, int value, const char* what) {
  return SetOpt(fd, level, name, &value, sizeof(value), what);
}

// Makes socket buffers large enough for a burst of 64 KiB frames; the forced variant needs
// CAP_NET_ADMIN and ignores wmem_max. Best effort.
void GrowSendBuffer(int fd) {
  int bytes = kSocketBufferBytes;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  }
}

Status Bind(int fd, int ifindex, uint16_t protocol) {
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(protocol);
  sll.sll_ifindex = ifindex;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) return ErrnoFailure("bind");
  return Status::Ok();
}

Result<MappedSocket> MapRing(int fd, const RingLayout& l) {
  void* mem = mmap(nullptr, l.bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (mem == MAP_FAILED) {
    Status s = ErrnoFailure("mmap ring of {} bytes", l.bytes());
    ::close(fd);
    return s;
  }
  return MappedSocket(fd, static_cast<uint8_t*>(mem), l.bytes());
}

int OpenPacketSocket() { return socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); }

struct SocketFeatures {
  bool ignore_outgoing = false;
  bool qdisc_bypass = false;
};

// One rx queue's socket: created with protocol 0 so nothing is queued to it before the ring
// exists, then bound to ETH_P_ALL.
Result<MappedSocket> OpenRxSocket(const AfPacketArgs& args, const RingLayout& l, int ifindex,
                                  SocketFeatures* features) {
  int fd = OpenPacketSocket();
  if (fd < 0) return ErrnoFailure("socket(AF_PACKET)");
  auto fail = [fd](Status s) {
    ::close(fd);
    return s;
  };
  Status s = SetIntOpt(fd, SOL_PACKET, PACKET_VERSION, args.use_v2 ? TPACKET_V2 : TPACKET_V3,
                       "PACKET_VERSION");
  if (!s.ok()) return fail(s);
  if (args.offloads) {
    s = SetIntOpt(fd, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");  // before the ring
    if (!s.ok()) return fail(s);
  }
  features->ignore_outgoing =
      SetIntOpt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING").ok();
  if (args.use_v2) {
    tpacket_req req{};
    req.tp_block_size = l.block_size;
    req.tp_block_nr = l.block_nr;
    req.tp_frame_size = l.frame_size;
    req.tp_frame_nr = l.frame_nr;
    s = SetOpt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req), "PACKET_RX_RING");
  } else {
    tpacket_req3 req{};
    req.tp_block_size = l.block_size;
    req.tp_block_nr = l.block_nr;
    req.tp_frame_size = l.frame_size;
    req.tp_frame_nr = l.frame_nr;
    req.tp_retire_blk_tov = kRetireTimeoutMs;
    s = SetOpt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req), "PACKET_RX_RING");
  }
  if (!s.ok()) return fail(s);
  Result<MappedSocket> ring = MapRing(fd, l);
  if (!ring.ok()) return ring.status();
  UPLINKD_RETURN_IF_ERROR(Bind(ring->fd(), ifindex, ETH_P_ALL));
  return ring;
}

// One tx queue's ring socket, bound with protocol 0: it sends only, nothing is queued to it.
Result<MappedSocket> OpenTxRingSocket(const AfPacketArgs& args, const RingLayout& l, int ifindex,
                                      SocketFeatures* features) {
  int fd = OpenPacketSocket();
  if (fd < 0) return ErrnoFailure("socket(AF_PACKET)");
  auto fail = [fd](Status s) {
    ::close(fd);
    return s;
  };
  Status s = SetIntOpt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION");
  if (!s.ok()) return fail(s);
  if (args.offloads) {
    s = SetIntOpt(fd, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
    if (!s.ok()) return fail(s);
  }
  // A frame the kernel refuses (bad vnet header, too long) is skipped instead of stopping the
  // ring with TP_STATUS_WRONG_FORMAT.
  s = SetIntOpt(fd, SOL_PACKET, PACKET_LOSS, 1, "PACKET_LOSS");
  if (!s.ok()) return fail(s);
  if (args.qdisc_bypass) {
    features->qdisc_bypass =
        SetIntOpt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS").ok();
  }
  tpacket_req req{};
  req.tp_block_size = l.block_size;
  req.tp_block_nr = l.block_nr;
  req.tp_frame_size = l.frame_size;
  req.tp_frame_nr = l.frame_nr;
  s = SetOpt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req), "PACKET_TX_RING");
  if (!s.ok()) return fail(s);
  GrowSendBuffer(fd);
  Result<MappedSocket> ring = MapRing(fd, l);
  if (!ring.ok()) return ring.status();
  UPLINKD_RETURN_IF_ERROR(Bind(ring->fd(), ifindex, 0));
  return ring;
}

// The ring-less socket for frames larger than a TX ring frame.
Result<int> OpenTxPlainSocket(const AfPacketArgs& args, int ifindex) {
  int fd = OpenPacketSocket();
  if (fd < 0) return ErrnoFailure("socket(AF_PACKET)");
  Status s;
  if (args.offloads) s = SetIntOpt(fd, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
  if (s.ok() && args.qdisc_bypass) {
    (void)SetIntOpt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
  }
  if (s.ok()) s = Bind(fd, ifindex, 0);
  if (!s.ok()) {
    ::close(fd);
    return s;
  }
  GrowSendBuffer(fd);
  return fd;
}

// Joins the rx sockets into one hash fanout group. The first socket asks the kernel for an id
// unused in this netns (FLAG_UNIQUEID) so two engines never share a group by accident; the
// others join it. Returns the group id.
Result<uint16_t> JoinFanout(const std::vector<int>& fds, int ifindex, bool* ignore_outgoing) {
  int base = PACKET_FANOUT_HASH;
  int flags_tries[2] = {PACKET_FANOUT_FLAG_IGNORE_OUTGOING, 0};
  for (int extra : flags_tries) {
    int type_flags = base | extra;
    int value = (type_flags | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
    uint16_t id = 0;
    if (setsockopt(fds[0], SOL_PACKET, PACKET_FANOUT, &value, sizeof(value)) == 0) {
      int got = 0;
      socklen_t len = sizeof(got);
      if (getsockopt(fds[0], SOL_PACKET, PACKET_FANOUT, &got, &len) < 0) {
        return ErrnoFailure("getsockopt PACKET_FANOUT");
      }
      id = static_cast<uint16_t>(got & 0xffff);
    } else if (errno == EINVAL) {
      if (extra != 0) continue;  // an older kernel: try without the newer flag
      // No FLAG_UNIQUEID (kernel < 4.4): an id derived from ifindex and pid.
      id = static_cast<uint16_t>((static_cast<uint32_t>(ifindex) << 8) ^ getpid());
      value = (type_flags << 16) | id;
      if (setsockopt(fds[0], SOL_PACKET, PACKET_FANOUT, &value, sizeof(value)) < 0) {
        return ErrnoFailure("setsockopt PACKET_FANOUT id {}", id);
      }
    } else {
      return ErrnoFailure("setsockopt PACKET_FANOUT");
    }
    value = (type_flags << 16) | id;
    for (size_t i = 1; i < fds.size(); ++i) {
      if (setsockopt(fds[i], SOL_PACKET, PACKET_FANOUT, &value, sizeof(value)) < 0) {
        return ErrnoFailure("setsockopt PACKET_FANOUT join group {} (queue {})", id, i);
      }
    }
    *ignore_outgoing = extra != 0;
    return id;
  }
  return Failure(EINVAL, "PACKET_FANOUT refused");
}


class AfPacketDriver final : public Driver {
 public:
  AfPacketDriver(const AfPacketArgs& args, int ctl_fd, int ifindex, MacAddress mac, uint32_t mtu,
                 const Plan& plan)
      : args_(args), ctl_fd_(ctl_fd), ifindex_(ifindex), mac_(mac), mtu_(mtu), plan_(plan) {}
  ~AfPacketDriver() override { Close(); }

  Status Setup(BufferPool& pool);

  Status Start() override {
    if (closed_) return Failure(EBADF, "af_packet {}: closed", args_.host_if);
    return Status::Ok();  // the sockets are bound at creation and already move packets
  }
  void Close() noexcept override;
  DriverInfo Info() const override;
  RxQueue& rx(uint16_t queue) override { return *rxq_.at(queue); }
  TxQueue& tx(uint16_t queue) override { return *txq_.at(queue); }
  Status SetMac(const MacAddress& mac) override {
    mac_ = mac;  // engine side only: the Linux interface keeps its own
    return Status::Ok();
  }

 private:
  AfPacketArgs args_;
  int ctl_fd_;  // for ioctls in the interface's netns
  int ifindex_;
  MacAddress mac_;
  uint32_t mtu_;
  Plan plan_;
  std::vector<std::unique_ptr<AfPacketRxQueue>> rxq_;
  std::vector<std::unique_ptr<AfPacketTxQueue>> txq_;
  std::optional<uint16_t> fanout_id_;
  bool ignore_outgoing_ = false;  // the kernel filters our own frames (else rx drops them)
  bool qdisc_bypass_ = false;
  bool closed_ = false;
};

Status AfPacketDriver::Setup(BufferPool& pool) {
  SocketFeatures features;
  bool ignore_all = true;
  std::vector<int> rx_fds;
  for (uint16_t q = 0; q < args_.num_rx_queues; ++q) {
    Result<MappedSocket> s = OpenRxSocket(args_, plan_.rx, ifindex_, &features);
    if (!s.ok()) return s.status().WithContext(fmt::format("rx queue {}", q));
    ignore_all = ignore_all && features.ignore_outgoing;
    rx_fds.push_back(s->fd());
    rxq_.push_back(std::make_unique<AfPacketRxQueue>(std::move(s).value(), plan_.rx,
                                                     !args_.use_v2, args_.offloads, pool));
  }
  ignore_outgoing_ = ignore_all;
  if (rx_fds.size() > 1) {
    bool fanout_ignore = false;
    Result<uint16_t> id = JoinFanout(rx_fds, ifindex_, &fanout_ignore);
    if (!id.ok()) {
      return id.status().WithContext(
          "fanout (the interface must be up for several rx queues)");
    }
    fanout_id_ = *id;
    ignore_outgoing_ = fanout_ignore;
  }
  features.qdisc_bypass = true;
  for (uint16_t q = 0; q < args_.num_tx_queues; ++q) {
    SocketFeatures f;
    Result<MappedSocket> s = OpenTxRingSocket(args_, plan_.tx, ifindex_, &f);
    if (!s.ok()) return s.status().WithContext(fmt::format("tx queue {}", q));
    features.qdisc_bypass = features.qdisc_bypass && f.qdisc_bypass;
    Result<int> plain = OpenTxPlainSocket(args_, ifindex_);
    if (!plain.ok()) return plain.status().WithContext(fmt::format("tx queue {}", q));
    txq_.push_back(std::make_unique<AfPacketTxQueue>(std::move(s).value(), *plain, plan_.tx,
                                                     args_.offloads, plan_.max_plain_frame,
                                                     plan_.max_gso_frame));
  }
  qdisc_bypass_ = args_.qdisc_bypass && features.qdisc_bypass;
  // Promiscuous through the socket: the kernel drops it when the socket closes, even on a crash.
  packet_mreq mreq{};
  mreq.mr_ifindex = ifindex_;
  mreq.mr_type = PACKET_MR_PROMISC;
  UPLINKD_RETURN_IF_ERROR(SetOpt(rxq_[0]->fd(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq,
                                 sizeof(mreq), "PACKET_ADD_MEMBERSHIP promisc"));
  return Status::Ok();
}

void AfPacketDriver::Close() noexcept {
  if (closed_) return;
  closed_ = true;
  for (auto& q : rxq_) q->Close();
  for (auto& q : txq_) q->Close();
  if (ctl_fd_ >= 0) ::close(ctl_fd_);
  ctl_fd_ = -1;
  Logger("af_packet")->info("{}: closed", args_.host_if);
}

DriverInfo AfPacketDriver::Info() const {
  DriverInfo info;
  info.driver = "af_packet";
  info.host_if = args_.host_if;
  info.mac = mac_;
  info.mtu = mtu_;
  info.num_rx_queues = args_.num_rx_queues;
  info.num_tx_queues = args_.num_tx_queues;
  info.rx_ring_size = plan_.rx.frame_nr;
  info.tx_ring_size = plan_.tx.frame_nr;
  if (!closed_) {
    ifreq ifr;
    if (InterfaceIoctl(ctl_fd_, args_.host_if, SIOCGIFFLAGS, &ifr).ok()) {
      info.link_up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
    }
    if (InterfaceIoctl(ctl_fd_, args_.host_if, SIOCGIFMTU, &ifr).ok()) {
      info.mtu = static_cast<uint32_t>(ifr.ifr_mtu);
    }
  }
  const RingLayout& rx = plan_.rx;
  const RingLayout& tx = plan_.tx;
  if (args_.use_v2) {
    info.details.push_back(fmt::format("rx: TPACKET_V2, {} frames of {} bytes, block {} x {}",
                                       rx.frame_nr, rx.frame_size, rx.block_size, rx.block_nr));
  } else {
    info.details.push_back(fmt::format(
        "rx: TPACKET_V3, block {} x {} (frame unit {}), retire timeout {} ms", rx.block_size,
        rx.block_nr, rx.frame_size, kRetireTimeoutMs));
  }
  info.details.push_back(fmt::format(
      "tx: TPACKET_V2, {} frames of {} bytes, block {} x {}; larger frames through sendmsg",
      tx.frame_nr, tx.frame_size, tx.block_size, tx.block_nr));
  if (fanout_id_) {
    info.details.push_back(fmt::format("fanout: hash, group {:#06x}, {} sockets", *fanout_id_,
                                       args_.num_rx_queues));
  } else {
    info.details.push_back("fanout: none (one rx queue)");
  }
  info.details.push_back(fmt::format("qdisc bypass: {}", qdisc_bypass_ ? "on" : "off"));
  info.details.push_back(
      args_.offloads ? "vnet hdr: on (checksum and GSO offloads passed through)"
                     : "vnet hdr: off (partial checksums completed in software)");
  info.details.push_back(fmt::format("own tx filtered by: {}",
                                     ignore_outgoing_ ? "kernel (ignore outgoing)" : "rx path"));
  if (closed_) info.details.push_back("closed");
  return info;
}

}  // namespace

Result<std::unique_ptr<Driver>> CreateAfPacketDriver(const AfPacketArgs& args, BufferPool& pool) {
  const std::string ctx = fmt::format("af_packet {}", args.host_if);
  if (args.host_if.empty() || args.host_if.size() >= IFNAMSIZ) {
    return Failure(EINVAL, "af_packet: invalid interface name '{}'", args.host_if);
  }
  if (args.num_rx_queues == 0 || args.num_tx_queues == 0) {
    return Failure(EINVAL, "{}: queue counts must be at least 1", ctx);
  }
  int ctl_fd = OpenPacketSocket();
  if (ctl_fd < 0) return ErrnoFailure("{}: socket(AF_PACKET)", ctx);
  auto fail = [ctl_fd, &ctx](const Status& s) {
    ::close(ctl_fd);
    return s.WithContext(ctx);
  };
  Result<HostInterfaceBasics> basics = QueryHostInterface(ctl_fd, args.host_if);
  if (!basics.ok()) return fail(basics.status());
  int ifindex = basics->ifindex;
  uint32_t mtu = basics->mtu;
  MacAddress mac = basics->mac;
  Status s;
  if (args.hw_addr) mac = *args.hw_addr;

  Result<Plan> plan = PlanRings(args, mtu, static_cast<uint32_t>(sysconf(_SC_PAGESIZE)));
  if (!plan.ok()) return fail(plan.status());
  auto logger = Logger("af_packet");
  uint32_t rx_room = args.use_v2 ? plan->rx.frame_size : plan->rx.block_size;
  if (args.offloads && rx_room < kRxHeadroom + kMaxGsoFrameBytes) {
    logger->warn("{}: rx {} of {} bytes cannot hold a 64 KiB GSO super-frame; those are dropped",
                 args.host_if, args.use_v2 ? "frame" : "block", rx_room);
  }

  auto driver = std::make_unique<AfPacketDriver>(args, ctl_fd, ifindex, mac, mtu, *plan);
  s = driver->Setup(pool);
  if (!s.ok()) return s.WithContext(ctx);  // the driver's destructor closes what was opened
  logger->info("{}: ifindex {}, mtu {}, {} rx / {} tx queues, {}, offloads {}", args.host_if,
               ifindex, mtu, args.num_rx_queues, args.num_tx_queues,
               args.use_v2 ? "TPACKET_V2" : "TPACKET_V3", args.offloads ? "on" : "off");
  return std::unique_ptr<Driver>(std::move(driver));
}

}  // namespace uplinkd
