#pragma once
// dpdk: interfaces driven by libdpdk (Debian's 22.11), configured by startup.conf's `dpdk { }`
// stanza exactly as VPP reads it: `dev PCI { num-rx-queues num-tx-queues num-rx-desc
// num-tx-desc name tag devargs }`, `dev default { }`, `vdev NAME,ARGS`, `iova-mode`,
// `no-hugetlb`, `socket-mem`, `log-level`, `huge-dir`, `no-pci`; `plugins { plugin
// dpdk_plugin.so { enable|disable } }` decides whether the stanza is used at all.
//
// - EAL shares nothing with other DPDK processes, so several instances and tests never collide:
//   --in-memory with hugepages; with `no-hugetlb`, --no-huge, --no-shconf and a file prefix of
//   the process's own. It is initialised once per process.
// - Buffers: an mbuf and an engine Buffer are one and the same memory. The BufferPool reserves
//   kDpdkExtHeaderSize bytes in front of every Buffer for the mempool's object header and the
//   rte_mbuf, whose private area is the Buffer header and whose data room is the Buffer's
//   headroom and data. A mempool is laid over the pool's region with our own mempool ops, so
//   what a PMD allocates or frees comes from and goes back to the engine's pool (the calling
//   worker's cache when it has one); nothing is copied between DPDK and the graph.
// - Every port listed (dev or vdev) is configured with its queues and descriptors, started in
//   promiscuous mode, and becomes an engine interface named by `name`, else as VPP names it
//   (GigabitEthernet0/8/0 and the like for PCI, the device name for a vdev), findable by `tag`.
// - Offloads: received checksums the device verified are marked valid; on transmit, partial
//   checksums and GSO super-frames are finished in software (the ports are opened without tx
//   offloads, which vdevs do not have).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "buffer/buffer_pool.h"
#include "common/status.h"
#include "config/startup_config.h"
#include "drivers/driver.h"

namespace uplinkd {

// Bytes in front of every Buffer header when DPDK shares the pool: the mempool object header
// (with the padding that aligns it) and the 128-byte rte_mbuf.
inline constexpr uint32_t kDpdkExtHeaderSize = 192;

// Whether startup.conf asks for DPDK at all: dpdk_plugin.so enabled and a `dev` or `vdev` listed.
bool DpdkWanted(const StartupConfig& cfg);

// What the stanza and this machine allow, checked before anything is started: hugepages free
// unless `no-hugetlb`; no PCI device in vfio no-IOMMU mode without hugepages (the Calico guide's
// caution); `iova-mode pa` only where physical addresses can be had. The error names the option.
Status CheckDpdkConfig(const StartupConfig& cfg);

// As VPP does before EAL starts: every `dev` not bound to a driver DPDK can use is bound to
// `uio-driver` (vfio-pci when unset or `auto`), unless its network interface is up (a device
// in use is an error naming it, never taken). `sysfs` is the PCI sysfs root (tests give one).
Status BindDpdkDevices(const StartupConfig& cfg, const std::string& sysfs = "/sys/bus/pci");

// The EAL command line for `cfg` (a pure function, for --check and the tests). `main_core`: the
// lcore EAL runs its main thread on.
std::vector<std::string> DpdkEalArguments(const StartupConfig& cfg, uint32_t main_core);

struct DpdkPort {
  std::string name;  // the engine's name for it
  std::string tag;   // `tag TAG`, may be empty
  std::unique_ptr<Driver> driver;
};

// EAL, the mempool over the engine's pool, and the ports. Control thread only. Must outlive the
// drivers it made (destroy the engine first).
class DpdkRuntime {
 public:
  // Initialises EAL from the stanza (CheckDpdkConfig first). The calling thread's CPU affinity
  // is kept (EAL would pin it to the main lcore, and threads started later inherit it).
  static Result<std::unique_ptr<DpdkRuntime>> Init(const StartupConfig& cfg);
  ~DpdkRuntime();
  DpdkRuntime(const DpdkRuntime&) = delete;
  DpdkRuntime& operator=(const DpdkRuntime&) = delete;

  // Lays the mempool over `pool`, which must have been created with ext_header_size ==
  // kDpdkExtHeaderSize and have every buffer free. Maps it for DMA where a PCI device needs it.
  Status AttachPool(BufferPool& pool);
  // Configures and starts every port of the stanza (AttachPool first). `workers`: the engine's
  // worker count, the default number of tx queues (one per worker, as VPP gives one per
  // thread). On failure, ports already started are closed again.
  Result<std::vector<DpdkPort>> CreatePorts(const StartupConfig& cfg, uint32_t workers);

  const std::vector<std::string>& eal_arguments() const { return eal_args_; }

 private:
  DpdkRuntime() = default;
  Status RegisterExternalMemory();

  std::vector<std::string> eal_args_;
  BufferPool* pool_ = nullptr;
  struct rte_mempool* mempool_ = nullptr;
  bool extmem_registered_ = false;
};

}  // namespace uplinkd
