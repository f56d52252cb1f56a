#include "linux/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace uplinkd {
namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status FsyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoFailure("open directory {}", dir);
  Status status;
  if (fsync(fd) != 0) status = ErrnoFailure("fsync directory {}", dir);
  close(fd);
  return status;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  // Each write makes progress or fails, so this ends.
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoFailure("write {}", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Status WriteStateFileAtomic(const std::string& path, const nlohmann::json& json) {
  if (path.empty() || path.back() == '/')
    return Failure(EINVAL, "invalid state file path '{}'", path);
  const std::string dir = DirOf(path);
  // mkstemp in the same directory: rename() is atomic only within one filesystem.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoFailure("create a temporary file next to state file {}", path);
  // dump() with error_handler::replace: invalid UTF-8 in a string never throws.
  std::string text = json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  Status status = WriteAll(fd, text, tmp);
  if (status.ok() && fchmod(fd, 0600) != 0) status = ErrnoFailure("chmod {}", tmp);
  if (status.ok() && fsync(fd) != 0) status = ErrnoFailure("fsync {}", tmp);
  if (close(fd) != 0 && status.ok()) status = ErrnoFailure("close {}", tmp);
  if (status.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoFailure("rename {} to {}", tmp, path);
  }
  if (!status.ok()) {
    unlink(tmp.c_str());
    return status.WithContext(fmt::format("write state file {}", path));
  }
  return FsyncDir(dir).WithContext(fmt::format("write state file {}", path));
}

Result<std::optional<nlohmann::json>> ReadStateFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<nlohmann::json>();
    return ErrnoFailure("open state file {}", path);
  }
  std::string text;
  char chunk[8192];
  Status status;
  // A state file is a few kilobytes; the cap keeps a wrong path (a device) from reading forever.
  constexpr size_t kMaxSize = 64 << 20;
  while (true) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      status = ErrnoFailure("read state file {}", path);
      break;
    }
    if (n == 0) break;
    text.append(chunk, static_cast<size_t>(n));
    if (text.size() > kMaxSize) {
      status = Failure(EFBIG, "state file {} is larger than {} bytes", path, kMaxSize);
      break;
    }
  }
  close(fd);
  if (!status.ok()) return status;
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Failure(EBADMSG, "state file {} is corrupt: not valid JSON ({} bytes)", path,
                   text.size());
  }
  return std::optional<nlohmann::json>(std::move(json));
}

Status RemoveStateFile(const std::string& path) {
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoFailure("remove state file {}", path);
  }
  return FsyncDir(DirOf(path)).WithContext(fmt::format("remove state file {}", path));
}

}  // namespace uplinkd
