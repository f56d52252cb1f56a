#pragma once
// startup.conf in VPP's syntax (`uplinkd dataplane -c FILE`, like `vpp -c FILE`).
//
// The file is a list of sections `name { option value ... }`; options may open nested blocks
// (`dev 0000:00:08.0 { num-rx-queues 2 }`, `plugin dpdk_plugin.so { enable }`). Values are single
// words; `#` starts a comment when it starts a word. Everything here is control-plane code: it
// allocates, returns Status on error and never throws.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace uplinkd {

struct StartupConfig {
  // `coredump-size unlimited`.
  static constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
  // What `socksvr { default }` and `statseg { default }` stand for (VPP's defaults).
  static constexpr std::string_view kDefaultApiSocket = "/run/vpp/api.sock";
  static constexpr std::string_view kDefaultStatsSocket = "/run/vpp/stats.sock";

  std::string file;  // where it came from; not a setting (ignored by ==)

  struct Unix {
    bool nodaemon = false, interactive = false, full_coredump = false, cli_no_pager = false;
    bool cli_no_banner = false, nosyslog = false;
    std::string log, cli_listen, cli_prompt, pidfile, exec, runtime_dir;
    std::optional<uint32_t> gid;            // a group name is resolved while parsing
    std::optional<uint64_t> coredump_size;  // bytes, or kUnlimited
    uint32_t poll_sleep_usec = 0;
    bool operator==(const Unix&) const = default;
  } unix_section;  // not `unix`: that is a predefined macro with GNU extensions

  struct ApiTrace {
    bool on = false;
    std::optional<uint32_t> nitems;
    bool operator==(const ApiTrace&) const = default;
  } api_trace;

  struct ApiSegment {
    std::optional<uint32_t> gid;
    std::string prefix;
    bool operator==(const ApiSegment&) const = default;
  } api_segment;

  struct Socksvr {
    std::string socket_name;  // empty: no binary API socket; `default` gives kDefaultApiSocket
    bool operator==(const Socksvr&) const = default;
  } socksvr;

  struct Cpu {
    std::optional<uint32_t> main_core;
    uint32_t workers = 0;                    // == corelist_workers.size() when a list is given
    std::vector<uint32_t> corelist_workers;  // sorted, unique (VPP keeps a bitmap)
    uint32_t skip_cores = 0;
    bool relative = false;         // core numbers relative to the process cpuset
    std::string scheduler_policy;  // rr, fifo, batch, idle, other; empty = default
    std::optional<uint32_t> scheduler_priority;
    std::string thread_prefix;
    bool operator==(const Cpu&) const = default;
  } cpu;

  struct Buffers {
    uint32_t buffers_per_numa = 16384;
    uint32_t default_data_size = 2048;
    bool no_hugetlb = false;
    std::string page_size;  // "4k", "2m", "1G", "default", "default-hugepage"; empty = default
    bool operator==(const Buffers&) const = default;
  } buffers;

  struct DpdkDev {
    std::string pci;  // canonical "0000:00:08.0"; "default" for `dev default`
    std::optional<uint32_t> num_rx_queues, num_tx_queues, num_rx_desc, num_tx_desc;
    std::string name, tag, devargs;
    std::vector<std::string> rss;  // `rss { ipv4 ipv4-tcp ... }` hash types
    bool operator==(const DpdkDev&) const = default;
  };
  struct Dpdk {
    bool present = false;  // a `dpdk { }` stanza exists, even an empty one
    std::vector<DpdkDev> devs;
    std::optional<DpdkDev> dev_default;
    std::vector<std::string> vdevs;  // "net_af_packet0,iface=eth1"
    std::string iova_mode;           // "va", "pa" or empty (EAL decides)
    bool no_hugetlb = false, no_multi_seg = false, no_pci = false;
    bool no_tx_checksum_offload = false, enable_tcp_udp_checksum = false;
    std::vector<uint64_t> socket_mem;  // MiB per NUMA node
    std::string uio_driver;            // vfio-pci, igb_uio, uio_pci_generic, auto
    std::string log_level;             // EAL --log-level: "debug", "8", "pmd.net.*:debug"
    std::string huge_dir;
    bool operator==(const Dpdk&) const = default;
  } dpdk;

  struct PluginRule {
    std::string name;  // "dpdk_plugin.so"
    bool enable = true;
    bool operator==(const PluginRule&) const = default;
  };
  struct Plugins {
    std::string path;
    bool default_enabled = true;    // `plugin default { disable }` turns it off
    std::vector<PluginRule> rules;  // one per name, the last `plugin NAME` wins
    bool operator==(const Plugins&) const = default;
  } plugins;

  struct Statseg {
    std::string socket_name;
    std::optional<uint64_t> size;
    std::string page_size;
    std::optional<bool> per_node_counters;
    bool operator==(const Statseg&) const = default;
  } statseg;

  struct LogClass {
    std::string name;
    std::optional<uint32_t> rate_limit;
    std::string level, syslog_level;
    bool operator==(const LogClass&) const = default;
  };
  struct Logging {
    std::string default_log_level, default_syslog_log_level;  // emerg ... debug, disabled
    std::optional<uint32_t> size;
    std::vector<LogClass> classes;
    bool operator==(const Logging&) const = default;
  } logging;

  struct Ip {
    std::optional<uint64_t> heap_size;
    bool operator==(const Ip&) const = default;
  } ip;

  struct Ip6 {
    std::optional<uint64_t> heap_size;
    std::optional<uint32_t> hash_buckets;
    bool operator==(const Ip6&) const = default;
  } ip6;

  // Used by the Calico/VPP VCL setup (`session { enable use-app-socket-api }`); accepted so those
  // files load, nothing in uplinkd acts on it.
  struct Session {
    bool enable = false, use_app_socket_api = false;
    bool operator==(const Session&) const = default;
  } session;

  // Non-fatal findings, each "FILE:LINE: ...", e.g. a plugin uplinkd does not have.
  std::vector<std::string> warnings;

  // Compares settings only: `file` and `warnings` say where a config came from, not what it is.
  bool operator==(const StartupConfig& other) const;
};

// Parses `text`; `file_name` prefixes every error and warning ("startup.conf:7: ...").
Result<StartupConfig> ParseStartupConfig(std::string_view text, const std::string& file_name);
// Reads and parses `path`; the error names the path if it cannot be read.
Result<StartupConfig> LoadStartupConfig(const std::string& path);
// Canonical VPP syntax (for `--check`); ParseStartupConfig of the result gives an equal config.
// Strings must be single words without braces (what the parser produces).
std::string FormatStartupConfig(const StartupConfig& config);
// VPP semantics: a `plugin NAME { ... }` rule wins, else `plugin default`, which is enabled unless
// disabled.
bool PluginEnabled(const StartupConfig& config, std::string_view plugin_so);
// The uplinkd driver a VPP plugin file stands for ("dpdk_plugin.so" -> "dpdk"); empty if none.
std::string_view PluginDriver(std::string_view plugin_so);

}  // namespace uplinkd
