// af_packet driver against the real kernel. Every test builds its own network namespace with a
// veth pair inside (names "apt<pid><n>", "apa..", "apb.."), runs the driver on one end and a
// plain raw socket on the other, and deletes the namespace afterwards, even on failure. Nothing
// outside that namespace is touched. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns).

#include "drivers/af_packet/af_packet.h"
#include "tests/common/buffer_chain.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
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
#include "drivers/af_packet/af_packet_internal.h"

namespace uplinkd {
namespace {

using af_packet::kVnetFlagNeedsCsum;
using af_packet::kVnetGsoTcpV4;
using af_packet::VirtioNetHdr;

using testing_util::Bytes;
using testing_util::Flatten;
using testing_util::MakeChain;
using Clock = std::chrono::steady_clock;

constexpr uint16_t kTestEtherType = 0x88b5;  // IEEE local experimental

int Shell(const std::string& cmd) {
  int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  if (rc != 0) std::fprintf(stderr, "af_packet_test: command failed (%d): %s\n", rc, cmd.c_str());
  return rc;
}

// Runs `f` on a thread that joined the namespace: sockets and ioctls made there belong to it.
void InNetns(int ns_fd, const std::function<void()>& f) {
  std::thread t([&] {
    if (setns(ns_fd, CLONE_NEWNET) != 0) {
      std::perror("af_packet_test: setns");
      std::abort();  // never run test code in the machine's own namespace
    }
    f();
  });
  t.join();
}

Bytes MakeFrame(uint32_t len, uint32_t seq, uint16_t ether_type = kTestEtherType) {
  Bytes f(len);
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x01};
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(f.data(), dst, 6);
  std::memcpy(f.data() + 6, src, 6);
  f[12] = static_cast<uint8_t>(ether_type >> 8);
  f[13] = static_cast<uint8_t>(ether_type);
  for (uint32_t i = 14; i < len; ++i) f[i] = static_cast<uint8_t>(seq * 7 + i);
  if (len >= 18) std::memcpy(f.data() + 14, &seq, 4);
  return f;
}

uint16_t Sum16(const uint8_t* p, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// An IPv4 frame to 198.18.0.1 from 198.18.0.2 with a UDP or TCP header; the L4 checksum field
// holds the pseudo-header sum (what a CHECKSUM_PARTIAL sender leaves there).
Bytes MakeIpv4Frame(uint32_t len, uint8_t proto, uint16_t sport, uint16_t dport) {
  Bytes f = MakeFrame(len, sport, ETH_P_IP);
  uint8_t* ip = f.data() + 14;
  uint32_t ip_len = len - 14;
  std::memset(ip, 0, 20);
  ip[0] = 0x45;
  ip[2] = static_cast<uint8_t>(ip_len >> 8);
  ip[3] = static_cast<uint8_t>(ip_len);
  ip[8] = 64;
  ip[9] = proto;
  const uint8_t saddr[4] = {198, 18, 0, 2}, daddr[4] = {198, 18, 0, 1};
  std::memcpy(ip + 12, saddr, 4);
  std::memcpy(ip + 16, daddr, 4);
  uint16_t ipsum = static_cast<uint16_t>(~Sum16(ip, 20));
  ip[10] = static_cast<uint8_t>(ipsum >> 8);
  ip[11] = static_cast<uint8_t>(ipsum);
  uint8_t* l4 = ip + 20;
  uint32_t l4_len = ip_len - 20;
  l4[0] = static_cast<uint8_t>(sport >> 8);
  l4[1] = static_cast<uint8_t>(sport);
  l4[2] = static_cast<uint8_t>(dport >> 8);
  l4[3] = static_cast<uint8_t>(dport);
  uint32_t csum_off = proto == IPPROTO_TCP ? 16 : 6;
  if (proto == IPPROTO_UDP) {
    l4[4] = static_cast<uint8_t>(l4_len >> 8);
    l4[5] = static_cast<uint8_t>(l4_len);
  } else {
    std::memset(l4 + 4, 0, 16);
    l4[12] = 0x50;  // data offset 5
    l4[13] = 0x18;  // PSH, ACK
    l4[14] = 0xff;
    l4[15] = 0xff;
    l4[18] = l4[19] = 0;
  }
  uint8_t pseudo[12];
  std::memcpy(pseudo, saddr, 4);
  std::memcpy(pseudo + 4, daddr, 4);
  pseudo[8] = 0;
  pseudo[9] = proto;
  pseudo[10] = static_cast<uint8_t>(l4_len >> 8);
  pseudo[11] = static_cast<uint8_t>(l4_len);
  uint16_t ps = Sum16(pseudo, 12);
  l4[csum_off] = static_cast<uint8_t>(ps >> 8);
  l4[csum_off + 1] = static_cast<uint8_t>(ps);
  return f;
}

// True when the IPv4 TCP/UDP checksum of `f` is valid.
bool L4ChecksumValid(const Bytes& f) {
  const uint8_t* ip = f.data() + 14;
  uint32_t l4_len = static_cast<uint32_t>(f.size()) - 34;
  uint8_t pseudo[12];
  std::memcpy(pseudo, ip + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = ip[9];
  pseudo[10] = static_cast<uint8_t>(l4_len >> 8);
  pseudo[11] = static_cast<uint8_t>(l4_len);
  uint32_t sum = Sum16(pseudo, 12);
  return Sum16(ip + 20, l4_len, sum) == 0xffff;
}

int Segments(const BufferPool& pool, const Buffer* b) {
  int n = 1;
  while (b->has_next() && n < 1000) {
    b = pool.FromIndex(b->next);
    ++n;
  }
  return n;
}

// The test's side of the wire: a raw socket on the peer veth end.
class Peer {
 public:
  Peer(int ns_fd, const std::string& ifname, bool vnet) : vnet_(vnet) {
    InNetns(ns_fd, [&] {
      fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
      if (fd_ < 0) return;
      int one = 1;
      setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
      if (vnet) setsockopt(fd_, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one));
      int big = 8 << 20;
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

  bool Send(const Bytes& frame, const VirtioNetHdr* vh = nullptr) {
    Bytes msg;
    if (vnet_) {
      VirtioNetHdr none{};
      const auto* h = reinterpret_cast<const uint8_t*>(vh ? vh : &none);
      msg.assign(h, h + sizeof(VirtioNetHdr));
    }
    msg.insert(msg.end(), frame.begin(), frame.end());
    return send(fd_, msg.data(), msg.size(), 0) == static_cast<ssize_t>(msg.size());
  }

  // Frames received within `timeout_ms` (stops early at `want`, then waits `linger_ms` more
  // for extras).
  std::vector<Bytes> Receive(size_t want, int timeout_ms = 2000, int linger_ms = 50,
                             std::vector<VirtioNetHdr>* hdrs = nullptr) {
    std::vector<Bytes> out;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::optional<Clock::time_point> linger_end;
    Bytes buf(128 * 1024);
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
      if (n <= 0) continue;
      size_t off = vnet_ ? sizeof(VirtioNetHdr) : 0;
      if (hdrs && vnet_) {
        VirtioNetHdr vh;
        std::memcpy(&vh, buf.data(), sizeof(vh));
        hdrs->push_back(vh);
      }
      out.emplace_back(buf.begin() + static_cast<long>(off), buf.begin() + n);
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool vnet_;
};

// Drains the driver's rx queues into flat frames (and the heads' offload fields).
struct Received {
  std::vector<Bytes> frames;
  std::vector<size_t> per_queue;
  std::vector<Buffer> heads;  // header copies, for offload fields
  std::vector<int> segments;
};

Received ReceiveFrames(Driver& driver, uint16_t queues, BufferCache& cache, size_t want,
                       int timeout_ms = 2000, int linger_ms = 50) {
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
        r.segments.push_back(Segments(cache.pool(), bufs[i]));
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

// The kernel's promiscuity count (SIOCGIFFLAGS only reports promisc set through it, not the
// count packet sockets raise), read from `ip -d link`.
int Promiscuity(const std::string& ns, const std::string& ifname) {
  std::string cmd = fmt::format("ip -d -n {} link show {} 2>/dev/null", ns, ifname);
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return -1;
  std::string out;
  char line[512];
  while (std::fgets(line, sizeof(line), f) != nullptr) out += line;
  pclose(f);
  size_t pos = out.find("promiscuity ");
  if (pos == std::string::npos) return -1;
  return std::atoi(out.c_str() + pos + 12);
}

// ---------------------------------------------------------------------------------------------

TEST(AfPacketParse, AcceptsEveryOption) {
  AfPacketArgs a;
  ASSERT_TRUE(ParseAfPacketCreateArgs(
                  {"v2", "name", "eth1", "num-rx-queues", "4", "num-tx-queues", "2", "rx-size",
                   "2048", "tx-size", "0x400", "rx-per-block", "8", "tx-per-block", "2",
                   "rx-frame-size", "4096", "tx-frame-size", "2048", "hw-addr",
                   "02:fe:00:00:00:01", "qdisc-bypass-disable", "cksum-gso-disable", "mode",
                   "ethernet"},
                  &a)
                  .ok());
  EXPECT_TRUE(a.use_v2);
  EXPECT_EQ(a.host_if, "eth1");
  EXPECT_EQ(a.num_rx_queues, 4);
  EXPECT_EQ(a.num_tx_queues, 2);
  EXPECT_EQ(a.rx_size, 2048u);
  EXPECT_EQ(a.tx_size, 1024u);
  EXPECT_EQ(a.rx_frames_per_block, 8u);
  EXPECT_EQ(a.tx_frames_per_block, 2u);
  EXPECT_EQ(a.rx_frame_size, 4096u);
  EXPECT_EQ(a.tx_frame_size, 2048u);
  ASSERT_TRUE(a.hw_addr.has_value());
  EXPECT_EQ(FormatMac(*a.hw_addr), "02:fe:00:00:00:01");
  EXPECT_FALSE(a.qdisc_bypass);
  EXPECT_FALSE(a.offloads);
  EXPECT_EQ(AfPacketInterfaceName(a), "host-eth1");
}

TEST(AfPacketParse, RingSizesNeedNotBePowersOfTwo) {
  // The kernel takes any tp_frame_nr; the limits are the shared range only.
  AfPacketArgs a;
  ASSERT_TRUE(ParseAfPacketCreateArgs({"name", "eth0", "rx-size", "5000", "tx-size", "64",
                                       "num-rx-queues", "64"},
                                      &a)
                  .ok());
  EXPECT_EQ(a.rx_size, 5000u);
  EXPECT_EQ(a.tx_size, kMinRingSize);
  EXPECT_EQ(a.num_rx_queues, kMaxInterfaceQueues);
}

// What the manager sends is FormatAfPacketCreateArgs' output: it must parse back to the same args.
TEST(AfPacketParse, FormatRoundTrips) {
  AfPacketArgs defaults;
  defaults.host_if = "eth0";
  EXPECT_EQ(FormatAfPacketCreateArgs(defaults), (std::vector<std::string>{"name", "eth0"}));

  AfPacketArgs all;
  all.host_if = "veth-up0";
  all.num_rx_queues = kMaxInterfaceQueues;
  all.num_tx_queues = 3;
  all.rx_size = kMaxRingSize;
  all.tx_size = 1000;
  all.rx_frames_per_block = 8;
  all.tx_frames_per_block = 2;
  all.rx_frame_size = 4096;
  all.tx_frame_size = 2048;
  all.hw_addr = MacAddress{0x02, 0xfe, 0, 0, 0, 0x42};
  all.use_v2 = true;
  all.qdisc_bypass = false;
  all.offloads = false;

  AfPacketArgs from_queues = AfPacketArgsFor("eth1", InterfaceQueues{2, 0, 2048, 0});
  EXPECT_EQ(from_queues.num_rx_queues, 2);
  EXPECT_EQ(from_queues.num_tx_queues, 1);  // 0 = the driver's default
  EXPECT_EQ(from_queues.rx_size, 2048u);
  EXPECT_EQ(from_queues.tx_size, 0u);

  for (const AfPacketArgs& want : {defaults, all, from_queues}) {
    std::vector<std::string> words = FormatAfPacketCreateArgs(want);
    AfPacketArgs got;
    Status s = ParseAfPacketCreateArgs(words, &got);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(got, want) << fmt::format("{}", fmt::join(words, " "));
  }
}

TEST(AfPacketParse, Defaults) {
  AfPacketArgs a;
  ASSERT_TRUE(ParseAfPacketCreateArgs({"name", "veth0"}, &a).ok());
  EXPECT_EQ(a.host_if, "veth0");
  EXPECT_FALSE(a.use_v2);
  EXPECT_TRUE(a.qdisc_bypass);
  EXPECT_TRUE(a.offloads);
  EXPECT_EQ(a.num_rx_queues, 1);
  EXPECT_FALSE(a.hw_addr.has_value());
}

TEST(AfPacketParse, RejectsWithMessages) {
  struct Case {
    std::vector<std::string> words;
    std::string message;
  };
  const Case cases[] = {
      {{"name", "eth0", "foo"}, "unknown input 'foo'"},
      {{"name", "eth0", "rx-size", "x"}, "expected a number after 'rx-size', got 'x'"},
      {{"name", "eth0", "rx-size"}, "expected a number after 'rx-size'"},
      {{"name", "eth0", "num-rx-queues", "0"}, "num-rx-queues=0: must be at least 1"},
      // The shared limits (drivers/interface_config.h): max + 1 and min - 1 are refused.
      {{"name", "eth0", "num-tx-queues", "65"}, "num-tx-queues=65: must be at most 64"},
      {{"name", "eth0", "rx-size", "32769"}, "rx-size=32769: must be at most 32768"},
      {{"name", "eth0", "tx-size", "63"}, "tx-size=63: must be at least 64"},
      {{"name", "eth0", "rx-size", "4294967296"}, "rx-size=4294967296: must be at most 32768"},
      {{"name", "eth0", "hw-addr", "zz"}, "expected a MAC address after 'hw-addr', got 'zz'"},
      {{"name", "eth0", "mode", "ip"}, "'mode ip' is not supported"},
      {{"name", "eth0", "mode", "x"}, "unknown mode 'x'"},
      {{"name"}, "expected an interface name after 'name'"},
      {{"name", "a-very-long-interface-name"}, "invalid interface name"},
      {{"v2"}, "missing 'name IF'"},
  };
  for (const Case& c : cases) {
    AfPacketArgs a;
    a.host_if = "untouched";
    Status s = ParseAfPacketCreateArgs(c.words, &a);
    EXPECT_FALSE(s.ok()) << c.message;
    EXPECT_NE(s.message().find(c.message), std::string::npos)
        << "got '" << s.message() << "', want '" << c.message << "'";
    EXPECT_EQ(a.host_if, "untouched");
  }
}

// ---------------------------------------------------------------------------------------------

class AfPacketTest : public ::testing::TestWithParam<bool> {  // param: use_v2
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      std::fprintf(stderr, "af_packet_test: NOT RUN: needs root for network namespaces\n");
      GTEST_SKIP() << "needs root (network namespaces, raw sockets)";
    }
    static int counter = 0;
    std::string id = fmt::format("{}{}", getpid() % 100000, counter++);
    ns_ = "apt" + id;
    a_ = "apa" + id;
    b_ = "apb" + id;
    ASSERT_EQ(Shell(fmt::format("ip netns add {}", ns_)), 0);
    ns_created_ = true;
    // No IPv6 autoconfiguration chatter (RS, MLD, DAD) on the veths: tests count frames exactly.
    ASSERT_EQ(Shell(fmt::format("ip netns exec {} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
                                "net.ipv6.conf.default.disable_ipv6=1",
                                ns_)),
              0);
    ASSERT_EQ(Shell(fmt::format("ip -n {} link add {} type veth peer name {}", ns_, a_, b_)), 0);
    ns_fd_ = open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(ns_fd_, 0);
    BufferPoolConfig config;
    config.buffers = 4096;
    config.data_size = 2048;
    config.allow_hugepages = false;
    auto pool = BufferPool::Create(config);
    ASSERT_TRUE(pool.ok()) << pool.status().message();
    pool_ = std::move(pool).value();
    start_available_ = pool_->available();
  }

  void TearDown() override {
    driver_.reset();
    if (pool_) {
      EXPECT_EQ(pool_->available(), start_available_) << "buffers leaked";
    }
  }

  ~AfPacketTest() override {
    driver_.reset();
    if (ns_fd_ >= 0) close(ns_fd_);
    if (ns_created_) Shell(fmt::format("ip netns del {}", ns_));
  }

  void LinkUp(uint32_t mtu = 1500) {
    ASSERT_EQ(Shell(fmt::format("ip -n {} link set {} mtu {} up", ns_, a_, mtu)), 0);
    ASSERT_EQ(Shell(fmt::format("ip -n {} link set {} mtu {} up", ns_, b_, mtu)), 0);
  }

  AfPacketArgs Args() const {
    AfPacketArgs args;
    args.host_if = a_;
    args.use_v2 = GetParam();
    return args;
  }

  Status Create(const AfPacketArgs& args, BufferPool* pool = nullptr) {
    Status status;
    InNetns(ns_fd_, [&] {
      auto d = CreateAfPacketDriver(args, pool ? *pool : *pool_);
      if (d.ok()) {
        driver_ = std::move(d).value();
      } else {
        status = d.status();
      }
    });
    if (status.ok()) status = driver_->Start();
    return status;
  }

  std::unique_ptr<Peer> MakePeer(bool vnet = false) {
    auto p = std::make_unique<Peer>(ns_fd_, b_, vnet);
    EXPECT_TRUE(p->ok());
    return p;
  }

  std::string ns_, a_, b_;
  bool ns_created_ = false;
  int ns_fd_ = -1;
  std::unique_ptr<BufferPool> pool_;
  uint32_t start_available_ = 0;
  std::unique_ptr<Driver> driver_;
};

TEST_P(AfPacketTest, MissingInterfaceFails) {
  AfPacketArgs args = Args();
  args.host_if = "nosuchif0";
  Status s = Create(args);
  EXPECT_EQ(s.code(), ENODEV);
  EXPECT_NE(s.message().find("interface 'nosuchif0' not found"), std::string::npos)
      << s.message();
}

TEST_P(AfPacketTest, RejectsBadSizesBeforeTouchingAnything) {
  LinkUp();
  AfPacketArgs args = Args();
  args.rx_frame_size = 1000;
  Status s = Create(args);
  EXPECT_EQ(s.code(), EINVAL);
  EXPECT_NE(s.message().find("rx-frame-size 1000 must be a multiple of 16"), std::string::npos)
      << s.message();
  args = Args();
  args.tx_frame_size = 64;
  EXPECT_EQ(Create(args).code(), EINVAL);
  args = Args();
  args.rx_size = UINT32_MAX;  // an 8 TiB ring
  s = Create(args);
  EXPECT_NE(s.message().find("larger than"), std::string::npos) << s.message();
  args = Args();
  args.rx_frames_per_block = UINT32_MAX;
  EXPECT_EQ(Create(args).code(), EINVAL);
  EXPECT_EQ(Promiscuity(ns_, a_), 0);
}

TEST_P(AfPacketTest, ReceivesExactlyWhatPeerSent) {
  LinkUp();
  ASSERT_TRUE(Create(Args()).ok());
  auto peer = MakePeer();
  std::vector<Bytes> sent;
  for (uint32_t i = 0; i < 100; ++i) {
    sent.push_back(MakeFrame(60 + (i * 37) % 1455, i));
    ASSERT_TRUE(peer->Send(sent.back()));
  }
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, sent.size());
  ASSERT_EQ(r.frames.size(), sent.size());
  EXPECT_EQ(r.frames, sent);  // one queue: order kept
  EXPECT_EQ(driver_->rx(0).counters.drops_too_long.load(), 0u);
  EXPECT_EQ(driver_->rx(0).counters.drops_no_buffer.load(), 0u);
}

TEST_P(AfPacketTest, FramesTheKernelCouldNotRingAreCountedAsKernelDrops) {
  LinkUp();
  AfPacketArgs args = Args();
  args.rx_size = 64;  // a small ring, never drained below: the kernel must drop the rest
  ASSERT_TRUE(Create(args).ok());
  auto peer = MakePeer();
  const uint32_t kSent = 2000;
  for (uint32_t i = 0; i < kSent; ++i) ASSERT_TRUE(peer->Send(MakeFrame(1400, i)));
  RxQueue& rxq = driver_->rx(0);
  rxq.RefreshCounters();
  uint64_t kernel_drops = rxq.counters.drops_kernel.load();
  EXPECT_GT(kernel_drops, 0u);
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, kSent);
  rxq.RefreshCounters();
  // Every frame sent was either received or counted by the kernel as dropped.
  EXPECT_EQ(r.frames.size() + rxq.counters.drops_kernel.load(), kSent);
}

TEST_P(AfPacketTest, VlanTagIsPutBack) {
  LinkUp();
  ASSERT_TRUE(Create(Args()).ok());
  auto peer = MakePeer();
  Bytes tagged = MakeFrame(200, 1);
  const uint8_t tag[4] = {0x81, 0x00, 0x20, 0x64};  // PCP 1, VID 100
  tagged.insert(tagged.begin() + 12, tag, tag + 4);
  ASSERT_TRUE(peer->Send(tagged));
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, 1);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0], tagged);
}

