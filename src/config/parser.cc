#include "config/parser.h"

#include <grp.h>
#include <stdint.h>
#include <unistd.h>

#include "common/parse.h"

namespace uplinkd::config_internal {

std::string Parser::DescribeNext() const {
  if (AtEnd()) return "end of file";
  return Quote(tokens_[pos_].text);
}

Result<std::string> Parser::Word(const Token& opt, std::string_view what) {
  if (!PeekIs(TokenKind::kWord)) {
    return Error(opt.line, "expected {} after {}, got {}", what, Quote(opt.text), DescribeNext());
  }
  return std::string(Next().text);
}

Result<uint32_t> Parser::Uint32(const Token& opt, uint32_t min) {
  if (!PeekIs(TokenKind::kWord)) {
    return Error(opt.line, "expected a number after {}, got {}", Quote(opt.text), DescribeNext());
  }
  const Token& v = Next();
  auto n = ParseUnsigned(v.text);
  if (!n) {
    return Error(opt.line, "expected a number after {}, got {}", Quote(opt.text), Quote(v.text));
  }
  if (*n > UINT32_MAX || *n < min) {
    return Error(opt.line, "value {} for {} is out of range ({}..{})", Quote(v.text),
                 Quote(opt.text), min, UINT32_MAX);
  }
  return static_cast<uint32_t>(*n);
}

std::optional<uint64_t> ParseSize(std::string_view text) {
  unsigned shift = 0;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      default:
        break;
    }
  }
  if (shift != 0) text.remove_suffix(1);
  auto n = ParseUnsigned(text);
  if (!n || (shift != 0 && *n > (UINT64_MAX >> shift))) return std::nullopt;
  return *n << shift;
}

Result<uint64_t> Parser::Size(const Token& opt) {
  if (!PeekIs(TokenKind::kWord)) {
    return Error(opt.line, "expected a size after {}, got {}", Quote(opt.text), DescribeNext());
  }
  const Token& v = Next();
  auto n = ParseSize(v.text);
  if (!n) {
    return Error(opt.line, "expected a size (like 64M or 1G) after {}, got {}", Quote(opt.text),
                 Quote(v.text));
  }
  return *n;
}

Result<bool> Parser::OnOff(const Token& opt) {
  auto v = OneOf(opt, {"on", "off", "enable", "disable"});
  if (!v.ok()) return v.status();
  return *v == "on" || *v == "enable";
}

Result<std::string> Parser::OneOf(const Token& opt,
                                  std::initializer_list<std::string_view> choices) {
  std::string list;
  for (auto c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  if (!PeekIs(TokenKind::kWord)) {
    return Error(opt.line, "expected one of {} after {}, got {}", list, Quote(opt.text),
                 DescribeNext());
  }
  const Token& v = Next();
  for (auto c : choices) {
    if (c == v.text) return std::string(c);
  }
  return Error(opt.line, "invalid value {} for {} (expected one of {})", Quote(v.text),
               Quote(opt.text), list);
}

Result<uint32_t> Parser::Gid(const Token& opt) {
  if (!PeekIs(TokenKind::kWord)) {
    return Error(opt.line, "expected a group name or number after {}, got {}", Quote(opt.text),
                 DescribeNext());
  }
  const Token& v = Next();
  if (auto n = ParseUnsigned(v.text)) {
    if (*n > UINT32_MAX) {
      return Error(opt.line, "value {} for {} is out of range", Quote(v.text), Quote(opt.text));
    }
    return static_cast<uint32_t>(*n);
  }
  // getgrnam_r, not getgrnam: the dataplane may parse a config while other threads run.
  std::string name(v.text);
  long hint = sysconf(_SC_GETGR_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 16384);
  struct group grp {};
  struct group* found = nullptr;
  int rc = 0;
  while ((rc = getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &found)) == ERANGE &&
         buf.size() < (1u << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0 || found == nullptr) {
    return Error(opt.line, "unknown group {} for {}", Quote(v.text), Quote(opt.text));
  }
  return static_cast<uint32_t>(found->gr_gid);
}

Status Parser::ExpectOpen(const Token& opt, std::string_view what) {
  if (!PeekIs(TokenKind::kOpen)) {
    return Error(opt.line, "expected '{{' after {}, got {}", what, DescribeNext());
  }
  Next();
  return Status::Ok();
}

}  // namespace uplinkd::config_internal
