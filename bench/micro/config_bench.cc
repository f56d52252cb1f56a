// startup.conf parsing (control plane, but run at every start and by `uplinkd dataplane
// --check`): ParseStartupConfig on a Calico/VPP file read once, before timing.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/startup_config.h"

namespace uplinkd {
namespace {

// The richest fixture: unix, api-trace, cpu (main-core, corelist-workers, relative), socksvr and
// five `plugin` lines, with the uneven indentation of the Calico docs it came from.
constexpr const char* kFixture = UPLINKD_STARTUP_FIXTURES "/calico_vpp_configuring.conf";

void BM_ParseStartupConfig(benchmark::State& state) {
  std::ifstream in(kFixture, std::ios::binary);
  std::stringstream text_stream;
  text_stream << in.rdbuf();
  const std::string text = text_stream.str();
  if (!in || text.empty()) {
    state.SkipWithError("cannot read tests/fixtures/startup/calico_vpp_configuring.conf");
    return;
  }
  const std::string file_name = "calico_vpp_configuring.conf";
  const std::vector<uint32_t> want_workers = {2, 3};  // corelist-workers 2-3

  for (auto _ : state) {
    Result<StartupConfig> config = ParseStartupConfig(text, file_name);
    if (!config.ok()) {
      state.SkipWithError(config.status().message().c_str());
      break;
    }
    if (config->cpu.corelist_workers != want_workers || config->cpu.main_core != 0u ||
        !config->cpu.relative || config->unix_section.cli_listen != "/var/run/vpp/cli.sock") {
      state.SkipWithError("ParseStartupConfig returned the wrong settings");
      break;
    }
    benchmark::DoNotOptimize(config);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ParseStartupConfig);

}  // namespace
}  // namespace uplinkd
