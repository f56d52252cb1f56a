#pragma once
// Renders the dataplane's startup.conf and exec file from CALICOVPP_CONFIG_TEMPLATE and
// CALICOVPP_CONFIG_EXEC_TEMPLATE, as Calico/VPP's vpp-manager does ("Configuring Calico/VPP",
// VPP specific configuration), then makes sure the manager can run and reach the dataplane.
//
// Placeholders replaced in both templates (Calico's list, minus node annotations, which need a
// Kubernetes node):
//   __PCI_DEVICE_ID__        the main uplink's PCI id ("" when it has none, e.g. a veth)
//   __PCI_DEVICE_ID_<n>__    the PCI id of ManagerConfig::uplinks[n] (main first)
//   __VPP_DATAPLANE_IF__     the main uplink's Linux name
//   __VPP_DATAPLANE_IF_<n>__ the Linux name of uplinks[n]
//   __CPUSET_CPUS_FIRST__    RenderInputs::cpuset_cpus_first (deprecated in Calico)
// Any other `__NAME__` word is an error naming the template and the line: left in, it would
// reach the dataplane as a literal and fail there with a less helpful message.
//
// An empty PCI id: Calico substitutes "" blindly, so `dev __PCI_DEVICE_ID__ { ... }` becomes
// `dev  { ... }`, which VPP refuses and the node never comes up. Here a `dev` entry (with its
// `{ ... }` block, if any) whose id became empty is removed, with a warning: the template was
// written for a PCI uplink and this one has none, so there is no device to configure. The
// `dpdk { }` stanza itself stays. An empty id anywhere else (e.g. in a vdev argument or in the
// exec template) is an error: there is no sensible reading of it.
//
// Output: the template, substituted, is parsed with ParseStartupConfig and written back with
// FormatStartupConfig (canonical, comments dropped). Editing the text instead would keep the
// user's layout, but the manager must also change it structurally (unix options here, the
// driver's `dpdk { }` and plugin edits later): working on the parsed StartupConfig makes every
// edit exact, and the dataplane reads precisely what was validated. Line numbers in errors still
// match the user's template (removed `dev` entries are blanked, not cut).

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/startup_config.h"
#include "manager/env_config.h"

namespace uplinkd {

struct RenderInputs {
  std::string pci_id;                // the main uplink's PCI id, "" when it has none (veth)
  std::vector<std::string> pci_ids;  // by ManagerConfig::uplinks index; [0] defaults to pci_id
  // Used when the template has no `unix { cli-listen }` / `unix { exec }`; the template's win.
  std::string cli_socket = "/var/run/vpp/cli.sock";
  std::string exec_file = "/etc/vpp/startup.exec";
  std::string cpuset_cpus_first;     // for __CPUSET_CPUS_FIRST__; "" = not available
};

struct Rendered {
  std::string startup_conf;    // FormatStartupConfig(config)
  std::string exec_file_path;  // == config.unix_section.exec; always set
  std::string exec_contents;   // the exec template, substituted; may be empty (write it anyway:
                               // the dataplane's `exec` needs the file to exist)
  std::string cli_socket;      // == config.unix_section.cli_listen
  StartupConfig config;        // for the driver's edits; FormatStartupConfig it again after
  std::vector<std::string> warnings;  // the parser's plus the renderer's, for the log
};

// The startup.conf used when CALICOVPP_CONFIG_TEMPLATE is unset: the calico-vpp daemonset's
// `vpp_config_template`, adapted (see render.cc).
std::string_view DefaultConfigTemplate();

Result<Rendered> RenderConfig(const ManagerConfig& config, const RenderInputs& inputs);

}  // namespace uplinkd
