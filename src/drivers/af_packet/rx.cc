// af_packet receive path: walks the PACKET_MMAP RX ring (TPACKET_V3 blocks or TPACKET_V2 frames),
// copies each frame into a buffer chain and hands the ring memory back to the kernel.
// Hot path: no allocation, logging, locks or exceptions.

#include <endian.h>
#include <linux/if_ether.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "drivers/af_packet/af_packet_internal.h"
#include "offload/checksum.h"

namespace uplinkd::af_packet {
namespace {

inline uint32_t LoadAcquire(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
inline void StoreRelease(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// Where the sockaddr_ll the kernel writes behind each frame header sits.
inline const sockaddr_ll* SllOf(const uint8_t* hdr, size_t hdr_size) {
  return reinterpret_cast<const sockaddr_ll*>(hdr + TPACKET_ALIGN(hdr_size));
}

// Copies up to three source pieces into the chain segs[0..nseg), each segment holding up to
// `data_size` bytes.
struct Piece {
  const uint8_t* p;
  uint32_t len;
};
void ScatterPieces(const Piece* pieces, int npieces, Buffer** segs, uint32_t data_size) {
  uint32_t seg = 0;
  uint32_t room = data_size;
  uint8_t* dst = segs[0]->data();
  for (int i = 0; i < npieces; ++i) {
    const uint8_t* src = pieces[i].p;
    uint32_t left = pieces[i].len;
    while (left > 0) {
      if (room == 0) {
        segs[seg]->length = static_cast<uint16_t>(data_size);
        ++seg;
        dst = segs[seg]->data();
        room = data_size;
      }
      uint32_t n = std::min(left, room);
      std::memcpy(dst, src, n);
      dst += n;
      src += n;
      left -= n;
      room -= n;
    }
  }
  segs[seg]->length = static_cast<uint16_t>(data_size - room);
}

}  // namespace

AfPacketRxQueue::AfPacketRxQueue(MappedSocket socket, const RingLayout& layout, bool v3,
                                 bool vnet_hdr, BufferPool& pool)
    : fd_(socket.fd()),
      ring_(socket.ring()),
      v3_(v3),
      vnet_hdr_(vnet_hdr),
      data_size_(pool.data_size()),
      block_size_(layout.block_size),
      block_nr_(layout.block_nr),
      frame_size_(layout.frame_size),
      frames_per_block_(layout.frames_per_block()),
      frame_nr_(layout.frame_nr),
      next_(0),
      socket_(static_cast<MappedSocket&&>(socket)) {}

void AfPacketRxQueue::Close() noexcept {
  fd_ = -1;
  ring_ = nullptr;
  socket_.Reset();
}

uint16_t AfPacketRxQueue::Receive(BufferCache& cache, Buffer** out, uint16_t max) noexcept {
  if (ring_ == nullptr) return 0;
  return v3_ ? ReceiveV3(cache, out, max) : ReceiveV2(cache, out, max);
}

Buffer* AfPacketRxQueue::TakeFrame(BufferCache& cache, uint8_t* mac, uint32_t snaplen,
                                   uint32_t len, uint32_t status, uint8_t pkttype,
                                   uint16_t vlan_tci, uint16_t vlan_tpid) noexcept {
  // Our own transmissions: PACKET_IGNORE_OUTGOING should have kept them out already.
  if (pkttype == PACKET_OUTGOING) return nullptr;
  // The kernel truncates frames that do not fit a ring frame/block: never pass a cut frame on.
  if (snaplen < len || len < ETH_HLEN) {
    counters.Add(counters.drops_too_long, 1);
    return nullptr;
  }
  // The kernel strips VLAN tags into the frame header; put them back where they were.
  bool has_tag = (status & TP_STATUS_VLAN_VALID) != 0;
  uint32_t total = len + (has_tag ? 4 : 0);
  uint32_t nseg = (total + data_size_ - 1) / data_size_;
  if (nseg > kMaxChainSegments) {
    counters.Add(counters.drops_too_long, 1);
    return nullptr;
  }

  uint8_t flags = 0, gso_type = 0;
  uint16_t gso_size = 0, csum_start = 0, csum_offset = 0;
  if (vnet_hdr_) {
    const auto* vh = reinterpret_cast<const VirtioNetHdr*>(mac - kVnetHdrSize);
    if (vh->flags & kVnetFlagNeedsCsum) {
      flags |= Buffer::kOffloadNeedsCsum;
      // The kernel counts csum_start from the untagged frame.
      csum_start = static_cast<uint16_t>(le16toh(vh->csum_start) + (has_tag ? 4 : 0));
      csum_offset = le16toh(vh->csum_offset);
    }
    if (vh->flags & kVnetFlagDataValid) flags |= Buffer::kOffloadDataValid;
    if (vh->gso_type != kVnetGsoNone) {
      gso_type = vh->gso_type;
      gso_size = le16toh(vh->gso_size);
    }
  } else {
    if (status & TP_STATUS_CSUMNOTREADY) {
      // A local sender left the checksum to "hardware" and nobody downstream of us will do it:
      // finish it here, in the ring frame we own until it is released.
      uint32_t start = 0, offset = 0;
      if (offload::FindL4Checksum(mac, len, &start, &offset)) {
        offload::CompleteChecksum(mac, len, start, offset);
      }
    }
    if (status & TP_STATUS_CSUM_VALID) flags |= Buffer::kOffloadDataValid;
  }

  Buffer* segs[kMaxChainSegments];
  uint32_t got = cache.Alloc(segs, nseg);
  if (got < nseg) {
    cache.Free(segs, got);
    counters.Add(counters.drops_no_buffer, 1);
    return nullptr;
  }
  if (has_tag) {
    uint16_t tpid = (status & TP_STATUS_VLAN_TPID_VALID) && vlan_tpid != 0 ? vlan_tpid
                                                                           : ETH_P_8021Q;
    uint8_t tag[4] = {static_cast<uint8_t>(tpid >> 8), static_cast<uint8_t>(tpid),
                      static_cast<uint8_t>(vlan_tci >> 8), static_cast<uint8_t>(vlan_tci)};
    Piece pieces[3] = {{mac, 12}, {tag, 4}, {mac + 12, len - 12}};
    ScatterPieces(pieces, 3, segs, data_size_);
  } else {
    Piece piece{mac, len};
    ScatterPieces(&piece, 1, segs, data_size_);
  }
  for (uint32_t i = 0; i + 1 < nseg; ++i) {
    segs[i]->flags |= Buffer::kNextValid;
    segs[i]->next = segs[i + 1]->index;
  }
  Buffer* head = segs[0];
  head->total_length = total;
  head->offload_flags = flags;
  head->gso_type = gso_type;
  head->gso_size = gso_size;
  head->csum_start = csum_start;
  head->csum_offset = csum_offset;
  return head;
}

uint16_t AfPacketRxQueue::ReceiveV2(BufferCache& cache, Buffer** out, uint16_t max) noexcept {
  uint16_t n = 0;
  // Bounded by the ring size: each pass either hands a frame back or stops.
  for (uint32_t seen = 0; n < max && seen < frame_nr_; ++seen) {
    uint8_t* frame = ring_ + static_cast<size_t>(next_ / frames_per_block_) * block_size_ +
                     static_cast<size_t>(next_ % frames_per_block_) * frame_size_;
    auto* h = reinterpret_cast<tpacket2_hdr*>(frame);
    uint32_t status = LoadAcquire(&h->tp_status);
    if ((status & TP_STATUS_USER) == 0) break;
    const sockaddr_ll* sll = SllOf(frame, sizeof(tpacket2_hdr));
    Buffer* b = TakeFrame(cache, frame + h->tp_mac, h->tp_snaplen, h->tp_len, status,
                          sll->sll_pkttype, h->tp_vlan_tci, h->tp_vlan_tpid);
    StoreRelease(&h->tp_status, TP_STATUS_KERNEL);
    next_ = next_ + 1 == frame_nr_ ? 0 : next_ + 1;
    if (b != nullptr) out[n++] = b;
  }
  return n;
}

uint16_t AfPacketRxQueue::ReceiveV3(BufferCache& cache, Buffer** out, uint16_t max) noexcept {
  uint16_t n = 0;
  // At most one pass over the ring per call.
  for (uint32_t blocks = 0; n < max && blocks <= block_nr_; ++blocks) {
    auto* desc = reinterpret_cast<tpacket_block_desc*>(ring_ + static_cast<size_t>(next_) *
                                                                   block_size_);
    if (next_pkt_ == nullptr) {
      if ((LoadAcquire(&desc->hdr.bh1.block_status) & TP_STATUS_USER) == 0) break;
      pkts_left_ = desc->hdr.bh1.num_pkts;
      next_pkt_ = reinterpret_cast<uint8_t*>(desc) + desc->hdr.bh1.offset_to_first_pkt;
    }
    while (pkts_left_ > 0 && n < max) {
      auto* h = reinterpret_cast<tpacket3_hdr*>(next_pkt_);
      const sockaddr_ll* sll = SllOf(next_pkt_, sizeof(tpacket3_hdr));
      Buffer* b = TakeFrame(cache, next_pkt_ + h->tp_mac, h->tp_snaplen, h->tp_len, h->tp_status,
                            sll->sll_pkttype, static_cast<uint16_t>(h->hv1.tp_vlan_tci),
                            h->hv1.tp_vlan_tpid);
      if (b != nullptr) out[n++] = b;
      next_pkt_ += h->tp_next_offset;
      --pkts_left_;
    }
    if (pkts_left_ > 0) break;  // `out` is full; resume inside this block next time
    StoreRelease(&desc->hdr.bh1.block_status, TP_STATUS_KERNEL);
    next_pkt_ = nullptr;
    next_ = next_ + 1 == block_nr_ ? 0 : next_ + 1;
  }
  return n;
}

void AfPacketRxQueue::RefreshCounters() {
  // The kernel counts frames it could not put in the ring; reading resets its count.
  if (fd_ < 0) return;
  tpacket_stats_v3 stats{};
  socklen_t len = sizeof stats;
  if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &stats, &len) == 0 && stats.tp_drops > 0) {
    counters.Add(counters.drops_kernel, stats.tp_drops);
  }
}

}  // namespace uplinkd::af_packet
