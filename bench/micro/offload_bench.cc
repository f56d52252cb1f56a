// Software offloads on the tx path (src/offload): completing a partial TCP checksum on a buffer
// chain, segmenting a TCP GSO super-frame, coalescing segments into one, and finding a frame's
// L4 checksum. Each benchmark checks the result against frames.h, which computes it
// independently.

#include <benchmark/benchmark.h>

#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "buffer/buffer_pool.h"
#include "bench/micro/frames.h"
#include "offload/checksum.h"
#include "offload/gro.h"
#include "offload/gso.h"
#include "tests/common/buffer_chain.h"

namespace uplinkd::bench {
namespace {

using testing_util::Flatten;
using testing_util::MakeChain;

// Frames are chained in buffers of the default data size, as drivers receive them.
constexpr uint32_t kSegmentBytes = 2048;

Result<std::unique_ptr<BufferPool>> MakePool(uint32_t buffers) {
  // Plain memory: results should not depend on whether this host has free hugepages.
  return BufferPool::Create(
      {.buffers = buffers, .data_size = kSegmentBytes, .allow_hugepages = false});
}

// --- CompleteChainChecksum -------------------------------------------------------------------

// Arg: the frame length in bytes (64, 1500, 9000; 9000 is a chain of five buffers). An IPv4/TCP
// frame with a partial checksum (virtio NEEDS_CSUM), completed in place each iteration.
void BM_CompleteChainChecksum(benchmark::State& state) {
  const size_t frame_len = static_cast<size_t>(state.range(0));
  auto pool = MakePool(1024);
  if (!pool.ok()) {
    state.SkipWithError(pool.status().message().c_str());
    return;
  }
  BufferCache cache(**pool);
  const Frame frame = MakeTcpFrame(/*v4=*/true, /*tcp_header_len=*/20, frame_len);
  Buffer* head = MakeChain(cache, frame.bytes, kSegmentBytes);
  if (head == nullptr) {
    state.SkipWithError("buffer pool exhausted");
    return;
  }
  head->offload_flags = Buffer::kOffloadNeedsCsum;
  head->csum_start = static_cast<uint16_t>(frame.l4);
  head->csum_offset = kTcpChecksumOffset;
  // The field sits in the first buffer for every size here (l4 + 16 < 2048).
  uint8_t* field = head->data() + frame.l4 + kTcpChecksumOffset;
  const uint16_t partial = PseudoHeaderSum(frame, IPPROTO_TCP);
  const uint16_t expected = ExpectedTcpChecksum(frame);

  for (auto _ : state) {
    // Completing overwrites the partial sum it starts from: put it back (two stores).
    field[0] = static_cast<uint8_t>(partial >> 8);
    field[1] = static_cast<uint8_t>(partial);
    head->offload_flags = Buffer::kOffloadNeedsCsum;
    offload::CompleteChainChecksum(**pool, head);
    const uint16_t got = static_cast<uint16_t>(field[0] << 8 | field[1]);
    if (got != expected || (head->offload_flags & Buffer::kOffloadNeedsCsum) != 0) {
      state.SkipWithError("CompleteChainChecksum stored a wrong checksum");
      break;
    }
  }
  if (!Tcp4ChecksumValid(Flatten(**pool, head), frame.l3, frame.l4)) {
    state.SkipWithError("the completed frame's TCP checksum does not verify");
  }
  cache.FreeOne(head);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(frame_len));
}
BENCHMARK(BM_CompleteChainChecksum)->Arg(64)->Arg(1500)->Arg(9000);

// --- SegmentTcp -------------------------------------------------------------------------------

// A 64000-byte TCPv4 super-frame as the host tap hands it over (headers with TCP timestamps:
// 66 bytes, then 63934 bytes of payload), cut at MSS 1448, the payload that fits a 1500 MTU
// next to those headers: 45 segments, the last one 222 bytes of payload.
constexpr size_t kSuperFrameLen = 64000;
constexpr uint16_t kMss = 1448;

// Empty when out[0..n) are exactly the segments of `frame`, else what is wrong.
std::string CheckSegments(const BufferPool& pool, const Frame& frame, Buffer* const* out,
                          uint32_t n) {
  const size_t payload = frame.bytes.size() - frame.hdr_len;
  if (n != (payload + kMss - 1) / kMss) return "wrong segment count";
  const uint32_t first_seq = Get32(frame.bytes, frame.l4 + 4);
  for (uint32_t k = 0; k < n; ++k) {
    const Bytes seg = Flatten(pool, out[k]);
    const size_t len = std::min<size_t>(kMss, payload - k * kMss);
    if (seg.size() != frame.hdr_len + len || out[k]->total_length != seg.size()) {
      return "segment " + std::to_string(k) + " has the wrong length";
    }
    if (Get16(seg, frame.l3 + 2) != seg.size() - frame.l3 || !Ipv4HeaderChecksumValid(seg, frame.l3)) {
      return "segment " + std::to_string(k) + " has a wrong IPv4 header";
    }
    if (Get32(seg, frame.l4 + 4) != first_seq + k * kMss) {
      return "segment " + std::to_string(k) + " has a wrong sequence number";
    }
    if (!Tcp4ChecksumValid(seg, frame.l3, frame.l4) || out[k]->offload_flags != 0) {
      return "segment " + std::to_string(k) + " has a wrong TCP checksum";
    }
    const auto from = frame.bytes.begin() + static_cast<ptrdiff_t>(frame.hdr_len + k * kMss);
    if (!std::equal(from, from + static_cast<ptrdiff_t>(len),
                    seg.begin() + static_cast<ptrdiff_t>(frame.hdr_len))) {
      return "segment " + std::to_string(k) + " carries the wrong payload";
    }
  }
  return "";
}

// `frame` as the host tap hands a TCP super-frame over: a chain with GSO_TCPV4 and a partial
// checksum. Null, the benchmark skipped, when the pool ran dry.
Buffer* MakeSuperFrame(benchmark::State& state, BufferCache& cache, const Frame& frame) {
  Buffer* head = MakeChain(cache, frame.bytes, kSegmentBytes);
  if (head == nullptr) {
    state.SkipWithError("buffer pool exhausted");
    return nullptr;
  }
  head->gso_type = offload::kGsoTcpV4;
  head->gso_size = kMss;
  head->offload_flags = Buffer::kOffloadNeedsCsum;
  head->csum_start = static_cast<uint16_t>(frame.l4);
  head->csum_offset = kTcpChecksumOffset;
  return head;
}

void BM_SegmentTcp(benchmark::State& state) {
  auto pool = MakePool(4096);
  if (!pool.ok()) {
    state.SkipWithError(pool.status().message().c_str());
    return;
  }
  BufferCache cache(**pool);
  const Frame frame = MakeTcpFrame(/*v4=*/true, /*tcp_header_len=*/32, kSuperFrameLen);
  Buffer* head = MakeSuperFrame(state, cache, frame);
  if (head == nullptr) return;
  const uint32_t segments = static_cast<uint32_t>((kSuperFrameLen - frame.hdr_len + kMss - 1) / kMss);
  Buffer* out[offload::kMaxGsoSegments];

  // Check one segmentation in full before timing; the loop then checks the count.
  uint32_t n = offload::SegmentTcp(cache, head, out, offload::kMaxGsoSegments);
  std::string error = CheckSegments(**pool, frame, out, n);
  cache.Free(out, n);
  if (!error.empty()) {
    state.SkipWithError(("SegmentTcp: " + error).c_str());
    cache.FreeOne(head);
    return;
  }

  for (auto _ : state) {
    n = offload::SegmentTcp(cache, head, out, offload::kMaxGsoSegments);
    // A tx driver frees the segments once sent; freeing here keeps the cache warm and the pool
    // from running dry, and belongs to the cost of segmenting.
    cache.Free(out, n);
    if (n != segments) {
      state.SkipWithError("SegmentTcp returned the wrong number of segments");
      break;
    }
  }
  cache.FreeOne(head);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * segments);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kSuperFrameLen);
  state.counters["segments"] = segments;
}
BENCHMARK(BM_SegmentTcp);

