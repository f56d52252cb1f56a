#pragma once
// Internal to src/config: a cursor over startup.conf tokens with the value readers every section
// uses, and the generic {name, parser} option-table walker (VPP's VLIB_CONFIG_FUNCTION idea, one
// table per section or nested block). Every error names file, line and the offending word.

#include <fmt/format.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "config/tokenizer.h"

namespace uplinkd::config_internal {

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& file_name)
      : tokens_(tokens), file_(file_name) {}

  bool AtEnd() const { return pos_ >= tokens_.size(); }
  bool PeekIs(TokenKind kind) const { return !AtEnd() && tokens_[pos_].kind == kind; }
  const Token& Next() { return tokens_[pos_++]; }  // caller checked !AtEnd()
  // "'word'" for the next token, "end of file" when there is none: the "got ..." of messages.
  std::string DescribeNext() const;

  template <typename... Args>
  Status Error(uint32_t line, fmt::format_string<Args...> format, Args&&... args) const {
    return Status(EINVAL, fmt::format("{}:{}: {}", file_, line,
                                      fmt::format(format, std::forward<Args>(args)...)));
  }
  void Warn(uint32_t line, std::string_view message) {
    warnings_.push_back(fmt::format("{}:{}: {}", file_, line, message));
  }
  std::vector<std::string> TakeWarnings() { return std::move(warnings_); }

  // Value readers: each consumes the word after option `opt` or fails naming `opt`.
  Result<std::string> Word(const Token& opt, std::string_view what = "a value");
  Result<uint32_t> Uint32(const Token& opt, uint32_t min = 0);
  Result<uint64_t> Size(const Token& opt);  // "1G", "64M", "512k", "4096"
  Result<bool> OnOff(const Token& opt);
  Result<std::string> OneOf(const Token& opt, std::initializer_list<std::string_view> choices);
  // A group name (resolved now, like VPP) or a number.
  Result<uint32_t> Gid(const Token& opt);
  // Consumes the '{' that must follow `opt` (e.g. after `plugin NAME`); `what` names the block.
  Status ExpectOpen(const Token& opt, std::string_view what);

  // Facts a section checks only once the whole file is read (workers vs corelist-workers).
  struct Notes {
    uint32_t workers_line = 0, corelist_line = 0;
    uint32_t workers = 0;
    std::string corelist_text;
  } notes;

 private:
  const std::vector<Token>& tokens_;
  const std::string& file_;
  size_t pos_ = 0;
  std::vector<std::string> warnings_;
};

// Parses sizes the way VPP's unformat_memory_size does: a number and an optional k/m/g suffix.
std::optional<uint64_t> ParseSize(std::string_view text);
// True for a top-level section name: used to report a forgotten '}' where the next section starts.
bool IsSectionName(std::string_view word);

template <typename T>
struct OptionSpec {
  std::string_view name;
  Status (*parse)(Parser& p, const Token& opt, T& target);
};

// Parses the options of a block whose '{' was just consumed, up to and including its '}'.
// `desc` names the block in messages: "section 'cpu'", "'dev 0000:00:08.0' in section 'dpdk'".
template <typename T>
Status ParseBlock(Parser& p, uint32_t open_line, const std::string& desc,
                  std::span<const OptionSpec<T>> table, T& target) {
  while (true) {
    if (p.AtEnd()) return p.Error(open_line, "missing '}}' to close {} opened here", desc);
    const Token& t = p.Next();
    if (t.kind == TokenKind::kClose) return Status::Ok();
    if (t.kind == TokenKind::kOpen) return p.Error(t.line, "unexpected '{{' in {}", desc);
    const OptionSpec<T>* spec = nullptr;
    for (const auto& s : table) {
      if (s.name == t.text) {
        spec = &s;
        break;
      }
    }
    if (spec != nullptr) {
      UPLINKD_RETURN_IF_ERROR(spec->parse(p, t, target));
      continue;
    }
    // `cpu { workers 2` followed by `unix {`: the real mistake is the missing '}', not 'unix'.
    if (IsSectionName(t.text) && p.PeekIs(TokenKind::kOpen)) {
      return p.Error(open_line, "missing '}}' to close {} opened here", desc);
    }
    return p.Error(t.line, "unknown option {} in {}", Quote(t.text), desc);
  }
}

}  // namespace uplinkd::config_internal
