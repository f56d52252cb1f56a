#include "linux/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

namespace uplinkd {
namespace {

constexpr char kNetnsDir[] = "/run/netns/";

Result<int> OpenAndCheck(const std::string& what, const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoFailure("open network namespace {} ({})", what, path);
  // A typo'd path to some other file must not be handed to setns() later.
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) {
    close(fd);
    return Failure(EINVAL, "{} ({}) is not a network namespace", what, path);
  }
  return fd;
}

struct ThreadArgs {
  int netns_fd;
  const std::function<Status()>* fn;
  Status result;
};

void* NetnsThread(void* opaque) {
  auto* args = static_cast<ThreadArgs*>(opaque);
  if (setns(args->netns_fd, CLONE_NEWNET) != 0) {
    args->result = ErrnoFailure("enter network namespace (fd {})", args->netns_fd);
    return nullptr;
  }
  args->result = (*args->fn)();
  return nullptr;
}

}  // namespace

Result<int> OpenNetns(const std::string& name_or_path) {
  if (name_or_path.empty()) return Failure(EINVAL, "empty network namespace name");
  if (name_or_path.find('/') != std::string::npos) {
    return OpenAndCheck(fmt::format("'{}'", name_or_path), name_or_path);
  }
  if (name_or_path == "." || name_or_path == "..") {
    return Failure(EINVAL, "invalid network namespace name '{}'", name_or_path);
  }
  return OpenAndCheck(fmt::format("'{}'", name_or_path), kNetnsDir + name_or_path);
}

Result<int> OpenCurrentNetns() {
  // thread-self, not self: setns() is per thread, and RunInNetns threads must see their own.
  return OpenAndCheck("of this thread", "/proc/thread-self/ns/net");
}

Status RunInNetns(int netns_fd, const std::function<Status()>& fn) {
  ThreadArgs args{netns_fd, &fn, Status::Ok()};
  // pthread directly, not std::thread: a failure to start is a Status here, never an exception.
  pthread_t thread;
  int err = pthread_create(&thread, nullptr, &NetnsThread, &args);
  if (err != 0) {
    return Failure(err, "start a thread for network namespace fd {}: {}", netns_fd,
                   std::strerror(err));
  }
  pthread_join(thread, nullptr);
  return args.result;
}

}  // namespace uplinkd
