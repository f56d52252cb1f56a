// af_xdp driver against the real kernel. Every test builds its own network namespace with a
// veth pair inside (names "axt<pid><n>", "axa..", "axb.."), runs the driver on one end (copy
// mode: veth has no zero-copy) and a plain raw socket on the other, and deletes the namespace
// afterwards, even on failure. Sockets are opened and programs attached from a thread that
// entered the namespace; nothing outside it is touched. Needs root (CAP_NET_ADMIN, CAP_BPF,
// CAP_SYS_ADMIN for setns).

#include "drivers/af_xdp/af_xdp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "buffer/buffer_pool.h"
#include "drivers/af_xdp/af_xdp_internal.h"
#include "tests/common/buffer_chain.h"
#include "tests/common/xdp_pass.h"

namespace uplinkd {
namespace {

using testing_util::Bytes;
using testing_util::Flatten;
using testing_util::MakeChain;
using Clock = std::chrono::steady_clock;

constexpr uint16_t kTestEtherType = 0x88b5;  // IEEE local experimental

int Shell(const std::string& cmd) {
  int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  if (rc != 0) std::fprintf(stderr, "af_xdp_test: command failed (%d): %s\n", rc, cmd.c_str());
  return rc;
}

std::string Output(const std::string& cmd) {
  FILE* f = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (f == nullptr) return "";
  std::string out;
  char line[1024];
  while (std::fgets(line, sizeof(line), f) != nullptr) out += line;
  pclose(f);
  return out;
}

// Runs `f` on a thread that joined the namespace: sockets, ioctls, netlink and XDP attachments
// made there belong to it.
void InNetns(int ns_fd, const std::function<void()>& f) {
  std::thread t([&] {
    if (setns(ns_fd, CLONE_NEWNET) != 0) {
      std::perror("af_xdp_test: setns");
      std::abort();  // never run test code in the machine's own namespace
    }
    f();
  });
  t.join();
}

Bytes MakeFrame(uint32_t len, uint32_t seq) {
  Bytes f(len);
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x01};
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(f.data(), dst, 6);
  std::memcpy(f.data() + 6, src, 6);
  f[12] = static_cast<uint8_t>(kTestEtherType >> 8);
  f[13] = static_cast<uint8_t>(kTestEtherType & 0xff);
  for (uint32_t i = 14; i < len; ++i) f[i] = static_cast<uint8_t>(seq * 7 + i);
  if (len >= 18) std::memcpy(f.data() + 14, &seq, 4);
  return f;
}

std::string KernelRelease() {
  Result<KernelVersion> v = RunningKernelVersion();
  return v.ok() ? v->release : "(unknown)";
}

// The test's side of the wire: a raw socket on the peer veth end.
class Peer {
 public:
  Peer(int ns_fd, const std::string& ifname) {
    InNetns(ns_fd, [&] {
      fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
      if (fd_ < 0) return;
      int one = 1;
      setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
      int big = 16 << 20;
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
      setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
      sockaddr_ll sll{};
      sll.sll_family = AF_PACKET;
      sll.sll_protocol = htons(ETH_P_ALL);
      sll.sll_ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
      if (bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) {
        close(fd_);
        fd_ = -1;
      }
    });
  }
  ~Peer() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  bool Send(const Bytes& frame) {
    return send(fd_, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size());
  }

  // Sends frames[0..n) with one sendmmsg; returns how many went.
  size_t SendBatch(const Bytes* frames, size_t n) {
    std::vector<mmsghdr> msgs(n);
    std::vector<iovec> iov(n);
    for (size_t i = 0; i < n; ++i) {
      iov[i] = {const_cast<uint8_t*>(frames[i].data()), frames[i].size()};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(fd_, msgs.data(), static_cast<unsigned>(n), 0);
    return sent > 0 ? static_cast<size_t>(sent) : 0;
  }

  // Frames of our test EtherType waiting now (non-blocking, up to 64 per call; waits up to
  // `wait_ms` for the first).
  size_t CountWaiting(int wait_ms) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, wait_ms) <= 0) return 0;
    static thread_local uint8_t bufs[64][128];
    mmsghdr msgs[64];
    iovec iov[64];
    for (int i = 0; i < 64; ++i) {
      iov[i] = {bufs[i], sizeof(bufs[i])};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd_, msgs, 64, MSG_DONTWAIT, nullptr);
    size_t count = 0;
    for (int i = 0; i < n; ++i) {
      if (msgs[i].msg_len >= 14 && bufs[i][12] == (kTestEtherType >> 8) &&
          bufs[i][13] == (kTestEtherType & 0xff)) {
        ++count;
      }
    }
    return count;
  }

  // Frames of our test EtherType received within `timeout_ms` (stops early at `want`, then
  // waits `linger_ms` more for extras).
  std::vector<Bytes> Receive(size_t want, int timeout_ms = 3000, int linger_ms = 50) {
    std::vector<Bytes> out;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::optional<Clock::time_point> linger_end;
    Bytes buf(16 * 1024);
    while (true) {
      auto now = Clock::now();
      if (!linger_end && out.size() >= want) {
        linger_end = now + std::chrono::milliseconds(linger_ms);
      }
      auto end = linger_end ? *linger_end : deadline;
      if (now >= end) break;
      pollfd pfd{fd_, POLLIN, 0};
      int wait = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count()) + 1;
      if (poll(&pfd, 1, wait) <= 0) continue;
      ssize_t n = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 14) continue;
      if (buf[12] != (kTestEtherType >> 8) || buf[13] != (kTestEtherType & 0xff)) continue;
      out.emplace_back(buf.begin(), buf.begin() + n);
    }
    return out;
  }

 private:
  int fd_ = -1;
};

