// af_xdp setup and teardown: prerequisites, the XDP program (load, XSKMAP, attach/detach), the
// UMEM over the BufferPool, one XSK socket per queue, Info().

#include "drivers/af_xdp/af_xdp.h"
#include "drivers/host_interface.h"

#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "common/log.h"
#include "drivers/af_xdp/af_xdp_internal.h"
#include "drivers/af_xdp/xsk_redirect_bpf.h"

namespace uplinkd {
namespace {

using af_xdp::AfXdpRxQueue;
using af_xdp::AfXdpTxQueue;

constexpr const char* kProgName = "uplinkd_xsk";       // single-buffer entry point
constexpr const char* kProgNameMb = "uplinkd_xsk_mb";  // xdp.frags entry point
constexpr const char* kXsksMap = "xsks_map";
constexpr uint32_t kDefaultXsksMapEntries = 256;
constexpr uint32_t kXdpUmemMinChunkSize = 2048;  // XDP_UMEM_MIN_CHUNK_SIZE of the kernel
constexpr uint32_t kEthVlanOverhead = 18;
// SO_BUSY_POLL with busy-budget: how long one busy poll may spin for frames (DPDK's af_xdp PMD
// uses the same 20 us).
constexpr int kBusyPollUsecs = 20;

auto Log() { return Logger("af_xdp"); }

// libbpf's messages go to our logger (warnings and errors only: its debug output is noisy).
int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[512];
  int n = std::vsnprintf(line, sizeof(line), format, ap);
  size_t len = n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof(line) - 1);
  std::string_view text(line, len);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (level == LIBBPF_WARN) {
    Log()->warn("libbpf: {}", text);
  } else {
    Log()->info("libbpf: {}", text);
  }
  return n;
}

// libbpf returns -errno (and sets errno); a Status from that.
Status BpfFailure(int ret, std::string_view what) {
  int err = ret < 0 ? -ret : (errno != 0 ? errno : EIO);
  return Status(err, fmt::format("{}: {}", what, std::strerror(err)));
}

// Enters a network namespace for the calling thread and goes back on destruction.
class NetnsGuard {
 public:
  NetnsGuard() = default;
  ~NetnsGuard() {
    if (saved_fd_ >= 0) {
      if (setns(saved_fd_, CLONE_NEWNET) != 0) {
        Log()->error("cannot return to the original network namespace: {}",
                     std::strerror(errno));
      }
      ::close(saved_fd_);
    }
  }
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

  Status Enter(const std::string& netns) {
    std::string path = netns.find('/') == std::string::npos ? "/run/netns/" + netns : netns;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoFailure("network namespace '{}' ({})", netns, path);
    saved_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved_fd_ < 0) {
      Status s = ErrnoFailure("open /proc/thread-self/ns/net");
      ::close(fd);
      return s;
    }
    int rc = setns(fd, CLONE_NEWNET);
    Status s = rc == 0 ? Status::Ok() : ErrnoFailure("setns into '{}'", netns);
    ::close(fd);
    if (rc != 0) {
      ::close(saved_fd_);
      saved_fd_ = -1;
    }
    return s;
  }

 private:
  int saved_fd_ = -1;
};


// Rx queues the device has now (ethtool channels), or nullopt when it does not say.
std::optional<uint32_t> DeviceRxQueues(int ctl_fd, const std::string& name) {
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), size_t{IFNAMSIZ - 1}));
  ifr.ifr_data = reinterpret_cast<char*>(&ch);
  if (ioctl(ctl_fd, SIOCETHTOOL, &ifr) < 0) return std::nullopt;
  uint32_t n = ch.rx_count + ch.combined_count;
  return n == 0 ? std::nullopt : std::optional<uint32_t>(n);
}

// Preferred busy polling on one socket (Linux >= 5.11 for the preference and the budget).
Status SetBusyPoll(int fd, uint32_t budget) {
  int prefer = 1;
  int usecs = kBusyPollUsecs;
  int frames = static_cast<int>(budget);
  if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &prefer, sizeof prefer) != 0) {
    return ErrnoFailure("busy-budget: SO_PREFER_BUSY_POLL (Linux >= 5.11)");
  }
  if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof usecs) != 0) {
    return ErrnoFailure("busy-budget: SO_BUSY_POLL {} us", usecs);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &frames, sizeof frames) != 0) {
    return ErrnoFailure("busy-budget: SO_BUSY_POLL_BUDGET {}", frames);
  }
  return Status::Ok();
}