// --- CoalesceTcp -----------------------------------------------------------------------------

// Arg 1: the 45 wire-sized segments of the super-frame above (as af_xdp hands them over:
// complete checksums, verified here in software) merged back into one GSO super-frame, as the
// host tap's gro-coalesce does per burst. Arg 0: the same loop without coalescing (making and
// freeing the segments), so the difference is what coalescing costs per burst.
void BM_CoalesceTcp(benchmark::State& state) {
  const bool coalesce = state.range(0) != 0;
  auto pool = MakePool(4096);
  if (!pool.ok()) {
    state.SkipWithError(pool.status().message().c_str());
    return;
  }
  BufferCache cache(**pool);
  const Frame frame = MakeTcpFrame(/*v4=*/true, /*tcp_header_len=*/32, kSuperFrameLen);
  Buffer* head = MakeSuperFrame(state, cache, frame);
  if (head == nullptr) return;
  Buffer* segs[offload::kMaxGsoSegments];
  Buffer* out[offload::kMaxGsoSegments];
  uint16_t packets[offload::kMaxGsoSegments];
  uint32_t n = 0;
  for (auto _ : state) {
    n = offload::SegmentTcp(cache, head, segs, offload::kMaxGsoSegments);
    uint32_t m = n;
    if (coalesce) {
      offload::GroStats stats;
      m = offload::CoalesceTcp(**pool, segs, n, out, packets, &stats);
      if (m != 1 || packets[0] != n) {
        state.SkipWithError("CoalesceTcp did not make one super-frame of every segment");
        break;
      }
    }
    cache.Free(coalesce ? out : segs, m);
  }
  cache.FreeOne(head);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
  state.counters["segments"] = n;
}
BENCHMARK(BM_CoalesceTcp)->Arg(0)->Arg(1);

