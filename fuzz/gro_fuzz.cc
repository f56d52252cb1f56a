// Fuzzes TCP coalescing with bursts built from the input: segments of four flows (IPv4, IPv6,
// VLAN-tagged) in order or not, with odd flags, sizes, options, checksums and offload flags,
// corrupted at any byte, cut into buffer chains anywhere, mixed with raw frames. Then checks:
// - every input buffer ends in exactly one output, super-frames headed by their first segment,
//   outputs in the order of their first packets, and no flow's packets reordered;
// - a packet left alone is unchanged, bytes and offload fields;
// - a super-frame holds only segments of one flow whose checksums were good (or vouched for by
//   an offload flag), and offload::SegmentTcp gives back exactly the frames that went in (their
//   payload bytes in order), but for what segmentation legitimately recomputes: checksums equal
//   in ones-complement (0x0000 / 0xffff), or afresh where the input's was partial or vouched
//   for, and IPv4 ids counting up where they were fixed (DF);
// - no buffer leaks.
//
// Input: [chain split][flows' MSS, 2 bits each] then frame records:
//   op < 0x80: a segment of flow op & 3; (op >> 2) & 31 picks what is odd about it (0..15: an
//     in-order segment); then [payload size][offload/chain bits]
//   op >= 0xc0: the same, then [position][xor] corrupting one byte
//   else: a raw frame of [length] bytes taken from the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

#include "buffer/buffer_pool.h"
#include "fuzz/fuzz_pool.h"
#include "offload/checksum.h"
#include "offload/gro.h"
#include "offload/gso.h"
#include "offload/test_frames.h"
#include "tests/common/buffer_chain.h"

namespace {

using uplinkd::Buffer;
using uplinkd::BufferCache;
using uplinkd::BufferPool;
using uplinkd::testing_util::Bytes;
using uplinkd::testing_util::Flatten;
using uplinkd::testing_util::MakeChain;
namespace off = uplinkd::offload;
namespace t = uplinkd::offload::test;

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "gro_fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
      abort();                                                                    \
    }                                                                             \
  } while (0)

uplinkd::fuzz::FuzzPool& Shared() {
  static uplinkd::fuzz::FuzzPool p = uplinkd::fuzz::MakeFuzzPool(8192);
  return p;
}

struct Reader {
  const uint8_t* p;
  size_t n;
  bool Get(uint8_t* v) {
    if (n == 0) return false;
    *v = *p++;
    --n;
    return true;
  }
};

// One input frame as it went in.
struct Input {
  Bytes bytes;
  uint8_t offload = 0;
  uint16_t csum_start = 0, csum_offset = 0;
};

// The TCP headers of a frame, read independently of the code under test (same acceptance of
// versions and lengths: what the kernel would drop is no flow's packet).
struct Tcp {
  size_t l3 = 0, l4 = 0, hdr = 0;
  bool v4 = false;
  Bytes flow;  // version, addresses, ports
};
bool ParseTcp(const Bytes& f, Tcp* out) {
  if (f.size() < 14) return false;
  size_t l3 = 14;
  uint16_t type = t::Get16(f, 12);
  for (int i = 0; i < 2 && (type == 0x8100 || type == 0x88a8); ++i) {
    if (f.size() < l3 + 4) return false;
    type = t::Get16(f, l3 + 2);
    l3 += 4;
  }
  size_t l4;
  if (type == 0x0800) {
    if (f.size() < l3 + 20 || (f[l3] >> 4) != 4 || f[l3 + 9] != 6 || (f[l3] & 15) < 5) return false;
    l4 = l3 + (f[l3] & 15) * 4u;
    out->flow.assign(f.begin() + static_cast<long>(l3 + 12),
                     f.begin() + static_cast<long>(l3 + 20));
  } else if (type == 0x86dd) {
    if (f.size() < l3 + 40 || (f[l3] >> 4) != 6 || f[l3 + 6] != 6) return false;
    l4 = l3 + 40;
    out->flow.assign(f.begin() + static_cast<long>(l3 + 8), f.begin() + static_cast<long>(l3 + 40));
  } else {
    return false;
  }
  if (f.size() < l4 + 20 || (f[l4 + 12] >> 4) < 5 || f.size() < l4 + (f[l4 + 12] >> 4) * 4u) {
    return false;
  }
  out->flow.insert(out->flow.begin(), static_cast<uint8_t>(type == 0x0800 ? 4 : 6));
  out->flow.insert(out->flow.end(), f.begin() + static_cast<long>(l4),
                   f.begin() + static_cast<long>(l4 + 4));
  out->l3 = l3;
  out->l4 = l4;
  out->hdr = l4 + (f[l4 + 12] >> 4) * 4u;
  out->v4 = type == 0x0800;
  return true;
}

bool SameChecksum(uint16_t a, uint16_t b) {
  return a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0);
}

// Builds the burst.
struct FlowState {
  t::TcpSpec spec;
  uint16_t mss = 0;
  uint32_t segments = 0;
};

