// The state file against a real filesystem, in a temporary directory.
#include "linux/state_file.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace uplinkd {
namespace {

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uplinkd-state-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/manager.json";
  }
  void TearDown() override {
    for (const std::string& f : Files()) unlink((dir_ + "/" + f).c_str());
    rmdir(dir_.c_str());
  }
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    DIR* d = opendir(dir_.c_str());
    if (d == nullptr) return out;
    // A handful of entries at most.
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    closedir(d);
    return out;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(StateFileTest, AbsentFileIsNullopt) {
  Result<std::optional<nlohmann::json>> r = ReadStateFile(path_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->has_value());
  EXPECT_TRUE(RemoveStateFile(path_).ok());  // removing what is not there is fine
}

TEST_F(StateFileTest, WritesAtomicallyAndReadsBack) {
  nlohmann::json first = {{"name", "eth0"}, {"mtu", 1500}, {"list", {1, 2, 3}}};
  Status status = WriteStateFileAtomic(path_, first);
  ASSERT_TRUE(status.ok()) << status.message();
  Result<std::optional<nlohmann::json>> r = ReadStateFile(path_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, first);

  // Replacing keeps one file (no temporary left behind) with the new content, mode 0600.
  nlohmann::json second = {{"name", "eth1"}, {"text", "caf\xc3\xa9"}};
  ASSERT_TRUE(WriteStateFileAtomic(path_, second).ok());
  r = ReadStateFile(path_);
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(**r, second);
  EXPECT_EQ(Files(), std::vector<std::string>{"manager.json"});
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_TRUE(RemoveStateFile(path_).ok());
  r = ReadStateFile(path_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST_F(StateFileTest, InvalidUtf8IsReplacedNotThrown) {
  nlohmann::json j = {{"label", std::string("bad\xff")}};
  ASSERT_TRUE(WriteStateFileAtomic(path_, j).ok());
  Result<std::optional<nlohmann::json>> r = ReadStateFile(path_);
  ASSERT_TRUE(r.ok() && r->has_value()) << r.status().message();
}

TEST_F(StateFileTest, CorruptFileIsAnErrorNamingThePath) {
  for (const char* text : {"{\"name\": \"eth0\", \"mtu\": 15", "", "not json"}) {
    std::ofstream(path_, std::ios::trunc) << text;
    Result<std::optional<nlohmann::json>> r = ReadStateFile(path_);
    ASSERT_FALSE(r.ok()) << "'" << text << "'";
    EXPECT_EQ(r.status().code(), EBADMSG);
    EXPECT_NE(r.status().message().find(path_), std::string::npos) << r.status().message();
  }
}

TEST_F(StateFileTest, WriteIntoMissingDirectoryFailsAndNamesIt) {
  std::string path = dir_ + "/missing/state.json";
  Status status = WriteStateFileAtomic(path, nlohmann::json::object());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ENOENT);
  EXPECT_NE(status.message().find(path), std::string::npos) << status.message();
  EXPECT_TRUE(Files().empty());
}

TEST_F(StateFileTest, UnreadablePathIsAnError) {
  // A directory where the file should be: open works, read fails (EISDIR).
  ASSERT_EQ(mkdir(path_.c_str(), 0700), 0);
  Result<std::optional<nlohmann::json>> r = ReadStateFile(path_);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path_), std::string::npos) << r.status().message();
  rmdir(path_.c_str());
}

}  // namespace
}  // namespace uplinkd
