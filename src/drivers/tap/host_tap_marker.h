#pragma once
// The alias (IFLA_IFALIAS) every host tap gets when it is created, before it takes the uplink's
// name: with its kind (tun) and the index the manager records, it is how the manager tells its
// own tap from an interface that merely has the same name (a re-plugged NIC, a CNI's veth).

#include <string_view>

namespace uplinkd {

inline constexpr std::string_view kHostTapAliasPrefix = "uplinkd host tap";

inline bool HasHostTapAlias(std::string_view alias) {
  return alias.substr(0, kHostTapAliasPrefix.size()) == kHostTapAliasPrefix;
}

}  // namespace uplinkd
