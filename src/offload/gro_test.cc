// TCP coalescing: what merges and what does not, checked against an independent reading of
// the super-frames, and by segmenting them again (offload::SegmentTcp), which must give back
// the very frames that went in.

#include "offload/gro.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "buffer/buffer_pool.h"
#include "offload/checksum.h"
#include "offload/gso.h"
#include "offload/pool_test_fixture.h"
#include "offload/test_frames.h"
#include "tests/common/buffer_chain.h"

namespace uplinkd::offload {
namespace {

using testing_util::Flatten;
using testing_util::MakeChain;
using namespace test;  // NOLINT(build/namespaces): the frame helpers

constexpr uint8_t kAck = 0x10, kPsh = 0x08, kFin = 0x01, kSyn = 0x02, kRst = 0x04, kUrg = 0x20,
                  kEce = 0x40, kCwr = 0x80;

// Moves `spec` past `segments` segments holding `bytes` of payload.
void Skip(TcpSpec& spec, uint16_t segments, uint32_t bytes) {
  spec.seq += bytes;
  spec.ip_id = static_cast<uint16_t>(spec.ip_id + segments);
}

// `count` consecutive segments of one flow with `mss` bytes of payload (the last `last` bytes
// when not 0), consecutive IPv4 ids, complete checksums.
std::vector<TcpFrame> FlowSegments(TcpSpec spec, size_t count, size_t mss, size_t last = 0) {
  std::vector<TcpFrame> out;
  for (size_t k = 0; k < count; ++k) {
    size_t len = k + 1 == count && last != 0 ? last : mss;
    out.push_back(WithChecksums(MakeTcpFrame(spec, Pattern(len, static_cast<uint8_t>(k)))));
    Skip(spec, 1, static_cast<uint32_t>(len));
  }
  return out;
}

class GroTest : public PoolTest {
 protected:
  void TearDown() override {
    Reset();
    PoolTest::TearDown();
  }

  // Frees the outputs and forgets the burst, for the next one.
  void Reset() {
    cache_->Free(out_.data(), static_cast<uint32_t>(out_.size()));
    in_.clear();
    out_.clear();
    packets_.clear();
    frames_.clear();
  }

  void Add(const TcpFrame& t, uint8_t offload = 0, uint32_t seg = 2048) {
    Add(t.bytes, offload, seg);
    frames_.back() = t;
  }
  void Add(const std::vector<TcpFrame>& ts) {
    for (const TcpFrame& t : ts) Add(t);
  }
  void Add(const Bytes& bytes, uint8_t offload = 0, uint32_t seg = 2048) {
    Buffer* b = MakeChain(*cache_, bytes, seg);
    ASSERT_NE(b, nullptr);
    b->offload_flags = offload;
    in_.push_back(b);
    frames_.push_back(TcpFrame{bytes});
  }

  // Coalesces what was added.
  void Run() {
    out_.resize(in_.size());
    packets_.resize(in_.size());
    uint32_t n = CoalesceTcp(*pool_, in_.data(), static_cast<uint32_t>(in_.size()), out_.data(),
                             packets_.data(), &stats_);
    out_.resize(n);
    packets_.resize(n);
  }

  // The outputs are `groups` (input indices each, in order): single packets untouched,
  // super-frames that read right and segment back into exactly their inputs.
  void ExpectGroups(const std::vector<std::vector<size_t>>& groups) {
    ASSERT_EQ(out_.size(), groups.size());
    for (size_t k = 0; k < groups.size(); ++k) {
      SCOPED_TRACE(::testing::Message() << "output " << k);
      const std::vector<size_t>& g = groups[k];
      ASSERT_EQ(packets_[k], g.size());
      EXPECT_EQ(out_[k], in_[g[0]]) << "a super-frame is headed by its first segment";
      Bytes got = Flatten(*pool_, out_[k]);
      EXPECT_EQ(out_[k]->total_length, got.size());
      if (g.size() == 1) {
        EXPECT_EQ(got, frames_[g[0]].bytes) << "a packet left alone is unchanged";
        EXPECT_EQ(out_[k]->gso_type, kGsoNone);
        continue;
      }
      CheckSuperFrame(out_[k], got, g);
    }
  }

