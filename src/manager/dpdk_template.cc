#include "manager/dpdk_template.h"

#include <fmt/format.h>

namespace uplinkd {
namespace {

constexpr const char* kDpdkPlugin = "dpdk_plugin.so";

void EnablePlugin(StartupConfig& cfg, std::vector<std::string>* notes) {
  if (PluginEnabled(cfg, kDpdkPlugin)) return;
  for (StartupConfig::PluginRule& r : cfg.plugins.rules) {
    if (r.name == kDpdkPlugin) {
      r.enable = true;
      notes->push_back("plugin dpdk_plugin.so { disable } -> { enable }");
      return;
    }
  }
  cfg.plugins.rules.push_back({kDpdkPlugin, true});
  notes->push_back("plugin dpdk_plugin.so { enable } added");
}

}  // namespace

std::string VdevForInterface(const StartupConfig& cfg, const std::string& interface_name) {
  for (const std::string& v : cfg.dpdk.vdevs) {
    size_t comma = v.find(',');
    std::string args = comma == std::string::npos ? "" : v.substr(comma + 1);
    for (size_t start = 0; start <= args.size();) {
      size_t end = args.find(',', start);
      if (end == std::string::npos) end = args.size();
      if (args.substr(start, end - start) == "iface=" + interface_name) return v.substr(0, comma);
      start = end + 1;
    }
  }
  return "";
}

Result<DpdkTemplateEdit> EditTemplateForDpdk(StartupConfig& cfg, const DpdkTemplateInputs& in) {
  DpdkTemplateEdit edit;
  StartupConfig::Dpdk& d = cfg.dpdk;
  const bool has_stanza = d.present && (!d.devs.empty() || !d.vdevs.empty() || d.dev_default ||
                                        !d.iova_mode.empty() || d.no_hugetlb);
  std::string vdev = VdevForInterface(cfg, in.interface_name);
  if (in.pci_id.empty() && vdev.empty()) {
    return Failure(EINVAL,
                   "dpdk: {} has no PCI id (not a PCI device) and the template's dpdk {{ }} has "
                   "no `vdev ...,iface={}` for it: there is nothing for DPDK to drive",
                   in.interface_name, in.interface_name);
  }
  EnablePlugin(cfg, &edit.notes);

  if (!has_stanza && !in.pci_id.empty()) {
    StartupConfig::DpdkDev dev;
    dev.pci = in.pci_id;
    dev.num_rx_queues = in.rx_queues;
    dev.num_tx_queues = in.tx_queues;
    dev.num_rx_desc = in.rx_desc;
    dev.num_tx_desc = in.tx_desc;
    dev.tag = "main-" + in.interface_name;
    d.present = true;
    d.devs.push_back(dev);
    edit.notes.push_back(fmt::format(
        "dpdk {{ dev {} {{ num-rx-queues {} num-tx-queues {} num-rx-desc {} num-tx-desc {} tag "
        "main-{} }} }} added (the template has no dpdk stanza)",
        in.pci_id, in.rx_queues, in.tx_queues, in.rx_desc, in.tx_desc, in.interface_name));
  } else if (has_stanza) {
    edit.notes.push_back(
        "the template's dpdk { } stanza rules the queues and descriptors: CALICOVPP_RX_QUEUES "
        "and CALICOVPP_RING_SIZE have no effect with the dpdk driver");
  }

  if (!in.hugepages_free) {
    if (!d.no_hugetlb) {
      d.no_hugetlb = true;
      edit.notes.push_back("no free hugepages: dpdk { no-hugetlb } added");
    }
    if (d.iova_mode.empty()) {
      d.iova_mode = "va";
      edit.notes.push_back("no free hugepages: dpdk { iova-mode va } added");
    }
    if (!cfg.buffers.no_hugetlb) {
      cfg.buffers.no_hugetlb = true;
      edit.notes.push_back("no free hugepages: buffers { no-hugetlb } added");
    }
  }

  // The uplink among the dataplane's interfaces: its PCI dev, by tag; else its vdev.
  for (StartupConfig::DpdkDev& dev : d.devs) {
    if (in.pci_id.empty() || dev.pci != in.pci_id) continue;
    if (dev.tag.empty()) {
      dev.tag = "main-" + in.interface_name;
      edit.notes.push_back(fmt::format("dev {} {{ tag {} }} added, to find the uplink by", dev.pci,
                                       dev.tag));
    }
    edit.uplink_interface = dev.tag;
    return edit;
  }
  if (!vdev.empty()) {
    edit.uplink_interface = vdev;
    edit.uplink_is_vdev = true;
    return edit;
  }
  return Failure(EINVAL,
                 "dpdk: the template's dpdk {{ }} lists neither `dev {}` nor a `vdev ...,iface={}` "
                 "for the uplink",
                 in.pci_id, in.interface_name);
}

}  // namespace uplinkd
