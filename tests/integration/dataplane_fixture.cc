#include "tests/integration/dataplane_fixture.h"

#include <cstdio>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace uplinkd::rig {

std::unique_ptr<Topology> MakeTopology(int subnet, std::optional<uint32_t> mtu, uint32_t queues) {
  auto t = std::make_unique<Topology>();
  t->peer1 = Netns::Create("up1");
  t->dut = Netns::Create("ud");
  t->peer2 = Netns::Create("up2");
  if (!t->peer1 || !t->dut || !t->peer2) return nullptr;
  // Before any link exists: the dut's kernel stays silent (no IPv6 there: no RS, MLD or DAD),
  // and the peers send no router solicitations and finish their MLD reports quickly, so the
  // only frames on the wire are the test's own and counters can be compared exactly.
  bool quiet = t->dut->ExecOrFail({"sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                                   "net.ipv6.conf.default.disable_ipv6=1"});
  for (Netns* peer : {t->peer1.get(), t->peer2.get()}) {
    quiet = quiet && peer->ExecOrFail({"sysctl", "-qw",
                                       "net.ipv6.conf.default.router_solicitations=0",
                                       "net.ipv6.conf.default.mldv1_unsolicited_report_interval=10",
                                       "net.ipv6.conf.default.mldv2_unsolicited_report_interval=10"});
  }
  if (!quiet) return nullptr;
  VethOptions veth;
  veth.mtu = mtu;
  veth.queues = queues;
  t->left = CreateVeth(*t->peer1, *t->dut, veth);
  t->right = CreateVeth(*t->dut, *t->peer2, veth);
  if (!t->left.ok() || !t->right.ok()) return nullptr;
  t->p1_v4 = fmt::format("198.18.{}.1", subnet);
  t->p2_v4 = fmt::format("198.18.{}.2", subnet);
  t->p1_v6 = fmt::format("2001:db8:{}::1", subnet);
  t->p2_v6 = fmt::format("2001:db8:{}::2", subnet);
  bool ok = t->peer1->AddAddress(t->left.a, t->p1_v4 + "/24") &&
            t->peer2->AddAddress(t->right.b, t->p2_v4 + "/24") &&
            t->peer1->AddAddress(t->left.a, t->p1_v6 + "/64") &&
            t->peer2->AddAddress(t->right.b, t->p2_v6 + "/64");
  return ok ? std::move(t) : nullptr;
}

void ExpectPings(Topology& t) {
  PingResult v4 = Ping(*t.peer1, t.p2_v4, 3);
  EXPECT_EQ(v4.received, 3) << v4.output;
  PingResult v6 = Ping(*t.peer1, t.p2_v6, 3);
  EXPECT_EQ(v6.received, 3) << v6.output;
}

void ExpectTransfer(Topology& t, const std::string& to, uint64_t bytes, uint16_t port) {
  TransferResult r = TcpTransfer(*t.peer1, *t.peer2, to, port, bytes, seconds(60));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.bytes_received, bytes);
  EXPECT_EQ(r.sent_digest, r.received_digest);
  std::printf("  [transfer] %llu bytes to %s in %.2f s (%.2f Gbit/s)\n",
              static_cast<unsigned long long>(r.bytes_received), to.c_str(), r.seconds,
              r.gbit_per_second);
}

std::unique_ptr<Dataplane> Dataplane::Start(Netns& ns, const std::string& extra_conf,
                                            const std::vector<std::string>& exec_lines) {
  return StartWithConf(
      ns,
      [&](const std::string& socket, const std::string& exec) {
        return fmt::format("unix {{\n  nodaemon\n  cli-listen {}\n  exec {}\n}}\n{}\n", socket,
                           exec, extra_conf);
      },
      exec_lines);
}

std::unique_ptr<Dataplane> Dataplane::StartWithConf(Netns& ns, const ConfMaker& make_conf,
                                                    const std::vector<std::string>& exec_lines) {
  auto dp = std::unique_ptr<Dataplane>(new Dataplane);
  dp->dir_ = TempDir::Create();
  if (!dp->dir_) return nullptr;
  dp->socket_ = dp->dir_->Path("cli.sock");
  std::string exec;
  for (const std::string& line : exec_lines) exec += line + "\n";
  std::string exec_path = dp->dir_->Path("startup.exec");
  std::string conf_path = dp->dir_->Path("startup.conf");
  dp->dir_->WriteFile("startup.exec", exec);
  dp->dir_->WriteFile("startup.conf", make_conf(dp->socket_, exec_path));
  dp->process_ = ChildProcess::Start({UplinkdBinary(), "dataplane", "-c", conf_path},
                                     ChildOptions{.netns = &ns, .log_path = dp->dir_->Path("uplinkd.log"), .env = {}});
  if (!dp->process_) return nullptr;
  if (!dp->process_->WaitForFile(dp->socket_, seconds(10))) {
    ADD_FAILURE() << "uplinkd did not open its CLI socket; log:\n" << dp->process_->Log();
    return nullptr;
  }
  // The exec file runs right after the socket appears: wait until its last command took effect.
  for (int i = 0; i < 200; ++i) {
    CommandResult r = RunCommand({UplinkctlBinary(), "-s", dp->socket_, "show", "version"});
    if (r.ok()) break;
    usleep(10000);
  }
  return dp;
}

Dataplane::~Dataplane() {
  if (process_ && process_->Running()) {
    process_->Signal(SIGTERM);
    ExitStatus st = process_->Wait(seconds(10));
    EXPECT_TRUE(st.exited && st.code == 0) << "uplinkd exit: " << st.ToString() << "\n"
                                           << process_->Log();
  }
}

std::string Dataplane::Ctl(const std::string& command) {
  std::vector<std::string> argv = {UplinkctlBinary(), "-s", socket_};
  std::string word;
  for (char c : command + " ") {
    if (c == ' ') {
      if (!word.empty()) argv.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  CommandResult r = RunCommand(argv, seconds(10));
  EXPECT_TRUE(r.ok()) << command << ": " << r.output;
  return r.output;
}

nlohmann::json Dataplane::CtlJson(const std::string& command) {
  std::string out = Ctl("--json " + command);
  auto j = nlohmann::json::parse(out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << command << ": " << out;
  return j;
}

nlohmann::json Dataplane::Counters(const std::string& interface) {
  nlohmann::json all = CtlJson("show interface " + interface);
  if (!all.is_array() || all.empty()) return nlohmann::json::object();
  return all[0]["counters"];
}

}  // namespace uplinkd::rig
