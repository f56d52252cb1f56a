#include "offload/gro.h"

#include <linux/if_ether.h>
#include <netinet/in.h>

#include <cstring>

#include "offload/bytes.h"
#include "offload/checksum.h"
#include "offload/gso.h"

namespace uplinkd::offload {
namespace {

constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;
constexpr uint16_t kIpDf = 0x4000;

inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

enum class Kind : uint8_t {
  kOther,    // not TCP: passed on, no flow touched
  kBarrier,  // might be TCP of any flow but cannot be placed: every aggregate ends
  kTcp,      // a TCP segment of a known flow
};

// A TCP segment as Classify reads it; offsets are from the frame's start (data()).
struct Segment {
  uint32_t l3 = 0, l4 = 0, hdr_len = 0;  // hdr_len: where the payload starts
  uint32_t payload = 0;
  uint32_t hash = 0;  // of addresses and ports
  bool v4 = false;
  bool eligible = false;  // may start or join an aggregate (as far as its own headers say)
};

// An open aggregate: a head segment and the segments linked behind it.
struct Flow {
  Buffer* head;
  Buffer* tail;  // last buffer of the chain
  uint32_t hash;
  uint32_t l3, l4, hdr_len;
  uint32_t next_seq;
  uint32_t payload;  // bytes in the aggregate
  uint32_t buffers;  // in its chain
  uint16_t mss;      // the head's payload: gso_size
  uint16_t first_id;
  uint16_t segments;
  uint16_t slot;  // its place in `out`
  bool v4;
  bool fixed_id;  // IPv4 ids all equal (DF) rather than consecutive; set by the second segment
  bool head_verified;
  bool psh;
};

// Reads the headers of `b` (all in its first buffer, or it is not a candidate).
Kind Classify(const Buffer* b, Segment* s) {
  const uint8_t* f = b->data();
  const uint32_t len = b->length;
  // Headers cut short: the kernel drops such a frame, unless the rest is in the next buffer, and
  // then it might be any flow's.
  const Kind cut = b->has_next() ? Kind::kBarrier : Kind::kOther;
  if (len < ETH_HLEN) return cut;
  uint32_t l3 = ETH_HLEN;
  uint16_t type = Be16(f + 12);
  for (int i = 0; i < 2 && (type == ETH_P_8021Q || type == ETH_P_8021AD); ++i) {
    if (len < l3 + 4) return cut;
    type = Be16(f + l3 + 2);
    l3 += 4;
  }
  bool ip_ok = false;  // no IP options or extension headers
  uint32_t l4 = 0;
  if (type == ETH_P_IP) {
    if (len < l3 + 20) return cut;
    if ((f[l3] >> 4) != 4 || f[l3 + 9] != IPPROTO_TCP) return Kind::kOther;
    if ((Be16(f + l3 + 6) & 0x3fff) != 0) return Kind::kBarrier;  // a fragment of TCP
    const uint32_t ihl = (f[l3] & 0x0f) * 4u;
    if (ihl < 20) return Kind::kOther;  // malformed: the kernel drops it
    l4 = l3 + ihl;
    ip_ok = ihl == 20;
  } else if (type == ETH_P_IPV6) {
    if (len < l3 + 40) return cut;
    if ((f[l3] >> 4) != 6) return Kind::kOther;
    const uint8_t next = f[l3 + 6];
    if (next == IPPROTO_TCP) {
      l4 = l3 + 40;
      ip_ok = true;
    } else if (next == IPPROTO_UDP || next == IPPROTO_ICMPV6 || next == IPPROTO_NONE) {
      return Kind::kOther;
    } else {
      // Extension headers: TCP behind them is a flow's segment that is never merged.
      uint32_t start = 0, offset = 0;
      uint8_t proto = 0;
      if (!FindL4Checksum(f, len, &start, &offset, &proto)) return Kind::kBarrier;
      if (proto != IPPROTO_TCP) return Kind::kOther;
      l4 = start;
    }
  } else {
    return Kind::kOther;
  }
  if (len < l4 + 20) return cut;
  const uint32_t thl = (f[l4 + 12] >> 4) * 4u;
  if (thl < 20) return Kind::kOther;  // malformed: the kernel drops it
  if (len < l4 + thl) return cut;

  const bool v4 = type == ETH_P_IP;
  s->l3 = l3;
  s->l4 = l4;
  s->hdr_len = l4 + thl;
  s->v4 = v4;
  uint32_t h = Load32(f + l4);  // ports
  const uint32_t addr = v4 ? l3 + 12 : l3 + 8;
  for (uint32_t i = 0; i < (v4 ? 8u : 32u); i += 4) h = (h ^ Load32(f + addr + i)) * 0x9e3779b1u;
  s->hash = h;

  // What the segment's own headers allow.
  const uint32_t total = b->total_length;
  s->payload = total > s->hdr_len ? total - s->hdr_len : 0;
  s->eligible = false;
  if (!ip_ok || s->payload == 0 || b->gso_type != kGsoNone) return Kind::kTcp;
  if ((f[l4 + 13] & ~kTcpPsh) != kTcpAck) return Kind::kTcp;
  if (v4) {
    // Padded or cut short; a corrupt header (we write a new checksum over it).
    if (Be16(f + l3 + 2) != static_cast<uint32_t>(total - l3)) return Kind::kTcp;
    if (FoldSum(SumWords(f + l3, 20)) != 0xffff) return Kind::kTcp;
  } else if (Be16(f + l3 + 4) != static_cast<uint32_t>(total - l3 - 40)) {
    return Kind::kTcp;
  }
  if ((b->offload_flags & Buffer::kOffloadNeedsCsum) &&
      (b->csum_start != l4 || b->csum_offset != 16)) {
    return Kind::kTcp;
  }
  s->eligible = true;
  return Kind::kTcp;
}

// Same IP version, addresses and ports.
bool SameFlow(const Flow& fl, const Buffer* b, const Segment& s) {
  if (fl.hash != s.hash || fl.v4 != s.v4) return false;
  const uint8_t* h = fl.head->data();
  const uint8_t* p = b->data();
  const uint32_t n = s.v4 ? 8 : 32;
  const uint32_t addr_h = s.v4 ? fl.l3 + 12 : fl.l3 + 8;
  const uint32_t addr_p = s.v4 ? s.l3 + 12 : s.l3 + 8;
  return std::memcmp(h + addr_h, p + addr_p, n) == 0 && std::memcmp(h + fl.l4, p + s.l4, 4) == 0;
}

// A segment's TCP checksum is good: vouched for by the receiving driver, a local sender's
// partial one, or verified here.
bool ChecksumGood(const BufferPool& pool, const Buffer* b, uint32_t l3, uint32_t l4, bool v4) {
  if (b->offload_flags & (Buffer::kOffloadDataValid | Buffer::kOffloadNeedsCsum)) return true;
  const uint64_t sum = PseudoHeaderSum(b->data(), l3, v4, IPPROTO_TCP, b->total_length - l4) +
                       SumChain(pool, b, l4);
  return FoldSum(sum) == 0xffff;
}

// The last buffer of b's chain and how many it has; null when the chain is longer than a
// super-frame may be or its lengths do not add up to total_length.
Buffer* ChainTail(const BufferPool& pool, Buffer* head, uint32_t* buffers) {
  uint32_t sum = 0;
  Buffer* b = head;
  for (uint32_t i = 1; i <= kMaxGroBuffers; ++i) {
    sum += b->length;
    if (!b->has_next()) {
      *buffers = i;
      return sum == head->total_length ? b : nullptr;
    }
    b = pool.FromIndex(b->next);
  }
  return nullptr;
}

// The headers of segment `p` match the aggregate's as the kernel requires (addresses and ports
// already do), and it continues it.
bool Continues(const Flow& fl, const Buffer* b, const Segment& s) {
  const uint8_t* h = fl.head->data();
  const uint8_t* p = b->data();
  const uint32_t l3 = fl.l3, l4 = fl.l4;
  if (s.l3 != l3 || s.hdr_len != fl.hdr_len) return false;
  if (std::memcmp(h, p, l3) != 0) return false;  // Ethernet and VLAN tags
  if (fl.v4) {
    // TOS; flags and fragment offset (DF); TTL and protocol. The id: consecutive, or fixed
    // with DF set (RFC 6864 atomic datagrams), as the first pair of segments decides.
    if (h[l3 + 1] != p[l3 + 1] || std::memcmp(h + l3 + 6, p + l3 + 6, 4) != 0) return false;
    const uint16_t id = Be16(p + l3 + 4);
    if (fl.segments == 1) {
      const bool fixed = id == fl.first_id && (Be16(h + l3 + 6) & kIpDf);
      if (!fixed && id != static_cast<uint16_t>(fl.first_id + 1)) return false;
    } else if (id != (fl.fixed_id ? fl.first_id
                                  : static_cast<uint16_t>(fl.first_id + fl.segments))) {
      return false;
    }
  } else if (std::memcmp(h + l3, p + l3, 4) != 0 || h[l3 + 7] != p[l3 + 7]) {
    return false;  // version, traffic class, flow label; hop limit
  }
  // Sequence; ACK number; data offset; window; urgent pointer and options.
  if (Be32(p + l4 + 4) != fl.next_seq) return false;
  if (std::memcmp(h + l4 + 8, p + l4 + 8, 5) != 0) return false;
  if (std::memcmp(h + l4 + 14, p + l4 + 14, 2) != 0) return false;
  if (std::memcmp(h + l4 + 18, p + l4 + 18, fl.hdr_len - l4 - 18) != 0) return false;
  if (s.payload > fl.mss) return false;
  if (fl.segments >= kMaxGroSegments) return false;
  return fl.hdr_len - l3 + fl.payload + s.payload <= kMaxGroIpLength;
}

// Writes the aggregate's headers and offload fields: one super-frame, as GRO hands it up.
void Finish(Flow& fl, GroStats* stats) {
  if (fl.segments < 2) return;  // a lone segment goes on as it came
  Buffer* head = fl.head;
  uint8_t* d = head->data();
  const uint32_t l3 = fl.l3, l4 = fl.l4;
  const uint32_t total = fl.hdr_len + fl.payload;
  if (fl.v4) {
    Put16(d + l3 + 2, static_cast<uint16_t>(total - l3));
    Put16(d + l3 + 10, 0);
    Put16(d + l3 + 10, static_cast<uint16_t>(~FoldSum(SumWords(d + l3, 20))));
  } else {
    Put16(d + l3 + 4, static_cast<uint16_t>(total - l3 - 40));
  }
  if (fl.psh) d[l4 + 13] |= kTcpPsh;
  Put16(d + l4 + 16, FoldSum(PseudoHeaderSum(d, l3, fl.v4, IPPROTO_TCP, total - l4)));
  head->total_length = total;
  head->gso_type = fl.v4 ? kGsoTcpV4 : kGsoTcpV6;
  head->gso_size = fl.mss;
  head->offload_flags = Buffer::kOffloadNeedsCsum;
  head->csum_start = static_cast<uint16_t>(l4);
  head->csum_offset = 16;
  ++stats->super_frames;
}

class FlowTable {
 public:
  explicit FlowTable(GroStats* stats) : stats_(stats) {}