// Adds a segment record's frame to `in`; false when the input ran out first.
bool AddSegment(Reader& r, uint8_t op, std::vector<FlowState>& flows, std::vector<Input>& in,
                uint32_t* split) {
  uint8_t size = 0, bits = 0;
  if (!r.Get(&size) || !r.Get(&bits)) return false;
  FlowState& fl = flows[op & 3];
  t::TcpSpec spec = fl.spec;
  const uint8_t odd = (op >> 2) & 31;
  size_t len = size >= 0xc0 ? fl.mss : size * 3u;
  bool advance = true;
  switch (odd) {
    case 16: spec.seq += 1000; break;          // a gap
    case 17: spec.seq -= fl.mss; advance = false; break;  // a retransmission
    case 18: spec.flags |= 0x08; break;        // PSH
    case 19: spec.flags |= 0x01; break;        // FIN
    case 20: spec.flags |= 0x02; break;        // SYN
    case 21: spec.flags |= 0x04; break;        // RST
    case 22: spec.flags |= 0x20; break;        // URG
    case 23: spec.flags |= 0x80; break;        // CWR
    case 24: spec.flags |= 0x40; break;        // ECE
    case 25: fl.spec.tsval += 1; spec.tsval += 1; break;  // the clock ticked
    case 26: fl.spec.ack += 1000; spec.ack += 1000; break;
    case 27: spec.ttl = 1; break;
    case 28: spec.ip_options = true; break;
    case 29: spec.ip_id = 0; break;
    case 30: spec.df = !spec.df; break;
    case 31: spec.window = 7; break;
    default: break;
  }
  t::TcpFrame f =
      t::WithChecksums(t::MakeTcpFrame(spec, t::Pattern(len, static_cast<uint8_t>(in.size()))));
  Input input;
  if (bits & 1) input.offload |= Buffer::kOffloadDataValid;
  if (bits & 2) {  // a local sender's partial checksum
    input.offload |= Buffer::kOffloadNeedsCsum;
    input.csum_start = static_cast<uint16_t>(f.l4);
    input.csum_offset = 16;
    t::Put16(f.bytes, f.l4 + 16, static_cast<uint16_t>(t::PseudoSum(f.bytes, f.l3, f.l4, f.v4)));
  }
  if ((bits & 4) && len > 0) f.bytes[f.hdr_len + (bits >> 3) % len] ^= 0x40;  // corrupted
  if (op >= 0xc0) {
    uint8_t pos = 0, x = 0;
    if (r.Get(&pos) && r.Get(&x)) f.bytes[pos % f.bytes.size()] ^= x;
  }
  *split = (bits & 0x80) ? 0 : 2048;  // 0: the caller's split size
  input.bytes = std::move(f.bytes);
  in.push_back(std::move(input));
  if (advance) {
    fl.spec.seq = spec.seq + static_cast<uint32_t>(len);
    fl.spec.ip_id = static_cast<uint16_t>(spec.ip_id + 1);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uplinkd::fuzz::FuzzPool& p = Shared();
  BufferCache& cache = *p.cache;
  const BufferPool& pool = *p.pool;
  const uint32_t avail = pool.available();
  const uint32_t chain_split = 64 + data[0] * 8u;  // 64 .. 2104, capped below
  Reader r{data + 2, size - 2};

  std::vector<FlowState> flows(4);
  // Flows 0 and 1: IPv4, two ports; 2: IPv6; 3: IPv4 behind a VLAN tag. Small MSS values keep
  // runs fast (the instrumented build walks every byte several times); 1448 reaches 64 KiB.
  constexpr uint16_t kMss[4] = {16, 200, 536, 1448};
  for (uint32_t i = 0; i < 4; ++i) {
    flows[i].spec.v4 = i != 2;
    flows[i].spec.vlans = i == 3 ? 1 : 0;
    flows[i].spec.sport = static_cast<uint16_t>(40000 + i);
    flows[i].spec.seq = 0xfffff000u + 1000u * i;
    flows[i].mss = kMss[(data[1] >> (2 * i)) & 3];
  }

  std::vector<Input> in;
  std::vector<Buffer*> bufs;
  uint8_t op = 0;
  while (in.size() < off::kMaxGroBurst && r.Get(&op)) {
    uint32_t split = 2048;
    if (op < 0x80 || op >= 0xc0) {
      if (!AddSegment(r, op, flows, in, &split)) break;
    } else {
      uint8_t len = 0;
      if (!r.Get(&len)) break;
      Input raw;
      size_t n = len < r.n ? len : r.n;
      raw.bytes.assign(r.p, r.p + n);
      r.p += n;
      r.n -= n;
      in.push_back(std::move(raw));
    }
    if (split == 0) split = chain_split;
    if (split > pool.data_size()) split = pool.data_size();
    Buffer* b = MakeChain(cache, in.back().bytes, split);
    CHECK(b != nullptr);
    b->offload_flags = in.back().offload;
    b->csum_start = in.back().csum_start;
    b->csum_offset = in.back().csum_offset;
    bufs.push_back(b);
  }
  const uint32_t n = static_cast<uint32_t>(bufs.size());

  std::vector<Buffer*> out(n);
  std::vector<uint16_t> packets(n);
  off::GroStats stats;
  const uint32_t m = off::CoalesceTcp(pool, bufs.data(), n, out.data(), packets.data(), &stats);
  CHECK(m <= n);

  std::map<const Buffer*, size_t> index;
  for (size_t i = 0; i < n; ++i) index[bufs[i]] = i;
  std::vector<bool> seen(n, false);
  std::map<Bytes, size_t> last_of_flow;  // the last input index of each flow seen so far
  size_t last_head = 0;
  uint32_t total_packets = 0;
  for (uint32_t k = 0; k < m; ++k) {
    Buffer* head = out[k];
    auto it = index.find(head);
    CHECK(it != index.end());
    CHECK(k == 0 || it->second > last_head);  // outputs keep their first packets' order
    last_head = it->second;
    // The inputs in this output: the head, then every input buffer linked behind it.
    std::vector<size_t> group = {it->second};
    const Buffer* b = head;
    for (int guard = 0; b->has_next(); ++guard) {
      CHECK(guard < 1024);
      b = pool.FromIndex(b->next);
      auto j = index.find(b);
      if (j != index.end()) group.push_back(j->second);
    }
    CHECK(group.size() == packets[k]);
    total_packets += packets[k];
    for (size_t g = 0; g < group.size(); ++g) {
      CHECK(!seen[group[g]]);
      seen[group[g]] = true;
      CHECK(g == 0 || group[g] > group[g - 1]);
      Tcp tcp;
      if (ParseTcp(in[group[g]].bytes, &tcp)) {
        auto [pos, fresh] = last_of_flow.emplace(tcp.flow, group[g]);
        CHECK(fresh || pos->second < group[g]);  // no flow reordered
        pos->second = group[g];
      }
    }
    const Input& first = in[group[0]];
    if (group.size() == 1) {
      CHECK(Flatten(pool, head) == first.bytes);
      CHECK(head->offload_flags == first.offload && head->gso_type == off::kGsoNone);
      CHECK(head->total_length == first.bytes.size());
      continue;
    }

    // A super-frame: one flow, good checksums, and it segments back into its inputs.
    Tcp h;
    CHECK(ParseTcp(first.bytes, &h));
    CHECK(head->gso_type == (h.v4 ? off::kGsoTcpV4 : off::kGsoTcpV6));
    CHECK(head->gso_size == first.bytes.size() - h.hdr);
    CHECK(head->offload_flags == Buffer::kOffloadNeedsCsum && head->csum_start == h.l4 &&
          head->csum_offset == 16);
    for (size_t j : group) {
      const Bytes& f = in[j].bytes;
      Tcp s;
      CHECK(ParseTcp(f, &s) && s.flow == h.flow && s.hdr == h.hdr && s.l3 == h.l3);
      if (s.v4) CHECK(t::Sum(f, s.l3, s.l4) == 0xffff);
      if (in[j].offload == 0) CHECK(t::TcpChecksumValid(f, s.l3, s.l4, s.v4));
    }
    Buffer* segs[off::kMaxGsoSegments];
    const uint32_t ns = off::SegmentTcp(cache, head, segs, off::kMaxGsoSegments);
    CHECK(ns == group.size());
    const bool first_df = h.v4 && (first.bytes[h.l3 + 6] & 0x40);
    for (uint32_t s = 0; s < ns; ++s) {
      Bytes got = Flatten(pool, segs[s]);
      const Input& want = in[group[s]];
      CHECK(got.size() == want.bytes.size());
      if (got == want.bytes) continue;
      bool ids_differ = false;
      for (size_t i = 0; i < got.size(); ++i) {
        if (got[i] == want.bytes[i]) continue;
        const size_t tcp_csum = h.l4 + 16;
        if (i == tcp_csum || i == tcp_csum + 1) {
          CHECK(want.offload != 0 ||
                SameChecksum(t::Get16(got, tcp_csum), t::Get16(want.bytes, tcp_csum)));
          continue;
        }
        if (h.v4 && (i == h.l3 + 4 || i == h.l3 + 5)) {  // a fixed id (DF) counted up
          CHECK(first_df && t::Get16(want.bytes, h.l3 + 4) == t::Get16(first.bytes, h.l3 + 4));
          ids_differ = true;
          continue;
        }
        if (h.v4 && (i == h.l3 + 10 || i == h.l3 + 11)) {
          CHECK(ids_differ ||
                SameChecksum(t::Get16(got, h.l3 + 10), t::Get16(want.bytes, h.l3 + 10)));
          continue;
        }
        CHECK(false && "a segment differs from its input");
      }
    }
    cache.Free(segs, ns);
  }
  CHECK(total_packets == n);
  for (size_t i = 0; i < n; ++i) CHECK(seen[i]);
  CHECK(stats.merged == n - m);

  cache.Free(out.data(), m);
  CHECK(pool.available() == avail);  // a buffer leaked (or was freed twice)
  return 0;
}
