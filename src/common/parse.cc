#include "common/parse.h"

#include <charconv>

#include <fmt/format.h>

namespace uplinkd {

std::optional<uint64_t> ParseUnsigned(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

namespace {
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<MacAddress> ParseMac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddress mac{};
  for (size_t i = 0; i < 6; ++i) {
    int hi = HexDigit(text[i * 3]);
    int lo = HexDigit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') return std::nullopt;
    mac[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string FormatMac(const MacAddress& m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                     m[5]);
}

std::optional<std::vector<uint32_t>> ParseCpuList(std::string_view text) {
  std::vector<uint32_t> cpus;
  if (text.empty()) return std::nullopt;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty()) return std::nullopt;
    size_t dash = item.find('-');
    auto first = ParseUnsigned(item.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : ParseUnsigned(item.substr(dash + 1));
    if (!first || !last || *last < *first || *last > 4095) return std::nullopt;
    for (uint64_t c = *first; c <= *last; ++c) cpus.push_back(static_cast<uint32_t>(c));
  }
  return cpus;
}

std::optional<std::string> ParsePciAddress(std::string_view text) {
  // [dddd:]bb:ss.f with hex digits.
  unsigned domain = 0, bus = 0, slot = 0, func = 0;
  std::string s(text);
  char tail = 0;
  int n = std::sscanf(s.c_str(), "%x:%x:%x.%x%c", &domain, &bus, &slot, &func, &tail);
  if (n != 4) {
    domain = 0;
    n = std::sscanf(s.c_str(), "%x:%x.%x%c", &bus, &slot, &func, &tail);
    if (n != 3) return std::nullopt;
  }
  for (char c : text) {
    if (HexDigit(c) < 0 && c != ':' && c != '.') return std::nullopt;
  }
  if (domain > 0xffff || bus > 0xff || slot > 0xff || func > 7) return std::nullopt;
  return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", domain, bus, slot, func);
}

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace uplinkd
