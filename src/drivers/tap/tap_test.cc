// The tap driver against the real kernel. Each test makes two namespaces: "dp" (the dataplane's,
// where the tap is created) and "host" (where its Linux side lands). Nothing touches the
// machine's own interfaces; addresses come from 198.18.0.0/15 and 2001:db8::/32.
#include "drivers/tap/tap.h"
#include "tests/common/buffer_chain.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>

#include "drivers/tap/tap_internal.h"
#ifdef UPLINKD_WITH_URING
#include "drivers/tap/uring.h"
#endif
#include "linux/netns.h"
#include "linux/test_netns.h"

namespace uplinkd {
namespace {

using testing::IpJson;
using testing::TestNetns;
using testing::UniqueName;
using testing_util::Bytes;
using testing_util::Flatten;
using testing_util::MakeChain;
using Clock = std::chrono::steady_clock;

constexpr int kTimeoutMs = 3000;
constexpr uint16_t kTestEthertype = 0x88b5;  // IEEE local experimental
const MacAddress kHostMac = {0x02, 0xaa, 0xbb, 0x00, 0x00, 0x01};
const MacAddress kEngineMac = {0x02, 0xfe, 0x00, 0x00, 0x00, 0x02};
constexpr uint8_t kHostIp[4] = {198, 18, 5, 1};
constexpr uint8_t kPeerIp[4] = {198, 18, 5, 2};  // "behind" the engine: a static neighbour

// An fd closed at scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// A socket that belongs to `ns`.
Fd SocketIn(const TestNetns& ns, int domain, int type, int protocol) {
  int fd = -1;
  Status status = RunInNetns(ns.fd(), [&] {
    fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    return fd < 0 ? ErrnoFailure("socket") : Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.message();
  return Fd(fd);
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Retries EINTR: io_uring completions run as task work, which interrupts a sleeping poll.
bool WaitFd(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  while (true) {
    int n = poll(&p, 1, RemainingMs(deadline));
    if (n >= 0 || errno != EINTR) return n == 1;
  }
}

// ---- Frame building and parsing (IPv4 only; enough for these tests) ----

uint32_t SumWords(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i < n; i += 2) sum += (p[i] << 8) | (i + 1 < n ? p[i + 1] : 0);
  return sum;
}

uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, static_cast<uint16_t>(v >> 16));
  Put16(p + 2, static_cast<uint16_t>(v));
}
uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Get32(const uint8_t* p) { return (uint32_t{Get16(p)} << 16) | Get16(p + 2); }

// Frames are grown with Append and built at their size up front: vector::insert at the end here
// trips GCC 12 -Warray-bounds false positives at -O3.
void Append(Bytes& f, const uint8_t* p, size_t n) {
  size_t at = f.size();
  f.resize(at + n);
  if (n > 0) std::memcpy(f.data() + at, p, n);
}

Bytes EthHeader(const MacAddress& dst, const MacAddress& src, uint16_t ethertype) {
  Bytes f(14);
  std::copy(dst.begin(), dst.end(), f.begin());
  std::copy(src.begin(), src.end(), f.begin() + 6);
  Put16(&f[12], ethertype);
  return f;
}

constexpr size_t kL4Offset = 14 + 20;

// Ethernet + IPv4 + `l4`, whose checksum field sits at `csum_offset`. partial: the field gets
// the pseudo-header sum, for the receiver to finish (virtio NEEDS_CSUM); else the full checksum.
Bytes Ip4Frame(const MacAddress& dst, const MacAddress& src, const uint8_t* sip, const uint8_t* dip,
               uint8_t proto, Bytes l4, size_t csum_offset, bool partial) {
  Bytes f = EthHeader(dst, src, ETH_P_IP);
  uint8_t ip[20] = {0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0};
  Put16(ip + 2, static_cast<uint16_t>(20 + l4.size()));
  std::memcpy(ip + 12, sip, 4);
  std::memcpy(ip + 16, dip, 4);
  Put16(ip + 10, static_cast<uint16_t>(~Fold(SumWords(ip, 20))));
  Append(f, ip, 20);

  uint8_t pseudo[12] = {};
  std::memcpy(pseudo, sip, 4);
  std::memcpy(pseudo + 4, dip, 4);
  pseudo[9] = proto;
  Put16(pseudo + 10, static_cast<uint16_t>(l4.size()));
  Put16(&l4[csum_offset], 0);
  uint16_t csum =
      partial ? Fold(SumWords(pseudo, 12))
              : static_cast<uint16_t>(~Fold(SumWords(l4.data(), l4.size(), SumWords(pseudo, 12))));
  Put16(&l4[csum_offset], csum);
  Append(f, l4.data(), l4.size());
  return f;
}

Bytes UdpSegment(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes l4(8 + payload.size());
  Put16(&l4[0], sport);
  Put16(&l4[2], dport);
  Put16(&l4[4], static_cast<uint16_t>(8 + payload.size()));
  std::copy(payload.begin(), payload.end(), l4.begin() + 8);
  return l4;
}

constexpr uint8_t kTcpSyn = 0x02, kTcpAck = 0x10, kTcpPsh = 0x08;

Bytes TcpSegment(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                 const Bytes& payload) {
  bool syn = flags & kTcpSyn;
  Bytes l4(syn ? 24 : 20);
  Put16(&l4[0], sport);
  Put16(&l4[2], dport);
  Put32(&l4[4], seq);
  Put32(&l4[8], ack);
  l4[12] = static_cast<uint8_t>((l4.size() / 4) << 4);
  l4[13] = flags;
  Put16(&l4[14], 65535);  // window
  if (syn) {
    l4[20] = 2;  // MSS 1460
    l4[21] = 4;
    Put16(&l4[22], 1460);
  }
  Append(l4, payload.data(), payload.size());
  return l4;
}

struct Ip4Packet {
  uint8_t proto = 0;
  uint32_t src = 0, dst = 0;
  uint16_t sport = 0, dport = 0;
  uint8_t tcp_flags = 0;
  uint32_t seq = 0;
  size_t payload_offset = 0;
};

std::optional<Ip4Packet> ParseIp4(const Bytes& f) {
  if (f.size() < kL4Offset + 8 || Get16(&f[12]) != ETH_P_IP || (f[14] >> 4) != 4) {
    return std::nullopt;
  }
  Ip4Packet p;
  p.proto = f[14 + 9];
  p.src = Get32(&f[14 + 12]);
  p.dst = Get32(&f[14 + 16]);
  size_t l4 = 14 + (f[14] & 0xf) * 4;
  p.sport = Get16(&f[l4]);
  p.dport = Get16(&f[l4 + 2]);
  p.payload_offset = l4 + 8;
  if (p.proto == IPPROTO_TCP && f.size() >= l4 + 20) {
    p.seq = Get32(&f[l4 + 4]);
    p.tcp_flags = f[l4 + 13];
    p.payload_offset = l4 + (f[l4 + 12] >> 4) * 4;
  }
  return p;
}

uint32_t Ip(const uint8_t* a) { return Get32(a); }

Bytes Pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

// ---- The fixture ----

class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dp_.ok()) << "cannot create netns " << dp_.name();
    ASSERT_TRUE(host_.ok()) << "cannot create netns " << host_.name();
    BufferPoolConfig config;
    config.buffers = 4096;
    config.allow_hugepages = false;
    Result<std::unique_ptr<BufferPool>> pool = BufferPool::Create(config);
    ASSERT_TRUE(pool.ok()) << pool.status().message();
    pool_ = std::move(pool).value();
    start_available_ = pool_->available();
    cache_ = std::make_unique<BufferCache>(*pool_);
  }

  void TearDown() override {
    if (driver_) driver_->Close();
    driver_.reset();
    cache_.reset();
    if (pool_) {
      EXPECT_EQ(pool_->available(), start_available_) << "buffers leaked";
    }
  }

  TapArgs DefaultArgs() {
    TapArgs args;
    args.id = 7;
    args.host_if_name = host_if_;
    args.host_ns = host_.name();
    args.host_mac = kHostMac;
    args.hw_addr = kEngineMac;
    args.host_ip4_addr = {"198.18.5.1/24"};
    args.uring = uring_;
    return args;
  }

  // Creates the tap from a thread inside the dp netns, as the dataplane would.
  Status Create(const TapArgs& args) {
    return RunInNetns(dp_.fd(), [&]() -> Status {
      Result<std::unique_ptr<Driver>> driver = CreateTapDriver(args, *pool_);
      if (!driver.ok()) return driver.status();
      driver_ = std::move(driver).value();
      return Status::Ok();
    });
  }

  // The driver's "io ..." detail line.
  std::string IoDetail() {
    for (const std::string& d : driver_->Info().details) {
      if (d.rfind("io ", 0) == 0) return d;
    }
    return "";
  }

  // Makes 198.18.5.2 reachable from the host side: its frames go to the engine's MAC.
  void AddPeerNeighbour() {
    ASSERT_TRUE(host_
                    .Ip(fmt::format("neigh add 198.18.5.2 lladdr {} dev {} nud permanent",
                                    FormatMac(kEngineMac), host_if_))
                    .ok());
  }

  // Receives on `queue` until `match` takes a frame (returned; the caller frees it) or the
  // timeout; every other frame (IPv6 ND, MLD, ...) is freed.
  // Receives before it waits, as a worker does: an io_uring queue's fd wakes only for reads
  // that a Receive armed.
  Buffer* WaitForFrame(uint16_t queue, const std::function<bool(const Bytes&)>& match) {
    auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
    RxQueue& rxq = driver_->rx(queue);
    Buffer* found = nullptr;
    while (found == nullptr) {
      Buffer* bufs[32];
      uint16_t n = rxq.Receive(*cache_, bufs, 32);
      for (uint16_t i = 0; i < n; ++i) {
        if (found == nullptr && match(Flatten(*pool_, bufs[i]))) {
          found = bufs[i];
        } else {
          cache_->FreeOne(bufs[i]);
        }
      }
      if (found == nullptr && n == 0 && !WaitFd(rxq.interrupt_fd(), POLLIN, deadline)) break;
    }
    return found;
  }

  // Builds a buffer (a chain when `frame` exceeds one buffer) holding `frame`.
  Buffer* MakePacket(const Bytes& frame) {
    Buffer* b = MakeChain(*cache_, frame, pool_->data_size());
    EXPECT_NE(b, nullptr);
    return b;
  }

  uint16_t Send(uint16_t queue, Buffer* b) { return driver_->tx(queue).Transmit(*cache_, &b, 1); }

  // Plays a peer that opens a TCP connection from `port` to a listener made on the host side
  // at `host_port`, with initial sequence number `seq`: handshake through the tap.
  void ConnectToHost(uint16_t host_port, uint16_t port, uint32_t seq, Fd* listener,
                     uint32_t* host_seq) {
    AddPeerNeighbour();
    *listener = SocketIn(host_, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(host_port);
    std::memcpy(&addr.sin_addr, kHostIp, 4);
    ASSERT_EQ(bind(listener->get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(listen(listener->get(), 1), 0);
    ASSERT_EQ(Send(0, MakePacket(Ip4Frame(kHostMac, kEngineMac, kPeerIp, kHostIp, IPPROTO_TCP,
                                          TcpSegment(port, host_port, seq, 0, kTcpSyn, {}), 16,
                                          false))),
              1);
    Buffer* synack = WaitForFrame(0, [&](const Bytes& f) {
      auto p = ParseIp4(f);
      return p && p->proto == IPPROTO_TCP && p->dport == port &&
             p->tcp_flags == (kTcpSyn | kTcpAck);
    });
    ASSERT_NE(synack, nullptr) << "no SYN-ACK from the host";
    *host_seq = ParseIp4(Flatten(*pool_, synack))->seq;
    cache_->FreeOne(synack);
    ASSERT_EQ(Send(0, MakePacket(Ip4Frame(
                          kHostMac, kEngineMac, kPeerIp, kHostIp, IPPROTO_TCP,
                          TcpSegment(port, host_port, seq + 1, *host_seq + 1, kTcpAck, {}), 16,
                          false))),
              1);
  }

  // The connection a host-side listener accepted (an fd of -1 after the timeout).
  static Fd Accept(const Fd& listener) {
    auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
    if (!WaitFd(listener.get(), POLLIN, deadline)) return Fd();
    return Fd(accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  }

  // Up to `want` bytes from a host-side connection, waiting up to the timeout for them.
  static Bytes Read(const Fd& conn, size_t want) {
    auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
    Bytes got;
    while (got.size() < want && WaitFd(conn.get(), POLLIN, deadline)) {
      uint8_t chunk[8192];
      ssize_t n = recv(conn.get(), chunk, std::min(sizeof(chunk), want - got.size()), 0);
      if (n <= 0) break;
      got.insert(got.end(), chunk, chunk + n);
    }
    return got;
  }

  // The interface's JSON in the host netns (null when it does not exist there).
  nlohmann::json HostLink(bool details = false) {
    Result<nlohmann::json> j = IpJson(fmt::format("-n {} {} link show dev {} 2>/dev/null",
                                                  host_.name(), details ? "-d" : "", host_if_));
    if (!j.ok() || j->empty()) return nlohmann::json();
    return (*j)[0];
  }

  bool uring_ = true;  // what DefaultArgs asks for
  TestNetns dp_{"tpd"};
  TestNetns host_{"tph"};
  std::string host_if_ = UniqueName("tht");
  std::unique_ptr<BufferPool> pool_;
  uint32_t start_available_ = 0;
  std::unique_ptr<BufferCache> cache_;
  std::unique_ptr<Driver> driver_;
};

// The tests that move frames run with each way of reading and writing.
class TapIoTest : public TapTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    uring_ = GetParam();
    TapTest::SetUp();
  }

  // Creates the tap with DefaultArgs() changed by `change`, and checks it reads and writes the
  // way the parameter says (this machine's kernel has io_uring).
  void CreateIo(const std::function<void(TapArgs&)>& change = nullptr) {
    TapArgs args = DefaultArgs();
    if (change) change(args);
    Status status = Create(args);
    ASSERT_TRUE(status.ok()) << status.message();
    EXPECT_EQ(IoDetail().rfind(uring_ ? "io io_uring" : "io readv/writev", 0), 0u) << IoDetail();
  }
};

std::string IoName(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "IoUring" : "Readv";
}

#ifdef UPLINKD_WITH_URING
INSTANTIATE_TEST_SUITE_P(Io, TapIoTest, ::testing::Values(false, true), IoName);
#else
INSTANTIATE_TEST_SUITE_P(Io, TapIoTest, ::testing::Values(false), IoName);
#endif

// ---- Argument parsing ----

TEST(TapArgsTest, ParsesVppOptions) {
  TapArgs args;
  // clang-format off
  Status status = ParseTapCreateArgs(
      {"id", "3", "host-if-name", "vpptap0", "host-ns", "/run/netns/x", "host-mac-addr",
       "02:aa:bb:cc:dd:ee", "hw-addr", "02:fe:00:00:00:09", "host-mtu-size", "9000",
       "num-rx-queues", "4", "rx-ring-size", "1024", "tx-ring-size", "512", "host-ip4-addr",
       "198.18.0.1/24", "host-ip6-addr", "2001:db8::1/64", "host-ip4-addr", "198.19.0.1/16",
       "gso", "csum-offload", "gro-coalesce", "no-uring"},
      &args);
  // clang-format on
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_TRUE(args.gro_coalesce);
  EXPECT_EQ(args.id, 3u);
  EXPECT_EQ(args.host_if_name, "vpptap0");
  EXPECT_EQ(args.host_ns, "/run/netns/x");
  EXPECT_EQ(FormatMac(*args.host_mac), "02:aa:bb:cc:dd:ee");
  EXPECT_EQ(FormatMac(*args.hw_addr), "02:fe:00:00:00:09");
  EXPECT_EQ(args.host_mtu, 9000u);
  EXPECT_EQ(args.num_rx_queues, 4);
  EXPECT_EQ(args.rx_ring_size, 1024u);
  EXPECT_EQ(args.tx_ring_size, 512u);
  EXPECT_EQ(args.host_ip4_addr, (std::vector<std::string>{"198.18.0.1/24", "198.19.0.1/16"}));
  EXPECT_EQ(args.host_ip6_addr, std::vector<std::string>{"2001:db8::1/64"});
  EXPECT_TRUE(args.host_up);
  EXPECT_FALSE(args.uring);

  TapArgs defaults;
  ASSERT_TRUE(ParseTapCreateArgs({}, &defaults).ok());
  EXPECT_FALSE(defaults.id.has_value());
  EXPECT_EQ(defaults.num_rx_queues, 1);
  EXPECT_EQ(defaults.rx_ring_size, 256u);
  EXPECT_FALSE(defaults.gro_coalesce);
  EXPECT_TRUE(defaults.uring);
  EXPECT_EQ(TapInterfaceName(3), "tap3");
}

TEST(TapArgsTest, RejectsBadWordsWithMessages) {
  struct Case {
    std::vector<std::string> words;
    std::string message;
  };
  const Case cases[] = {
      {{"frobnicate"}, "create tap: unknown option 'frobnicate'"},
      {{"id", "1", "host-if-name"}, "create tap: 'host-if-name' needs a value"},
      {{"id", "x"}, "create tap: id 'x': expected a number"},
      {{"host-if-name", "a-name-too-long-for-linux"}, "'a-name-too-long-for-linux'"},
      {{"host-mac-addr", "02:aa"}, "create tap: host-mac-addr '02:aa' is not a MAC address"},
      {{"hw-addr", "zz"}, "hw-addr 'zz' is not a MAC address"},
      {{"host-mtu-size", "20"}, "host-mtu-size '20': expected a number from 68 to 65535"},
      {{"num-rx-queues", "0"}, "num-rx-queues '0'"},
      {{"rx-ring-size", "300"}, "rx-ring-size '300' is not a power of two"},
      {{"tx-ring-size", "65536"}, "tx-ring-size '65536'"},
      {{"host-ip4-addr", "2001:db8::1/64"}, "host-ip4-addr '2001:db8::1/64' is not an IPv4"},
      {{"host-ip6-addr", "198.18.0.1/24"}, "host-ip6-addr '198.18.0.1/24' is not an IPv6"},
      {{"host-ip4-addr", "198.18.0.1/40"}, "'198.18.0.1/40'"},
  };
  for (const Case& c : cases) {
    TapArgs args;
    Status status = ParseTapCreateArgs(c.words, &args);
    EXPECT_EQ(status.code(), EINVAL) << c.message;
    EXPECT_NE(status.message().find(c.message), std::string::npos)
        << "got: " << status.message() << "\nwant: " << c.message;
  }
}

// ---- The driver ----

TEST_F(TapTest, HostSideLandsInItsNetnsConfigured) {
  TapArgs args = DefaultArgs();
  args.host_mtu = 1400;
  args.host_ip6_addr = {"2001:db8:5::1/64"};
  args.rx_ring_size = 1024;
  Status status = Create(args);
  ASSERT_TRUE(status.ok()) << status.message();

  nlohmann::json link = HostLink(/*details=*/true);
  ASSERT_FALSE(link.is_null()) << host_if_ << " missing in " << host_.name();
  EXPECT_EQ(link["address"], FormatMac(kHostMac));
  EXPECT_EQ(link["mtu"], 1400);
  EXPECT_NE(std::find(link["flags"].begin(), link["flags"].end(), "UP"), link["flags"].end());
  const nlohmann::json& tun = link["linkinfo"]["info_data"];
  EXPECT_EQ(link["linkinfo"]["info_kind"], "tun");
  EXPECT_EQ(tun["type"], "tap");
  EXPECT_EQ(tun["vnet_hdr"], true);
  EXPECT_EQ(tun["multi_queue"], true);
  EXPECT_EQ(tun["persist"], false);
  EXPECT_EQ(tun["numqueues"], 1);

  Result<nlohmann::json> addrs =
      IpJson(fmt::format("-n {} addr show dev {}", host_.name(), host_if_));
  ASSERT_TRUE(addrs.ok());
  std::vector<std::string> got;
  for (const auto& a : (*addrs)[0]["addr_info"]) {
    got.push_back(fmt::format("{}/{}", a["local"].get<std::string>(), a["prefixlen"].get<int>()));
  }
  EXPECT_NE(std::find(got.begin(), got.end(), "198.18.5.1/24"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), "2001:db8:5::1/64"), got.end());

  // Nothing is left behind in the dataplane's namespace.
  Result<nlohmann::json> dp_links = IpJson(fmt::format("-n {} link show", dp_.name()));
  ASSERT_TRUE(dp_links.ok());
  ASSERT_EQ(dp_links->size(), 1u) << dp_links->dump();
  EXPECT_EQ((*dp_links)[0]["ifname"], "lo");

  DriverInfo info = driver_->Info();
  EXPECT_EQ(info.driver, "tap");
  EXPECT_EQ(info.host_if, host_if_);
  EXPECT_EQ(info.mac, kEngineMac);
  EXPECT_EQ(info.mtu, 1400u);
  EXPECT_EQ(info.num_rx_queues, 1);
  EXPECT_EQ(info.num_tx_queues, 1);
  EXPECT_EQ(info.rx_ring_size, 1024u);
  EXPECT_EQ(info.tx_ring_size, 256u);
  EXPECT_TRUE(info.link_up);
  std::string details = fmt::format("{}", fmt::join(info.details, "\n"));
  EXPECT_NE(details.find("host-ns " + host_.name()), std::string::npos) << details;
  EXPECT_NE(details.find("host-mac-addr 02:aa:bb:00:00:01"), std::string::npos) << details;
  EXPECT_NE(details.find("tso4"), std::string::npos) << details;

  // Controls: the engine MAC is the engine's; the MTU is the host side's.
  MacAddress new_mac = {0x02, 0xfe, 0, 0, 0, 0x42};
  ASSERT_TRUE(driver_->SetMac(new_mac).ok());
  EXPECT_EQ(driver_->Info().mac, new_mac);
  Status mtu = driver_->SetMtu(1600);
  ASSERT_TRUE(mtu.ok()) << mtu.message();
  EXPECT_EQ(HostLink()["mtu"], 1600);
  EXPECT_EQ(driver_->Info().mtu, 1600u);
  EXPECT_FALSE(driver_->SetMtu(10).ok());

  // Close removes the host interface; a second Close is harmless.
  driver_->Close();
  EXPECT_TRUE(HostLink().is_null());
  driver_->Close();
  EXPECT_FALSE(driver_->Info().link_up);
}

