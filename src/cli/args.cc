#include "cli/args.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <utility>

namespace uplinkd {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

Result<std::vector<std::string>> TokenizeCliLine(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // separate from word.empty(): `""` is a word
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (IsSpace(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c != '"') {
      word.push_back(c);
      continue;
    }
    size_t open = i;
    bool closed = false;
    for (++i; i < line.size(); ++i) {
      c = line[i];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) {
        c = line[++i];
      }
      word.push_back(c);
    }
    if (!closed) {
      return Failure(EINVAL, "missing closing quote for the quote at column {}", open + 1);
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::string JoinCliWords(const std::vector<std::string>& words) {
  std::string line;
  for (const std::string& w : words) {
    if (!line.empty()) line += ' ';
    bool quote =
        w.empty() || w.find('"') != std::string::npos || std::any_of(w.begin(), w.end(), IsSpace);
    if (!quote) {
      line += w;
      continue;
    }
    line += '"';
    for (char c : w) {
      if (c == '"' || c == '\\') line += '\\';
      line += c;
    }
    line += '"';
  }
  return line;
}

CliArgs::CliArgs(std::vector<std::string> words) : words_(std::move(words)) {}

std::vector<std::string> CliArgs::Remaining() const {
  if (empty()) return {};
  return std::vector<std::string>(words_.begin() + static_cast<std::ptrdiff_t>(pos_), words_.end());
}

std::optional<std::string_view> CliArgs::Peek() const {
  if (empty()) return std::nullopt;
  return std::string_view(words_[pos_]);
}

bool CliArgs::Accept(std::string_view keyword) {
  if (empty() || words_[pos_] != keyword) return false;
  ++pos_;
  return true;
}

std::optional<std::string> CliArgs::Word() {
  if (empty()) return std::nullopt;
  return words_[pos_++];
}

std::string CliArgs::Describe(size_t pos) const {
  if (pos >= words_.size()) return "nothing";
  return fmt::format("'{}'", words_[pos]);
}

Result<std::string> CliArgs::Value(std::string_view after) {
  if (empty()) return Failure(EINVAL, "expected a value after '{}'", after);
  return words_[pos_++];
}

Result<uint64_t> CliArgs::Number(std::string_view after) {
  std::optional<uint64_t> v;
  if (!empty()) v = ParseUnsigned(words_[pos_]);
  if (!v) return Failure(EINVAL, "expected a number after '{}', got {}", after, Describe(pos_));
  ++pos_;
  return *v;
}

Result<uint64_t> CliArgs::Number(std::string_view after, uint64_t min, uint64_t max) {
  Result<uint64_t> v = Number(after);
  if (!v.ok()) return v;
  if (*v < min || *v > max) {
    --pos_;  // nothing consumed on failure
    return Failure(ERANGE, "{} must be between {} and {}, got {}", after, min, max, *v);
  }
  return v;
}

Result<std::string> CliArgs::Choice(std::string_view after,
                                    std::initializer_list<std::string_view> choices) {
  if (!empty()) {
    for (std::string_view choice : choices) {
      if (words_[pos_] == choice) return words_[pos_++];
    }
  }
  return Failure(EINVAL, "expected one of {} after '{}', got {}", fmt::join(choices, "|"), after,
                 Describe(pos_));
}

Result<MacAddress> CliArgs::Mac(std::string_view after) {
  std::optional<MacAddress> mac;
  if (!empty()) mac = ParseMac(words_[pos_]);
  if (!mac) {
    return Failure(EINVAL, "expected a MAC address after '{}', got {}", after, Describe(pos_));
  }
  ++pos_;
  return *mac;
}

Status CliArgs::UnknownInput() const {
  return Failure(EINVAL, "unknown input `{}'", fmt::join(Remaining(), " "));
}

Status CliArgs::Done() const {
  if (empty()) return Status::Ok();
  return UnknownInput();
}

}  // namespace uplinkd