TEST_P(AfPacketTest, FanoutSpreadsTwoQueuesAndLosesNothing) {
  LinkUp();
  AfPacketArgs args = Args();
  args.num_rx_queues = 2;
  ASSERT_TRUE(Create(args).ok());
  auto peer = MakePeer();
  std::vector<Bytes> sent;
  for (uint16_t i = 0; i < 128; ++i) {
    sent.push_back(MakeIpv4Frame(100, IPPROTO_UDP, static_cast<uint16_t>(1000 + i), 4789));
    ASSERT_TRUE(peer->Send(sent.back()));
  }
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 2, cache, sent.size());
  EXPECT_EQ(testing_util::AsFrameSet(r.frames), testing_util::AsFrameSet(sent));
  EXPECT_GT(r.per_queue[0], 0u);
  EXPECT_GT(r.per_queue[1], 0u);
  DriverInfo info = driver_->Info();
  bool has_fanout = false;
  for (const auto& d : info.details) has_fanout |= d.find("fanout: hash") != std::string::npos;
  EXPECT_TRUE(has_fanout);
}

TEST_P(AfPacketTest, TransmitArrivesIntactAndIsNotReceivedBack) {
  LinkUp();
  auto peer = MakePeer();
  // One rx queue (per-socket ignore-outgoing) and two (fanout-wide), with two tx queues.
  for (uint16_t rx_queues : {1, 2}) {
    SCOPED_TRACE(fmt::format("{} rx queues", rx_queues));
    AfPacketArgs args = Args();
    args.num_rx_queues = rx_queues;
    args.num_tx_queues = 2;
    ASSERT_TRUE(Create(args).ok());
    BufferCache cache(*pool_);
    std::vector<Bytes> sent;
    std::vector<Buffer*> bufs;
    for (uint32_t i = 0; i < 64; ++i) {
      sent.push_back(MakeFrame(60 + (i * 53) % 1455, i));
      // Some packets as chains of 500-byte segments: tx must gather them.
      bufs.push_back(MakeChain(cache, sent.back(), i % 2 ? 500 : 2048));
      ASSERT_NE(bufs.back(), nullptr);
    }
    EXPECT_EQ(driver_->tx(0).Transmit(cache, bufs.data(), 32), 32);
    std::vector<Bytes> got = peer->Receive(32);
    EXPECT_EQ(driver_->tx(1).Transmit(cache, bufs.data() + 32, 32), 32);
    std::vector<Bytes> got1 = peer->Receive(32);
    got.insert(got.end(), got1.begin(), got1.end());
    EXPECT_EQ(got, sent);
    for (uint16_t q = 0; q < 2; ++q) {
      EXPECT_EQ(driver_->tx(q).counters.kicks.load(), 1u);  // one kick per burst
      EXPECT_EQ(driver_->tx(q).counters.errors.load(), 0u);
      EXPECT_EQ(driver_->tx(q).counters.drops_ring_full.load(), 0u);
    }
    // Our own transmissions never come back on our rx.
    Received r = ReceiveFrames(*driver_, rx_queues, cache, 0, 200, 200);
    EXPECT_TRUE(r.frames.empty()) << r.frames.size() << " own frames received";
    driver_.reset();
  }
}