struct Received {
  std::vector<Bytes> frames;
  std::vector<Buffer> heads;  // header copies
  std::vector<size_t> per_queue;
};

// Drains the driver's rx queues (polling their interrupt fds between empty rounds).
Received ReceiveFrames(Driver& driver, uint16_t queues, BufferCache& cache, size_t want,
                       int timeout_ms = 3000, int linger_ms = 50) {
  Received r;
  r.per_queue.assign(queues, 0);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::optional<Clock::time_point> linger_end;
  Buffer* bufs[64];
  while (true) {
    auto now = Clock::now();
    if (!linger_end && r.frames.size() >= want) {
      linger_end = now + std::chrono::milliseconds(linger_ms);
    }
    if (now >= (linger_end ? *linger_end : deadline)) break;
    bool any = false;
    std::vector<pollfd> pfds;
    for (uint16_t q = 0; q < queues; ++q) {
      uint16_t n = driver.rx(q).Receive(cache, bufs, 64);
      for (uint16_t i = 0; i < n; ++i) {
        r.frames.push_back(Flatten(cache.pool(), bufs[i]));
        r.heads.push_back(*bufs[i]);
      }
      r.per_queue[q] += n;
      cache.Free(bufs, n);
      any = any || n > 0;
      pfds.push_back({driver.rx(q).interrupt_fd(), POLLIN, 0});
    }
    if (!any) poll(pfds.data(), pfds.size(), 5);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------

TEST(AfXdpParse, AcceptsEveryOption) {
  AfXdpArgs a;
  ASSERT_TRUE(ParseAfXdpCreateArgs({"host-if", "eth1", "name", "uplink0", "num-rx-queues", "4",
                                    "rx-queue-size", "2048", "tx-queue-size", "0x200", "mode",
                                    "zero-copy", "prog", "/tmp/x.o", "netns", "ns1",
                                    "no-multi-buffer", "busy-budget", "64"},
                                   &a)
                  .ok());
  EXPECT_EQ(a.host_if, "eth1");
  EXPECT_EQ(a.name, "uplink0");
  EXPECT_EQ(a.num_rx_queues, 4);
  EXPECT_EQ(a.rx_queue_size, 2048u);
  EXPECT_EQ(a.tx_queue_size, 512u);
  EXPECT_EQ(a.mode, AfXdpArgs::Mode::kZeroCopy);
  EXPECT_EQ(a.prog, "/tmp/x.o");
  EXPECT_EQ(a.netns, "ns1");
  EXPECT_FALSE(a.multi_buffer);
  EXPECT_EQ(a.busy_budget, 64u);
  EXPECT_EQ(AfXdpInterfaceName(a), "uplink0");

  ASSERT_TRUE(ParseAfXdpCreateArgs({"host-if", "eth1", "num-rx-queues", "all", "mode", "copy"},
                                   &a)
                  .ok());
  EXPECT_EQ(a.num_rx_queues, 0);
  EXPECT_EQ(a.mode, AfXdpArgs::Mode::kCopy);
}

// What the manager sends is FormatAfXdpCreateArgs' output: it must parse back to the same args.
TEST(AfXdpParse, FormatRoundTrips) {
  AfXdpArgs defaults;
  defaults.host_if = "eth0";
  EXPECT_EQ(FormatAfXdpCreateArgs(defaults), (std::vector<std::string>{"host-if", "eth0"}));

  AfXdpArgs all;
  all.host_if = "veth-up0";
  all.name = "uplink0";
  all.num_rx_queues = kMaxInterfaceQueues;
  all.rx_queue_size = kMaxRingSize;
  all.tx_queue_size = kMinRingSize;
  all.mode = AfXdpArgs::Mode::kZeroCopy;
  all.prog = "/tmp/x.o";
  all.netns = "ns1";
  all.multi_buffer = false;
  all.busy_budget = 64;

  AfXdpArgs every_queue = defaults;
  every_queue.num_rx_queues = 0;  // `all`
  every_queue.mode = AfXdpArgs::Mode::kCopy;

  AfXdpArgs from_queues = AfXdpArgsFor("eth1", InterfaceQueues{4, 2, 0, 512});
  EXPECT_EQ(from_queues.num_rx_queues, 4);
  EXPECT_EQ(from_queues.rx_queue_size, 1024u);  // 0 = the driver's default
  EXPECT_EQ(from_queues.tx_queue_size, 512u);

  for (const AfXdpArgs& want : {defaults, all, every_queue, from_queues}) {
    std::vector<std::string> words = FormatAfXdpCreateArgs(want);
    AfXdpArgs got;
    Status s = ParseAfXdpCreateArgs(words, &got);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(got, want) << fmt::format("{}", fmt::join(words, " "));
  }
}

TEST(AfXdpParse, Defaults) {
  AfXdpArgs a;
  ASSERT_TRUE(ParseAfXdpCreateArgs({"host-if", "veth0"}, &a).ok());
  EXPECT_EQ(a.host_if, "veth0");
  EXPECT_EQ(a.num_rx_queues, 1);
  EXPECT_EQ(a.rx_queue_size, 1024u);
  EXPECT_EQ(a.tx_queue_size, 1024u);
  EXPECT_EQ(a.mode, AfXdpArgs::Mode::kAuto);
  EXPECT_TRUE(a.prog.empty());
  EXPECT_TRUE(a.multi_buffer);
  EXPECT_EQ(a.busy_budget, 0u);
  EXPECT_EQ(AfXdpInterfaceName(a), "veth0");
}

TEST(AfXdpParse, RejectsWithMessages) {
  struct Case {
    std::vector<std::string> words;
    std::string message;
  };
  const Case cases[] = {
      {{"host-if", "eth0", "foo"}, "unknown input 'foo'"},
      {{"host-if"}, "expected an interface name after 'host-if'"},
      {{"host-if", "a-very-long-interface-name"}, "invalid interface name"},
      {{"name", "x"}, "missing 'host-if IF'"},
      {{"host-if", "eth0", "num-rx-queues", "0"}, "num-rx-queues=0: must be at least 1"},
      {{"host-if", "eth0", "num-rx-queues", "x"}, "expected a number or 'all'"},
      // The shared limits (drivers/interface_config.h), with XSK's power-of-two rule.
      {{"host-if", "eth0", "num-rx-queues", "65"}, "num-rx-queues=65: must be at most 64"},
      {{"host-if", "eth0", "rx-queue-size", "1000"}, "rx-queue-size=1000: not a power of two"},
      {{"host-if", "eth0", "tx-queue-size", "32"}, "tx-queue-size=32: must be at least 64"},
      {{"host-if", "eth0", "rx-queue-size", "65536"}, "rx-queue-size=65536: must be at most 32768"},
      {{"host-if", "eth0", "tx-queue-size"}, "expected a number after 'tx-queue-size'"},
      {{"host-if", "eth0", "mode", "fast"}, "unknown mode 'fast'"},
      {{"host-if", "eth0", "prog"}, "expected an XDP object file after 'prog'"},
      {{"host-if", "eth0", "netns"}, "expected a network namespace after 'netns'"},
      {{"host-if", "eth0", "busy-budget", "2000"}, "'busy-budget' must be a number in 0..1024"},
      {{"host-if", "eth0", "busy-budget", "x"}, "'busy-budget' must be a number in 0..1024"},
  };
  for (const Case& c : cases) {
    AfXdpArgs a;
    a.host_if = "untouched";
    Status s = ParseAfXdpCreateArgs(c.words, &a);
    EXPECT_FALSE(s.ok()) << c.message;
    EXPECT_NE(s.message().find(c.message), std::string::npos)
        << "got '" << s.message() << "', want '" << c.message << "'";
    EXPECT_EQ(a.host_if, "untouched");
  }
}

// ---------------------------------------------------------------------------------------------

class AfXdpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      std::fprintf(stderr, "af_xdp_test: NOT RUN: needs root for network namespaces and BPF\n");
      GTEST_SKIP() << "needs root (network namespaces, BPF)";
    }
    static int counter = 0;
    std::string id = fmt::format("{}{}", getpid() % 100000, counter++);
    ns_ = "axt" + id;
    a_ = "axa" + id;
    b_ = "axb" + id;
    ASSERT_EQ(Shell(fmt::format("ip netns add {}", ns_)), 0);
    ns_created_ = true;
    // No IPv6 autoconfiguration chatter on the veths.
    ASSERT_EQ(Shell(fmt::format("ip netns exec {} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
                                "net.ipv6.conf.default.disable_ipv6=1",
                                ns_)),
              0);
    ASSERT_EQ(Shell(fmt::format("ip -n {} link add {} type veth peer name {}", ns_, a_, b_)), 0);
    ns_fd_ = open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(ns_fd_, 0);
    pool_ = MakePool(4096);
    ASSERT_NE(pool_, nullptr);
    start_available_ = pool_->available();
  }

  void TearDown() override {
    driver_.reset();
    if (pool_) {
      EXPECT_EQ(pool_->available(), start_available_) << "buffers leaked";
    }
  }

  ~AfXdpTest() override {
    driver_.reset();
    if (ns_fd_ >= 0) close(ns_fd_);
    if (ns_created_) Shell(fmt::format("ip netns del {}", ns_));
  }

  static std::unique_ptr<BufferPool> MakePool(uint32_t buffers) {
    BufferPoolConfig config;
    config.buffers = buffers;
    config.data_size = 2048;
    config.allow_hugepages = false;
    auto pool = BufferPool::Create(config);
    return pool.ok() ? std::move(pool).value() : nullptr;
  }

  void LinkUp(uint32_t mtu = 1500) {
    ASSERT_EQ(Shell(fmt::format("ip -n {} link set {} mtu {} up", ns_, a_, mtu)), 0);
    ASSERT_EQ(Shell(fmt::format("ip -n {} link set {} mtu {} up", ns_, b_, mtu)), 0);
  }

  AfXdpArgs Args() const {
    AfXdpArgs args;
    args.host_if = a_;
    return args;
  }

  Status Create(const AfXdpArgs& args, BufferPool* pool = nullptr) {
    Status status;
    InNetns(ns_fd_, [&] {
      auto d = CreateAfXdpDriver(args, pool ? *pool : *pool_);
      if (d.ok()) {
        driver_ = std::move(d).value();
      } else {
        status = d.status();
      }
    });
    return status;
  }

  std::unique_ptr<Peer> MakePeer() {
    auto p = std::make_unique<Peer>(ns_fd_, b_);
    EXPECT_TRUE(p->ok());
    return p;
  }

  // `ip -j link show` of the driver's end, e.g. to look for an attached program ("xdp").
  std::string LinkJson() const {
    return Output(fmt::format("ip -j -n {} link show dev {}", ns_, a_));
  }

  std::string ns_, a_, b_;
  bool ns_created_ = false;
  int ns_fd_ = -1;
  std::unique_ptr<BufferPool> pool_;
  uint32_t start_available_ = 0;
  std::unique_ptr<Driver> driver_;
};

