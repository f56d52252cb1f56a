#pragma once
// CliArgs: the words typed after a command's path, consumed left to right by the handler, in
// the spirit of VPP's unformat(). Errors use VPP's wording so scripts written for vppctl read
// the same messages.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/parse.h"
#include "common/status.h"

namespace uplinkd {

// Splits a CLI line into words: whitespace separates, "double quotes" group (and may join a
// word: name="a b" is one word `name=a b`); inside quotes \" and \\ escape. `""` is an empty
// word. Fails on a missing closing quote.
Result<std::vector<std::string>> TokenizeCliLine(std::string_view line);
// The inverse: joins words with spaces, quoting those that need it, so that
// TokenizeCliLine(JoinCliWords(w)) == w (uplinkctl sends its argv this way).
std::string JoinCliWords(const std::vector<std::string>& words);

class CliArgs {
 public:
  explicit CliArgs(std::vector<std::string> words);

  // Every word given, consumed or not.
  const std::vector<std::string>& words() const { return words_; }
  // The words not consumed yet.
  std::vector<std::string> Remaining() const;
  // True when every word has been consumed.
  bool empty() const { return pos_ >= words_.size(); }
  // The next word without consuming it.
  std::optional<std::string_view> Peek() const;

  // Consumes the next word when it equals `keyword` exactly.
  bool Accept(std::string_view keyword);
  // Consumes and returns the next word.
  std::optional<std::string> Word();
  // The next word, required: "expected a value after 'name'".
  Result<std::string> Value(std::string_view after);
  // The next word as an unsigned number (decimal or 0x hex):
  // "expected a number after 'rx-size', got 'x'". Nothing is consumed on failure.
  Result<uint64_t> Number(std::string_view after);
  // Same, bounded: "rx-size must be between 1 and 4096, got 5000".
  Result<uint64_t> Number(std::string_view after, uint64_t min, uint64_t max);
  // The next word, which must be one of `choices`:
  // "expected one of polling|interrupt|adaptive after 'rx-mode', got 'x'".
  Result<std::string> Choice(std::string_view after,
                             std::initializer_list<std::string_view> choices);
  // The next word as a MAC address: "expected a MAC address after 'mac-address', got 'x'".
  Result<MacAddress> Mac(std::string_view after);

  // "unknown input `foo bar'" for what is left (VPP's wording); a failure even when nothing is.
  Status UnknownInput() const;
  // Ok when everything was consumed, UnknownInput() otherwise: the usual last check.
  Status Done() const;

 private:
  std::string Describe(size_t pos) const;  // "'x'" or "nothing"

  std::vector<std::string> words_;
  size_t pos_ = 0;
};

}  // namespace uplinkd
