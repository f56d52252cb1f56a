#include "daemon/dataplane.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "cli/command_table.h"
#include "cli/server.h"
#include "common/log.h"
#include "config/startup_config.h"
#include "daemon/commands.h"
#include "graph/engine.h"
#include "version.h"

namespace uplinkd {
namespace {

constexpr const char* kDefaultCliSocket = "/run/uplinkd/cli.sock";

// VPP's log level names onto ours.
const char* MapLogLevel(const std::string& vpp) {
  if (vpp == "emerg" || vpp == "alert" || vpp == "crit") return "critical";
  if (vpp == "err" || vpp == "error") return "err";
  if (vpp == "warn" || vpp == "warning") return "warn";
  if (vpp == "notice" || vpp == "info") return "info";
  if (vpp == "debug") return "debug";
  if (vpp == "disabled") return "off";
  return nullptr;
}

EngineConfig MakeEngineConfig(const StartupConfig& cfg) {
  EngineConfig e;
  e.buffers.buffers = cfg.buffers.buffers_per_numa;
  e.buffers.data_size = cfg.buffers.default_data_size;
  e.buffers.allow_hugepages = !cfg.buffers.no_hugetlb;
  e.workers = cfg.cpu.workers;
  e.worker_cores = cfg.cpu.corelist_workers;
  e.main_core = cfg.cpu.main_core;
  return e;
}

}  // namespace

int RunDataplane(const DataplaneOptions& options) {
  auto log = Logger("dataplane");
  auto loaded = LoadStartupConfig(options.config_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "uplinkd: %s\n", loaded.status().message().c_str());
    return 1;
  }
  const StartupConfig& cfg = *loaded;
  for (const std::string& w : cfg.warnings) log->warn("{}", w);
  if (!cfg.logging.default_log_level.empty()) {
    const char* level = MapLogLevel(cfg.logging.default_log_level);
    if (level) SetLogLevel(level);
  }
  EngineConfig engine_config = MakeEngineConfig(cfg);

  if (options.check_only) {
    std::printf("%s", FormatStartupConfig(cfg).c_str());
    std::printf("# %s: ok (%u worker thread(s), %u buffers of %u bytes)\n",
                options.config_path.c_str(), engine_config.workers == 0 ? 1 : engine_config.workers,
                engine_config.buffers.buffers, engine_config.buffers.data_size);
    return 0;
  }

  if (!cfg.unix_section.log.empty()) {
    std::string error;
    if (!AddLogFile(cfg.unix_section.log, &error)) {
      std::fprintf(stderr, "uplinkd: %s: unix { log %s }: %s\n", options.config_path.c_str(),
                   cfg.unix_section.log.c_str(), error.c_str());
      return 1;
    }
  }

  // Signals are taken synchronously by this thread; every thread started below inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto engine = Engine::Create(engine_config);
  if (!engine.ok()) {
    std::fprintf(stderr, "uplinkd: %s: %s\n", options.config_path.c_str(),
                 engine.status().message().c_str());
    return 1;
  }
  CommandTable table;
  RegisterBuiltinCommands(table, UPLINKD_VERSION);
  EnabledDrivers enabled;
  enabled.af_packet = PluginEnabled(cfg, "af_packet_plugin.so");
  enabled.af_xdp = PluginEnabled(cfg, "af_xdp_plugin.so");
  if (Status s = RegisterDataplaneCommands(table, **engine, enabled); !s.ok()) {
    std::fprintf(stderr, "uplinkd: %s\n", s.message().c_str());
    return 1;
  }
  if (Status s = (*engine)->Start(); !s.ok()) {
    std::fprintf(stderr, "uplinkd: %s\n", s.message().c_str());
    return 1;
  }
  if (!cfg.unix_section.pidfile.empty()) {
    std::ofstream(cfg.unix_section.pidfile) << getpid() << "\n";
  }
  std::string cli_path = cfg.unix_section.cli_listen.empty() ? kDefaultCliSocket
                                                             : cfg.unix_section.cli_listen;
  auto server = CliServer::Start(cli_path, cfg.unix_section.gid, table);
  if (!server.ok()) {
    std::fprintf(stderr, "uplinkd: cli-listen %s: %s\n", cli_path.c_str(),
                 server.status().message().c_str());
    (*engine)->Stop();
    return 1;
  }
  log->info("uplinkd {} dataplane running; cli on {}", UPLINKD_VERSION, cli_path);

  int exit_code = 0;
  if (!cfg.unix_section.exec.empty()) {
    CliReply reply;
    {
      std::lock_guard lock(table.mutex());
      reply = table.ExecuteFile(cfg.unix_section.exec);
    }
    if (!reply.status.ok()) {
      log->error("unix {{ exec {} }}: {}", cfg.unix_section.exec, reply.status.message());
      exit_code = 1;
    } else if (!reply.text.empty()) {
      log->info("exec {}:\n{}", cfg.unix_section.exec, reply.text);
    }
  }

  if (exit_code == 0) {
    int sig = 0;
    sigwait(&signals, &sig);
    log->info("signal {}: stopping", sig);
  }
  (*server)->Stop();
  (*engine)->Stop();  // closes every driver: the kernel gets its interfaces back
  if (!cfg.unix_section.pidfile.empty()) unlink(cfg.unix_section.pidfile.c_str());
  log->info("stopped");
  return exit_code;
}

}  // namespace uplinkd