TEST_F(AfXdpTest, ReceivesFramesIntactIntoPoolBuffers) {
  LinkUp();
  Status s = Create(Args());
  ASSERT_TRUE(s.ok()) << s.message();
  auto peer = MakePeer();
  std::vector<Bytes> sent;
  for (uint32_t i = 0; i < 40; ++i) {
    sent.push_back(MakeFrame(60 + i * 37, i));  // 60 .. 1503 bytes
    ASSERT_TRUE(peer->Send(sent.back()));
  }
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, sent.size());
  EXPECT_EQ(r.frames, sent);  // one queue: in order, byte for byte
  for (const Buffer& h : r.heads) {
    // Written by the kernel straight into the buffer: the offset rule of af_xdp_internal.h.
    EXPECT_EQ(h.offset, af_xdp::kRxDataOffset);
    EXPECT_FALSE(h.has_next());
    EXPECT_EQ(h.total_length, h.length);
  }
  EXPECT_GE(driver_->rx(0).interrupt_fd(), 0);
}

// busy-budget: the socket is set for preferred busy polling, and frames still arrive whole (a
// poll of the empty ring runs the veth's NAPI through recvfrom first).
TEST_F(AfXdpTest, BusyPollingSetsTheSocketAndReceives) {
  LinkUp();
  AfXdpArgs args = Args();
  args.busy_budget = 64;
  Status s = Create(args);
  ASSERT_TRUE(s.ok()) << s.message();
  int fd = driver_->rx(0).interrupt_fd();
  ASSERT_GE(fd, 0);
  // (The kernel has no getsockopt for SO_BUSY_POLL_BUDGET; the driver fails if setting it does.)
  int prefer = 0, usecs = 0;
  socklen_t len = sizeof(int);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &prefer, &len), 0);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, &len), 0);
  EXPECT_EQ(prefer, 1);
  EXPECT_GT(usecs, 0);
  std::string details = fmt::format("{}", fmt::join(driver_->Info().details, "\n"));
  EXPECT_NE(details.find("busy polling: preferred, budget 64"), std::string::npos) << details;

  auto peer = MakePeer();
  std::vector<Bytes> sent;
  for (uint32_t i = 0; i < 40; ++i) {
    sent.push_back(MakeFrame(60 + i * 37, 500 + i));
    ASSERT_TRUE(peer->Send(sent.back()));
  }
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, sent.size());
  EXPECT_EQ(r.frames, sent);
}

