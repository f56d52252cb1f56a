#pragma once
// CliServer: serves `unix { cli-listen PATH }` for uplinkctl (protocol in cli/protocol.h).
//
// One thread of its own, poll()ing the listening socket and every client, so that several
// clients can be connected at once; each request runs CommandTable::Execute under
// table.mutex(), so handlers are serialized with each other and with anyone else taking it.
// A client that disconnects mid-reply only loses its own connection (sends use MSG_NOSIGNAL).

#include <sys/types.h>

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cli/command_table.h"
#include "common/status.h"

namespace uplinkd {

class CliServer {
 public:
  // Creates the SOCK_STREAM socket at `path` (mode 0660, owner the running user — root — and
  // group `gid` when given), removing a stale socket file first; refuses when another server
  // answers there or a non-socket file is in the way. Creates the parent directory (0755) if it
  // is missing. `table` must outlive the server.
  static Result<std::unique_ptr<CliServer>> Start(const std::string& path,
                                                  std::optional<uint32_t> gid,
                                                  const CommandTable& table);
  ~CliServer();
  CliServer(const CliServer&) = delete;
  CliServer& operator=(const CliServer&) = delete;

  // Stops the thread, closes every connection and removes the socket file (if it is still
  // ours). Waits for a running handler to return. Idempotent; any thread but the server's own.
  void Stop();

  const std::string& path() const { return path_; }

 private:
  struct Client;

  CliServer(std::string path, const CommandTable& table, int listen_fd, int wake_fd, dev_t dev,
            ino_t ino);
  void Run();
  void Serve(std::list<Client>& clients);  // returns on Stop() or a poll failure
  // Runs the complete request lines of `client` while its pending output is small.
  void ProcessRequests(Client& client);

  const std::string path_;
  const CommandTable& table_;
  const int listen_fd_;
  const int wake_fd_;  // eventfd: Stop() wakes the poll loop through it
  const dev_t dev_;    // identity of our socket file, so Stop never removes a successor's
  const ino_t ino_;
  std::thread thread_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace uplinkd
