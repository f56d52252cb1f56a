#pragma once
// Test helpers of the offload tests: TCP frames as byte vectors, and an Internet checksum
// written independently of the code under test.

#include <netinet/in.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tests/common/buffer_chain.h"

namespace uplinkd::offload::test {

using testing_util::Bytes;

inline uint16_t Get16(const Bytes& b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}
inline uint32_t Get32(const Bytes& b, size_t at) {
  return static_cast<uint32_t>(Get16(b, at)) << 16 | Get16(b, at + 2);
}
inline void Put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
inline void Put32(Bytes& b, size_t at, uint32_t v) {
  Put16(b, at, static_cast<uint16_t>(v >> 16));
  Put16(b, at + 2, static_cast<uint16_t>(v));
}

// Ones-complement sum over a byte range, folded.
inline uint32_t Sum(const Bytes& b, size_t from, size_t to, uint32_t sum = 0) {
  for (size_t i = from; i < to; i += 2) {
    sum += static_cast<uint32_t>(b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}
// The pseudo-header sum of a TCP frame whose L4 part runs from l4 to the end.
inline uint32_t PseudoSum(const Bytes& f, size_t l3, size_t l4, bool v4) {
  uint32_t pseudo = v4 ? Sum(f, l3 + 12, l3 + 20) : Sum(f, l3 + 8, l3 + 40);
  pseudo += IPPROTO_TCP + static_cast<uint32_t>(f.size() - l4);
  while (pseudo >> 16) pseudo = (pseudo & 0xffff) + (pseudo >> 16);
  return pseudo;
}
inline bool TcpChecksumValid(const Bytes& f, size_t l3, size_t l4, bool v4) {
  return Sum(f, l4, f.size(), PseudoSum(f, l3, l4, v4)) == 0xffff;
}

inline Bytes Pattern(size_t n, uint8_t seed = 0) {
  Bytes p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(seed + i * 7 + i / 251);
  return p;
}

// What a TCP frame holds besides its payload; the defaults make one ACK segment of flow
// 198.18.0.1:40000 -> 198.19.0.2:5201 (2001:db8::1 -> ::2) with a timestamps option.
struct TcpSpec {
  bool v4 = true;
  int vlans = 0;  // 802.1Q tags
  uint32_t seq = 0xfffffc00;  // segments wrap around 2^32
  uint32_t ack = 0x11000000;
  uint8_t flags = 0x10;
  uint16_t sport = 40000, dport = 5201;
  uint16_t ip_id = 0x1234;
  bool df = true;
  uint8_t tos = 0, ttl = 64;
  uint16_t window = 0xff00;
  uint32_t tsval = 0;
  bool ip_options = false;  // IPv4: one 4-byte option (IHL 6)
};

// A TCP frame: Ethernet (with spec.vlans 802.1Q tags), IPv4 or IPv6, a TCP header with 12 bytes
// of options (NOP NOP timestamps), then `payload`. Lengths are those of the whole
// (super-)frame; checksums are left 0 (WithChecksums fills them in).
struct TcpFrame {
  Bytes bytes;
  size_t l3 = 0, l4 = 0, hdr_len = 0;
  bool v4 = true;
};
inline TcpFrame MakeTcpFrame(const TcpSpec& spec, const Bytes& payload) {
  TcpFrame t;
  t.v4 = spec.v4;
  Bytes& b = t.bytes;
  b = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  for (int i = 0; i < spec.vlans; ++i) {
    b.insert(b.end(), {0x81, 0x00, 0x00, static_cast<uint8_t>(10 + i)});
  }
  b.insert(b.end(), {static_cast<uint8_t>(spec.v4 ? 0x08 : 0x86),
                     static_cast<uint8_t>(spec.v4 ? 0x00 : 0xdd)});
  t.l3 = b.size();
  const size_t tcp_len = 32 + payload.size();
  if (spec.v4) {
    Bytes ip = {0x45, spec.tos, 0, 0, 0, 0, static_cast<uint8_t>(spec.df ? 0x40 : 0), 0,
                spec.ttl, IPPROTO_TCP, 0, 0, 198, 18, 0, 1, 198, 19, 0, 2};
    if (spec.ip_options) {
      ip[0] = 0x46;
      ip.insert(ip.end(), {1, 1, 1, 0});  // NOP NOP NOP EOL
    }
    Put16(ip, 4, spec.ip_id);
    b.insert(b.end(), ip.begin(), ip.end());
    Put16(b, t.l3 + 2, static_cast<uint16_t>(ip.size() + tcp_len));
  } else {
    Bytes ip(40, 0);
    ip[0] = 0x60 | spec.tos >> 4;
    ip[1] = static_cast<uint8_t>(spec.tos << 4);
    ip[6] = IPPROTO_TCP;
    ip[7] = spec.ttl;
    Bytes src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    Bytes dst = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    std::copy(src.begin(), src.end(), ip.begin() + 8);
    std::copy(dst.begin(), dst.end(), ip.begin() + 24);
    b.insert(b.end(), ip.begin(), ip.end());
    Put16(b, t.l3 + 4, static_cast<uint16_t>(tcp_len));
  }
  t.l4 = b.size();
  Bytes tcp(32, 0);
  Put16(tcp, 0, spec.sport);
  Put16(tcp, 2, spec.dport);
  Put32(tcp, 4, spec.seq);
  Put32(tcp, 8, spec.ack);
  tcp[12] = 8 << 4;
  tcp[13] = spec.flags;
  Put16(tcp, 14, spec.window);
  tcp[20] = 1;  // NOP NOP timestamps
  tcp[21] = 1;
  tcp[22] = 8;
  tcp[23] = 10;
  Put32(tcp, 24, spec.tsval);
  b.insert(b.end(), tcp.begin(), tcp.end());
  t.hdr_len = b.size();
  b.insert(b.end(), payload.begin(), payload.end());
  return t;
}
inline TcpFrame MakeTcpFrame(bool v4, int vlans, const Bytes& payload, uint8_t flags) {
  TcpSpec spec;
  spec.v4 = v4;
  spec.vlans = vlans;
  spec.flags = flags;
  return MakeTcpFrame(spec, payload);
}

// The frame with a valid IPv4 header checksum and a complete TCP checksum, as a sender puts
// them on the wire.
inline TcpFrame WithChecksums(TcpFrame t) {
  Bytes& f = t.bytes;
  if (t.v4) {
    Put16(f, t.l3 + 10, 0);
    Put16(f, t.l3 + 10, static_cast<uint16_t>(~Sum(f, t.l3, t.l4)));
  }
  Put16(f, t.l4 + 16, 0);
  Put16(f, t.l4 + 16,
        static_cast<uint16_t>(~Sum(f, t.l4, f.size(), PseudoSum(f, t.l3, t.l4, t.v4))));
  return t;
}

}  // namespace uplinkd::offload::test
