#include "graph/nodes.h"

namespace uplinkd {

const char* NodeName(NodeId node) {
  switch (node) {
    case NodeId::kAfPacketInput:
      return "af-packet-input";
    case NodeId::kAfXdpInput:
      return "af-xdp-input";
    case NodeId::kTapInput:
      return "tap-input";
    case NodeId::kMemInput:
      return "mem-input";
    case NodeId::kDeviceInput:
      return "device-input";
    case NodeId::kL2Xconnect:
      return "l2-xconnect";
    case NodeId::kInterfaceTx:
      return "interface-tx";
    case NodeId::kErrorDrop:
      return "error-drop";
    case NodeId::kCount:
      break;
  }
  return "unknown";
}

const char* DropReasonText(DropReason reason) {
  switch (reason) {
    case DropReason::kInterfaceDown:
      return "output interface is down";
    case DropReason::kNoXconnect:
      return "input interface has no l2 xconnect";
    case DropReason::kTxFailed:
      return "tx ring full or tx error";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

NodeId DropReasonNode(DropReason reason) {
  return reason == DropReason::kTxFailed ? NodeId::kInterfaceTx : NodeId::kL2Xconnect;
}

const char* DropReasonSeverity(DropReason /*reason*/) { return "error"; }

}  // namespace uplinkd
