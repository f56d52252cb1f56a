// TCP transfer between two namespaces with SHA-256 digests on both ends.
//
// Why SHA-256 rather than CRC64: the digest is checked against `sha256sum` by hand when a test
// fails, and a cryptographic hash has no linear blind spots for the systematic corruption a
// buggy dataplane produces (a segment repeated or swapped, bytes zeroed by a bad offload).
// A plain implementation hashes ~200+ MB/s, so 50 MB costs well under a second on each side,
// computed concurrently on the client and server threads.

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "tests/integration/rig/rig.h"

namespace uplinkd::rig {
namespace {

using Clock = std::chrono::steady_clock;

// FIPS 180-4 SHA-256, incremental.
class Sha256 {
 public:
  void Update(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    total_ += size;
    if (fill_ > 0) {
      size_t take = std::min(size, sizeof(block_) - fill_);
      std::memcpy(block_ + fill_, p, take);
      fill_ += take;
      p += take;
      size -= take;
      if (fill_ < sizeof(block_)) return;
      Compress(block_);
      fill_ = 0;
    }
    for (; size >= 64; p += 64, size -= 64) Compress(p);
    std::memcpy(block_, p, size);
    fill_ = size;
  }

  std::string HexDigest() {
    uint64_t bits = total_ * 8;
    uint8_t pad[72] = {0x80};
    size_t pad_len = (fill_ < 56 ? 56 - fill_ : 120 - fill_);
    for (int i = 0; i < 8; ++i) pad[pad_len + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    Update(pad, pad_len + 8);
    std::string hex;
    for (uint32_t word : h_) hex += fmt::format("{:08x}", word);
    return hex;
  }

 private:
  static uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void Compress(const uint8_t* block) {
    static constexpr uint32_t kK[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (uint32_t{block[4 * i]} << 24) | (uint32_t{block[4 * i + 1]} << 16) |
             (uint32_t{block[4 * i + 2]} << 8) | uint32_t{block[4 * i + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3];
    uint32_t e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 =
          h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
      uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::array<uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  uint8_t block_[64] = {};
  size_t fill_ = 0;
  uint64_t total_ = 0;
};

// splitmix64: a fast, seedable stream; the payload only needs to be non-repeating.
class Payload {
 public:
  explicit Payload(uint64_t seed) : state_(seed) {}
  // Fills `size` bytes (a multiple of 8 except for the last call).
  void Fill(uint8_t* out, size_t size) {
    for (size_t i = 0; i < size; i += 8) {
      uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      std::memcpy(out + i, &z, std::min<size_t>(8, size - i));
    }
  }

 private:
  uint64_t state_;
};

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_UNSPEC;
};

bool ParseEndpoint(const std::string& address, uint16_t port, Endpoint* ep) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep->addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep->addr);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    ep->len = sizeof(sockaddr_in);
    ep->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    ep->len = sizeof(sockaddr_in6);
    ep->family = AF_INET6;
    return true;
  }
  return false;
}

// State both threads share; `abort` makes the other side give up within one poll slice.
struct Shared {
  Clock::time_point deadline;
  std::atomic<bool> abort{false};
  std::mutex mu;
  std::condition_variable cv;
  int server_state = 0;  // 0 starting, 1 listening, -1 failed
};

constexpr int kSliceMs = 50;

// Polls `fd` for `events` in slices until ready, abort or deadline. 1 ready, 0 gave up, -1 error.
int PollUntil(int fd, short events, Shared& shared) {
  for (int i = 0; i < 10'000'000; ++i) {
    if (shared.abort.load()) return 0;
    auto left = std::chrono::duration_cast<milliseconds>(shared.deadline - Clock::now()).count();
    if (left <= 0) return 0;
    pollfd pfd{fd, events, 0};
    int rc = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, kSliceMs)));
    if (rc > 0) return 1;
    if (rc < 0 && errno != EINTR) return -1;
  }
  return 0;
}

std::string GaveUp(const Shared& shared) {
  return shared.abort.load() ? "stopped (the other side failed)" : "deadline expired";
}

struct ServerOut {
  uint64_t bytes = 0;
  std::string digest;
  std::string error;
  Clock::time_point closed_at;
};

