#pragma once
// Named loggers per component ("af_packet", "tap", "cli", "engine", ...), spdlog underneath.
// Control code only: the fast path never logs, it counts.

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace uplinkd {

// Returns the logger for `component`, creating it on first use (thread-safe).
std::shared_ptr<spdlog::logger> Logger(const std::string& component);

// Sets the level of every logger: "trace", "debug", "info", "warn", "error", "off".
// Returns false for an unknown level name.
bool SetLogLevel(const std::string& level);

// Sends every logger to `path` as well as stderr (unix { log FILE }).
bool AddLogFile(const std::string& path, std::string* error);

}  // namespace uplinkd
