// uplinkd: wiring only. `uplinkd dataplane -c FILE [--check]` runs the engine.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "daemon/dataplane.h"
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

  CLI11_PARSE(app, argc, argv);
  if (dataplane->parsed()) return uplinkd::RunDataplane(dp);
  return 2;
}