  Flow* Find(const Buffer* b, const Segment& s) {
    for (uint32_t i = 0; i < count_; ++i) {
      if (SameFlow(flows_[i], b, s)) return &flows_[i];
    }
    return nullptr;
  }

  // Opens an aggregate headed by `b`, ending the oldest one when the table is full.
  void Open(const BufferPool& pool, Buffer* b, const Segment& s, uint16_t slot) {
    uint32_t buffers = 0;
    Buffer* tail = ChainTail(pool, b, &buffers);
    if (tail == nullptr) return;  // it goes on alone
    if (count_ == kGroMaxFlows) Close(&flows_[0]);
    Flow& fl = flows_[count_++];
    const uint8_t* f = b->data();
    fl.head = b;
    fl.tail = tail;
    fl.hash = s.hash;
    fl.l3 = s.l3;
    fl.l4 = s.l4;
    fl.hdr_len = s.hdr_len;
    fl.payload = s.payload;
    fl.next_seq = Be32(f + s.l4 + 4) + s.payload;
    fl.buffers = buffers;
    fl.mss = static_cast<uint16_t>(s.payload);
    fl.first_id = s.v4 ? Be16(f + s.l3 + 4) : 0;
    fl.segments = 1;
    fl.slot = slot;
    fl.v4 = s.v4;
    fl.fixed_id = false;
    fl.head_verified = false;
    fl.psh = false;
  }