// --- FindL4Checksum ---------------------------------------------------------------------------

enum class L4Case { kIpv4Udp, kIpv6Tcp };

// Parses the headers of a 128-byte frame: Ethernet + IPv4 + UDP, or Ethernet + IPv6 + TCP.
void BM_FindL4Checksum(benchmark::State& state, L4Case which) {
  const bool udp = which == L4Case::kIpv4Udp;
  const Frame frame = udp ? MakeUdp4Frame(128) : MakeTcpFrame(/*v4=*/false, 32, 128);
  const uint32_t want_start = static_cast<uint32_t>(frame.l4);
  const uint32_t want_offset = udp ? kUdpChecksumOffset : kTcpChecksumOffset;
  const uint8_t want_proto = udp ? IPPROTO_UDP : IPPROTO_TCP;
  const uint8_t* bytes = frame.bytes.data();
  const uint32_t len = static_cast<uint32_t>(frame.bytes.size());

  for (auto _ : state) {
    // The frame could change behind the compiler's back: parse it again every iteration.
    benchmark::DoNotOptimize(bytes);
    uint32_t start = 0, offset = 0;
    uint8_t proto = 0;
    bool found = offload::FindL4Checksum(bytes, len, &start, &offset, &proto);
    if (!found || start != want_start || offset != want_offset || proto != want_proto) {
      state.SkipWithError("FindL4Checksum found the wrong checksum location");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_FindL4Checksum, ipv4_udp, L4Case::kIpv4Udp);
BENCHMARK_CAPTURE(BM_FindL4Checksum, ipv6_tcp, L4Case::kIpv6Tcp);

}  // namespace
}  // namespace uplinkd::bench