TEST_F(AfXdpTest, TransmitsFramesIntact) {
  LinkUp();
  Status s = Create(Args());
  ASSERT_TRUE(s.ok()) << s.message();
  auto peer = MakePeer();
  BufferCache cache(*pool_);
  std::vector<Bytes> sent;
  std::vector<Buffer*> bufs;
  for (uint32_t i = 0; i < 40; ++i) {
    sent.push_back(MakeFrame(60 + i * 37, 1000 + i));
    bufs.push_back(MakeChain(cache, sent.back(), 2048));
    ASSERT_NE(bufs.back(), nullptr);
  }
  EXPECT_EQ(driver_->tx(0).Transmit(cache, bufs.data(), static_cast<uint16_t>(bufs.size())),
            bufs.size());
  EXPECT_EQ(peer->Receive(sent.size()), sent);
  EXPECT_EQ(driver_->tx(0).counters.errors.load(), 0u);
  EXPECT_EQ(driver_->tx(0).counters.drops_ring_full.load(), 0u);
}

// 2000 frames each way through 1024-entry rings, and every buffer back in the pool at the end.
TEST_F(AfXdpTest, ThousandsEachWayWithoutLeaks) {
  LinkUp();
  AfXdpArgs args = Args();
  Status s = Create(args);
  ASSERT_TRUE(s.ok()) << s.message();
  auto peer = MakePeer();
  constexpr uint32_t kFrames = 2000, kChunk = 100;
  {
    BufferCache cache(*pool_);
    size_t received = 0, mismatched = 0;
    for (uint32_t base = 0; base < kFrames; base += kChunk) {
      std::vector<Bytes> sent;
      for (uint32_t i = base; i < base + kChunk; ++i) {
        sent.push_back(MakeFrame(60 + (i * 13) % 1400, i));
        ASSERT_TRUE(peer->Send(sent.back()));
      }
      Received r = ReceiveFrames(*driver_, 1, cache, kChunk, 3000, 0);
      received += r.frames.size();
      if (r.frames != sent) ++mismatched;
    }
    EXPECT_EQ(received, kFrames);
    EXPECT_EQ(mismatched, 0u);

    size_t queued = 0;
    std::vector<Bytes> got;
    for (uint32_t base = 0; base < kFrames; base += 32) {
      Buffer* bufs[32];
      for (uint32_t i = 0; i < 32; ++i) {
        bufs[i] = MakeChain(cache, MakeFrame(60 + ((base + i) * 11) % 1400, 50000 + base + i),
                            2048);
        ASSERT_NE(bufs[i], nullptr);
      }
      queued += driver_->tx(0).Transmit(cache, bufs, 32);
      if (base % 320 == 0) {
        std::vector<Bytes> part = peer->Receive(SIZE_MAX, 20, 0);  // keep the peer's queue short
        got.insert(got.end(), part.begin(), part.end());
      }
    }
    std::vector<Bytes> rest = peer->Receive(queued - got.size());
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_EQ(queued, 2016u);  // 63 bursts of 32
    EXPECT_EQ(got.size(), queued);
    for (size_t i = 0; i < got.size() && i < 2016; ++i) {
      uint32_t seq = 50000 + static_cast<uint32_t>(i);
      if (got[i] != MakeFrame(60 + (static_cast<uint32_t>(i) * 11) % 1400, seq)) {
        ADD_FAILURE() << "tx frame " << i << " differs";
        break;
      }
    }
    driver_->rx(0).RefreshCounters();
    EXPECT_EQ(driver_->rx(0).counters.drops_kernel.load(), 0u);
    EXPECT_EQ(driver_->rx(0).counters.drops_no_buffer.load(), 0u);
    EXPECT_EQ(driver_->tx(0).counters.errors.load(), 0u);
  }
  // The fill ring and whatever is not completed yet hold buffers until Close gives them back.
  EXPECT_LT(pool_->available(), start_available_);
  driver_->Close();
  EXPECT_EQ(pool_->available(), start_available_);
}

