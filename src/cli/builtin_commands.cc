// The commands the CLI framework owns; the engine registers the rest.

#include <fmt/format.h>

#include <utility>

#include "cli/command_table.h"
#include "common/check.h"

namespace uplinkd {

void RegisterBuiltinCommands(CommandTable& table, std::string version) {
  // These paths are fresh in a new table; a clash means the caller registered twice.
  auto add = [&table](const char* path, const char* help, CliHandler handler) {
    UPLINKD_CHECK(table.Add(path, help, std::move(handler)).ok());
  };
  const CommandTable* t = &table;
  add("exec", "exec <filename>", [t](CliArgs& args) {
    Result<std::string> file = args.Value("exec");
    if (!file.ok()) return CliError(file.status());
    if (Status s = args.Done(); !s.ok()) return CliError(s);
    return t->ExecuteFile(*file);
  });
  add("help", "help [<command prefix>]", [t](CliArgs& args) { return t->Help(args.Remaining()); });
  add("show version", "show version", [version = std::move(version)](CliArgs& args) {
    if (Status s = args.Done(); !s.ok()) return CliError(s);
    return CliOk(fmt::format("uplinkd {}", version),
                 {{"program", "uplinkd"}, {"version", version}});
  });
  // uplinkctl ends its session on `quit` without asking; registered so that an exec file or a
  // one-shot `uplinkctl quit` is not an error.
  add("quit", "quit", [](CliArgs&) { return CliOk(); });
}

}  // namespace uplinkd