TEST_P(AfPacketTest, FullTxRingCountsDrops) {
  LinkUp();
  AfPacketArgs args = Args();
  args.tx_size = 8;  // 8 frames: a burst of 64 cannot all fit before the kick
  ASSERT_TRUE(Create(args).ok());
  auto peer = MakePeer();
  BufferCache cache(*pool_);
  std::vector<Buffer*> bufs;
  for (uint32_t i = 0; i < 64; ++i) bufs.push_back(MakeChain(cache, MakeFrame(100, i), 2048));
  uint16_t queued = driver_->tx(0).Transmit(cache, bufs.data(), 64);
  EXPECT_EQ(queued, 8);
  EXPECT_EQ(driver_->tx(0).counters.drops_ring_full.load(), 56u);
  EXPECT_EQ(peer->Receive(8).size(), 8u);
  // The ring frames come back once sent.
  Buffer* b = MakeChain(cache, MakeFrame(100, 100), 2048);
  EXPECT_EQ(driver_->tx(0).Transmit(cache, &b, 1), 1);
  EXPECT_EQ(peer->Receive(1).size(), 1u);
}

TEST_P(AfPacketTest, JumboFramesAreChainedBothWays) {
  LinkUp(9000);
  AfPacketArgs args = Args();
  args.offloads = false;
  ASSERT_TRUE(Create(args).ok());
  auto peer = MakePeer();
  std::vector<Bytes> sent = {MakeFrame(9014, 1), MakeFrame(4097, 2), MakeFrame(2049, 3)};
  for (const Bytes& f : sent) ASSERT_TRUE(peer->Send(f));
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, sent.size());
  ASSERT_EQ(r.frames, sent);
  EXPECT_EQ(r.segments[0], 5);  // 9014 bytes in 2048-byte buffers
  EXPECT_EQ(r.heads[0].total_length, 9014u);
  EXPECT_TRUE(r.heads[0].has_next());

  std::vector<Buffer*> bufs;
  for (const Bytes& f : sent) bufs.push_back(MakeChain(cache, f, 2048));
  EXPECT_EQ(driver_->tx(0).Transmit(cache, bufs.data(), 3), 3);
  EXPECT_EQ(peer->Receive(sent.size()), sent);
  EXPECT_EQ(driver_->tx(0).counters.drops_too_long.load(), 0u);
}