uint32_t ProgId(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0 ? info.id : 0;
}

class AfXdpDriver final : public Driver {
 public:
  AfXdpDriver(const AfXdpArgs& args, BufferPool& pool, int ctl_fd, int ifindex, uint16_t queues)
      : args_(args), pool_(pool), ctl_fd_(ctl_fd), ifindex_(ifindex), queues_(queues) {}
  ~AfXdpDriver() override { Close(); }

  Status LoadProgram(uint32_t device_queues);
  Status OpenSockets();
  Status Attach();

  Status Start() override {
    if (closed_) return Failure(EBADF, "af_xdp {}: closed", args_.host_if);
    return Status::Ok();  // sockets are bound and the program attached at creation
  }
  void Close() noexcept override;
  DriverInfo Info() const override;
  RxQueue& rx(uint16_t queue) override { return *rxq_.at(queue); }
  TxQueue& tx(uint16_t queue) override { return *txq_.at(queue); }
  Status SetMac(const MacAddress& mac) override {
    mac_ = mac;  // engine side only: the Linux interface keeps its own
    return Status::Ok();
  }
  void set_mac(const MacAddress& mac) { mac_ = mac; }

 private:
  Status TryOpenSockets(bool zero_copy, bool sg);
  void CloseSockets() noexcept;
  void Detach() noexcept;

  AfXdpArgs args_;
  BufferPool& pool_;
  int ctl_fd_;  // for ioctls in the interface's netns
  int ifindex_;
  uint16_t queues_;
  MacAddress mac_{};
  // Program.
  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
  int map_fd_ = -1;
  uint32_t prog_id_ = 0;
  std::string prog_name_;
  bool prog_frags_ = false;
  // Attachment: a BPF link (link_fd_ >= 0), or netlink in attach_flags_' mode.
  int link_fd_ = -1;
  bool netlink_attached_ = false;
  int netns_fd_ = -1;  // the interface's netns, for a netlink detach from elsewhere
  uint32_t attach_flags_ = 0;
  // Sockets.
  xsk_umem* umem_ = nullptr;
  std::vector<xsk_socket*> xsks_;
  std::vector<std::unique_ptr<AfXdpRxQueue>> rxq_;
  std::vector<std::unique_ptr<AfXdpTxQueue>> txq_;
  bool zero_copy_ = false;
  bool sg_ = false;
  bool closed_ = false;
};

Status AfXdpDriver::LoadProgram(uint32_t device_queues) {
  netns_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const bool own = args_.prog.empty();
  // Our program: the xdp.frags entry when multi-buffer is wanted, else the plain one; a kernel
  // without frags support (< 5.18) refuses the first, so the plain one is tried next.
  std::vector<bool> tries;
  if (own && args_.multi_buffer) tries.push_back(true);
  tries.push_back(false);
  Status last;
  for (bool frags : tries) {
    bpf_object* obj = nullptr;
    if (own) {
      bpf_object_open_opts opts{};
      opts.sz = sizeof(opts);
      opts.object_name = "uplinkd_xsk_redirect";
      obj = bpf_object__open_mem(af_xdp::kXskRedirectBpfObject, af_xdp::kXskRedirectBpfObjectSize,
                                 &opts);
    } else {
      obj = bpf_object__open_file(args_.prog.c_str(), nullptr);
    }
    if (obj == nullptr) {
      return BpfFailure(-errno, own ? std::string("open the built-in XDP object")
                                    : fmt::format("open XDP object '{}'", args_.prog));
    }
    bpf_program* chosen = nullptr;
    bpf_program* p = nullptr;
    while ((p = bpf_object__next_program(obj, p)) != nullptr) {
      if (own) {
        bool want = std::strcmp(bpf_program__name(p), frags ? kProgNameMb : kProgName) == 0;
        (void)bpf_program__set_autoload(p, want);
        if (want) chosen = p;
      } else if (chosen == nullptr && bpf_program__type(p) == BPF_PROG_TYPE_XDP) {
        chosen = p;
      }
    }
    bpf_map* map = bpf_object__find_map_by_name(obj, kXsksMap);
    if (chosen == nullptr || map == nullptr) {
      bpf_object__close(obj);
      return Failure(EINVAL, "XDP object '{}' needs an XDP program and an XSKMAP named '{}'",
                     own ? "built-in" : args_.prog, kXsksMap);
    }
    if (own) (void)bpf_map__set_max_entries(map, std::max(kDefaultXsksMapEntries, device_queues));
    int rc = bpf_object__load(obj);
    if (rc < 0) {
      last = BpfFailure(rc, fmt::format("load XDP program '{}'", bpf_program__name(chosen)));
      bpf_object__close(obj);
      continue;
    }
    obj_ = obj;
    prog_fd_ = bpf_program__fd(chosen);
    map_fd_ = bpf_map__fd(map);
    prog_id_ = ProgId(prog_fd_);
    prog_name_ = bpf_program__name(chosen);
    prog_frags_ = frags || std::string(bpf_program__section_name(chosen)) == "xdp.frags";
    if (!own && bpf_map__max_entries(map) < queues_) {
      return Failure(EINVAL, "the XSKMAP of '{}' has {} entries, fewer than the {} queues",
                     args_.prog, bpf_map__max_entries(map), queues_);
    }
    return Status::Ok();
  }
  return last;
}

