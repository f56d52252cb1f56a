#include "cli/protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace uplinkd {
namespace {

using ::testing::HasSubstr;

TEST(ProtocolTest, RequestRoundTrip) {
  std::string line = EncodeCliRequest({"show interface \"a b\"\n", true});
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line whatever the command holds
  auto request = DecodeCliRequest(line);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->command, "show interface \"a b\"\n");
  EXPECT_TRUE(request->json);
  EXPECT_EQ(EncodeCliRequest({"sh int", false}), "{\"command\":\"sh int\",\"json\":false}\n");
}

TEST(ProtocolTest, RequestDefaultsAndErrors) {
  auto minimal = DecodeCliRequest(R"({"command": "show version"})");
  ASSERT_TRUE(minimal.ok());
  EXPECT_FALSE(minimal->json);
  for (const char* bad : {"", "not json", "[1,2]", R"({"json": true})", R"({"command": 3})",
                          R"({"command": "x", "json": "yes"})", "{\"command\": \"\xff\"}"}) {
    auto r = DecodeCliRequest(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), EPROTO);
    EXPECT_THAT(r.status().message(), HasSubstr("malformed request"));
  }
}

TEST(ProtocolTest, ReplyRoundTrip) {
  CliReply ok = CliOk("line 1\nline 2\n", {{"mtu", 1500}, {"name", "eth0"}});
  std::string line = EncodeCliReply(ok);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto decoded = DecodeCliReply(line);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->status.ok());
  EXPECT_EQ(decoded->text, ok.text);
  EXPECT_EQ(decoded->data, ok.data);

  auto failed = DecodeCliReply(EncodeCliReply(CliError(Failure(ENOENT, "no such interface"))));
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status.code(), ENOENT);
  EXPECT_EQ(failed->status.message(), "no such interface");
  EXPECT_TRUE(failed->data.is_null());
  EXPECT_EQ(EncodeCliReply(CliOk("x")),
            "{\"code\":0,\"data\":null,\"error\":\"\",\"ok\":true,\"text\":\"x\"}\n");
}

TEST(ProtocolTest, InvalidUtf8IsReplacedNotThrown) {
  CliReply reply = CliError(Failure(EINVAL, "unknown input `\xff\xfe'"));
  reply.text = "bad \xc3";
  reply.data = {{"k", "\x80"}};
  auto decoded = DecodeCliReply(EncodeCliReply(reply));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->status.message(), "unknown input `\xEF\xBF\xBD\xEF\xBF\xBD'");
  EXPECT_EQ(decoded->text, "bad \xEF\xBF\xBD");
}

TEST(ProtocolTest, ReplyErrors) {
  EXPECT_FALSE(DecodeCliReply("garbage").ok());
  EXPECT_FALSE(DecodeCliReply(R"({"text": "no ok field"})").ok());
  auto bare = DecodeCliReply(R"({"ok": false})");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->status.code(), EIO);
  EXPECT_EQ(bare->status.message(), "command failed");
}

}  // namespace
}  // namespace uplinkd
