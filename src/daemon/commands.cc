#include "daemon/commands.h"

#include <fmt/format.h>

#include "daemon/format.h"
#include "drivers/af_packet/af_packet.h"
#ifdef UPLINKD_WITH_XDP
#include "drivers/af_xdp/af_xdp.h"
#endif
#include "drivers/tap/tap.h"

namespace uplinkd {
namespace {

// Default rx modes: af_packet sleeps on its socket (the Calico guide's default for it); a tap
// polls under load and sleeps when idle.
constexpr RxMode kAfPacketDefaultMode = RxMode::kInterrupt;
constexpr RxMode kTapDefaultMode = RxMode::kAdaptive;
constexpr RxMode kAfXdpDefaultMode = RxMode::kAdaptive;

Result<uint32_t> InterfaceArg(Engine& engine, CliArgs& args) {
  auto name = args.Word();
  if (!name) return Failure(EINVAL, "expected an interface name");
  return engine.FindInterface(*name);
}

Result<RxMode> ParseRxMode(std::string_view word) {
  if (word == "polling") return RxMode::kPolling;
  if (word == "interrupt") return RxMode::kInterrupt;
  if (word == "adaptive") return RxMode::kAdaptive;
  return Failure(EINVAL, "unknown rx mode '{}' (polling|interrupt|adaptive)", word);
}

CliReply Created(const std::string& name, uint32_t sw_if_index) {
  return CliOk(name + "\n", {{"name", name}, {"sw_if_index", sw_if_index}});
}

// Picks the views to show: all, or the one named by the remaining word.
Result<std::vector<InterfaceView>> SelectInterfaces(Engine& engine, CliArgs& args) {
  if (args.empty()) return engine.Interfaces();
  auto index = InterfaceArg(engine, args);
  if (!index.ok()) return index.status();
  UPLINKD_RETURN_IF_ERROR(args.Done());
  auto view = engine.GetInterface(*index);
  if (!view.ok()) return view.status();
  return std::vector<InterfaceView>{*view};
}

Status Register(CommandTable& t, Engine& e, const EnabledDrivers& enabled) {
  UPLINKD_RETURN_IF_ERROR(t.Add(
      "create host-interface",
      "create host-interface [v2] name <ifname> [num-rx-queues <n>] [num-tx-queues <n>] "
      "[rx-size <n>] [tx-size <n>] [rx-per-block <n>] [tx-per-block <n>] [rx-frame-size <n>] "
      "[tx-frame-size <n>] [hw-addr <mac>] [qdisc-bypass-disable] [cksum-gso-disable]",
      [&e, enabled](CliArgs& args) {
        if (!enabled.af_packet) {
          return CliError(Failure(ENOTSUP, "af_packet_plugin.so is disabled in startup.conf "
                                           "(plugins {{ plugin af_packet_plugin.so {{ disable }} }})"));
        }
        AfPacketArgs a;
        if (Status s = ParseAfPacketCreateArgs(args.Remaining(), &a); !s.ok()) return CliError(s);
        std::string name = AfPacketInterfaceName(a);
        if (e.NameInUse(name)) return CliError(Failure(EEXIST, "{} already exists", name));
        auto driver = CreateAfPacketDriver(a, e.pool());
        if (!driver.ok()) return CliError(driver.status());
        auto index = e.AddInterface(name, std::move(driver).value(), kAfPacketDefaultMode);
        if (!index.ok()) return CliError(index.status());
        return Created(name, *index);
      }));

  UPLINKD_RETURN_IF_ERROR(t.Add(
      "delete host-interface", "delete host-interface name <ifname>", [&e](CliArgs& args) {
        if (!args.Accept("name")) return CliError(Failure(EINVAL, "expected 'name <ifname>'"));
        auto host = args.Value("name");
        if (!host.ok()) return CliError(host.status());
        if (Status s = args.Done(); !s.ok()) return CliError(s);
        auto index = e.FindInterface("host-" + *host);
        if (!index.ok()) return CliError(index.status());
        return CliReply{e.DeleteInterface(*index), {}, nullptr};
      }));

#ifdef UPLINKD_WITH_XDP
  UPLINKD_RETURN_IF_ERROR(t.Add(
      "create interface af_xdp",
      "create interface af_xdp host-if <ifname> [name <name>] [num-rx-queues <n>|all] "
      "[rx-queue-size <n>] [tx-queue-size <n>] [mode auto|copy|zero-copy] [prog <file>] "
      "[netns <ns>] [no-multi-buffer]",
      [&e, enabled](CliArgs& args) {
        if (!enabled.af_xdp) {
          return CliError(Failure(ENOTSUP, "af_xdp_plugin.so is disabled in startup.conf "
                                           "(plugins {{ plugin af_xdp_plugin.so {{ disable }} }})"));
        }
        AfXdpArgs a;
        if (Status s = ParseAfXdpCreateArgs(args.Remaining(), &a); !s.ok()) return CliError(s);
        std::string name = AfXdpInterfaceName(a);
        if (e.NameInUse(name)) return CliError(Failure(EEXIST, "{} already exists", name));
        auto driver = CreateAfXdpDriver(a, e.pool());
        if (!driver.ok()) return CliError(driver.status());
        auto index = e.AddInterface(name, std::move(driver).value(), kAfXdpDefaultMode);
        if (!index.ok()) return CliError(index.status());
        return Created(name, *index);
      }));

  UPLINKD_RETURN_IF_ERROR(t.Add(
      "delete interface af_xdp", "delete interface af_xdp <interface>", [&e](CliArgs& args) {
        auto index = InterfaceArg(e, args);
        if (!index.ok()) return CliError(index.status());
        if (Status s = args.Done(); !s.ok()) return CliError(s);
        return CliReply{e.DeleteInterface(*index), {}, nullptr};
      }));
#endif

  UPLINKD_RETURN_IF_ERROR(t.Add(
      "create tap",
      "create tap [id <n>] [host-if-name <name>] [host-ns <netns>] [host-mac-addr <mac>] "
      "[hw-addr <mac>] [host-mtu-size <n>] [num-rx-queues <n>] [rx-ring-size <n>] "
      "[tx-ring-size <n>] [host-ip4-addr <cidr>] [host-ip6-addr <cidr>] [gro-coalesce]",
      [&e](CliArgs& args) {
        TapArgs a;
        if (Status s = ParseTapCreateArgs(args.Remaining(), &a); !s.ok()) return CliError(s);
        if (!a.id) {  // lowest free id, as VPP picks it
          uint32_t id = 0;
          while (e.NameInUse(TapInterfaceName(id))) ++id;
          a.id = id;
        }
        std::string name = TapInterfaceName(*a.id);
        if (e.NameInUse(name)) return CliError(Failure(EEXIST, "{} already exists", name));
        auto driver = CreateTapDriver(a, e.pool());
        if (!driver.ok()) return CliError(driver.status());
        auto index = e.AddInterface(name, std::move(driver).value(), kTapDefaultMode);
        if (!index.ok()) return CliError(index.status());
        return Created(name, *index);
      }));

  UPLINKD_RETURN_IF_ERROR(t.Add("delete tap", "delete tap <interface>", [&e](CliArgs& args) {
    auto index = InterfaceArg(e, args);
    if (!index.ok()) return CliError(index.status());
    if (Status s = args.Done(); !s.ok()) return CliError(s);
    return CliReply{e.DeleteInterface(*index), {}, nullptr};
  }));

  UPLINKD_RETURN_IF_ERROR(t.Add(
      "set interface state", "set interface state <interface> [up|down]", [&e](CliArgs& args) {
        auto index = InterfaceArg(e, args);
        if (!index.ok()) return CliError(index.status());
        auto state = args.Choice("state", {"up", "down"});
        if (!state.ok()) return CliError(state.status());
        if (Status s = args.Done(); !s.ok()) return CliError(s);
        return CliReply{e.SetAdminUp(*index, *state == "up"), {}, nullptr};
      }));

  UPLINKD_RETURN_IF_ERROR(t.Add(
      "set interface mac address", "set interface mac address <interface> <mac-address>",
      [&e](CliArgs& args) {
        auto index = InterfaceArg(e, args);
        if (!index.ok()) return CliError(index.status());
        auto mac = args.Mac("interface");
        if (!mac.ok()) return CliError(mac.status());
        if (Status s = args.Done(); !s.ok()) return CliError(s);
        return CliReply{e.SetMac(*index, *mac), {}, nullptr};
      }));

  UPLINKD_RETURN_IF_ERROR(t.Add(
      "set interface mtu", "set interface mtu [packet|ip4|ip6|mpls] <value> <interface>",
      [&e](CliArgs& args) {
        if (args.Accept("ip4") || args.Accept("ip6") || args.Accept("mpls")) {
          return CliError(Failure(ENOTSUP, "only the packet MTU can be set (no L3 yet)"));
        }
        args.Accept("packet");
        auto mtu = args.Number("mtu", 64, 65535);
        if (!mtu.ok()) return CliError(mtu.status());
        auto index = InterfaceArg(e, args);
        if (!index.ok()) return CliError(index.status());
        if (Status s = args.Done(); !s.ok()) return CliError(s);
        return CliReply{e.SetMtu(*index, static_cast<uint32_t>(*mtu)), {}, nullptr};
      }));

  UPLINKD_RETURN_IF_ERROR(t.Add(
      "set interface rx-mode",
      "set interface rx-mode <interface> [queue <n>] [polling | interrupt | adaptive]",
      [&e](CliArgs& args) {
        auto index = InterfaceArg(e, args);
        if (!index.ok()) return CliError(index.status());
        std::optional<uint16_t> queue;
        if (args.Accept("queue")) {
          auto q = args.Number("queue", 0, 65535);
          if (!q.ok()) return CliError(q.status());
          queue = static_cast<uint16_t>(*q);
        }
        auto word = args.Choice("rx-mode", {"polling", "interrupt", "adaptive"});
        if (!word.ok()) return CliError(word.status());
        if (Status s = args.Done(); !s.ok()) return CliError(s);
        return CliReply{e.SetRxMode(*index, queue, ParseRxMode(*word).value()), {}, nullptr};
      }));

  UPLINKD_RETURN_IF_ERROR(t.Add(
      "set interface rx-placement",
      "set interface rx-placement <interface> [queue <n>] [worker <n> | main]",
      [&e](CliArgs& args) {
        auto index = InterfaceArg(e, args);
        if (!index.ok()) return CliError(index.status());
        uint16_t queue = 0;
        if (args.Accept("queue")) {
          auto q = args.Number("queue", 0, 65535);
          if (!q.ok()) return CliError(q.status());
          queue = static_cast<uint16_t>(*q);
        }
        uint32_t worker = 0;
        if (args.Accept("worker")) {
          auto w = args.Number("worker", 0, 4095);
          if (!w.ok()) return CliError(w.status());
          worker = static_cast<uint32_t>(*w);
        } else if (!args.Accept("main")) {
          return CliError(Failure(EINVAL, "expected 'worker <n>' or 'main'"));
        }
        if (Status s = args.Done(); !s.ok()) return CliError(s);
        return CliReply{e.SetRxPlacement(*index, queue, worker), {}, nullptr};
      }));

  UPLINKD_RETURN_IF_ERROR(t.Add(
      "set interface l2 xconnect", "set interface l2 xconnect <rx-interface> <tx-interface>",
      [&e](CliArgs& args) {
        auto rx = InterfaceArg(e, args);
        if (!rx.ok()) return CliError(rx.status());
        auto tx = InterfaceArg(e, args);
        if (!tx.ok()) return CliError(tx.status());
        if (Status s = args.Done(); !s.ok()) return CliError(s);
        return CliReply{e.SetXconnect(*rx, *tx), {}, nullptr};
      }));

  UPLINKD_RETURN_IF_ERROR(t.Add(
      "set interface l3", "set interface l3 <interface>", [&e](CliArgs& args) {
        auto rx = InterfaceArg(e, args);
        if (!rx.ok()) return CliError(rx.status());
        if (Status s = args.Done(); !s.ok()) return CliError(s);
        return CliReply{e.ClearXconnect(*rx), {}, nullptr};
      }));

  UPLINKD_RETURN_IF_ERROR(t.Add("show interface", "show interface [<interface>]",
                                [&e](CliArgs& args) {
                                  auto views = SelectInterfaces(e, args);
                                  if (!views.ok()) return CliError(views.status());
                                  return CliOk(FormatShowInterface(*views),
                                               ShowInterfaceJson(*views));
                                }));

  UPLINKD_RETURN_IF_ERROR(t.Add("show interface rx-placement", "show interface rx-placement",
                                [&e](CliArgs& args) {
                                  if (Status s = args.Done(); !s.ok()) return CliError(s);
                                  auto views = e.Interfaces();
                                  return CliOk(FormatRxPlacement(views), RxPlacementJson(views));
                                }));

  UPLINKD_RETURN_IF_ERROR(t.Add("show hardware-interfaces", "show hardware-interfaces [<interface>]",
                                [&e](CliArgs& args) {
                                  auto views = SelectInterfaces(e, args);
                                  if (!views.ok()) return CliError(views.status());
                                  return CliOk(FormatShowHardware(*views),
                                               ShowHardwareJson(*views));
                                }));

  UPLINKD_RETURN_IF_ERROR(t.Add("show runtime", "show runtime", [&e](CliArgs& args) {
    if (Status s = args.Done(); !s.ok()) return CliError(s);
    auto threads = e.Threads();
    return CliOk(FormatShowRuntime(threads), ShowRuntimeJson(threads));
  }));

  UPLINKD_RETURN_IF_ERROR(t.Add("clear runtime", "clear runtime", [&e](CliArgs& args) {
    if (Status s = args.Done(); !s.ok()) return CliError(s);
    e.ClearRuntime();
    return CliOk();
  }));

  UPLINKD_RETURN_IF_ERROR(t.Add("show errors", "show errors", [&e](CliArgs& args) {
    if (Status s = args.Done(); !s.ok()) return CliError(s);
    auto errors = e.Errors();
    return CliOk(FormatShowErrors(errors), ShowErrorsJson(errors));
  }));

  UPLINKD_RETURN_IF_ERROR(t.Add("show buffers", "show buffers", [&e](CliArgs& args) {
    if (Status s = args.Done(); !s.ok()) return CliError(s);
    return CliOk(FormatShowBuffers(e.pool()), ShowBuffersJson(e.pool()));
  }));

  UPLINKD_RETURN_IF_ERROR(t.Add("clear interfaces", "clear interfaces", [&e](CliArgs& args) {
    if (Status s = args.Done(); !s.ok()) return CliError(s);
    e.ClearCounters();
    return CliOk();
  }));
  return Status::Ok();
}

}  // namespace

Status RegisterDataplaneCommands(CommandTable& table, Engine& engine,
                                 const EnabledDrivers& enabled) {
  return Register(table, engine, enabled);
}

}  // namespace uplinkd
