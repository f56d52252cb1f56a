#pragma once
// Small value parsers shared by startup.conf, the CLI and the manager's environment.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uplinkd {

using MacAddress = std::array<uint8_t, 6>;

// Decimal (or 0x hex) unsigned integer; the whole string must be consumed.
std::optional<uint64_t> ParseUnsigned(std::string_view text);
// "aa:bb:cc:dd:ee:ff" (also '-' separated).
std::optional<MacAddress> ParseMac(std::string_view text);
std::string FormatMac(const MacAddress& mac);
// "0-3,5,7-8" -> {0,1,2,3,5,7,8}; empty on a malformed list.
std::optional<std::vector<uint32_t>> ParseCpuList(std::string_view text);
// PCI address "0000:00:08.0" or "00:08.0" (domain 0 implied); returns the canonical long form.
std::optional<std::string> ParsePciAddress(std::string_view text);
bool IsPowerOfTwo(uint64_t v);

}  // namespace uplinkd
