#pragma once
// The graph's nodes and their drop reasons. Per-node statistics feed `show runtime`; per-reason
// drop counters feed `show errors` (VPP's error strings).

#include <atomic>
#include <cstdint>

namespace uplinkd {

enum class NodeId : uint8_t {
  kAfPacketInput,
  kAfXdpInput,
  kTapInput,
  kMemInput,
  kDeviceInput,  // any other driver
  kL2Xconnect,
  kInterfaceTx,
  kErrorDrop,
  kCount,
};
inline constexpr int kNodeCount = static_cast<int>(NodeId::kCount);
const char* NodeName(NodeId node);

enum class DropReason : uint8_t {
  kInterfaceDown,   // l2-xconnect: output interface is down
  kNoXconnect,      // l2-xconnect: input interface has no cross-connect
  kTxFailed,        // interface-tx: driver refused (ring full, error)
  kCount,
};
inline constexpr int kDropReasonCount = static_cast<int>(DropReason::kCount);
const char* DropReasonText(DropReason reason);
NodeId DropReasonNode(DropReason reason);
const char* DropReasonSeverity(DropReason reason);

struct alignas(64) NodeStats {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> vectors{0};
  std::atomic<uint64_t> clocks{0};
};

}  // namespace uplinkd
