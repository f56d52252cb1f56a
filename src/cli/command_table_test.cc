#include "cli/command_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cli/test_util.h"

namespace uplinkd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testing_util::TempDir;

// Each handler replies "<path>|<remaining words>" so tests see what matched and what it got.
CliHandler Echo(std::string path) {
  return [path](CliArgs& args) {
    std::string text = path + "|";
    for (const auto& w : args.Remaining()) text += "[" + w + "]";
    return CliOk(text);
  };
}

class CommandTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* path : {"show interface", "show interface address", "show hardware-interfaces",
                             "set interface state", "set interface ip address", "clear interfaces",
                             "create host-interface"}) {
      ASSERT_TRUE(table_.Add(path, std::string(path) + " <args>", Echo(path)).ok());
    }
  }
  std::string Run(std::string_view line) {
    CliReply reply = table_.Execute(line);
    EXPECT_TRUE(reply.status.ok()) << line << ": " << reply.status.message();
    return reply.text;
  }
  Status Fail(std::string_view line) {
    CliReply reply = table_.Execute(line);
    EXPECT_FALSE(reply.status.ok()) << line;
    return reply.status;
  }

  CommandTable table_;
};

TEST_F(CommandTableTest, LongestPathWins) {
  EXPECT_EQ(Run("show interface"), "show interface|");
  EXPECT_EQ(Run("show interface eth0"), "show interface|[eth0]");
  EXPECT_EQ(Run("show interface address"), "show interface address|");
  EXPECT_EQ(Run("show interface address eth0"), "show interface address|[eth0]");
  EXPECT_EQ(Run("set interface state eth0 up"), "set interface state|[eth0][up]");
}

TEST_F(CommandTableTest, Abbreviations) {
  EXPECT_EQ(Run("sh int"), "show interface|");
  EXPECT_EQ(Run("sh int addr eth0"), "show interface address|[eth0]");
  EXPECT_EQ(Run("sh h"), "show hardware-interfaces|");
  EXPECT_EQ(Run("cl int"), "clear interfaces|");
  EXPECT_EQ(Run("set int ip addr eth0 10.0.0.1/24"),
            "set interface ip address|[eth0][10.0.0.1/24]");
}

TEST_F(CommandTableTest, ExactWordBeatsPrefix) {
  ASSERT_TRUE(table_.Add("show int", "", Echo("show int")).ok());
  EXPECT_EQ(Run("show int"), "show int|");
  EXPECT_EQ(Run("show inte"), "show interface|");
}

TEST_F(CommandTableTest, Ambiguity) {
  Status s = Fail("s int");
  EXPECT_EQ(s.code(), EINVAL);
  EXPECT_THAT(s.message(), StartsWith("ambiguous input `s': could be set, show\ncandidates:\n"));
  EXPECT_THAT(s.message(),
              HasSubstr("  show interface address    show interface address <args>\n"));
  EXPECT_THAT(s.message(), HasSubstr("set interface state"));
  Status c = Fail("c");
  EXPECT_THAT(c.message(), StartsWith("ambiguous input `c': could be clear, create"));
  EXPECT_EQ(Run("show interface a"), "show interface address|");  // one candidate: no ambiguity
  ASSERT_TRUE(table_.Add("show interface alias", "", Echo("alias")).ok());
  EXPECT_THAT(Fail("sh int a eth0").message(),
              StartsWith("show interface: ambiguous input `a': could be address, alias"));
}

TEST_F(CommandTableTest, UnknownCommandListsCandidates) {
  Status top = Fail("frobnicate now");
  EXPECT_THAT(top.message(), StartsWith("unknown input `frobnicate now'\ncandidates:\n"));
  EXPECT_THAT(top.message(), HasSubstr("  create host-interface"));

  Status sub = Fail("show foo");
  EXPECT_THAT(sub.message(), StartsWith("show: unknown input `foo'\ncandidates:\n"));
  EXPECT_THAT(sub.message(), HasSubstr("show hardware-interfaces"));
  EXPECT_THAT(sub.message(), Not(HasSubstr("clear interfaces")));

  Status incomplete = Fail("set interface");
  EXPECT_THAT(incomplete.message(), StartsWith("set interface: incomplete command\ncandidates:\n"));
  EXPECT_THAT(incomplete.message(), HasSubstr("set interface ip address"));
}

