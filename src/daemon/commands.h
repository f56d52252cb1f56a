#pragma once
// The dataplane's CLI commands (VPP's names): each parses its words with CliArgs, fills the
// driver's create-args struct or calls the engine, and answers with text and JSON.

#include "cli/command_table.h"
#include "graph/engine.h"

namespace uplinkd {

// Which drivers startup.conf's `plugins { }` leaves enabled (VPP semantics: a disabled plugin's
// commands say so instead of creating anything).
struct EnabledDrivers {
  bool af_packet = true;  // af_packet_plugin.so
  bool af_xdp = true;     // af_xdp_plugin.so
};

// `engine` must outlive the table's use.
Status RegisterDataplaneCommands(CommandTable& table, Engine& engine,
                                 const EnabledDrivers& enabled = {});

}  // namespace uplinkd