TEST_P(AfPacketTest, JumboWithOffloadsOn) {
  LinkUp(9000);
  AfPacketArgs args = Args();
  args.tx_frame_size = 2048;  // the jumbo frame takes the sendmsg path, without GSO
  ASSERT_TRUE(Create(args).ok());
  auto peer = MakePeer();
  Bytes f = MakeFrame(9014, 9);
  ASSERT_TRUE(peer->Send(f));
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, 1);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0], f);
  Buffer* b = MakeChain(cache, f, 1000);
  EXPECT_EQ(driver_->tx(0).Transmit(cache, &b, 1), 1);
  EXPECT_EQ(peer->Receive(1), std::vector<Bytes>{f});
}

TEST_P(AfPacketTest, PromiscWhileOpenOnlyAndCloseIsIdempotent) {
  LinkUp();
  EXPECT_EQ(Promiscuity(ns_, a_), 0);
  AfPacketArgs args = Args();
  args.num_rx_queues = 2;
  ASSERT_TRUE(Create(args).ok());
  EXPECT_EQ(Promiscuity(ns_, a_), 1);
  driver_->Close();
  EXPECT_EQ(Promiscuity(ns_, a_), 0);
  driver_->Close();
  BufferCache cache(*pool_);
  Buffer* bufs[4];
  EXPECT_EQ(driver_->rx(0).Receive(cache, bufs, 4), 0);
  Buffer* b = cache.AllocOne();
  EXPECT_EQ(driver_->tx(0).Transmit(cache, &b, 1), 0);  // freed, counted, no crash
  EXPECT_FALSE(driver_->Info().link_up);
}

