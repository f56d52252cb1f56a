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
#ifdef UPLINKD_WITH_DPDK
#include "drivers/dpdk/dpdk.h"
#endif
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

#ifdef UPLINKD_WITH_DPDK
// Every port of the dpdk stanza becomes an interface (admin down, polled, as VPP adds them).
Status AddDpdkPorts(const StartupConfig& cfg, DpdkRuntime& dpdk, Engine& engine) {
  UPLINKD_RETURN_IF_ERROR(dpdk.AttachPool(engine.pool()));
  auto ports = dpdk.CreatePorts(cfg, engine.num_workers());
  if (!ports.ok()) return ports.status();
  for (DpdkPort& p : *ports) {
    auto index = engine.AddInterface(p.name, std::move(p.driver), RxMode::kPolling);
    if (!index.ok()) return index.status();
    if (!p.tag.empty()) UPLINKD_RETURN_IF_ERROR(engine.SetTag(*index, p.tag));
  }
  return Status::Ok();
}
#endif

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
  const bool stanza_lists_devices = !cfg.dpdk.devs.empty() || !cfg.dpdk.vdevs.empty();
#ifdef UPLINKD_WITH_DPDK
  const bool use_dpdk = DpdkWanted(cfg);
  if (use_dpdk) {
    // Checked before anything starts: a stanza this machine cannot run is an error naming it.
    if (Status s = CheckDpdkConfig(cfg); !s.ok()) {
      std::fprintf(stderr, "uplinkd: %s\n", s.message().c_str());
      return 1;
    }
    // An mbuf header in front of every buffer: DPDK and the graph share the buffers.
    engine_config.buffers.ext_header_size = kDpdkExtHeaderSize;
  }
#else
  const bool use_dpdk = false;
  if (stanza_lists_devices && PluginEnabled(cfg, "dpdk_plugin.so")) {
    std::fprintf(stderr, "uplinkd: %s: dpdk { } lists devices, but this uplinkd was built "
                 "without DPDK (UPLINKD_WITH_DPDK=OFF)\n", options.config_path.c_str());
    return 1;
  }
#endif
  if (stanza_lists_devices && !use_dpdk) {
    log->warn("{}: dpdk {{ }} is not used: dpdk_plugin.so is disabled", options.config_path);
  }

  if (options.check_only) {
    std::printf("%s", FormatStartupConfig(cfg).c_str());
    std::printf("# %s: ok (%u worker thread(s), %u buffers of %u bytes)\n",
                options.config_path.c_str(), engine_config.workers == 0 ? 1 : engine_config.workers,
                engine_config.buffers.buffers, engine_config.buffers.data_size);
#ifdef UPLINKD_WITH_DPDK
    if (use_dpdk) {
      std::string line;
      for (const std::string& a : DpdkEalArguments(cfg, cfg.cpu.main_core.value_or(0))) {
        line += (line.empty() ? "" : " ") + a;
      }
      std::printf("# dpdk: EAL %s\n", line.c_str());
    }
#endif
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
#ifdef UPLINKD_WITH_DPDK
  // Declared after the engine, so destroyed before it, while the buffer pool under the mempool
  // still exists; every path out stops the engine (closing the ports) first.
  std::unique_ptr<DpdkRuntime> dpdk;
  if (use_dpdk) {
    auto rt = DpdkRuntime::Init(cfg);
    if (!rt.ok()) {
      std::fprintf(stderr, "uplinkd: %s: %s\n", options.config_path.c_str(),
                   rt.status().message().c_str());
      return 1;
    }
    dpdk = std::move(rt).value();
    if (Status s = AddDpdkPorts(cfg, *dpdk, **engine); !s.ok()) {
      std::fprintf(stderr, "uplinkd: %s: %s\n", options.config_path.c_str(), s.message().c_str());
      (*engine)->Stop();
      return 1;
    }
  }
#endif
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
