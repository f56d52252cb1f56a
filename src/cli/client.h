#pragma once
// CliClient: one connection to a CliServer (what uplinkctl uses). Blocking; one thread.

#include <memory>
#include <string>
#include <string_view>

#include "cli/reply.h"
#include "common/status.h"

namespace uplinkd {

class CliClient {
 public:
  // Fails with the connect errno: "cannot connect to /run/uplinkd/cli.sock: No such file...".
  static Result<std::unique_ptr<CliClient>> Connect(const std::string& path);
  ~CliClient();
  CliClient(const CliClient&) = delete;
  CliClient& operator=(const CliClient&) = delete;

  // Sends one command and waits for its reply. The outer Result fails only when the connection
  // did (lost, malformed reply); a command that failed is an ok Result whose reply.status is not.
  Result<CliReply> Call(std::string_view command, bool json);

 private:
  CliClient(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_;
  std::string path_;
  std::string buffer_;  // bytes received after the last reply's newline
};

}  // namespace uplinkd
