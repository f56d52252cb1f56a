#include "linux/pci.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <filesystem>
#include <fstream>

#include "common/log.h"

namespace uplinkd {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Writes `value` to a sysfs attribute in one write, as the kernel wants it.
Status WriteAttribute(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  if (!out) return ErrnoFailure("open {}", path);
  out << value;
  out.flush();
  if (!out) return ErrnoFailure("write '{}' to {}", value, path);
  return Status::Ok();
}

}  // namespace

Result<std::string> PciSysfs::CurrentDriver(const std::string& pci_id) const {
  std::string dev = DevicePath(pci_id);
  if (!Exists(dev)) return Failure(ENODEV, "no PCI device {} ({})", pci_id, dev);
  char target[PATH_MAX] = {0};
  ssize_t n = readlink((dev + "/driver").c_str(), target, sizeof target - 1);
  if (n < 0) return std::string();  // not bound
  std::string t(target, static_cast<size_t>(n));
  return t.substr(t.rfind('/') + 1);
}

std::string PciSysfs::NetdevName(const std::string& pci_id) const {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(DevicePath(pci_id) + "/net", ec)) {
    return entry.path().filename().string();
  }
  return "";
}

bool PciSysfs::DriverRegistered(const std::string& driver) const {
  return Exists(root_ + "/drivers/" + driver);
}

Status PciSysfs::Bind(const std::string& pci_id, const std::string& driver) const {
  auto current = CurrentDriver(pci_id);
  if (!current.ok()) return current.status();
  if (*current == driver) return Status::Ok();
  if (!DriverRegistered(driver)) {
    return Failure(ENOENT, "PCI driver {} is not loaded (no {}/drivers/{})", driver, root_, driver);
  }
  std::string dev = DevicePath(pci_id);
  if (!current->empty()) {
    UPLINKD_RETURN_IF_ERROR(WriteAttribute(dev + "/driver/unbind", pci_id)
                                .WithContext("unbinding " + pci_id + " from " + *current));
  }
  UPLINKD_RETURN_IF_ERROR(WriteAttribute(dev + "/driver_override", driver));
  UPLINKD_RETURN_IF_ERROR(WriteAttribute(root_ + "/drivers/" + driver + "/bind", pci_id)
                              .WithContext("binding " + pci_id + " to " + driver));
  auto now = CurrentDriver(pci_id);
  if (!now.ok()) return now.status();
  if (*now != driver) {
    return Failure(EIO, "{} is bound to '{}' after binding it to {}", pci_id, *now, driver);
  }
  Logger("pci")->info("{}: {} -> {}", pci_id, current->empty() ? "(none)" : *current, driver);
  return Status::Ok();
}

Status PciSysfs::Restore(const std::string& pci_id, const std::string& driver) const {
  auto current = CurrentDriver(pci_id);
  if (!current.ok()) return current.status();
  std::string dev = DevicePath(pci_id);
  // An empty override (a newline) lets the device match its own driver again.
  UPLINKD_RETURN_IF_ERROR(WriteAttribute(dev + "/driver_override", "\n"));
  if (*current == driver) return Status::Ok();
  if (!current->empty()) {
    UPLINKD_RETURN_IF_ERROR(WriteAttribute(dev + "/driver/unbind", pci_id)
                                .WithContext("unbinding " + pci_id + " from " + *current));
  }
  if (driver.empty()) return Status::Ok();  // it had none
  UPLINKD_RETURN_IF_ERROR(WriteAttribute(root_ + "/drivers/" + driver + "/bind", pci_id)
                              .WithContext("binding " + pci_id + " back to " + driver));
  Logger("pci")->info("{}: {} -> {}", pci_id, current->empty() ? "(none)" : *current, driver);
  return Status::Ok();
}

Status LoadKernelModule(const std::string& name) {
  pid_t pid = fork();
  if (pid < 0) return ErrnoFailure("fork for modprobe {}", name);
  if (pid == 0) {
    execlp("modprobe", "modprobe", "-q", name.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return ErrnoFailure("wait for modprobe {}", name);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Failure(ENOENT, "modprobe {} failed (exit {})", name,
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return Status::Ok();
}

bool VfioNoIommuMode() {
  std::ifstream in("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode");
  std::string v;
  return (in >> v) && (v == "Y" || v == "y" || v == "1");
}

}  // namespace uplinkd
