#include "config/tokenizer.h"

#include <fmt/format.h>

namespace uplinkd {

namespace {
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsControl(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u < 0x20 || u == 0x7f) && !IsSpace(c);
}
}  // namespace

std::string Quote(std::string_view word) {
  // Long enough for any real path, short enough that a fuzzed megabyte word stays one line.
  constexpr size_t kMaxShown = 80;
  if (word.size() <= kMaxShown) return fmt::format("'{}'", word);
  return fmt::format("'{}...'", word.substr(0, kMaxShown));
}

Result<std::vector<Token>> Tokenize(std::string_view text, const std::string& file_name) {
  std::vector<Token> tokens;
  uint32_t line = 1;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (IsSpace(c)) {
      ++i;
    } else if (IsControl(c)) {
      return Failure(EINVAL, "{}:{}: unexpected control character 0x{:02x}", file_name, line,
                     static_cast<unsigned char>(c));
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '{' || c == '}') {
      tokens.push_back({c == '{' ? TokenKind::kOpen : TokenKind::kClose, text.substr(i, 1), line});
      ++i;
    } else {
      size_t start = i;
      while (i < text.size() && !IsSpace(text[i]) && text[i] != '{' && text[i] != '}') {
        if (IsControl(text[i])) {
          return Failure(EINVAL, "{}:{}: unexpected control character 0x{:02x}", file_name, line,
                         static_cast<unsigned char>(text[i]));
        }
        ++i;
      }
      tokens.push_back({TokenKind::kWord, text.substr(start, i - start), line});
    }
  }
  return tokens;
}

}  // namespace uplinkd
