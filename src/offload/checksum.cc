#include "offload/checksum.h"

#include <endian.h>
#include <linux/if_ether.h>
#include <netinet/in.h>

#include <cstring>

#include "offload/bytes.h"

namespace uplinkd::offload {
namespace {

// Longest chain walked (a 64 KiB frame in 256-byte buffers, with room to spare): a corrupt
// chain cannot hold the worker.
constexpr uint32_t kMaxWalk = 320;

// Byte `pos` of a chain, or nullptr past its end.
uint8_t* ChainByte(const BufferPool& pool, Buffer* b, uint32_t pos) {
  for (uint32_t i = 0; i < kMaxWalk; ++i) {
    if (pos < b->length) return b->data() + pos;
    pos -= b->length;
    if (!b->has_next()) return nullptr;
    b = pool.FromIndex(b->next);
  }
  return nullptr;
}

}  // namespace

uint64_t SumWords(const uint8_t* p, size_t len) noexcept {
  // RFC 1071 1.2: the sum does not depend on byte order, so add 32-bit words as the host reads
  // them (a 64-bit accumulator cannot overflow below 2^32 of them), fold, and swap the folded
  // result into network order. Software verification of every coalesced segment runs this.
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    uint32_t w;
    std::memcpy(&w, p + i, 4);
    sum += w;
  }
  if (i + 2 <= len) {
    uint16_t w;
    std::memcpy(&w, p + i, 2);
    sum += w;
    i += 2;
  }
  if (i < len) {
    uint16_t w = 0;  // the last byte is the high (first) byte of a zero-padded word
    std::memcpy(&w, p + i, 1);
    sum += w;
  }
  uint16_t folded = FoldSum(sum);
  return be16toh(folded);
}

uint16_t FoldSum(uint64_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

bool FindL4Checksum(const uint8_t* frame, uint32_t len, uint32_t* csum_start,
                    uint32_t* csum_offset, uint8_t* proto_out) noexcept {
  if (len < ETH_HLEN) return false;
  uint32_t l3 = ETH_HLEN;
  uint16_t type = Be16(frame + 12);
  for (int i = 0; i < 2 && (type == ETH_P_8021Q || type == ETH_P_8021AD); ++i) {
    if (len < l3 + 4) return false;
    type = Be16(frame + l3 + 2);
    l3 += 4;
  }
  uint32_t l4 = 0;
  uint8_t proto = 0;
  if (type == ETH_P_IP) {
    if (len < l3 + 20) return false;
    if ((Be16(frame + l3 + 6) & 0x3fff) != 0) return false;  // a fragment: no L4 header here
    l4 = l3 + (frame[l3] & 0x0f) * 4u;
    proto = frame[l3 + 9];
  } else if (type == ETH_P_IPV6) {
    if (len < l3 + 40) return false;
    proto = frame[l3 + 6];
    l4 = l3 + 40;
    // Hop-by-hop, routing and destination options may precede TCP/UDP; bounded walk.
    for (int i = 0; i < 4 && (proto == 0 || proto == 43 || proto == 60); ++i) {
      if (len < l4 + 8) return false;
      proto = frame[l4];
      l4 += (frame[l4 + 1] + 1u) * 8;
    }
  } else {
    return false;
  }
  uint32_t offset = proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 0;
  if (offset == 0 || l4 + offset + 2 > len) return false;
  *csum_start = l4;
  *csum_offset = offset;
  if (proto_out != nullptr) *proto_out = proto;
  return true;
}

void CompleteChecksum(uint8_t* frame, uint32_t len, uint32_t csum_start,
                      uint32_t csum_offset) noexcept {
  if (csum_start + csum_offset + 2 > len) return;
  uint16_t folded = static_cast<uint16_t>(~FoldSum(SumWords(frame + csum_start, len - csum_start)));
  if (folded == 0) folded = 0xffff;
  frame[csum_start + csum_offset] = static_cast<uint8_t>(folded >> 8);
  frame[csum_start + csum_offset + 1] = static_cast<uint8_t>(folded);
}

uint64_t SumChain(const BufferPool& pool, const Buffer* head, uint32_t start) noexcept {
  uint64_t sum = 0;
  uint32_t pos = 0;  // chain offset of the current segment
  const Buffer* b = head;
  for (uint32_t i = 0; i < kMaxWalk; ++i) {
    uint32_t end = pos + b->length;
    if (end > start) {
      uint32_t from = pos > start ? pos : start;
      uint64_t part = SumWords(b->data() + (from - pos), end - from);
      // A piece starting at an odd distance from `start` has its bytes swapped in the sum.
      if ((from - start) & 1) {
        uint16_t f = FoldSum(part);
        part = static_cast<uint16_t>(f << 8 | f >> 8);
      }
      sum += part;
    }
    pos = end;
    if (!b->has_next()) break;
    b = pool.FromIndex(b->next);
  }
  return sum;
}

uint64_t PseudoHeaderSum(const uint8_t* frame, uint32_t l3, bool v4, uint8_t proto,
                         uint32_t l4_len) noexcept {
  const uint64_t addresses = v4 ? SumWords(frame + l3 + 12, 8) : SumWords(frame + l3 + 8, 32);
  return addresses + proto + l4_len;
}

void CompleteChainChecksum(const BufferPool& pool, Buffer* head) noexcept {
  const uint32_t start = head->csum_start;
  uint8_t* hi = ChainByte(pool, head, start + head->csum_offset);
  uint8_t* lo = ChainByte(pool, head, start + head->csum_offset + 1);
  if (hi == nullptr || lo == nullptr) return;
  // The field held the pseudo-header sum and is part of the sum, as the kernel expects.
  uint16_t folded = static_cast<uint16_t>(~FoldSum(SumChain(pool, head, start)));
  if (folded == 0) folded = 0xffff;
  *hi = static_cast<uint8_t>(folded >> 8);
  *lo = static_cast<uint8_t>(folded);
  head->offload_flags &= static_cast<uint8_t>(~Buffer::kOffloadNeedsCsum);
}

}  // namespace uplinkd::offload
