#pragma once
// Splits startup.conf text into words and braces, with line numbers for error messages.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace uplinkd {

enum class TokenKind { kWord, kOpen, kClose };

struct Token {
  TokenKind kind = TokenKind::kWord;
  std::string_view text;  // points into the tokenized text, which must outlive the tokens
  uint32_t line = 1;
};

// Words are runs of anything but whitespace and braces; '{' and '}' are tokens of their own even
// when glued to a word ("{enable}"). A '#' that starts a word starts a comment to the end of the
// line, so "a#b" stays one word (VPP paths and devargs may contain '#'). Control characters other
// than whitespace are rejected: they are never meant and would make messages unreadable.
Result<std::vector<Token>> Tokenize(std::string_view text, const std::string& file_name);

// How a token reads in a message: "'word'" (shortened if very long).
std::string Quote(std::string_view word);

}  // namespace uplinkd