  void CheckSuperFrame(Buffer* head, const Bytes& got, const std::vector<size_t>& g) {
    const TcpFrame& first = frames_[g[0]];
    const size_t l3 = first.l3, l4 = first.l4, hdr = first.hdr_len;
    Bytes payload;
    for (size_t i : g) {
      const Bytes& f = frames_[i].bytes;
      payload.insert(payload.end(), f.begin() + static_cast<long>(hdr), f.end());
    }
    ASSERT_EQ(got.size(), hdr + payload.size());
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), got.begin() + static_cast<long>(hdr)));
    EXPECT_EQ(head->gso_type, first.v4 ? kGsoTcpV4 : kGsoTcpV6);
    EXPECT_EQ(head->gso_size, first.bytes.size() - hdr);
    EXPECT_EQ(head->offload_flags, Buffer::kOffloadNeedsCsum);
    EXPECT_EQ(head->csum_start, l4);
    EXPECT_EQ(head->csum_offset, 16);
    if (first.v4) {
      EXPECT_EQ(Get16(got, l3 + 2), got.size() - l3);
      EXPECT_EQ(Sum(got, l3, l4), 0xffffu) << "IPv4 header checksum";
    } else {
      EXPECT_EQ(Get16(got, l3 + 4), got.size() - l3 - 40);
    }
    EXPECT_EQ(Get16(got, l4 + 16), PseudoSum(got, l3, l4, first.v4))
        << "NEEDS_CSUM: the field holds the pseudo-header sum";
    // PSH of the last segment is kept.
    EXPECT_EQ(got[l4 + 13], kAck | (frames_[g.back()].bytes[l4 + 13] & kPsh));

    // Segmenting the super-frame gives back every input byte for byte: lengths, ids, sequence
    // numbers, flags and both checksums are recomputed from the super-frame and come out equal.
    Buffer* segs[kMaxGsoSegments];
    uint32_t n = SegmentTcp(*cache_, head, segs, kMaxGsoSegments);
    ASSERT_EQ(n, g.size());
    for (uint32_t k = 0; k < n; ++k) {
      EXPECT_EQ(Flatten(*pool_, segs[k]), frames_[g[k]].bytes) << "segment " << k;
    }
    cache_->Free(segs, n);
  }

  std::vector<Buffer*> in_, out_;
  std::vector<uint16_t> packets_;
  std::vector<TcpFrame> frames_;
  GroStats stats_;
};

TEST_F(GroTest, MergesInOrderSegmentsV4) {
  Add(FlowSegments({}, 10, 1448, 1000));
  Run();
  ExpectGroups({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}});
  EXPECT_EQ(stats_.merged, 9u);
  EXPECT_EQ(stats_.super_frames, 1u);
  EXPECT_EQ(stats_.bad_checksum, 0u);
}

TEST_F(GroTest, MergesInOrderSegmentsV6BehindVlanTags) {
  TcpSpec spec;
  spec.v4 = false;
  spec.vlans = 2;
  Add(FlowSegments(spec, 8, 1428));
  Run();
  ExpectGroups({{0, 1, 2, 3, 4, 5, 6, 7}});
}

// Segments spread over buffer chains (jumbo frames, small buffers) are linked as they are.
TEST_F(GroTest, MergesSegmentsThatAreChains) {
  std::vector<TcpFrame> s = FlowSegments({}, 5, 4000);
  for (const TcpFrame& t : s) Add(t, 0, 1500);
  Run();
  ExpectGroups({{0, 1, 2, 3, 4}});
}