TEST_P(AfPacketTest, InfoAndSetMac) {
  LinkUp();
  AfPacketArgs args = Args();
  args.num_tx_queues = 2;
  args.hw_addr = MacAddress{0x02, 0xfe, 0, 0, 0, 0x42};
  ASSERT_TRUE(Create(args).ok());
  DriverInfo info = driver_->Info();
  EXPECT_EQ(info.driver, "af_packet");
  EXPECT_EQ(info.host_if, a_);
  EXPECT_EQ(FormatMac(info.mac), "02:fe:00:00:00:42");
  EXPECT_EQ(info.mtu, 1500u);
  EXPECT_EQ(info.num_rx_queues, 1);
  EXPECT_EQ(info.num_tx_queues, 2);
  EXPECT_GT(info.rx_ring_size, 0u);
  EXPECT_GT(info.tx_ring_size, 0u);
  EXPECT_TRUE(info.link_up);
  std::string all;
  for (const auto& d : info.details) all += d + "\n";
  EXPECT_NE(all.find(GetParam() ? "TPACKET_V2" : "TPACKET_V3"), std::string::npos) << all;
  EXPECT_NE(all.find("qdisc bypass: on"), std::string::npos) << all;
  EXPECT_NE(all.find("vnet hdr: on"), std::string::npos) << all;
  ASSERT_TRUE(driver_->SetMac(MacAddress{0x02, 0, 0, 0, 0, 0x07}).ok());
  EXPECT_EQ(FormatMac(driver_->Info().mac), "02:00:00:00:00:07");
  // The Linux side keeps its own MAC.
  EXPECT_NE(FormatMac(driver_->Info().mac), "");
}

