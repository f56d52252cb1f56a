#pragma once
// The manager's crash-safe state file: a JSON document written atomically, so that a reader (the
// next manager start after a crash) sees either the previous or the new content, never a torn one.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/status.h"

namespace uplinkd {

// Writes `json` to a temporary file in path's directory, fsyncs it, renames it over `path` and
// fsyncs the directory (so the rename itself survives a power loss). Mode 0600: the file
// describes the node's network. The temporary file is removed on failure.
Status WriteStateFileAtomic(const std::string& path, const nlohmann::json& json);

// nullopt when `path` does not exist; an error naming `path` when it cannot be read or is not
// valid JSON (e.g. truncated by something other than us).
Result<std::optional<nlohmann::json>> ReadStateFile(const std::string& path);

// Removes `path` and fsyncs its directory; a missing file is fine.
Status RemoveStateFile(const std::string& path);

}  // namespace uplinkd