void Serve(Netns& ns, const Endpoint& ep, const std::string& where, Shared& shared,
           ServerOut& out) {
  auto report = [&](int state) {
    std::lock_guard lock(shared.mu);
    shared.server_state = state;
    shared.cv.notify_all();
  };
  auto fail = [&](std::string message) {
    out.error = std::move(message);
    shared.abort = true;
    report(-1);
  };
  if (Status s = ns.EnterOnThisThread(); !s.ok()) return fail(s.message());
  int lfd = socket(ep.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) return fail(ErrnoFailure("socket").message());
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(lfd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) != 0 || listen(lfd, 1) != 0) {
    fail(ErrnoFailure("bind/listen on {} in {}", where, ns.name()).message());
    close(lfd);
    return;
  }
  report(1);
  int conn = -1;
  int rc = PollUntil(lfd, POLLIN, shared);
  if (rc == 1) conn = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  close(lfd);
  if (conn < 0) {
    // A client failure is the client's story; only report our own.
    if (!shared.abort.load()) {
      out.error = rc == 1 ? ErrnoFailure("accept").message()
                          : fmt::format("no connection on {}: {}", where, GaveUp(shared));
      shared.abort = true;
    }
    return;
  }
  Sha256 sha;
  std::vector<uint8_t> buf(256 * 1024);
  for (int i = 0; i < 100'000'000; ++i) {
    ssize_t n = read(conn, buf.data(), buf.size());
    if (n > 0) {
      sha.Update(buf.data(), static_cast<size_t>(n));
      out.bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) {
      out.digest = sha.HexDigest();
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      out.error = ErrnoFailure("read after {} bytes", out.bytes).message();
      shared.abort = true;
      break;
    }
    if (PollUntil(conn, POLLIN, shared) != 1) {
      if (!shared.abort.load()) {
        out.error = fmt::format("read: {} after {} bytes", GaveUp(shared), out.bytes);
        shared.abort = true;
      }
      break;
    }
  }
  close(conn);  // the client waits for this EOF
  out.closed_at = Clock::now();
}

struct ClientOut {
  uint64_t bytes = 0;
  std::string digest;
  std::string error;
  int attempts = 0;
  Clock::time_point connected_at;
  Clock::time_point done_at;
};

bool Retryable(int err) {
  return err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH || err == ETIMEDOUT ||
         err == ECONNRESET || err == EADDRNOTAVAIL;
}

// Connects with retries until the deadline; -1 with out.error set on failure.
int Connect(const Endpoint& ep, const std::string& where, Shared& shared, ClientOut& out) {
  const auto start = Clock::now();
  int last_error = 0;
  for (int i = 0; i < 100000 && !shared.abort.load() && Clock::now() < shared.deadline; ++i) {
    ++out.attempts;
    int fd = socket(ep.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      out.error = ErrnoFailure("socket").message();
      return -1;
    }
    int err = 0;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) != 0) err = errno;
    if (err == EINPROGRESS) {
      int rc = PollUntil(fd, POLLOUT, shared);
      socklen_t len = sizeof(err);
      if (rc == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (rc != 1) err = ETIMEDOUT;
    }
    if (err == 0) return fd;
    close(fd);
    last_error = err;
    if (!Retryable(err)) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  double waited = std::chrono::duration<double>(Clock::now() - start).count();
  out.error = fmt::format("connect to {}: {} ({} attempts in {:.1f} s{})", where,
                          last_error != 0 ? std::strerror(last_error) : "no attempt", out.attempts,
                          waited, shared.abort.load() ? ", stopped: the server failed" : "");
  return -1;
}

