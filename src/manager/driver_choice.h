#pragma once
// Which uplink driver the manager uses: every driver says whether it can take this uplink and
// why (the `uplinkd manager --check` table); auto selection tries the supported ones, most
// performant first, falling back to the next when one fails to start. af_xdp is the most
// performant only where its sockets run zero-copy: in copy mode (veth, virtio_net, most drivers)
// each frame is copied and a GSO super-frame must be cut to the MTU first, while af_packet with
// virtio-net headers carries super-frames whole (node TCP on a veth: 7x faster through af_packet).

#include <cstdint>
#include <string>
#include <vector>

namespace uplinkd {

struct UplinkFacts {         // what the snapshot says about the uplink
  std::string name;
  std::string kernel_driver;  // ethtool drvinfo: "veth", "virtio_net", "iavf", ...
  std::string pci_id;         // "" when not a PCI device
  uint32_t mtu = 1500;
  // af_xdp: what stops it here ("" = nothing): built without it, a kernel older than 5.4, or
  // someone else's XDP program attached to the uplink (never replaced).
  std::string af_xdp_blocker;
  bool af_xdp_multi_buffer = false;  // jumbo frames as multi-buffer (else the MTU is capped)
  // Whether AF_XDP runs zero-copy here (linux/xdp_features.h), and how that was learnt:
  // kUnknown when it was not asked (af_xdp blocked) or the probe failed (`_error` says why).
  enum class ZeroCopyEvidence { kUnknown, kXdpFeatures, kTrialBind };
  bool af_xdp_zero_copy = false;
  ZeroCopyEvidence af_xdp_zero_copy_evidence = ZeroCopyEvidence::kUnknown;
  std::string af_xdp_zero_copy_error;
  // dpdk: built in; the template's vdev on this interface ("" = none); the PCI driver the
  // device would be bound to; whether hugepages are lacking where vfio has no IOMMU.
  bool dpdk_built = false;
  std::string dpdk_vdev;
  std::string pci_driver;         // what the PCI device is bound to now ("virtio-pci")
  std::string dpdk_pci_driver = "vfio-pci";
  bool dpdk_noiommu_without_hugepages = false;
};

// af_xdp without multi-buffer caps the uplink's MTU for the run (as the Calico/VPP guide
// does); it is restored afterwards.
inline constexpr uint32_t kAfXdpMtuCap = 3072;
// The MTU the uplink runs with under af_xdp: its own with multi-buffer, else capped at
// kAfXdpMtuCap and at what one buffer holds (`buffer_mtu`, from the buffers' data-size).
inline uint32_t AfXdpRunMtu(uint32_t mtu, bool multi_buffer, uint32_t buffer_mtu = UINT32_MAX) {
  if (multi_buffer) return mtu;
  uint32_t cap = buffer_mtu < kAfXdpMtuCap ? buffer_mtu : kAfXdpMtuCap;
  return mtu <= cap ? mtu : cap;
}

struct DriverSupport {
  std::string driver;     // af_packet, af_xdp, dpdk, virtio, avf, none
  bool supported = false;
  std::string reason;     // why (not): shown in --check and in the log
  bool automatic = true;  // auto selection may pick it (`none` only when named)
};

// Every driver, in auto-selection order: virtio/avf, af_xdp where it runs zero-copy, dpdk,
// af_packet, else af_xdp (copy mode: still supported, and taken when named); `none` last and
// never chosen automatically. Each reason says why the driver stands where it does.
std::vector<DriverSupport> CheckDrivers(const UplinkFacts& uplink);

// The drivers to try: the explicit one alone (when its check failed, the manager refuses it
// with the reason before changing anything), or the supported automatic ones in order when
// `requested` is empty (auto).
std::vector<DriverSupport> Candidates(const std::vector<DriverSupport>& table,
                                      const std::string& requested);

std::string FormatDriverTable(const std::vector<DriverSupport>& table);

// The order auto tries `candidates` in, with each one's reason, for the log: "af_packet (works
// on any interface), then af_xdp (...)".
std::string FormatAutoOrder(const std::vector<DriverSupport>& candidates);

}  // namespace uplinkd
