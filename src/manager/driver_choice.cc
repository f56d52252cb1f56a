#include "manager/driver_choice.h"

#include <fmt/format.h>

namespace uplinkd {

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
  if (!uplink.af_xdp_blocker.empty()) {
    table.push_back({"af_xdp", false, uplink.af_xdp_blocker});
  } else if (uplink.af_xdp_multi_buffer || uplink.mtu <= kAfXdpMtuCap) {
    table.push_back({"af_xdp", true,
                     fmt::format("AF_XDP sockets on {}{}", uplink.name,
                                 uplink.mtu > kAfXdpMtuCap ? ", jumbo frames as multi-buffer" : "")});
  } else {
    table.push_back({"af_xdp", true,
                     fmt::format("AF_XDP sockets on {}; MTU {} lowered to {} for the run (no "
                                 "multi-buffer)", uplink.name, uplink.mtu, kAfXdpMtuCap)});
  }
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

}  // namespace uplinkd