TEST_F(CommandTableTest, CommentsAndBlankLines) {
  EXPECT_EQ(Run(""), "");
  EXPECT_EQ(Run("   \t"), "");
  EXPECT_EQ(Run("# show interface"), "");
  EXPECT_EQ(Run("   # indented comment"), "");
  EXPECT_EQ(Run("show interface #eth0"), "show interface|[#eth0]");  // only at line start
}

TEST_F(CommandTableTest, QuotedArguments) {
  EXPECT_EQ(Run(R"(create host-interface name "my if" )"), "create host-interface|[name][my if]");
  Status s = Fail(R"(create host-interface name "oops)");
  EXPECT_THAT(s.message(), HasSubstr("missing closing quote"));
}

TEST_F(CommandTableTest, QuestionMarkAndHelp) {
  CliReply all = table_.Execute("?");
  ASSERT_TRUE(all.status.ok());
  EXPECT_THAT(all.text, HasSubstr("  clear interfaces"));
  EXPECT_THAT(all.text, HasSubstr("  show interface address    show interface address <args>\n"));
  ASSERT_TRUE(all.data.is_array());
  EXPECT_EQ(all.data.size(), 7u);
  EXPECT_EQ(all.data[0]["path"], "clear interfaces");
  EXPECT_EQ(all.data[0]["help"], "clear interfaces <args>");

  CliReply show = table_.Execute("sh int ?");
  ASSERT_TRUE(show.status.ok());
  EXPECT_EQ(show.data.size(), 2u);
  EXPECT_THAT(show.text, Not(HasSubstr("hardware")));

  EXPECT_FALSE(table_.Execute("bogus ?").status.ok());
}

TEST_F(CommandTableTest, AddRejectsBadRows) {
  EXPECT_EQ(table_.Add("show interface", "", Echo("x")).code(), EEXIST);
  EXPECT_EQ(table_.Add("  ", "", Echo("x")).code(), EINVAL);
  EXPECT_EQ(table_.Add("show nothing", "", nullptr).code(), EINVAL);
  EXPECT_EQ(table_.Add("show ?", "", Echo("x")).code(), EINVAL);
  EXPECT_EQ(table_.Add("show \"a b\"", "", Echo("x")).code(), EINVAL);
  // An inner word may become a command later.
  EXPECT_TRUE(table_.Add("set interface", "", Echo("set interface")).ok());
  EXPECT_EQ(Run("set interface eth0"), "set interface|[eth0]");
}

TEST_F(CommandTableTest, HandlerErrorsAndExceptions) {
  ASSERT_TRUE(table_
                  .Add("set interface mtu", "set interface mtu <n> <if>",
                       [](CliArgs& args) {
                         auto mtu = args.Number("mtu", 64, 9000);
                         if (!mtu.ok()) return CliError(mtu.status());
                         if (Status s = args.Done(); !s.ok()) return CliError(s);
                         return CliOk();
                       })
                  .ok());
  EXPECT_EQ(Fail("set int mtu x").message(), "expected a number after 'mtu', got 'x'");
  EXPECT_EQ(Fail("set int mtu 1500 eth0 junk").message(), "unknown input `eth0 junk'");
  ASSERT_TRUE(table_
                  .Add("show broken", "",
                       [](CliArgs&) -> CliReply {
                         nlohmann::json j = 3;
                         return CliOk(j.get<std::string>());  // throws type_error
                       })
                  .ok());
  EXPECT_THAT(Fail("show broken").message(), StartsWith("show broken: internal error:"));
}