// The driver's word (DATA_VALID) and a local sender's partial checksum are trusted as the
// kernel trusts them; only the others are verified.
TEST_F(GroTest, TrustsDataValidAndPartialChecksums) {
  std::vector<TcpFrame> s = FlowSegments({}, 3, 1448);
  Add(s[0]);
  TcpFrame odd = s[1];
  Put16(odd.bytes, odd.l4 + 16, 0x1234);  // wrong, but the driver checked the wire's
  Add(odd.bytes, Buffer::kOffloadDataValid);
  frames_.back() = s[1];  // segmenting computes the checksum afresh
  TcpFrame partial = s[2];
  Put16(partial.bytes, partial.l4 + 16,
        static_cast<uint16_t>(PseudoSum(partial.bytes, 14, 34, true)));
  Add(partial.bytes, Buffer::kOffloadNeedsCsum);
  in_.back()->csum_start = 34;
  in_.back()->csum_offset = 16;
  frames_.back() = s[2];
  Run();
  ExpectGroups({{0, 1, 2}});
}

TEST_F(GroTest, ShortSegmentAndPshEndTheAggregate) {
  TcpSpec spec;
  std::vector<TcpFrame> a = FlowSegments(spec, 3, 1448, 500);  // 1448 1448 500
  Skip(spec, 3, 2 * 1448 + 500);
  std::vector<TcpFrame> b = FlowSegments(spec, 3, 1448);
  Skip(spec, 3, 3 * 1448);
  spec.flags = kAck | kPsh;
  b.push_back(WithChecksums(MakeTcpFrame(spec, Pattern(1448, 9))));  // PSH: merged, then ends
  Skip(spec, 1, 1448);
  spec.flags = kAck;
  std::vector<TcpFrame> c = FlowSegments(spec, 2, 1448);
  Add(a);
  Add(b);
  Add(c);
  Run();
  ExpectGroups({{0, 1, 2}, {3, 4, 5, 6}, {7, 8}});
}

// A segment longer than the first starts a new aggregate (gso_size is the first's payload).
TEST_F(GroTest, LongerSegmentStartsANewAggregate) {
  TcpSpec spec;
  std::vector<TcpFrame> s = FlowSegments(spec, 2, 1000);
  Skip(spec, 2, 2000);
  std::vector<TcpFrame> t = FlowSegments(spec, 2, 1448);
  Add(s);
  Add(t);
  Run();
  ExpectGroups({{0, 1}, {2, 3}});
}

// Two flows interleaved merge separately; other packets keep their places; an aggregate sits
// where its first segment was.
TEST_F(GroTest, FlowsAreIndependentAndOtherPacketsKeepTheirPlaces) {
  TcpSpec other;
  other.sport = 40001;
  std::vector<TcpFrame> a = FlowSegments({}, 3, 1448);
  std::vector<TcpFrame> b = FlowSegments(other, 3, 1448);
  Bytes arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  Add(a[0]);
  Add(b[0]);
  Add(arp);
  Add(a[1]);
  Add(b[1]);
  Add(a[2]);
  Add(b[2]);
  Run();
  ExpectGroups({{0, 3, 5}, {1, 4, 6}, {2}});
}

TEST_F(GroTest, OutOfOrderSegmentsAreNotMerged) {
  std::vector<TcpFrame> s = FlowSegments({}, 4, 1448);
  Add(s[0]);
  Add(s[2]);  // a gap: s[0] ends, s[2] starts an aggregate
  Add(s[3]);
  Add(s[1]);  // behind: ends s[2..3], merges with nothing
  Run();
  ExpectGroups({{0}, {1, 2}, {3}});
  EXPECT_EQ(stats_.merged, 1u);
}

