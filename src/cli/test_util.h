#pragma once
// Helpers shared by the cli tests.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace uplinkd::testing_util {

// A fresh directory under /tmp, removed with everything in it at scope exit. Short paths: a
// unix socket path must fit in 108 bytes.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/uplinkd-cli-XXXXXX";
    char* made = mkdtemp(tmpl);
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& content) const {
    std::ofstream(File(name)) << content;
    return File(name);
  }

 private:
  std::string path_;
};

}  // namespace uplinkd::testing_util