TEST_P(AfPacketTest, DefaultMacIsTheInterfaces) {
  ASSERT_EQ(Shell(fmt::format("ip -n {} link set {} address 02:aa:bb:cc:dd:ee", ns_, a_)), 0);
  LinkUp();
  ASSERT_TRUE(Create(Args()).ok());
  EXPECT_EQ(FormatMac(driver_->Info().mac), "02:aa:bb:cc:dd:ee");
}

TEST_P(AfPacketTest, TooLongFramesAreCountedAndDropped) {
  LinkUp(9000);
  AfPacketArgs args = Args();
  args.offloads = false;
  args.rx_frame_size = 2048;
  args.rx_frames_per_block = 2;  // V3: 4 KiB blocks; V2: 2 KiB frames
  ASSERT_TRUE(Create(args).ok());
  auto peer = MakePeer();
  Bytes big = MakeFrame(6000, 1), small = MakeFrame(100, 2);
  ASSERT_TRUE(peer->Send(big));
  ASSERT_TRUE(peer->Send(small));
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, 1);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0], small);
  EXPECT_EQ(driver_->rx(0).counters.drops_too_long.load(), 1u);

  // Tx: longer than MTU + Ethernet + VLAN without GSO.
  Buffer* bufs[2] = {MakeChain(cache, MakeFrame(9100, 3), 2048),
                     MakeChain(cache, MakeFrame(64, 4), 2048)};
  EXPECT_EQ(driver_->tx(0).Transmit(cache, bufs, 2), 1);
  EXPECT_EQ(driver_->tx(0).counters.drops_too_long.load(), 1u);
  EXPECT_EQ(peer->Receive(1), std::vector<Bytes>{MakeFrame(64, 4)});
}

