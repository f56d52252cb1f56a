#include <algorithm>

#include "config/startup_config.h"

namespace uplinkd {

namespace {
struct PluginDriverName {
  std::string_view plugin;
  std::string_view driver;
};
// VPP plugin files that stand for one of our drivers. virtio is built into VPP (no plugin file),
// but a virtio_plugin.so line is accepted so configs written for either layout load.
constexpr PluginDriverName kPluginDrivers[] = {
    {"dpdk_plugin.so", "dpdk"},
    {"af_xdp_plugin.so", "af_xdp"},
    {"af_packet_plugin.so", "af_packet"},
    {"virtio_plugin.so", "virtio"},
    {"avf_plugin.so", "avf"},
};
}  // namespace

std::string_view PluginDriver(std::string_view plugin_so) {
  for (const auto& p : kPluginDrivers) {
    if (p.plugin == plugin_so) return p.driver;
  }
  return {};
}

bool PluginEnabled(const StartupConfig& config, std::string_view plugin_so) {
  const auto& rules = config.plugins.rules;
  auto it = std::find_if(rules.begin(), rules.end(),
                         [&](const StartupConfig::PluginRule& r) { return r.name == plugin_so; });
  if (it != rules.end()) return it->enable;
  return config.plugins.default_enabled;
}

}  // namespace uplinkd
