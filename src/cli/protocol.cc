#include "cli/protocol.h"

#include <utility>

namespace uplinkd {
namespace {

using nlohmann::json;

std::string Dump(const json& j) {
  // `replace`: a handler may echo bytes that are not UTF-8; the default would throw.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<json> ParseObject(std::string_view line, std::string_view what) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Failure(EPROTO, "malformed {}: not a JSON object", what);
  }
  return j;
}

}  // namespace

std::string EncodeCliRequest(const CliRequest& request) {
  return Dump(json{{"command", request.command}, {"json", request.json}});
}

Result<CliRequest> DecodeCliRequest(std::string_view line) {
  Result<json> j = ParseObject(line, "request");
  if (!j.ok()) return j.status();
  auto command = j->find("command");
  if (command == j->end() || !command->is_string()) {
    return Failure(EPROTO, "malformed request: \"command\" must be a string");
  }
  CliRequest request;
  request.command = command->get<std::string>();
  auto flag = j->find("json");
  if (flag != j->end()) {
    if (!flag->is_boolean()) return Failure(EPROTO, "malformed request: \"json\" must be a bool");
    request.json = flag->get<bool>();
  }
  return request;
}

std::string EncodeCliReply(const CliReply& reply) {
  return Dump(json{{"ok", reply.status.ok()},
                   {"code", reply.status.code()},
                   {"error", reply.status.message()},
                   {"text", reply.text},
                   {"data", reply.data}});
}

Result<CliReply> DecodeCliReply(std::string_view line) {
  Result<json> j = ParseObject(line, "reply");
  if (!j.ok()) return j.status();
  auto ok = j->find("ok");
  if (ok == j->end() || !ok->is_boolean()) {
    return Failure(EPROTO, "malformed reply: \"ok\" must be a bool");
  }
  CliReply reply;
  if (auto text = j->find("text"); text != j->end() && text->is_string()) {
    reply.text = text->get<std::string>();
  }
  if (auto data = j->find("data"); data != j->end()) reply.data = std::move(*data);
  if (!ok->get<bool>()) {
    int code = EIO;
    if (auto c = j->find("code"); c != j->end() && c->is_number_integer() &&
                                  c->get<int64_t>() > 0 && c->get<int64_t>() < 4096) {
      code = static_cast<int>(c->get<int64_t>());
    }
    std::string error = "command failed";
    if (auto e = j->find("error");
        e != j->end() && e->is_string() && !e->get<std::string>().empty()) {
      error = e->get<std::string>();
    }
    reply.status = Status(code, std::move(error));
  }
  return reply;
}

}  // namespace uplinkd