void SendAll(Netns& ns, const Endpoint& ep, const std::string& where, uint64_t bytes,
             const TransferOptions& options, bool wait_for_server, Shared& shared, ClientOut& out) {
  auto fail = [&](std::string message) {
    out.error = std::move(message);
    shared.abort = true;
  };
  if (Status s = ns.EnterOnThisThread(); !s.ok()) return fail(s.message());
  if (wait_for_server) {
    std::unique_lock lock(shared.mu);
    shared.cv.wait_until(lock, shared.deadline, [&] { return shared.server_state != 0; });
    if (shared.server_state != 1) return;  // the server reported why
  }
  int fd = Connect(ep, where, shared, out);
  if (fd < 0) {
    shared.abort = true;
    return;
  }
  out.connected_at = Clock::now();
  Payload payload(options.seed);
  Sha256 sha;
  const size_t chunk = std::max<size_t>(8, (options.chunk + 7) / 8 * 8);  // keeps the stream fixed
  std::vector<uint8_t> buf(chunk);
  size_t have = 0, offset = 0;
  for (int i = 0; i < 100'000'000 && out.bytes < bytes; ++i) {
    if (offset == have) {
      have = static_cast<size_t>(std::min<uint64_t>(chunk, bytes - out.bytes));
      payload.Fill(buf.data(), have);
      offset = 0;
    }
    ssize_t n = send(fd, buf.data() + offset, have - offset, MSG_NOSIGNAL);
    if (n > 0) {
      sha.Update(buf.data() + offset, static_cast<size_t>(n));
      offset += static_cast<size_t>(n);
      out.bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      fail(ErrnoFailure("send after {} of {} bytes", out.bytes, bytes).message());
      break;
    }
    if (PollUntil(fd, POLLOUT, shared) != 1) {
      if (!shared.abort.load()) {
        fail(fmt::format("send: {} after {} of {} bytes", GaveUp(shared), out.bytes, bytes));
      }
      break;
    }
  }
  out.digest = sha.HexDigest();
  if (out.bytes == bytes) {
    shutdown(fd, SHUT_WR);
    // Wait for the server's close so the elapsed time covers delivery, not just buffering.
    char sink[4096];
    for (int i = 0; i < 1'000'000; ++i) {
      ssize_t n = read(fd, sink, sizeof(sink));
      if (n == 0) break;
      if (n > 0 || (n < 0 && errno == EINTR)) continue;
      if (errno != EAGAIN) {
        fail(ErrnoFailure("waiting for the server to close").message());
        break;
      }
      if (PollUntil(fd, POLLIN, shared) != 1) {
        if (!shared.abort.load()) fail("waiting for the server to close: deadline expired");
        break;
      }
    }
  }
  out.done_at = Clock::now();
  close(fd);
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  Sha256 sha;
  sha.Update(data.data(), data.size());
  return sha.HexDigest();
}

TransferResult TcpTransfer(Netns& client_ns, Netns& server_ns, const std::string& server_address,
                           uint16_t port, uint64_t bytes, seconds deadline,
                           const TransferOptions& options) {
  TransferResult result;
  Endpoint ep;
  if (!ParseEndpoint(server_address, port, &ep)) {
    result.error = fmt::format("'{}' is not an IPv4 or IPv6 address", server_address);
    return result;
  }
  const std::string where = ep.family == AF_INET6 ? fmt::format("[{}]:{}", server_address, port)
                                                  : fmt::format("{}:{}", server_address, port);
  Shared shared;
  shared.deadline = Clock::now() + deadline;
  ServerOut server;
  ClientOut client;
  std::thread server_thread;
  if (options.listen) {
    server_thread = std::thread([&] { Serve(server_ns, ep, where, shared, server); });
  }
  std::thread client_thread(
      [&] { SendAll(client_ns, ep, where, bytes, options, options.listen, shared, client); });
  client_thread.join();
  if (server_thread.joinable()) server_thread.join();

  result.bytes_sent = client.bytes;
  result.bytes_received = server.bytes;
  result.sent_digest = client.digest;
  result.received_digest = server.digest;
  result.connect_attempts = client.attempts;
  if (client.connected_at != Clock::time_point() && client.done_at > client.connected_at) {
    result.seconds = std::chrono::duration<double>(client.done_at - client.connected_at).count();
    if (result.seconds > 0) {
      result.gbit_per_second =
          static_cast<double>(result.bytes_received) * 8 / result.seconds / 1e9;
    }
  }
  std::vector<std::string> errors;
  if (!client.error.empty()) errors.push_back("client: " + client.error);
  if (!server.error.empty()) errors.push_back("server: " + server.error);
  if (errors.empty()) {
    if (!options.listen) {
      errors.push_back("no server was started (TransferOptions::listen = false)");
    } else if (result.bytes_sent != bytes || result.bytes_received != bytes) {
      errors.push_back(fmt::format("sent {} and received {} of {} bytes", result.bytes_sent,
                                   result.bytes_received, bytes));
    } else if (result.sent_digest != result.received_digest) {
      errors.push_back(fmt::format("digest mismatch: sent {} received {}", result.sent_digest,
                                   result.received_digest));
    }
  }
  for (const std::string& e : errors) result.error += (result.error.empty() ? "" : "; ") + e;
  result.ok = result.error.empty();
  return result;
}

}  // namespace uplinkd::rig