// A million frames each way: the peer sends, the driver receives them and sends each buffer
// straight back (zero copy), the peer counts the echoes. Buffer accounting must be exact: once
// idle, the pool holds what it held before the traffic (the fill ring full, nothing in flight),
// and after Close everything is back.
TEST_F(AfXdpTest, MillionFramesEachWayKeepBufferAccountingExact) {
  LinkUp();
  Status s = Create(Args());
  ASSERT_TRUE(s.ok()) << s.message();
  auto peer = MakePeer();
  auto& txq = static_cast<af_xdp::AfXdpTxQueue&>(driver_->tx(0));
  constexpr uint64_t kFrames = 1000000;
  constexpr uint64_t kWindow = 512;  // frames the peer may have outstanding (under the rings)
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  BufferCache cache(*pool_);
  // Idle: the fill ring topped up, every completion taken back.
  auto settle = [&] {
    Buffer* none[1];
    for (int i = 0; i < 200 && (driver_->rx(0).Receive(cache, none, 0) > 0 || txq.in_flight() > 0);
         ++i) {
      driver_->tx(0).Transmit(cache, nullptr, 0);  // reclaims completions
      usleep(1000);
    }
    return pool_->available();
  };
  const uint32_t idle_before = settle();

  std::atomic<uint64_t> received{0}, echoed{0};
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    std::vector<Bytes> batch;
    for (uint32_t i = 0; i < 64; ++i) batch.push_back(MakeFrame(60, i));
    uint64_t sent = 0;
    while (sent < kFrames && !stop.load()) {
      if (sent - received.load() > kWindow) {
        std::this_thread::yield();
        continue;
      }
      size_t n = std::min<uint64_t>(64, kFrames - sent);
      sent += peer->SendBatch(batch.data(), n);
    }
  });
  std::thread counter([&] {
    while (echoed.load() < kFrames && !stop.load()) echoed += peer->CountWaiting(10);
  });
  Buffer* bufs[256];
  uint64_t queued = 0;
  while (echoed.load() < kFrames && Clock::now() < deadline) {
    uint16_t n = driver_->rx(0).Receive(cache, bufs, 256);
    if (n == 0) {
      driver_->tx(0).Transmit(cache, nullptr, 0);
      continue;
    }
    received += n;
    queued += driver_->tx(0).Transmit(cache, bufs, n);
  }
  stop = true;
  sender.join();
  counter.join();
  std::printf("  [million] %llu received, %llu queued back, %llu echoed to the peer\n",
              static_cast<unsigned long long>(received.load()),
              static_cast<unsigned long long>(queued),
              static_cast<unsigned long long>(echoed.load()));
  EXPECT_EQ(received.load(), kFrames);
  EXPECT_EQ(queued, kFrames);
  EXPECT_EQ(echoed.load(), kFrames);
  driver_->rx(0).RefreshCounters();
  EXPECT_EQ(driver_->rx(0).counters.drops_kernel.load(), 0u);
  EXPECT_EQ(driver_->rx(0).counters.drops_no_buffer.load(), 0u);
  EXPECT_EQ(driver_->tx(0).counters.drops_ring_full.load(), 0u);
  EXPECT_EQ(settle(), idle_before) << "buffers drifted over a million frames";
  EXPECT_EQ(txq.in_flight(), 0u);
  driver_->Close();
  // TearDown checks that Close gave everything back.
}