Status AfXdpDriver::TryOpenSockets(bool zero_copy, bool sg) {
  xsk_ring_prod fill0{};
  xsk_ring_cons comp0{};
  xsk_umem_config ucfg{};
  ucfg.fill_size = args_.rx_queue_size;
  ucfg.comp_size = args_.tx_queue_size;
  ucfg.frame_size = af_xdp::UmemChunkSize(pool_);
  ucfg.frame_headroom = 0;
  ucfg.flags = XDP_UMEM_UNALIGNED_CHUNK_FLAG;
  int rc = xsk_umem__create(&umem_, pool_.memory(), pool_.memory_size(), &fill0, &comp0, &ucfg);
  if (rc < 0) {
    umem_ = nullptr;
    return BpfFailure(rc, fmt::format("register the buffer pool ({} bytes, chunks of {}) as UMEM",
                                      pool_.memory_size(), ucfg.frame_size));
  }
  xsk_socket_config scfg{};
  scfg.rx_size = args_.rx_queue_size;
  scfg.tx_size = args_.tx_queue_size;
  scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // we load and attach our own
  scfg.xdp_flags = 0;
  scfg.bind_flags = static_cast<uint16_t>(XDP_USE_NEED_WAKEUP |
                                          (zero_copy ? XDP_ZEROCOPY : XDP_COPY) |
                                          (sg ? XDP_USE_SG : 0));
  for (uint16_t q = 0; q < queues_; ++q) {
    auto rxq = std::make_unique<AfXdpRxQueue>(pool_, q, args_.rx_queue_size);
    auto txq = std::make_unique<AfXdpTxQueue>(pool_, args_.tx_queue_size, sg);
    xsk_socket* xsk = nullptr;
    // Queue 0 takes over the rings made with the UMEM; the others get their own fill and
    // completion rings and share the UMEM (libxdp binds them with XDP_SHARED_UMEM).
    rc = xsk_socket__create_shared(&xsk, args_.host_if.c_str(), q, umem_, rxq->rx_ring(),
                                   txq->tx_ring(), rxq->fill_ring(), txq->comp_ring(), &scfg);
    if (rc < 0) {
      Status s = BpfFailure(rc, fmt::format("bind an AF_XDP socket to queue {} ({}{})", q,
                                            zero_copy ? "zero-copy" : "copy",
                                            sg ? ", multi-buffer" : ""));
      CloseSockets();
      return s;
    }
    xsks_.push_back(xsk);
    if (args_.busy_budget > 0) {
      Status s = SetBusyPoll(xsk_socket__fd(xsk), args_.busy_budget);
      if (!s.ok()) {
        CloseSockets();
        return Failure(s.code(), "queue {}: {}", q, s.message());
      }
      rxq->EnableBusyPoll();
    }
    rxq->Bind(xsk_socket__fd(xsk));
    txq->Bind(xsk_socket__fd(xsk));
    rxq_.push_back(std::move(rxq));
    txq_.push_back(std::move(txq));
  }
  zero_copy_ = zero_copy;
  sg_ = sg;
  return Status::Ok();
}

