#include "linux/test_netns.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "linux/netns.h"

namespace uplinkd::testing {

std::string UniqueName(const std::string& prefix) {
  static std::atomic<uint32_t> counter{0};
  std::string name = fmt::format("{}{}{}", prefix, getpid(), counter.fetch_add(1));
  // Interface names are limited to 15 characters; keep the unique tail.
  if (name.size() > 15) name = name.substr(0, 4) + name.substr(name.size() - 11);
  return name;
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0) result.out.append(chunk, n);
  int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

Result<nlohmann::json> IpJson(const std::string& args) {
  CommandResult r = RunCommand("ip -j " + args);
  if (r.status != 0) return Failure(EIO, "'ip -j {}' exited with {}", args, r.status);
  nlohmann::json json = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Failure(EIO, "'ip -j {}' printed no JSON: {}", args, r.out);
  return json;
}

TestNetns::TestNetns(const std::string& prefix) : name_(UniqueName(prefix)) {
  if (RunCommand("ip netns add " + name_).status != 0) return;
  Result<int> fd = OpenNetns(name_);
  if (fd.ok()) fd_ = *fd;
}

TestNetns::~TestNetns() {
  if (fd_ >= 0) close(fd_);
  RunCommand("ip netns del " + name_ + " 2>/dev/null");
}

Status TestNetns::Ip(const std::string& args) const {
  CommandResult r = RunCommand(fmt::format("ip -n {} {}", name_, args));
  if (r.status != 0) return Failure(EIO, "'ip -n {} {}' exited with {}", name_, args, r.status);
  return Status::Ok();
}

}  // namespace uplinkd::testing