TEST_F(AfXdpTest, ProgramAttachedWhileOpenAndDetachedAfterClose) {
  LinkUp();
  ASSERT_EQ(LinkJson().find("\"xdp\""), std::string::npos) << LinkJson();
  Status s = Create(Args());
  ASSERT_TRUE(s.ok()) << s.message();
  std::string json = LinkJson();
  EXPECT_NE(json.find("\"xdp\""), std::string::npos) << json;
  EXPECT_NE(json.find("uplinkd_xsk"), std::string::npos) << json;
  std::string all;
  for (const auto& d : driver_->Info().details) all += d + "\n";
  EXPECT_NE(all.find("mode: copy"), std::string::npos) << all;
  EXPECT_NE(all.find("native mode"), std::string::npos) << all;
  // Older kernels refuse XDP_USE_SG sockets: the driver falls back to one buffer per frame.
  if (KernelHasAfXdpMultiBuffer()) {
    EXPECT_NE(all.find("multi-buffer on"), std::string::npos) << all;
    EXPECT_NE(all.find("(xdp.frags)"), std::string::npos) << all;
  } else {
    std::fprintf(stderr, "af_xdp_test: kernel %s has no multi-buffer AF_XDP: expecting the "
                 "single-buffer fallback\n", KernelRelease().c_str());
    EXPECT_NE(all.find("multi-buffer off"), std::string::npos) << all;
  }
  EXPECT_EQ(driver_->Info().driver, "af_xdp");
  driver_->Close();
  driver_->Close();  // idempotent
  EXPECT_EQ(LinkJson().find("\"xdp\""), std::string::npos) << LinkJson();
  EXPECT_EQ(pool_->available(), start_available_);
  // Closed queues neither receive nor send, and free what they are given.
  BufferCache cache(*pool_);
  Buffer* bufs[4];
  EXPECT_EQ(driver_->rx(0).Receive(cache, bufs, 4), 0);
  Buffer* b = MakeChain(cache, MakeFrame(64, 1), 2048);
  EXPECT_EQ(driver_->tx(0).Transmit(cache, &b, 1), 0);
}

// The program is attached through a BPF link: when the process dies without Close() (SIGKILL),
// the kernel detaches it.
TEST_F(AfXdpTest, ProgramDetachedWhenTheProcessIsKilled) {
  LinkUp();
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child: no other threads here, so entering the namespace directly is safe.
    close(pipe_fds[0]);
    if (setns(ns_fd_, CLONE_NEWNET) != 0) _exit(2);
    auto d = CreateAfXdpDriver(Args(), *pool_);
    char c = d.ok() ? 'y' : 'n';
    (void)!write(pipe_fds[1], &c, 1);
    pause();  // killed by the parent
    _exit(0);
  }
  close(pipe_fds[1]);
  char c = 0;
  pollfd pfd{pipe_fds[0], POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 10000), 1);
  ASSERT_EQ(read(pipe_fds[0], &c, 1), 1);
  close(pipe_fds[0]);
  EXPECT_EQ(c, 'y');
  EXPECT_NE(LinkJson().find("uplinkd_xsk"), std::string::npos) << LinkJson();
  kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  // The link goes with the last fd; the kernel releases it asynchronously: wait, bounded.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = LinkJson().find("\"xdp\"") == std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << LinkJson();
}

TEST_F(AfXdpTest, TwoQueuesReceiveAndSend) {
  // A veth pair with two queues each instead of the fixture's single-queue one.
  ASSERT_EQ(Shell(fmt::format("ip -n {} link del {}", ns_, a_)), 0);
  ASSERT_EQ(Shell(fmt::format("ip -n {} link add {} numrxqueues 2 numtxqueues 2 type veth peer "
                              "name {} numrxqueues 2 numtxqueues 2",
                              ns_, a_, b_)),
            0);
  LinkUp();
  AfXdpArgs args = Args();
  args.num_rx_queues = 0;  // all: the veth has 2
  args.rx_queue_size = 512;
  args.tx_queue_size = 512;
  Status s = Create(args);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(driver_->Info().num_rx_queues, 2);
  auto peer = MakePeer();
  std::vector<Bytes> sent;
  for (uint32_t i = 0; i < 64; ++i) {
    sent.push_back(MakeFrame(100 + i, i));
    ASSERT_TRUE(peer->Send(sent.back()));
  }
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 2, cache, sent.size());
  EXPECT_EQ(testing_util::AsFrameSet(r.frames), testing_util::AsFrameSet(sent));
  for (uint16_t q = 0; q < 2; ++q) {
    Buffer* b = MakeChain(cache, MakeFrame(200, 7000 + q), 2048);
    EXPECT_EQ(driver_->tx(q).Transmit(cache, &b, 1), 1);
  }
  EXPECT_EQ(peer->Receive(2).size(), 2u);
}