TEST_F(TapTest, DefaultsInTheDataplaneNetns) {
  TapArgs args;
  args.id = 5;
  Status status = Create(args);
  ASSERT_TRUE(status.ok()) << status.message();
  Result<nlohmann::json> link = IpJson(fmt::format("-n {} link show dev tap5", dp_.name()));
  ASSERT_TRUE(link.ok()) << "tap5 missing in " << dp_.name();
  DriverInfo info = driver_->Info();
  EXPECT_EQ(info.host_if, "tap5");
  // A random, locally administered unicast engine MAC, VPP style.
  EXPECT_EQ(info.mac[0], 0x02);
  EXPECT_EQ(info.mac[1], 0xfe);
  // SetMtu reaches the dataplane's netns even when called from elsewhere (this thread).
  ASSERT_TRUE(driver_->SetMtu(1280).ok());
  EXPECT_EQ((*IpJson(fmt::format("-n {} link show dev tap5", dp_.name())))[0]["mtu"], 1280);
  driver_->Close();
  EXPECT_FALSE(IpJson(fmt::format("-n {} link show dev tap5 2>/dev/null", dp_.name())).ok());
}

TEST_F(TapTest, FailedCreateLeavesNothingBehind) {
  TapArgs args = DefaultArgs();
  args.host_ns = "nosuchns-uplinkd";
  Status status = Create(args);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("nosuchns-uplinkd"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("create tap tap7"), std::string::npos) << status.message();

  // The wanted name is taken in the host netns: EEXIST, naming it, and no stray tap anywhere.
  ASSERT_TRUE(
      host_.Ip(fmt::format("link add {} type veth peer name {}", host_if_, UniqueName("thp")))
          .ok());
  status = Create(DefaultArgs());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), EEXIST) << status.message();
  EXPECT_NE(status.message().find(host_if_), std::string::npos) << status.message();
  EXPECT_EQ(IpJson(fmt::format("-n {} link show", host_.name()))->size(), 3u);  // lo, the veth
  EXPECT_EQ(IpJson(fmt::format("-n {} link show", dp_.name()))->size(), 1u);    // lo

  args = DefaultArgs();
  args.num_rx_queues = 0;
  EXPECT_EQ(Create(args).code(), EINVAL);
  args = DefaultArgs();
  args.tx_ring_size = 100;
  EXPECT_EQ(Create(args).code(), EINVAL);
}

