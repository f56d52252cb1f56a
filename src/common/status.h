#pragma once
// Status and Result<T>: how control-plane code reports failure (no exceptions).
// A Status carries an errno-style code (0 = ok) and a human message that names what failed.

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace uplinkd {

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(int code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == 0; }
  int code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with context: "af_packet veth0: " + "bind: ...".
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return Status(code_, fmt::format("{}: {}", context, message_));
  }

 private:
  int code_ = 0;
  std::string message_;
};

// Failure(EINVAL, "unknown option '{}'", word)
template <typename... Args>
Status Failure(int code, fmt::format_string<Args...> format, Args&&... args) {
  return Status(code == 0 ? EINVAL : code, fmt::format(format, std::forward<Args>(args)...));
}

// ErrnoFailure("bind {}", name): appends strerror(errno) and keeps errno as the code.
template <typename... Args>
Status ErrnoFailure(fmt::format_string<Args...> format, Args&&... args) {
  int err = errno;
  return Status(err == 0 ? EIO : err,
                fmt::format("{}: {}", fmt::format(format, std::forward<Args>(args)...),
                            std::strerror(err)));
}

// Result<T>: a value or a failed Status (C++20 has no std::expected).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                  // NOLINT: implicit on purpose
  Result(Status status) : v_(std::move(status)) {}           // NOLINT: implicit on purpose

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

// Collects the failures of steps that are all tried (restores, best-effort clean-ups) and
// reports them in one Status: the first failure's code, every message.
class Failures {
 public:
  void Add(const Status& status) {
    if (status.ok()) return;
    if (code_ == 0) code_ = status.code();
    messages_.push_back(status.message());
  }
  bool empty() const { return messages_.empty(); }
  Status ToStatus(std::string_view what) const {
    if (messages_.empty()) return Status::Ok();
    if (messages_.size() == 1) return Status(code_, fmt::format("{}: {}", what, messages_[0]));
    return Status(code_, fmt::format("{}: {} failures: {}", what, messages_.size(),
                                     fmt::join(messages_, "; ")));
  }

 private:
  int code_ = 0;
  std::vector<std::string> messages_;
};

}  // namespace uplinkd

// Returns early from a Status-returning function when `expr` failed.
#define UPLINKD_RETURN_IF_ERROR(expr)            \
  do {                                           \
    ::uplinkd::Status uplinkd_status_ = (expr);  \
    if (!uplinkd_status_.ok()) return uplinkd_status_; \
  } while (0)
