#include "cli/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "cli/client.h"
#include "cli/protocol.h"
#include "cli/test_util.h"

namespace uplinkd {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing_util::TempDir;

int RawConnect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Waits, bounded, until the server has read everything sent on `fd`: on a unix stream socket
// SIOCOUTQ counts what was sent and not yet read by the other end.
bool WaitUntilPeerRead(int fd) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int unread = -1;
  while (ioctl(fd, SIOCOUTQ, &unread) == 0 && unread > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return unread == 0;
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads one line (without '\n'); "" on EOF, error or a 5 s timeout.
std::string ReadLine(int fd, std::string* buffer) {
  while (true) {
    size_t nl = buffer->find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer->substr(0, nl);
      buffer->erase(0, nl + 1);
      return line;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return "";
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return "";
    buffer->append(buf, static_cast<size_t>(n));
  }
}

class CliServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterBuiltinCommands(table_, "9.9");
    ASSERT_TRUE(table_
                    .Add("show interface", "show interface [<if-name>]",
                         [](CliArgs& args) {
                           std::string name = args.Word().value_or("eth0");
                           if (Status s = args.Done(); !s.ok()) return CliError(s);
                           return CliOk(name + " up", {{"name", name}, {"up", true}});
                         })
                    .ok());
    ASSERT_TRUE(table_
                    .Add("show big", "show big <bytes>",
                         [](CliArgs& args) {
                           auto n = args.Number("big", 0, 64 << 20);
                           if (!n.ok()) return CliError(n.status());
                           return CliOk(std::string(*n, 'x'));
                         })
                    .ok());
    path_ = dir_.File("cli.sock");
  }

  std::unique_ptr<CliServer> StartServer(std::optional<uint32_t> gid = std::nullopt) {
    auto server = CliServer::Start(path_, gid, table_);
    EXPECT_TRUE(server.ok()) << server.status().message();
    return server.ok() ? std::move(server).value() : nullptr;
  }

  std::unique_ptr<CliClient> Connect() {
    auto client = CliClient::Connect(path_);
    EXPECT_TRUE(client.ok()) << client.status().message();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  TempDir dir_;
  std::string path_;
  CommandTable table_;
};

TEST_F(CliServerTest, SeveralCommandsOnOneConnection) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect();
  ASSERT_TRUE(client);

  auto version = client->Call("show version", false);
  ASSERT_TRUE(version.ok());
  EXPECT_TRUE(version->status.ok());
  EXPECT_EQ(version->text, "uplinkd 9.9");
  EXPECT_TRUE(version->data.is_null());  // json not asked for

  auto intf = client->Call("sh int eth1", true);
  ASSERT_TRUE(intf.ok());
  EXPECT_EQ(intf->text, "eth1 up");
  EXPECT_EQ(intf->data["name"], "eth1");

  auto bad = client->Call("show nothing", false);
  ASSERT_TRUE(bad.ok());  // the transport worked; the command did not
  EXPECT_FALSE(bad->status.ok());
  EXPECT_EQ(bad->status.code(), EINVAL);
  EXPECT_THAT(bad->status.message(), StartsWith("show: unknown input `nothing'"));

  auto big = client->Call("show big 3000000", false);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->text.size(), 3000000u);
  EXPECT_EQ(client->Call("show version", false)->text, "uplinkd 9.9");
}

TEST_F(CliServerTest, TwoClientsAtOnce) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto a = Connect();
  auto b = Connect();
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(a->Call("show interface a" + std::to_string(i), false)->text,
              "a" + std::to_string(i) + " up");
    EXPECT_EQ(b->Call("show interface b" + std::to_string(i), false)->text,
              "b" + std::to_string(i) + " up");
  }
  a.reset();  // one leaving does not disturb the other
  EXPECT_EQ(b->Call("show version", false)->text, "uplinkd 9.9");
}

TEST_F(CliServerTest, SocketModeOwnerAndGroup) {
  uint32_t gid = geteuid() == 0 ? 4242 : getegid();  // root may give any group
  mode_t old_umask = umask(0077);  // the socket's mode must not depend on the umask
  auto server = StartServer(gid);
  umask(old_umask);
  ASSERT_TRUE(server);
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, gid);
  EXPECT_EQ(st.st_uid, geteuid());
}

TEST_F(CliServerTest, StopRemovesSocketAndIsIdempotent) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect();
  ASSERT_TRUE(client);
  server->Stop();
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
  server->Stop();
  EXPECT_FALSE(client->Call("show version", false).ok());  // its connection was closed
  EXPECT_FALSE(CliClient::Connect(path_).ok());
  server.reset();  // the destructor's Stop is a no-op now
}

