// Checksum completion and TCP segmentation on buffer chains, checked against an independent
// reading of the frames they produce.

#include <gtest/gtest.h>

#include <netinet/in.h>

#include <memory>
#include <numeric>
#include <vector>

#include "buffer/buffer_pool.h"
#include "offload/checksum.h"
#include "offload/gso.h"
#include "tests/common/buffer_chain.h"

namespace uplinkd::offload {
namespace {

using testing_util::Bytes;
using testing_util::Flatten;
using testing_util::MakeChain;

uint16_t Get16(const Bytes& b, size_t at) { return static_cast<uint16_t>(b[at] << 8 | b[at + 1]); }
uint32_t Get32(const Bytes& b, size_t at) {
  return static_cast<uint32_t>(Get16(b, at)) << 16 | Get16(b, at + 2);
}
void Put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

// A TCP frame: Ethernet (with `vlans` 802.1Q tags), IPv4 or IPv6, a TCP header with 12 bytes of
// options, then `payload`. Lengths are those of the whole (super-)frame; checksums left 0.
struct TcpFrame {
  Bytes bytes;
  size_t l3 = 0, l4 = 0, hdr_len = 0;
};
TcpFrame MakeTcpFrame(bool v4, int vlans, const Bytes& payload, uint8_t flags) {
  TcpFrame t;
  Bytes& b = t.bytes;
  b = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  for (int i = 0; i < vlans; ++i) b.insert(b.end(), {0x81, 0x00, 0x00, static_cast<uint8_t>(10 + i)});
  b.insert(b.end(), {static_cast<uint8_t>(v4 ? 0x08 : 0x86), static_cast<uint8_t>(v4 ? 0x00 : 0xdd)});
  t.l3 = b.size();
  const size_t tcp_len = 32 + payload.size();
  if (v4) {
    Bytes ip = {0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, IPPROTO_TCP, 0, 0,
                198, 18, 0, 1, 198, 19, 0, 2};
    b.insert(b.end(), ip.begin(), ip.end());
    Put16(b, t.l3 + 2, static_cast<uint16_t>(20 + tcp_len));
  } else {
    Bytes ip(40, 0);
    ip[0] = 0x60;
    ip[6] = IPPROTO_TCP;
    ip[7] = 64;
    Bytes src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    Bytes dst = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    std::copy(src.begin(), src.end(), ip.begin() + 8);
    std::copy(dst.begin(), dst.end(), ip.begin() + 24);
    b.insert(b.end(), ip.begin(), ip.end());
    Put16(b, t.l3 + 4, static_cast<uint16_t>(tcp_len));
  }
  t.l4 = b.size();
  Bytes tcp(32, 0);
  tcp[0] = 0x9c;  // ports 40000 -> 5201
  tcp[1] = 0x40;
  tcp[2] = 0x14;
  tcp[3] = 0x51;
  tcp[4] = 0xff;  // sequence 0xfffffc00: segments wrap around 2^32
  tcp[5] = 0xff;
  tcp[6] = 0xfc;
  tcp[8] = 0x11;  // ack
  tcp[12] = 8 << 4;
  tcp[13] = flags;
  tcp[14] = 0xff;  // window
  tcp[20] = 1;     // NOP NOP timestamps
  tcp[21] = 1;
  tcp[22] = 8;
  tcp[23] = 10;
  b.insert(b.end(), tcp.begin(), tcp.end());
  t.hdr_len = b.size();
  b.insert(b.end(), payload.begin(), payload.end());
  return t;
}

Bytes Pattern(size_t n) {
  Bytes p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return p;
}

// Ones-complement sum over a byte range, folded (independent of the code under test).
uint32_t Sum(const Bytes& b, size_t from, size_t to, uint32_t sum = 0) {
  for (size_t i = from; i < to; i += 2) {
    sum += static_cast<uint32_t>(b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}
bool TcpChecksumValid(const Bytes& f, size_t l3, size_t l4, bool v4) {
  uint32_t pseudo = v4 ? Sum(f, l3 + 12, l3 + 20) : Sum(f, l3 + 8, l3 + 40);
  pseudo += IPPROTO_TCP + static_cast<uint32_t>(f.size() - l4);
  return Sum(f, l4, f.size(), pseudo) == 0xffff;
}

class OffloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = BufferPool::Create({.buffers = 2048, .data_size = 2048, .allow_hugepages = false});
    ASSERT_TRUE(pool.ok()) << pool.status().message();
    pool_ = std::move(*pool);
    cache_ = std::make_unique<BufferCache>(*pool_);
  }
  void TearDown() override {
    cache_.reset();
    EXPECT_EQ(pool_->available(), pool_->total()) << "a buffer leaked";
  }

  Buffer* SuperFrame(const TcpFrame& t, bool v4, uint16_t mss, uint32_t seg) {
    Buffer* head = MakeChain(*cache_, t.bytes, seg);
    head->gso_type = v4 ? kGsoTcpV4 : kGsoTcpV6;
    head->gso_size = mss;
    head->offload_flags = Buffer::kOffloadNeedsCsum;
    head->csum_start = static_cast<uint16_t>(t.l4);
    head->csum_offset = 16;
    head->rx_interface = 3;
    head->tx_interface = 5;
    return head;
  }

  void CheckSegments(bool v4, int vlans, size_t payload_len, uint16_t mss, uint32_t seg) {
    SCOPED_TRACE(::testing::Message() << (v4 ? "IPv4" : "IPv6") << " vlans " << vlans
                                      << " payload " << payload_len << " mss " << mss);
    const uint8_t flags = 0x80 | 0x10 | 0x08 | 0x01;  // CWR ACK PSH FIN
    Bytes payload = Pattern(payload_len);
    TcpFrame t = MakeTcpFrame(v4, vlans, payload, flags);
    Buffer* head = SuperFrame(t, v4, mss, seg);
    Buffer* out[kMaxGsoSegments];
    uint32_t n = SegmentTcp(*cache_, head, out, kMaxGsoSegments);
    const uint32_t want = static_cast<uint32_t>((payload_len + mss - 1) / mss);
    ASSERT_EQ(n, want);
    Bytes joined;
    for (uint32_t k = 0; k < n; ++k) {
      Bytes f = Flatten(*pool_, out[k]);
      size_t len = std::min<size_t>(mss, payload_len - k * mss);
      ASSERT_EQ(f.size(), t.hdr_len + len) << "segment " << k;
      EXPECT_EQ(out[k]->total_length, f.size());
      EXPECT_EQ(out[k]->gso_type, kGsoNone);
      EXPECT_EQ(out[k]->offload_flags & Buffer::kOffloadNeedsCsum, 0);
      EXPECT_EQ(out[k]->tx_interface, 5u);
      if (v4) {
        EXPECT_EQ(Get16(f, t.l3 + 2), f.size() - t.l3);
        EXPECT_EQ(Get16(f, t.l3 + 4), 0x1234 + k);
        EXPECT_EQ(Sum(f, t.l3, t.l3 + 20), 0xffff) << "IPv4 header checksum, segment " << k;
      } else {
        EXPECT_EQ(Get16(f, t.l3 + 4), f.size() - t.l3 - 40);
      }
      EXPECT_EQ(Get32(f, t.l4 + 4), 0xfffffc00u + k * mss) << "sequence, segment " << k;
      uint8_t want_flags = 0x10;
      if (k == 0) want_flags |= 0x80;
      if (k + 1 == n) want_flags |= 0x08 | 0x01;
      EXPECT_EQ(f[t.l4 + 13], want_flags) << "segment " << k;
      EXPECT_TRUE(TcpChecksumValid(f, t.l3, t.l4, v4)) << "TCP checksum, segment " << k;
      // Headers other than lengths, ids, sequence, flags and checksums are copied as they were.
      EXPECT_TRUE(std::equal(f.begin(), f.begin() + t.l3, t.bytes.begin()));
      EXPECT_TRUE(std::equal(f.begin() + t.l4 + 20, f.begin() + t.hdr_len,
                             t.bytes.begin() + t.l4 + 20));
      joined.insert(joined.end(), f.begin() + t.hdr_len, f.end());
    }
    EXPECT_EQ(joined, payload);
    cache_->Free(out, n);
    cache_->FreeOne(head);
  }

  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<BufferCache> cache_;
};

TEST_F(OffloadTest, SegmentsTcpV4SuperFrame) { CheckSegments(true, 0, 64000, 1448, 2048); }
TEST_F(OffloadTest, SegmentsTcpV6SuperFrame) { CheckSegments(false, 0, 64000, 1428, 2048); }
TEST_F(OffloadTest, SegmentsVlanTaggedFrames) { CheckSegments(true, 2, 9000, 1448, 2048); }
// Source chains cut at odd places, and segments larger than one buffer (jumbo MSS) built as
// chains themselves.
TEST_F(OffloadTest, SegmentsOddChainsAndJumboMss) {
  CheckSegments(true, 0, 30001, 1448, 777);
  CheckSegments(false, 1, 40000, 8940, 1999);
}
TEST_F(OffloadTest, PayloadShorterThanMssGivesOneFrame) { CheckSegments(true, 0, 100, 1448, 2048); }

TEST_F(OffloadTest, RefusesWhatItCannotSegment) {
  Buffer* out[kMaxGsoSegments];
  // gso_type says IPv4, the frame is IPv6.
  TcpFrame v6 = MakeTcpFrame(false, 0, Pattern(5000), 0x10);
  Buffer* head = SuperFrame(v6, true, 1448, 2048);
  EXPECT_EQ(SegmentTcp(*cache_, head, out, kMaxGsoSegments), 0u);
  // No MSS.
  head->gso_type = kGsoTcpV6;
  head->gso_size = 0;
  EXPECT_EQ(SegmentTcp(*cache_, head, out, kMaxGsoSegments), 0u);
  // More frames than the caller has room for.
  head->gso_size = 1000;
  EXPECT_EQ(SegmentTcp(*cache_, head, out, 4), 0u);
  // UDP GSO is not TCP.
  head->gso_type = kGsoUdpL4;
  EXPECT_EQ(SegmentTcp(*cache_, head, out, kMaxGsoSegments), 0u);
  cache_->FreeOne(head);
  // Headers not in the first buffer.
  TcpFrame v4 = MakeTcpFrame(true, 0, Pattern(5000), 0x10);
  head = SuperFrame(v4, true, 1448, 40);
  EXPECT_EQ(SegmentTcp(*cache_, head, out, kMaxGsoSegments), 0u);
  cache_->FreeOne(head);
}

TEST_F(OffloadTest, PoolRunningDryLeaksNothing) {
  TcpFrame t = MakeTcpFrame(true, 0, Pattern(64000), 0x10);
  Buffer* head = SuperFrame(t, true, 536, 2048);
  // Hold all but a few buffers, so segmentation runs out half-way.
  std::vector<Buffer*> held;
  while (Buffer* b = cache_->AllocOne()) held.push_back(b);
  for (int i = 0; i < 20; ++i) {
    cache_->FreeOne(held.back());
    held.pop_back();
  }
  uint32_t before = pool_->available();
  Buffer* out[kMaxGsoSegments];
  EXPECT_EQ(SegmentTcp(*cache_, head, out, kMaxGsoSegments), 0u);
  EXPECT_EQ(pool_->available(), before);
  cache_->Free(held.data(), static_cast<uint32_t>(held.size()));
  cache_->FreeOne(head);
}

// A partial checksum completed over a chain split at odd offsets equals the contiguous result.
TEST_F(OffloadTest, CompletesChainChecksumAcrossOddSplits) {
  TcpFrame t = MakeTcpFrame(true, 0, Pattern(3001), 0x18);
  Bytes& f = t.bytes;
  uint32_t pseudo = Sum(f, t.l3 + 12, t.l3 + 20) + IPPROTO_TCP + static_cast<uint32_t>(f.size() - t.l4);
  while (pseudo >> 16) pseudo = (pseudo & 0xffff) + (pseudo >> 16);
  Put16(f, t.l4 + 16, static_cast<uint16_t>(pseudo));
  Bytes contiguous = f;
  CompleteChecksum(contiguous.data(), static_cast<uint32_t>(contiguous.size()),
                   static_cast<uint32_t>(t.l4), 16);
  EXPECT_TRUE(TcpChecksumValid(contiguous, t.l3, t.l4, true));
  for (uint32_t seg : {2048u, 1001u, 333u, 77u}) {
    Buffer* head = MakeChain(*cache_, f, seg);
    head->offload_flags = Buffer::kOffloadNeedsCsum;
    head->csum_start = static_cast<uint16_t>(t.l4);
    head->csum_offset = 16;
    CompleteChainChecksum(*pool_, head);
    EXPECT_EQ(Flatten(*pool_, head), contiguous) << "segments of " << seg;
    EXPECT_EQ(head->offload_flags & Buffer::kOffloadNeedsCsum, 0);
    cache_->FreeOne(head);
  }
}

TEST_F(OffloadTest, FindsL4ChecksumBehindVlanTags) {
  TcpFrame t = MakeTcpFrame(false, 2, Pattern(10), 0x10);
  uint32_t start = 0, offset = 0;
  uint8_t proto = 0;
  ASSERT_TRUE(FindL4Checksum(t.bytes.data(), static_cast<uint32_t>(t.bytes.size()), &start,
                             &offset, &proto));
  EXPECT_EQ(start, t.l4);
  EXPECT_EQ(offset, 16u);
  EXPECT_EQ(proto, IPPROTO_TCP);
  EXPECT_FALSE(FindL4Checksum(t.bytes.data(), 30, &start, &offset, &proto));
}

}  // namespace
}  // namespace uplinkd::offload
