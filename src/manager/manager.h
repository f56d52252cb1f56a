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

// Exit codes of `uplinkd manager`.
inline constexpr int kManagerExitStopped = 0;  // SIGTERM/SIGINT: Linux restored
// The dataplane died or no driver could start (Linux restored), an explicitly named driver
// cannot run here (nothing changed), or a restore failed (see the log and the state file kept
// as STATE.failed-TIME).
inline constexpr int kManagerExitFailed = 1;
inline constexpr int kManagerExitConfig = 2;  // invalid configuration: nothing changed
// The uplink is gone: it vanished while taken over (what was ours is removed), or an earlier
// run's state file names an uplink that is no longer there and none has its name now.
inline constexpr int kManagerExitUplinkMissing = 3;

// Returns one of the exit codes above.
int RunManager(const ManagerOptions& options, const std::map<std::string, std::string>& env);

}  // namespace uplinkd
