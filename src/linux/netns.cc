#include "linux/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
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

constexpr char kNetnsRunDir[] = "/run/netns";

Status CheckNetnsName(const std::string& name) {
  if (name.empty() || name.size() > NAME_MAX || name.find('/') != std::string::npos ||
      name == "." || name == "..") {
    return Failure(EINVAL, "invalid network namespace name '{}'", name);
  }
  return Status::Ok();
}

// As iproute2's netns_add: /run/netns must be a shared mount so that a bind mount made here is
// seen by mount namespaces cloned from ours (containers started later, `ip netns exec`).
Status MakeRunDirShared() {
  if (mkdir(kNetnsRunDir, 0755) != 0 && errno != EEXIST) {
    return ErrnoFailure("create {}", kNetnsRunDir);
  }
  // Two rounds at most: the second after bind-mounting the directory onto itself.
  for (int round = 0; round < 2; ++round) {
    if (mount("", kNetnsRunDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return Status::Ok();
    if (errno != EINVAL || round == 1) return ErrnoFailure("make {} a shared mount", kNetnsRunDir);
    // EINVAL: not a mount point yet.
    if (mount(kNetnsRunDir, kNetnsRunDir, "none", MS_BIND | MS_REC, nullptr) != 0) {
      return ErrnoFailure("bind-mount {} onto itself", kNetnsRunDir);
    }
  }
  return Status::Ok();
}

struct CreateArgs {
  const std::string* path;
  Status result;
};

// A fresh thread: unshare moves only this thread into the new namespace, and it dies right after,
// so the caller's threads never change namespace.
void* CreateNetnsThread(void* opaque) {
  auto* args = static_cast<CreateArgs*>(opaque);
  if (unshare(CLONE_NEWNET) != 0) {
    args->result = ErrnoFailure("unshare(CLONE_NEWNET)");
    return nullptr;
  }
  if (mount("/proc/thread-self/ns/net", args->path->c_str(), "none", MS_BIND, nullptr) != 0) {
    args->result = ErrnoFailure("bind-mount the new network namespace onto {}", *args->path);
  }
  return nullptr;
}

}  // namespace

Result<uint64_t> NetnsInode(int netns_fd) {
  struct stat st {};
  if (fstat(netns_fd, &st) != 0) return ErrnoFailure("stat network namespace fd {}", netns_fd);
  return static_cast<uint64_t>(st.st_ino);
}

Status CreateNamedNetns(const std::string& name) {
  UPLINKD_RETURN_IF_ERROR(CheckNetnsName(name));
  Status status = MakeRunDirShared();
  if (!status.ok()) return status.WithContext(fmt::format("create network namespace '{}'", name));
  const std::string path = kNetnsDir + name;
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EEXIST) return Failure(EEXIST, "network namespace '{}' already exists", name);
    return ErrnoFailure("create network namespace '{}': create {}", name, path);
  }
  close(fd);
  CreateArgs args{&path, Status::Ok()};
  pthread_t thread;
  int err = pthread_create(&thread, nullptr, &CreateNetnsThread, &args);
  if (err != 0) {
    args.result = Failure(err, "start a thread: {}", std::strerror(err));
  } else {
    pthread_join(thread, nullptr);
  }
  if (!args.result.ok()) {
    umount2(path.c_str(), MNT_DETACH);  // in case the mount happened and something later failed
    unlink(path.c_str());
    return args.result.WithContext(fmt::format("create network namespace '{}'", name));
  }
  return Status::Ok();
}

Status DeleteNamedNetns(const std::string& name) {
  UPLINKD_RETURN_IF_ERROR(CheckNetnsName(name));
  const std::string path = kNetnsDir + name;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Failure(ENOENT, "network namespace '{}' does not exist", name);
    return ErrnoFailure("delete network namespace '{}': stat {}", name, path);
  }
  // EINVAL: not mounted (a leftover file from an interrupted create); the unlink still cleans up.
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
    return ErrnoFailure("delete network namespace '{}': unmount {}", name, path);
  }
  if (unlink(path.c_str()) != 0) {
    return ErrnoFailure("delete network namespace '{}': remove {}", name, path);
  }
  return Status::Ok();
}

bool NamedNetnsExists(const std::string& name) {
  if (!CheckNetnsName(name).ok()) return false;
  int fd = open((kNetnsDir + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool is_netns = ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
  close(fd);
  return is_netns;
}

bool NamedNetnsPathExists(const std::string& name) {
  if (!CheckNetnsName(name).ok()) return false;
  struct stat st {};
  return lstat((kNetnsDir + name).c_str(), &st) == 0;
}

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
