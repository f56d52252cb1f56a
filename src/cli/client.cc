#include "cli/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "cli/protocol.h"

namespace uplinkd {

Result<std::unique_ptr<CliClient>> CliClient::Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Failure(ENAMETOOLONG, "cannot connect to {}: socket path empty or too long", path);
  }
  path.copy(addr.sun_path, path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoFailure("cannot connect to {}: socket", path);
  int rc;
  do {
    rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    Status status = ErrnoFailure("cannot connect to {}", path);
    close(fd);
    return status;
  }
  return std::unique_ptr<CliClient>(new CliClient(fd, path));
}

CliClient::~CliClient() { close(fd_); }

Result<CliReply> CliClient::Call(std::string_view command, bool json) {
  std::string request = EncodeCliRequest(CliRequest{std::string(command), json});
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoFailure("connection to {} lost", path_);
    sent += static_cast<size_t>(n);
  }
  size_t scanned = 0;
  while (true) {
    size_t newline = buffer_.find('\n', scanned);
    if (newline != std::string::npos) {
      Result<CliReply> reply = DecodeCliReply(std::string_view(buffer_).substr(0, newline));
      buffer_.erase(0, newline + 1);
      if (!reply.ok()) return reply.status().WithContext(path_);
      return reply;
    }
    scanned = buffer_.size();
    if (buffer_.size() > kMaxCliReplyBytes) {
      return Failure(EMSGSIZE, "{}: reply larger than {} bytes", path_, kMaxCliReplyBytes);
    }
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoFailure("connection to {} lost", path_);
    if (n == 0) return Failure(ECONNRESET, "connection to {} closed by the server", path_);
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace uplinkd
