// Runs the built uplinkctl binary against a server in this process.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "cli/server.h"
#include "cli/test_util.h"

extern char** environ;

namespace uplinkd {
namespace {

using ::testing::HasSubstr;
using testing_util::TempDir;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class UplinkctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterBuiltinCommands(table_, "7.0");
    ASSERT_TRUE(table_
                    .Add("show interface", "show interface [<if-name>]",
                         [](CliArgs& args) {
                           std::string name = args.Word().value_or("eth0");
                           if (Status s = args.Done(); !s.ok()) return CliError(s);
                           return CliOk(name + " up\n", {{"name", name}});
                         })
                    .ok());
    ASSERT_TRUE(table_
                    .Add("echo", "echo <words>",
                         [](CliArgs& args) {
                           std::string text;
                           for (const auto& w : args.Remaining()) text += "<" + w + ">";
                           return CliOk(text);
                         })
                    .ok());
    socket_ = dir_.File("cli.sock");
    auto server = CliServer::Start(socket_, std::nullopt, table_);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
  }

  // Runs uplinkctl with `args`, feeding `input` on stdin (a file, so not a tty).
  Outcome Run(std::vector<std::string> args, const std::string& input = "",
              const std::string& env_socket = "") {
    std::string in = dir_.Write("stdin", input);
    std::string out = dir_.File("stdout");
    std::string err = dir_.File("stderr");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    args.insert(args.begin(), UPLINKCTL_PATH);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).starts_with("UPLINKCTL_SOCKET=")) continue;
      env_strings.emplace_back(*e);
    }
    if (!env_socket.empty()) env_strings.push_back("UPLINKCTL_SOCKET=" + env_socket);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    Outcome outcome;
    int rc = posix_spawn(&pid, UPLINKCTL_PATH, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0);
    if (rc != 0) return outcome;
    int status = 0;
    waitpid(pid, &status, 0);
    outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    outcome.out = Slurp(out);
    outcome.err = Slurp(err);
    return outcome;
  }

  TempDir dir_;
  std::string socket_;
  CommandTable table_;
  std::unique_ptr<CliServer> server_;
};

TEST_F(UplinkctlTest, OneShot) {
  Outcome r = Run({"-s", socket_, "show", "version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "uplinkd 7.0\n");
  EXPECT_EQ(r.err, "");
  r = Run({"-s", socket_, "sh", "int", "eth3"});
  EXPECT_EQ(r.out, "eth3 up\n");
  // Words that look like options belong to the command; spaces inside a word survive.
  r = Run({"-s", socket_, "echo", "-x", "--json", "a b"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<-x><--json><a b>\n");
}

TEST_F(UplinkctlTest, SocketFromEnvironment) {
  Outcome r = Run({"show", "version"}, "", socket_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "uplinkd 7.0\n");
}

TEST_F(UplinkctlTest, Json) {
  Outcome r = Run({"-s", socket_, "--json", "show", "interface", "eth1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j, (nlohmann::json{{"name", "eth1"}}));
  // No data: the text, wrapped.
  r = Run({"--json", "-s", socket_, "echo", "hi"});
  j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(j, (nlohmann::json{{"text", "<hi>"}}));
}

TEST_F(UplinkctlTest, FailedCommandExitsOne) {
  Outcome r = Run({"-s", socket_, "show", "bogus"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("show: unknown input `bogus'"));
  EXPECT_THAT(r.err, HasSubstr("show interface [<if-name>]"));  // the candidates
  r = Run({"-s", socket_, "--json", "show", "interface", "a", "b"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("unknown input `b'"));
}

TEST_F(UplinkctlTest, CannotConnectExitsTwo) {
  std::string missing = dir_.File("nope.sock");
  Outcome r = Run({"-s", missing, "show", "version"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "uplinkctl: cannot connect to " + missing + ": No such file or directory\n");
  // A file that is no socket: the errno is named too.
  std::string file = dir_.Write("plain", "x");
  r = Run({"-s", file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot connect to " + file + ": Connection refused"));
}

TEST_F(UplinkctlTest, ServerGoneMidSessionExitsTwo) {
  server_->Stop();
  Outcome r = Run({"-s", socket_, "show", "version"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(UplinkctlTest, InteractiveFromPipe) {
  Outcome r = Run({"-s", socket_},
                  "show version\n"
                  "\n"
                  "sh int eth2\n"
                  "quit\n"
                  "show version\n");  // after quit: never sent
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "uplinkd 7.0\neth2 up\n");  // no prompt when stdin is not a tty
  EXPECT_EQ(r.err, "");
}

TEST_F(UplinkctlTest, InteractiveEofErrorsAndJson) {
  Outcome r = Run({"-s", socket_, "--json"}, "sh int eth5\nshow bogus\nshow version");
  EXPECT_EQ(r.exit_code, 1);  // one command failed; the session went on
  EXPECT_THAT(r.out, HasSubstr("\"name\": \"eth5\""));
  EXPECT_THAT(r.out, HasSubstr("\"version\": \"7.0\""));
  EXPECT_THAT(r.err, HasSubstr("unknown input `bogus'"));
}

TEST_F(UplinkctlTest, InteractiveOnATerminalPrompts) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  std::string slave = ptsname(master);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd = 0; fd < 3; ++fd) {
    posix_spawn_file_actions_addopen(&actions, fd, slave.c_str(), O_RDWR | O_NOCTTY, 0);
  }
  std::string self = UPLINKCTL_PATH;
  std::string flag = "-s";
  char* argv[] = {self.data(), flag.data(), socket_.data(), nullptr};
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, UPLINKCTL_PATH, &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  std::string input = "show version\nquit\n";
  ASSERT_EQ(write(master, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  std::string output;
  while (true) {  // until the child is gone and the terminal reports EIO
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    char buf[4096];
    ssize_t n = read(master, buf, sizeof(buf));
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_THAT(output, HasSubstr("uplinkd# "));
  EXPECT_THAT(output, HasSubstr("uplinkd 7.0"));
  // The prompt came back after the reply.
  EXPECT_NE(output.find("uplinkd# ", output.find("uplinkd 7.0")), std::string::npos) << output;
}

TEST_F(UplinkctlTest, UsageErrors) {
  Outcome r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("--socket"));
  r = Run({"--bogus-option"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown option --bogus-option"));
  r = Run({"-s", socket_, "--", "-x"});  // after --, even this is a command
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown input `-x'"));
}

}  // namespace
}  // namespace uplinkd
