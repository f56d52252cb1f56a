#pragma once
// The dpdk driver's edits of the rendered startup.conf, as Calico/VPP's vpp-manager makes them
// (vpp-manager/uplink/dpdk.go, UpdateVppConfigFile), on the parsed config rather than its text:
// - `plugin dpdk_plugin.so` is enabled;
// - without a `dpdk { }` stanza (or with an empty one) one is added for the uplink:
//   `dev PCI { num-rx-queues N num-tx-queues N num-rx-desc N num-tx-desc N tag main-IF }`, sized
//   from the uplink's spec (1 queue, 1024 descriptors by default); a stanza the template has is
//   the user's: CALICOVPP_RX_QUEUES and CALICOVPP_RING_SIZE have no effect then (a note says so);
// - where no hugepages are free, `no-hugetlb` and `iova-mode va` go into `dpdk { }` (unless it
//   sets an iova-mode) and `no-hugetlb` into `buffers { }` (Calico does this for the stanza it
//   adds; here also for the user's, which could not start otherwise);
// - the uplink's `dev` entry gets the tag `main-IF` when it has none: the manager finds the
//   uplink among the dataplane's interfaces by that tag, as Calico does.
// The uplink in the dataplane is its PCI `dev`, or else a `vdev` whose `iface=` is the uplink
// (e.g. `vdev net_af_packet0,iface=eth0`, the uplink parked in the dataplane's namespace). With
// neither, the edit fails before anything is changed.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/startup_config.h"

namespace uplinkd {

struct DpdkTemplateInputs {
  std::string interface_name;  // the uplink's Linux name
  std::string pci_id;          // "" when it has none
  uint32_t rx_queues = 1, tx_queues = 1;    // for a stanza uplinkd adds
  uint32_t rx_desc = 1024, tx_desc = 1024;
  bool hugepages_free = false;
};

struct DpdkTemplateEdit {
  // How the manager finds the uplink among the dataplane's interfaces: a tag or an engine name.
  std::string uplink_interface;
  bool uplink_is_vdev = false;  // a vdev on the Linux interface (parked) rather than a PCI device
  std::vector<std::string> notes;  // for the log: what was edited and why
};

// Edits `cfg` in place; on error `cfg` may be half edited (the caller renders afresh).
Result<DpdkTemplateEdit> EditTemplateForDpdk(StartupConfig& cfg, const DpdkTemplateInputs& in);

// The vdev of `cfg` that drives the Linux interface `interface_name` (its `iface=` argument),
// or "" when there is none.
std::string VdevForInterface(const StartupConfig& cfg, const std::string& interface_name);

}  // namespace uplinkd