TEST_F(CommandTableTest, Builtins) {
  RegisterBuiltinCommands(table_, "1.2.3");
  CliReply version = table_.Execute("sh ver");
  ASSERT_TRUE(version.status.ok());
  EXPECT_EQ(version.text, "uplinkd 1.2.3");
  EXPECT_EQ(version.data["version"], "1.2.3");
  EXPECT_FALSE(table_.Execute("show version extra").status.ok());
  EXPECT_TRUE(table_.Execute("quit").status.ok());

  CliReply help = table_.Execute("help set");
  ASSERT_TRUE(help.status.ok());
  EXPECT_EQ(help.data.size(), 2u);
  EXPECT_THAT(help.text, HasSubstr("set interface state"));
  EXPECT_THAT(table_.Execute("help").text, HasSubstr("exec <filename>"));
  EXPECT_THAT(table_.Execute("exec").status.message(), "expected a value after 'exec'");
}

TEST_F(CommandTableTest, ExecuteFile) {
  RegisterBuiltinCommands(table_, "1.2.3");
  TempDir dir;
  std::string ok = dir.Write("ok.cli",
                             "# a comment\n"
                             "\n"
                             "show interface eth0\r\n"
                             "   \n"
                             "set interface state eth0 up");  // no final newline
  CliReply reply = table_.ExecuteFile(ok);
  ASSERT_TRUE(reply.status.ok()) << reply.status.message();
  EXPECT_EQ(reply.text, "show interface|[eth0]\nset interface state|[eth0][up]\n");

  std::string bad = dir.Write("bad.cli",
                              "show interface\n"
                              "# comment\n"
                              "show bogus\n"
                              "clear interfaces\n");
  CliReply failed = table_.ExecuteFile(bad);
  ASSERT_FALSE(failed.status.ok());
  EXPECT_THAT(failed.status.message(), StartsWith(bad + ":3: show: unknown input `bogus'"));
  EXPECT_EQ(failed.text, "show interface|\n");  // stopped: clear never ran

  // Through the `exec` command, nested: both file:line are named.
  std::string outer = dir.Write("outer.cli", "show interface\nexec " + bad + "\n");
  CliReply nested = table_.Execute("exec " + outer);
  ASSERT_FALSE(nested.status.ok());
  EXPECT_THAT(nested.status.message(), StartsWith(outer + ":2: " + bad + ":3: "));

  std::string spaced = dir.Write("a b.cli", "show version\n");
  EXPECT_EQ(table_.Execute("exec \"" + spaced + "\"").text, "uplinkd 1.2.3\n");
}

TEST_F(CommandTableTest, ExecuteFileErrors) {
  RegisterBuiltinCommands(table_, "1.2.3");
  TempDir dir;
  CliReply missing = table_.ExecuteFile(dir.File("nope.cli"));
  EXPECT_EQ(missing.status.code(), ENOENT);
  EXPECT_THAT(missing.status.message(),
              StartsWith("exec " + dir.File("nope.cli") + ": No such file"));

  EXPECT_THAT(table_.ExecuteFile(dir.path()).status.message(), HasSubstr("not a regular file"));
  ASSERT_EQ(mkfifo(dir.File("fifo").c_str(), 0600), 0);
  EXPECT_THAT(table_.ExecuteFile(dir.File("fifo")).status.message(),
              HasSubstr("not a regular file"));

  std::string loop = dir.File("loop.cli");
  dir.Write("loop.cli", "exec " + loop + "\n");
  CliReply looped = table_.ExecuteFile(loop);
  EXPECT_EQ(looped.status.code(), ELOOP);
  EXPECT_THAT(looped.status.message(), HasSubstr("more than 8 nested exec files"));
}

TEST(CommandTableMoveTest, MovedTableKeepsCommands) {
  CommandTable a;
  ASSERT_TRUE(a.Add("show x", "", Echo("show x")).ok());
  CommandTable b = std::move(a);
  EXPECT_EQ(b.Execute("sh x").text, "show x|");
}

}  // namespace
}  // namespace uplinkd