TEST_P(TapIoTest, ReceivesFramesSentByTheHost) {
  ASSERT_NO_FATAL_FAILURE(CreateIo());
  AddPeerNeighbour();
  Fd udp = SocketIn(host_, AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(7777);
  std::memcpy(&to.sin_addr, kPeerIp, 4);
  Bytes payload = Pattern(200, 1);
  ASSERT_EQ(sendto(udp.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof(to)),
            static_cast<ssize_t>(payload.size()))
      << std::strerror(errno);

  Buffer* b = WaitForFrame(0, [](const Bytes& f) {
    auto p = ParseIp4(f);
    return p && p->proto == IPPROTO_UDP && p->dport == 7777;
  });
  ASSERT_NE(b, nullptr) << "no UDP frame reached the driver";
  Bytes frame = Flatten(*pool_, b);
  EXPECT_EQ(MacAddress(*reinterpret_cast<const MacAddress*>(frame.data())), kEngineMac);
  EXPECT_EQ(MacAddress(*reinterpret_cast<const MacAddress*>(frame.data() + 6)), kHostMac);
  auto p = ParseIp4(frame);
  EXPECT_EQ(p->src, Ip(kHostIp));
  EXPECT_EQ(p->dst, Ip(kPeerIp));
  EXPECT_EQ(Bytes(frame.begin() + p->payload_offset, frame.end()), payload);
  EXPECT_FALSE(b->has_next());
  EXPECT_EQ(b->total_length, kL4Offset + 8 + payload.size());
  EXPECT_EQ(b->length, b->total_length);
  // TUN_F_CSUM lets the host leave the UDP checksum to us.
  EXPECT_TRUE(b->offload_flags & Buffer::kOffloadNeedsCsum);
  EXPECT_EQ(b->csum_start, kL4Offset);
  EXPECT_EQ(b->csum_offset, 6);
  EXPECT_EQ(b->gso_type, 0);
  cache_->FreeOne(b);
  EXPECT_EQ(driver_->rx(0).counters.errors.load(), 0u);
}

TEST_P(TapIoTest, TransmitsFramesToTheHost) {
  ASSERT_NO_FATAL_FAILURE(CreateIo());
  // A raw socket on the host side sees what the driver writes.
  Fd raw = SocketIn(host_, AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  ASSERT_GE(raw.get(), 0);
  int ifindex = 0;
  ASSERT_TRUE(RunInNetns(host_.fd(), [&] {
                ifindex = static_cast<int>(if_nametoindex(host_if_.c_str()));
                return Status::Ok();
              }).ok());
  ASSERT_GT(ifindex, 0);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  ASSERT_EQ(bind(raw.get(), reinterpret_cast<sockaddr*>(&sll), sizeof(sll)), 0);

  // One small frame, and one spread over a chain of two buffers (written with one writev).
  for (size_t size : {size_t{100}, size_t{3000}}) {
    Bytes frame = EthHeader(kHostMac, kEngineMac, kTestEthertype);
    Bytes body = Pattern(size - frame.size(), static_cast<uint8_t>(size));
    Append(frame, body.data(), body.size());
    Buffer* b = MakePacket(frame);
    EXPECT_EQ(b->has_next(), size > pool_->data_size());
    ASSERT_EQ(Send(0, b), 1);

    auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
    bool seen = false;
    Bytes got(70000);
    while (!seen && WaitFd(raw.get(), POLLIN, deadline)) {
      ssize_t n = recv(raw.get(), got.data(), got.size(), 0);
      if (n == static_cast<ssize_t>(frame.size()) &&
          std::equal(frame.begin(), frame.end(), got.begin())) {
        seen = true;
      }
    }
    EXPECT_TRUE(seen) << "frame of " << size << " bytes not seen on the host side";
  }

  // A UDP datagram with a partial checksum (NEEDS_CSUM) reaches a host UDP socket.
  Fd udp = SocketIn(host_, AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(7778);
  std::memcpy(&addr.sin_addr, kHostIp, 4);
  ASSERT_EQ(bind(udp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
      << std::strerror(errno);
  Bytes payload = Pattern(300, 9);
  Buffer* b = MakePacket(Ip4Frame(kHostMac, kEngineMac, kPeerIp, kHostIp, IPPROTO_UDP,
                                  UdpSegment(4444, 7778, payload), 6, /*partial=*/true));
  b->offload_flags = Buffer::kOffloadNeedsCsum;
  b->csum_start = kL4Offset;
  b->csum_offset = 6;
  ASSERT_EQ(Send(0, b), 1);
  auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
  ASSERT_TRUE(WaitFd(udp.get(), POLLIN, deadline)) << "UDP datagram not delivered";
  Bytes got(2000);
  ssize_t n = recv(udp.get(), got.data(), got.size(), 0);
  ASSERT_EQ(n, static_cast<ssize_t>(payload.size()));
  got.resize(static_cast<size_t>(n));
  EXPECT_EQ(got, payload);

  const QueueCounters& c = driver_->tx(0).counters;
  EXPECT_EQ(c.kicks.load(), 3u);
  EXPECT_EQ(c.errors.load(), 0u);
  EXPECT_EQ(c.drops_ring_full.load(), 0u);
}

// The host's TCP hands us a TSO super-frame: one chain with gso_type/gso_size set.
TEST_P(TapIoTest, ReceivesGsoSuperFramesFromHostTcp) {
  ASSERT_NO_FATAL_FAILURE(CreateIo());
  AddPeerNeighbour();
  Fd tcp = SocketIn(host_, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(5001);
  std::memcpy(&to.sin_addr, kPeerIp, 4);
  ASSERT_NE(connect(tcp.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  ASSERT_EQ(errno, EINPROGRESS);

  // Play the peer: answer the SYN.
  Buffer* syn = WaitForFrame(0, [](const Bytes& f) {
    auto p = ParseIp4(f);
    return p && p->proto == IPPROTO_TCP && p->dport == 5001 && p->tcp_flags == kTcpSyn;
  });
  ASSERT_NE(syn, nullptr) << "no SYN from the host";
  Ip4Packet s = *ParseIp4(Flatten(*pool_, syn));
  cache_->FreeOne(syn);
  const uint32_t peer_seq = 100000;
  ASSERT_EQ(Send(0, MakePacket(Ip4Frame(
                        kHostMac, kEngineMac, kPeerIp, kHostIp, IPPROTO_TCP,
                        TcpSegment(5001, s.sport, peer_seq, s.seq + 1, kTcpSyn | kTcpAck, {}), 16,
                        false))),
            1);
  auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
  ASSERT_TRUE(WaitFd(tcp.get(), POLLOUT, deadline)) << "handshake did not complete";
  int err = -1;
  socklen_t len = sizeof(err);
  ASSERT_EQ(getsockopt(tcp.get(), SOL_SOCKET, SO_ERROR, &err, &len), 0);
  ASSERT_EQ(err, 0) << std::strerror(err);

  Bytes data = Pattern(30000, 3);
  ASSERT_GT(send(tcp.get(), data.data(), data.size(), 0), 10000);
  Buffer* gso = WaitForFrame(0, [&](const Bytes& f) {
    auto p = ParseIp4(f);
    return p && p->proto == IPPROTO_TCP && p->dport == 5001 && f.size() > 1514;
  });
  ASSERT_NE(gso, nullptr) << "no GSO super-frame from the host";
  EXPECT_EQ(gso->gso_type, kGsoTcpV4);
  EXPECT_EQ(gso->gso_size, 1460);
  EXPECT_TRUE(gso->offload_flags & Buffer::kOffloadNeedsCsum);
  EXPECT_EQ(gso->csum_start, kL4Offset);
  EXPECT_EQ(gso->csum_offset, 16);
  EXPECT_GT(gso->total_length, pool_->data_size());
  EXPECT_TRUE(gso->has_next());
  uint32_t sum = 0, segments = 0;
  for (const Buffer* seg = gso;; seg = pool_->FromIndex(seg->next)) {
    sum += seg->length;
    ++segments;
    if (!seg->has_next()) break;
  }
  EXPECT_EQ(sum, gso->total_length);
  EXPECT_EQ(segments, (gso->total_length + pool_->data_size() - 1) / pool_->data_size());
  Bytes frame = Flatten(*pool_, gso);
  Ip4Packet p = *ParseIp4(frame);
  EXPECT_EQ(p.seq, s.seq + 1);
  EXPECT_TRUE(std::equal(frame.begin() + p.payload_offset, frame.end(), data.begin()));
  cache_->FreeOne(gso);
}

// We hand the host a TSO super-frame (a chain with gso_type/gso_size); its TCP gets it all.
TEST_P(TapIoTest, TransmitsGsoSuperFramesToHostTcp) {
  ASSERT_NO_FATAL_FAILURE(CreateIo());
  const uint32_t seq = 5000;
  const uint16_t port = 40000;
  Fd listener;
  uint32_t host_seq = 0;
  ASSERT_NO_FATAL_FAILURE(ConnectToHost(5002, port, seq, &listener, &host_seq));

  Bytes data = Pattern(4000, 5);
  Buffer* b = MakePacket(
      Ip4Frame(kHostMac, kEngineMac, kPeerIp, kHostIp, IPPROTO_TCP,
               TcpSegment(port, 5002, seq + 1, host_seq + 1, kTcpAck | kTcpPsh, data), 16, true));
  ASSERT_TRUE(b->has_next());
  b->offload_flags = Buffer::kOffloadNeedsCsum;
  b->csum_start = kL4Offset;
  b->csum_offset = 16;
  b->gso_type = kGsoTcpV4;
  b->gso_size = 1000;
  ASSERT_EQ(Send(0, b), 1);

  Fd conn = Accept(listener);
  ASSERT_GE(conn.get(), 0) << "no connection accepted";
  EXPECT_EQ(Read(conn, data.size()), data);
  EXPECT_EQ(driver_->tx(0).counters.errors.load(), 0u);
}

// gro-coalesce: a burst of wire-sized segments (as af_xdp hands them over, checksums complete
// and unverified) reaches the host's TCP as GRO super-frames, one write per run of segments. A
// corrupted segment is written alone: the host's TCP drops it (bad checksum) and gets the rest
// only once it comes again.
TEST_P(TapIoTest, CoalescesTcpSegmentsIntoSuperFrames) {
  ASSERT_NO_FATAL_FAILURE(CreateIo([](TapArgs& args) { args.gro_coalesce = true; }));
  EXPECT_NE(fmt::format("{}", fmt::join(driver_->Info().details, "\n")).find("gro-coalesce"),
            std::string::npos);
  const uint32_t seq = 7000;
  const uint16_t port = 40001;
  Fd listener;
  uint32_t host_seq = 0;
  ASSERT_NO_FATAL_FAILURE(ConnectToHost(5003, port, seq, &listener, &host_seq));
  Fd conn = Accept(listener);
  ASSERT_GE(conn.get(), 0) << "no connection accepted";

  constexpr uint16_t kSegments = 20;
  constexpr size_t kMss = 1000;
  const Bytes data = Pattern(kSegments * kMss, 11);
  auto segment = [&](uint16_t k) {
    Bytes payload(data.begin() + static_cast<long>(k * kMss),
                  data.begin() + static_cast<long>((k + 1) * kMss));
    return Ip4Frame(kHostMac, kEngineMac, kPeerIp, kHostIp, IPPROTO_TCP,
                    TcpSegment(port, 5003, static_cast<uint32_t>(seq + 1 + k * kMss),
                               host_seq + 1, kTcpAck, payload),
                    16, false);
  };
  const QueueCounters& c = driver_->tx(0).counters;
  const uint64_t kicks = c.kicks.load();

  // One burst, segment 12 corrupted on the way: 0..11 and 13..19 become super-frames.
  Buffer* burst[kSegments];
  for (uint16_t k = 0; k < kSegments; ++k) {
    Bytes f = segment(k);
    if (k == 12) f[f.size() - 10] ^= 0x20;
    burst[k] = MakePacket(f);
  }
  EXPECT_EQ(driver_->tx(0).Transmit(*cache_, burst, kSegments), kSegments);
  // Three frames: three writev, or three writes in one io_uring submit.
  EXPECT_EQ(c.kicks.load() - kicks, uring_ ? 1u : 3u);
  EXPECT_EQ(c.gro_merged.load(), kSegments - 3u);
  EXPECT_EQ(Read(conn, 12 * kMss), Bytes(data.begin(), data.begin() + 12 * kMss));

  // The host took 13..19 out of order and waits for 12; it comes again, intact.
  ASSERT_EQ(Send(0, MakePacket(segment(12))), 1);
  EXPECT_EQ(Read(conn, 8 * kMss), Bytes(data.begin() + 12 * kMss, data.end()));
  EXPECT_EQ(c.errors.load(), 0u);
}

TEST_P(TapIoTest, TwoQueues) {
  ASSERT_NO_FATAL_FAILURE(CreateIo([](TapArgs& args) { args.num_rx_queues = 2; }));
  EXPECT_EQ(HostLink(true)["linkinfo"]["info_data"]["numqueues"], 2);
  DriverInfo info = driver_->Info();
  EXPECT_EQ(info.num_rx_queues, 2);
  EXPECT_EQ(info.num_tx_queues, 2);
  EXPECT_NE(driver_->rx(0).interrupt_fd(), driver_->rx(1).interrupt_fd());
  AddPeerNeighbour();

  // 32 flows from the host; tun spreads them over the queues by flow hash.
  constexpr int kFlows = 32;
  std::vector<Fd> sockets;
  for (int i = 0; i < kFlows; ++i) {
    sockets.push_back(SocketIn(host_, AF_INET, SOCK_DGRAM, 0));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(7000);
    std::memcpy(&to.sin_addr, kPeerIp, 4);
    uint8_t byte = static_cast<uint8_t>(i);
    ASSERT_EQ(
        sendto(sockets.back().get(), &byte, 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 1);
  }
  int per_queue[2] = {0, 0};
  auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
  bool first = true;  // receive before the first wait, which arms an io_uring queue's reads
  while (per_queue[0] + per_queue[1] < kFlows && RemainingMs(deadline) > 0) {
    pollfd fds[2] = {{driver_->rx(0).interrupt_fd(), POLLIN, 0},
                     {driver_->rx(1).interrupt_fd(), POLLIN, 0}};
    if (!first && poll(fds, 2, RemainingMs(deadline)) < 0 && errno != EINTR) break;
    first = false;
    for (uint16_t q = 0; q < 2; ++q) {
      Buffer* bufs[32];
      uint16_t n = driver_->rx(q).Receive(*cache_, bufs, 32);
      for (uint16_t i = 0; i < n; ++i) {
        auto p = ParseIp4(Flatten(*pool_, bufs[i]));
        if (p && p->proto == IPPROTO_UDP && p->dport == 7000) ++per_queue[q];
      }
      cache_->Free(bufs, n);
    }
  }
  EXPECT_EQ(per_queue[0] + per_queue[1], kFlows);
  EXPECT_GT(per_queue[0], 0) << "queue 0 got nothing";
  EXPECT_GT(per_queue[1], 0) << "queue 1 got nothing";

  // Queue 1 transmits too.
  Fd udp = SocketIn(host_, AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(7779);
  std::memcpy(&addr.sin_addr, kHostIp, 4);
  ASSERT_EQ(bind(udp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  Bytes payload = Pattern(64, 2);
  ASSERT_EQ(Send(1, MakePacket(Ip4Frame(kHostMac, kEngineMac, kPeerIp, kHostIp, IPPROTO_UDP,
                                        UdpSegment(4445, 7779, payload), 6, false))),
            1);
  deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
  ASSERT_TRUE(WaitFd(udp.get(), POLLIN, deadline));
  uint8_t got[128];
  EXPECT_EQ(recv(udp.get(), got, sizeof(got), 0), static_cast<ssize_t>(payload.size()));

  driver_->Close();
  EXPECT_TRUE(HostLink().is_null());
}

TEST_P(TapIoTest, CountsDropsAndFreesEverything) {
  ASSERT_NO_FATAL_FAILURE(CreateIo());
  // A chain longer than any frame: counted as too long, freed, not written.
  Bytes big(kTapMaxSegments * pool_->data_size() + 1, 0xab);
  std::memcpy(big.data(), kHostMac.data(), 6);
  Buffer* b = MakePacket(big);
  EXPECT_EQ(Send(0, b), 0);
  EXPECT_EQ(driver_->tx(0).counters.drops_too_long.load(), 1u);
  // A frame too short for Ethernet: tun refuses it, an error.
  Buffer* tiny = MakePacket(Bytes(4, 0));
  EXPECT_EQ(Send(0, tiny), 0);
  EXPECT_EQ(driver_->tx(0).counters.errors.load(), 1u);
  // Whatever the host sent meanwhile (IPv6 ND, MLD) is received and freed.
  Buffer* out[8];
  cache_->Free(out, driver_->rx(0).Receive(*cache_, out, 8));
  // After Close the queues fail softly instead of touching a reused fd number.
  driver_->Close();
  EXPECT_EQ(driver_->rx(0).Receive(*cache_, out, 8), 0);
  EXPECT_EQ(Send(0, MakePacket(Bytes(64, 1))), 0);
}


// A burst of frames: all queued, all freed once written (before Transmit returns: tun completes
// writes inline), a failed one counted and not reported sent. io_uring: one kick for the burst.
TEST_P(TapIoTest, TransmitsABurstAndFreesEveryBuffer) {
  ASSERT_NO_FATAL_FAILURE(CreateIo());
  constexpr uint16_t kFrames = 40;
  std::vector<Buffer*> burst;
  for (uint16_t i = 0; i < kFrames; ++i) {
    Bytes frame = EthHeader(kHostMac, kEngineMac, kTestEthertype);
    Bytes body = Pattern(i % 2 ? 1400 : 3000, static_cast<uint8_t>(i));  // 3000: a chain
    Append(frame, body.data(), body.size());
    burst.push_back(MakePacket(frame));
  }
  burst.push_back(MakePacket(Bytes(4, 0)));  // too short: tun refuses it
  uint32_t before = pool_->available();
  uint16_t n = static_cast<uint16_t>(burst.size());
  EXPECT_EQ(driver_->tx(0).Transmit(*cache_, burst.data(), n), kFrames);
  EXPECT_EQ(pool_->available(), before + kFrames + kFrames / 2 + 1) << "a frame's buffers kept";
  const QueueCounters& c = driver_->tx(0).counters;
  EXPECT_EQ(c.errors.load(), 1u);
  EXPECT_EQ(c.kicks.load(), uring_ ? 1u : kFrames + 1u);
#ifdef UPLINKD_WITH_URING
  if (uring_) {
    auto& q = dynamic_cast<TapUringTxQueue&>(driver_->tx(0));
    EXPECT_EQ(q.writer().writes_in_flight(), 0u);
  }
#endif
}

// ---- How the tap reads and writes ----

#ifdef UPLINKD_WITH_URING

// Runs `fn` in a thread of its own whose io_uring_setup fails with `err`, as on a kernel
// without io_uring (ENOSYS) or with kernel.io_uring_disabled=2 (EPERM). Not the sysctl itself:
// it would change the machine for everyone.
void WithoutIoUring(int err, const std::function<void()>& fn) {
  std::thread t([&] {
    const uint32_t ret_err = SECCOMP_RET_ERRNO | (static_cast<uint32_t>(err) & SECCOMP_RET_DATA);
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, ret_err),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
    ASSERT_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0) << std::strerror(errno);
    ASSERT_EQ(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0) << std::strerror(errno);
    fn();
  });
  t.join();
}

TEST_F(TapTest, FallsBackToReadvWhenIoUringIsUnavailable) {
  for (int err : {EPERM, ENOSYS}) {
    Status status;
    WithoutIoUring(err, [&] { status = Create(DefaultArgs()); });
    ASSERT_TRUE(status.ok()) << status.message();
    std::string io = IoDetail();
    EXPECT_EQ(io.rfind("io readv/writev (io_uring: io_uring_setup: ", 0), 0u) << io;
    EXPECT_NE(io.find(std::strerror(err)), std::string::npos) << io;
    // And it moves frames.
    Bytes frame = EthHeader(kHostMac, kEngineMac, kTestEthertype);
    Append(frame, Pattern(100, 1).data(), 100);
    EXPECT_EQ(Send(0, MakePacket(frame)), 1);
    EXPECT_EQ(driver_->tx(0).counters.kicks.load(), 1u);
    EXPECT_EQ(dynamic_cast<TapPlainRxQueue*>(&driver_->rx(0)) != nullptr, true);
    driver_->Close();
    driver_.reset();
  }
}

TEST_F(TapTest, NoUringOptionAndEnvironmentChooseReadv) {
  TapArgs args = DefaultArgs();
  ASSERT_TRUE(Create(args).ok());
  EXPECT_EQ(IoDetail(), "io io_uring coop-taskrun (16 reads in flight per queue)");
  driver_->Close();

  args.uring = false;
  ASSERT_TRUE(Create(args).ok());
  EXPECT_EQ(IoDetail(), "io readv/writev (no-uring)");
  driver_->Close();

  args.uring = true;
  setenv(kTapNoUringEnv, "1", 1);
  Status status = Create(args);
  unsetenv(kTapNoUringEnv);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(IoDetail(), fmt::format("io readv/writev ({} is set)", kTapNoUringEnv));
  driver_->Close();

  // Reads hold a frame's worth of buffers each: too many queues for this pool's quarter.
  args.num_rx_queues = 16;
  ASSERT_TRUE(Create(args).ok());
  EXPECT_EQ(IoDetail().rfind("io readv/writev (io_uring: 4096 buffers are too few", 0), 0u)
      << IoDetail();
}

// Reads in flight hold buffers; Close ends them and every buffer returns to the pool, whether
// frames landed in them or not, and whether the thread that armed them is gone or still alive
// (a worker that had the queue), the cancelled reads ending in its task work.
TEST_F(TapTest, CloseWithReadsInFlightReturnsEveryBuffer) {
  TapArgs args = DefaultArgs();
  args.num_rx_queues = 2;
  ASSERT_TRUE(Create(args).ok());
  ASSERT_EQ(IoDetail().rfind("io io_uring", 0), 0u) << IoDetail();
  AddPeerNeighbour();
  const uint32_t per_read = TapMaxSegments(pool_->data_size());
  auto& q0 = dynamic_cast<TapUringRxQueue&>(driver_->rx(0));
  auto& q1 = dynamic_cast<TapUringRxQueue&>(driver_->rx(1));

  // Queue 0: armed by a thread that is gone by the time of Close.
  std::thread([&] {
    BufferCache cache(*pool_);
    Buffer* out[32];
    cache.Free(out, q0.Receive(cache, out, 32));
  }).join();
  // Queue 1: armed by a thread that sleeps until after Close.
  std::mutex mu;
  std::condition_variable cv;
  bool armed = false, closed = false;
  std::thread sleeper([&] {
    BufferCache cache(*pool_);
    Buffer* out[32];
    cache.Free(out, q1.Receive(cache, out, 32));
    std::unique_lock<std::mutex> lock(mu);
    armed = true;
    cv.notify_all();
    cv.wait(lock, [&] { return closed; });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return armed; });
  }
  // 4096 buffers, 33 a read, a quarter of the pool for two queues: 15 reads each.
  EXPECT_EQ(q0.reads_in_flight(), 15u);
  EXPECT_EQ(q1.reads_in_flight(), 15u);
  EXPECT_LE(pool_->available(), start_available_ - 2 * 15 * per_read);

  // Frames land in some of the reads, and nobody takes them.
  Fd udp = SocketIn(host_, AF_INET, SOCK_DGRAM, 0);
  for (int i = 0; i < 8; ++i) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(7100 + i));  // flows over both queues
    std::memcpy(&to.sin_addr, kPeerIp, 4);
    Bytes payload = Pattern(1000, static_cast<uint8_t>(i));
    ASSERT_EQ(sendto(udp.get(), payload.data(), payload.size(), 0,
                     reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              1000);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  auto t0 = Clock::now();
  driver_->Close();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1)) << "Close waited for the reads";
  {
    std::lock_guard<std::mutex> lock(mu);
    closed = true;
  }
  cv.notify_all();
  sleeper.join();
  EXPECT_EQ(q0.reads_in_flight(), 0u);
  EXPECT_EQ(q1.reads_in_flight(), 0u);
  EXPECT_EQ(pool_->available(), start_available_) << "buffers leaked";
  EXPECT_TRUE(HostLink().is_null());
  Buffer* out[8];
  EXPECT_EQ(q0.Receive(*cache_, out, 8), 0);
}

#endif  // UPLINKD_WITH_URING

}  // namespace
}  // namespace uplinkd