void AfXdpDriver::CloseSockets() noexcept {
  for (auto& q : rxq_) q->Unbind();
  for (auto& q : txq_) q->Unbind();
  for (xsk_socket* x : xsks_) xsk_socket__delete(x);
  xsks_.clear();
  if (umem_ != nullptr) {
    int rc = xsk_umem__delete(umem_);
    if (rc < 0) Log()->warn("{}: UMEM delete: {}", args_.host_if, std::strerror(-rc));
    umem_ = nullptr;
  }
  // The kernel lets go of the UMEM with the last socket: what it held is ours again.
  uint32_t returned = 0;
  for (auto& q : rxq_) returned += q->ReturnBuffers();
  for (auto& q : txq_) returned += q->ReturnBuffers();
  if (returned > 0) Log()->debug("{}: {} buffers back from the kernel", args_.host_if, returned);
}

Status AfXdpDriver::OpenSockets() {
  // Zero-copy needs chunks that never straddle physically discontiguous pages: hugepages.
  struct Try {
    bool zc;
    bool sg;
  };
  std::vector<Try> tries;
  bool zc_ok = args_.mode != AfXdpArgs::Mode::kCopy && pool_.on_hugepages();
  for (bool sg : {true, false}) {
    if (sg && !args_.multi_buffer) continue;
    if (zc_ok) tries.push_back({true, sg});
  }
  if (args_.mode != AfXdpArgs::Mode::kZeroCopy) {
    for (bool sg : {true, false}) {
      if (sg && !args_.multi_buffer) continue;
      tries.push_back({false, sg});
    }
  }
  if (tries.empty()) {
    return Failure(ENOTSUP,
                   "zero-copy needs the buffer pool on hugepages (it is in plain memory)");
  }
  Status last;
  for (const Try& t : tries) {
    last = TryOpenSockets(t.zc, t.sg);
    if (last.ok()) break;
    rxq_.clear();  // closed by TryOpenSockets; the next try makes new ones
    txq_.clear();
    Log()->debug("{}: {}", args_.host_if, last.message());
  }
  if (!last.ok()) return last;
  // Every fill ring full before traffic is redirected. A temporary cache: what it did not hand
  // out goes back to the pool when it is destroyed.
  BufferCache cache(pool_);
  for (auto& q : rxq_) {
    uint32_t got = q->Refill(cache);
    if (got < args_.rx_queue_size) {
      return Failure(ENOBUFS, "only {} buffers for the {}-entry fill ring of queue {}", got,
                     args_.rx_queue_size, q->queue_id());
    }
  }
  for (uint16_t q = 0; q < queues_; ++q) {
    int key = q;
    int fd = xsk_socket__fd(xsks_[q]);
    int rc = bpf_map_update_elem(map_fd_, &key, &fd, BPF_ANY);
    if (rc < 0) {
      return BpfFailure(rc, fmt::format("put the socket of queue {} in '{}'", q, kXsksMap));
    }
  }
  return Status::Ok();
}