TEST_F(CliServerTest, StaleSocketIsReplacedLiveOneIsNot) {
  {
    // A stale socket file: bound, then its owner went away without removing it.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, path_.size());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
  }
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto second = CliServer::Start(path_, std::nullopt, table_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), EADDRINUSE);
  EXPECT_TRUE(Connect());  // the first one still serves
}

TEST_F(CliServerTest, RefusesNonSocketAndBadPaths) {
  dir_.Write("cli.sock", "not a socket");
  auto blocked = CliServer::Start(path_, std::nullopt, table_);
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.status().code(), EEXIST);

  auto too_long = CliServer::Start("/tmp/" + std::string(200, 'a'), std::nullopt, table_);
  EXPECT_EQ(too_long.status().code(), ENAMETOOLONG);

  // A missing parent directory (/run/uplinkd after boot) is created.
  auto nested = CliServer::Start(dir_.File("run/cli.sock"), std::nullopt, table_);
  ASSERT_TRUE(nested.ok()) << nested.status().message();
  EXPECT_TRUE(CliClient::Connect(dir_.File("run/cli.sock")).ok());
}

TEST_F(CliServerTest, ClientThatClosesEarly) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  for (int i = 0; i < 5; ++i) {
    int fd = RawConnect(path_);
    ASSERT_GE(fd, 0);
    // A reply far larger than the socket buffer, and nobody reading it.
    SendAll(fd, EncodeCliRequest({"show big 20000000", false}));
    close(fd);
  }
  int fd = RawConnect(path_);  // half-sent request, then gone
  SendAll(fd, "{\"command\": \"show ver");
  close(fd);
  auto client = Connect();
  ASSERT_TRUE(client);
  EXPECT_EQ(client->Call("show version", false)->text, "uplinkd 9.9");
}

TEST_F(CliServerTest, RawProtocol) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  int fd = RawConnect(path_);
  ASSERT_GE(fd, 0);
  std::string buffer;
  // A request split across sends, then two pipelined in one send.
  SendAll(fd, "{\"command\": \"show ");
  ASSERT_TRUE(WaitUntilPeerRead(fd));  // the server has the first part alone
  SendAll(fd, "version\"}\n");
  EXPECT_THAT(ReadLine(fd, &buffer), HasSubstr("\"text\":\"uplinkd 9.9\""));
  SendAll(fd, EncodeCliRequest({"show int x", true}) + EncodeCliRequest({"show int y", false}));
  auto first = DecodeCliReply(ReadLine(fd, &buffer));
  auto second = DecodeCliReply(ReadLine(fd, &buffer));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->data["name"], "x");
  EXPECT_EQ(second->text, "y up");
  // Garbage gets an error reply and the connection stays.
  SendAll(fd, "this is not json\n");
  auto garbage = DecodeCliReply(ReadLine(fd, &buffer));
  ASSERT_TRUE(garbage.ok());
  EXPECT_EQ(garbage->status.code(), EPROTO);
  SendAll(fd, EncodeCliRequest({"show version", false}));
  EXPECT_THAT(ReadLine(fd, &buffer), HasSubstr("uplinkd 9.9"));
  // A half-closed client still gets its reply.
  SendAll(fd, EncodeCliRequest({"show version", false}));
  shutdown(fd, SHUT_WR);
  EXPECT_THAT(ReadLine(fd, &buffer), HasSubstr("uplinkd 9.9"));
  EXPECT_EQ(ReadLine(fd, &buffer), "");  // then the server closes
  close(fd);
}

TEST_F(CliServerTest, OversizedRequestClosesConnection) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  int fd = RawConnect(path_);
  ASSERT_GE(fd, 0);
  std::string buffer;
  SendAll(fd, std::string(kMaxCliRequestBytes + 100, 'a'));
  auto reply = DecodeCliReply(ReadLine(fd, &buffer));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status.code(), EMSGSIZE);
  EXPECT_EQ(ReadLine(fd, &buffer), "");
  close(fd);
  EXPECT_TRUE(Connect());
}

TEST_F(CliServerTest, HandlersRunUnderTheTableMutex) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect();
  ASSERT_TRUE(client);
  std::unique_lock lock(table_.mutex());  // e.g. the daemon running its startup exec file
  auto pending =
      std::async(std::launch::async, [&] { return client->Call("show version", false); });
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  lock.unlock();
  auto reply = pending.get();
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->text, "uplinkd 9.9");
}

}  // namespace
}  // namespace uplinkd
