#include "daemon/format.h"

#include <fmt/format.h>

#include "common/parse.h"

namespace uplinkd {
namespace {

using nlohmann::json;

struct Counter {
  const char* name;
  uint64_t value;
};

std::vector<Counter> Counters(const InterfaceStats& s) {
  // VPP prints only the counters that are not zero, in this order.
  std::vector<Counter> all = {
      {"rx packets", s.rx_packets}, {"rx bytes", s.rx_bytes},     {"tx packets", s.tx_packets},
      {"tx bytes", s.tx_bytes},     {"drops", s.drops},           {"rx-miss", s.rx_miss},
      {"rx-no-buf", s.rx_no_buffer},
      {"rx-error", s.rx_errors + s.rx_too_long},                  {"tx-error", s.tx_errors},
      {"tx-gro-merged", s.tx_gro_merged},
  };
  std::vector<Counter> out;
  for (const Counter& c : all) {
    if (c.value) out.push_back(c);
  }
  return out;
}

json StatsJson(const InterfaceStats& s) {
  return json{{"rx_packets", s.rx_packets},     {"rx_bytes", s.rx_bytes},
              {"tx_packets", s.tx_packets},     {"tx_bytes", s.tx_bytes},
              {"drops", s.drops},               {"tx_errors", s.tx_errors},
              {"rx_no_buffer", s.rx_no_buffer}, {"rx_too_long", s.rx_too_long},
              {"rx_errors", s.rx_errors},       {"rx_miss", s.rx_miss},
              {"tx_ring_full", s.tx_ring_full}, {"tx_too_long", s.tx_too_long},
              {"tx_offload", s.tx_offload},
              {"tx_kicks", s.tx_kicks},         {"tx_gro_merged", s.tx_gro_merged}};
}

std::string WorkerLabel(const RxQueueView& q) {
  return fmt::format("{} ({})", q.worker_name, q.worker);
}

}  // namespace

std::string FormatShowInterface(const std::vector<InterfaceView>& interfaces) {
  std::string out = fmt::format("{:^32}{:^5}{:^10}{:^21}{:^16}{:^16}\n", "Name", "Idx", "State",
                                "MTU (L3/IP4/IP6/MPLS)", "Counter", "Count");
  for (const InterfaceView& v : interfaces) {
    uint32_t mtu = v.has_driver ? v.info.mtu : 0;
    std::string mtus = fmt::format("{}/0/0/0", mtu);
    std::vector<Counter> counters = Counters(v.stats);
    std::string head = fmt::format("{:<32}{:^5}{:^10}{:^21}", v.name, v.sw_if_index,
                                   v.admin_up ? "up" : "down", mtus);
    if (counters.empty()) {
      out += head + "\n";
      continue;
    }
    for (size_t i = 0; i < counters.size(); ++i) {
      out += fmt::format("{:<68}{:<16}{:>16}\n", i == 0 ? head : "", counters[i].name,
                         counters[i].value);
    }
  }
  return out;
}

json ShowInterfaceJson(const std::vector<InterfaceView>& interfaces) {
  json list = json::array();
  for (const InterfaceView& v : interfaces) {
    list.push_back({{"name", v.name},
                    {"sw_if_index", v.sw_if_index},
                    {"state", v.admin_up ? "up" : "down"},
                    {"mtu", v.has_driver ? v.info.mtu : 0},
                    {"counters", StatsJson(v.stats)},
                    {"l2_xconnect", v.xconnect}});
  }
  return list;
}

std::string FormatShowHardware(const std::vector<InterfaceView>& interfaces) {
  std::string out = fmt::format("{:^32}{:^5}{:^6}{}\n", "Name", "Idx", "Link", "Hardware");
  for (const InterfaceView& v : interfaces) {
    if (!v.has_driver) {
      out += fmt::format("{:<32}{:^5}{:^6}{}\n", v.name, v.sw_if_index, "down", v.name);
      out += "  local\n";
      continue;
    }
    out += fmt::format("{:<32}{:^5}{:^6}{}\n", v.name, v.sw_if_index,
                       v.info.link_up ? "up" : "down", v.name);
    out += "  Link speed: unknown\n";
    out += fmt::format("  Driver: {}{}\n", v.info.driver,
                       v.info.host_if.empty() ? "" : fmt::format(" (host interface {})", v.info.host_if));
    out += "  RX Queues:\n";
    out += fmt::format("    {:<6}{:<20}{:<12}{:>14}{:>16}{:>10}\n", "queue", "thread", "mode",
                       "packets", "bytes", "wakeups");
    for (const RxQueueView& q : v.rx_queues) {
      out += fmt::format("    {:<6}{:<20}{:<12}{:>14}{:>16}{:>10}\n", q.queue, WorkerLabel(q),
                         RxModeName(q.mode), q.packets, q.bytes, q.wakeups);
    }
    out += "  TX Queues:\n";
    out += fmt::format("    {:<6}{:<8}{:>14}{:>16}{:>12}{:>10}\n", "queue", "shared", "packets",
                       "bytes", "ring-full", "kicks");
    for (const TxQueueView& q : v.tx_queues) {
      out += fmt::format("    {:<6}{:<8}{:>14}{:>16}{:>12}{:>10}\n", q.queue, q.shared ? "yes" : "no",
                         q.packets, q.bytes, q.drops_ring_full, q.kicks);
    }
    out += fmt::format("  Ethernet address {}\n", FormatMac(v.info.mac));
    out += fmt::format("  MTU {}, rx ring {}, tx ring {}\n", v.info.mtu, v.info.rx_ring_size,
                       v.info.tx_ring_size);
    for (const std::string& line : v.info.details) out += fmt::format("  {}\n", line);
  }
  return out;
}

json ShowHardwareJson(const std::vector<InterfaceView>& interfaces) {
  json list = json::array();
  for (const InterfaceView& v : interfaces) {
    json rx = json::array(), tx = json::array();
    for (const RxQueueView& q : v.rx_queues) {
      rx.push_back({{"queue", q.queue},
                    {"worker", q.worker},
                    {"thread", q.worker_name},
                    {"mode", RxModeName(q.mode)},
                    {"packets", q.packets},
                    {"bytes", q.bytes},
                    {"wakeups", q.wakeups},
                    {"drops_no_buffer", q.drops_no_buffer},
                    {"drops_too_long", q.drops_too_long},
                    {"errors", q.errors}});
    }
    for (const TxQueueView& q : v.tx_queues) {
      tx.push_back({{"queue", q.queue},
                    {"shared", q.shared},
                    {"packets", q.packets},
                    {"bytes", q.bytes},
                    {"drops_ring_full", q.drops_ring_full},
                    {"errors", q.errors},
                    {"kicks", q.kicks}});
    }
    list.push_back({{"name", v.name},
                    {"sw_if_index", v.sw_if_index},
                    {"driver", v.has_driver ? v.info.driver : "local"},
                    {"host_if", v.info.host_if},
                    {"link", v.info.link_up ? "up" : "down"},
                    {"mac", FormatMac(v.info.mac)},
                    {"mtu", v.info.mtu},
                    {"rx_ring_size", v.info.rx_ring_size},
                    {"tx_ring_size", v.info.tx_ring_size},
                    {"rx_queues", rx},
                    {"tx_queues", tx},
                    {"details", v.info.details}});
  }
  return list;
}

std::string FormatShowRuntime(const std::vector<ThreadView>& threads) {
  std::string out;
  for (const ThreadView& t : threads) {
    out += fmt::format("Thread {} {} (lcore {})\n", t.index, t.name,
                       t.core ? std::to_string(*t.core) : std::string("any"));
    uint64_t vectors = 0, calls = 0;
    for (const NodeView& n : t.nodes) {
      if (n.name.find("-input") != std::string::npos) {
        vectors += n.vectors;
        calls += n.calls;
      }
    }
    out += fmt::format("Time {:.1f}, average vectors/node {:.2f}, loops/sec {:.2e}, sleeps {}\n",
                       t.seconds, calls ? double(vectors) / double(calls) : 0.0,
                       t.seconds > 0 ? double(t.loops) / t.seconds : 0.0, t.sleeps);
    out += fmt::format("  vector rates in {:.4e}\n", t.seconds > 0 ? double(vectors) / t.seconds : 0.0);
    out += fmt::format("{:^32}{:^14}{:>16}{:>16}{:>16}{:>16}\n", "Name", "State", "Calls",
                       "Vectors", "Clocks", "Vectors/Call");
    for (const NodeView& n : t.nodes) {
      out += fmt::format("{:<32}{:^14}{:>16}{:>16}{:>16.2e}{:>16.2f}\n", n.name, n.state,
                         n.calls, n.vectors,
                         n.vectors ? double(n.clocks) / double(n.vectors) : double(n.clocks),
                         n.calls ? double(n.vectors) / double(n.calls) : 0.0);
    }
    for (const std::string& q : t.input_queues) out += fmt::format("  rx: {}\n", q);
    out += "---------------\n";
  }
  return out;
}

json ShowRuntimeJson(const std::vector<ThreadView>& threads) {
  json list = json::array();
  for (const ThreadView& t : threads) {
    json nodes = json::array();
    for (const NodeView& n : t.nodes) {
      nodes.push_back({{"name", n.name}, {"state", n.state}, {"calls", n.calls}, {"vectors", n.vectors}, {"clocks", n.clocks}});
    }
    list.push_back({{"index", t.index},
                    {"name", t.name},
                    {"core", t.core ? json(*t.core) : json(nullptr)},
                    {"seconds", t.seconds},
                    {"loops", t.loops},
                    {"sleeps", t.sleeps},
                    {"nodes", nodes},
                    {"rx_queues", t.input_queues}});
  }
  return list;
}

std::string FormatShowErrors(const std::vector<ErrorView>& errors) {
  std::string out = fmt::format("{:>8}{:>26}{:>38}{:>18}\n", "Count", "Node", "Reason", "Severity");
  for (const ErrorView& e : errors) {
    out += fmt::format("{:>8}{:>26}{:>38}{:>18}\n", e.count, e.node, e.reason, e.severity);
  }
  return out;
}

json ShowErrorsJson(const std::vector<ErrorView>& errors) {
  json list = json::array();
  for (const ErrorView& e : errors) {
    list.push_back({{"count", e.count}, {"node", e.node}, {"reason", e.reason}, {"severity", e.severity}});
  }
  return list;
}

std::string FormatShowBuffers(const BufferPool& pool) {
  uint32_t avail = pool.free_in_pool();
  uint32_t cached = pool.cached();
  std::string out = fmt::format("{:<20}{:>6}{:>6}{:>7}{:>11}{:>8}{:>8}{:>8}{:>8}\n", "Pool Name",
                                "Index", "NUMA", "Size", "Data Size", "Total", "Avail", "Cached",
                                "Used");
  out += fmt::format("{:<20}{:>6}{:>6}{:>7}{:>11}{:>8}{:>8}{:>8}{:>8}\n", "default-numa-0", 0, 0,
                     pool.slot_size(), pool.data_size(), pool.total(), avail, cached,
                     pool.total() - avail - cached);
  out += fmt::format("memory: {} bytes on {}\n", pool.memory_size(),
                     pool.on_hugepages() ? "hugepages" : "plain pages");
  return out;
}

json ShowBuffersJson(const BufferPool& pool) {
  uint32_t avail = pool.free_in_pool();
  uint32_t cached = pool.cached();
  return json::array({{{"name", "default-numa-0"},
                       {"index", 0},
                       {"numa", 0},
                       {"size", pool.slot_size()},
                       {"data_size", pool.data_size()},
                       {"total", pool.total()},
                       {"avail", avail},
                       {"cached", cached},
                       {"used", pool.total() - avail - cached},
                       {"hugepages", pool.on_hugepages()}}});
}

std::string FormatRxPlacement(const std::vector<InterfaceView>& interfaces) {
  std::string out;
  std::vector<std::string> threads;
  for (const InterfaceView& v : interfaces) {
    for (const RxQueueView& q : v.rx_queues) {
      out += fmt::format("Thread {} ({}):\n  {} queue {} ({})\n", q.worker, q.worker_name, v.name,
                         q.queue, RxModeName(q.mode));
    }
  }
  return out;
}

json RxPlacementJson(const std::vector<InterfaceView>& interfaces) {
  json list = json::array();
  for (const InterfaceView& v : interfaces) {
    for (const RxQueueView& q : v.rx_queues) {
      list.push_back({{"interface", v.name}, {"queue", q.queue}, {"worker", q.worker},
                      {"thread", q.worker_name}, {"mode", RxModeName(q.mode)}});
    }
  }
  return list;
}

}  // namespace uplinkd