Status AfXdpDriver::Attach() {
  // Native first (veth has it), generic (skb) otherwise. A BPF link detaches itself when its last
  // fd closes, crash included; kernels before 5.9 have no XDP links: netlink then.
  const uint32_t modes[2] = {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
  Status last;
  for (uint32_t mode : modes) {
    bpf_link_create_opts lo{};
    lo.sz = sizeof(lo);
    lo.flags = mode;
    int fd = bpf_link_create(prog_fd_, ifindex_, BPF_XDP, &lo);
    if (fd >= 0) {
      link_fd_ = fd;
      attach_flags_ = mode;
      return Status::Ok();
    }
    last = BpfFailure(fd, fmt::format("attach XDP program '{}' ({} mode, link)", prog_name_,
                                      mode == XDP_FLAGS_DRV_MODE ? "native" : "generic"));
    if (fd == -EEXIST || fd == -EBUSY) break;  // something got attached meanwhile
  }
  for (uint32_t mode : modes) {
    bpf_xdp_attach_opts ao{};
    ao.sz = sizeof(ao);
    int rc = bpf_xdp_attach(ifindex_, prog_fd_, mode | XDP_FLAGS_UPDATE_IF_NOEXIST, &ao);
    if (rc == 0) {
      netlink_attached_ = true;
      attach_flags_ = mode;
      return Status::Ok();
    }
    last = BpfFailure(rc, fmt::format("attach XDP program '{}' ({} mode)", prog_name_,
                                      mode == XDP_FLAGS_DRV_MODE ? "native" : "generic"));
    if (rc == -EEXIST || rc == -EBUSY) break;
  }
  return last;
}

void AfXdpDriver::Detach() noexcept {
  if (link_fd_ >= 0) {
    // Detach even if a forked child still holds the link fd, then drop ours.
    (void)bpf_link_detach(link_fd_);
    ::close(link_fd_);
    link_fd_ = -1;
  }
  if (netlink_attached_) {
    netlink_attached_ = false;
    // Only our program: REPLACE with the expected old fd fails if someone else's is there now.
    // Netlink names interfaces per namespace, so the detach runs in the interface's.
    NetnsGuard guard;
    if (netns_fd_ >= 0) {
      (void)guard.Enter(fmt::format("/proc/self/fd/{}", netns_fd_));
    }
    bpf_xdp_attach_opts ao{};
    ao.sz = sizeof(ao);
    ao.old_prog_fd = prog_fd_;
    int rc = bpf_xdp_detach(ifindex_, attach_flags_ | XDP_FLAGS_REPLACE, &ao);
    if (rc < 0) {
      Log()->warn("{}: XDP program '{}' (id {}) not detached: {} (not ours any more?)",
                  args_.host_if, prog_name_, prog_id_, std::strerror(-rc));
    }
  }
}

void AfXdpDriver::Close() noexcept {
  if (closed_) return;
  closed_ = true;
  Detach();  // first: nothing is redirected to sockets that are going away
  CloseSockets();
  if (obj_ != nullptr) bpf_object__close(obj_);  // the program and the XSKMAP
  obj_ = nullptr;
  prog_fd_ = map_fd_ = -1;
  if (netns_fd_ >= 0) ::close(netns_fd_);
  netns_fd_ = -1;
  if (ctl_fd_ >= 0) ::close(ctl_fd_);
  ctl_fd_ = -1;
  Log()->info("{}: closed", args_.host_if);
}

DriverInfo AfXdpDriver::Info() const {
  DriverInfo info;
  info.driver = "af_xdp";
  info.host_if = args_.host_if;
  info.mac = mac_;
  info.num_rx_queues = queues_;
  info.num_tx_queues = queues_;
  info.rx_ring_size = args_.rx_queue_size;
  info.tx_ring_size = args_.tx_queue_size;
  if (!closed_) {
    ifreq ifr;
    if (InterfaceIoctl(ctl_fd_, args_.host_if, SIOCGIFFLAGS, &ifr).ok()) {
      info.link_up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
    }
    if (InterfaceIoctl(ctl_fd_, args_.host_if, SIOCGIFMTU, &ifr).ok()) {
      info.mtu = static_cast<uint32_t>(ifr.ifr_mtu);
    }
  }
  info.details.push_back(fmt::format("mode: {} (asked: {}), need_wakeup, multi-buffer {}",
                                     zero_copy_ ? "zero-copy" : "copy",
                                     AfXdpModeName(args_.mode), sg_ ? "on" : "off"));
  info.details.push_back(fmt::format(
      "xdp program: '{}' id {}{}, {} mode, attached by {}", prog_name_, prog_id_,
      prog_frags_ ? " (xdp.frags)" : "", attach_flags_ == XDP_FLAGS_DRV_MODE ? "native" : "generic",
      link_fd_ >= 0 ? "bpf link" : "netlink"));
  info.details.push_back(fmt::format(
      "umem: the buffer pool, {} bytes, unaligned chunks of {}, rx data at offset {}, rx frames "
      "up to {} bytes per buffer",
      pool_.memory_size(), af_xdp::UmemChunkSize(pool_), af_xdp::kRxDataOffset,
      af_xdp::RxFrameCapacity(pool_)));
  info.details.push_back(fmt::format("rings: rx/fill {}, tx/completion {}", args_.rx_queue_size,
                                     args_.tx_queue_size));
  if (args_.busy_budget > 0) {
    info.details.push_back(fmt::format(
        "busy polling: preferred, budget {}, {} us (NAPI run by the worker on an empty ring)",
        args_.busy_budget, kBusyPollUsecs));
  }
  if (closed_) info.details.push_back("closed");
  return info;
}

}  // namespace

