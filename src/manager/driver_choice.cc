#include "manager/driver_choice.h"

#include <fmt/format.h>

namespace uplinkd {
namespace {

// "zero-copy (xdp-features)", or the copy-mode note that places af_xdp after af_packet.
std::string AfXdpZeroCopyNote(const UplinkFacts& uplink) {
  using Evidence = UplinkFacts::ZeroCopyEvidence;
  const char* how = uplink.af_xdp_zero_copy_evidence == Evidence::kTrialBind
                        ? "a trial bind on queue 0"
                        : "xdp-features";
  if (uplink.af_xdp_zero_copy) return fmt::format("zero-copy ({})", how);
  std::string why;
  if (uplink.af_xdp_zero_copy_evidence == Evidence::kUnknown) {
    why = fmt::format("copy mode assumed (zero-copy unknown: {})",
                      uplink.af_xdp_zero_copy_error.empty() ? "not probed"
                                                            : uplink.af_xdp_zero_copy_error);
  } else if (uplink.af_xdp_zero_copy_evidence == Evidence::kTrialBind) {
    why = fmt::format("copy mode only (driver {} refused a zero-copy AF_XDP bind on queue 0)",
                      uplink.kernel_driver);
  } else {
    why = fmt::format("copy mode only (driver {} reports no XSK zero-copy in xdp-features)",
                      uplink.kernel_driver);
  }
  return why + ": ranked after af_packet, which carries GSO super-frames whole";
}

DriverSupport AfXdpSupport(const UplinkFacts& uplink) {
  if (!uplink.af_xdp_blocker.empty()) return {"af_xdp", false, uplink.af_xdp_blocker};
  std::string mtu;
  if (uplink.af_xdp_multi_buffer || uplink.mtu <= kAfXdpMtuCap) {
    mtu = uplink.mtu > kAfXdpMtuCap ? ", jumbo frames as multi-buffer" : "";
  } else {
    mtu = fmt::format("; MTU {} lowered to {} for the run (no multi-buffer)", uplink.mtu,
                      kAfXdpMtuCap);
  }
  return {"af_xdp", true,
          fmt::format("AF_XDP sockets on {}{}; {}", uplink.name, mtu, AfXdpZeroCopyNote(uplink))};
}

}  // namespace

std::vector<DriverSupport> CheckDrivers(const UplinkFacts& uplink) {
  std::vector<DriverSupport> table;
  bool is_virtio = uplink.kernel_driver == "virtio_net" || uplink.kernel_driver == "virtio-pci";
  bool is_avf = uplink.kernel_driver == "iavf" || uplink.kernel_driver == "i40evf";
  table.push_back({"virtio", false,
                   is_virtio ? "the native virtio driver is not part of this build yet"
                             : fmt::format("kernel driver is '{}', not virtio_net",
                                           uplink.kernel_driver)});
  table.push_back({"avf", false,
                   is_avf ? "the native AVF driver is not part of this build yet"
                          : fmt::format("kernel driver is '{}', not iavf", uplink.kernel_driver)});
  DriverSupport af_xdp = AfXdpSupport(uplink);
  if (uplink.af_xdp_zero_copy) table.push_back(af_xdp);
  if (!uplink.dpdk_built) {
    table.push_back({"dpdk", false, "this build has no dpdk driver (UPLINKD_WITH_DPDK=OFF)"});
  } else if (!uplink.dpdk_vdev.empty()) {
    table.push_back({"dpdk", true, fmt::format("the template's vdev {} on {}", uplink.dpdk_vdev,
                                               uplink.name)});
  } else if (uplink.pci_id.empty()) {
    table.push_back({"dpdk", false,
                     fmt::format("{} is not a PCI device and the template's dpdk {{ }} has no "
                                 "vdev ...,iface={}", uplink.name, uplink.name)});
  } else if (uplink.dpdk_noiommu_without_hugepages) {
    table.push_back({"dpdk", false,
                     "no free hugepages and vfio in no-IOMMU mode: DPDK without hugepages needs "
                     "an IOMMU (the Calico guide's caution)"});
  } else {
    table.push_back({"dpdk", true,
                     fmt::format("PCI {} bound to {} for the run (from {})", uplink.pci_id,
                                 uplink.dpdk_pci_driver,
                                 uplink.pci_driver.empty() ? "no driver" : uplink.pci_driver)});
  }
  table.push_back({"af_packet", true, "works on any interface"});
  if (!uplink.af_xdp_zero_copy) table.push_back(af_xdp);
  table.push_back({"none", true,
                   "interfaces come from the exec template (never chosen automatically)",
                   /*automatic=*/false});
  return table;
}

std::vector<DriverSupport> Candidates(const std::vector<DriverSupport>& table,
                                      const std::string& requested) {
  std::vector<DriverSupport> out;
  for (const DriverSupport& d : table) {
    if (requested.empty() ? d.supported && d.automatic : d.driver == requested) out.push_back(d);
  }
  if (!requested.empty() && out.empty()) out.push_back({requested, false, "unknown driver"});
  return out;
}

std::string FormatDriverTable(const std::vector<DriverSupport>& table) {
  std::string out = fmt::format("{:<12}{:<12}{}\n", "driver", "supported", "why");
  for (const DriverSupport& d : table) {
    out += fmt::format("{:<12}{:<12}{}\n", d.driver, d.supported ? "yes" : "no", d.reason);
  }
  return out;
}

std::string FormatAutoOrder(const std::vector<DriverSupport>& candidates) {
  std::string out;
  for (const DriverSupport& d : candidates) {
    if (!out.empty()) out += ", then ";
    out += fmt::format("{} ({})", d.driver, d.reason);
  }
  return out.empty() ? "no driver" : out;
}

}  // namespace uplinkd