TEST_F(GroTest, DifferentHeadersAreNotMerged) {
  struct Case {
    const char* what;
    void (*change)(TcpSpec&);
  };
  const Case cases[] = {
      {"timestamp", [](TcpSpec& s) { s.tsval = 77; }},
      {"ack", [](TcpSpec& s) { s.ack += 1; }},
      {"window", [](TcpSpec& s) { s.window = 100; }},
      {"tos", [](TcpSpec& s) { s.tos = 0x02; }},
      {"ttl", [](TcpSpec& s) { s.ttl = 63; }},
      {"ip id", [](TcpSpec& s) { s.ip_id += 5; }},
      {"vlan", [](TcpSpec& s) { s.vlans = 1; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TcpSpec spec;
    std::vector<TcpFrame> s = FlowSegments(spec, 2, 1448);
    Skip(spec, 2, 2 * 1448);
    c.change(spec);
    std::vector<TcpFrame> t = FlowSegments(spec, 2, 1448);
    Add(s);
    Add(t);
    Run();
    // The different segment ends the first aggregate and starts its own.
    ExpectGroups({{0, 1}, {2, 3}});
    Reset();
  }
}

TEST_F(GroTest, FlagsOtherThanAckAreNeverMerged) {
  for (uint8_t flag : {kFin, kSyn, kRst, kUrg, kEce, kCwr}) {
    SCOPED_TRACE(::testing::Message() << "flag " << int{flag});
    TcpSpec spec;
    std::vector<TcpFrame> s = FlowSegments(spec, 2, 1448);
    Skip(spec, 2, 2 * 1448);
    spec.flags = kAck | flag;
    TcpFrame odd = WithChecksums(MakeTcpFrame(spec, Pattern(1448, 3)));
    Skip(spec, 1, 1448);
    spec.flags = kAck;
    std::vector<TcpFrame> t = FlowSegments(spec, 2, 1448);
    Add(s);
    Add(odd);
    Add(t);
    Run();
    ExpectGroups({{0, 1}, {2}, {3, 4}});
    Reset();
  }
}

// A segment failing software verification is passed on unmerged, for the node's stack to drop
// and count; the flow's order is kept around it.
TEST_F(GroTest, BadChecksumIsNotMerged) {
  std::vector<TcpFrame> s = FlowSegments({}, 5, 1448);
  s[2].bytes[s[2].hdr_len + 100] ^= 0x5a;  // corrupted in flight
  Add(s);
  Run();
  ExpectGroups({{0, 1}, {2}, {3, 4}});
  EXPECT_EQ(stats_.bad_checksum, 1u);

  // A bad first segment heads nothing; the next one starts the aggregate.
  Reset();
  s = FlowSegments({}, 3, 1448);
  s[0].bytes[s[0].hdr_len] ^= 1;
  Add(s);
  Run();
  ExpectGroups({{0}, {1, 2}});
  EXPECT_EQ(stats_.bad_checksum, 2u);
}

TEST_F(GroTest, BadIpv4HeaderChecksumIsNotMerged) {
  std::vector<TcpFrame> s = FlowSegments({}, 3, 1448);
  s[1].bytes[s[1].l3 + 10] ^= 1;
  Add(s);
  Run();
  ExpectGroups({{0}, {1}, {2}});
}

TEST_F(GroTest, IpOptionsAndExtensionHeadersAreNotMerged) {
  TcpSpec spec;
  spec.ip_options = true;
  Add(FlowSegments(spec, 3, 1448));
  Run();
  ExpectGroups({{0}, {1}, {2}});
  Reset();

  // IPv6 with a destination options header before TCP.
  TcpSpec v6;
  v6.v4 = false;
  for (TcpFrame t : FlowSegments(v6, 3, 1448)) {
    Bytes& f = t.bytes;
    f[t.l3 + 6] = 60;
    Put16(f, t.l3 + 4, static_cast<uint16_t>(Get16(f, t.l3 + 4) + 8));
    Bytes opts = {IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0};  // PadN
    f.insert(f.begin() + static_cast<long>(t.l4), opts.begin(), opts.end());
    Add(f);
  }
  Run();
  ExpectGroups({{0}, {1}, {2}});
}

// A fragment might belong to any flow: every open aggregate ends before it.
TEST_F(GroTest, FragmentEndsOpenAggregates) {
  std::vector<TcpFrame> s = FlowSegments({}, 4, 1448);
  TcpFrame frag = s[3];
  Put16(frag.bytes, frag.l3 + 6, 0x2000);  // MF
  Add(s[0]);
  Add(s[1]);
  Add(frag.bytes);
  Add(s[2]);
  Add(s[3]);
  Run();
  ExpectGroups({{0, 1}, {2}, {3, 4}});
}

// Never more than 64 KiB of IP length: the next segment starts a new aggregate.
TEST_F(GroTest, SuperFramesStayWithin64KiB) {
  Add(FlowSegments({}, 50, 1448));  // 45 segments fit in 65535 bytes of IP length
  Run();
  std::vector<size_t> first, second;
  for (size_t i = 0; i < 50; ++i) (i < 45 ? first : second).push_back(i);
  ExpectGroups({first, second});
  EXPECT_EQ(out_[0]->total_length, 14 + 20 + 32 + 45 * 1448u);
}

TEST_F(GroTest, SegmentCountIsBounded) {
  Add(FlowSegments({}, kMaxGroSegments + 10, 100));
  Run();
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(packets_[0], kMaxGroSegments);
  EXPECT_EQ(packets_[1], 10);
}

// IPv4 ids that do not change (DF set: RFC 6864) merge too; segmenting gives consecutive ids
// back, as the kernel's TSO does for such a super-frame (virtio has no fixed-id GSO type).
TEST_F(GroTest, FixedIpIdsWithDfMerge) {
  TcpSpec spec;
  std::vector<TcpFrame> s;
  for (int k = 0; k < 3; ++k) {
    s.push_back(WithChecksums(MakeTcpFrame(spec, Pattern(1448, static_cast<uint8_t>(k)))));
    spec.seq += 1448;
  }
  Add(s);
  Run();
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(packets_[0], 3);
  // Without DF they must count up.
  Reset();
  spec = {};
  spec.df = false;
  s.clear();
  for (int k = 0; k < 2; ++k) {
    s.push_back(WithChecksums(MakeTcpFrame(spec, Pattern(1448, static_cast<uint8_t>(k)))));
    spec.seq += 1448;
  }
  Add(s);
  Run();
  ExpectGroups({{0}, {1}});
}

// More flows than the table holds: the oldest aggregate ends, nothing is lost or reordered.
TEST_F(GroTest, MoreFlowsThanTheTableHolds) {
  constexpr size_t kFlows = kGroMaxFlows + 1;
  std::vector<std::vector<TcpFrame>> flows;
  for (size_t f = 0; f < kFlows; ++f) {
    TcpSpec spec;
    spec.sport = static_cast<uint16_t>(1000 + f);
    flows.push_back(FlowSegments(spec, 2, 1000));
  }
  // All first segments (the last one pushes flow 0 out), the second ones of flows 1.., then
  // flow 0's, which starts an aggregate of its own.
  for (size_t f = 0; f < kFlows; ++f) Add(flows[f][0]);
  for (size_t f = 1; f < kFlows; ++f) Add(flows[f][1]);
  Add(flows[0][1]);
  Run();
  std::vector<std::vector<size_t>> groups = {{0}};
  for (size_t f = 1; f < kFlows; ++f) groups.push_back({f, kFlows - 1 + f});
  groups.push_back({2 * kFlows - 1});
  ExpectGroups(groups);
}

TEST_F(GroTest, PureAcksAndSuperFramesPassThrough) {
  TcpSpec spec;
  Add(WithChecksums(MakeTcpFrame(spec, {})));
  Add(WithChecksums(MakeTcpFrame(spec, {})));
  std::vector<TcpFrame> s = FlowSegments(spec, 2, 1448);
  Add(s[0]);
  in_.back()->gso_type = kGsoTcpV4;  // already a super-frame (say, from another GRO)
  in_.back()->gso_size = 1000;
  Add(s[1]);
  Run();
  in_[2]->gso_type = kGsoNone;
  ExpectGroups({{0}, {1}, {2}, {3}});
}

}  // namespace
}  // namespace uplinkd::offload
