// FormatStartupConfig: canonical VPP syntax, one option per line, default values left out, so
// `uplinkd dataplane --check` shows what uplinkd understood.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/startup_config.h"

namespace uplinkd {

namespace {

// Largest exact unit, so sizes read as the user wrote them ("64M", not "67108864").
std::string FormatSize(uint64_t bytes) {
  if (bytes != 0 && bytes % (1ull << 30) == 0) return fmt::format("{}G", bytes >> 30);
  if (bytes != 0 && bytes % (1ull << 20) == 0) return fmt::format("{}M", bytes >> 20);
  if (bytes != 0 && bytes % (1ull << 10) == 0) return fmt::format("{}K", bytes >> 10);
  return fmt::format("{}", bytes);
}

// {2,3,4,7} -> "2-4,7".
std::string FormatCpuList(const std::vector<uint32_t>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]);
    i = j + 1;
  }
  return out;
}

// Collects one block's lines and emits it only when something was set.
class Block {
 public:
  explicit Block(std::string header, int indent = 0)
      : header_(std::move(header)), indent_(indent) {}
  void Line(std::string_view text) { body_ += fmt::format("{:{}}{}\n", "", indent_ + 2, text); }
  void Flag(bool on, std::string_view name) {
    if (on) Line(name);
  }
  void Value(std::string_view name, const std::string& value) {
    if (!value.empty()) Line(fmt::format("{} {}", name, value));
  }
  template <typename T>
  void Value(std::string_view name, const std::optional<T>& value) {
    if (value) Line(fmt::format("{} {}", name, *value));
  }
  void Nested(const Block& inner) { body_ += inner.Render(); }
  bool empty() const { return body_.empty(); }
  std::string Render() const {
    return fmt::format("{:{}}{} {{\n{}{:{}}}}\n", "", indent_, header_, body_, "", indent_);
  }
  void AppendTo(std::string& out, bool even_if_empty = false) const {
    if (!empty() || even_if_empty) out += Render();
  }

 private:
  std::string header_;
  int indent_;
  std::string body_;
};

std::optional<std::string> OptSize(const std::optional<uint64_t>& v) {
  if (!v) return std::nullopt;
  return FormatSize(*v);
}

std::string DevOptionsLine(const StartupConfig::DpdkDev& d, int indent) {
  Block b(fmt::format("dev {}", d.pci), indent);
  b.Value("num-rx-queues", d.num_rx_queues);
  b.Value("num-tx-queues", d.num_tx_queues);
  b.Value("num-rx-desc", d.num_rx_desc);
  b.Value("num-tx-desc", d.num_tx_desc);
  b.Value("name", d.name);
  b.Value("tag", d.tag);
  b.Value("devargs", d.devargs);
  if (!d.rss.empty()) b.Line(fmt::format("rss {{ {} }}", fmt::join(d.rss, " ")));
  if (b.empty()) return fmt::format("{:{}}dev {}\n", "", indent, d.pci);
  return b.Render();
}

}  // namespace

