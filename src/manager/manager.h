#pragma once
// `uplinkd manager`: takes over the node's uplink, keeps the node connected through a host tap
// that inherits the uplink's name, MAC, MTU, addresses and routes, supervises the dataplane, and
// gives Linux its interface back exactly as it was on any exit (and on the next start after a
// crash of the manager itself).

#include <map>
#include <string>

namespace uplinkd {

struct ManagerOptions {
  bool check_only = false;     // --check: print the configuration and the driver table, change nothing
  std::string state_file;      // snapshot + progress, written before anything changes
  std::string run_dir;         // rendered startup.conf, exec file, CLI socket
  std::string dataplane_netns; // named netns where the uplink is parked; "" = uplinkd-<ifname>
  std::string self_exe;        // the uplinkd binary to run as `uplinkd dataplane`
  // af_xdp: jumbo frames as multi-buffer where the kernel has it (>= 6.6). Off for interfaces
  // whose kernel driver lacks multi-buffer XDP: the MTU is then capped at 3072 for the run.
  bool af_xdp_multi_buffer = true;
};

// Defaults from the environment: UPLINKD_STATE_FILE (else CALICOVPP_IF_CONFIG_PATH's, else
// /run/uplinkd/uplink-state.json),
// UPLINKD_RUN_DIR (/run/uplinkd), UPLINKD_DATAPLANE_NETNS, UPLINKD_AF_XDP_MULTI_BUFFER (1; 0 =
// off), and /proc/self/exe.
ManagerOptions DefaultManagerOptions(const std::map<std::string, std::string>& env);

// Returns the process exit code: 0 after a requested stop (SIGTERM/SIGINT) with Linux restored,
// 1 when the dataplane died or could not start (Linux restored), 2 for invalid configuration
// (nothing changed).
int RunManager(const ManagerOptions& options, const std::map<std::string, std::string>& env);

}  // namespace uplinkd
