// uplinkd: wiring only. `uplinkd dataplane -c FILE [--check]` runs the engine;
// `uplinkd manager [--check]` takes over the uplink (configured by CALICOVPP_* variables).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "daemon/dataplane.h"
#include "manager/env_config.h"
#include "manager/manager.h"
#include "version.h"

int main(int argc, char** argv) {
  CLI::App app{"uplinkd: a userspace packet dataplane for Linux nodes"};
  app.set_version_flag("--version", std::string("uplinkd ") + UPLINKD_VERSION);
  app.require_subcommand(1);

  uplinkd::DataplaneOptions dp;
  CLI::App* dataplane = app.add_subcommand("dataplane", "run the engine (like `vpp -c FILE`)");
  dataplane->add_option("-c,--config", dp.config_path, "startup.conf in VPP syntax")->required();
  dataplane->add_flag("--check", dp.check_only,
                      "validate the file, print the parsed configuration and exit");

  bool manager_check = false;
  CLI::App* manager = app.add_subcommand(
      "manager", "take over CALICOVPP_INTERFACE, supervise the dataplane, restore on exit");
  manager->add_flag("--check", manager_check,
                    "validate the environment and print the driver table; change nothing");

  CLI11_PARSE(app, argc, argv);
  if (dataplane->parsed()) return uplinkd::RunDataplane(dp);
  if (manager->parsed()) {
    auto env = uplinkd::CurrentEnvironment();
    uplinkd::ManagerOptions options = uplinkd::DefaultManagerOptions(env);
    options.check_only = manager_check;
    return uplinkd::RunManager(options, env);
  }
  return 2;
}
