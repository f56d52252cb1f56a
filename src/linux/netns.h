#pragma once
// Network namespaces. A namespace is named as `ip netns` names it (/run/netns/NAME) or given by
// path (/proc/PID/ns/net, /proc/thread-self/ns/net, a bind mount). Cold paths only.

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace uplinkd {

// Opens a namespace: "NAME" means /run/netns/NAME, anything with a '/' is a path. Returns an
// O_RDONLY|O_CLOEXEC fd the caller owns, after checking that it really is a network namespace.
Result<int> OpenNetns(const std::string& name_or_path);

// Opens the calling thread's own network namespace.
Result<int> OpenCurrentNetns();

// Runs `fn` on a short-lived thread that has entered `netns_fd` and returns its Status. Sockets
// (netlink, packet, UDP) and tun fds made inside belong to that namespace for their whole life, so
// they may be used from any thread afterwards. The caller's own namespace never changes.
Status RunInNetns(int netns_fd, const std::function<Status()>& fn);

// The namespace's inode (as in "net:[INODE]") of an open namespace fd.
Result<uint64_t> NetnsInode(int netns_fd);

// Named namespaces as `ip netns add/del` makes them, without running `ip`: /run/netns is made a
// shared mount (bind-mounted onto itself first if it is not a mount point), so that mounts made
// later propagate to mount namespaces that were cloned from ours; the namespace is created by
// unshare(CLONE_NEWNET) on a helper thread and kept alive by bind-mounting that thread's
// /proc/thread-self/ns/net onto /run/netns/NAME. EEXIST when the name is taken; on any failure
// nothing is left behind. Needs CAP_SYS_ADMIN.
Status CreateNamedNetns(const std::string& name);
// Lazily unmounts (MNT_DETACH) and removes /run/netns/NAME; the namespace itself lives on while
// something (a process, an fd, a link's peer) still uses it. ENOENT when there is no such name.
Status DeleteNamedNetns(const std::string& name);
// Whether /run/netns/NAME exists and is a network namespace.
bool NamedNetnsExists(const std::string& name);
// Whether /run/netns/NAME exists at all: a namespace, or the empty file an interrupted
// CreateNamedNetns leaves before its bind mount (DeleteNamedNetns removes either).
bool NamedNetnsPathExists(const std::string& name);

}  // namespace uplinkd
