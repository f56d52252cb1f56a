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
#include "offload/pool_test_fixture.h"
#include "offload/test_frames.h"
#include "tests/common/buffer_chain.h"

namespace uplinkd::offload {
namespace {

using testing_util::Bytes;
using testing_util::Flatten;
using testing_util::MakeChain;
using namespace test;  // NOLINT(build/namespaces): the frame helpers

class OffloadTest : public PoolTest {
 protected:
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

// SumWords adds host-order words and swaps the folded result: the same as a big-endian byte
// pair walk for every length and alignment.
TEST(ChecksumTest, SumWordsMatchesABytePairWalk) {
  Bytes data = Pattern(300, 5);
  for (size_t i = 0; i < data.size(); i += 3) data[i] = 0xff;  // carries aplenty
  for (size_t from = 0; from < 8; ++from) {
    for (size_t len = 0; len + from <= data.size(); len += 1 + len / 8) {
      EXPECT_EQ(FoldSum(SumWords(data.data() + from, len)), Sum(data, from, from + len))
          << "from " << from << " len " << len;
    }
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