  // Appends segment `b` to `fl` if it continues it and both checksums are good. *ends: the
  // aggregate takes no more (PSH, a short segment). A segment failing its checksum is made
  // ineligible, so it also starts nothing.
  bool TryMerge(const BufferPool& pool, Flow& fl, Buffer* b, Segment& s, bool* ends) {
    if (!Continues(fl, b, s)) return false;
    uint32_t buffers = 0;
    Buffer* tail = ChainTail(pool, b, &buffers);
    if (tail == nullptr || fl.buffers + buffers > kMaxGroBuffers) return false;
    if (!fl.head_verified) {
      if (!ChecksumGood(pool, fl.head, fl.l3, fl.l4, fl.v4)) {
        ++stats_->bad_checksum;
        return false;  // the head goes on alone; this segment may start an aggregate
      }
      fl.head_verified = true;
    }
    if (!ChecksumGood(pool, b, s.l3, s.l4, s.v4)) {
      ++stats_->bad_checksum;
      s.eligible = false;
      return false;
    }
    if (fl.segments == 1 && fl.v4) fl.fixed_id = Be16(b->data() + s.l3 + 4) == fl.first_id;
    const uint8_t flags = b->data()[s.l4 + 13];
    // The payload joins the chain: the segment's first buffer now starts past its headers.
    b->offset = static_cast<uint16_t>(b->offset + s.hdr_len);
    b->length = static_cast<uint16_t>(b->length - s.hdr_len);
    fl.tail->flags |= Buffer::kNextValid;
    fl.tail->next = b->index;
    fl.tail = tail;
    fl.buffers += buffers;
    fl.payload += s.payload;
    fl.next_seq += s.payload;
    ++fl.segments;
    ++stats_->merged;
    fl.psh = (flags & kTcpPsh) != 0;
    *ends = fl.psh || s.payload < fl.mss;
    return true;
  }

