// The section tables of startup.conf: one {option, parser} table per section or nested block,
// and ParseStartupConfig/LoadStartupConfig on top of them.

#include <algorithm>
#include <cstdio>
#include <memory>

#include "common/parse.h"
#include "config/parser.h"
#include "config/startup_config.h"
#include "drivers/interface_config.h"

namespace uplinkd {

using config_internal::OptionSpec;
using config_internal::ParseBlock;
using config_internal::Parser;

namespace {

using Config = StartupConfig;

// ---- Generic option parsers bound to a struct member -------------------------------------------

template <typename T, bool T::*kMember>
Status Flag(Parser&, const Token&, T& target) {
  target.*kMember = true;
  return Status::Ok();
}

template <typename T, std::string T::*kMember>
Status Str(Parser& p, const Token& opt, T& target) {
  auto v = p.Word(opt);
  if (!v.ok()) return v.status();
  target.*kMember = std::move(*v);
  return Status::Ok();
}

template <typename T, uint32_t T::*kMember, uint32_t kMin = 0>
Status U32(Parser& p, const Token& opt, T& target) {
  auto v = p.Uint32(opt, kMin);
  if (!v.ok()) return v.status();
  target.*kMember = *v;
  return Status::Ok();
}

template <typename T, std::optional<uint32_t> T::*kMember, uint32_t kMin = 0>
Status OptU32(Parser& p, const Token& opt, T& target) {
  auto v = p.Uint32(opt, kMin);
  if (!v.ok()) return v.status();
  target.*kMember = *v;
  return Status::Ok();
}

template <typename T, std::optional<uint64_t> T::*kMember>
Status OptSize(Parser& p, const Token& opt, T& target) {
  auto v = p.Size(opt);
  if (!v.ok()) return v.status();
  target.*kMember = *v;
  return Status::Ok();
}

template <typename T, std::optional<uint32_t> T::*kMember>
Status OptGid(Parser& p, const Token& opt, T& target) {
  auto v = p.Gid(opt);
  if (!v.ok()) return v.status();
  target.*kMember = *v;
  return Status::Ok();
}

// VPP's page-size values: a keyword, or a power-of-two size of at least 4k.
template <typename T, std::string T::*kMember>
Status PageSize(Parser& p, const Token& opt, T& target) {
  auto v = p.Word(opt, "a page size");
  if (!v.ok()) return v.status();
  if (*v != "default" && *v != "default-hugepage") {
    auto n = config_internal::ParseSize(*v);
    if (!n || *n < 4096 || !IsPowerOfTwo(*n)) {
      return p.Error(opt.line,
                     "invalid value {} for {} (expected 4k, 2m, 1g, default or default-hugepage)",
                     Quote(*v), Quote(opt.text));
    }
  }
  target.*kMember = std::move(*v);
  return Status::Ok();
}

template <typename T, std::string T::*kMember>
Status LogLevel(Parser& p, const Token& opt, T& target) {
  // vlib's log level names.
  auto v = p.OneOf(
      opt, {"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug", "disabled"});
  if (!v.ok()) return v.status();
  target.*kMember = std::move(*v);
  return Status::Ok();
}

// ---- unix ------------------------------------------------------------------------------------

using Unix = Config::Unix;
constexpr OptionSpec<Unix> kUnixOptions[] = {
    {"nodaemon", Flag<Unix, &Unix::nodaemon>},
    {"interactive", Flag<Unix, &Unix::interactive>},
    {"full-coredump", Flag<Unix, &Unix::full_coredump>},
    {"cli-no-pager", Flag<Unix, &Unix::cli_no_pager>},
    {"cli-no-banner", Flag<Unix, &Unix::cli_no_banner>},
    {"nosyslog", Flag<Unix, &Unix::nosyslog>},
    {"log", Str<Unix, &Unix::log>},
    {"cli-listen", Str<Unix, &Unix::cli_listen>},
    {"cli-prompt", Str<Unix, &Unix::cli_prompt>},
    {"pidfile", Str<Unix, &Unix::pidfile>},
    {"exec", Str<Unix, &Unix::exec>},
    {"startup-config", Str<Unix, &Unix::exec>},  // VPP alias of exec; the last one wins
    {"runtime-dir", Str<Unix, &Unix::runtime_dir>},
    {"gid", OptGid<Unix, &Unix::gid>},
    {"poll-sleep-usec", U32<Unix, &Unix::poll_sleep_usec>},
    {"coredump-size",
     [](Parser& p, const Token& opt, Unix& u) -> Status {
       if (!p.PeekIs(TokenKind::kWord)) {
         return p.Error(opt.line, "expected a size or 'unlimited' after {}, got {}",
                        Quote(opt.text), p.DescribeNext());
       }
       std::string_view v = p.Next().text;
       // "unlimited" is the one word besides a size that VPP takes here (RLIM_INFINITY).
       auto n = v == "unlimited" ? std::optional<uint64_t>(Config::kUnlimited)
                                 : config_internal::ParseSize(v);
       if (!n) {
         return p.Error(opt.line, "expected a size or 'unlimited' after {}, got {}",
                        Quote(opt.text), Quote(v));
       }
       u.coredump_size = *n;
       return Status::Ok();
     }},
};

// ---- api-trace, api-segment, socksvr
// -------------------------------------------------------------

using ApiTrace = Config::ApiTrace;
Status TraceOn(Parser&, const Token&, ApiTrace& t) {
  t.on = true;
  return Status::Ok();
}
Status TraceOff(Parser&, const Token&, ApiTrace& t) {
  t.on = false;
  return Status::Ok();
}
constexpr OptionSpec<ApiTrace> kApiTraceOptions[] = {
    {"on", TraceOn},
    {"enable", TraceOn},
    {"off", TraceOff},
    {"disable", TraceOff},
    {"nitems", OptU32<ApiTrace, &ApiTrace::nitems, 1>},
};

using ApiSegment = Config::ApiSegment;
constexpr OptionSpec<ApiSegment> kApiSegmentOptions[] = {
    {"gid", OptGid<ApiSegment, &ApiSegment::gid>},
    {"prefix", Str<ApiSegment, &ApiSegment::prefix>},
};

using Socksvr = Config::Socksvr;
constexpr OptionSpec<Socksvr> kSocksvrOptions[] = {
    {"socket-name", Str<Socksvr, &Socksvr::socket_name>},
    {"default",
     [](Parser&, const Token&, Socksvr& s) -> Status {
       s.socket_name = std::string(Config::kDefaultApiSocket);
       return Status::Ok();
     }},
};

// ---- cpu ---------------------------------------------------------------------------------------

using Cpu = Config::Cpu;
constexpr OptionSpec<Cpu> kCpuOptions[] = {
    {"main-core", OptU32<Cpu, &Cpu::main_core>},
    {"workers",
     [](Parser& p, const Token& opt, Cpu& c) -> Status {
       auto v = p.Uint32(opt);
       if (!v.ok()) return v.status();
       c.workers = *v;
       p.notes.workers = *v;
       p.notes.workers_line = opt.line;
       return Status::Ok();
     }},
    {"corelist-workers",
     [](Parser& p, const Token& opt, Cpu& c) -> Status {
       if (!p.PeekIs(TokenKind::kWord)) {
         return p.Error(opt.line, "expected a cpu list after {}, got {}", Quote(opt.text),
                        p.DescribeNext());
       }
       const Token& v = p.Next();
       auto cpus = ParseCpuList(v.text);
       if (!cpus) {
         return p.Error(opt.line, "expected a cpu list (like 2-3,5) after {}, got {}",
                        Quote(opt.text), Quote(v.text));
       }
       // VPP keeps workers in a bitmap: order and repeats do not matter.
       std::sort(cpus->begin(), cpus->end());
       cpus->erase(std::unique(cpus->begin(), cpus->end()), cpus->end());
       c.corelist_workers = std::move(*cpus);
       p.notes.corelist_line = opt.line;
       p.notes.corelist_text = std::string(v.text);
       return Status::Ok();
     }},
    {"skip-cores", U32<Cpu, &Cpu::skip_cores>},
    {"relative", Flag<Cpu, &Cpu::relative>},
    {"scheduler-policy",
     [](Parser& p, const Token& opt, Cpu& c) -> Status {
       auto v = p.OneOf(opt, {"rr", "fifo", "batch", "idle", "other"});
       if (!v.ok()) return v.status();
       c.scheduler_policy = std::move(*v);
       return Status::Ok();
     }},
    {"scheduler-priority",
     [](Parser& p, const Token& opt, Cpu& c) -> Status {
       auto v = p.Uint32(opt);
       if (!v.ok()) return v.status();
       if (*v > 99) {  // sched_setscheduler's range for rr and fifo
         return p.Error(opt.line, "value '{}' for {} is out of range (0..99)", *v, Quote(opt.text));
       }
       c.scheduler_priority = *v;
       return Status::Ok();
     }},
    {"thread-prefix", Str<Cpu, &Cpu::thread_prefix>},
};

// ---- buffers -----------------------------------------------------------------------------------

using Buffers = Config::Buffers;
constexpr OptionSpec<Buffers> kBuffersOptions[] = {
    {"buffers-per-numa", U32<Buffers, &Buffers::buffers_per_numa, 1>},
    {"default",
     [](Parser& p, const Token& opt, Buffers& b) -> Status {
       // VPP spells it as two words: `default data-size N`.
       if (!p.PeekIs(TokenKind::kWord)) {
         return p.Error(opt.line, "expected 'data-size' after 'default', got {}", p.DescribeNext());
       }
       const Token& key = p.Next();
       if (key.text != "data-size") {
         return p.Error(opt.line, "expected 'data-size' after 'default', got {}", Quote(key.text));
       }
       auto v = p.Uint32(key, 1);
       if (!v.ok()) return v.status();
       b.default_data_size = *v;
       return Status::Ok();
     }},
    {"no-hugetlb", Flag<Buffers, &Buffers::no_hugetlb>},
    {"page-size", PageSize<Buffers, &Buffers::page_size>},
};

// ---- dpdk --------------------------------------------------------------------------------------

using DpdkDev = Config::DpdkDev;
using Dpdk = Config::Dpdk;

// RSS hash types VPP's dpdk plugin accepts in `rss { ... }` (its foreach_dpdk_rss_hf list).
constexpr std::string_view kRssTypes[] = {
    "ipv4",    "ipv4-frag",   "ipv4-tcp",    "ipv4-udp",    "ipv4-sctp",   "ipv4-other",
    "ipv6",    "ipv6-frag",   "ipv6-tcp",    "ipv6-udp",    "ipv6-sctp",   "ipv6-other",
    "ipv6-ex", "ipv6-tcp-ex", "ipv6-udp-ex", "l2-payload",  "port",        "vxlan",
    "geneve",  "nvgre",       "gtpu",        "eth",         "s-vlan",      "c-vlan",
    "esp",     "ah",          "l2tpv3",      "pfcp",        "pppoe",       "ecpri",
    "mpls",    "l3-src-only", "l3-dst-only", "l4-src-only", "l4-dst-only",
};

// Queue counts and descriptor counts: the shared interface limits (drivers/interface_config.h),
// checked here with the line, not found out (or truncated to DPDK's uint16_t) when the port is
// set up. Descriptors need not be powers of two: the PMD rounds to its own alignment.
// The number after `opt`, any size: the limits below name a too-large value themselves.
Result<uint64_t> DevNumber(Parser& p, const Token& opt) {
  if (!p.PeekIs(TokenKind::kWord)) {
    return p.Error(opt.line, "expected a number after {}, got {}", Quote(opt.text),
                   p.DescribeNext());
  }
  const Token& v = p.Next();
  auto n = ParseUnsigned(v.text);
  if (!n) {
    return p.Error(opt.line, "expected a number after {}, got {}", Quote(opt.text), Quote(v.text));
  }
  return *n;
}

template <std::optional<uint32_t> DpdkDev::*kMember>
Status DevQueues(Parser& p, const Token& opt, DpdkDev& dev) {
  Result<uint64_t> v = DevNumber(p, opt);
  if (!v.ok()) return v.status();
  Result<uint16_t> n = CheckQueueCount(opt.text, *v);
  if (!n.ok()) return p.Error(opt.line, "{}", n.status().message());
  dev.*kMember = *n;
  return Status::Ok();
}

template <std::optional<uint32_t> DpdkDev::*kMember>
Status DevDescriptors(Parser& p, const Token& opt, DpdkDev& dev) {
  Result<uint64_t> v = DevNumber(p, opt);
  if (!v.ok()) return v.status();
  Result<uint32_t> n = CheckRingSize(opt.text, *v, RingSizeRule::kAnyInRange);
  if (!n.ok()) return p.Error(opt.line, "{}", n.status().message());
  dev.*kMember = *n;
  return Status::Ok();
}

constexpr OptionSpec<DpdkDev> kDpdkDevOptions[] = {
    {"num-rx-queues", DevQueues<&DpdkDev::num_rx_queues>},
    {"num-tx-queues", DevQueues<&DpdkDev::num_tx_queues>},
    {"num-rx-desc", DevDescriptors<&DpdkDev::num_rx_desc>},
    {"num-tx-desc", DevDescriptors<&DpdkDev::num_tx_desc>},
    {"name", Str<DpdkDev, &DpdkDev::name>},
    {"tag", Str<DpdkDev, &DpdkDev::tag>},
    {"devargs", Str<DpdkDev, &DpdkDev::devargs>},
    {"rss",
     [](Parser& p, const Token& opt, DpdkDev& d) -> Status {
       UPLINKD_RETURN_IF_ERROR(p.ExpectOpen(opt, "'rss'"));
       while (true) {
         if (p.AtEnd()) return p.Error(opt.line, "missing '}}' to close 'rss' opened here");
         const Token& t = p.Next();
         if (t.kind == TokenKind::kClose) return Status::Ok();
         if (t.kind == TokenKind::kOpen) return p.Error(t.line, "unexpected '{{' in 'rss'");
         if (std::find(std::begin(kRssTypes), std::end(kRssTypes), t.text) == std::end(kRssTypes)) {
           return p.Error(t.line, "unknown rss hash type {}", Quote(t.text));
         }
         if (std::find(d.rss.begin(), d.rss.end(), t.text) == d.rss.end()) {
           d.rss.emplace_back(t.text);
         }
       }
     }},
};

Status ParseDev(Parser& p, const Token& opt, Dpdk& dpdk) {
  if (!p.PeekIs(TokenKind::kWord)) {
    return p.Error(opt.line, "expected a PCI address or 'default' after 'dev', got {}",
                   p.DescribeNext());
  }
  const Token& id = p.Next();
  DpdkDev* dev = nullptr;
  std::string desc;
  if (id.text == "default") {
    if (!dpdk.dev_default) dpdk.dev_default.emplace().pci = "default";
    dev = &*dpdk.dev_default;
    desc = "'dev default' in section 'dpdk'";
  } else {
    if (id.text.find("__PCI_DEVICE_ID") != std::string_view::npos) {
      return p.Error(id.line,
                     "{} after 'dev' is a template placeholder; it should have been replaced by "
                     "the uplink's PCI address (like 0000:00:08.0)",
                     Quote(id.text));
    }
    auto pci = ParsePciAddress(id.text);
    if (!pci) {
      return p.Error(id.line,
                     "expected a PCI address (like 0000:00:08.0) or 'default' after 'dev', "
                     "got {}",
                     Quote(id.text));
    }
    for (const auto& d : dpdk.devs) {
      if (d.pci == *pci) {
        return p.Error(id.line, "device {} is configured twice in section 'dpdk'", Quote(*pci));
      }
    }
    dpdk.devs.emplace_back().pci = *pci;
    dev = &dpdk.devs.back();
    desc = fmt::format("'dev {}' in section 'dpdk'", *pci);
  }
  if (!p.PeekIs(TokenKind::kOpen)) return Status::Ok();  // `dev PCI` alone is valid
  const Token& open = p.Next();
  return ParseBlock<DpdkDev>(p, open.line, desc, kDpdkDevOptions, *dev);
}

// EAL --log-level: "[pattern:]level", level a name or 1..8.
bool ValidDpdkLogLevel(std::string_view v) {
  size_t colon = v.rfind(':');
  if (colon != std::string_view::npos) {
    if (colon == 0) return false;
    v = v.substr(colon + 1);
  }
  static constexpr std::string_view kNames[] = {"emergency", "alert",  "critical", "error",
                                                "warning",   "notice", "info",     "debug"};
  if (std::find(std::begin(kNames), std::end(kNames), v) != std::end(kNames)) return true;
  auto n = ParseUnsigned(v);
  return n && *n >= 1 && *n <= 8;
}

constexpr OptionSpec<Dpdk> kDpdkOptions[] = {
    {"dev", ParseDev},
    {"vdev",
     [](Parser& p, const Token& opt, Dpdk& d) -> Status {
       auto v = p.Word(opt, "vdev arguments");
       if (!v.ok()) return v.status();
       d.vdevs.push_back(std::move(*v));
       return Status::Ok();
     }},
    {"iova-mode",
     [](Parser& p, const Token& opt, Dpdk& d) -> Status {
       auto v = p.OneOf(opt, {"va", "pa"});
       if (!v.ok()) return v.status();
       d.iova_mode = std::move(*v);
       return Status::Ok();
     }},
    {"uio-driver",
     [](Parser& p, const Token& opt, Dpdk& d) -> Status {
       auto v = p.OneOf(opt, {"vfio-pci", "igb_uio", "uio_pci_generic", "auto"});
       if (!v.ok()) return v.status();
       d.uio_driver = std::move(*v);
       return Status::Ok();
     }},
    {"log-level",
     [](Parser& p, const Token& opt, Dpdk& d) -> Status {
       auto v = p.Word(opt, "a log level");
       if (!v.ok()) return v.status();
       if (!ValidDpdkLogLevel(*v)) {
         return p.Error(opt.line,
                        "invalid value {} for 'log-level' (expected [pattern:]level with level "
                        "emergency, alert, critical, error, warning, notice, info, debug or 1-8)",
                        Quote(*v));
       }
       d.log_level = std::move(*v);
       return Status::Ok();
     }},
    {"socket-mem",
     [](Parser& p, const Token& opt, Dpdk& d) -> Status {
       auto v = p.Word(opt, "a list of MiB per NUMA node");
       if (!v.ok()) return v.status();
       std::vector<uint64_t> mem;
       std::string_view rest = *v;
       while (true) {
         size_t comma = rest.find(',');
         auto n = ParseUnsigned(rest.substr(0, comma));
         if (!n) {
           return p.Error(opt.line,
                          "expected a list of MiB per NUMA node (like 1024,1024) after "
                          "'socket-mem', got {}",
                          Quote(*v));
         }
         mem.push_back(*n);
         if (comma == std::string_view::npos) break;
         rest = rest.substr(comma + 1);
       }
       d.socket_mem = std::move(mem);
       return Status::Ok();
     }},
    {"huge-dir", Str<Dpdk, &Dpdk::huge_dir>},
    {"no-hugetlb", Flag<Dpdk, &Dpdk::no_hugetlb>},
    {"no-multi-seg", Flag<Dpdk, &Dpdk::no_multi_seg>},
    {"no-pci", Flag<Dpdk, &Dpdk::no_pci>},
    {"no-tx-checksum-offload", Flag<Dpdk, &Dpdk::no_tx_checksum_offload>},
    {"enable-tcp-udp-checksum", Flag<Dpdk, &Dpdk::enable_tcp_udp_checksum>},
};

// ---- plugins -----------------------------------------------------------------------------------

using Plugins = Config::Plugins;
using PluginChoice = std::optional<bool>;
Status PluginEnable(Parser&, const Token&, PluginChoice& c) {
  c = true;
  return Status::Ok();
}
Status PluginDisable(Parser&, const Token&, PluginChoice& c) {
  c = false;
  return Status::Ok();
}
constexpr OptionSpec<PluginChoice> kPluginOptions[] = {
    {"enable", PluginEnable},
    {"disable", PluginDisable},
};

Status ParsePlugin(Parser& p, const Token& opt, Plugins& plugins) {
  if (!p.PeekIs(TokenKind::kWord)) {
    return p.Error(opt.line, "expected a plugin file name or 'default' after 'plugin', got {}",
                   p.DescribeNext());
  }
  const Token& name = p.Next();
  bool is_default = name.text == "default";
  if (!is_default && (name.text.size() <= 3 || !name.text.ends_with(".so"))) {
    return p.Error(name.line,
                   "expected a plugin file name (like dpdk_plugin.so) or 'default' after "
                   "'plugin', got {}",
                   Quote(name.text));
  }
  std::string what = fmt::format("'plugin {}'", name.text);
  UPLINKD_RETURN_IF_ERROR(p.ExpectOpen(name, what));
  PluginChoice choice;
  UPLINKD_RETURN_IF_ERROR(ParseBlock<PluginChoice>(
      p, name.line, fmt::format("{} in section 'plugins'", what), kPluginOptions, choice));
  if (!choice) {
    return p.Error(name.line, "expected 'enable' or 'disable' in {}", what);
  }
  if (is_default) {
    plugins.default_enabled = *choice;
    return Status::Ok();
  }
  if (PluginDriver(name.text).empty()) {
    p.Warn(name.line, fmt::format("plugin {} is not part of uplinkd; ignored", Quote(name.text)));
  }
  auto it = std::find_if(plugins.rules.begin(), plugins.rules.end(),
                         [&](const Config::PluginRule& r) { return r.name == name.text; });
  if (it != plugins.rules.end()) {
    it->enable = *choice;
  } else {
    plugins.rules.push_back({std::string(name.text), *choice});
  }
  return Status::Ok();
}

constexpr OptionSpec<Plugins> kPluginsOptions[] = {
    {"path", Str<Plugins, &Plugins::path>},
    {"plugin", ParsePlugin},
};

// ---- statseg, logging, ip, ip6, session
// ----------------------------------------------------------

using Statseg = Config::Statseg;
constexpr OptionSpec<Statseg> kStatsegOptions[] = {
    {"socket-name", Str<Statseg, &Statseg::socket_name>},
    {"default",
     [](Parser&, const Token&, Statseg& s) -> Status {
       s.socket_name = std::string(Config::kDefaultStatsSocket);
       return Status::Ok();
     }},
    {"size", OptSize<Statseg, &Statseg::size>},
    {"page-size", PageSize<Statseg, &Statseg::page_size>},
    {"per-node-counters",
     [](Parser& p, const Token& opt, Statseg& s) -> Status {
       auto v = p.OnOff(opt);
       if (!v.ok()) return v.status();
       s.per_node_counters = *v;
       return Status::Ok();
     }},
};

using LogClass = Config::LogClass;
using Logging = Config::Logging;
constexpr OptionSpec<LogClass> kLogClassOptions[] = {
    {"rate-limit", OptU32<LogClass, &LogClass::rate_limit>},
    {"level", LogLevel<LogClass, &LogClass::level>},
    {"syslog-level", LogLevel<LogClass, &LogClass::syslog_level>},
};

constexpr OptionSpec<Logging> kLoggingOptions[] = {
    {"default-log-level", LogLevel<Logging, &Logging::default_log_level>},
    {"default-syslog-log-level", LogLevel<Logging, &Logging::default_syslog_log_level>},
    {"size", OptU32<Logging, &Logging::size, 1>},
    {"class",
     [](Parser& p, const Token& opt, Logging& l) -> Status {
       auto name = p.Word(opt, "a log class name");
       if (!name.ok()) return name.status();
       std::string what = fmt::format("'class {}'", *name);
       UPLINKD_RETURN_IF_ERROR(p.ExpectOpen(opt, what));
       auto it = std::find_if(l.classes.begin(), l.classes.end(),
                              [&](const LogClass& c) { return c.name == *name; });
       if (it == l.classes.end()) {
         l.classes.push_back({*name, std::nullopt, "", ""});
         it = l.classes.end() - 1;
       }
       return ParseBlock<LogClass>(p, opt.line, what + " in section 'logging'", kLogClassOptions,
                                   *it);
     }},
};

using Ip = Config::Ip;
constexpr OptionSpec<Ip> kIpOptions[] = {
    {"heap-size", OptSize<Ip, &Ip::heap_size>},
};

using Ip6 = Config::Ip6;
constexpr OptionSpec<Ip6> kIp6Options[] = {
    {"heap-size", OptSize<Ip6, &Ip6::heap_size>},
    {"hash-buckets", OptU32<Ip6, &Ip6::hash_buckets, 1>},
};

using Session = Config::Session;
constexpr OptionSpec<Session> kSessionOptions[] = {
    {"enable", Flag<Session, &Session::enable>},
    {"use-app-socket-api", Flag<Session, &Session::use_app_socket_api>},
};

// ---- the section table
// ---------------------------------------------------------------------------

struct SectionSpec {
  std::string_view name;
  Status (*parse)(Parser& p, const Token& name, Config& config);
};

template <typename T, T Config::*kMember, const auto& kTable>
Status Section(Parser& p, const Token& name, Config& config) {
  return ParseBlock<T>(p, name.line, fmt::format("section '{}'", name.text), kTable,
                       config.*kMember);
}

Status DpdkSection(Parser& p, const Token& name, Config& config) {
  config.dpdk.present = true;
  return Section<Dpdk, &Config::dpdk, kDpdkOptions>(p, name, config);
}

constexpr SectionSpec kSections[] = {
    {"unix", Section<Unix, &Config::unix_section, kUnixOptions>},
    {"api-trace", Section<ApiTrace, &Config::api_trace, kApiTraceOptions>},
    {"api-segment", Section<ApiSegment, &Config::api_segment, kApiSegmentOptions>},
    {"socksvr", Section<Socksvr, &Config::socksvr, kSocksvrOptions>},
    {"cpu", Section<Cpu, &Config::cpu, kCpuOptions>},
    {"buffers", Section<Buffers, &Config::buffers, kBuffersOptions>},
    {"dpdk", DpdkSection},
    {"plugins", Section<Plugins, &Config::plugins, kPluginsOptions>},
    {"statseg", Section<Statseg, &Config::statseg, kStatsegOptions>},
    {"logging", Section<Logging, &Config::logging, kLoggingOptions>},
    {"ip", Section<Ip, &Config::ip, kIpOptions>},
    {"ip6", Section<Ip6, &Config::ip6, kIp6Options>},
    {"session", Section<Session, &Config::session, kSessionOptions>},
};

const SectionSpec* FindSection(std::string_view name) {
  for (const auto& s : kSections) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// Checks that need the whole file: both worker counts may be spread over two `cpu` stanzas.
Status Finish(Parser& p, Config& config) {
  auto& n = p.notes;
  if (n.corelist_line != 0) {
    auto count = static_cast<uint32_t>(config.cpu.corelist_workers.size());
    if (n.workers_line != 0 && n.workers != count) {
      return p.Error(std::max(n.workers_line, n.corelist_line),
                     "'workers {}' does not match 'corelist-workers {}' ({} cores)", n.workers,
                     n.corelist_text, count);
    }
    config.cpu.workers = count;
  }
  return Status::Ok();
}

}  // namespace

namespace config_internal {
bool IsSectionName(std::string_view word) { return FindSection(word) != nullptr; }
}  // namespace config_internal

bool StartupConfig::operator==(const StartupConfig& o) const {
  return unix_section == o.unix_section && api_trace == o.api_trace &&
         api_segment == o.api_segment && socksvr == o.socksvr && cpu == o.cpu &&
         buffers == o.buffers && dpdk == o.dpdk && plugins == o.plugins && statseg == o.statseg &&
         logging == o.logging && ip == o.ip && ip6 == o.ip6 && session == o.session;
}

Result<StartupConfig> ParseStartupConfig(std::string_view text, const std::string& file_name) {
  auto tokens = Tokenize(text, file_name);
  if (!tokens.ok()) return tokens.status();
  Parser p(*tokens, file_name);
  StartupConfig config;
  config.file = file_name;
  while (!p.AtEnd()) {
    const Token& t = p.Next();
    if (t.kind == TokenKind::kClose) return p.Error(t.line, "unexpected '}}' with no open section");
    if (t.kind == TokenKind::kOpen)
      return p.Error(t.line, "unexpected '{{' without a section name");
    const SectionSpec* section = FindSection(t.text);
    if (section == nullptr) return p.Error(t.line, "unknown section {}", Quote(t.text));
    UPLINKD_RETURN_IF_ERROR(p.ExpectOpen(t, fmt::format("section name {}", Quote(t.text))));
    UPLINKD_RETURN_IF_ERROR(section->parse(p, t, config));
  }
  UPLINKD_RETURN_IF_ERROR(Finish(p, config));
  config.warnings = p.TakeWarnings();
  return config;
}

Result<StartupConfig> LoadStartupConfig(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return ErrnoFailure("cannot read startup config '{}'", path);
  std::string text;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f.get())) > 0) text.append(buf, n);
  if (std::ferror(f.get())) return ErrnoFailure("cannot read startup config '{}'", path);
  return ParseStartupConfig(text, path);
}

}  // namespace uplinkd
