#pragma once
// A dataplane under test between two peers, all in namespaces the test creates:
//
//   peer1 ns [p1 198.18.X.1, 2001:db8:X::1] --veth-- [d1] dut ns [d2] --veth-- [p2 ...X.2] peer2 ns
//
// uplinkd runs in the dut ns with a startup.conf and an exec file the test writes; uplinkctl
// talks to it over the test's own CLI socket.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/rig/rig.h"

namespace uplinkd::rig {

struct Topology {
  std::unique_ptr<Netns> peer1, dut, peer2;
  VethPair left, right;  // left.a in peer1, left.b in dut; right.a in dut, right.b in peer2
  std::string p1_v4, p2_v4, p1_v6, p2_v6;
};

// Builds the three namespaces and two veth pairs, addresses on the peers (subnet: the X above);
// `queues`: rx/tx queues of every veth end (0: the kernel's default, 1).
std::unique_ptr<Topology> MakeTopology(int subnet, std::optional<uint32_t> mtu = {},
                                       uint32_t queues = 0);

// Three pings from peer1 to peer2, over IPv4 and IPv6; each must be answered.
void ExpectPings(Topology& t);
// `bytes` of TCP from peer1 to `to` on peer2, arriving whole with the same SHA-256.
void ExpectTransfer(Topology& t, const std::string& to, uint64_t bytes, uint16_t port);

class Dataplane {
 public:
  // Starts `uplinkd dataplane` in `ns` with the given startup.conf body (the fixture adds
  // `unix { cli-listen ... exec ... }`) and exec lines; waits for the CLI to answer.
  static std::unique_ptr<Dataplane> Start(Netns& ns, const std::string& extra_conf,
                                          const std::vector<std::string>& exec_lines);
  // The same with a whole startup.conf of the test's own: `make_conf` gets the CLI socket and
  // exec file paths to put in its `unix { }` section.
  using ConfMaker = std::function<std::string(const std::string& cli_socket,
                                              const std::string& exec_file)>;
  static std::unique_ptr<Dataplane> StartWithConf(Netns& ns, const ConfMaker& make_conf,
                                                  const std::vector<std::string>& exec_lines);
  ~Dataplane();

  // uplinkctl COMMAND; fails the test when it does not exit 0.
  std::string Ctl(const std::string& command);
  nlohmann::json CtlJson(const std::string& command);
  // rx/tx packet counters of one interface from `show interface` --json.
  nlohmann::json Counters(const std::string& interface);
  ChildProcess& process() { return *process_; }
  const std::string& socket() const { return socket_; }

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ChildProcess> process_;
  std::string socket_;
};

}  // namespace uplinkd::rig
