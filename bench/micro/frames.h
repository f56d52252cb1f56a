#pragma once
// Frames for the micro-benchmarks, built byte by byte, and checksum checks written independently
// of src/offload, so a benchmark can tell that the code it measures still computes the right
// thing.

#include <netinet/in.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "tests/common/buffer_chain.h"

namespace uplinkd::bench {

using testing_util::Bytes;

inline constexpr size_t kEthHeaderLen = 14;
inline constexpr size_t kIpv4HeaderLen = 20;
inline constexpr size_t kIpv6HeaderLen = 40;
inline constexpr size_t kUdpHeaderLen = 8;
inline constexpr size_t kTcpChecksumOffset = 16;  // within the TCP header
inline constexpr size_t kUdpChecksumOffset = 6;   // within the UDP header

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
// Writes `bytes` at b[at...]. Frames are sized once and written in place: growing a small vector
// with insert() then resize() trips GCC 12's -Warray-bounds false positive at -O3.
inline void PutBytes(Bytes& b, size_t at, std::initializer_list<uint8_t> bytes) {
  for (uint8_t v : bytes) b[at++] = v;
}

// Ones-complement sum of b[from, to) as big-endian 16-bit words, added to `sum` and folded.
inline uint32_t FoldedSum(const Bytes& b, size_t from, size_t to, uint32_t sum = 0) {
  for (size_t i = from; i < to; i += 2) {
    sum += static_cast<uint32_t>(b[i] << 8) | (i + 1 < to ? b[i + 1] : 0u);
    sum = (sum & 0xffff) + (sum >> 16);  // fold as we go: no overflow for any length
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);  // the loop may leave 0x10000
  return sum;
}

// A payload that is not all zeros, so a checksum or copy bug shows.
inline Bytes Pattern(size_t n) {
  Bytes p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return p;
}

struct Frame {
  Bytes bytes;
  size_t l3 = 0;       // IP header
  size_t l4 = 0;       // TCP/UDP header (csum_start)
  size_t hdr_len = 0;  // all headers: where the payload starts
  bool v4 = true;
};

// The pseudo-header sum of a frame's TCP/UDP checksum, folded but not complemented: what a
// virtio NEEDS_CSUM frame carries in its checksum field.
inline uint16_t PseudoHeaderSum(const Frame& f, uint8_t proto) {
  uint32_t sum = f.v4 ? FoldedSum(f.bytes, f.l3 + 12, f.l3 + 20)
                      : FoldedSum(f.bytes, f.l3 + 8, f.l3 + 40);
  sum += proto + static_cast<uint32_t>(f.bytes.size() - f.l4);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Ethernet, IPv4 (with its header checksum) or IPv6, then TCP with `tcp_header_len` bytes of
// header (20, or 32 with the timestamps option Linux sends) and a pattern payload: `frame_len`
// bytes in all. The TCP checksum field holds the pseudo-header sum (partial checksum, NEEDS_CSUM).
inline Frame MakeTcpFrame(bool v4, size_t tcp_header_len, size_t frame_len) {
  Frame f;
  f.v4 = v4;
  f.l3 = kEthHeaderLen;
  f.l4 = f.l3 + (v4 ? kIpv4HeaderLen : kIpv6HeaderLen);
  f.hdr_len = f.l4 + tcp_header_len;
  Bytes& b = f.bytes;
  b.assign(frame_len, 0);
  PutBytes(b, 0, {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1});  // dst, src MAC
  Put16(b, 12, v4 ? 0x0800 : 0x86dd);
  if (v4) {
    PutBytes(b, f.l3, {0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, IPPROTO_TCP, 0, 0,
                       198, 18, 0, 1, 198, 19, 0, 2});  // DF set, 198.18.0.1 -> 198.19.0.2
    Put16(b, f.l3 + 2, static_cast<uint16_t>(frame_len - f.l3));
    Put16(b, f.l3 + 10, static_cast<uint16_t>(~FoldedSum(b, f.l3, f.l4)));
  } else {
    b[f.l3] = 0x60;
    Put16(b, f.l3 + 4, static_cast<uint16_t>(frame_len - f.l4));
    b[f.l3 + 6] = IPPROTO_TCP;
    b[f.l3 + 7] = 64;
    PutBytes(b, f.l3 + 8, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    PutBytes(b, f.l3 + 24, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  }
  size_t t = f.l4;
  b[t + 0] = 0x9c;  // ports 40000 -> 5201
  b[t + 1] = 0x40;
  b[t + 2] = 0x14;
  b[t + 3] = 0x51;
  b[t + 4] = 0x10;  // sequence 0x10000000
  b[t + 8] = 0x11;  // ack number
  b[t + 12] = static_cast<uint8_t>((tcp_header_len / 4) << 4);
  b[t + 13] = 0x10 | 0x08;  // ACK PSH
  b[t + 14] = 0xff;         // window
  if (tcp_header_len == 32) {
    b[t + 20] = 1;  // NOP NOP timestamps
    b[t + 21] = 1;
    b[t + 22] = 8;
    b[t + 23] = 10;
  }
  Bytes payload = Pattern(frame_len - f.hdr_len);
  std::copy(payload.begin(), payload.end(), b.begin() + static_cast<ptrdiff_t>(f.hdr_len));
  Put16(b, t + kTcpChecksumOffset, PseudoHeaderSum(f, IPPROTO_TCP));
  return f;
}

// Ethernet, IPv4 and UDP (198.18.0.1:40000 -> 198.19.0.2:4789) with a pattern payload,
// `frame_len` bytes in all.
inline Frame MakeUdp4Frame(size_t frame_len) {
  Frame f;
  f.l3 = kEthHeaderLen;
  f.l4 = f.l3 + kIpv4HeaderLen;
  f.hdr_len = f.l4 + kUdpHeaderLen;
  Bytes& b = f.bytes;
  b.assign(frame_len, 0);
  PutBytes(b, 0, {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00});
  PutBytes(b, f.l3, {0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, IPPROTO_UDP, 0, 0,
                     198, 18, 0, 1, 198, 19, 0, 2});
  Put16(b, f.l3 + 2, static_cast<uint16_t>(frame_len - f.l3));
  Put16(b, f.l3 + 10, static_cast<uint16_t>(~FoldedSum(b, f.l3, f.l4)));
  Put16(b, f.l4 + 0, 40000);
  Put16(b, f.l4 + 2, 4789);
  Put16(b, f.l4 + 4, static_cast<uint16_t>(frame_len - f.l4));
  Bytes payload = Pattern(frame_len - f.hdr_len);
  std::copy(payload.begin(), payload.end(), b.begin() + static_cast<ptrdiff_t>(f.hdr_len));
  return f;
}

// The complete TCP checksum `f` should end up with, computed from scratch: the pseudo-header
// plus the TCP header and payload with the checksum field taken as zero; 0 is sent as 0xffff.
inline uint16_t ExpectedTcpChecksum(const Frame& f) {
  uint32_t pseudo = PseudoHeaderSum(f, IPPROTO_TCP);
  uint32_t sum = FoldedSum(f.bytes, f.l4, f.l4 + kTcpChecksumOffset, pseudo);
  sum = FoldedSum(f.bytes, f.l4 + kTcpChecksumOffset + 2, f.bytes.size(), sum);
  uint16_t csum = static_cast<uint16_t>(~sum);
  return csum == 0 ? 0xffff : csum;
}

// True when the TCP checksum of a finished IPv4 frame (`l3`, `l4` as in Frame) verifies.
inline bool Tcp4ChecksumValid(const Bytes& b, size_t l3, size_t l4) {
  uint32_t sum = FoldedSum(b, l3 + 12, l3 + 20);
  sum += IPPROTO_TCP + static_cast<uint32_t>(b.size() - l4);
  return FoldedSum(b, l4, b.size(), sum) == 0xffff;
}

inline bool Ipv4HeaderChecksumValid(const Bytes& b, size_t l3) {
  return FoldedSum(b, l3, l3 + kIpv4HeaderLen) == 0xffff;
}

}  // namespace uplinkd::bench
