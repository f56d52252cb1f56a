// Fuzzes the CLI: each input line goes through CommandTable::Execute (tokenizer, longest-prefix
// match, ambiguity and help paths, CliArgs helpers in the handlers), every reply through the
// protocol encoder, and the whole input through the request decoder.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/command_table.h"
#include "cli/protocol.h"
#include "common/log.h"

namespace {

using uplinkd::CliArgs;
using uplinkd::CliError;
using uplinkd::CliOk;
using uplinkd::CliReply;
using uplinkd::Status;

CliReply CreateHostInterface(CliArgs& args) {
  auto name = args.Value("name");
  if (!name.ok()) return CliError(name.status());
  nlohmann::json data = {{"name", *name}};
  while (!args.empty()) {
    if (args.Accept("rx-size")) {
      auto n = args.Number("rx-size", 64, 4096);
      if (!n.ok()) return CliError(n.status());
      data["rx-size"] = *n;
    } else if (args.Accept("mode")) {
      auto mode = args.Choice("mode", {"polling", "interrupt", "adaptive"});
      if (!mode.ok()) return CliError(mode.status());
      data["mode"] = *mode;
    } else if (args.Accept("hw-addr")) {
      auto mac = args.Mac("hw-addr");
      if (!mac.ok()) return CliError(mac.status());
      data["hw-addr"] = uplinkd::FormatMac(*mac);
    } else {
      return CliError(args.UnknownInput());
    }
  }
  return CliOk(*name, std::move(data));
}

const uplinkd::CommandTable& Table() {
  static const uplinkd::CommandTable* table = [] {
    uplinkd::SetLogLevel("off");
    auto* t = new uplinkd::CommandTable;
    uplinkd::RegisterBuiltinCommands(*t, "fuzz");
    auto echo = [](CliArgs& args) {
      std::string text;
      while (auto w = args.Word()) text += *w + ",";
      return CliOk(text, args.words());
    };
    for (const char* path : {"show interface", "show interface address", "show int",
                             "set interface state", "set interface ip address"}) {
      if (!t->Add(path, path, echo).ok()) __builtin_trap();
    }
    if (!t->Add("create host-interface", "create host-interface name <n> [rx-size <n>]",
                CreateHostInterface)
             .ok()) {
      __builtin_trap();
    }
    if (!t->Add("set interface mtu", "set interface mtu <n> <if>", [](CliArgs& args) {
            auto mtu = args.Number("mtu");
            if (!mtu.ok()) return CliError(mtu.status());
            auto name = args.Value("mtu");
            if (!name.ok()) return CliError(name.status());
            if (Status s = args.Done(); !s.ok()) return CliError(s);
            return CliOk({}, {{"mtu", *mtu}});
          }).ok()) {
      __builtin_trap();
    }
    return t;
  }();
  return *table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)uplinkd::DecodeCliRequest(input);
  (void)uplinkd::DecodeCliReply(input);
  const uplinkd::CommandTable& table = Table();
  size_t pos = 0;
  while (pos <= input.size()) {
    size_t end = input.find('\n', pos);
    if (end == std::string_view::npos) end = input.size();
    std::string_view line = input.substr(pos, end - pos);
    pos = end + 1;
    // `exec` would read whatever file the fuzzer names; the file path is covered by tests.
    if (line.find("exec") != std::string_view::npos) continue;
    CliReply reply = table.Execute(line);
    std::string encoded = uplinkd::EncodeCliReply(reply);
    auto decoded = uplinkd::DecodeCliReply(encoded);
    if (!decoded.ok() || decoded->status.ok() != reply.status.ok()) __builtin_trap();
  }
  return 0;
}