// MTU 9000: the xdp.frags program and XDP_USE_SG sockets carry jumbo frames as buffer chains,
// both ways, byte for byte. Needs multi-buffer AF_XDP (Linux >= 6.6); on older kernels the
// single-buffer path (NoMultiBufferCarriesFramesUpToTheCappedMtu) is what runs.
TEST_F(AfXdpTest, JumboFramesAsChains) {
  if (!KernelHasAfXdpMultiBuffer()) {
    std::fprintf(stderr, "af_xdp_test: NOT RUN: JumboFramesAsChains needs Linux >= 6.6\n");
    GTEST_SKIP() << "multi-buffer AF_XDP (XDP_USE_SG) needs Linux >= 6.6; this kernel is "
                 << KernelRelease();
  }
  LinkUp(9000);
  Status s = Create(Args());
  ASSERT_TRUE(s.ok()) << s.message();
  auto peer = MakePeer();
  std::vector<Bytes> sent;
  for (uint32_t len : {9014u, 4000u, 1900u, 60u, 8000u}) {
    sent.push_back(MakeFrame(len, len));
    ASSERT_TRUE(peer->Send(sent.back()));
  }
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, sent.size());
  EXPECT_EQ(r.frames, sent);
  ASSERT_EQ(r.heads.size(), sent.size());
  EXPECT_TRUE(r.heads[0].has_next());
  EXPECT_EQ(r.heads[0].total_length, 9014u);

  std::vector<Bytes> out;
  std::vector<Buffer*> bufs;
  for (uint32_t len : {9014u, 3000u, 64u}) {
    out.push_back(MakeFrame(len, 77000 + len));
    bufs.push_back(MakeChain(cache, out.back(), 2048));
    ASSERT_NE(bufs.back(), nullptr);
  }
  EXPECT_EQ(driver_->tx(0).Transmit(cache, bufs.data(), static_cast<uint16_t>(bufs.size())), 3);
  EXPECT_EQ(peer->Receive(out.size()), out);
  EXPECT_EQ(driver_->tx(0).counters.drops_too_long.load(), 0u);
}

// The path of kernels without multi-buffer AF_XDP, and of `no-multi-buffer`: the plain program,
// sockets without XDP_USE_SG, and the MTU capped (as the manager caps it) so that a frame fits
// one buffer. Frames up to that MTU go both ways intact, each in a single buffer. Runs on every
// kernel.
TEST_F(AfXdpTest, NoMultiBufferCarriesFramesUpToTheCappedMtu) {
  const uint32_t mtu = AfXdpSingleBufferMtu(pool_->data_size());
  ASSERT_GT(mtu, 1500u);
  LinkUp(mtu);
  AfXdpArgs args;
  ASSERT_TRUE(ParseAfXdpCreateArgs({"host-if", a_, "no-multi-buffer"}, &args).ok());
  Status s = Create(args);
  ASSERT_TRUE(s.ok()) << s.message();
  std::string all;
  for (const auto& d : driver_->Info().details) all += d + "\n";
  EXPECT_NE(all.find("multi-buffer off"), std::string::npos) << all;
  EXPECT_EQ(all.find("(xdp.frags)"), std::string::npos) << all;
  EXPECT_EQ(driver_->Info().mtu, mtu);

  auto peer = MakePeer();
  const uint32_t longest = mtu + 14;  // Ethernet header, no VLAN tag
  std::vector<Bytes> sent;
  for (uint32_t len : {longest, 60u, 1514u, longest - 1}) {
    sent.push_back(MakeFrame(len, len));
    ASSERT_TRUE(peer->Send(sent.back()));
  }
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, sent.size());
  EXPECT_EQ(r.frames, sent);
  for (const Buffer& h : r.heads) EXPECT_FALSE(h.has_next());

  Bytes out = MakeFrame(longest, 5);
  Buffer* b = MakeChain(cache, out, pool_->data_size());
  ASSERT_NE(b, nullptr);
  ASSERT_FALSE(b->has_next());
  EXPECT_EQ(driver_->tx(0).Transmit(cache, &b, 1), 1);
  EXPECT_EQ(peer->Receive(1), std::vector<Bytes>{out});
  EXPECT_EQ(driver_->tx(0).counters.drops_too_long.load(), 0u);
  std::printf("  [single-buffer] MTU %u: frames up to %u bytes, one buffer each, both ways\n", mtu,
              longest);
}

