#pragma once
// The wire protocol between uplinkctl (CliClient) and CliServer, on a SOCK_STREAM unix socket.
//
// Newline-delimited JSON: each message is one JSON object on one line, ending with '\n' (JSON
// escapes newlines inside strings, so a line is a whole message). The client sends a request and
// reads exactly one reply before sending the next; one connection carries any number of them.
//
//   request: {"command": "show interface eth0", "json": false}
//     command  the CLI line, as typed (the server tokenizes it)
//     json     true when the client will print `data`; when false the server sends "data": null
//   reply:   {"ok": true, "code": 0, "error": "", "text": "...", "data": null}
//     ok       the command succeeded
//     code     errno-style code of the failure (0 when ok)
//     error    the failure's message ("" when ok); may span several lines (help text)
//     text     the human output, as VPP prints it (may be empty, also on failure)
//     data     the same facts as JSON, or null
//
// A request that is not valid JSON (or lacks "command") gets an !ok reply; the connection stays
// up. Requests longer than kMaxCliRequestBytes close the connection after an error reply.
// Strings that are not valid UTF-8 are sent with U+FFFD in place of the bad bytes.

#include <cstddef>
#include <string>
#include <string_view>

#include "cli/reply.h"
#include "common/status.h"

namespace uplinkd {

inline constexpr size_t kMaxCliRequestBytes = 64 * 1024;
inline constexpr size_t kMaxCliReplyBytes = 256 * 1024 * 1024;

struct CliRequest {
  std::string command;
  bool json = false;
};

// Each Encode* returns one line, '\n' included. Each Decode* takes one line, with or without
// its '\n', and never throws.
std::string EncodeCliRequest(const CliRequest& request);
Result<CliRequest> DecodeCliRequest(std::string_view line);
std::string EncodeCliReply(const CliReply& reply);
Result<CliReply> DecodeCliReply(std::string_view line);

}  // namespace uplinkd