Result<KernelVersion> RunningKernelVersion() {
  utsname u{};
  if (uname(&u) != 0) return ErrnoFailure("uname");
  KernelVersion v;
  if (std::sscanf(u.release, "%u.%u", &v.major, &v.minor) != 2) {
    return Failure(EINVAL, "cannot read the kernel version from '{}'", u.release);
  }
  v.release = u.release;
  return v;
}

uint32_t AfXdpSingleBufferMtu(uint32_t data_size) {
  uint32_t slot = (kBufferHeaderSize + kBufferHeadroom + data_size + 63) & ~63u;  // as the pool
  uint32_t room = slot - kBufferHeaderSize - af_xdp::kRxDataOffset;
  return room > kEthVlanOverhead ? room - kEthVlanOverhead : 0;
}

Status CheckAfXdpKernel() {
  Result<KernelVersion> v = RunningKernelVersion();
  if (!v.ok()) return v.status();
  if (!v->AtLeast(5, 4)) {
    return Failure(ENOTSUP, "kernel {} is older than 5.4, which AF_XDP needs", v->release);
  }
  return Status::Ok();
}

bool KernelHasAfXdpMultiBuffer() {
  Result<KernelVersion> v = RunningKernelVersion();
  return v.ok() && v->AtLeast(6, 6);
}

namespace {

// The kernel's name for program `id`, "?" when it cannot be read. Built in one piece: assigning
// "?" and then the name to the same string trips a GCC 12 -Wrestrict false positive at -O3
// (inside std::string's inlined replace).
std::string XdpProgramName(uint32_t id) {
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) return std::string("?");
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  bool ok = bpf_obj_get_info_by_fd(fd, &info, &len) == 0;
  ::close(fd);
  return ok ? std::string(info.name) : std::string("?");
}

}  // namespace

Result<std::optional<AttachedXdpProgram>> QueryAttachedXdp(int ifindex) {
  bpf_xdp_query_opts q{};
  q.sz = sizeof(q);
  int rc = bpf_xdp_query(ifindex, 0, &q);
  if (rc < 0) return BpfFailure(rc, "query the attached XDP program");
  // The first mode with a program wins; prog_id alone is an older kernel's answer.
  const struct {
    uint32_t id;
    const char* mode;
    uint32_t flags;
  } modes[] = {{q.drv_prog_id, "native", XDP_FLAGS_DRV_MODE},
               {q.skb_prog_id, "generic (skb)", XDP_FLAGS_SKB_MODE},
               {q.hw_prog_id, "offloaded", XDP_FLAGS_HW_MODE},
               {q.prog_id, "unknown mode", 0}};
  AttachedXdpProgram p;
  for (const auto& m : modes) {
    if (m.id == 0) continue;
    p.id = m.id;
    p.mode = m.mode;
    p.mode_flags = m.flags;
    break;
  }
  if (p.id == 0) return std::optional<AttachedXdpProgram>();
  p.name = XdpProgramName(p.id);
  return std::optional<AttachedXdpProgram>(p);
}

bool IsUplinkdXdpProgram(const AttachedXdpProgram& prog) {
  // The kernel keeps the first 15 characters of a program's name.
  return prog.name == "uplinkd_xsk" || prog.name == "uplinkd_xsk_mb";
}

Status ForeignXdpFailure(const AttachedXdpProgram& prog) {
  return Failure(EBUSY,
                 "an XDP program is already attached: '{}' (id {}, {}); refusing to replace it "
                 "(detach it first, or use another driver)",
                 prog.name, prog.id, prog.mode);
}

Status DetachXdpProgram(int ifindex, const AttachedXdpProgram& prog) {
  int fd = bpf_prog_get_fd_by_id(prog.id);
  if (fd < 0) return Status::Ok();  // gone already
  // REPLACE with the expected program: never detaches one that took its place meanwhile.
  bpf_xdp_attach_opts ao{};
  ao.sz = sizeof(ao);
  ao.old_prog_fd = fd;
  int rc = bpf_xdp_detach(ifindex, prog.mode_flags | XDP_FLAGS_REPLACE, &ao);
  ::close(fd);
  if (rc < 0) return BpfFailure(rc, fmt::format("detach XDP program '{}' (id {})", prog.name, prog.id));
  return Status::Ok();
}

