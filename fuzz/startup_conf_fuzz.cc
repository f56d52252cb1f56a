// Fuzzes the startup.conf parser: any input either fails cleanly with a Status or parses into a
// config whose canonical text is a fixed point (Format -> Parse -> Format gives the same text and
// an equal config).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/check.h"
#include "config/startup_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = uplinkd::ParseStartupConfig(text, "fuzz.conf");
  if (!config.ok()) {
    UPLINKD_CHECK(!config.status().message().empty());
    return 0;
  }
  std::string formatted = uplinkd::FormatStartupConfig(*config);
  auto reparsed = uplinkd::ParseStartupConfig(formatted, "formatted.conf");
  UPLINKD_CHECK(reparsed.ok());
  UPLINKD_CHECK(*reparsed == *config);
  UPLINKD_CHECK(uplinkd::FormatStartupConfig(*reparsed) == formatted);
  return 0;
}
