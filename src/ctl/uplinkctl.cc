// uplinkctl: the client of `unix { cli-listen }`, like vppctl.
//   uplinkctl [-s SOCKET] [--json] [COMMAND WORDS...]
// With words: runs that one command. Without: reads commands from stdin, one a line, with a
// `uplinkd# ` prompt when stdin is a terminal; `quit`, `exit` or EOF end.
// Exit status: 0 ok; 1 a command failed (or the usage was wrong); 2 the server could not be
// reached or the connection broke.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/reply.h"

namespace uplinkd {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUnreachable = 2;
constexpr const char* kDefaultSocket = "/run/uplinkd/cli.sock";
constexpr const char* kPrompt = "uplinkd# ";

// Prints a reply; returns whether the command succeeded.
bool PrintReply(const CliReply& reply, bool json) {
  if (json) {
    if (reply.status.ok()) {
      nlohmann::json out = reply.data.is_null() ? nlohmann::json{{"text", reply.text}} : reply.data;
      std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
  } else if (!reply.text.empty()) {
    std::cout << reply.text;
    if (reply.text.back() != '\n') std::cout << '\n';
  }
  std::cout.flush();
  if (!reply.status.ok()) {
    std::cerr << reply.status.message() << '\n';
    return false;
  }
  return true;
}

int Interactive(CliClient& client, bool json) {
  bool tty = isatty(STDIN_FILENO) == 1;
  bool all_ok = true;
  std::string line;
  while (true) {
    if (tty) {
      std::cout << kPrompt;
      std::cout.flush();
    }
    if (!std::getline(std::cin, line)) break;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    size_t last = line.find_last_not_of(" \t\r");
    std::string_view command = std::string_view(line).substr(first, last - first + 1);
    if (command == "quit" || command == "exit" || command == "q") break;
    Result<CliReply> reply = client.Call(command, json);
    if (!reply.ok()) {
      std::cerr << "uplinkctl: " << reply.status().message() << '\n';
      return kExitUnreachable;
    }
    all_ok = PrintReply(*reply, json) && all_ok;
  }
  if (tty) std::cout << '\n';
  return all_ok ? kExitOk : kExitFailed;
}

int Main(int argc, char** argv) {
  CLI::App app{"uplinkctl: run uplinkd CLI commands (interactive when no command is given)"};
  std::string socket_path = kDefaultSocket;
  bool json = false;
  app.add_option("-s,--socket", socket_path, "the dataplane's cli-listen socket")
      ->envname("UPLINKCTL_SOCKET")
      ->capture_default_str();
  app.add_flag("--json", json, "print the command's data as JSON");
  // Everything from the first command word on is the command, even words that look like
  // options (`uplinkctl show foo -x`).
  app.prefix_command();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {  // CLI11 reports usage errors and --help this way
    return app.exit(e) == 0 ? kExitOk : kExitFailed;
  }
  std::vector<std::string> words = app.remaining();
  if (!words.empty() && words.front() == "--") {
    words.erase(words.begin());
  } else if (!words.empty() && words.front().starts_with("-")) {
    // prefix_command() hands unknown options over as command words; before the first word they
    // are far likelier a typo than a command.
    std::cerr << "uplinkctl: unknown option " << words.front() << " (see --help; put a command "
              << "starting with '-' after --)\n";
    return kExitFailed;
  }

  Result<std::unique_ptr<CliClient>> client = CliClient::Connect(socket_path);
  if (!client.ok()) {
    std::cerr << "uplinkctl: " << client.status().message() << '\n';
    return kExitUnreachable;
  }
  if (words.empty()) return Interactive(**client, json);

  Result<CliReply> reply = (*client)->Call(JoinCliWords(words), json);
  if (!reply.ok()) {
    std::cerr << "uplinkctl: " << reply.status().message() << '\n';
    return kExitUnreachable;
  }
  return PrintReply(*reply, json) ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace uplinkd

int main(int argc, char** argv) { return uplinkd::Main(argc, argv); }