Result<std::unique_ptr<Driver>> CreateAfXdpDriver(const AfXdpArgs& args, BufferPool& pool) {
  static const bool print_set = (libbpf_set_print(LibbpfPrint), true);
  (void)print_set;
  const std::string ctx = fmt::format("af_xdp {}", args.host_if);
  if (args.host_if.empty() || args.host_if.size() >= IFNAMSIZ) {
    return Failure(EINVAL, "af_xdp: invalid interface name '{}'", args.host_if);
  }
  if (!IsPowerOfTwo(args.rx_queue_size) || !IsPowerOfTwo(args.tx_queue_size)) {
    return Failure(EINVAL, "{}: ring sizes must be powers of two", ctx);
  }
  UPLINKD_RETURN_IF_ERROR(CheckAfXdpKernel().WithContext(ctx));
  NetnsGuard netns;
  if (!args.netns.empty()) UPLINKD_RETURN_IF_ERROR(netns.Enter(args.netns).WithContext(ctx));

  int ctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ctl_fd < 0) return ErrnoFailure("{}: socket", ctx);
  auto fail = [&ctl_fd, &ctx](const Status& s) {
    if (ctl_fd >= 0) ::close(ctl_fd);
    return s.WithContext(ctx);
  };
  Result<HostInterfaceBasics> basics = QueryHostInterface(ctl_fd, args.host_if);
  if (!basics.ok()) return fail(basics.status());
  int ifindex = basics->ifindex;
  uint32_t mtu = basics->mtu;
  MacAddress mac = basics->mac;
  Status s;

  // Someone else's XDP program (Felix's, a user's) is never replaced.
  Result<std::optional<AttachedXdpProgram>> attached = QueryAttachedXdp(ifindex);
  if (!attached.ok()) return fail(attached.status());
  if (attached->has_value()) return fail(ForeignXdpFailure(**attached));

  std::optional<uint32_t> dev_queues = DeviceRxQueues(ctl_fd, args.host_if);
  uint16_t queues = args.num_rx_queues;
  if (queues == 0) {
    if (!dev_queues) {
      Log()->warn("{}: the queue count is unknown (no ethtool channels); using 1", args.host_if);
    }
    queues = static_cast<uint16_t>(std::min<uint32_t>(dev_queues.value_or(1), kMaxInterfaceQueues));
  } else if (dev_queues && queues > *dev_queues) {
    return fail(Failure(EINVAL, "{} rx queues asked, the interface has {}", queues, *dev_queues));
  }

  // The pool: chunks the kernel accepts, and enough buffers for every fill ring and TX ring.
  uint32_t chunk = af_xdp::UmemChunkSize(pool);
  if (chunk < kXdpUmemMinChunkSize) {
    return fail(Failure(EINVAL,
                        "buffers of {} data bytes are too small: AF_XDP needs chunks of at "
                        "least {} (data-size >= {})",
                        pool.data_size(), kXdpUmemMinChunkSize,
                        kXdpUmemMinChunkSize - kBufferHeadroom));
  }
  uint64_t need = uint64_t{queues} * (args.rx_queue_size * 2u + args.tx_queue_size);
  if (pool.total() < need) {
    return fail(Failure(ENOBUFS,
                        "{} buffers are too few for {} queues with {}-entry rx and {}-entry tx "
                        "rings (need {})",
                        pool.total(), queues, args.rx_queue_size, args.tx_queue_size, need));
  }
  if (!args.multi_buffer && mtu + kEthVlanOverhead > af_xdp::RxFrameCapacity(pool)) {
    Log()->warn("{}: MTU {} frames do not fit a {}-byte buffer without multi-buffer; longer "
                "frames are dropped by the kernel",
                args.host_if, mtu, af_xdp::RxFrameCapacity(pool));
  }

  auto driver = std::make_unique<AfXdpDriver>(args, pool, ctl_fd, ifindex, queues);
  ctl_fd = -1;  // the driver owns it now
  driver->set_mac(mac);
  // The destructor undoes whatever a failing step left behind.
  s = driver->LoadProgram(dev_queues.value_or(queues));
  if (s.ok()) s = driver->OpenSockets();
  if (s.ok()) s = driver->Attach();
  if (!s.ok()) return s.WithContext(ctx);
  DriverInfo info = driver->Info();
  Log()->info("{}: ifindex {}, mtu {}, {} queues; {}; {}", args.host_if, ifindex, mtu, queues,
              info.details[0], info.details[1]);
  return std::unique_ptr<Driver>(std::move(driver));
}

}  // namespace uplinkd