// Without multi-buffer, a chain cannot be described on the TX ring: counted and dropped.
TEST_F(AfXdpTest, ChainsDroppedWithoutMultiBuffer) {
  LinkUp();
  AfXdpArgs args = Args();
  args.multi_buffer = false;
  Status s = Create(args);
  ASSERT_TRUE(s.ok()) << s.message();
  auto peer = MakePeer();
  BufferCache cache(*pool_);
  Buffer* bufs[2] = {MakeChain(cache, MakeFrame(1400, 1), 1000),
                     MakeChain(cache, MakeFrame(200, 2), 2048)};
  EXPECT_EQ(driver_->tx(0).Transmit(cache, bufs, 2), 1);
  EXPECT_EQ(driver_->tx(0).counters.drops_too_long.load(), 1u);
  EXPECT_EQ(peer->Receive(1), std::vector<Bytes>{MakeFrame(200, 2)});
}

// A pool that runs dry: the kernel drops what finds the fill ring empty (drops_no_buffer), and
// frames flow again once buffers come back.
TEST_F(AfXdpTest, EmptyPoolCountsNoBufferAndRecovers) {
  LinkUp();
  auto small = MakePool(192);
  ASSERT_NE(small, nullptr);
  const uint32_t small_start = small->available();
  AfXdpArgs args = Args();
  args.rx_queue_size = 64;
  args.tx_queue_size = 64;
  Status s = Create(args, small.get());
  ASSERT_TRUE(s.ok()) << s.message();
  auto peer = MakePeer();
  {
    BufferCache cache(*small);
    std::vector<Buffer*> held;
    constexpr uint32_t kSent = 260;
    for (uint32_t i = 0; i < kSent; i += 20) {
      for (uint32_t j = i; j < i + 20; ++j) ASSERT_TRUE(peer->Send(MakeFrame(100, j)));
      // Until each frame sent so far is either held or counted as dropped (bounded).
      auto deadline = Clock::now() + std::chrono::seconds(5);
      while (Clock::now() < deadline) {
        Buffer* bufs[32];
        uint16_t n = driver_->rx(0).Receive(cache, bufs, 32);  // kept: the pool runs dry
        held.insert(held.end(), bufs, bufs + n);
        if (n > 0) continue;
        driver_->rx(0).RefreshCounters();
        if (held.size() + driver_->rx(0).counters.drops_no_buffer.load() +
                driver_->rx(0).counters.drops_kernel.load() >= i + 20) {
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    driver_->rx(0).RefreshCounters();
    uint64_t no_buffer = driver_->rx(0).counters.drops_no_buffer.load();
    uint64_t kernel = driver_->rx(0).counters.drops_kernel.load();
    EXPECT_EQ(held.size(), 192u);
    EXPECT_GT(no_buffer, 0u);
    EXPECT_EQ(held.size() + no_buffer + kernel, kSent);
    cache.Free(held.data(), static_cast<uint32_t>(held.size()));
    // Buffers are back: the next Receive refills the ring and frames flow again.
    Buffer* none[1];
    EXPECT_EQ(driver_->rx(0).Receive(cache, none, 1), 0);
    ASSERT_TRUE(peer->Send(MakeFrame(100, 999)));
    Received r = ReceiveFrames(*driver_, 1, cache, 1);
    EXPECT_EQ(r.frames, std::vector<Bytes>{MakeFrame(100, 999)});
  }
  driver_.reset();
  EXPECT_EQ(small->available(), small_start);
}

// A minimal XDP_PASS program attached by "someone else" (netlink, generic mode, so it outlives
// its fd): creation must refuse naming it, and leave it attached.
TEST_F(AfXdpTest, ForeignProgramIsRefusedAndKept) {
  LinkUp();
  int prog_fd = -1;
  InNetns(ns_fd_, [&] { prog_fd = testing_util::AttachForeignXdpPass(a_, "foreign_pass"); });
  ASSERT_GE(prog_fd, 0) << std::strerror(errno);
  Status s = Create(Args());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), EBUSY);
  EXPECT_NE(s.message().find("already attached: 'foreign_pass'"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("refusing to replace it"), std::string::npos) << s.message();
  std::string json = LinkJson();
  EXPECT_NE(json.find("foreign_pass"), std::string::npos) << json;
  close(prog_fd);
}

TEST_F(AfXdpTest, MissingInterfaceAndSmallPoolAreClearErrors) {
  AfXdpArgs args = Args();
  args.host_if = "axnope0";
  Status s = Create(args);
  EXPECT_EQ(s.code(), ENODEV);
  EXPECT_NE(s.message().find("interface 'axnope0' not found"), std::string::npos) << s.message();

  LinkUp();
  auto small = MakePool(1024);
  ASSERT_NE(small, nullptr);
  s = Create(Args(), small.get());
  EXPECT_EQ(s.code(), ENOBUFS) << s.message();
  EXPECT_NE(s.message().find("too few"), std::string::npos) << s.message();
  EXPECT_EQ(LinkJson().find("\"xdp\""), std::string::npos) << LinkJson();
  EXPECT_EQ(small->available(), 1024u);
}

}  // namespace
}  // namespace uplinkd