TEST_P(AfPacketTest, EmptyPoolCountsNoBufferAndReleasesRing) {
  LinkUp();
  BufferPoolConfig config;
  config.buffers = 8;
  config.allow_hugepages = false;
  auto tiny = BufferPool::Create(config);
  ASSERT_TRUE(tiny.ok());
  std::unique_ptr<BufferPool> pool = std::move(tiny).value();
  ASSERT_TRUE(Create(Args(), pool.get()).ok());
  auto peer = MakePeer();
  for (uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(peer->Send(MakeFrame(100, i)));
  {
    BufferCache cache(*pool);
    std::vector<Buffer*> held;
    auto deadline = Clock::now() + std::chrono::seconds(2);
    while (Clock::now() < deadline &&
           held.size() + driver_->rx(0).counters.drops_no_buffer.load() < 20) {
      Buffer* bufs[32];
      uint16_t n = driver_->rx(0).Receive(cache, bufs, 32);  // keep them: the pool runs dry
      held.insert(held.end(), bufs, bufs + n);
      if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_EQ(held.size(), 8u);
    EXPECT_EQ(driver_->rx(0).counters.drops_no_buffer.load(), 12u);
    cache.Free(held.data(), static_cast<uint32_t>(held.size()));
    // The ring was handed back: new frames flow again.
    ASSERT_TRUE(peer->Send(MakeFrame(100, 99)));
    Received r = ReceiveFrames(*driver_, 1, cache, 1);
    EXPECT_EQ(r.frames, std::vector<Bytes>{MakeFrame(100, 99)});
  }
  driver_.reset();
  EXPECT_EQ(pool->available(), 8u);
}

// A partial-checksum UDP frame (what a local sender on veth hands over): with offloads the
// virtio-net header describes it; without, the driver completes the checksum itself.
TEST_P(AfPacketTest, PartialChecksumOffloadsOnAndOff) {
  LinkUp();
  auto peer = MakePeer(/*vnet=*/true);
  Bytes f = MakeIpv4Frame(300, IPPROTO_UDP, 5000, 6000);
  VirtioNetHdr vh{};
  vh.flags = kVnetFlagNeedsCsum;
  vh.csum_start = 34;
  vh.csum_offset = 6;
  for (bool offloads : {true, false}) {
    SCOPED_TRACE(offloads ? "offloads on" : "offloads off");
    AfPacketArgs args = Args();
    args.offloads = offloads;
    ASSERT_TRUE(Create(args).ok());
    ASSERT_TRUE(peer->Send(f, &vh));
    BufferCache cache(*pool_);
    Received r = ReceiveFrames(*driver_, 1, cache, 1);
    ASSERT_EQ(r.frames.size(), 1u);
    if (offloads) {
      EXPECT_EQ(r.frames[0], f);
      EXPECT_TRUE(r.heads[0].offload_flags & Buffer::kOffloadNeedsCsum);
      EXPECT_EQ(r.heads[0].csum_start, 34);
      EXPECT_EQ(r.heads[0].csum_offset, 6);
      EXPECT_EQ(r.heads[0].gso_type, 0);
    } else {
      EXPECT_TRUE(L4ChecksumValid(r.frames[0]));
      Bytes want = f;
      want[40] = r.frames[0][40];
      want[41] = r.frames[0][41];
      EXPECT_EQ(r.frames[0], want);
    }
    // Back out: with offloads the header goes along; without, tx completes the checksum.
    Buffer* b = MakeChain(cache, f, 2048);
    b->offload_flags = Buffer::kOffloadNeedsCsum;
    b->csum_start = 34;
    b->csum_offset = 6;
    std::vector<VirtioNetHdr> hdrs;
    EXPECT_EQ(driver_->tx(0).Transmit(cache, &b, 1), 1);
    std::vector<Bytes> got = peer->Receive(1, 2000, 50, &hdrs);
    ASSERT_EQ(got.size(), 1u);
    if (offloads) {
      EXPECT_TRUE(hdrs[0].flags & kVnetFlagNeedsCsum);
      EXPECT_EQ(hdrs[0].csum_start, 34);
      EXPECT_EQ(got[0], f);
    } else {
      EXPECT_TRUE(L4ChecksumValid(got[0]));
    }
    driver_.reset();
  }
}

// A 30 KB TCP GSO super-frame: received whole (a chain) with its GSO fields, and sent back
// whole with them (the sendmsg path: larger than a tx ring frame).
TEST_P(AfPacketTest, GsoSuperFramePassesThrough) {
  LinkUp();
  ASSERT_TRUE(Create(Args()).ok());
  auto peer = MakePeer(/*vnet=*/true);
  Bytes f = MakeIpv4Frame(30014, IPPROTO_TCP, 40000, 80);
  VirtioNetHdr vh{};
  vh.flags = kVnetFlagNeedsCsum;
  vh.gso_type = kVnetGsoTcpV4;
  vh.gso_size = 1448;
  vh.hdr_len = 54;
  vh.csum_start = 34;
  vh.csum_offset = 16;
  ASSERT_TRUE(peer->Send(f, &vh));
  BufferCache cache(*pool_);
  Received r = ReceiveFrames(*driver_, 1, cache, 1);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0], f);
  EXPECT_EQ(r.segments[0], 15);
  EXPECT_EQ(r.heads[0].gso_type, kVnetGsoTcpV4);
  EXPECT_EQ(r.heads[0].gso_size, 1448);
  EXPECT_EQ(r.heads[0].csum_start, 34);
  EXPECT_EQ(r.heads[0].csum_offset, 16);
  EXPECT_TRUE(r.heads[0].offload_flags & Buffer::kOffloadNeedsCsum);

  for (uint32_t len : {30014u, 65014u}) {
    Bytes g = MakeIpv4Frame(len, IPPROTO_TCP, 40001, 80);
    Buffer* b = MakeChain(cache, g, 2048);
    b->offload_flags = Buffer::kOffloadNeedsCsum;
    b->gso_type = kVnetGsoTcpV4;
    b->gso_size = 1448;
    b->csum_start = 34;
    b->csum_offset = 16;
    EXPECT_EQ(driver_->tx(0).Transmit(cache, &b, 1), 1);
    std::vector<VirtioNetHdr> hdrs;
    std::vector<Bytes> got = peer->Receive(1, 2000, 50, &hdrs);
    ASSERT_EQ(got.size(), 1u) << len;
    EXPECT_EQ(got[0], g);
    EXPECT_EQ(hdrs[0].gso_type, kVnetGsoTcpV4);
    EXPECT_EQ(hdrs[0].gso_size, 1448);
  }
  EXPECT_EQ(driver_->tx(0).counters.errors.load(), 0u);
}

TEST_P(AfPacketTest, QdiscBypassDisabledStillSends) {
  LinkUp();
  AfPacketArgs args = Args();
  args.qdisc_bypass = false;
  ASSERT_TRUE(Create(args).ok());
  auto peer = MakePeer();
  BufferCache cache(*pool_);
  Buffer* b = MakeChain(cache, MakeFrame(128, 5), 2048);
  EXPECT_EQ(driver_->tx(0).Transmit(cache, &b, 1), 1);
  EXPECT_EQ(peer->Receive(1), std::vector<Bytes>{MakeFrame(128, 5)});
  std::string all;
  for (const auto& d : driver_->Info().details) all += d + "\n";
  EXPECT_NE(all.find("qdisc bypass: off"), std::string::npos) << all;
}

INSTANTIATE_TEST_SUITE_P(Versions, AfPacketTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "V2" : "V3";
                         });

}  // namespace
}  // namespace uplinkd