std::string FormatStartupConfig(const StartupConfig& c) {
  std::string out;

  const auto& u = c.unix_section;
  Block unix_block("unix");
  unix_block.Flag(u.nodaemon, "nodaemon");
  unix_block.Flag(u.interactive, "interactive");
  unix_block.Flag(u.full_coredump, "full-coredump");
  if (u.coredump_size) {
    unix_block.Line(fmt::format("coredump-size {}", *u.coredump_size == StartupConfig::kUnlimited
                                                        ? "unlimited"
                                                        : FormatSize(*u.coredump_size)));
  }
  unix_block.Flag(u.nosyslog, "nosyslog");
  unix_block.Value("log", u.log);
  unix_block.Value("cli-listen", u.cli_listen);
  unix_block.Value("cli-prompt", u.cli_prompt);
  unix_block.Flag(u.cli_no_pager, "cli-no-pager");
  unix_block.Flag(u.cli_no_banner, "cli-no-banner");
  unix_block.Value("pidfile", u.pidfile);
  unix_block.Value("runtime-dir", u.runtime_dir);
  unix_block.Value("exec", u.exec);
  unix_block.Value("gid", u.gid);
  if (u.poll_sleep_usec != 0) unix_block.Line(fmt::format("poll-sleep-usec {}", u.poll_sleep_usec));
  unix_block.AppendTo(out);

  Block trace("api-trace");
  trace.Flag(c.api_trace.on, "on");
  trace.Value("nitems", c.api_trace.nitems);
  trace.AppendTo(out);

  Block segment("api-segment");
  segment.Value("gid", c.api_segment.gid);
  segment.Value("prefix", c.api_segment.prefix);
  segment.AppendTo(out);

  Block socksvr("socksvr");
  socksvr.Value("socket-name", c.socksvr.socket_name);
  socksvr.AppendTo(out);

  const auto& cpu = c.cpu;
  Block cpu_block("cpu");
  cpu_block.Value("main-core", cpu.main_core);
  if (!cpu.corelist_workers.empty()) {
    cpu_block.Line(fmt::format("corelist-workers {}", FormatCpuList(cpu.corelist_workers)));
  } else if (cpu.workers != 0) {
    cpu_block.Line(fmt::format("workers {}", cpu.workers));
  }
  if (cpu.skip_cores != 0) cpu_block.Line(fmt::format("skip-cores {}", cpu.skip_cores));
  cpu_block.Flag(cpu.relative, "relative");
  cpu_block.Value("scheduler-policy", cpu.scheduler_policy);
  cpu_block.Value("scheduler-priority", cpu.scheduler_priority);
  cpu_block.Value("thread-prefix", cpu.thread_prefix);
  cpu_block.AppendTo(out);

  const auto& b = c.buffers;
  const StartupConfig::Buffers kDefaultBuffers;
  Block buffers("buffers");
  if (b.buffers_per_numa != kDefaultBuffers.buffers_per_numa) {
    buffers.Line(fmt::format("buffers-per-numa {}", b.buffers_per_numa));
  }
  if (b.default_data_size != kDefaultBuffers.default_data_size) {
    buffers.Line(fmt::format("default data-size {}", b.default_data_size));
  }
  buffers.Flag(b.no_hugetlb, "no-hugetlb");
  buffers.Value("page-size", b.page_size);
  buffers.AppendTo(out);

  if (c.dpdk.present) {
    const auto& d = c.dpdk;
    std::string body;
    if (d.dev_default) body += DevOptionsLine(*d.dev_default, 2);
    for (const auto& dev : d.devs) body += DevOptionsLine(dev, 2);
    Block dpdk("dpdk");
    for (const auto& v : d.vdevs) dpdk.Line(fmt::format("vdev {}", v));
    dpdk.Value("iova-mode", d.iova_mode);
    dpdk.Flag(d.no_hugetlb, "no-hugetlb");
    if (!d.socket_mem.empty()) {
      dpdk.Line(fmt::format("socket-mem {}", fmt::join(d.socket_mem, ",")));
    }
    dpdk.Value("huge-dir", d.huge_dir);
    dpdk.Value("uio-driver", d.uio_driver);
    dpdk.Value("log-level", d.log_level);
    dpdk.Flag(d.no_multi_seg, "no-multi-seg");
    dpdk.Flag(d.no_pci, "no-pci");
    dpdk.Flag(d.no_tx_checksum_offload, "no-tx-checksum-offload");
    dpdk.Flag(d.enable_tcp_udp_checksum, "enable-tcp-udp-checksum");
    std::string rendered = dpdk.Render();  // "dpdk {\n<options>}\n": devices go first
    out += "dpdk {\n" + body + rendered.substr(rendered.find('\n') + 1);
  }

  Block plugins("plugins");
  plugins.Value("path", c.plugins.path);
  if (!c.plugins.default_enabled) plugins.Line("plugin default { disable }");
  for (const auto& r : c.plugins.rules) {
    plugins.Line(fmt::format("plugin {} {{ {} }}", r.name, r.enable ? "enable" : "disable"));
  }
  plugins.AppendTo(out);

  const auto& s = c.statseg;
  Block statseg("statseg");
  statseg.Value("socket-name", s.socket_name);
  statseg.Value("size", OptSize(s.size));
  statseg.Value("page-size", s.page_size);
  if (s.per_node_counters) {
    statseg.Line(fmt::format("per-node-counters {}", *s.per_node_counters ? "on" : "off"));
  }
  statseg.AppendTo(out);

  const auto& l = c.logging;
  Block logging("logging");
  logging.Value("default-log-level", l.default_log_level);
  logging.Value("default-syslog-log-level", l.default_syslog_log_level);
  logging.Value("size", l.size);
  for (const auto& cls : l.classes) {
    Block inner(fmt::format("class {}", cls.name), 2);
    inner.Value("rate-limit", cls.rate_limit);
    inner.Value("level", cls.level);
    inner.Value("syslog-level", cls.syslog_level);
    logging.Nested(inner);
  }
  logging.AppendTo(out);

  Block ip("ip");
  ip.Value("heap-size", OptSize(c.ip.heap_size));
  ip.AppendTo(out);

  Block ip6("ip6");
  ip6.Value("heap-size", OptSize(c.ip6.heap_size));
  ip6.Value("hash-buckets", c.ip6.hash_buckets);
  ip6.AppendTo(out);

  Block session("session");
  session.Flag(c.session.enable, "enable");
  session.Flag(c.session.use_app_socket_api, "use-app-socket-api");
  session.AppendTo(out);

  return out;
}

}  // namespace uplinkd
