#pragma once
// `uplinkd dataplane -c startup.conf` (like `vpp -c`): the engine as a process.

#include <string>

namespace uplinkd {

struct DataplaneOptions {
  std::string config_path;
  bool check_only = false;  // --check: validate and print the configuration, start nothing
};

// Returns the process exit code. Configuration errors are reported before any interface is
// touched; on SIGTERM/SIGINT every interface is given back to Linux before returning.
int RunDataplane(const DataplaneOptions& options);

}  // namespace uplinkd
