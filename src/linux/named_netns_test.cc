// CreateNamedNetns / DeleteNamedNetns / NamedNetnsExists against `ip netns`, and a veth moved
// into such a namespace and back. Everything lives in namespaces the test creates.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux/netns.h"
#include "linux/netns_test_helpers.h"

namespace uplinkd {
namespace {

using testing::IpJson;
using testing::NamedNetnsGuard;
using testing::NetlinkIn;
using testing::NetlinkInFd;
using testing::RunCommand;
using testing::TestNetns;
using testing::UniqueName;

bool IpNetnsLists(const std::string& name) {
  Result<nlohmann::json> list = IpJson("netns list");
  if (!list.ok() || !list->is_array()) return false;
  for (const auto& entry : *list) {
    if (entry.value("name", "") == name) return true;
  }
  return false;
}

TEST(NamedNetnsTest, CreateExistsDelete) {
  NamedNetnsGuard guard(UniqueName("unn"));
  const std::string& name = guard.name();
  ASSERT_FALSE(NamedNetnsExists(name));

  Status status = CreateNamedNetns(name);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_TRUE(NamedNetnsExists(name));
  EXPECT_TRUE(IpNetnsLists(name));
  // A new namespace, not ours, with its own loopback that `ip` can use.
  Result<int> fd = OpenNetns(name);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  Result<int> own = OpenCurrentNetns();
  ASSERT_TRUE(own.ok());
  EXPECT_NE(*NetnsInode(*fd), *NetnsInode(*own));
  close(*own);
  EXPECT_EQ(RunCommand("ip -n " + name + " link show lo >/dev/null").status, 0);

  status = CreateNamedNetns(name);
  EXPECT_EQ(status.code(), EEXIST) << status.message();

  status = DeleteNamedNetns(name);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_FALSE(NamedNetnsExists(name));
  EXPECT_FALSE(IpNetnsLists(name));
  struct stat st {};
  EXPECT_NE(stat(("/run/netns/" + name).c_str(), &st), 0);
  // The fd we still hold keeps the namespace alive and usable.
  EXPECT_EQ(RunInNetns(*fd, [] { return Status::Ok(); }).code(), 0);
  close(*fd);

  status = DeleteNamedNetns(name);
  EXPECT_EQ(status.code(), ENOENT) << status.message();
}

TEST(NamedNetnsTest, RejectsBadNames) {
  for (const std::string& name :
       std::vector<std::string>{"", "a/b", ".", "..", std::string(300, 'x')}) {
    EXPECT_EQ(CreateNamedNetns(name).code(), EINVAL) << "'" << name << "'";
    EXPECT_EQ(DeleteNamedNetns(name).code(), EINVAL) << "'" << name << "'";
    EXPECT_FALSE(NamedNetnsExists(name));
  }
}

TEST(NamedNetnsTest, IpNetnsAddedNamespacesAreSeenAndDeleted) {
  TestNetns ns("unn");
  ASSERT_TRUE(ns.ok());
  EXPECT_TRUE(NamedNetnsExists(ns.name()));
  EXPECT_EQ(CreateNamedNetns(ns.name()).code(), EEXIST);
}

TEST(NamedNetnsTest, MovesAVethInAndBack) {
  TestNetns home("unh");
  ASSERT_TRUE(home.ok());
  NamedNetnsGuard away(UniqueName("una"));
  ASSERT_TRUE(CreateNamedNetns(away.name()).ok());
  const std::string a = UniqueName("uva"), b = UniqueName("uvb");
  ASSERT_TRUE(home.Ip(fmt::format("link add {} type veth peer name {}", a, b)).ok());

  std::unique_ptr<Netlink> nl_home = NetlinkIn(home);
  ASSERT_NE(nl_home, nullptr);
  Result<int> index = nl_home->LinkIndex(a);
  ASSERT_TRUE(index.ok());
  Result<int> away_fd = OpenNetns(away.name());
  ASSERT_TRUE(away_fd.ok());
  Status status = nl_home->MoveLinkToNetns(*index, *away_fd);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(nl_home->LinkIndex(a).status().code(), ENODEV);
  EXPECT_EQ(RunCommand(fmt::format("ip -n {} link show {} >/dev/null", away.name(), a)).status, 0);

  std::unique_ptr<Netlink> nl_away = NetlinkInFd(*away_fd);
  close(*away_fd);
  ASSERT_NE(nl_away, nullptr);
  Result<int> away_index = nl_away->LinkIndex(a);
  ASSERT_TRUE(away_index.ok()) << away_index.status().message();
  status = nl_away->MoveLinkToNetns(*away_index, home.fd());
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_TRUE(nl_home->LinkIndex(a).ok());
  EXPECT_EQ(nl_away->LinkIndex(a).status().code(), ENODEV);

  // Deleting the (now empty) namespace leaves the link where it is.
  nl_away.reset();
  ASSERT_TRUE(DeleteNamedNetns(away.name()).ok());
  EXPECT_TRUE(nl_home->LinkIndex(a).ok());
  EXPECT_TRUE(nl_home->LinkIndex(b).ok());
}

}  // namespace
}  // namespace uplinkd
