// EAL from the startup.conf `dpdk { }` stanza: what is wanted, what this machine allows (checked
// before anything starts), the command line, and initialisation.

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "drivers/dpdk/dpdk_internal.h"
#include "linux/pci.h"

namespace uplinkd {
namespace {

// EAL's own heap with --no-huge (ethdev and queue structures; packet buffers are the engine's).
constexpr uint32_t kNoHugeEalMemoryMb = 256;

}  // namespace

bool DpdkWanted(const StartupConfig& cfg) {
  return PluginEnabled(cfg, "dpdk_plugin.so") && (!cfg.dpdk.devs.empty() || !cfg.dpdk.vdevs.empty());
}

Status CheckDpdkConfig(const StartupConfig& cfg) {
  const StartupConfig::Dpdk& d = cfg.dpdk;
  const std::string where = cfg.file.empty() ? "startup.conf" : cfg.file;
  if (d.devs.empty() && d.vdevs.empty()) {
    return Failure(EINVAL, "{}: dpdk {{ }} lists no device: add `dev PCI-ID` or `vdev NAME,ARGS`",
                   where);
  }
  const bool pci = !d.devs.empty() && !d.no_pci;
  if (!d.no_hugetlb && ReadHugepageInfo().free_pages == 0) {
    return Failure(ENOMEM,
                   "{}: dpdk {{ }} needs hugepages and none are free (HugePages_Free is 0 in "
                   "/proc/meminfo): reserve some, or add `no-hugetlb` and `iova-mode va` to "
                   "dpdk {{ }} and `no-hugetlb` to buffers {{ }}",
                   where);
  }
  if (pci && d.no_hugetlb && VfioNoIommuMode()) {
    return Failure(EINVAL,
                   "{}: dpdk {{ no-hugetlb }} with PCI devices needs an IOMMU, and vfio runs in "
                   "no-IOMMU mode (enable_unsafe_noiommu_mode=Y): without an IOMMU the device "
                   "needs physical addresses, which only hugepages give; drop `no-hugetlb`",
                   where);
  }
  if (d.iova_mode == "pa" && d.no_hugetlb) {
    return Failure(EINVAL,
                   "{}: dpdk {{ iova-mode pa }} with `no-hugetlb`: physical addresses need "
                   "hugepages; use `iova-mode va`",
                   where);
  }
  if (d.iova_mode == "pa" && pci) {
    return Failure(ENOTSUP,
                   "{}: dpdk {{ iova-mode pa }} with PCI devices: uplinkd's buffers are mapped for "
                   "DMA by virtual address only; use `iova-mode va` (an IOMMU)",
                   where);
  }
  return Status::Ok();
}

Status BindDpdkDevices(const StartupConfig& cfg, const std::string& sysfs) {
  if (cfg.dpdk.no_pci) return Status::Ok();
  PciSysfs pci(sysfs);
  std::string target = cfg.dpdk.uio_driver.empty() || cfg.dpdk.uio_driver == "auto"
                           ? "vfio-pci"
                           : cfg.dpdk.uio_driver;
  for (const StartupConfig::DpdkDev& dev : cfg.dpdk.devs) {
    auto current = pci.CurrentDriver(dev.pci);
    if (!current.ok()) return current.status().WithContext("dpdk { dev " + dev.pci + " }");
    if (*current == "vfio-pci" || *current == "uio_pci_generic" || *current == "igb_uio") continue;
    std::string netdev = pci.NetdevName(dev.pci);
    if (!netdev.empty()) {
      std::ifstream flags(sysfs + "/devices/" + dev.pci + "/net/" + netdev + "/flags");
      unsigned long value = 0;
      if (flags >> std::hex >> value && (value & 0x1)) {  // IFF_UP
        return Failure(EBUSY,
                       "dpdk {{ dev {} }}: its interface {} is up (in use by Linux); take it down "
                       "first, or let `uplinkd manager` hand it over",
                       dev.pci, netdev);
      }
    }
    if (!pci.DriverRegistered(target)) {
      Status loaded = LoadKernelModule(target);
      if (!pci.DriverRegistered(target)) {
        return Failure(ENOENT, "dpdk {{ uio-driver {} }}: the driver is not available ({})", target,
                       loaded.ok() ? "not registered after modprobe" : loaded.message());
      }
    }
    UPLINKD_RETURN_IF_ERROR(pci.Bind(dev.pci, target).WithContext("dpdk { dev " + dev.pci + " }"));
  }
  return Status::Ok();
}

std::vector<std::string> DpdkEalArguments(const StartupConfig& cfg, uint32_t main_core) {
  const StartupConfig::Dpdk& d = cfg.dpdk;
  std::vector<std::string> args = {"uplinkd", "--no-telemetry", "-l", std::to_string(main_core),
                                   "--main-lcore", std::to_string(main_core)};
  // Nothing shared with other DPDK processes, so instances and tests never collide: hugepages
  // in memory only (no files), or, without hugepages (where EAL refuses --in-memory), no shared
  // config and a runtime directory of this process's own.
  if (d.no_hugetlb) {
    args.insert(args.end(), {"--no-huge", "-m", std::to_string(kNoHugeEalMemoryMb), "--no-shconf",
                             "--file-prefix", "uplinkd-" + std::to_string(getpid())});
  } else {
    args.push_back("--in-memory");
  }
  if (!d.no_hugetlb && !d.socket_mem.empty()) {
    std::string mem;
    for (uint64_t mb : d.socket_mem) {
      if (!mem.empty()) mem += ',';
      mem += std::to_string(mb);
    }
    args.insert(args.end(), {"--socket-mem", mem});
  }
  if (!d.huge_dir.empty() && !d.no_hugetlb) args.insert(args.end(), {"--huge-dir", d.huge_dir});
  if (!d.iova_mode.empty()) args.push_back("--iova-mode=" + d.iova_mode);
  if (d.devs.empty() || d.no_pci) {
    args.push_back("--no-pci");
  } else {
    for (const StartupConfig::DpdkDev& dev : d.devs) {
      std::string devargs = !dev.devargs.empty()
                                ? dev.devargs
                                : (d.dev_default ? d.dev_default->devargs : std::string());
      args.insert(args.end(), {"-a", devargs.empty() ? dev.pci : dev.pci + "," + devargs});
    }
  }
  for (const std::string& v : d.vdevs) args.insert(args.end(), {"--vdev", v});
  args.push_back("--log-level=" + (d.log_level.empty() ? std::string("notice") : d.log_level));
  return args;
}

Result<std::unique_ptr<DpdkRuntime>> DpdkRuntime::Init(const StartupConfig& cfg) {
  static bool initialised = false;
  if (initialised) return Failure(EALREADY, "dpdk: EAL is initialised once per process");
  UPLINKD_RETURN_IF_ERROR(CheckDpdkConfig(cfg));

  // EAL pins the calling thread to its main lcore; every thread started afterwards would inherit
  // that. The affinity is put back once EAL is up (workers pin themselves where configured).
  cpu_set_t affinity;
  CPU_ZERO(&affinity);
  if (sched_getaffinity(0, sizeof affinity, &affinity) != 0) return ErrnoFailure("sched_getaffinity");
  uint32_t main_core = 0;
  if (cfg.cpu.main_core) {
    main_core = *cfg.cpu.main_core;
  } else {
    while (main_core < CPU_SETSIZE && !CPU_ISSET(main_core, &affinity)) ++main_core;
  }

  UPLINKD_RETURN_IF_ERROR(BindDpdkDevices(cfg));
  std::unique_ptr<DpdkRuntime> rt(new DpdkRuntime);
  rt->eal_args_ = DpdkEalArguments(cfg, main_core);
  std::vector<char*> argv;
  for (std::string& a : rt->eal_args_) argv.push_back(a.data());
  std::string line;
  for (const std::string& a : rt->eal_args_) line += (line.empty() ? "" : " ") + a;
  Logger("dpdk")->info("EAL: {}", line);
  // EAL may reorder argv; it works on a copy of the pointers, the strings stay ours.
  std::vector<char*> argv_copy = argv;
  int rc = rte_eal_init(static_cast<int>(argv_copy.size()), argv_copy.data());
  if (rc < 0) {
    return Failure(rte_errno, "dpdk: EAL initialisation failed ({}): {}", rte_strerror(rte_errno),
                   line);
  }
  initialised = true;
  if (sched_setaffinity(0, sizeof affinity, &affinity) != 0) {
    Logger("dpdk")->warn("cannot restore the main thread's CPU affinity: {}", std::strerror(errno));
  }
  Logger("dpdk")->info("EAL up: iova mode {}, {} ports", rte_eal_iova_mode() == RTE_IOVA_VA ? "va" : "pa",
                       rte_eth_dev_count_avail());
  return rt;
}

DpdkRuntime::~DpdkRuntime() {
  if (mempool_ != nullptr) rte_mempool_free(mempool_);
  // EAL cannot be initialised again in this process; cleanup releases what it holds (memory,
  // interrupt thread) for a clean exit. Its runtime directory is empty by then (nothing is
  // shared): it goes too, rather than one per run piling up in /var/run/dpdk.
  std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  if (!runtime_dir.empty()) rmdir(runtime_dir.c_str());
}

}  // namespace uplinkd
