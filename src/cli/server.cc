#include "cli/server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/protocol.h"
#include "common/log.h"

namespace uplinkd {
namespace {

// Beyond this many connections new ones are refused, so a runaway script cannot exhaust fds.
constexpr size_t kMaxClients = 64;
// Stop reading a client's requests while this much of its output is unsent (it does not read).
constexpr size_t kMaxPendingOutput = 4 << 20;

bool FillAddress(const std::string& path, sockaddr_un* addr) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) return false;
  path.copy(addr->sun_path, path.size());
  return true;
}

// True when a server answers at `path` (a live socket, not a stale file).
bool SomeoneListens(const sockaddr_un& addr) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool live = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return live;
}

}  // namespace

struct CliServer::Client {
  int fd = -1;
  std::string in;            // received, not yet processed
  std::string out;           // replies not yet sent
  bool read_closed = false;  // EOF seen; finish sending, then close
  bool close_after_output = false;
};

Result<std::unique_ptr<CliServer>> CliServer::Start(const std::string& path,
                                                    std::optional<uint32_t> gid,
                                                    const CommandTable& table) {
  sockaddr_un addr;
  if (!FillAddress(path, &addr)) {
    return Failure(ENAMETOOLONG, "cli-listen {}: path empty or longer than {} bytes", path,
                   sizeof(addr.sun_path) - 1);
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Failure(EEXIST, "cli-listen {}: exists and is not a socket", path);
    }
    if (SomeoneListens(addr)) {
      return Failure(EADDRINUSE, "cli-listen {}: another server is listening there", path);
    }
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoFailure("cli-listen {}: removing the stale socket", path);
    }
  }
  // /run/uplinkd does not survive a reboot; create it rather than fail the first start.
  if (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoFailure("cli-listen {}: creating {}", path, dir);
    }
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return ErrnoFailure("cli-listen {}: socket", path);
  auto fail = [&](Status status, bool unlink_path) {
    close(fd);
    if (unlink_path) unlink(path.c_str());
    return status;
  };
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return fail(ErrnoFailure("cli-listen {}: bind", path), false);
  }
  // Until this chmod the umask applies; a umask can only take permissions away, so the window
  // never grants more than 0660.
  if (chmod(path.c_str(), 0660) != 0) {
    return fail(ErrnoFailure("cli-listen {}: chmod 0660", path), true);
  }
  if (gid && chown(path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(*gid)) != 0) {
    return fail(ErrnoFailure("cli-listen {}: chown to group {}", path, *gid), true);
  }
  if (listen(fd, 16) != 0) return fail(ErrnoFailure("cli-listen {}: listen", path), true);
  if (stat(path.c_str(), &st) != 0) return fail(ErrnoFailure("cli-listen {}: stat", path), true);
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return fail(ErrnoFailure("cli-listen {}: eventfd", path), true);

  std::unique_ptr<CliServer> server(new CliServer(path, table, fd, wake, st.st_dev, st.st_ino));
  server->thread_ = std::thread([s = server.get()] { s->Run(); });
  Logger("cli")->info("listening on {}", path);
  return server;
}

CliServer::CliServer(std::string path, const CommandTable& table, int listen_fd, int wake_fd,
                     dev_t dev, ino_t ino)
    : path_(std::move(path)),
      table_(table),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      dev_(dev),
      ino_(ino) {}

CliServer::~CliServer() { Stop(); }

void CliServer::Stop() {
  std::lock_guard lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  uint64_t one = 1;
  // An eventfd write only fails when the counter would overflow: it is woken either way.
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_fd_);
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    unlink(path_.c_str());
  }
  Logger("cli")->info("stopped listening on {}", path_);
}

void CliServer::ProcessRequests(Client& client) {
  while (!client.close_after_output && client.out.size() < kMaxPendingOutput) {
    size_t newline = client.in.find('\n');
    if (newline == std::string::npos) {
      if (client.in.size() > kMaxCliRequestBytes) {
        client.out += EncodeCliReply(
            CliError(Failure(EMSGSIZE, "request longer than {} bytes", kMaxCliRequestBytes)));
        client.in.clear();
        client.close_after_output = true;
      }
      return;
    }
    std::string_view line(client.in.data(), newline);
    Result<CliRequest> request = DecodeCliRequest(line);
    CliReply reply;
    if (!request.ok()) {
      reply = CliError(request.status());
    } else {
      std::lock_guard lock(table_.mutex());
      reply = table_.Execute(request->command);
      if (!request->json) reply.data = nullptr;  // the client will not print it
    }
    client.in.erase(0, newline + 1);
    client.out += EncodeCliReply(reply);
  }
}

void CliServer::Run() {
  // std::list: clients are removed from the middle while others stay put.
  std::list<Client> clients;
  Serve(clients);
  for (Client& c : clients) close(c.fd);
}

void CliServer::Serve(std::list<Client>& clients) {
  auto log = Logger("cli");
  std::vector<pollfd> fds;
  std::vector<Client*> polled;
  while (true) {
    fds.clear();
    polled.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, static_cast<short>(clients.size() < kMaxClients ? POLLIN : 0), 0});
    for (Client& c : clients) {
      short events = 0;
      if (!c.read_closed && !c.close_after_output && c.out.size() < kMaxPendingOutput) {
        events |= POLLIN;
      }
      if (!c.out.empty()) events |= POLLOUT;
      fds.push_back({c.fd, events, 0});
      polled.push_back(&c);
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log->error("cli-listen {}: poll: {}", path_, std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) return;  // Stop()

    if (fds[1].revents & POLLIN) {
      while (clients.size() < kMaxClients) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
            log->warn("cli-listen {}: accept: {}", path_, std::strerror(errno));
          }
          break;
        }
        clients.push_back(Client{fd, {}, {}, false, false});
      }
    }

    for (size_t i = 0; i < polled.size(); ++i) {
      Client& c = *polled[i];
      short revents = fds[i + 2].revents;
      bool drop = false;
      if (revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[16384];
        while (!c.read_closed) {
          ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
          if (n > 0) {
            c.in.append(buf, static_cast<size_t>(n));
            if (c.in.size() > kMaxCliRequestBytes + sizeof(buf)) break;  // let it be judged
            continue;
          }
          if (n == 0) {
            c.read_closed = true;
          } else if (errno == EINTR) {
            continue;
          } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            drop = true;  // ECONNRESET and friends
          }
          break;
        }
      }
      if (!drop) ProcessRequests(c);
      while (!drop && !c.out.empty()) {
        ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
          c.out.erase(0, static_cast<size_t>(n));
          if (c.out.empty()) ProcessRequests(c);  // requests held back by the output limit
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) drop = true;  // EPIPE: it left
        break;
      }
      if (c.out.empty() && (c.read_closed || c.close_after_output)) drop = true;
      if (drop) {
        close(c.fd);
        c.fd = -1;
      }
    }
    clients.remove_if([](const Client& c) { return c.fd < 0; });
  }
}

}  // namespace uplinkd
