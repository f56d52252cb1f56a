#pragma once
// The `uplinkd manager` configuration: the environment Calico/VPP documents for its primary
// interface, read into one validated ManagerConfig before anything on the node is changed.
//
// Sources (Calico/VPP docs "Primary interface configuration", "Configuring Calico/VPP", and
// projectcalico/vpp-dataplane config/config.go + vpp-manager startup code):
// - CALICOVPP_INTERFACES (JSON) is the current form: `uplinkInterfaces` is a list of uplinks, the
//   first being the main one unless another says `"isMain": true`.
// - CALICOVPP_INTERFACE / CALICOVPP_NATIVE_DRIVER / CALICOVPP_SWAP_DRIVER are the deprecated
//   single-uplink form; Calico puts that uplink first, before the JSON ones. CALICOVPP_RX_MODE,
//   CALICOVPP_RX_QUEUES, CALICOVPP_RING_SIZE ("N" or "RX,TX") and CALICOVPP_TAP_MTU are the older
//   per-uplink knobs of the same era.
// How the two forms combine here (see ParseManagerEnv): the legacy knobs describe one uplink, L.
// - CALICOVPP_INTERFACE unset: L has no name; its knobs fill the fields the JSON's main uplink
//   leaves unset (a legacy-only setup keeps working when CALICOVPP_INTERFACES is added).
// - CALICOVPP_INTERFACE names an uplink the JSON also lists: one uplink, the JSON fields win, the
//   legacy knobs fill the rest.
// - otherwise L is its own uplink, placed first, as Calico does.
// A legacy value that a JSON field overrides is reported in `warnings`, never silently dropped.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "drivers/driver.h"
#include "drivers/interface_config.h"

namespace uplinkd {

// The drivers CALICOVPP_NATIVE_DRIVER / vppDriver may name, sorted (that is how errors list them).
inline constexpr std::string_view kUplinkDrivers[] = {"af_packet", "af_xdp", "avf",
                                                      "dpdk",      "none",   "virtio"};
// Queue counts and ring sizes are checked with the dataplane's own limits
// (drivers/interface_config.h), before the device is known; the device's own maximum is checked
// later (ValidateAgainstDevice).
inline constexpr uint32_t kMinMtu = 68;  // IPv4's minimum; the kernel refuses less
inline constexpr uint32_t kMaxMtu = 65535;
// Where the Linux snapshot is kept when neither CALICOVPP_INITIAL_CONFIG.ifConfigSavePath nor
// CALICOVPP_IF_CONFIG_PATH says (Calico saves nothing by default; uplinkd always does).
inline constexpr std::string_view kDefaultStateFile = "/run/uplinkd/uplink-state.json";

// The queues and ring sizes are the dataplane's typed InterfaceQueues (0 = the driver's default,
// else within its limits; ring sizes are powers of two, Calico's rule), so what the manager
// sends is printed from the values checked here (FormatAfPacketCreateArgs, ...).
struct UplinkSpec : InterfaceQueues {
  std::string interface_name;     // CALICOVPP_INTERFACE / interfaceName
  std::string driver;             // "" = auto; one of kUplinkDrivers (vppDriver /
                                  // CALICOVPP_NATIVE_DRIVER), lower-cased
  std::optional<RxMode> rx_mode;  // unset = the driver's default (DefaultRxMode)
  std::optional<uint32_t> mtu;    // mtu / CALICOVPP_TAP_MTU; kMinMtu..kMaxMtu
  bool is_main = true;
  std::string new_driver;         // kernel driver to bind before start (newDriver /
                                  // CALICOVPP_SWAP_DRIVER), e.g. "vfio-pci"
  std::string physical_network;   // physicalNetworkName: accepted, carried, not acted on
  // Where a setting came from, for the messages of later checks: "CALICOVPP_INTERFACE" or
  // "CALICOVPP_INTERFACES: uplinkInterfaces[1].interfaceName"; for the queues with the value,
  // "CALICOVPP_RX_QUEUES=8", "CALICOVPP_INTERFACES: uplinkInterfaces[0].rx=8"; "" = defaulted.
  std::string name_source, rx_queues_source, tx_queues_source;
};

// The host tap (vppHostTapSpec / CALICOVPP_TAP_RX_MODE / CALICOVPP_TAP_RING_SIZE). Queues 0 = 1,
// ring sizes 0 = 1024 (Calico's defaults).
struct HostTapSpec : InterfaceQueues {
  std::optional<RxMode> rx_mode;  // unset = adaptive (Calico's default)
};

struct ManagerConfig {
  std::vector<UplinkSpec> uplinks;  // [0] is the main one; the others keep their order
  std::string config_template;      // CALICOVPP_CONFIG_TEMPLATE, or kDefaultConfigTemplate
  bool config_template_is_default = false;
  std::string exec_template;        // CALICOVPP_CONFIG_EXEC_TEMPLATE ("" = an empty exec file)
  std::string log_level = "info";   // CALICOVPP_LOG_LEVEL, normalized for SetLogLevel()
  HostTapSpec host_tap;
  // CALICOVPP_INITIAL_CONFIG.ifConfigSavePath, else CALICOVPP_IF_CONFIG_PATH (Calico's "save the
  // interface's Linux config here, restore from it after a crash"), else kDefaultStateFile.
  std::string state_file;
  // CALICOVPP_INITIAL_CONFIG.vppStartupSleepSeconds, else CALICOVPP_VPP_STARTUP_SLEEP: seconds to
  // wait after starting the dataplane before configuring it.
  uint32_t startup_sleep_seconds = 0;
  // Non-fatal findings for the log: deprecated variables, overridden legacy values, CALICOVPP_*
  // variables uplinkd does not act on.
  std::vector<std::string> warnings;
};

// Reads only `env` (tests pass their own; main passes CurrentEnvironment()). Every value is
// validated here, before anything is changed; an error names the variable and the value, e.g.
// "CALICOVPP_RING_SIZE=1000: not a power of two".
Result<ManagerConfig> ParseManagerEnv(const std::map<std::string, std::string>& env);
// The process environment, from environ.
std::map<std::string, std::string> CurrentEnvironment();

// Checks that need the device: the queue counts asked for are at most what it has. A 0 maximum
// means unknown and is not checked. The message names where the value came from.
Status ValidateAgainstDevice(const UplinkSpec& spec, uint32_t device_max_rx_queues,
                             uint32_t device_max_tx_queues);

// The rx mode a driver uses when none is configured: interrupt for af_packet (a poll loop on a
// slow path only burns a core), adaptive otherwise (Calico's default).
RxMode DefaultRxMode(std::string_view driver);
// "polling", "interrupt", "adaptive" (case-insensitive); nullopt otherwise.
std::optional<RxMode> ParseRxModeName(std::string_view text);

}  // namespace uplinkd
