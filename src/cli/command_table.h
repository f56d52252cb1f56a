#pragma once
// The CLI command table, VPP style: rows {path, short_help, handler}, matched on the longest
// path, where each typed word may be an unambiguous prefix of the path word (`sh int`).
//
// Threads: register every command (Add) before anything runs Execute. Execute itself does not
// lock (so `exec FILE` can nest); whoever runs commands from several threads takes mutex(), as
// CliServer does, so handlers are serialized.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/reply.h"
#include "common/status.h"

namespace uplinkd {

using CliHandler = std::function<CliReply(CliArgs& args)>;

class CommandTable {
 public:
  CommandTable();
  ~CommandTable();
  CommandTable(CommandTable&&) noexcept;
  CommandTable& operator=(CommandTable&&) noexcept;
  CommandTable(const CommandTable&) = delete;
  CommandTable& operator=(const CommandTable&) = delete;

  // path: space-separated words, e.g. "show interface"; short_help like VPP's, e.g.
  // "show interface [<if-name>]". Fails on an empty path, a null handler or a path already
  // registered.
  Status Add(std::string path, std::string short_help, CliHandler handler);

  // Tokenizes the line (TokenizeCliLine), runs the command with the longest matching path and
  // hands it the remaining words. A trailing `?` lists the commands under what precedes it. No
  // match or an ambiguous word fails with VPP's wording plus the candidate commands. Blank lines
  // and comments (`#` as the first non-blank character) do nothing. Never crashes.
  CliReply Execute(std::string_view line) const;

  // Runs each line of `path` (`exec FILE`, `unix { exec FILE }`); stops at the first failure,
  // whose message is prefixed with "file:line: ". The text of every command is concatenated.
  // Only regular files are read, and nesting is bounded.
  CliReply ExecuteFile(const std::string& path) const;

  // The commands whose path starts with `prefix` (each word may be abbreviated), one
  // "  path    short_help" line each; data is [{"path", "help"}]. Fails when nothing matches.
  CliReply Help(const std::vector<std::string>& prefix) const;

  // Serializes command execution across threads (see above).
  std::mutex& mutex() const { return *mu_; }

  struct Node;  // one word of a path; opaque, defined in command_table.cc

 private:
  std::unique_ptr<Node> root_;
  std::unique_ptr<std::mutex> mu_;  // behind a pointer so the table stays movable
};

// Registers the commands the framework owns: `exec FILE`, `help [<prefix>]`, `show version`
// (prints "uplinkd <version>"), `quit` (does nothing; uplinkctl ends the session itself).
// `table` must outlive its use: the handlers keep a pointer to it.
void RegisterBuiltinCommands(CommandTable& table, std::string version);

}  // namespace uplinkd
