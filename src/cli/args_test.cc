#include "cli/args.h"

#include <gtest/gtest.h>

namespace uplinkd {
namespace {

using Words = std::vector<std::string>;

Words Tokens(std::string_view line) {
  auto words = TokenizeCliLine(line);
  EXPECT_TRUE(words.ok()) << words.status().message();
  return words.ok() ? *words : Words{};
}

TEST(TokenizeTest, Whitespace) {
  EXPECT_EQ(Tokens("show interface"), (Words{"show", "interface"}));
  EXPECT_EQ(Tokens("  show \t interface\r\n"), (Words{"show", "interface"}));
  EXPECT_EQ(Tokens(""), Words{});
  EXPECT_EQ(Tokens(" \t "), Words{});
}

TEST(TokenizeTest, Quotes) {
  EXPECT_EQ(Tokens(R"(exec "/tmp/my file.cli")"), (Words{"exec", "/tmp/my file.cli"}));
  EXPECT_EQ(Tokens(R"(set tag "a  b" c)"), (Words{"set", "tag", "a  b", "c"}));
  EXPECT_EQ(Tokens(R"(name="a b"x)"), (Words{"name=a bx"}));
  EXPECT_EQ(Tokens(R"(a "" b)"), (Words{"a", "", "b"}));
  EXPECT_EQ(Tokens(R"("say \"hi\" \\ \n")"), (Words{R"(say "hi" \ \n)"}));
  EXPECT_EQ(Tokens(R"(c:\path)"), (Words{R"(c:\path)"}));
}

TEST(TokenizeTest, UnterminatedQuote) {
  auto words = TokenizeCliLine(R"(exec "/tmp/x)");
  ASSERT_FALSE(words.ok());
  EXPECT_EQ(words.status().message(), "missing closing quote for the quote at column 6");
  EXPECT_FALSE(TokenizeCliLine(R"("\")").ok());
}

TEST(TokenizeTest, JoinRoundTrip) {
  for (const Words& words : {Words{"show", "interface"}, Words{"exec", "/tmp/a b"},
                             Words{"", "x\"y", R"(back\slash)", "tab\there", "\"\\"}}) {
    EXPECT_EQ(Tokens(JoinCliWords(words)), words) << JoinCliWords(words);
  }
  EXPECT_EQ(JoinCliWords({"show", "int"}), "show int");
}

TEST(CliArgsTest, AcceptAndWord) {
  CliArgs args({"eth0", "rx-size", "1024", "verbose"});
  EXPECT_FALSE(args.empty());
  EXPECT_EQ(args.Peek(), "eth0");
  EXPECT_FALSE(args.Accept("verbose"));
  EXPECT_EQ(args.Word(), "eth0");
  EXPECT_FALSE(args.Accept("rx"));  // keywords are exact, unlike command paths
  EXPECT_TRUE(args.Accept("rx-size"));
  EXPECT_EQ(args.Number("rx-size").value(), 1024u);
  EXPECT_EQ(args.Remaining(), (Words{"verbose"}));
  EXPECT_TRUE(args.Accept("verbose"));
  EXPECT_TRUE(args.empty());
  EXPECT_FALSE(args.Word());
  EXPECT_FALSE(args.Peek());
  EXPECT_TRUE(args.Done().ok());
  EXPECT_EQ(args.words().size(), 4u);
}

TEST(CliArgsTest, NumberErrors) {
  CliArgs args({"x", "0x10"});
  auto bad = args.Number("rx-size");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), EINVAL);
  EXPECT_EQ(bad.status().message(), "expected a number after 'rx-size', got 'x'");
  EXPECT_EQ(args.Peek(), "x");  // not consumed
  args.Word();
  EXPECT_EQ(args.Number("rx-size").value(), 16u);
  auto missing = args.Number("rx-size");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "expected a number after 'rx-size', got nothing");
}

TEST(CliArgsTest, NumberRange) {
  CliArgs args({"5000", "4096"});
  auto out = args.Number("rx-size", 1, 4096);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "rx-size must be between 1 and 4096, got 5000");
  EXPECT_EQ(args.Peek(), "5000");
  args.Word();
  EXPECT_EQ(args.Number("rx-size", 1, 4096).value(), 4096u);
}

TEST(CliArgsTest, ValueChoiceMac) {
  CliArgs args({"polling", "fast", "02:00:00:00:00:01", "zz"});
  EXPECT_EQ(args.Choice("rx-mode", {"polling", "interrupt", "adaptive"}).value(), "polling");
  auto bad = args.Choice("rx-mode", {"polling", "interrupt", "adaptive"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "expected one of polling|interrupt|adaptive after 'rx-mode', got 'fast'");
  EXPECT_EQ(args.Value("name").value(), "fast");
  EXPECT_EQ(FormatMac(args.Mac("mac-address").value()), "02:00:00:00:00:01");
  auto bad_mac = args.Mac("mac-address");
  ASSERT_FALSE(bad_mac.ok());
  EXPECT_EQ(bad_mac.status().message(), "expected a MAC address after 'mac-address', got 'zz'");
  args.Word();
  auto no_value = args.Value("name");
  ASSERT_FALSE(no_value.ok());
  EXPECT_EQ(no_value.status().message(), "expected a value after 'name'");
}

TEST(CliArgsTest, UnknownInput) {
  CliArgs args({"eth0", "foo", "bar"});
  args.Word();
  Status s = args.UnknownInput();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "unknown input `foo bar'");
  EXPECT_EQ(args.Done().message(), "unknown input `foo bar'");
}

}  // namespace
}  // namespace uplinkd
