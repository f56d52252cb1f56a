#pragma once
// CliReply: what a CLI handler returns, sent back to uplinkctl as one protocol line.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "common/status.h"

namespace uplinkd {

struct CliReply {
  Status status;        // !ok => the client prints the message and exits non-zero
  std::string text;     // human output, as VPP prints it (may be empty)
  nlohmann::json data;  // the same facts for `uplinkctl --json`; null when there is nothing
};

// Shorthands for handlers: `return CliOk("...")`, `return CliError(status)`.
inline CliReply CliOk(std::string text = {}, nlohmann::json data = nullptr) {
  return CliReply{Status::Ok(), std::move(text), std::move(data)};
}
inline CliReply CliError(Status status) { return CliReply{std::move(status), {}, nullptr}; }

}  // namespace uplinkd
