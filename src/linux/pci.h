#pragma once
// PCI device driver binding through sysfs, as dpdk-devbind and Calico's vpp-manager do it: the
// device is unbound from its driver, `driver_override` names the new one, and the new driver is
// asked to probe it; giving it back clears the override and binds the original driver again.
// Cold, control plane. The sysfs root is a parameter so the tests can use a tree of their own.

#include <string>

#include "common/status.h"

namespace uplinkd {

class PciSysfs {
 public:
  explicit PciSysfs(std::string root = "/sys/bus/pci") : root_(std::move(root)) {}

  // The driver the device is bound to ("" when none), or an error when there is no such device.
  Result<std::string> CurrentDriver(const std::string& pci_id) const;
  // The network interface the device has now ("" when none, e.g. bound to vfio-pci), as the
  // sysfs mount's network namespace sees it.
  std::string NetdevName(const std::string& pci_id) const;
  // Whether a PCI driver of that name is registered (its module loaded).
  bool DriverRegistered(const std::string& driver) const;
  // Binds the device to `driver` (unbinding it from its current one first); checks the result.
  Status Bind(const std::string& pci_id, const std::string& driver) const;
  // Gives the device back to `driver` (its original): clears driver_override, unbinds whatever
  // holds it, binds `driver`. Idempotent.
  Status Restore(const std::string& pci_id, const std::string& driver) const;

  const std::string& root() const { return root_; }

 private:
  std::string DevicePath(const std::string& pci_id) const { return root_ + "/devices/" + pci_id; }
  std::string root_;
};

// `modprobe NAME` (vfio-pci, uio_pci_generic); OK when it is loaded afterwards.
Status LoadKernelModule(const std::string& name);

// vfio's no-IOMMU mode (/sys/module/vfio/parameters/enable_unsafe_noiommu_mode is Y).
bool VfioNoIommuMode();

}  // namespace uplinkd