  void Close(Flow* fl) {
    Finish(*fl, stats_);
    const uint32_t i = static_cast<uint32_t>(fl - flows_);
    std::memmove(&flows_[i], &flows_[i + 1], (count_ - i - 1) * sizeof(Flow));
    --count_;
  }

  void CloseAll() {
    for (uint32_t i = 0; i < count_; ++i) Finish(flows_[i], stats_);
    count_ = 0;
  }

 private:
  GroStats* stats_;
  uint32_t count_ = 0;
  Flow flows_[kGroMaxFlows];  // oldest first
};

}  // namespace

uint32_t CoalesceTcp(const BufferPool& pool, Buffer* const* in, uint32_t n, Buffer** out,
                     uint16_t* packets, GroStats* stats) noexcept {
  FlowTable table(stats);
  uint32_t w = 0;  // outputs so far; never ahead of the input read (out may be in)
  for (uint32_t i = 0; i < n; ++i) {
    Buffer* b = in[i];
    Segment s;
    const Kind kind = Classify(b, &s);
    if (kind == Kind::kBarrier) table.CloseAll();
    if (kind == Kind::kTcp) {
      if (Flow* fl = table.Find(b, s)) {
        bool ends = false;
        if (s.eligible && table.TryMerge(pool, *fl, b, s, &ends)) {
          ++packets[fl->slot];
          if (ends) table.Close(fl);
          continue;
        }
        table.Close(fl);  // whatever comes next of this flow must not pass this packet
      }
      // A segment with PSH is delivered at once, as the kernel does: it heads nothing.
      if (s.eligible && (b->data()[s.l4 + 13] & kTcpPsh) == 0) {
        table.Open(pool, b, s, static_cast<uint16_t>(w));
      }
    }
    out[w] = b;
    packets[w] = 1;
    ++w;
  }
  table.CloseAll();
  return w;
}

}  // namespace uplinkd::offload
